//! Test support: a small config around the keys under test.

use super::{Config, ConfigError, from_yaml_str};

/// A config whose upstream `api` (one backend) has `keys` added, next to a plain upstream
/// `spare` (for keys that refer to another upstream).
pub(super) fn with_api(keys: &str) -> Result<Config, ConfigError> {
    from_yaml_str(&format!(
        r#"
listeners: [{{ name: http, bind: "127.0.0.1:0" }}]
upstreams:
  api:
    backends: [{{ address: "127.0.0.1:9001" }}]
    {keys}
  spare:
    backends: [{{ address: "127.0.0.1:9002" }}]
routes: [{{ upstream: api }}]
"#
    ))
}
