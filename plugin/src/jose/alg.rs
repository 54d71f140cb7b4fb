//! The signature algorithms tapbridge signs and verifies with. There is no `none`: a token
//! naming it cannot even be parsed into an [`Alg`].

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    /// ECDSA on P-256 with SHA-256: small keys and signatures, fast. The default.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys): for relying parties that know no other,
    /// Microsoft Entra among them.
    Rs256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Es256, Alg::Rs256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }

    /// The JWK key type that goes with the algorithm.
    pub fn kty(self) -> &'static str {
        match self {
            Alg::Es256 => "EC",
            Alg::Rs256 => "RSA",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = String;

    /// Exact and case-sensitive, as JOSE algorithm names are.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unsupported signing algorithm `{s}`; expected ES256 or RS256"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exact() {
        assert_eq!("ES256".parse::<Alg>(), Ok(Alg::Es256));
        assert_eq!("RS256".parse::<Alg>(), Ok(Alg::Rs256));
        for bad in ["none", "es256", "HS256", "PS256", ""] {
            assert!(bad.parse::<Alg>().is_err(), "{bad}");
        }
    }
}
