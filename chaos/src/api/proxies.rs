//! `/proxies`, `/proxies/{name}`, `/populate`, `/reset` and `/metrics`.

use std::fmt::Write as _;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, Registry};
use crate::{FaultProxy, Options, ToxicSpec};

/// A proxy as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyView {
    /// Name.
    pub name: String,
    /// Listen address (the bound one once enabled).
    pub listen: String,
    /// Upstream address.
    pub upstream: String,
    /// Whether it accepts connections.
    pub enabled: bool,
    /// Its toxics.
    pub toxics: Vec<ToxicSpec>,
}

impl ProxyView {
    fn of(proxy: &FaultProxy) -> Self {
        Self {
            name: proxy.name().to_owned(),
            listen: proxy.listen(),
            upstream: proxy.upstream(),
            enabled: proxy.enabled(),
            toxics: proxy.toxics(),
        }
    }
}

/// A proxy as a request body (create, update, populate) describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxyInput {
    /// Name, required.
    pub name: String,
    /// Listen address; empty means `127.0.0.1:0`.
    pub listen: String,
    /// Upstream address, required.
    pub upstream: String,
    /// Enabled; absent means true.
    pub enabled: Option<bool>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(ApiError::bad_body)
}

fn listen_or_default(listen: &str) -> String {
    if listen.is_empty() {
        "127.0.0.1:0".to_owned()
    } else {
        listen.to_owned()
    }
}

async fn start(registry: &Registry, input: &ProxyInput) -> Result<FaultProxy, ApiError> {
    FaultProxy::start(Options {
        name: input.name.clone(),
        listen: listen_or_default(&input.listen),
        upstream: input.upstream.clone(),
        enabled: input.enabled.unwrap_or(true),
        seed: registry.seed,
    })
    .await
    .map_err(|e| {
        ApiError::new(
            format!("listen tcp {}: {e}", listen_or_default(&input.listen)),
            500,
        )
    })
}

pub(super) async fn index(State(registry): State<Registry>) -> Json<Value> {
    let proxies = registry.proxies.lock().await;
    let map: serde_json::Map<String, Value> = proxies
        .iter()
        .map(|(name, p)| {
            (
                name.clone(),
                serde_json::to_value(ProxyView::of(p)).unwrap_or_default(),
            )
        })
        .collect();
    Json(Value::Object(map))
}

