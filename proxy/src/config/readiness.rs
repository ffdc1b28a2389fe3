//! Readiness and drain start as written and validated: `server.drain_delay` and
//! `server.readiness`.

use super::error::Issues;
use super::units::Dur;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest `server.drain_delay` accepted: longer would outlast any orchestrator's grace.
pub const DRAIN_DELAY_MAX: Duration = Duration::from_secs(300);

/// `server.readiness` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReadiness {
    /// `/readyz` answers 503 while no upstream has a healthy backend.
    #[serde(default)]
    pub require_healthy_backend: bool,
}

/// What `/readyz` requires besides "not draining".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadinessConfig {
    /// Unready while no upstream has a healthy backend.
    pub require_healthy_backend: bool,
}

impl From<&RawReadiness> for ReadinessConfig {
    fn from(raw: &RawReadiness) -> Self {
        Self {
            require_healthy_backend: raw.require_healthy_backend,
        }
    }
}

/// Validates `server.drain_delay`: at most [`DRAIN_DELAY_MAX`].
pub(crate) fn drain_delay(raw: Dur, issues: &mut Issues) -> Duration {
    if raw.0 > DRAIN_DELAY_MAX {
        issues.push(
            "server.drain_delay",
            format!(
                "{:?} is longer than the {DRAIN_DELAY_MAX:?} allowed; a few seconds (the time a \
                 load balancer takes to notice /readyz) is what it is for",
                raw.0
            ),
        );
        return DRAIN_DELAY_MAX;
    }
    raw.0
}

#[cfg(test)]
mod tests {
    use crate::config::from_yaml_str;
    use std::time::Duration;

    const BASE: &str = r#"
listeners: [{ name: http, bind: "127.0.0.1:0" }]
upstreams: { api: { backends: [{ address: "127.0.0.1:9001" }] } }
routes: [{ upstream: api }]
"#;

    #[test]
    fn defaults_are_no_delay_and_no_backend_requirement() {
        let c = from_yaml_str(BASE).unwrap();
        assert_eq!(c.server.drain_delay, Duration::ZERO);
        assert!(!c.server.readiness.require_healthy_backend);
    }

    #[test]
    fn drain_delay_and_readiness_are_read() {
        let yaml = format!(
            "{BASE}server: {{ drain_delay: 3s, readiness: {{ require_healthy_backend: true }} }}\n"
        );
        let c = from_yaml_str(&yaml).unwrap();
        assert_eq!(c.server.drain_delay, Duration::from_secs(3));
        assert!(c.server.readiness.require_healthy_backend);
    }

    #[test]
    fn a_drain_delay_over_the_bound_names_the_key() {
        let yaml = format!("{BASE}server: {{ drain_delay: 1h }}\n");
        let e = from_yaml_str(&yaml).unwrap_err();
        assert!(
            e.issues.iter().any(|i| i.path == "server.drain_delay"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_readiness_key_is_refused() {
        let yaml = format!("{BASE}server: {{ readiness: {{ healthy: true }} }}\n");
        assert!(from_yaml_str(&yaml).is_err());
    }
}
