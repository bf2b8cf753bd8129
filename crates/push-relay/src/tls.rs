//! The relay's TLS: a certificate and key from PEM files (production), or a self-signed
//! certificate made at start (tests, the demo; the LSP must then trust its PEM).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds no usable item.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate and key (mismatch, unsupported key).
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    /// The self-signed certificate could not be made.
    #[error("making a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// TLS from a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
/// SEC1).
///
/// # Errors
/// A file that cannot be read or parsed, no certificate, or a key that does not fit.
pub fn load_tls(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem_error = |path: &Path, reason: String| TlsError::Pem { path: path.display().to_string(), reason };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|error| pem_error(cert_file, error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(cert_file, error.to_string()))?;
    if chain.is_empty() {
        return Err(pem_error(cert_file, "no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|error| pem_error(key_file, error.to_string()))?;
    server_config(chain, key)
}

/// TLS with a fresh self-signed certificate for `names` (DNS names or IP addresses). Returns
/// it with the certificate's PEM, which whoever connects must trust (the LSP's
/// `lsps5.extra_ca_file`).
///
/// # Errors
/// If the certificate cannot be made (an invalid name).
pub fn self_signed_tls(names: &[String]) -> Result<(Arc<ServerConfig>, String), TlsError> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())?;
    let key = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = server_config(vec![certified.cert.der().clone()], key)?;
    Ok((config, certified.cert.pem()))
}

/// A fresh self-signed certificate for `names` as PEM files' contents: (certificate, PKCS#8
/// private key), for [`load_tls`] and for whoever connects to trust.
///
/// # Errors
/// If the certificate cannot be made (an invalid name).
pub fn self_signed_pem(names: &[String]) -> Result<(String, String), TlsError> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}
