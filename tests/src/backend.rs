//! A small hyper test backend on `127.0.0.1:0`.
//!
//! Endpoints (any method unless noted):
//! - `/upload`: answers `{"sha256","len"}` of the request body, hashed as it streams in;
//! - `/download/{n}`: streams the `n`-byte [`crate::payload`] with an `x-content-sha256` header;
//! - `/slow`: sends [`SLOW_FIRST`], waits until the test calls [`TestBackend::open_gate`], then
//!   sends [`SLOW_REST`];
//! - `/sleep/{ms}`: answers after `ms` milliseconds;
//! - `/hop`: an echo whose response carries hop-by-hop headers the proxy must remove;
//! - anything else: an echo of method, path, query, headers and body sha256 as JSON.
//!
//! Every response carries `x-backend-id`; every request is counted.

use crate::payload;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The first chunk `/slow` sends before waiting on the gate.
pub const SLOW_FIRST: &str = "first chunk\n";
/// What `/slow` sends once the gate opens.
pub const SLOW_REST: &str = "the rest\n";

type Body = BoxBody<Bytes, std::io::Error>;

/// A running test backend; stops when dropped.
#[derive(Debug)]
pub struct TestBackend {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct State {
    id: String,
    requests: AtomicU64,
    gate: Notify,
}

impl TestBackend {
    /// Starts a backend that tags its responses with `x-backend-id: id`.
    pub async fn start(id: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            id: id.to_owned(),
            requests: AtomicU64::new(0),
            gate: Notify::new(),
        });
        let accept_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&accept_state);
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve(req, Arc::clone(&state)));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Lets one waiting (or the next) `/slow` response send the rest of its body.
    pub fn open_gate(&self) {
        self.state.gate.notify_one();
    }
}

impl Drop for TestBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(req: Request<Incoming>, state: Arc<State>) -> Result<Response<Body>, Infallible> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_owned();
    let mut resp = if path == "/upload" {
        let (sha, len) = hash_body(req.into_body()).await;
        json(serde_json::json!({ "sha256": sha, "len": len }))
    } else if let Some(n) = path.strip_prefix("/download/") {
        download(n.parse().unwrap_or(0))
    } else if path == "/slow" {
        slow(Arc::clone(&state))
    } else if let Some(ms) = path.strip_prefix("/sleep/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        json(serde_json::json!({ "slept_ms": ms }))
    } else {
        let hop = path == "/hop";
        let mut resp = echo(req).await;
        if hop {
            let h = resp.headers_mut();
            h.insert("connection", "x-backend-secret".parse().unwrap());
            h.insert("x-backend-secret", "1".parse().unwrap());
            h.insert("keep-alive", "timeout=5".parse().unwrap());
            h.insert("proxy-authenticate", "Basic".parse().unwrap());
            h.insert("via", "1.1 origin".parse().unwrap());
        }
        resp
    };
    resp.headers_mut()
        .insert("x-backend-id", state.id.parse().unwrap());
    Ok(resp)
}

async fn hash_body(mut body: Incoming) -> (String, u64) {
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            len += data.len() as u64;
            hasher.update(&data);
        }
    }
    (hex::encode(hasher.finalize()), len)
}

async fn echo(req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        let values: Vec<_> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.insert(name.as_str().to_owned(), values.into());
    }
    let (sha, len) = hash_body(body).await;
    let mut resp = json(serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body_sha256": sha,
        "body_len": len,
    }));
    resp.headers_mut()
        .insert("x-echo-method", parts.method.as_str().parse().unwrap());
    resp
}

fn download(total: u64) -> Response<Body> {
    let sha = payload::sha256(total);
    let body = StreamBody::new(payload::stream(total).map(|c| c.map(Frame::data)));
    let mut resp = Response::new(BodyExt::boxed(body));
    resp.headers_mut()
        .insert("x-content-sha256", sha.parse().unwrap());
    resp
}

fn slow(state: Arc<State>) -> Response<Body> {
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let state = Arc::clone(&state);
        async move {
            match step {
                0 => Some((
                    Ok(Frame::data(Bytes::from_static(SLOW_FIRST.as_bytes()))),
                    1,
                )),
                1 => {
                    state.gate.notified().await;
                    Some((Ok(Frame::data(Bytes::from_static(SLOW_REST.as_bytes()))), 2))
                }
                _ => None,
            }
        }
    });
    Response::new(BodyExt::boxed(StreamBody::new(stream)))
}

fn json(value: serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(Bytes::from(value.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

/// A loopback address nothing listens on: bound, then released.
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