pub(super) async fn create(
    State(registry): State<Registry>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: ProxyInput = parse(&body)?;
    if input.name.is_empty() {
        return Err(ApiError::missing("name"));
    }
    if input.upstream.is_empty() {
        return Err(ApiError::missing("upstream"));
    }
    let mut proxies = registry.proxies.lock().await;
    if proxies.contains_key(&input.name) {
        return Err(ApiError::new("proxy already exists", 409));
    }
    let proxy = start(&registry, &input).await?;
    let view = ProxyView::of(&proxy);
    proxies.insert(input.name, proxy);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(super) async fn show(
    State(registry): State<Registry>,
    Path(name): Path<String>,
) -> Result<Json<ProxyView>, ApiError> {
    let proxy = registry
        .get(&name)
        .await
        .ok_or_else(ApiError::proxy_not_found)?;
    Ok(Json(ProxyView::of(&proxy)))
}

pub(super) async fn update(
    State(registry): State<Registry>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ProxyView>, ApiError> {
    let proxy = registry
        .get(&name)
        .await
        .ok_or_else(ApiError::proxy_not_found)?;
    let defaults = ProxyInput {
        name: name.clone(),
        listen: proxy.listen(),
        upstream: proxy.upstream(),
        enabled: Some(proxy.enabled()),
    };
    let mut merged = serde_json::to_value(&defaults).map_err(ApiError::bad_body)?;
    let patch: Value = parse(&body)?;
    if let (Value::Object(m), Value::Object(p)) = (&mut merged, patch) {
        m.extend(p);
    }
    let input: ProxyInput = serde_json::from_value(merged).map_err(ApiError::bad_body)?;
    let io = |e: std::io::Error| ApiError::new(e.to_string(), 500);
    proxy
        .reconfigure(&listen_or_default(&input.listen), &input.upstream)
        .await
        .map_err(io)?;
    match input.enabled {
        Some(true) => proxy.enable().await.map_err(io)?,
        Some(false) => proxy.disable().await,
        None => {}
    }
    Ok(Json(ProxyView::of(&proxy)))
}

pub(super) async fn delete(
    State(registry): State<Registry>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let proxy = registry.proxies.lock().await.remove(&name);
    let proxy = proxy.ok_or_else(ApiError::proxy_not_found)?;
    proxy.disable().await;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn reset(State(registry): State<Registry>) -> Result<StatusCode, ApiError> {
    let proxies: Vec<FaultProxy> = registry.proxies.lock().await.values().cloned().collect();
    for proxy in proxies {
        proxy
            .enable()
            .await
            .map_err(|e| ApiError::new(e.to_string(), 500))?;
        proxy.reset_toxics();
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn populate_handler(
    State(registry): State<Registry>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: Vec<ProxyInput> = parse(&body)?;
    let proxies = populate(&registry, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "proxies": proxies })),
    )
        .into_response())
}

/// Validates every entry first, then adds each proxy or replaces one whose listen or upstream
/// address differs; an identical one is kept as it is.
pub(super) async fn populate(
    registry: &Registry,
    input: Vec<ProxyInput>,
) -> Result<Vec<ProxyView>, ApiError> {
    for (i, p) in input.iter().enumerate() {
        if p.name.is_empty() {
            return Err(ApiError::missing(&format!("name at proxy {}", i + 1)));
        }
        if p.upstream.is_empty() {
            return Err(ApiError::missing(&format!("upstream at proxy {}", i + 1)));
        }
        if input[..i].iter().any(|q| q.name == p.name) {
            return Err(ApiError::new(
                format!("duplicate proxy name \"{}\"", p.name),
                500,
            ));
        }
    }
    let mut proxies = registry.proxies.lock().await;
    let mut out = Vec::with_capacity(input.len());
    for p in input {
        if let Some(old) = proxies.get(&p.name) {
            if old.listen() == listen_or_default(&p.listen) && old.upstream() == p.upstream {
                out.push(ProxyView::of(old));
                continue;
            }
            old.disable().await;
            proxies.remove(&p.name);
        }
        let proxy = start(registry, &p).await?;
        out.push(ProxyView::of(&proxy));
        proxies.insert(p.name, proxy);
    }
    Ok(out)
}

/// One metric: name, Prometheus type, and how to read it from the counters.
type Row = (
    &'static str,
    &'static str,
    fn(&crate::CounterSnapshot) -> u64,
);

pub(super) async fn metrics(State(registry): State<Registry>) -> Response {
    let proxies = registry.proxies.lock().await;
    let mut text = String::new();
    let rows: [Row; 8] = [
        ("chaos_connections_accepted_total", "counter", |c| {
            c.connections_accepted
        }),
        ("chaos_connections_active", "gauge", |c| {
            c.connections_active
        }),
        ("chaos_upstream_connect_errors_total", "counter", |c| {
            c.upstream_connect_errors
        }),
        ("chaos_received_bytes_upstream_total", "counter", |c| {
            c.bytes_upstream
        }),
        ("chaos_received_bytes_downstream_total", "counter", |c| {
            c.bytes_downstream
        }),
        ("chaos_closed_by_toxic_total", "counter", |c| {
            c.closed_by_toxic
        }),
        ("chaos_reset_by_toxic_total", "counter", |c| {
            c.reset_by_toxic
        }),
        ("chaos_http_answers_total", "counter", |c| c.http_answers),
    ];
    for (metric, kind, get) in rows {
        let _ = writeln!(text, "# TYPE {metric} {kind}");
        for (name, proxy) in proxies.iter() {
            let _ = writeln!(
                text,
                "{metric}{{proxy=\"{name}\"}} {}",
                get(&proxy.counters())
            );
        }
    }
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}
