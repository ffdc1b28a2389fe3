//! The system under test: the mock fleet and the proxy in front of it, all on `127.0.0.1:0`.

use std::net::SocketAddr;
use std::path::Path;

use mock_backends::{BackendConfig, Behavior, MockBackend};
use proxy::{ConfigSource, Proxy, ProxyHandle};

use crate::suite::{Suite, fill_placeholders};

/// One backend slot: its id and address stay fixed across kill/restart.
#[derive(Debug)]
struct Slot {
    id: String,
    addr: SocketAddr,
    behavior: Behavior,
    running: Option<MockBackend>,
}

/// The running fleet and proxy.
#[derive(Debug)]
pub struct Topology {
    slots: Vec<Slot>,
    proxy: Option<ProxyHandle>,
}

/// Why the topology could not start or an action could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// A backend failed to start.
    #[error("backend {id}: {source}")]
    Backend {
        /// Backend id.
        id: String,
        /// The mock-backends error.
        source: mock_backends::Error,
    },
    /// The proxy failed to start or its config is invalid.
    #[error("proxy: {0}")]
    Proxy(String),
    /// An action named a backend that does not exist or is in the wrong state.
    #[error("{0}")]
    Action(String),
}

impl Topology {
    /// Starts the fleet (seeded) and the proxy with the backend addresses filled in.
    pub async fn start(suite: &Suite, proxy_text: &str, seed: u64) -> Result<Self, TopologyError> {
        let mut slots = Vec::new();
        for i in 0..suite.backends.count {
            let id = format!("b{i}");
            let mut behavior = suite
                .backends
                .overrides
                .get(&id)
                .unwrap_or(&suite.backends.behavior)
                .clone();
            behavior.seed = behavior.seed.or(Some(seed.wrapping_add(i as u64)));
            let backend = MockBackend::spawn_with(BackendConfig::new(behavior.clone()).id(&id))
                .await
                .map_err(|source| TopologyError::Backend {
                    id: id.clone(),
                    source,
                })?;
            slots.push(Slot {
                id,
                addr: backend.addr(),
                behavior,
                running: Some(backend),
            });
        }
        let mut topo = Self { slots, proxy: None };
        let text = topo.fill(proxy_text)?;
        let handle = Proxy::start(ConfigSource::Inline(text))
            .await
            .map_err(|e| TopologyError::Proxy(e.to_string()))?;
        topo.proxy = Some(handle);
        Ok(topo)
    }

    /// Fills `${backends}` / `${backend.ID}` with this fleet's addresses.
    pub fn fill(&self, text: &str) -> Result<String, TopologyError> {
        let addrs: Vec<(String, SocketAddr)> =
            self.slots.iter().map(|s| (s.id.clone(), s.addr)).collect();
        fill_placeholders(text, &addrs).map_err(TopologyError::Proxy)
    }

    /// The proxy's first listener.
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy
            .as_ref()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |p| p.first_addr())
    }

    /// A backend's address.
    pub fn backend_addr(&self, id: &str) -> Option<SocketAddr> {
        self.slots.iter().find(|s| s.id == id).map(|s| s.addr)
    }

    /// Backend ids in order.
    pub fn backend_ids(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.id.clone()).collect()
    }

    fn slot(&mut self, id: &str) -> Result<&mut Slot, TopologyError> {
        self.slots
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| TopologyError::Action(format!("no backend `{id}`")))
    }

    /// Replaces a backend's behaviour (kept across a restart).
    pub fn set_behavior(&mut self, id: &str, behavior: Behavior) -> Result<(), TopologyError> {
        let slot = self.slot(id)?;
        if let Some(b) = &slot.running {
            b.set_behavior(behavior.clone())
                .map_err(|e| TopologyError::Action(e.to_string()))?;
        }
        slot.behavior = behavior;
        Ok(())
    }

    /// Stops a backend; its port then refuses connections.
    pub async fn kill(&mut self, id: &str) -> Result<(), TopologyError> {
        let slot = self.slot(id)?;
        let backend = slot
            .running
            .take()
            .ok_or_else(|| TopologyError::Action(format!("backend `{id}` is not running")))?;
        backend.shutdown().await;
        Ok(())
    }

    /// Starts a killed backend again on its old address.
    pub async fn restart(&mut self, id: &str) -> Result<(), TopologyError> {
        let slot = self.slot(id)?;
        if slot.running.is_some() {
            return Err(TopologyError::Action(format!("backend `{id}` is running")));
        }
        let config = BackendConfig::new(slot.behavior.clone())
            .id(&slot.id)
            .bind(slot.addr);
        let backend =
            MockBackend::spawn_with(config)
                .await
                .map_err(|source| TopologyError::Backend {
                    id: id.to_owned(),
                    source,
                })?;
        slot.running = Some(backend);
        Ok(())
    }

    /// Applies a new proxy config (placeholders filled) as a hot reload.
    pub fn reload(&self, text: &str) -> Result<u64, TopologyError> {
        let filled = self.fill(text)?;
        let config = proxy::config::from_yaml_str(&filled)
            .map_err(|e| TopologyError::Proxy(e.to_string()))?;
        let proxy = self
            .proxy
            .as_ref()
            .ok_or_else(|| TopologyError::Proxy("not running".to_owned()))?;
        Ok(proxy.apply(config))
    }

    /// Stops the proxy, then every backend.
    pub async fn shutdown(mut self) {
        if let Some(p) = self.proxy.take() {
            p.shutdown().await;
        }
        for slot in self.slots.drain(..) {
            if let Some(b) = slot.running {
                b.shutdown().await;
            }
        }
    }
}

/// The proxy text of a suite, read relative to `dir`.
pub(super) fn proxy_text(suite: &Suite, dir: &Path) -> Result<String, TopologyError> {
    crate::suite::proxy_text(suite, dir).map_err(TopologyError::Proxy)
}
