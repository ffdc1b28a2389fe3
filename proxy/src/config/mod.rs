//! Configuration: the YAML model, loading (file + `RAMPART_*` environment) and validation.
//!
//! The pipeline is file → [`RawConfig`] (serde, unknown keys refused) → [`Config`] (typed,
//! validated). Every error names the key path and what to change.

mod access;
mod breaker;
mod error;
mod fallback;
mod health_check;
mod lb;
mod model;
mod outcomes;
mod rate_store;
mod raw;
mod readiness;
mod retry;
mod sse;
mod streams;
mod tls;
mod units;
mod validate;
mod validation;

pub use access::{RateKey, RateLimitConfig, RatePeriod, RawIpFilter, RawOnDeny, RawRateLimit};
pub use breaker::{BreakerConfig, RawCircuitBreaker, RawSlidingWindow, WindowKind};
pub use error::{ConfigError, Issue};
pub use fallback::{FallbackConfig, RawFallback, StaticFallback};
pub use health_check::{HealthCheckConfig, RawHealthCheck};
pub use model::*;
pub use outcomes::{OutcomeItem, OutcomeSet};
pub use rate_store::{RedisUrl, StoreConfig, parse_url as parse_redis_url};
pub use raw::*;
pub use readiness::{DRAIN_DELAY_MAX, RawReadiness, ReadinessConfig};
pub use retry::{BudgetConfig, RawBackoff, RawBudget, RawRetries, RetryConfig};
pub use sse::{RawSseFailover, SseFailoverConfig};
pub use streams::{RawWebsocket, RawWebsocketSettings, WebsocketConfig};
pub use tls::{
    Http2Config, ListenerTls, RawCertificate, RawClientCert, RawHttp2, RawListenerTls,
    RawUpstreamTls, SUBJECT_HEADER_DEFAULT, UpstreamTls,
};
pub use units::{Dur, Size};
pub use validate::validate;
pub use validation::{AllowedMethods, MinBodyRate, RawMinBodyRate};

use figment::Figment;
use figment::providers::{Env, Format};
use figment::value::Value;
use serde_saphyr::figment::Yaml;
use std::path::{Path, PathBuf};

/// Where a config comes from, so a reload can read it again.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A YAML file, with `RAMPART_*` environment overrides.
    File(PathBuf),
    /// YAML text held in memory (embedded use and tests); no environment overrides.
    Inline(String),
}

impl ConfigSource {
    /// Loads and validates the config from this source.
    pub fn load(&self) -> Result<Config, ConfigError> {
        match self {
            ConfigSource::File(path) => load_file(path),
            ConfigSource::Inline(text) => from_yaml_str(text),
        }
    }
}

/// Top-level sections an environment variable may override.
const SECTIONS: [&str; 7] = [
    "listeners",
    "admin",
    "upstreams",
    "routes",
    "server",
    "headers",
    "logging",
];

/// Loads a YAML file, applies `RAMPART_SECTION__KEY=value` overrides and validates.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError::one(
            "",
            format!("config file {} not found or not a file", path.display()),
        ));
    }
    let env = Env::prefixed("RAMPART_").split("__").filter(|key| {
        let section = key.as_str().split('.').next().unwrap_or_default();
        SECTIONS.iter().any(|s| s.eq_ignore_ascii_case(section))
    });
    extract(Figment::new().merge(Yaml::file(path)).merge(env))
}

/// Parses and validates YAML text.
pub fn from_yaml_str(text: &str) -> Result<Config, ConfigError> {
    extract(Figment::new().merge(Yaml::string(text)))
}

fn extract(figment: Figment) -> Result<Config, ConfigError> {
    let value: Value = figment.extract().map_err(|e| {
        let msg = e.to_string();
        ConfigError::one("", format!("cannot read config: {msg}"))
    })?;
    let raw: RawConfig = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ConfigError::one(path, e.into_inner().to_string())
    })?;
    validate(raw)
}

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
