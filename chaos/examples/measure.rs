//! Side-by-side measurement of a Toxiproxy-API fault proxy (`chaos` or `toxiproxy-server`):
//! bandwidth through it without toxics as a ratio to a direct transfer, its CPU seconds per GiB
//! (from /proc, Linux), and the accuracy of a 100 ms latency toxic.
//!
//! ```sh
//! cargo run --release -p chaos -- --port 8474 &
//! cargo run --release -p chaos --example measure -- http://127.0.0.1:8474 $(pgrep -n chaos) 1
//! ```
//! Arguments: API base URL, the server's PID (for CPU time), GiB to send (default 1).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHUNK: usize = 256 * 1024;

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Sends `bytes` to `addr`, where a sink counts them; seconds until the sink has them all.
async fn transfer(sink: &TcpListener, addr: &str, bytes: u64) -> f64 {
    let start = Instant::now();
    let mut client = TcpStream::connect(addr).await.unwrap();
    let (mut server, _) = sink.accept().await.unwrap();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        while got < bytes {
            let n = server.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed after {got} bytes");
            got += n as u64;
        }
    });
    let buf = vec![7u8; CHUNK];
    let mut sent = 0u64;
    while sent < bytes {
        let n = (bytes - sent).min(CHUNK as u64) as usize;
        client.write_all(&buf[..n]).await.unwrap();
        sent += n as u64;
    }
    reader.await.unwrap();
    start.elapsed().as_secs_f64()
}

/// Round trips of one byte through `addr` to an echoing sink: each in ms.
async fn round_trips(sink: &TcpListener, addr: &str, n: usize) -> Vec<f64> {
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.set_nodelay(true).unwrap();
    let (mut server, _) = sink.accept().await.unwrap();
    server.set_nodelay(true).unwrap();
    tokio::spawn(async move {
        let mut b = [0u8; 1];
        while server.read_exact(&mut b).await.is_ok() {
            if server.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let mut out = Vec::with_capacity(n);
    let mut b = [1u8; 1];
    for _ in 0..n {
        let t = Instant::now();
        client.write_all(&b).await.unwrap();
        client.read_exact(&mut b).await.unwrap();
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let api = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8474".to_owned());
    let pid = args.get(2).cloned().unwrap_or_default();
    let gib: f64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let bytes = (gib * (1u64 << 30) as f64) as u64;
    let sink = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = sink.local_addr().unwrap().to_string();
    let http = reqwest::Client::new();
    let _ = http.delete(format!("{api}/proxies/measure")).send().await;
    let created: serde_json::Value = http
        .post(format!("{api}/proxies"))
        .body(format!(
            r#"{{"name": "measure", "listen": "127.0.0.1:0", "upstream": "{sink_addr}"}}"#
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listen = created["listen"].as_str().unwrap().to_owned();

    let direct = transfer(&sink, &sink_addr, bytes).await;
    let cpu0 = cpu_seconds(&pid);
    let via = transfer(&sink, &listen, bytes).await;
    let cpu = cpu_seconds(&pid) - cpu0;
    let gbs = |s: f64| bytes as f64 / s / 1e9;
    println!(
        "bandwidth: direct {:.2} GB/s, through {:.2} GB/s, through/direct {:.2}; server CPU {:.2} s/GiB",
        gbs(direct),
        gbs(via),
        gbs(via) / gbs(direct),
        cpu / gib
    );

    let base = round_trips(&sink, &listen, 50).await;
    http.post(format!("{api}/proxies/measure/toxics"))
        .body(r#"{"type": "latency", "attributes": {"latency": 100}}"#)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut slow = round_trips(&sink, &listen, 100).await;
    slow.sort_by(f64::total_cmp);
    let mean_base = base.iter().sum::<f64>() / base.len() as f64;
    let mean = slow.iter().sum::<f64>() / slow.len() as f64;
    println!(
        "latency 100 ms toxic: adds {:.1} ms on average (round trip {mean:.1} ms vs {mean_base:.2} ms), p50 {:.1} ms, p99 {:.1} ms",
        mean - mean_base,
        percentile(&slow, 0.5),
        percentile(&slow, 0.99)
    );
    let _ = http.delete(format!("{api}/proxies/measure")).send().await;
}
