//! TLS: termination on listeners (SNI certificates, ALPN, client certificates), the upstream
//! client config, and development certificates.
//!
//! rustls with the ring provider; TLS 1.2 and 1.3 only. The cipher suites are rustls's ring
//! defaults: Mozilla's "intermediate" list without the DHE suites (rustls has none):
//! TLS 1.3 AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; TLS 1.2 ECDHE-ECDSA and ECDHE-RSA
//! with AES-GCM and ChaCha20-Poly1305.

mod accept;
mod dev_certs;
mod files;
mod h2_limits;
mod server;
mod subject;
mod upstream;

pub use accept::{Accepted, PeerSubject, Termination};
pub use dev_certs::{DevCerts, dev_certs};
pub use files::{read_certs, read_key};
pub use h2_limits::http2_limits;
pub use server::{ClientAuth, ServerCert, server_config, sni_pattern};
pub use subject::subject_of;
pub use upstream::client_config;

use std::sync::Arc;

/// The one crypto provider of the workspace: ring.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 and 1.2; nothing older.
pub const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
