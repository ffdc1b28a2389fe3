//! The API's error body, `{"error": "...", "status": N}`, as Toxiproxy writes it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::{SpecError, ToxicError};

/// An API error: message and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}")]
pub struct ApiError {
    /// What went wrong.
    pub error: String,
    /// The HTTP status.
    pub status: u16,
}

impl ApiError {
    /// An error with this message and status.
    pub fn new(error: impl Into<String>, status: u16) -> Self {
        Self {
            error: error.into(),
            status,
        }
    }

    pub(crate) fn bad_body(e: impl std::fmt::Display) -> Self {
        Self::new(format!("bad request body: {e}"), 400)
    }

    pub(crate) fn missing(field: &str) -> Self {
        Self::new(format!("missing required field: {field}"), 400)
    }

    pub(crate) fn proxy_not_found() -> Self {
        Self::new("proxy not found", 404)
    }
}

impl From<ToxicError> for ApiError {
    fn from(e: ToxicError) -> Self {
        let status = match &e {
            ToxicError::Spec(SpecError::InvalidStream | SpecError::InvalidType) => 400,
            ToxicError::Spec(_) => 400,
            ToxicError::Exists => 409,
            ToxicError::NotFound => 404,
        };
        Self::new(e.to_string(), status)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_default();
        (status, [("content-type", "application/json")], body + "\n").into_response()
    }
}
