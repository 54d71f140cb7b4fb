//! TLS for LDAP connections: one crypto provider (ring) for the process, and a trust store
//! from the configured CA file.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Installs ring as the process-wide rustls provider. With more than one provider linked,
/// rustls cannot pick one and ldap3 would panic at connect; a second call is harmless.
pub fn install_crypto_provider() {
    // `Err` only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client configuration trusting exactly the certificates in `ca_file` (PEM).
pub fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, String> {
    install_crypto_provider();
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("cannot read CA file `{}`: {e}", ca_file.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("bad PEM in `{}`: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("bad certificate in `{}`: {e}", ca_file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("`{}` holds no certificate", ca_file.display()));
    }
    Ok(Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
