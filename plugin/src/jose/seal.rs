//! Sealing secrets at rest: AES-256-GCM under a key derived from the server secret. Each
//! sealed value carries its random nonce and is bound to a label (the key id) as associated
//! data, so a sealed value moved to another row does not open.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use super::JoseError;

pub struct Sealer(LessSafeKey);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        // A 32-byte key is exactly what AES-256-GCM takes: this cannot fail.
        let key = UnboundKey::new(&AES_256_GCM, key).expect("AES-256 takes a 32-byte key");
        Sealer(LessSafeKey::new(key))
    }

    /// `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, label: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = crate::secret::random_bytes::<NONCE_LEN>();
        let mut buf = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(label),
                &mut buf,
            )
            .expect("AES-GCM seals any input of sane length");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Zeroizing::new(buf);
        out
    }

    pub fn open(&self, label: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        if sealed.len() < NONCE_LEN {
            return Err(JoseError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| JoseError::Unseal)?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = self
            .0
            .open_in_place(nonce, Aad::from(label), &mut buf)
            .map_err(|_| JoseError::Unseal)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_the_same_key_and_label() {
        let a = Sealer::new(&[1; 32]);
        let sealed = a.seal(b"kid-1", b"private key");
        assert_eq!(
            a.open(b"kid-1", &sealed).unwrap().as_slice(),
            b"private key"
        );
        assert!(a.open(b"kid-2", &sealed).is_err());
        assert!(Sealer::new(&[2; 32]).open(b"kid-1", &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(a.open(b"kid-1", &flipped).is_err());
        assert!(a.open(b"kid-1", &sealed[..5]).is_err());
        assert_ne!(
            a.seal(b"kid-1", b"x"),
            a.seal(b"kid-1", b"x"),
            "fresh nonce each time"
        );
    }
}
