//! Deciding which faults hit a request, and shaping the responses they produce.

use std::fmt::Write as _;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use rand::Rng;

use crate::behavior::{Behavior, DisconnectFault, DribbleFault, ErrorFault};
use crate::body::{self, Body};

/// Bodies larger than this are sent normally even when a dribble fault applies.
const MAX_DRIBBLE_BYTES: u64 = 64 * 1024 * 1024;

/// The faults chosen for one request.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) delay: Option<Duration>,
    pub(crate) error: Option<ErrorFault>,
    pub(crate) disconnect: Option<DisconnectFault>,
    pub(crate) dribble: Option<DribbleFault>,
}

/// Rolls the dice for each fault that covers `path`, in a fixed order so a seed replays.
pub(crate) fn plan(behavior: &Behavior, path: &str, rng: &mut impl Rng) -> Plan {
    let mut hits = |rate: f64, paths: &[String]| covers(paths, path) && rng.random::<f64>() < rate;
    let mut plan = Plan::default();
    let latency = behavior.latency.as_ref().filter(|f| hits(f.rate, &f.paths));
    plan.error = behavior.error.clone().filter(|f| hits(f.rate, &f.paths));
    plan.disconnect = behavior
        .disconnect
        .clone()
        .filter(|f| hits(f.rate, &f.paths));
    plan.dribble = behavior.dribble.clone().filter(|f| hits(f.rate, &f.paths));
    plan.delay = latency.map(|f| f.distribution.sample(rng));
    plan
}

/// Whether a fault scoped to `paths` applies to `path`.
fn covers(paths: &[String], path: &str) -> bool {
    if paths.is_empty() {
        path != "/healthz"
    } else {
        paths.iter().any(|prefix| path.starts_with(prefix.as_str()))
    }
}

/// The response an error fault sends.
pub(crate) fn error_response(fault: &ErrorFault, backend: &str) -> Response<Body> {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match &fault.body {
        Some(text) => {
            let mut response = Response::new(body::full(text.clone()));
            *response.status_mut() = status;
            response
        }
        None => body::json(
            status,
            &serde_json::json!({ "error": "injected fault", "status": status.as_u16(), "backend": backend }),
        ),
    }
}

/// Bytes sent by a `garbage` fault when none are configured.
pub(crate) fn garbage(fault: &DisconnectFault) -> Bytes {
    match &fault.garbage {
        Some(text) => Bytes::from(text.clone()),
        None => Bytes::from_static(b"\x00\xffTHIS IS NOT HTTP\r\n\x7f\x80garbage\r\n\r\n"),
    }
}

/// Turns a response into raw bytes: its head, a content-length promising more than is sent,
/// and at most `after_bytes` of its body. Sending these and closing makes a short body.
pub(crate) async fn truncated(response: Response<Body>, after_bytes: u64) -> Bytes {
    let (parts, mut body) = response.into_parts();
    let known = declared_length(&parts.headers, &body);
    let mut sent = BytesMut::new();
    while (sent.len() as u64) < after_bytes {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room =
                        usize::try_from(after_bytes - sent.len() as u64).unwrap_or(usize::MAX);
                    sent.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    let promised = known.unwrap_or(0).max(sent.len() as u64 + 1);
    let mut head = String::new();
    let reason = parts.status.canonical_reason().unwrap_or("");
    let _ = write!(head, "HTTP/1.1 {} {reason}\r\n", parts.status.as_u16());
    for (name, value) in &parts.headers {
        if [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::CONNECTION,
        ]
        .contains(name)
        {
            continue;
        }
        let _ = write!(
            head,
            "{name}: {}\r\n",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    let _ = write!(
        head,
        "content-length: {promised}\r\nconnection: close\r\n\r\n"
    );
    let mut raw = BytesMut::from(head.as_bytes());
    raw.extend_from_slice(&sent);
    raw.freeze()
}

/// Re-sends a response's body in `chunks` pieces spread over `over`, when its length is known.
pub(crate) async fn dribble(response: Response<Body>, fault: &DribbleFault) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let known = declared_length(&parts.headers, &body);
    if known.is_none_or(|n| n > MAX_DRIBBLE_BYTES) {
        return Response::from_parts(parts, body);
    }
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, body::empty());
    };
    let all = collected.to_bytes();
    let chunks = fault.chunks.max(1) as usize;
    let size = all.len().div_ceil(chunks).max(1);
    let pieces: Vec<Bytes> = (0..all.len())
        .step_by(size)
        .map(|at| all.slice(at..all.len().min(at + size)))
        .collect();
    let pause = fault.over / u32::try_from(pieces.len().max(1)).unwrap_or(u32::MAX);
    let stream = futures_util::stream::unfold(pieces.into_iter(), move |mut rest| async move {
        let piece = rest.next()?;
        tokio::time::sleep(pause).await;
        Some((Ok(piece), rest))
    });
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(all.len()));
    Response::from_parts(parts, body::stream(stream))
}

/// The body length a response will have: from its body when exact, else its content-length.
fn declared_length(headers: &http::HeaderMap, body: &Body) -> Option<u64> {
    use http_body::Body as _;
    body.size_hint().exact().or_else(|| {
        headers
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    })
}
