//! The runner's own TLS handshakes against a proxy listener, for one `tls` check: trusted and
//! untrusted CA, with and without client certificates, ALPN, and a legacy ClientHello.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{TlsFiles, legacy_client_hello};
use crate::checks::Tls;

/// Bound on every connect, handshake and read.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection: the handshake, what the server presented, and the first request's status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attempt {
    /// Why the handshake failed, if it did.
    pub handshake_error: Option<String>,
    /// The server's certificate is the one generated for the SNI name.
    pub leaf_matches: bool,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// Status of `GET /` over HTTP/1.1 after the handshake, if the attempt sent one.
    pub status: Option<u16>,
    /// Why the request got no status (e.g. the server refused the client after the handshake).
    pub error: Option<String>,
}

impl Attempt {
    /// Handshake done and the request answered.
    pub fn served(&self) -> bool {
        self.handshake_error.is_none() && self.status.is_some()
    }

    /// Why not served, in a few words.
    pub fn why(&self) -> String {
        self.handshake_error
            .clone()
            .or_else(|| self.error.clone())
            .unwrap_or_else(|| "no answer".to_owned())
    }
}

/// How a server answered a legacy (TLS 1.0/1.1) ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegacyAnswer {
    /// An alert record (level, description).
    Alert(u8, u8),
    /// The connection closed or was reset without a record.
    Closed,
    /// A handshake record: the server went on with the legacy version.
    ServerHello,
    /// Something else, or nothing in time.
    Other(String),
}

/// Everything one `tls` check needs, measured against one listener.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsObservation {
    /// Trusting the generated CA (and with the generated client certificate for mTLS).
    pub trusted: Attempt,
    /// Trusting an unrelated CA instead.
    pub untrusted: Attempt,
    /// mTLS: trusted CA, no client certificate.
    pub without_client_cert: Option<Attempt>,
    /// mTLS: trusted CA, a client certificate from an unrelated CA.
    pub foreign_client_cert: Option<Attempt>,
    /// Offering `h2` and `http/1.1`: what was negotiated.
    pub alpn: Option<Attempt>,
    /// Answers to TLS 1.0 and TLS 1.1 ClientHellos.
    pub legacy: Vec<(String, LegacyAnswer)>,
}

/// A certificate chain and key to present.
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Runs the handshakes `check` asks for against `addr`.
pub async fn observe(check: &Tls, addr: SocketAddr, files: &TlsFiles) -> TlsObservation {
    let name = check.server_name.as_str();
    let expected = files.leaf(name);
    let stranger = match Stranger::generate() {
        Ok(s) => s,
        Err(e) => {
            let failed = Attempt {
                handshake_error: Some(e),
                ..Attempt::default()
            };
            return TlsObservation {
                trusted: failed.clone(),
                untrusted: failed,
                ..TlsObservation::default()
            };
        }
    };
    let http1 = vec![b"http/1.1".to_vec()];
    // Ours when the listener wants one (read again per attempt: a key is not `Clone`).
    let trusted_id = || check.client_cert.then(|| client_identity(files)).flatten();
    let mut obs = TlsObservation {
        trusted: attempt(
            addr,
            name,
            files.ca_der(),
            trusted_id(),
            &http1,
            expected,
            true,
        )
        .await,
        untrusted: attempt(addr, name, &stranger.ca, None, &http1, expected, true).await,
        ..TlsObservation::default()
    };
    if check.client_cert {
        obs.without_client_cert =
            Some(attempt(addr, name, files.ca_der(), None, &http1, expected, true).await);
        obs.foreign_client_cert = Some(
            attempt(
                addr,
                name,
                files.ca_der(),
                Some(stranger.identity()),
                &http1,
                expected,
                true,
            )
            .await,
        );
    }
    if check.alpn.is_some() {
        let both = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        obs.alpn = Some(
            attempt(
                addr,
                name,
                files.ca_der(),
                trusted_id(),
                &both,
                expected,
                false,
            )
            .await,
        );
    }
    if check.refuses_legacy {
        for (label, minor) in [("TLS 1.0", 1), ("TLS 1.1", 2)] {
            obs.legacy
                .push((label.to_owned(), legacy(addr, name, minor).await));
        }
    }
    obs
}

/// The generated client certificate and key, read back from their PEM files.
fn client_identity(files: &TlsFiles) -> Option<Identity> {
    let (cert, key) = files.client_paths()?;
    let chain = CertificateDer::pem_file_iter(cert)
        .ok()?
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let key = PrivateKeyDer::from_pem_file(key).ok()?;
    Some((chain, key))
}

