//! The `rampart` binary's drain: `rampart drain --admin HOST:PORT` (the Kubernetes `preStop`
//! hook), SIGTERM honouring `server.drain_delay`, and the access log's `trace_id`.
//!
//! A minimal raw-tokio backend and client keep this file free of extra dependencies.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, mpsc};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const DEADLINE: Duration = Duration::from_secs(20);
const SLOW_FIRST: &str = "first part;";
const SLOW_REST: &str = "second part";

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Polls `check` every 10 ms until it is true, within [`DEADLINE`].
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    within(what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// A backend that answers with the `traceparent` it got (or `none`); `/slow` sends a first
/// part, then waits for `gate`.
async fn backend() -> (SocketAddr, Arc<Notify>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = Arc::new(Notify::new());
    let conn_gate = Arc::clone(&gate);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let gate = Arc::clone(&conn_gate);
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                if head.starts_with("GET /slow ") {
                    let len = SLOW_FIRST.len() + SLOW_REST.len();
                    let start = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n{SLOW_FIRST}"
                    );
                    let _ = stream.write_all(start.as_bytes()).await;
                    gate.notified().await;
                    let _ = stream.write_all(SLOW_REST.as_bytes()).await;
                } else {
                    let seen = head
                        .lines()
                        .find_map(|l| l.strip_prefix("traceparent: "))
                        .unwrap_or("none")
                        .to_owned();
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{seen}",
                        seen.len()
                    );
                    let _ = stream.write_all(resp.as_bytes()).await;
                }
            });
        }
    });
    (addr, gate)
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// One request on a fresh connection (`extra` header lines end in `\r\n`): status and body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
) -> Result<(u16, String), String> {
    let mut conn = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: drain.test\r\ncontent-length: 0\r\n{extra}connection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut out = Vec::new();
    conn.read_to_end(&mut out)
        .await
        .map_err(|e| format!("read: {e}"))?;
    parse_response(&out)
}

fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response head: {text:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status: {head:?}"))?;
    Ok((status, body.to_owned()))
}

fn config(backend: SocketAddr, server: &str) -> String {
    format!(
        "listeners: [{{ name: http, bind: \"127.0.0.1:0\" }}]\n\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         upstreams: {{ api: {{ backends: [{{ address: \"{backend}\" }}] }} }}\n\
         routes: [{{ match: {{ path_prefix: / }}, upstream: api }}]\n\
         logging: {{ access_log: true }}\n\
         server: {{ shutdown_timeout: 20s{server} }}\n"
    )
}

/// The binary running with a config file; its JSON log events arrive on `events`.
struct Running {
    child: Child,
    addr: SocketAddr,
    admin: SocketAddr,
    events: mpsc::UnboundedReceiver<serde_json::Value>,
}

impl Running {
    async fn start(dir: &Path, yaml: &str) -> Self {
        let path = dir.join("rampart.yaml");
        std::fs::write(&path, yaml).unwrap();
        let mut child = Command::new(BIN)
            .args(["--log-format", "json", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (tx, mut events) = mpsc::unbounded_channel();
        // Keep reading stderr so the child never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) {
                    let _ = tx.send(event);
                }
            }
        });
        let (addr, admin) = within("the `listening` log lines", async {
            let (mut addr, mut admin) = (None, None);
            while let Some(event) = events.recv().await {
                let parsed = event["addr"].as_str().and_then(|a| a.parse().ok());
                match event["message"].as_str() {
                    Some("listening") => addr = parsed,
                    Some("admin listening") => admin = parsed,
                    _ => {}
                }
                if let (Some(addr), Some(admin)) = (addr, admin) {
                    return (addr, admin);
                }
            }
            panic!("rampart exited before listening");
        })
        .await;
        Self {
            child,
            addr,
            admin,
            events,
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill {sig} {pid}");
    }

    /// The next log event whose `message` is `message`.
    async fn event(&mut self, message: &str) -> serde_json::Value {
        within(&format!("log event {message:?}"), async {
            while let Some(e) = self.events.recv().await {
                if e["message"] == message {
                    return e;
                }
            }
            panic!("rampart exited before logging {message:?}");
        })
        .await
    }

    async fn exit_code(mut self) -> Option<i32> {
        within("rampart to exit", self.child.wait())
            .await
            .unwrap()
            .code()
    }
}

