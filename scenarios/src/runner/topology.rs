//! The system under test: the mock fleet and the proxy in front of it, all on `127.0.0.1:0`.
//!
//! The proxy reads its config from a temp file, as an operator's proxy would; a reload rewrites
//! that file and asks the proxy's admin endpoint (`POST /admin/reload`) to read it again.
//! Chaos links put a fault proxy (in-process) on a link: `proxy->bN` links replace that
//! backend's address in the proxy config, a `client->proxy` link is where load and probes go.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chaos::{FaultProxy, ToxicSpec};
use mock_backends::redis::RedisServer;
use mock_backends::{BackendConfig, Behavior, MockBackend};
use proxy::{ConfigSource, Proxy, ProxyHandle};

use crate::suite::chaos::{LinkEnd, link_end};
use crate::suite::{ChaosLink, REDIS_PLACEHOLDER, Suite, fill_placeholders};
use crate::tls::TlsFiles;

/// One backend slot: its id and address stay fixed across kill/restart.
#[derive(Debug)]
struct Slot {
    id: String,
    addr: SocketAddr,
    behavior: Behavior,
    running: Option<MockBackend>,
}

/// A fault proxy on a link.
#[derive(Debug)]
struct Link {
    name: String,
    end: LinkEnd,
    proxy: FaultProxy,
}

/// The running fleet and proxy.
#[derive(Debug)]
pub struct Topology {
    slots: Vec<Slot>,
    links: Vec<Link>,
    proxy: Option<ProxyHandle>,
    /// Instances 2.. of `proxy.instances`, on the same config file.
    others: Vec<ProxyHandle>,
    /// The `redis-server` of `proxy.redis`.
    redis: Option<RedisServer>,
    /// Holds the proxy's config file; removed when the topology is dropped.
    config_dir: tempfile::TempDir,
    config_path: PathBuf,
    /// Certificates generated for `proxy.tls` (their temp dir lives as long as this).
    tls: Option<Arc<TlsFiles>>,
}

/// What the proxy's admin endpoint answered to `POST /admin/reload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadAnswer {
    /// HTTP status (200 reloaded, 400 refused).
    pub status: u16,
    /// The response body (JSON from the proxy).
    pub body: String,
}

