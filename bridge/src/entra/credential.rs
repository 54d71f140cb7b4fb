//! How tapbridge proves to Entra that it is the registered application: a client secret, or a
//! certificate — a client assertion (RFC 7523), a JWT signed RS256 with the certificate's
//! private key and naming the certificate by its thumbprint, which Entra matches against the
//! certificates uploaded to the app registration.
//!
//! The signature comes from ring (already linked for TLS); no other crypto stack is pulled in.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use plugin::secret::SecretString;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a client assertion is valid. Entra accepts up to ten minutes' worth of clock
/// skew; each token request signs a fresh one.
const ASSERTION_LIFETIME: time::Duration = time::Duration::minutes(10);

pub enum Credential {
    Secret(SecretString),
    Certificate(Box<Certificate>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Credential::Secret(<redacted>)"),
            Credential::Certificate(c) => write!(f, "Credential::Certificate({c:?})"),
        }
    }
}

/// A certificate's private key and how the assertion header names the certificate.
pub struct Certificate {
    key: RsaKeyPair,
    /// `x5t` (SHA-1 thumbprint) or `x5t#S256` (SHA-256), with the base64url value.
    thumbprint: (&'static str, String),
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Certificate {{ {}: {}, key: <redacted> }}",
            self.thumbprint.0, self.thumbprint.1
        )
    }
}

impl Certificate {
    /// From a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) and the
    /// certificate's thumbprint as the Entra portal shows it: hex, SHA-1 (40 digits) or
    /// SHA-256 (64 digits); colons and spaces are ignored.
    pub fn from_pem(pem: &str, thumbprint: &str) -> Result<Certificate, String> {
        let (label, der) = pem_block(pem)?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(
                    "the key is encrypted; store it unencrypted with mode 0600 (`openssl pkcs8 -topk8 -nocrypt`)"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "expected an RSA PRIVATE KEY or PRIVATE KEY block, found {other}"
                ));
            }
        }
        .map_err(|e| format!("not a usable RSA private key ({e}); Entra needs RSA, 2048 bits or more"))?;
        Ok(Certificate {
            key,
            thumbprint: parse_thumbprint(thumbprint)?,
        })
    }

    /// A signed client assertion for `audience` (the token endpoint), issued by and about
    /// `client_id`, unique (`jti`) and valid for ten minutes from `now`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: OffsetDateTime,
    ) -> Result<SecretString, String> {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        header[self.thumbprint.0] = self.thumbprint.1.clone().into();
        let issued = now.unix_timestamp();
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": Uuid::new_v4().to_string(),
            "nbf": issued,
            "iat": issued,
            "exp": (now + ASSERTION_LIFETIME).unix_timestamp(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "cannot sign the client assertion".to_owned())?;
        Ok(SecretString::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }

    /// The public key (PKCS#1 `RSAPublicKey`, DER), for tests that verify an assertion.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public().as_ref().to_vec()
    }
}

/// The first PEM block's label and decoded contents.
fn pem_block(pem: &str) -> Result<(String, Vec<u8>), String> {
    let begin = pem
        .find("-----BEGIN ")
        .ok_or("no PEM block (-----BEGIN …-----) found")?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or("a malformed PEM header")?;
    let end_marker = format!("-----END {label}-----");
    let body = &rest[..rest
        .find(&end_marker)
        .ok_or_else(|| format!("no `{end_marker}` line"))?];
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| "the PEM body is not base64".to_owned())?;
    Ok((label.to_owned(), der))
}

fn parse_thumbprint(value: &str) -> Result<(&'static str, String), String> {
    let hex: String = value
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    match (bytes, hex.len()) {
        (Some(b), 40) => Ok(("x5t", URL_SAFE_NO_PAD.encode(b))),
        (Some(b), 64) => Ok(("x5t#S256", URL_SAFE_NO_PAD.encode(b))),
        _ => Err(
            "must be the certificate's thumbprint in hex: 40 digits (SHA-1) or 64 (SHA-256)".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use time::macros::datetime;

    const KEY: &str = include_str!("../../../tests/support/entra/app_key.pem");
    const KEY_PKCS1: &str = include_str!("../../../tests/support/entra/app_key_pkcs1.pem");
    const THUMBPRINT: &str = "15:5E:2C:85:56:C9:56:D0:E0:D5:9A:96:5B:6F:30:4E:78:15:5B:8F";

    fn part(jwt: &str, i: usize) -> serde_json::Value {
        let seg = jwt.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
    }

    #[test]
    fn the_assertion_is_rs256_names_the_certificate_and_verifies() {
        let cert = Certificate::from_pem(KEY, THUMBPRINT).unwrap();
        let now = datetime!(2026-11-27 09:00 UTC);
        let endpoint = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let jwt = cert.assertion("client-1", endpoint, now).unwrap();
        let jwt = jwt.expose();
        let header = part(jwt, 0);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t"], "FV4shVbJVtDg1ZqWW28wTngVW48");
        let claims = part(jwt, 1);
        assert_eq!(claims["aud"], endpoint);
        assert_eq!(
            (claims["iss"].as_str(), claims["sub"].as_str()),
            (Some("client-1"), Some("client-1"))
        );
        assert_eq!(claims["nbf"], now.unix_timestamp());
        assert_eq!(claims["exp"], now.unix_timestamp() + 600);
        assert_ne!(
            part(
                cert.assertion("client-1", endpoint, now).unwrap().expose(),
                1
            )["jti"],
            claims["jti"],
            "every assertion is unique"
        );
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, cert.public_key_der())
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .expect("signature verifies");
    }

    #[test]
    fn pkcs1_keys_and_sha256_thumbprints_work_too() {
        let a = Certificate::from_pem(KEY_PKCS1, &"ab".repeat(32)).unwrap();
        let b = Certificate::from_pem(KEY, THUMBPRINT).unwrap();
        assert_eq!(a.public_key_der(), b.public_key_der());
        let jwt = a
            .assertion("c", "aud", datetime!(2026-11-27 09:00 UTC))
            .unwrap();
        assert!(part(jwt.expose(), 0).get("x5t#S256").is_some());
    }

    #[test]
    fn bad_keys_and_thumbprints_are_explained_and_nothing_leaks() {
        let err = |pem: &str, t: &str| Certificate::from_pem(pem, t).unwrap_err();
        assert!(err("hello", THUMBPRINT).contains("no PEM block"));
        assert!(
            err(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
                THUMBPRINT
            )
            .contains("encrypted")
        );
        assert!(
            err(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                THUMBPRINT
            )
            .contains("found CERTIFICATE")
        );
        assert!(
            err(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                THUMBPRINT
            )
            .contains("not a usable RSA")
        );
        assert!(err(KEY, "abc").contains("thumbprint"));
        assert!(err(KEY, &"zz".repeat(20)).contains("thumbprint"));
        let cert = Certificate::from_pem(KEY, THUMBPRINT).unwrap();
        let shown = format!("{:?}", Credential::Certificate(Box::new(cert)));
        assert!(shown.contains("<redacted>") && !shown.contains("MII"));
        let secret = format!(
            "{:?}",
            Credential::Secret(SecretString::new("s3cr3t".into()))
        );
        assert!(!secret.contains("s3cr3t"));
    }
}
