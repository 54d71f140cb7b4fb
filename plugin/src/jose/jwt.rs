//! Compact JWS tokens with JSON claims (JWTs).
//!
//! Verification takes an explicit allow-list of algorithms: `none` is not an algorithm here at
//! all, one outside the list is refused before any key is looked at, and the key must fit the
//! algorithm (an RSA key never verifies an "HS256" or "ES256" token). Keys come only from the
//! caller: `jwk`, `jku`, `x5u` and `x5c` headers are never trusted, and a `crit` header is
//! refused because no extension is understood.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Alg, JoseError, JwkSet, SigningKey, b64, unb64};

/// The protected header, as far as tapbridge reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<Value>,
}

/// A token whose signature verified, with the header and claims it carried. The claims' times
/// and audience are the caller's to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub header: Header,
    pub alg: Alg,
    pub claims: serde_json::Map<String, Value>,
}

/// Longest token accepted, in bytes: far above any tapbridge issues or a client assertion
/// needs, far below what would let a caller make the server work hard.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Signs `claims` with `key`: `{"alg", "kid", "typ"}` header, compact serialisation.
pub fn sign(key: &SigningKey, typ: &str, claims: &impl Serialize) -> Result<String, JoseError> {
    let header = Header {
        alg: key.alg().as_str().to_owned(),
        kid: Some(key.kid().to_owned()),
        typ: Some(typ.to_owned()),
        crit: None,
    };
    let header = serde_json::to_vec(&header).map_err(|_| JoseError::Malformed("header"))?;
    let claims = serde_json::to_vec(claims).map_err(|_| JoseError::Malformed("claims"))?;
    let mut token = format!("{}.{}", b64(&header), b64(&claims));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64(&signature));
    Ok(token)
}

/// Splits and decodes a token without verifying it: to learn its `kid` and issuer before
/// choosing keys. Never trust what this returns.
pub fn decode_unverified(
    token: &str,
) -> Result<(Header, serde_json::Map<String, Value>), JoseError> {
    let (header, claims, _, _) = split(token)?;
    Ok((header, claims))
}

type Parts<'a> = (Header, serde_json::Map<String, Value>, &'a str, Vec<u8>);

fn split(token: &str) -> Result<Parts<'_>, JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed("not a compact JWS"));
    };
    let header: Header = unb64(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JoseError::Malformed("header"))?;
    if header.crit.is_some() {
        return Err(JoseError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    let claims: serde_json::Map<String, Value> = unb64(c)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JoseError::Malformed("claims"))?;
    let signature = unb64(s).ok_or(JoseError::Malformed("signature"))?;
    let signing_input = &token[..h.len() + 1 + c.len()];
    Ok((header, claims, signing_input, signature))
}

/// Verifies `token` against `keys`, accepting only the algorithms in `allowed`.
pub fn verify(token: &str, allowed: &[Alg], keys: &JwkSet) -> Result<Verified, JoseError> {
    let (header, claims, signing_input, signature) = split(token)?;
    let alg = header
        .alg
        .parse::<Alg>()
        .ok()
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| JoseError::AlgorithmNotAllowed(header.alg.clone()))?;
    let verified = {
        let mut candidates = keys.candidates(header.kid.as_deref(), alg).peekable();
        if candidates.peek().is_none() {
            return Err(JoseError::UnknownKey);
        }
        candidates.any(|k| k.verify(alg, signing_input.as_bytes(), &signature))
    };
    if verified {
        Ok(Verified {
            header,
            alg,
            claims,
        })
    } else {
        Err(JoseError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn es256() -> (SigningKey, JwkSet) {
        let (key, _) = SigningKey::generate(Alg::Es256, "test").unwrap();
        let set = JwkSet {
            keys: vec![key.public_jwk().clone()],
        };
        (key, set)
    }

    #[test]
    fn signs_and_verifies_es256() {
        let (key, set) = es256();
        let token = sign(&key, "JWT", &json!({"sub": "ada", "n": 1})).unwrap();
        let v = verify(&token, &[Alg::Es256], &set).unwrap();
        assert_eq!(v.claims["sub"], "ada");
        assert_eq!(v.header.kid.as_deref(), Some(key.kid()));
        assert_eq!(v.header.typ.as_deref(), Some("JWT"));
    }

    #[test]
    fn refuses_none_other_algorithms_and_tampering() {
        let (key, set) = es256();
        let token = sign(&key, "JWT", &json!({"sub": "ada"})).unwrap();
        let (h, c, s) = {
            let mut p = token.split('.');
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
        };
        // alg: none, with and without a signature.
        let none = b64(br#"{"alg":"none"}"#);
        for t in [format!("{none}.{c}."), format!("{none}.{c}.{s}")] {
            assert!(matches!(
                verify(&t, &[Alg::Es256, Alg::Rs256], &set),
                Err(JoseError::AlgorithmNotAllowed(_) | JoseError::Malformed(_))
            ));
        }
        // HS256 with the public key as the secret (the classic confusion).
        let hs = b64(format!(r#"{{"alg":"HS256","kid":"{}"}}"#, key.kid()).as_bytes());
        assert!(matches!(
            verify(&format!("{hs}.{c}.{s}"), &[Alg::Es256], &set),
            Err(JoseError::AlgorithmNotAllowed(_))
        ));
        // An allowed algorithm the caller did not list.
        assert!(matches!(
            verify(&token, &[Alg::Rs256], &set),
            Err(JoseError::AlgorithmNotAllowed(_))
        ));
        // Changed claims.
        let forged = b64(br#"{"sub":"eve"}"#);
        assert_eq!(
            verify(&format!("{h}.{forged}.{s}"), &[Alg::Es256], &set),
            Err(JoseError::BadSignature)
        );
        // A key the verifier does not know.
        let (_, other) = es256();
        assert_eq!(
            verify(&token, &[Alg::Es256], &other),
            Err(JoseError::UnknownKey)
        );
        // Critical extensions, garbage, too many parts.
        let crit = b64(br#"{"alg":"ES256","crit":["exp"]}"#);
        assert!(verify(&format!("{crit}.{c}.{s}"), &[Alg::Es256], &set).is_err());
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.??.**",
            &"a".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(verify(bad, &[Alg::Es256], &set).is_err(), "{bad}");
        }
    }
}
