//! The `rampart` binary: `--check`, graceful drain on SIGTERM, reload on SIGHUP.
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
use tokio::sync::Notify;

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const DEADLINE: Duration = Duration::from_secs(20);
const SLOW_FIRST: &str = "first part;";
const SLOW_REST: &str = "second part";

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A backend answering its id as the body; `/slow` sends a first part, then waits for `gate`.
struct Backend {
    addr: SocketAddr,
    gate: Arc<Notify>,
}

impl Backend {
    async fn start(id: &'static str) -> Self {
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
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{id}",
                            id.len()
                        );
                        let _ = stream.write_all(resp.as_bytes()).await;
                    }
                });
            }
        });
        Self { addr, gate }
    }
}

/// Reads a request head (bodies are not sent by these tests).
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

/// One `GET` on a fresh connection; the status and body, or why it failed.
async fn get(proxy: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let mut conn = TcpStream::connect(proxy)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let req = format!("GET {path} HTTP/1.1\r\nhost: cli.test\r\nconnection: close\r\n\r\n");
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

fn config(backend: SocketAddr) -> String {
    format!(
        "listeners: [{{ name: http, bind: \"127.0.0.1:0\" }}]\n\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         upstreams: {{ api: {{ backends: [{{ address: \"{backend}\" }}] }} }}\n\
         routes: [{{ match: {{ path_prefix: / }}, upstream: api }}]\n\
         server: {{ shutdown_timeout: 20s }}\n"
    )
}

fn write_config(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The binary running with a config file, and the address it listens on.
struct Running {
    child: Child,
    addr: SocketAddr,
    admin: SocketAddr,
    _stderr: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(config: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(["--log-format", "json", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (addr, admin) = within("the `listening` log lines", async {
            let (mut addr, mut admin) = (None, None);
            while let Some(line) = lines.next_line().await.unwrap() {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let Some(text) = event["addr"].as_str() else {
                    continue;
                };
                match event["message"].as_str() {
                    Some("listening") => addr = text.parse::<SocketAddr>().ok(),
                    Some("admin listening") => admin = text.parse::<SocketAddr>().ok(),
                    _ => {}
                }
                if let (Some(addr), Some(admin)) = (addr, admin) {
                    return (addr, admin);
                }
            }
            panic!("rampart exited before listening");
        })
        .await;
        // Keep draining stderr so the child never blocks on a full pipe.
        let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            addr,
            admin,
            _stderr: drain,
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

    async fn exit_code(mut self) -> Option<i32> {
        within("rampart to exit", self.child.wait())
            .await
            .unwrap()
            .code()
    }
}

fn check(dir: &Path, name: &str, yaml: &str) -> std::process::Output {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    std::process::Command::new(BIN)
        .arg("--check")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap()
}

#[test]
fn check_names_the_key_path_of_each_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let good = config("127.0.0.1:9001".parse().unwrap());
    let ok = check(dir.path(), "good.yaml", &good);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");

    let cases = [
        (
            "listeners[0].bind",
            good.replace("bind: \"127.0.0.1:0\" }]", "bind: \"nonsense\" }]"),
        ),
        (
            "upstreams.api.backends[0].address",
            good.replace("\"127.0.0.1:9001\"", "\"localhost\""),
        ),
        (
            "routes[0].upstream",
            good.replace("upstream: api", "upstream: nope"),
        ),
        (
            "upstreams.api.timeouts.connect",
            good.replace("}] }", "}], timeouts: { connect: 0s } }"),
        ),
        (
            "routes[0].match.path_prefix",
            good.replace("path_prefix: /", "path_prefix: api"),
        ),
        (
            "headers.request_id",
            format!("{good}headers: {{ request_id: \"bad header\" }}\n"),
        ),
    ];
    for (i, (path, yaml)) in cases.iter().enumerate() {
        assert_ne!(yaml, &good, "case {path} did not change the config");
        let out = check(dir.path(), &format!("bad{i}.yaml"), yaml);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{path}: {stderr}");
        assert!(
            stderr.contains(&format!("{path}:")),
            "expected {path} in: {stderr}"
        );
    }
}

#[tokio::test]
async fn sigterm_lets_the_in_flight_request_finish_refuses_new_ones_and_exits_0() {
    let backend = Backend::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rampart.yaml");
    write_config(&path, &config(backend.addr));
    let running = Running::start(&path).await;
    let addr = running.addr;

    // A slow request, with its first bytes through the proxy before the signal.
    let mut conn = within("connect", TcpStream::connect(addr)).await.unwrap();
    conn.write_all(b"GET /slow HTTP/1.1\r\nhost: cli.test\r\n\r\n")
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

    running.signal("-TERM");
    within("the listener to close", async {
        while let Ok(probe) = TcpStream::connect(addr).await {
            drop(probe);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    backend.gate.notify_one();
    within("the rest of the slow response", conn.read_to_end(&mut got))
        .await
        .unwrap();
    let (status, body) = parse_response(&got).unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, format!("{SLOW_FIRST}{SLOW_REST}"));
    assert_eq!(running.exit_code().await, Some(0));
}

#[tokio::test]
async fn sighup_reloads_under_load_and_keeps_the_old_config_when_the_new_one_is_bad() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rampart.yaml");
    write_config(&path, &config(a.addr));
    let running = Running::start(&path).await;
    let addr = running.addr;
    assert_eq!(get(addr, "/").await, Ok((200, "a".into())));

    let stop = Arc::new(Notify::new());
    let load = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            let mut failures = Vec::new();
            let mut sent = 0u32;
            let stopped = stop.notified();
            tokio::pin!(stopped);
            while sent < 5_000 {
                tokio::select! {
                    () = &mut stopped => break,
                    result = get(addr, "/load") => {
                        sent += 1;
                        match result {
                            Ok((200, _)) => {}
                            other => failures.push(format!("{other:?}")),
                        }
                    }
                }
            }
            (sent, failures)
        }
    });

    for (target, backend) in [("b", &b), ("a", &a), ("b", &b)] {
        write_config(&path, &config(backend.addr));
        running.signal("-HUP");
        within("the reload to take effect", async {
            while get(addr, "/").await != Ok((200, target.to_owned())) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    // A bad config on SIGHUP is refused: the process keeps serving the last good one.
    write_config(
        &path,
        &config(b.addr).replace("upstream: api", "upstream: nope"),
    );
    running.signal("-HUP");
    within("the refused reload to be counted", async {
        loop {
            let (_, metrics) = get(running.admin, "/metrics").await.unwrap();
            if metrics.contains("rampart_config_reloads_total{result=\"error\"} 1") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    for _ in 0..20 {
        assert_eq!(get(addr, "/").await, Ok((200, "b".into())));
    }

    stop.notify_one();
    let (sent, failures) = within("load client", load).await.unwrap();
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );
    assert!(sent > 0);
    running.signal("-TERM");
    assert_eq!(running.exit_code().await, Some(0));
}