impl ReloadAnswer {
    /// Whether this answer is what the action wanted: 200 normally, 400 with `expect_refused`.
    pub fn judge(&self, expect_refused: bool) -> Result<(), String> {
        match (self.status, expect_refused) {
            (200, false) | (400, true) => Ok(()),
            (400, false) => Err("the proxy refused the config (HTTP 400)".to_owned()),
            (200, true) => {
                Err("the proxy accepted a config the suite expects it to refuse".to_owned())
            }
            (s, _) => Err(format!("unexpected HTTP {s} from /admin/reload")),
        }
    }
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
    /// A chaos link failed to start or refused a toxic.
    #[error("chaos: {0}")]
    Chaos(String),
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
        let tls = match &suite.proxy.tls {
            Some(material) => Some(Arc::new(
                TlsFiles::generate(material).map_err(TopologyError::Proxy)?,
            )),
            None => None,
        };
        let config_dir = tempfile::tempdir()
            .map_err(|e| TopologyError::Proxy(format!("cannot create a temp dir: {e}")))?;
        let config_path = config_dir.path().join("rampart.yaml");
        let mut links = Vec::new();
        for (i, l) in suite.chaos.iter().enumerate() {
            if let LinkEnd::ProxyBackend(id) = link_end(&l.link).map_err(TopologyError::Chaos)? {
                let addr = slots.iter().find(|s| s.id == id).map(|s| s.addr);
                let addr =
                    addr.ok_or_else(|| TopologyError::Chaos(format!("no backend `{id}`")))?;
                links.push(start_link(l, LinkEnd::ProxyBackend(id), addr, seed, i).await?);
            }
        }
        let redis = if suite.proxy.redis {
            let started = tokio::task::spawn_blocking(RedisServer::start)
                .await
                .map_err(|e| TopologyError::Proxy(format!("redis-server: {e}")))?;
            match started.map_err(TopologyError::Proxy)? {
                Some(r) => Some(r),
                None => return Err(TopologyError::Proxy("redis-server is not installed".into())),
            }
        } else {
            None
        };
        let mut topo = Self {
            slots,
            links,
            proxy: None,
            others: Vec::new(),
            redis,
            config_dir,
            config_path,
            tls,
        };
        let text = topo.fill(proxy_text)?;
        topo.write_config(&text)?;
        let handle = Proxy::start(ConfigSource::File(topo.config_path.clone()))
            .await
            .map_err(|e| TopologyError::Proxy(e.to_string()))?;
        let first = handle.first_addr();
        topo.proxy = Some(handle);
        for _ in 1..suite.proxy.instance_count() {
            let other = Proxy::start(ConfigSource::File(topo.config_path.clone()))
                .await
                .map_err(|e| TopologyError::Proxy(format!("second instance: {e}")))?;
            topo.others.push(other);
        }
        for (i, l) in suite.chaos.iter().enumerate() {
            if link_end(&l.link).map_err(TopologyError::Chaos)? == LinkEnd::ClientProxy {
                topo.links
                    .push(start_link(l, LinkEnd::ClientProxy, first, seed, i).await?);
            }
        }
        Ok(topo)
    }

    /// Fills `${backends}` / `${backend.ID}` with the addresses the proxy should dial: the
    /// backend's, or its chaos link's.
    pub fn fill(&self, text: &str) -> Result<String, TopologyError> {
        let addrs: Vec<(String, SocketAddr)> = self
            .slots
            .iter()
            .map(|s| (s.id.clone(), self.upstream_addr(&s.id).unwrap_or(s.addr)))
            .collect();
        let text = match &self.redis {
            Some(r) => text.replace(REDIS_PLACEHOLDER, &r.url()),
            None => text.to_owned(),
        };
        fill_placeholders(&text, &addrs, self.tls.as_deref()).map_err(TopologyError::Proxy)
    }

    /// The first listener of every proxy instance, the first instance first.
    pub fn instance_addrs(&self) -> Vec<SocketAddr> {
        self.proxy
            .iter()
            .chain(&self.others)
            .map(|p| p.first_addr())
            .collect()
    }

    /// The generated TLS material, if the suite asked for some.
    pub fn tls(&self) -> Option<Arc<TlsFiles>> {
        self.tls.clone()
    }

    /// The address of the proxy listener called `name`, or of the first with `None`.
    pub fn listener_addr(&self, name: Option<&str>) -> Option<SocketAddr> {
        let proxy = self.proxy.as_ref()?;
        match name {
            None => Some(proxy.first_addr()),
            Some(n) => proxy
                .listener_addrs()
                .iter()
                .find(|(l, _)| l == n)
                .map(|(_, a)| *a),
        }
    }

    /// Request counters of every running backend, by id.
    pub fn backend_stats(
        &self,
    ) -> std::collections::BTreeMap<String, mock_backends::StatsSnapshot> {
        self.slots
            .iter()
            .filter_map(|s| Some((s.id.clone(), s.running.as_ref()?.stats())))
            .collect()
    }

    /// Where clients connect: the `client->proxy` chaos link, or the proxy's first listener.
    pub fn proxy_addr(&self) -> SocketAddr {
        if let Some(l) = self.links.iter().find(|l| l.end == LinkEnd::ClientProxy) {
            return l.proxy.addr();
        }
        self.proxy
            .as_ref()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |p| p.first_addr())
    }

    /// The proxy's metrics in Prometheus text (empty before it started).
    pub fn proxy_metrics(&self) -> String {
        self.proxy
            .as_ref()
            .map(|p| p.metrics().encode())
            .unwrap_or_default()
    }

    /// The address the proxy dials for backend `id`: its chaos link's, else the backend's.
    pub fn upstream_addr(&self, id: &str) -> Option<SocketAddr> {
        let linked = self
            .links
            .iter()
            .find(|l| l.end == LinkEnd::ProxyBackend(id.to_owned()));
        linked
            .map(|l| l.proxy.addr())
            .or_else(|| self.backend_addr(id))
    }

    fn link(&self, name: &str) -> Result<&FaultProxy, TopologyError> {
        self.links
            .iter()
            .find(|l| l.name == name)
            .map(|l| &l.proxy)
            .ok_or_else(|| TopologyError::Action(format!("no chaos link `{name}`")))
    }

    /// Adds a toxic to a chaos link; answers its full spec (defaults filled in).
    pub fn add_toxic(&self, link: &str, toxic: &ToxicSpec) -> Result<ToxicSpec, TopologyError> {
        self.link(link)?
            .add_toxic(toxic)
            .map_err(|e| TopologyError::Chaos(e.to_string()))
    }

    /// Removes a toxic from a chaos link.
    pub fn remove_toxic(&self, link: &str, name: &str) -> Result<(), TopologyError> {
        self.link(link)?
            .remove_toxic(name)
            .map_err(|e| TopologyError::Chaos(format!("{name}: {e}")))
    }

    /// Takes a chaos link down (open connections closed, new ones refused) or up again.
    pub async fn set_link_up(&self, link: &str, up: bool) -> Result<(), TopologyError> {
        let proxy = self.link(link)?;
        if up {
            proxy
                .enable()
                .await
                .map_err(|e| TopologyError::Chaos(format!("{link}: {e}")))
        } else {
            proxy.disable().await;
            Ok(())
        }
    }

    /// The proxy's admin listener, if its config has one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.proxy.as_ref().and_then(|p| p.admin_addr())
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

    /// The proxy's config file (what `POST /admin/reload` reads).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Replaces the config file atomically (write a sibling, then rename), so the proxy never
    /// reads half a file.
    fn write_config(&self, text: &str) -> Result<(), TopologyError> {
        let next = self.config_dir.path().join("rampart.yaml.next");
        std::fs::write(&next, text)
            .and_then(|()| std::fs::rename(&next, &self.config_path))
            .map_err(|e| TopologyError::Proxy(format!("cannot write the config file: {e}")))
    }

    /// Hot reload the operator's way: rewrite the config file (placeholders filled), then
    /// `POST /admin/reload` on the proxy's admin address. Returns the admin answer whatever
    /// its status; `Err` only when the request itself could not be made.
    pub async fn reload(&self, text: &str) -> Result<ReloadAnswer, TopologyError> {
        let filled = self.fill(text)?;
        let admin = self
            .proxy
            .as_ref()
            .ok_or_else(|| TopologyError::Proxy("not running".to_owned()))?
            .admin_addr()
            .ok_or_else(|| {
                TopologyError::Action("reload needs `admin` in the proxy config".to_owned())
            })?;
        self.write_config(&filled)?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TopologyError::Action(format!("http client: {e}")))?;
        let resp = client
            .post(format!("http://{admin}/admin/reload"))
            .send()
            .await
            .map_err(|e| TopologyError::Action(format!("POST /admin/reload: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        Ok(ReloadAnswer { status, body })
    }

    /// `POST /admin/drain`: starts the proxy's drain.
    pub async fn drain(&self) -> Result<ReloadAnswer, TopologyError> {
        let admin = self.admin_addr().ok_or_else(|| {
            TopologyError::Action("drain needs `admin` in the proxy config".to_owned())
        })?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TopologyError::Action(format!("http client: {e}")))?;
        let resp = client
            .post(format!("http://{admin}/admin/drain"))
            .send()
            .await
            .map_err(|e| TopologyError::Action(format!("POST /admin/drain: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        Ok(ReloadAnswer { status, body })
    }

    /// Stops the proxy, then every backend.
    pub async fn shutdown(mut self) {
        if let Some(p) = self.proxy.take() {
            p.shutdown().await;
        }
        for p in self.others.drain(..) {
            p.shutdown().await;
        }
        self.redis = None;
        for link in self.links.drain(..) {
            link.proxy.disable().await;
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

/// Starts the fault proxy of link `l` (the `index`-th) in front of `upstream`, with its
/// initial toxics and a seed derived from the run's.
async fn start_link(
    l: &ChaosLink,
    end: LinkEnd,
    upstream: SocketAddr,
    seed: u64,
    index: usize,
) -> Result<Link, TopologyError> {
    let mut options = chaos::Options::new(upstream.to_string());
    options.name = l.name.clone();
    options.seed = Some(seed.wrapping_mul(31).wrapping_add(index as u64));
    let proxy = FaultProxy::start(options)
        .await
        .map_err(|e| TopologyError::Chaos(format!("link `{}`: {e}", l.name)))?;
    for t in &l.toxics {
        proxy
            .add_toxic(t)
            .map_err(|e| TopologyError::Chaos(format!("link `{}`: {e}", l.name)))?;
    }
    Ok(Link {
        name: l.name.clone(),
        end,
        proxy,
    })
}
