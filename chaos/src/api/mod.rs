//! Toxiproxy's HTTP API (2.x) over a set of fault proxies: the same paths, JSON field names,
//! defaults and status codes, so its curl examples and client libraries work unchanged.

mod error;
mod proxies;
mod toxics;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::header::USER_AGENT;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Mutex;

pub use error::ApiError;
pub use proxies::{ProxyInput, ProxyView};

use crate::FaultProxy;

/// The Toxiproxy release whose API this one matches (answered by `GET /version`).
pub const API_VERSION: &str = "2.12.0";

/// The proxies the API manages, by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    proxies: Arc<Mutex<BTreeMap<String, FaultProxy>>>,
    seed: Option<u64>,
}

impl Registry {
    /// An empty registry; new proxies draw from `seed` when given (reproducible runs).
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            proxies: Arc::default(),
            seed,
        }
    }

    /// The proxy of that name.
    pub async fn get(&self, name: &str) -> Option<FaultProxy> {
        self.proxies.lock().await.get(name).cloned()
    }

    /// Creates or replaces proxies as `POST /populate` does (used by `chaos --config`).
    pub async fn populate(&self, input: Vec<ProxyInput>) -> Result<Vec<ProxyView>, ApiError> {
        proxies::populate(self, input).await
    }
}

/// The API's routes over `registry`.
pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/reset", axum::routing::post(proxies::reset))
        .route("/proxies", get(proxies::index).post(proxies::create))
        .route("/populate", axum::routing::post(proxies::populate_handler))
        .route(
            "/proxies/{proxy}",
            get(proxies::show)
                .post(proxies::update)
                .patch(proxies::update)
                .delete(proxies::delete),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(toxics::index).post(toxics::create),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(toxics::show)
                .post(toxics::update)
                .patch(toxics::update)
                .delete(toxics::delete),
        )
        .route("/version", get(version))
        .route("/metrics", get(proxies::metrics))
        .layer(middleware::from_fn(stop_browsers))
        .with_state(registry)
}

async fn version() -> Response {
    (
        [("content-type", "application/json;charset=utf-8")],
        format!("{{\"version\": \"{API_VERSION}\"}}\n"),
    )
        .into_response()
}

/// Toxiproxy refuses browsers (a page could otherwise drive it by cross-site requests).
async fn stop_browsers(request: Request, next: Next) -> Response {
    let browser = request
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if browser {
        return (
            axum::http::StatusCode::FORBIDDEN,
            "User agent not allowed\n",
        )
            .into_response();
    }
    next.run(request).await
}