async fn readyz(admin: SocketAddr) -> u16 {
    request(admin, "GET", "/readyz", "")
        .await
        .map_or(0, |(s, _)| s)
}

/// Sends `/slow` and waits until its first part is through; returns the open connection.
async fn slow_request(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut conn = within("connect", TcpStream::connect(addr)).await.unwrap();
    conn.write_all(b"GET /slow HTTP/1.1\r\nhost: drain.test\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    within("first part through the proxy", async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).ends_with(SLOW_FIRST) {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    (conn, got)
}

fn drain_cli(admin: SocketAddr, wait: bool) -> std::process::Output {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["drain", "--admin", &admin.to_string(), "--timeout", "20s"]);
    if wait {
        cmd.arg("--wait");
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rampart_drain_starts_the_drain_the_in_flight_request_completes_and_the_proxy_exits_0() {
    let (backend, gate) = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path(), &config(backend, ", drain_delay: 3s")).await;
    let (addr, admin) = (running.addr, running.admin);
    assert_eq!(readyz(admin).await, 200);
    let (mut conn, mut got) = slow_request(addr).await;

    let out = tokio::task::spawn_blocking(move || drain_cli(admin, false))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout.contains("\"started\":true"), "{stdout}");
    assert_eq!(readyz(admin).await, 503, "unready at once");
    // Still serving during drain_delay; a second drain and a SIGTERM do not restart it.
    assert_eq!(
        request(addr, "GET", "/during", "").await.map(|r| r.0),
        Ok(200)
    );
    let again = request(admin, "POST", "/admin/drain", "").await.unwrap();
    assert_eq!(again.0, 202);
    assert!(again.1.contains("\"started\":false"), "{again:?}");
    running.signal("-TERM");

    until("the listener to close after drain_delay", || async {
        TcpStream::connect(addr).await.is_err()
    })
    .await;
    gate.notify_one();
    within("the rest of the slow response", conn.read_to_end(&mut got))
        .await
        .unwrap();
    let (status, body) = parse_response(&got).unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, format!("{SLOW_FIRST}{SLOW_REST}"));
    assert_eq!(running.exit_code().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rampart_drain_wait_returns_once_the_proxy_has_drained() {
    let (backend, _gate) = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path(), &config(backend, "")).await;
    let admin = running.admin;
    let out = tokio::task::spawn_blocking(move || drain_cli(admin, true))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        TcpStream::connect(admin).await.is_err(),
        "admin closed when --wait returns"
    );
    assert_eq!(running.exit_code().await, Some(0));
}

#[test]
fn rampart_drain_fails_when_nothing_answers() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let out = std::process::Command::new(BIN)
        .args(["drain", "--admin", &addr.to_string(), "--timeout", "2s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("drain failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_honours_drain_delay_readyz_first_then_the_listener_closes() {
    let (backend, _gate) = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = Running::start(dir.path(), &config(backend, ", drain_delay: 3s")).await;
    let (addr, admin) = (running.addr, running.admin);
    running.signal("-TERM");
    running
        .event("drain started; /readyz is unready, listeners keep accepting for drain_delay")
        .await;
    assert_eq!(readyz(admin).await, 503);
    assert_eq!(
        request(addr, "GET", "/during", "").await.map(|r| r.0),
        Ok(200)
    );
    until("the listener to close after drain_delay", || async {
        TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert_eq!(running.exit_code().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_has_the_trace_id_the_backend_saw() {
    let (backend, _gate) = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = Running::start(dir.path(), &config(backend, "")).await;
    let sent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let (status, seen) = request(
        running.addr,
        "GET",
        "/t",
        &format!("traceparent: {sent}\r\n"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(&seen[..36], &sent[..36], "same trace id upstream: {seen}");
    assert_ne!(seen, sent, "the proxy's span is the new parent");
    let line = running.event("request").await;
    assert_eq!(
        line["trace_id"], "0af7651916cd43dd8448eb211c80319c",
        "{line}"
    );
    running.signal("-TERM");
    assert_eq!(running.exit_code().await, Some(0));
}
