//! rustls client configuration (ring provider): custom CA file or `insecure`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::plan::SpecError;
use crate::spec::{Protocol, TlsSpec};

/// Builds the client config; ALPN offers `h2` for HTTP/2 and `http/1.1` for HTTP/1.1 and SSE.
pub(crate) fn client_config(
    tls: &TlsSpec,
    protocol: Protocol,
) -> Result<Arc<ClientConfig>, SpecError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SpecError::new("tls", e))?;
    let mut config = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let path = tls.ca_file.as_ref().ok_or_else(|| {
            SpecError::new(
                "tls.ca_file",
                "TLS needs a CA file (or `insecure: true` for testing)",
            )
        })?;
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| SpecError::new("tls.ca_file", format!("{}: {e}", path.display())))?;
        for cert in certs {
            let cert = cert.map_err(|e| SpecError::new("tls.ca_file", e))?;
            roots
                .add(cert)
                .map_err(|e| SpecError::new("tls.ca_file", e))?;
        }
        if roots.is_empty() {
            return Err(SpecError::new("tls.ca_file", "no certificates in file"));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = match protocol {
        Protocol::Http2 => vec![b"h2".to_vec()],
        Protocol::Http1 | Protocol::Sse => vec![b"http/1.1".to_vec()],
        Protocol::Ws => Vec::new(),
    };
    Ok(Arc::new(config))
}

/// Accepts any certificate but still checks handshake signatures.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
