//! rustls client configuration (ring provider): custom CA file or `insecure`, and an optional
//! client certificate for mutual TLS.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

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
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
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
        builder.with_root_certificates(roots)
    };
    let mut config = match (&tls.client_cert, &tls.client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let (chain, key) = client_identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| SpecError::new("tls.client_key", e))?
        }
        (Some(_), None) => {
            return Err(SpecError::new(
                "tls.client_key",
                "a client certificate needs its key (PEM)",
            ));
        }
        (None, Some(_)) => {
            return Err(SpecError::new(
                "tls.client_cert",
                "a client key needs its certificate (PEM)",
            ));
        }
    };
    config.alpn_protocols = match protocol {
        Protocol::Http2 => vec![b"h2".to_vec()],
        Protocol::Http1 | Protocol::Sse => vec![b"http/1.1".to_vec()],
        Protocol::Ws => Vec::new(),
    };
    Ok(Arc::new(config))
}

/// Reads a client certificate chain and its private key from PEM files.
fn client_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), SpecError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| SpecError::new("tls.client_cert", format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(SpecError::new(
            "tls.client_cert",
            format!("{}: no certificates in file", cert.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| SpecError::new("tls.client_key", format!("{}: {e}", key.display())))?;
    Ok((chain, key))
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
