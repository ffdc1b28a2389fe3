//! Small endpoints: `/healthz`, `/status/{code}`, `/delay/{duration}`.

use std::time::Duration;

use http::{Response, StatusCode};

use crate::behavior::{Health, HealthState};
use crate::body::{self, Body};
use crate::duration;

/// Longest delay `/delay/{duration}` accepts.
const MAX_DELAY: Duration = duration::MAX_WAIT;

/// `/healthz`: 200, the failing status, or no answer, as the behaviour says.
pub(crate) async fn health(health: &Health, id: &str) -> Response<Body> {
    match health.state {
        HealthState::Healthy => body::json(
            StatusCode::OK,
            &serde_json::json!({ "status": "ok", "backend": id }),
        ),
        HealthState::Failing => body::json(
            StatusCode::from_u16(health.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            &serde_json::json!({ "status": "failing", "backend": id }),
        ),
        HealthState::Hang => std::future::pending().await,
    }
}

/// `/status/{code}`: answers with that status.
pub(crate) fn status(code: &str, id: &str) -> Response<Body> {
    match code
        .parse::<u16>()
        .ok()
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
    {
        Some(status) => body::json(
            status,
            &serde_json::json!({ "status": status.as_u16(), "backend": id }),
        ),
        None => body::error(
            StatusCode::BAD_REQUEST,
            format!("`/status/{{code}}` needs a code from 200 to 599, got `{code}`"),
        ),
    }
}

/// Parses the `{duration}` of `/delay/{duration}` (`250ms`, `2s`; a bare number is milliseconds).
pub(crate) fn parse_delay(text: &str) -> Result<Duration, String> {
    let delay = match text.parse::<u64>() {
        Ok(millis) => Duration::from_millis(millis),
        Err(_) => duration::parse(text)?,
    };
    if delay > MAX_DELAY {
        return Err(format!(
            "delay {text} is longer than the maximum of {MAX_DELAY:?}"
        ));
    }
    Ok(delay)
}
