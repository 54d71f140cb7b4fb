//! Public JSON Web Keys: the JWKS tapbridge publishes, and the keys clients register for
//! `private_key_jwt`. Only public members are modelled; a JWK carrying private material (`d`,
//! `p`, …) is refused when registered.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::{Alg, JoseError, b64, unb64};

/// A public key. EC keys are P-256 (`crv`, `x`, `y`), RSA keys `n`, `e`; `x5c` holds the
/// self-signed certificate of an RSA signing key (standard base64 DER), for relying parties
/// that read keys from certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// Private members, accepted by the parser only so that a registration carrying them is
    /// recognised and refused.
    #[serde(default, skip_serializing)]
    d: Option<serde_json::Value>,
}

/// `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl Jwk {
    pub fn ec_p256(x: &[u8], y: &[u8]) -> Jwk {
        Jwk {
            kty: "EC".into(),
            crv: Some("P-256".into()),
            x: Some(b64(x)),
            y: Some(b64(y)),
            ..Jwk::empty()
        }
    }

    pub fn rsa(n: &[u8], e: &[u8]) -> Jwk {
        Jwk {
            kty: "RSA".into(),
            n: Some(b64(n)),
            e: Some(b64(e)),
            ..Jwk::empty()
        }
    }

    fn empty() -> Jwk {
        Jwk {
            kty: String::new(),
            use_: None,
            alg: None,
            kid: None,
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            x5c: None,
            d: None,
        }
    }

    /// Whether the key came with private material.
    pub fn has_private_part(&self) -> bool {
        self.d.is_some()
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order,
    /// base64url. tapbridge uses it as the `kid` of its own keys, so a key id never repeats.
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        let canonical = match self.kty.as_str() {
            "EC" => serde_json::json!({
                "crv": self.crv, "kty": "EC", "x": self.x, "y": self.y,
            }),
            "RSA" => serde_json::json!({ "e": self.e, "kty": "RSA", "n": self.n }),
            other => return Err(JoseError::BadKey(format!("key type `{other}`"))),
        };
        // serde_json writes object members in key order (no `preserve_order`), no white space.
        let text = canonical.to_string();
        Ok(b64(ring::digest::digest(
            &ring::digest::SHA256,
            text.as_bytes(),
        )
        .as_ref()))
    }

    /// Whether this key may verify a signature made with `alg`: the key type fits and, if
    /// the key names an algorithm or a use, they fit too.
    pub fn fits(&self, alg: Alg) -> bool {
        self.kty == alg.kty()
            && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
            && self.use_.as_deref().is_none_or(|u| u == "sig")
            && (alg != Alg::Es256 || self.crv.as_deref() == Some("P-256"))
    }

    /// Checks that the key is complete and usable for `alg` (as a registration is checked).
    pub fn check(&self, alg: Alg) -> Result<(), JoseError> {
        if self.has_private_part() {
            return Err(JoseError::BadKey("a private key was given".into()));
        }
        if !self.fits(alg) {
            return Err(JoseError::BadKey(format!("not a key for {alg}")));
        }
        match alg {
            Alg::Es256 => {
                let point = self.ec_point()?;
                // Verifying anything parses the point; an invalid point fails here, not later.
                let key = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point);
                match key.verify(b"", &[0u8; 64]) {
                    Err(_) => Ok(()),
                    Ok(()) => Err(JoseError::BadKey("degenerate key".into())),
                }
            }
            Alg::Rs256 => {
                let (n, _) = self.rsa_parts()?;
                let bits = (n.len() - n.iter().take_while(|b| **b == 0).count()) * 8;
                if bits < 2048 {
                    return Err(JoseError::BadKey(
                        "RSA keys must have at least 2048 bits".into(),
                    ));
                }
                Ok(())
            }
        }
    }

    fn ec_point(&self) -> Result<Vec<u8>, JoseError> {
        let coord = |c: &Option<String>| {
            c.as_deref()
                .and_then(unb64)
                .filter(|v| v.len() == 32)
                .ok_or_else(|| JoseError::BadKey("EC coordinates must be 32 bytes".into()))
        };
        let (x, y) = (coord(&self.x)?, coord(&self.y)?);
        let mut point = Vec::with_capacity(65);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(point)
    }

    fn rsa_parts(&self) -> Result<(Vec<u8>, Vec<u8>), JoseError> {
        let part = |p: &Option<String>| {
            p.as_deref()
                .and_then(unb64)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| JoseError::BadKey("RSA keys need n and e".into()))
        };
        Ok((part(&self.n)?, part(&self.e)?))
    }

    /// Verifies `signature` over `message` made with `alg`. `false` for any mismatch.
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match alg {
            Alg::Es256 => self.ec_point().is_ok_and(|point| {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }),
            // ring accepts 2048- to 8192-bit moduli for this algorithm and nothing shorter.
            Alg::Rs256 => self.rsa_parts().is_ok_and(|(n, e)| {
                RsaPublicKeyComponents { n, e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                    .is_ok()
            }),
        }
    }
}

impl JwkSet {
    /// The keys that may verify a token with header `kid` and `alg`: the one named by `kid`,
    /// or, for a token without one, every key that fits the algorithm.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Alg,
    ) -> impl Iterator<Item = &'a Jwk> {
        self.keys
            .iter()
            .filter(move |k| k.fits(alg) && kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638, section 3.1.
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        jwk.check(Alg::Rs256).unwrap();
        assert!(jwk.check(Alg::Es256).is_err());
    }

    #[test]
    fn private_keys_and_short_keys_are_refused() {
        let private: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
        }))
        .unwrap();
        assert!(private.has_private_part());
        assert!(private.check(Alg::Es256).is_err());
        let short = Jwk::rsa(&[0xc5; 128], &[1, 0, 1]);
        assert!(short.check(Alg::Rs256).is_err());
    }
}
