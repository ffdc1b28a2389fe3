//! TLS test support: rcgen certificates written to disk, rustls client configs, one request
//! over a TLS stream (h1 or h2), and a TLS backend that echoes the headers it received.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use proxy::security::tls::DevCerts;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

/// A set of development certificates and the directory they were written to.
#[derive(Debug, Clone)]
pub struct CertSet {
    /// The PEM texts.
    pub pems: DevCerts,
    /// `ca.pem`, `cert.pem`, `key.pem`, `client.pem`, `client-key.pem` live here.
    pub dir: PathBuf,
}

impl CertSet {
    /// Makes a CA and a leaf for `hosts` and writes them into `root/name/`.
    pub fn write(root: &Path, name: &str, hosts: &[&str]) -> Self {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let pems = proxy::security::tls::dev_certs(&hosts).unwrap();
        let dir = root.join(name);
        pems.write(&dir).unwrap();
        Self { pems, dir }
    }

    /// The path of one of the files, as a string for YAML.
    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// The leaf certificate's DER.
    pub fn leaf_der(&self) -> Vec<u8> {
        CertificateDer::from_pem_slice(self.pems.cert_pem.as_bytes())
            .unwrap()
            .to_vec()
    }
}

/// A client config trusting `cas` (PEM), presenting `identity` (cert PEM, key PEM) if set,
/// offering `alpn`.
pub fn client_config(
    cas: &[&str],
    identity: Option<(&str, &str)>,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots
            .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
            .unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `addr` with this server name (an IP address sends no SNI).
pub async fn connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// The DER of the certificate the server presented.
pub fn peer_leaf(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// What a request over [`send`] got back.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The HTTP version the response came in.
    pub version: http::Version,
    /// The body as text.
    pub body: String,
}

/// An HTTP/1.1 (or h2, by the negotiated ALPN) sender over an established TLS stream.
pub enum Sender {
    /// HTTP/1.1.
    H1(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
    /// HTTP/2.
    H2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

impl Sender {
    /// Starts HTTP on the stream, h2 when ALPN chose it.
    pub async fn over(stream: TlsStream<TcpStream>) -> Self {
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(stream);
        if h2 {
            let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
            tokio::spawn(conn);
            Sender::H2(send)
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            Sender::H1(send)
        }
    }

    /// GET `path` with `headers`; `None` if the connection failed.
    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Option<Reply> {
        let mut req = http::Request::get(format!("https://localhost{path}"));
        if matches!(self, Sender::H1(_)) {
            req = req.uri(path).header("host", "localhost");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Empty::new()).unwrap();
        let resp = match self {
            Sender::H1(s) => s.send_request(req).await.ok()?,
            Sender::H2(s) => s.send_request(req).await.ok()?,
        };
        let status = resp.status().as_u16();
        let version = resp.version();
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        Some(Reply {
            status,
            version,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// A TLS backend answering every request with a JSON object of the headers it received
/// (`{"headers": {name: value}}`); stops when dropped.
#[derive(Debug)]
pub struct TlsBackend {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl TlsBackend {
    /// Serves HTTP/1.1 over TLS with `certs`' leaf on `127.0.0.1:0`.
    pub async fn start(certs: &CertSet) -> Self {
        let chain = vec![CertificateDer::from_pem_slice(certs.pems.cert_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(certs.pems.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        async move {
                            let mut headers = serde_json::Map::new();
                            for (k, v) in req.headers() {
                                headers.insert(
                                    k.as_str().to_owned(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned().into(),
                                );
                            }
                            let body = serde_json::json!({ "tls": true, "headers": headers });
                            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(
                                body.to_string(),
                            ))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}
