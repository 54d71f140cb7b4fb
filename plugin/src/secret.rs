//! Secrets: passes, API tokens and the server key.
//!
//! A secret value lives in a [`SecretString`], whose `Debug` and `Display` print a placeholder,
//! so a secret cannot reach a log line or an error message by accident. At rest only keyed hashes
//! are stored ([`KeyedHasher`]), and they are compared in constant time.

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

type HmacSha256 = Hmac<Sha256>;

/// A secret string: redacted when formatted, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself. Call sites are few and deliberate: the one response that shows a new
    /// pass or token, and the hashing that verifies one.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString)
    }
}

/// What a keyed hash is for. Each purpose gets its own key, derived from the server secret, so a
/// hash made for one purpose can never verify for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    TemporaryAccessPass,
    ApiToken,
    Session,
    /// A pass an administrator just created, sealed until the page that shows it is loaded.
    PassHandover,
    /// Application (OAuth client) secrets.
    ClientSecret,
    /// Authorization codes and refresh tokens.
    OAuthToken,
    /// The AEAD key that seals the token-signing keys at rest.
    SigningKeySeal,
    /// Rate-limited keys (client addresses, user names) as stored in the shared counters.
    RateLimitKey,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::TemporaryAccessPass => b"tapbridge/v1/temporary-access-pass",
            Purpose::ApiToken => b"tapbridge/v1/api-token",
            Purpose::Session => b"tapbridge/v1/session",
            Purpose::PassHandover => b"tapbridge/v1/pass-handover",
            Purpose::ClientSecret => b"tapbridge/v1/client-secret",
            Purpose::OAuthToken => b"tapbridge/v1/oauth-token",
            Purpose::SigningKeySeal => b"tapbridge/v1/signing-key-seal",
            Purpose::RateLimitKey => b"tapbridge/v1/rate-limit-key",
        }
    }
}

/// The server secret from which every keyed hash is derived.
pub struct ServerSecret(Zeroizing<Vec<u8>>);

