//! RSA signing keys and their self-signed certificates. A relying party that reads keys as
//! certificates (`x5c`, as Microsoft Entra does) finds the key's own certificate there; it
//! vouches for nothing beyond the key, which the JWKS publishes anyway.

use std::str::FromStr;
use std::time::Duration;

use rsa::RsaPrivateKey;
use rsa::pkcs1v15;
use rsa::pkcs8::EncodePrivateKey;
use rsa::sha2::Sha256;
use x509_cert::TbsCertificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::der::Encode;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::Validity;
use zeroize::Zeroizing;

use super::JoseError;

/// How long the certificate says it is valid. Keys rotate long before; the dates only have to
/// satisfy relying parties that check them.
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A self-signed end-entity certificate: subject = issuer, not a CA, for digital signatures.
struct SelfSigned {
    subject: Name,
}

impl BuilderProfile for SelfSigned {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions = Vec::new();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        extensions.push(ski.to_extension(tbs.subject(), &extensions)?);
        extensions.push(
            BasicConstraints {
                ca: false,
                path_len_constraint: None,
            }
            .to_extension(tbs.subject(), &extensions)?,
        );
        extensions.push(
            KeyUsage(KeyUsages::DigitalSignature.into())
                .to_extension(tbs.subject(), &extensions)?,
        );
        Ok(extensions)
    }
}

/// A common name safe to put in a distinguished name without escaping.
fn common_name(subject: &str) -> String {
    let cleaned: String = subject
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '-' | ':' | '/'))
        .take(64)
        .collect();
    if cleaned.trim().is_empty() {
        "tapbridge token signing".into()
    } else {
        cleaned.trim().to_owned()
    }
}

/// A new RSA key of `bits` as PKCS#8 DER, and its self-signed certificate (DER).
pub fn generate_rsa(
    bits: usize,
    subject: &str,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), JoseError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| JoseError::BadKey(format!("{what}: {e}"));
    let mut rng = rand::rng();
    let private = RsaPrivateKey::new(&mut rng, bits).map_err(|e| failed("RSA generation", &e))?;
    let pkcs8 = private
        .to_pkcs8_der()
        .map_err(|e| failed("PKCS#8 encoding", &e))?;
    let pkcs8 = Zeroizing::new(pkcs8.as_bytes().to_vec());
    let spki = SubjectPublicKeyInfoOwned::from_key(&private.to_public_key())
        .map_err(|e| failed("public key", &e))?;
    let name = Name::from_str(&format!("CN={}", common_name(subject)))
        .map_err(|e| failed("subject", &e))?;
    let validity = Validity::from_now(VALIDITY).map_err(|e| failed("validity", &e))?;
    let serial = SerialNumber::generate(&mut rng);
    let signer = pkcs1v15::SigningKey::<Sha256>::new(private);
    let builder = CertificateBuilder::new(SelfSigned { subject: name }, serial, validity, spki)
        .map_err(|e| failed("certificate", &e))?;
    let certificate = builder
        .build::<_, pkcs1v15::Signature>(&signer)
        .map_err(|e| failed("certificate signature", &e))?;
    let der = certificate
        .to_der()
        .map_err(|e| failed("certificate encoding", &e))?;
    Ok((pkcs8, der))
}

#[cfg(test)]
pub(crate) fn certificate_rsa_key(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()?;
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).ok()?;
    let strip = |v: Vec<u8>| v.into_iter().skip_while(|b| *b == 0).collect::<Vec<u8>>();
    Some((
        strip(key.n().to_be_bytes().to_vec()),
        strip(key.e().to_be_bytes().to_vec()),
    ))
}

#[cfg(test)]
pub(crate) fn self_signature_verifies(der: &[u8], jwk: &super::Jwk) -> bool {
    use x509_cert::der::Decode;
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return false;
    };
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Some(signature) = cert.signature().as_bytes() else {
        return false;
    };
    cert.tbs_certificate().issuer() == cert.tbs_certificate().subject()
        && jwk.verify(super::Alg::Rs256, &tbs, signature)
}
