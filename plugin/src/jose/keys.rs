//! tapbridge's own signing keys: generated, loaded from PKCS#8, used to sign.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use zeroize::Zeroizing;

use super::{Alg, JoseError, Jwk, cert};

/// RSA modulus size: 2048 bits, what RS256 relying parties (Entra included) expect.
const RSA_BITS: usize = 2048;

/// A private signing key with its public JWK (`kid`, `alg`, `use`; `x5c` for RSA).
pub struct SigningKey {
    alg: Alg,
    pair: Pair,
    public: Jwk,
    rng: SystemRandom,
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// A new key's private half, PKCS#8 DER (to be sealed before it is stored), and for RSA its
/// self-signed certificate, DER.
pub struct Generated {
    pub pkcs8: Zeroizing<Vec<u8>>,
    pub certificate: Option<Vec<u8>>,
}

impl SigningKey {
    /// A fresh key. For RSA also a self-signed certificate naming `subject` (its common
    /// name), published as `x5c`. RSA generation is slow (a second or more in an optimised
    /// build): callers make RSA keys only when a client needs one.
    pub fn generate(alg: Alg, subject: &str) -> Result<(SigningKey, Generated), JoseError> {
        let rng = SystemRandom::new();
        let (pkcs8, certificate) = match alg {
            Alg::Es256 => {
                let doc =
                    EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                        .map_err(|_| JoseError::BadKey("EC key generation failed".into()))?;
                (Zeroizing::new(doc.as_ref().to_vec()), None)
            }
            Alg::Rs256 => {
                let (pkcs8, certificate) = cert::generate_rsa(RSA_BITS, subject)?;
                (pkcs8, Some(certificate))
            }
        };
        let key = SigningKey::from_pkcs8(alg, &pkcs8, certificate.as_deref())?;
        Ok((key, Generated { pkcs8, certificate }))
    }

    /// Loads a stored key. `certificate` (DER) becomes the JWK's `x5c`.
    pub fn from_pkcs8(
        alg: Alg,
        pkcs8: &[u8],
        certificate: Option<&[u8]>,
    ) -> Result<SigningKey, JoseError> {
        let rng = SystemRandom::new();
        let bad = |e: ring::error::KeyRejected| JoseError::BadKey(e.to_string());
        let (pair, mut public) = match alg {
            Alg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8,
                    &rng,
                )
                .map_err(bad)?;
                // An uncompressed point: 0x04 ‖ x ‖ y.
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 0x04 {
                    return Err(JoseError::BadKey("unexpected EC point encoding".into()));
                }
                let jwk = Jwk::ec_p256(&point[1..33], &point[33..]);
                (Pair::Ec(pair), jwk)
            }
            Alg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(bad)?;
                let parts: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
                let jwk = Jwk::rsa(&parts.n, &parts.e);
                (Pair::Rsa(pair), jwk)
            }
        };
        public.kid = Some(public.thumbprint()?);
        public.alg = Some(alg.as_str().to_owned());
        public.use_ = Some("sig".to_owned());
        if let Some(der) = certificate {
            use base64::Engine;
            public.x5c = Some(vec![base64::engine::general_purpose::STANDARD.encode(der)]);
        }
        Ok(SigningKey {
            alg,
            pair,
            public,
            rng,
        })
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        self.public.kid.as_deref().unwrap_or_default()
    }

    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// A JWS signature over `message` (ES256: r ‖ s, 64 bytes; RS256: PKCS#1 v1.5).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let failed = |_| JoseError::BadKey("signing failed".into());
        match &self.pair {
            Pair::Ec(pair) => Ok(pair
                .sign(&self.rng, message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            Pair::Rsa(pair) => {
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut out)
                    .map_err(failed)?;
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_es256_key_survives_its_pkcs8_and_signs_verifiably() {
        let (key, generated) = SigningKey::generate(Alg::Es256, "t").unwrap();
        let again = SigningKey::from_pkcs8(Alg::Es256, &generated.pkcs8, None).unwrap();
        assert_eq!(again.kid(), key.kid());
        let sig = again.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(key.public_jwk().verify(Alg::Es256, b"hello", &sig));
        assert!(!key.public_jwk().verify(Alg::Es256, b"hellO", &sig));
        assert!(!key.public_jwk().verify(Alg::Rs256, b"hello", &sig));
        assert!(SigningKey::from_pkcs8(Alg::Rs256, &generated.pkcs8, None).is_err());
    }

    #[test]
    fn an_rs256_key_has_a_certificate_for_the_same_key() {
        let (key, generated) = SigningKey::generate(Alg::Rs256, "tapbridge test").unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk.kty, "RSA");
        assert_eq!(jwk.alg.as_deref(), Some("RS256"));
        let x5c = jwk.x5c.as_ref().expect("x5c");
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(&x5c[0])
            .unwrap();
        assert_eq!(Some(der.clone()), generated.certificate);
        // The certificate holds this key and is signed by it.
        let (n, e) = cert::certificate_rsa_key(&der).unwrap();
        assert_eq!(jwk.n, Some(crate::jose::b64(&n)));
        assert_eq!(jwk.e, Some(crate::jose::b64(&e)));
        assert!(cert::self_signature_verifies(&der, jwk));
        let sig = key.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 256);
        assert!(jwk.verify(Alg::Rs256, b"hello", &sig));
    }
}