/// An unrelated CA and a client certificate it signed.
struct Stranger {
    ca: CertificateDer<'static>,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl Stranger {
    fn generate() -> Result<Self, String> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let fail = |e: rcgen::Error| format!("rcgen: {e}");
        let ca_key = KeyPair::generate().map_err(fail)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).map_err(fail)?;
        let issuer = Issuer::new(params, ca_key);
        let key = KeyPair::generate().map_err(fail)?;
        let cert = CertificateParams::new(Vec::<String>::new())
            .map_err(fail)?
            .signed_by(&key, &issuer)
            .map_err(fail)?;
        Ok(Self {
            ca: ca.der().clone(),
            cert: cert.der().clone(),
            key: key.serialize_der(),
        })
    }

    fn identity(&self) -> Identity {
        let key = PrivateKeyDer::Pkcs8(self.key.clone().into());
        (vec![self.cert.clone()], key)
    }
}

fn client_config(
    ca: &CertificateDer<'static>,
    identity: Option<Identity>,
    alpn: &[Vec<u8>],
) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| e.to_string())?;
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
    let mut config = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| e.to_string())?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.to_vec();
    Ok(config)
}

/// One connection: handshake, then (with `request`) `GET /` and the status line.
async fn attempt(
    addr: SocketAddr,
    name: &str,
    ca: &CertificateDer<'static>,
    identity: Option<Identity>,
    alpn: &[Vec<u8>],
    expected_leaf: Option<&CertificateDer<'static>>,
    request: bool,
) -> Attempt {
    let mut out = Attempt::default();
    let failed = |e: String| Attempt {
        handshake_error: Some(e),
        ..Attempt::default()
    };
    let config = match client_config(ca, identity, alpn) {
        Ok(c) => c,
        Err(e) => return failed(format!("client config: {e}")),
    };
    let Ok(server_name) = ServerName::try_from(name.to_owned()) else {
        return failed(format!("`{name}` is not a valid server name"));
    };
    let tcp = match tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return failed(format!("connect: {e}")),
        Err(_) => return failed("connect timed out".to_owned()),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls =
        match tokio::time::timeout(STEP_TIMEOUT, connector.connect(server_name, tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return failed(e.to_string()),
            Err(_) => return failed("handshake timed out".to_owned()),
        };
    let (_, conn) = tls.get_ref();
    out.leaf_matches = match (conn.peer_certificates(), expected_leaf) {
        (Some(chain), Some(leaf)) => chain.first() == Some(leaf),
        _ => false,
    };
    out.alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    if !request {
        return out;
    }
    let head = format!("GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
    let exchange = async {
        tls.write_all(head.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 8192 {
            let n = tls.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(buf)
    };
    match tokio::time::timeout(STEP_TIMEOUT, exchange).await {
        Ok(Ok(buf)) => match crate::wire::status_of(&buf) {
            Some(s) => out.status = Some(s),
            None => out.error = Some("closed without a response".to_owned()),
        },
        Ok(Err(e)) => out.error = Some(e.to_string()),
        Err(_) => out.error = Some("no response in time".to_owned()),
    }
    out
}

/// Sends a legacy ClientHello over plain TCP and reads the first record header.
async fn legacy(addr: SocketAddr, name: &str, minor: u8) -> LegacyAnswer {
    let exchange = async {
        let mut tcp = TcpStream::connect(addr).await?;
        tcp.write_all(&legacy_client_hello(name, minor)).await?;
        let mut buf = [0u8; 7];
        let mut got = 0;
        while got < buf.len() {
            match tcp.read(&mut buf[got..]).await {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if got == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok::<_, std::io::Error>(buf[..got].to_vec())
    };
    match tokio::time::timeout(STEP_TIMEOUT, exchange).await {
        Err(_) => LegacyAnswer::Other("no answer in time".to_owned()),
        Ok(Err(e)) if is_reset(&e) => LegacyAnswer::Closed,
        Ok(Err(e)) => LegacyAnswer::Other(e.to_string()),
        Ok(Ok(bytes)) => match bytes.first() {
            None => LegacyAnswer::Closed,
            Some(0x15) if bytes.len() >= 7 => LegacyAnswer::Alert(bytes[5], bytes[6]),
            Some(0x15) => LegacyAnswer::Alert(0, 0),
            Some(0x16) => LegacyAnswer::ServerHello,
            Some(b) => LegacyAnswer::Other(format!("record type {b:#04x}")),
        },
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
    )
}
