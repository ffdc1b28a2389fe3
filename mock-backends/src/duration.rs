//! Serde helpers that read and write durations as human strings (`250ms`, `2s`, `1m 30s`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Longest wait a backend ever adds: injected latency, `/delay`, dribble spread, SSE interval.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(300);

/// Writes a duration as a human string such as `250ms`.
pub(crate) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*value))
}

/// Reads a duration from a human string such as `250ms` or `2s`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// Parses a human duration, with an error message that quotes the input.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration `{text}` ({e}); use e.g. `250ms`, `2s`, `1m`"))
}

/// Refuses a configured wait longer than [`MAX_WAIT`], naming the field.
pub(crate) fn check_wait(field: &str, wait: Duration) -> Result<(), crate::BehaviorError> {
    if wait > MAX_WAIT {
        return Err(crate::BehaviorError::invalid(
            field,
            format!("must be at most {MAX_WAIT:?}, got {wait:?}"),
        ));
    }
    Ok(())
}

/// The same helpers for `Option<Duration>`.
pub(crate) mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some(d)` as a human string and `None` as null.
    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads an optional human duration.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => super::parse(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
