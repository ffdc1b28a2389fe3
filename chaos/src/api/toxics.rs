//! `/proxies/{name}/toxics` and `/proxies/{name}/toxics/{toxic}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::{ApiError, Registry};
use crate::{FaultProxy, ToxicError, ToxicSpec};

async fn proxy(registry: &Registry, name: &str) -> Result<FaultProxy, ApiError> {
    registry
        .get(name)
        .await
        .ok_or_else(ApiError::proxy_not_found)
}

pub(super) async fn index(
    State(registry): State<Registry>,
    Path(name): Path<String>,
) -> Result<Json<Vec<ToxicSpec>>, ApiError> {
    Ok(Json(proxy(&registry, &name).await?.toxics()))
}

pub(super) async fn create(
    State(registry): State<Registry>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ToxicSpec>, ApiError> {
    let proxy = proxy(&registry, &name).await?;
    let spec: ToxicSpec = serde_json::from_slice(&body).map_err(ApiError::bad_body)?;
    Ok(Json(proxy.add_toxic(&spec)?))
}

pub(super) async fn show(
    State(registry): State<Registry>,
    Path((name, toxic)): Path<(String, String)>,
) -> Result<Json<ToxicSpec>, ApiError> {
    let proxy = proxy(&registry, &name).await?;
    proxy
        .toxic(&toxic)
        .map(Json)
        .ok_or_else(|| ToxicError::NotFound.into())
}

pub(super) async fn update(
    State(registry): State<Registry>,
    Path((name, toxic)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ToxicSpec>, ApiError> {
    let proxy = proxy(&registry, &name).await?;
    let update: Value = serde_json::from_slice(&body).map_err(ApiError::bad_body)?;
    Ok(Json(proxy.update_toxic(&toxic, &update)?))
}

pub(super) async fn delete(
    State(registry): State<Registry>,
    Path((name, toxic)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    proxy(&registry, &name).await?.remove_toxic(&toxic)?;
    Ok(StatusCode::NO_CONTENT)
}