impl ServerSecret {
    /// The shortest secret accepted, in bytes. 32 bytes is HMAC-SHA-256's block-level strength.
    pub const MIN_LEN: usize = 32;

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < Self::MIN_LEN {
            return Err(format!(
                "the server secret must be at least {} bytes, it has {}",
                Self::MIN_LEN,
                bytes.len()
            ));
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    pub fn generate() -> Self {
        Self(Zeroizing::new(random_bytes::<32>().to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn hasher(&self, purpose: Purpose) -> KeyedHasher {
        KeyedHasher {
            key: self.purpose_key(purpose),
        }
    }

    /// An AEAD key for `purpose`, for the rare secret that must be kept for a moment and read
    /// back (never a pass for longer than it takes to show it once).
    pub fn sealer(&self, purpose: Purpose) -> Sealer {
        Sealer {
            key: self.purpose_key(purpose),
        }
    }

    fn purpose_key(&self, purpose: Purpose) -> Zeroizing<[u8; 32]> {
        let mut mac = mac(&self.0);
        mac.update(purpose.label());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

/// HMAC-SHA-256 under a purpose key. `salt` binds a hash to one record (a pass id, a token id)
/// so equal secrets never hash alike and a hash cannot be moved to another row.
#[derive(Clone)]
pub struct KeyedHasher {
    key: Zeroizing<[u8; 32]>,
}

impl KeyedHasher {
    pub fn hash(&self, salt: &[u8], secret: &[u8]) -> [u8; 32] {
        let mut mac = mac(self.key.as_slice());
        mac.update(&(salt.len() as u64).to_be_bytes());
        mac.update(salt);
        mac.update(secret);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time comparison of `secret`'s hash with a stored one.
    pub fn verify(&self, salt: &[u8], secret: &[u8], stored: &[u8]) -> bool {
        let computed = self.hash(salt, secret);
        computed.as_slice().ct_eq(stored).into()
    }
}

impl fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyedHasher(<redacted>)")
    }
}

/// AES-256-GCM under a purpose key, with a random nonce per message. `context` (associated
/// data) binds a sealed value to the record it belongs to, so it cannot be moved to another.
#[derive(Clone)]
pub struct Sealer {
    key: Zeroizing<[u8; 32]>,
}

impl Sealer {
    const NONCE_LEN: usize = 12;

    fn cipher(&self) -> Aes256Gcm {
        match Aes256Gcm::new_from_slice(self.key.as_slice()) {
            Ok(c) => c,
            Err(_) => unreachable!("the key is 32 bytes, as AES-256 needs"),
        }
    }

    /// `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, context: &[u8], secret: &SecretString) -> Vec<u8> {
        self.seal_bytes(context, secret.expose().as_bytes())
    }

    /// The secret, if `sealed` was sealed under this key with this `context` and not altered.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Option<SecretString> {
        let plain = self.open_bytes(context, sealed)?;
        String::from_utf8(plain.to_vec()).ok().map(SecretString)
    }

    /// [`Sealer::seal`] for binary secrets (a signing key's PKCS#8).
    pub fn seal_bytes(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce_bytes = random_bytes::<{ Self::NONCE_LEN }>();
        let nonce = aes_gcm::Nonce::<aes_gcm::aes::cipher::consts::U12>::from(nonce_bytes);
        let payload = Payload {
            msg: plain,
            aad: context,
        };
        let Ok(sealed) = self.cipher().encrypt(&nonce, payload) else {
            unreachable!("AES-GCM refuses only messages of gigabytes");
        };
        let mut out = Vec::with_capacity(Self::NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    /// [`Sealer::open`] for binary secrets.
    pub fn open_bytes(&self, context: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < Self::NONCE_LEN {
            return None;
        }
        let (nonce_bytes, ciphertext) = sealed.split_at(Self::NONCE_LEN);
        let nonce_bytes: [u8; Self::NONCE_LEN] = nonce_bytes.try_into().ok()?;
        let nonce = aes_gcm::Nonce::<aes_gcm::aes::cipher::consts::U12>::from(nonce_bytes);
        let payload = Payload {
            msg: ciphertext,
            aad: context,
        };
        Some(Zeroizing::new(self.cipher().decrypt(&nonce, payload).ok()?))
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

/// Bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS generator failing means the machine cannot do cryptography at all; there is no
    // safe fallback, so stop rather than hand out predictable secrets.
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// A uniformly random string over `alphabet`, by rejection sampling (no modulo bias).
pub fn random_string(alphabet: &[u8], len: usize) -> SecretString {
    assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let n = alphabet.len();
    // The largest multiple of n that fits in a byte: bytes at or above it are rejected.
    let limit = 256 - (256 % n);
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let chunk = Zeroizing::new(random_bytes::<64>());
        for &b in chunk.iter() {
            if (b as usize) < limit {
                out.push(alphabet[b as usize % n] as char);
                if out.len() == len {
                    break;
                }
            }
        }
    }
    SecretString(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = SecretString::new("hunter22".into());
        assert!(!format!("{s:?}").contains("hunter22"));
        assert!(!format!("{s}").contains("hunter22"));
        let key = ServerSecret::generate();
        assert!(format!("{key:?}").contains("redacted"));
    }

    #[test]
    fn purposes_get_distinct_keys() {
        let secret = ServerSecret::from_bytes(vec![7; 32]).unwrap();
        let a = secret
            .hasher(Purpose::TemporaryAccessPass)
            .hash(b"id", b"x");
        let b = secret.hasher(Purpose::ApiToken).hash(b"id", b"x");
        assert_ne!(a, b);
    }

    #[test]
    fn verify_accepts_only_the_same_secret_and_salt() {
        let h = ServerSecret::from_bytes(vec![1; 40])
            .unwrap()
            .hasher(Purpose::Session);
        let stored = h.hash(b"salt", b"secret");
        assert!(h.verify(b"salt", b"secret", &stored));
        assert!(!h.verify(b"salt", b"secreT", &stored));
        assert!(!h.verify(b"other", b"secret", &stored));
        assert!(!h.verify(b"salt", b"secret", &stored[..31]));
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_context() {
        let secret = ServerSecret::from_bytes(vec![3; 32]).unwrap();
        let sealer = secret.sealer(Purpose::PassHandover);
        let pass = SecretString::new("Ab3dEf7h".into());
        let sealed = sealer.seal(b"row-1", &pass);
        assert!(!sealed.windows(8).any(|w| w == b"Ab3dEf7h"));
        assert_ne!(
            sealed,
            sealer.seal(b"row-1", &pass),
            "a fresh nonce each time"
        );
        assert_eq!(sealer.open(b"row-1", &sealed), Some(pass));
        assert_eq!(sealer.open(b"row-2", &sealed), None);
        let other = ServerSecret::from_bytes(vec![4; 32])
            .unwrap()
            .sealer(Purpose::PassHandover);
        assert_eq!(other.open(b"row-1", &sealed), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.open(b"row-1", &tampered), None);
        assert_eq!(sealer.open(b"row-1", &sealed[..5]), None);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(ServerSecret::from_bytes(vec![0; 31]).is_err());
    }

    #[test]
    fn random_string_uses_only_the_alphabet_and_every_symbol() {
        let alphabet = b"abc";
        let s = random_string(alphabet, 3000);
        assert_eq!(s.expose().len(), 3000);
        for c in ['a', 'b', 'c'] {
            let count = s.expose().chars().filter(|&x| x == c).count();
            // Each symbol expected 1000 times; 800..1200 is > 10 sigma wide.
            assert!((800..1200).contains(&count), "{c}: {count}");
        }
    }
}
