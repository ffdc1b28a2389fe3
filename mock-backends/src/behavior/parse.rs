//! Parsing behaviour from JSON or YAML, and validating it; errors name the offending key.

use std::fmt::Display;

use serde::de::DeserializeOwned;

use super::Behavior;
use crate::duration;

/// Largest `disconnect.after_bytes`: that much of the body is buffered before the cut.
const MAX_AFTER_BYTES: u64 = 64 * 1024 * 1024;

/// Why a behaviour was rejected; the message names the key path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BehaviorError {
    /// The text is not valid JSON/YAML for the model (unknown key, wrong type, bad duration...).
    #[error("invalid behavior {format}: {message}")]
    Parse {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// What is wrong, starting with the key path when known.
        message: String,
    },
    /// The text parsed but a value is out of range.
    #[error("invalid behavior: {field}: {reason}")]
    Invalid {
        /// Key path, e.g. `error.rate`.
        field: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

impl BehaviorError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl Behavior {
    /// Parses and validates a behaviour from JSON.
    pub fn from_json(text: &str) -> Result<Self, BehaviorError> {
        let behavior: Self = json(text).map_err(|message| BehaviorError::Parse {
            format: "JSON",
            message,
        })?;
        behavior.validate()?;
        Ok(behavior)
    }

    /// Parses and validates a behaviour from YAML.
    pub fn from_yaml(text: &str) -> Result<Self, BehaviorError> {
        let behavior: Self = yaml(text).map_err(|message| BehaviorError::Parse {
            format: "YAML",
            message,
        })?;
        behavior.validate()?;
        Ok(behavior)
    }

    /// Parses JSON or YAML: by `content_type` when it names one, else by the first character.
    pub fn from_text(text: &str, content_type: Option<&str>) -> Result<Self, BehaviorError> {
        let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
        if content_type.contains("json") {
            Self::from_json(text)
        } else if content_type.contains("yaml") || content_type.contains("yml") {
            Self::from_yaml(text)
        } else if text.trim_start().starts_with('{') {
            Self::from_json(text)
        } else {
            Self::from_yaml(text)
        }
    }

    /// Checks ranges and combinations that the types alone cannot express.
    pub fn validate(&self) -> Result<(), BehaviorError> {
        if let Some(latency) = &self.latency {
            check_scope("latency", latency.rate, &latency.paths)?;
            latency.distribution.validate("latency.distribution")?;
        }
        if let Some(error) = &self.error {
            check_scope("error", error.rate, &error.paths)?;
            check_status("error.status", error.status)?;
        }
        if let Some(disconnect) = &self.disconnect {
            check_scope("disconnect", disconnect.rate, &disconnect.paths)?;
            if disconnect.after_bytes > MAX_AFTER_BYTES {
                return Err(BehaviorError::invalid(
                    "disconnect.after_bytes",
                    format!(
                        "must be at most {MAX_AFTER_BYTES} (it is buffered), got {}",
                        disconnect.after_bytes
                    ),
                ));
            }
        }
        if let Some(dribble) = &self.dribble {
            check_scope("dribble", dribble.rate, &dribble.paths)?;
            if dribble.chunks == 0 {
                return Err(BehaviorError::invalid(
                    "dribble.chunks",
                    "must be at least 1",
                ));
            }
            duration::check_wait("dribble.over", dribble.over)?;
        }
        check_status("health.status", self.health.status)?;
        if self.sse.interval.is_zero() {
            return Err(BehaviorError::invalid("sse.interval", "must be above zero"));
        }
        duration::check_wait("sse.interval", self.sse.interval)?;
        Ok(())
    }
}

fn check_scope(field: &str, rate: f64, paths: &[String]) -> Result<(), BehaviorError> {
    if !(0.0..=1.0).contains(&rate) {
        return Err(BehaviorError::invalid(
            format!("{field}.rate"),
            format!("must be between 0.0 and 1.0, got {rate}"),
        ));
    }
    if let Some((i, path)) = paths.iter().enumerate().find(|(_, p)| !p.starts_with('/')) {
        return Err(BehaviorError::invalid(
            format!("{field}.paths[{i}]"),
            format!("must start with `/`, got `{path}`"),
        ));
    }
    Ok(())
}

fn check_status(field: &str, status: u16) -> Result<(), BehaviorError> {
    if (200..=599).contains(&status) {
        Ok(())
    } else {
        Err(BehaviorError::invalid(
            field,
            format!("must be a status from 200 to 599, got {status}"),
        ))
    }
}

/// Deserializes JSON; the error message starts with the key path when known.
pub(crate) fn json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| with_path(&e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Deserializes YAML; the error message starts with the key path when known.
pub(crate) fn yaml<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut path = String::new();
    serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| with_path(&path, e))
}

fn with_path(path: &str, error: impl Display) -> String {
    if path.is_empty() || path == "." {
        error.to_string()
    } else {
        format!("{path}: {error}")
    }
}
