//! `MockFleet`: several backends started together, from a count or a fleet description.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Index;

use serde::{Deserialize, Serialize};

use crate::behavior::Behavior;
use crate::behavior::parse::{json, yaml};
use crate::error::Error;
use crate::server::{BackendConfig, MockBackend};

/// Describes a fleet: either `count` identical backends or an explicit `backends` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// Address every backend binds.
    pub host: IpAddr,
    /// Port of the first backend; backend `i` gets `base_port + i`. 0 picks free ports.
    pub base_port: u16,
    /// Number of backends when `backends` is empty (ids `b0`, `b1`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Behaviour of every backend that does not set its own.
    pub behavior: Behavior,
    /// Backends one by one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendSpec>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 0,
            count: None,
            behavior: Behavior::default(),
            backends: Vec::new(),
        }
    }
}

/// One backend in a [`FleetConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendSpec {
    /// Id; `b{index}` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Port; `base_port + index` (or a free one) when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Behaviour; the fleet's `behavior` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<Behavior>,
}

impl FleetConfig {
    /// `count` backends on `127.0.0.1` with free ports, all behaving the same.
    pub fn count(count: usize, behavior: Behavior) -> Self {
        Self {
            count: Some(count),
            behavior,
            ..Self::default()
        }
    }

    /// Parses a fleet description from YAML (JSON is YAML too).
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        yaml(text).map_err(Error::Fleet)
    }

    /// Parses a fleet description from JSON.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        json(text).map_err(Error::Fleet)
    }

    /// The per-backend configs this describes, validated.
    pub fn backend_configs(&self) -> Result<Vec<BackendConfig>, Error> {
        let specs = match (self.count, self.backends.len()) {
            (Some(count), 0) => vec![BackendSpec::default(); count],
            (None, 0) => vec![BackendSpec::default()],
            (None, _) => self.backends.clone(),
            (Some(count), listed) if count == listed => self.backends.clone(),
            (Some(count), listed) => {
                return Err(Error::Fleet(format!(
                    "count: {count} does not match the {listed} entries of backends; drop one of them"
                )));
            }
        };
        let mut seen = HashSet::new();
        let mut configs = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            let id = spec.id.unwrap_or_else(|| format!("b{index}"));
            if !seen.insert(id.clone()) {
                return Err(Error::Fleet(format!(
                    "backends[{index}].id: `{id}` is used twice"
                )));
            }
            let port = match (spec.port, self.base_port) {
                (Some(port), _) => port,
                (None, 0) => 0,
                (None, base) => u16::try_from(usize::from(base) + index).map_err(|_| {
                    Error::Fleet(format!("base_port: {base} + {index} is past port 65535"))
                })?,
            };
            let behavior = spec.behavior.unwrap_or_else(|| self.behavior.clone());
            behavior
                .validate()
                .map_err(|e| Error::Fleet(format!("backends[{index}] ({id}): {e}")))?;
            configs.push(BackendConfig {
                id,
                bind: SocketAddr::new(self.host, port),
                behavior,
            });
        }
        Ok(configs)
    }
}

/// Several running backends; dropping the fleet stops them all.
#[derive(Debug)]
pub struct MockFleet {
    backends: Vec<MockBackend>,
}

impl MockFleet {
    /// Starts `count` backends `b0..` on `127.0.0.1` with free ports.
    pub async fn spawn(count: usize, behavior: Behavior) -> Result<Self, Error> {
        Self::from_config(&FleetConfig::count(count, behavior)).await
    }

    /// Starts the backends a fleet description lists.
    pub async fn from_config(config: &FleetConfig) -> Result<Self, Error> {
        let mut backends = Vec::new();
        for backend in config.backend_configs()? {
            backends.push(MockBackend::spawn_with(backend).await?);
        }
        Ok(Self { backends })
    }

    /// The backends, in order.
    pub fn backends(&self) -> &[MockBackend] {
        &self.backends
    }

    /// The backend at `index` (in start order), or `None` past the end.
    pub fn backend(&self, index: usize) -> Option<&MockBackend> {
        self.backends.get(index)
    }

    /// The backend with this id.
    pub fn get(&self, id: &str) -> Option<&MockBackend> {
        self.backends.iter().find(|b| b.id() == id)
    }

    /// Every backend's address, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.backends.iter().map(MockBackend::addr).collect()
    }

    /// Number of backends.
    pub fn len(&self) -> usize {
        self.backends.len()
    }

    /// True when the fleet has no backends.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// Stops every backend and waits for them.
    pub async fn shutdown(self) {
        for backend in self.backends {
            backend.shutdown().await;
        }
    }
}

/// `fleet[i]`: the backend at `i`, for tests that know the fleet's size.
///
/// # Panics
///
/// When `index >= fleet.len()`; use [`MockFleet::backend`] to get an `Option` instead.
impl Index<usize> for MockFleet {
    type Output = MockBackend;

    fn index(&self, index: usize) -> &MockBackend {
        match self.backends.get(index) {
            Some(backend) => backend,
            None => panic!(
                "MockFleet index {index} out of range: the fleet has {} backends",
                self.backends.len()
            ),
        }
    }
}
