//! Probes: one-off requests through the proxy whose bodies are verified byte for byte, timed
//! to the first body byte and to the end of the body.

use std::net::SocketAddr;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::data::ProbeResult;
use crate::suite::Probe;

/// Sends `probe.repeat` requests to `target` and records what came back.
pub(super) async fn run(probe: &Probe, target: SocketAddr) -> Vec<ProbeResult> {
    if let Some(raw) = &probe.raw {
        let mut out = Vec::new();
        for _ in 0..probe.repeat.max(1) {
            out.push(super::raw_probe::once(raw.as_bytes(), probe, target).await);
        }
        return out;
    }
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .local_address(probe.source_ip)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return vec![ProbeResult {
                error: Some(format!("http client: {e}")),
                ..ProbeResult::default()
            }];
        }
    };
    let body: Option<Vec<u8>> = match (&probe.body, probe.body_bytes) {
        (Some(b), _) => Some(b.clone().into_bytes()),
        (None, Some(n)) => Some(mock_backends::pattern::bytes(0, n)),
        (None, None) => None,
    };
    let mut out = Vec::new();
    for _ in 0..probe.repeat.max(1) {
        out.push(once(&client, probe, target, body.clone()).await);
    }
    out
}

async fn once(
    client: &reqwest::Client,
    probe: &Probe,
    target: SocketAddr,
    body: Option<Vec<u8>>,
) -> ProbeResult {
    let mut result = ProbeResult::default();
    let method =
        reqwest::Method::from_bytes(probe.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = client.request(method, format!("http://{target}{}", probe.path));
    for (name, value) in &probe.headers {
        req = req.header(name, value);
    }
    if let Some(b) = body {
        result.sent_sha256 = Some(hex::encode(Sha256::digest(&b)));
        req = req.body(b);
    }
    let sent = Instant::now();
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    result.status = Some(resp.status().as_u16());
    result.headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    result.declared_sha256 = header(mock_backends::CONTENT_SHA256_HEADER);
    result.backend = header(mock_backends::BACKEND_ID_HEADER);
    // Read chunk by chunk: when the first body byte arrives tells whether it was streamed.
    let mut hasher = Sha256::new();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if result.first_byte_ms.is_none() && !chunk.is_empty() {
                    result.first_byte_ms = Some(ms(sent));
                }
                hasher.update(&chunk);
                result.body_len += chunk.len();
                if body.len() < MAX_KEPT {
                    body.extend_from_slice(&chunk);
                }
            }
            Ok(None) => break,
            Err(e) => {
                result.error = Some(format!("body: {e}"));
                return result;
            }
        }
    }
    result.total_ms = Some(ms(sent));
    result.body_head = body_head(&body);
    result.body_sha256 = hex::encode(hasher.finalize());
    result.echoed_sha256 = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("sha256").and_then(|s| s.as_str()).map(str::to_owned));
    result
}

/// The first [`HEAD_KEPT`] bytes of `body` as text (lossy).
pub(super) fn body_head(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(HEAD_KEPT)]).into_owned()
}

/// How much of a body probes keep as text.
const HEAD_KEPT: usize = 1024;

/// Bodies are hashed whole but kept only this far (enough for a JSON echo).
const MAX_KEPT: usize = 64 * 1024;

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
