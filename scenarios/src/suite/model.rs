//! The serde model of a suite file; `deny_unknown_fields` everywhere, durations as `"5s"`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use loadgen::{Protocol, RequestTemplate, Stage, duration_str, opt_duration};
use mock_backends::Behavior;
use serde::{Deserialize, Serialize};

use crate::checks::CheckSpec;

/// One experiment: topology, load, a fault timeline and the expectations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Short unique name (`--suite NAME`).
    pub name: String,
    /// One or two sentences on what the suite proves.
    #[serde(default)]
    pub description: String,
    /// Seed for the backends' fault sequences (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// The mock fleet.
    pub backends: Backends,
    /// Fault proxies (the chaos crate) on links between client, proxy and backends.
    #[serde(default)]
    pub chaos: Vec<ChaosLink>,
    /// The proxy under test.
    pub proxy: ProxySpec,
    /// Load phases, run one after the other.
    pub load: Load,
    /// Actions at times, measured from the start of the first load phase.
    #[serde(default)]
    pub timeline: Vec<TimedAction>,
    /// One-off requests through the proxy after the load, checked by `probe` checks.
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// The checks; every one must hold for the suite to pass.
    pub expect: Vec<CheckSpec>,
}

/// The mock fleet: `count` backends `b0..`, a shared behaviour and per-backend overrides.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backends {
    /// Number of backends, ids `b0`, `b1`, ...
    pub count: usize,
    /// Behaviour of every backend without an override.
    #[serde(default)]
    pub behavior: Behavior,
    /// Behaviour per backend id.
    #[serde(default)]
    pub overrides: BTreeMap<String, Behavior>,
}

/// A chaos fault proxy placed on a link.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosLink {
    /// Name used by timeline toxic actions.
    pub name: String,
    /// `client->proxy` or `proxy->bN`.
    pub link: String,
    /// Toxics active from the start, in Toxiproxy's shape (`name`, `type`, `stream`,
    /// `toxicity`, `attributes`).
    #[serde(default)]
    pub toxics: Vec<chaos::ToxicSpec>,
}

/// The proxy config: inline YAML or a file; `${backends}` and `${backend.ID}` are filled in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySpec {
    /// Inline proxy config (YAML text).
    #[serde(default)]
    pub config: Option<String>,
    /// Proxy config file, relative to the suite file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// TLS material the runner generates (rcgen, in a temp dir) for `${tls.*}` placeholders.
    #[serde(default)]
    pub tls: Option<TlsMaterial>,
    /// Proxy instances started from the same config (1 to 4; default 1). Phases with
    /// `split: true` spread their load over all of them; everything else goes to the first.
    #[serde(default)]
    pub instances: Option<usize>,
    /// Start a `redis-server` first (on a free port, no persistence) for `${redis}`; the
    /// suite is skipped when redis-server is not installed (unless `RAMPART_REQUIRE_REDIS=1`).
    #[serde(default)]
    pub redis: bool,
}

impl ProxySpec {
    /// How many proxy instances to start.
    pub fn instance_count(&self) -> usize {
        self.instances.unwrap_or(1)
    }
}

/// Certificates the runner generates with rcgen: a CA, one server certificate per name
/// (`${tls.cert.NAME}`, `${tls.key.NAME}`), and optionally a client certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsMaterial {
    /// DNS names; each gets its own server certificate signed by the CA (`${tls.ca}`).
    pub server_names: Vec<String>,
    /// Also generate a client certificate for mTLS (`${tls.client_cert}`, `${tls.client_key}`).
    #[serde(default)]
    pub client_cert: bool,
}

/// TLS for a phase: `https`, trusting the generated CA, with an SNI name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseTls {
    /// SNI and verification name; one of `proxy.tls.server_names`.
    pub server_name: String,
    /// Present the generated client certificate.
    #[serde(default)]
    pub client_cert: bool,
}

/// The load: phases, and whether to measure a direct-to-backend baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Backend the baseline runs against directly (default: the first one).
    #[serde(default)]
    pub baseline_backend: Option<String>,
    /// Phases, in order.
    pub phases: Vec<Phase>,
}

