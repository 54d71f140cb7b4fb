//! JOSE: JSON Web Keys (RFC 7517), signed JSON Web Tokens (RFC 7515, RFC 7519) and the keys
//! tapbridge signs them with.
//!
//! On the crypto already in the tree: `ring` signs and verifies (ES256, RS256); RustCrypto's
//! `rsa` and `x509-cert`, linked for WebAuthn attestation, generate RSA keys and their
//! self-signed certificates, which `ring` cannot. Keys are sealed at rest with the server
//! secret's [`Sealer`](crate::secret::Sealer). Nothing here knows HTTP, SQL or the platform's
//! types.

mod alg;
mod cert;
mod jwk;
mod jwt;
mod keys;

pub use alg::Alg;
pub use jwk::{Jwk, JwkSet};
pub use jwt::{Header, Verified, decode_unverified, sign, verify};
pub use keys::SigningKey;

/// Why a key or token was refused. Deliberately coarse: a caller tells its own client no more
/// than "invalid".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// Not a compact JWS, bad base64, bad JSON, or a header it must not have.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg: none`, or an algorithm outside the caller's allow-list.
    #[error("algorithm not allowed: {0}")]
    AlgorithmNotAllowed(String),
    /// No key with the token's `kid` (or none fit for its algorithm).
    #[error("no matching key")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    /// A key that cannot be used (wrong type, too short, corrupt).
    #[error("unusable key: {0}")]
    BadKey(String),
}

/// Base64url without padding, the encoding of every JOSE part.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}
