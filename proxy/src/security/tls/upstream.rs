//! The upstream client's rustls config: a private CA, an optional client certificate.

use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// Builds a client config trusting only `cas`, presenting `identity` when set, with ALPN
/// `http/1.1` (the upstream client speaks HTTP/1.1).
pub fn client_config(
    cas: Vec<CertificateDer<'static>>,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots
            .add(ca)
            .map_err(|e| format!("ca: not a usable CA certificate ({e})"))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(super::provider())
        .with_protocol_versions(super::VERSIONS)
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("client_cert: unusable ({e})"))?,
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