/// One load phase: a loadgen run through the proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Name used by checks (`phase: NAME`).
    pub name: String,
    /// Length (scaled by `--quick`); required unless `stages` set their own.
    #[serde(default, with = "opt_duration")]
    pub duration: Option<Duration>,
    /// Open loop: requests per second.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Open loop in steps or ramps (loadgen stages: `duration`, `rate`, `to_rate`); replaces
    /// `rate` and `duration`; `--quick` scales each stage's duration.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Connections (closed loop: workers; open loop: pool size).
    #[serde(default)]
    pub connections: Option<usize>,
    /// Wire protocol.
    #[serde(default)]
    pub protocol: Protocol,
    /// Path requested when `requests` is empty.
    #[serde(default = "default_path")]
    pub path: String,
    /// Request templates picked by weight.
    #[serde(default)]
    pub requests: Vec<RequestTemplate>,
    /// Per-request timeout.
    #[serde(default, with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Also run this phase directly against a backend first, for relative gates.
    #[serde(default)]
    pub baseline: bool,
    /// Proxy listener (by name) the phase targets; default the first.
    #[serde(default)]
    pub listener: Option<String>,
    /// Speak TLS to the listener (`https`, or h2 over ALPN with `protocol: http2`).
    #[serde(default)]
    pub tls: Option<PhaseTls>,
    /// Local addresses to connect from, one connection each in turn (e.g. `127.0.0.2`).
    #[serde(default)]
    pub source_ips: Vec<IpAddr>,
    /// Run the phase against every proxy instance at once, each at `rate / instances` with
    /// its share of the connections, and merge the reports (`proxy.instances`).
    #[serde(default)]
    pub split: bool,
}

impl Phase {
    /// How long the phase runs: `duration`, or its stages added up.
    pub fn length(&self) -> Duration {
        self.duration
            .unwrap_or_else(|| self.stages.iter().map(|s| s.duration).sum())
    }

    /// Multiplies the phase's duration and every stage's duration by `factor`.
    pub fn scale(&mut self, factor: f64) {
        self.duration = self.duration.map(|d| d.mul_f64(factor));
        for stage in &mut self.stages {
            stage.duration = stage.duration.mul_f64(factor);
        }
    }
}

fn default_path() -> String {
    "/".to_owned()
}

/// An action at a time on the timeline: `at`, optional `name`, and exactly one action key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawTimedAction", into = "RawTimedAction")]
pub struct TimedAction {
    /// When, from the start of the first phase (scaled by `--quick`).
    pub at: Duration,
    /// Name for windows (`after: NAME`); default `action-N`.
    pub name: Option<String>,
    /// What happens.
    pub action: Action,
}

/// The file form of [`TimedAction`]: one optional key per action kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimedAction {
    /// When.
    #[serde(with = "duration_str")]
    pub at: Duration,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replace a backend's behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_behavior: Option<SetBehavior>,
    /// Stop a backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<String>,
    /// Start a killed backend again on the same address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// Rewrite the proxy's config file and `POST /admin/reload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<String>,
    /// With `reload`: the proxy must refuse this config (HTTP 400) and keep serving the old one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expect_refused: bool,
    /// Add a toxic to a chaos link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_toxic: Option<serde_json::Value>,
    /// Remove a toxic from a chaos link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_toxic: Option<serde_json::Value>,
    /// `drain: true`: `POST /admin/drain` (the proxy must answer 202).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drain: bool,
}

/// Arguments of `set_behavior`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBehavior {
    /// Backend id.
    pub backend: String,
    /// The new behaviour.
    pub behavior: Behavior,
}

impl TryFrom<RawTimedAction> for TimedAction {
    type Error = String;

    fn try_from(raw: RawTimedAction) -> Result<Self, String> {
        let mut actions = Vec::new();
        if let Some(s) = raw.set_behavior {
            actions.push(Action::SetBehavior {
                backend: s.backend,
                behavior: Box::new(s.behavior),
            });
        }
        actions.extend(raw.kill.map(Action::Kill));
        actions.extend(raw.restart.map(Action::Restart));
        if raw.expect_refused && raw.reload.is_none() {
            return Err("`expect_refused` goes with `reload`".to_owned());
        }
        actions.extend(raw.reload.map(|config| Action::Reload {
            config,
            expect_refused: raw.expect_refused,
        }));
        actions.extend(raw.add_toxic.map(Action::AddToxic));
        actions.extend(raw.remove_toxic.map(Action::RemoveToxic));
        if raw.drain {
            actions.push(Action::Drain);
        }
        if actions.len() != 1 {
            return Err(format!(
                "a timeline entry needs exactly one of set_behavior, kill, restart, reload, add_toxic, remove_toxic, drain; found {}",
                actions.len()
            ));
        }
        Ok(Self {
            at: raw.at,
            name: raw.name,
            action: actions.remove(0),
        })
    }
}

