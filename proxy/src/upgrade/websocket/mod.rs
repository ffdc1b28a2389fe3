//! WebSocket proxying: the upgrade request goes through the normal backend choice (balancer,
//! health, breaker, retries) with its `Upgrade` kept; the backend's handshake completes first,
//! then the client's, and a relay passes frames both ways until one side closes.
//!
//! The relay is frame-aware but payload-transparent: masks, extensions (permessage-deflate)
//! and subprotocols pass end to end untouched, while the proxy enforces the message limit
//! (close 1009), pings silent peers, closes idle ones and says 1001 on shutdown.

mod frame;
mod half;
mod relay;

use crate::config::WebsocketConfig;
use crate::forward::ProxyError;
use crate::observe::{StreamMetrics, StreamRouteLabels, WsCloseLabels, WsMessageLabels};
use crate::upgrade::{OpenStream, RouteSlot, StreamKind, Streams};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use relay::{Limits, Peer};

/// True when `req` asks for a WebSocket (RFC 6455 §4.1: an HTTP/1.1 GET with
/// `Upgrade: websocket` and `Connection: upgrade`).
pub fn is_upgrade<B>(req: &Request<B>) -> bool {
    req.method() == Method::GET
        && req.version() == Version::HTTP_11
        && crate::forward::headers::has_token(req.headers(), &header::CONNECTION, "upgrade")
        && crate::forward::headers::has_token(req.headers(), &header::UPGRADE, "websocket")
}

/// A WebSocket request admitted on its route: the client's half of the upgrade and the
/// route's slot (within `max_connections`).
#[derive(Debug)]
pub(crate) struct Pending {
    client: OnUpgrade,
    slot: RouteSlot,
    config: Arc<WebsocketConfig>,
    route: String,
}

/// Takes the client's upgrade out of `req` if the route allows WebSockets and has room;
/// `Ok(None)` when the route has them off (the request then goes on as a plain GET).
pub(crate) fn admit<B>(
    req: &mut Request<B>,
    config: Option<&Arc<WebsocketConfig>>,
    route: &str,
    metrics: &StreamMetrics,
) -> Result<Option<Pending>, ProxyError> {
    let Some(config) = config else {
        return Ok(None);
    };
    let gauge = metrics
        .websockets
        .get_or_create(&StreamRouteLabels {
            route: route.to_owned(),
        })
        .clone();
    let slot =
        RouteSlot::try_open(gauge, config.max_connections).ok_or(ProxyError::WebsocketLimit)?;
    Ok(Some(Pending {
        client: hyper::upgrade::on(req),
        slot,
        config: Arc::clone(config),
        route: route.to_owned(),
    }))
}

/// Checks the backend's 101 and starts the relay; returns the 101 head for the client.
///
/// `in_flight` keeps the connection counted on its backend (least connections) for as long
/// as the relay runs.
pub(crate) fn accept<B>(
    pending: Pending,
    mut backend_response: Response<B>,
    in_flight: Option<crate::backend::InFlight>,
    streams: &Streams,
    metrics: &StreamMetrics,
    drain_after: Duration,
) -> Result<Response<B>, ProxyError> {
    let headers = backend_response.headers();
    if !crate::forward::headers::has_token(headers, &header::UPGRADE, "websocket") {
        return Err(ProxyError::UpgradeFailed("101 without Upgrade: websocket"));
    }
    if !headers.contains_key(header::SEC_WEBSOCKET_ACCEPT) {
        return Err(ProxyError::UpgradeFailed(
            "101 without Sec-WebSocket-Accept",
        ));
    }
    let backend = hyper::upgrade::on(&mut backend_response);
    let Pending {
        client,
        slot,
        config,
        route,
    } = pending;
    let open = in_flight
        .as_ref()
        .map(|f| OpenStream::new(Arc::clone(f.backend()), StreamKind::WebSocket, slot));
    let limits = Limits {
        max_message: config.max_message_bytes,
        idle: config.idle_timeout,
        ping: config.ping_interval,
    };
    // One statement each: `get_or_create` holds the family's read lock until the statement
    // ends, and creating the second label needs its write lock.
    let up = message_counter(metrics, &route, "client_to_backend");
    let down = message_counter(metrics, &route, "backend_to_client");
    let counters = [up, down];
    let closes = metrics.websocket_closes.clone();
    let drain = streams.draining();
    streams.spawn(async move {
        let _open = open;
        let _in_flight = in_flight;
        let (client, backend) = match tokio::try_join!(client, backend) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade did not complete");
                return;
            }
        };
        let on_messages = Box::new(move |from: Peer, n: u64| {
            counters[usize::from(from == Peer::Backend)].inc_by(n);
        });
        let mut relay = relay::Relay::new(
            TokioIo::new(client),
            TokioIo::new(backend),
            limits,
            on_messages,
        );
        tokio::select! {
            () = &mut relay => {}
            () = drain.cancelled() => {
                relay.drain(drain_after);
                (&mut relay).await;
            }
        }
        let ending = relay.ending();
        closes
            .get_or_create(&WsCloseLabels {
                route,
                by: ending.by,
                code: ending.code,
            })
            .inc();
    });
    Ok(backend_response)
}

/// The message counter of `route` in `direction`.
fn message_counter(
    metrics: &StreamMetrics,
    route: &str,
    direction: &'static str,
) -> prometheus_client::metrics::counter::Counter {
    let labels = WsMessageLabels {
        route: route.to_owned(),
        direction,
    };
    metrics.websocket_messages.get_or_create(&labels).clone()
}

/// Puts the upgrade headers back on a 101 head after hop-by-hop removal.
pub(crate) fn restore_upgrade_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
}

/// True for a response that completes an upgrade.
pub(crate) fn is_switch<B>(resp: &Response<B>) -> bool {
    resp.status() == StatusCode::SWITCHING_PROTOCOLS
}
