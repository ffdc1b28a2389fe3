//! The request path: control endpoints, counters, faults in order, then the endpoint.

use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use crate::body::{self, Body};
use crate::conn::{Action, Conn};
use crate::endpoints;
use crate::faults;

/// Header naming the backend on every response.
pub const BACKEND_ID_HEADER: &str = "x-backend-id";

/// Prefix of the control endpoints, which faults and counters ignore.
const CONTROL_PREFIX: &str = "/__mock/";

/// Bounds on reading a request body that a fault is about to throw away.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers one request: counts it, applies the faults drawn for it, then runs the endpoint.
pub(crate) async fn handle(conn: Conn, request: Request<Incoming>) -> Response<Body> {
    let shared = conn.ctx.shared.clone();
    let path = request.uri().path().to_owned();
    if path.starts_with(CONTROL_PREFIX) {
        return tagged(
            endpoints::control::handle(&shared, request).await,
            &shared.id,
        );
    }
    shared.stats.request(&path);
    let behavior = shared.behavior();
    let plan = shared.with_rng(|rng| faults::plan(&behavior, &path, rng));

    if let Some(delay) = plan.delay {
        shared.stats.fault("latency");
        tokio::time::sleep(delay).await;
    }
    let mut request = Some(request);
    if let Some(fault) = plan
        .disconnect
        .as_ref()
        .filter(|f| f.kind.before_response())
    {
        shared.stats.fault(fault.kind.name());
        drain(request.take()).await;
        let action = match fault.kind {
            crate::DisconnectKind::Reset => Action::Reset,
            crate::DisconnectKind::Garbage => Action::Raw(faults::garbage(fault)),
            _ => Action::Close,
        };
        return conn.abort(action).await;
    }
    let response = match &plan.error {
        Some(fault) => {
            shared.stats.fault("error");
            drain(request.take()).await;
            faults::error_response(fault, &shared.id)
        }
        None => match request.take() {
            Some(request) => endpoints::route(&conn, request, &behavior).await,
            None => body::error(StatusCode::INTERNAL_SERVER_ERROR, "request consumed"),
        },
    };
    let mut response = tagged(response, &shared.id);
    if let Some(fault) = &plan.disconnect {
        shared.stats.fault(fault.kind.name());
        let after = if fault.kind == crate::DisconnectKind::CloseMidBody {
            fault.after_bytes
        } else {
            0
        };
        let raw = faults::truncated(response, after).await;
        return conn.abort(Action::Raw(raw)).await;
    }
    if let Some(fault) = &plan.dribble {
        shared.stats.fault("dribble");
        response = faults::dribble(response, fault).await;
    }
    shared.stats.status(response.status().as_u16());
    response
}

/// Adds `x-backend-id`.
fn tagged(mut response: Response<Body>, id: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(BACKEND_ID_HEADER, value);
    }
    response
}

/// Reads and discards a request body (bounded), so closing the socket sends FIN, not RST.
async fn drain(request: Option<Request<Incoming>>) {
    let Some(request) = request else { return };
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return;
    }
    let body = http_body_util::Limited::new(request.into_body(), DRAIN_LIMIT);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, body.collect()).await;
}