impl From<TimedAction> for RawTimedAction {
    fn from(t: TimedAction) -> Self {
        let mut raw = RawTimedAction {
            at: t.at,
            name: t.name,
            ..Self::default()
        };
        match t.action {
            Action::SetBehavior { backend, behavior } => {
                raw.set_behavior = Some(SetBehavior {
                    backend,
                    behavior: *behavior,
                })
            }
            Action::Kill(b) => raw.kill = Some(b),
            Action::Restart(b) => raw.restart = Some(b),
            Action::Reload {
                config,
                expect_refused,
            } => {
                raw.reload = Some(config);
                raw.expect_refused = expect_refused;
            }
            Action::AddToxic(v) => raw.add_toxic = Some(v),
            Action::RemoveToxic(v) => raw.remove_toxic = Some(v),
            Action::Drain => raw.drain = true,
        }
        raw
    }
}

/// What a timeline action does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action {
    /// Replace a backend's behaviour.
    SetBehavior {
        /// Backend id.
        backend: String,
        /// The new behaviour.
        behavior: Box<Behavior>,
    },
    /// Stop a backend (its port refuses connections).
    Kill(String),
    /// Start a killed backend again on the same address.
    Restart(String),
    /// Rewrite the proxy's config file (placeholders filled in) and `POST /admin/reload`.
    Reload {
        /// The new config text.
        config: String,
        /// The proxy must answer 400 (config refused) rather than 200.
        expect_refused: bool,
    },
    /// Add a toxic to a chaos link: `{ link, name, type, stream, toxicity, attributes }`;
    /// `type: down` disables the link instead.
    AddToxic(serde_json::Value),
    /// Remove a toxic from a chaos link: `{ link, name }`; `name: down` enables it again.
    RemoveToxic(serde_json::Value),
    /// Start the proxy's drain with `POST /admin/drain`.
    Drain,
}

impl Action {
    /// Short human label, e.g. `kill b1`.
    pub fn label(&self) -> String {
        match self {
            Action::SetBehavior { backend, .. } => format!("set_behavior {backend}"),
            Action::Kill(b) => format!("kill {b}"),
            Action::Restart(b) => format!("restart {b}"),
            Action::Reload {
                expect_refused: false,
                ..
            } => "reload".to_owned(),
            Action::Reload {
                expect_refused: true,
                ..
            } => "reload (expect refused)".to_owned(),
            Action::AddToxic(v) => format!("add_toxic {}", super::chaos::label(v, "type")),
            Action::RemoveToxic(v) => format!("remove_toxic {}", super::chaos::label(v, "name")),
            Action::Drain => "drain".to_owned(),
        }
    }
}

/// A one-off request through the proxy, run after the load: an HTTP request (reqwest), or
/// with `raw` exact bytes on a fresh TCP connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Name referenced by `probe` checks.
    pub name: String,
    /// HTTP method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Path and query (required unless `raw`).
    #[serde(default)]
    pub path: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Exact bytes to send instead of a request built from the fields above (YAML escapes
    /// such as `\r\n` in a double-quoted string); the answer is read until the server closes
    /// or `wait` passes without a byte.
    #[serde(default)]
    pub raw: Option<String>,
    /// Raw probes: how long to wait for more bytes (default 1s).
    #[serde(default, with = "opt_duration")]
    pub wait: Option<Duration>,
    /// Proxy listener (by name); default the first.
    #[serde(default)]
    pub listener: Option<String>,
    /// Local address to connect from (e.g. `127.0.0.2`).
    #[serde(default)]
    pub source_ip: Option<IpAddr>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Request body of this many generated bytes (exclusive with `body`).
    #[serde(default)]
    pub body_bytes: Option<usize>,
    /// How many times to send it.
    #[serde(default = "one")]
    pub repeat: usize,
}

fn default_method() -> String {
    "GET".to_owned()
}

fn one() -> usize {
    1
}
