//! `FaultProxy`: listens, connects each client to the upstream, and runs both directions
//! through the toxics of the moment.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::counters::{CounterSnapshot, Counters};
use crate::pump::{Outcome, Pump, Shared};
use crate::spec::{self, SpecError, Stream, ToxicSpec};
use crate::toxic::{End, Toxic};

/// How to start a fault proxy.
#[derive(Debug, Clone)]
pub struct Options {
    /// Name (used by the HTTP API and in logs).
    pub name: String,
    /// Address to listen on, `host:port`; port 0 picks a free one.
    pub listen: String,
    /// Address to forward to, `host:port`, resolved per connection.
    pub upstream: String,
    /// Start listening right away.
    pub enabled: bool,
    /// Seed for the toxicity draws and toxic randomness; None picks one at random.
    pub seed: Option<u64>,
}

impl Options {
    /// Listen on `127.0.0.1:0`, forward to `upstream`, enabled, random seed.
    pub fn new(upstream: impl Into<String>) -> Self {
        Self {
            name: "chaos".to_owned(),
            listen: "127.0.0.1:0".to_owned(),
            upstream: upstream.into(),
            enabled: true,
            seed: None,
        }
    }
}

/// Why a toxic change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToxicError {
    /// The description is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A toxic of that name is already on the proxy.
    #[error("toxic already exists")]
    Exists,
    /// No toxic of that name on the proxy.
    #[error("toxic not found")]
    NotFound,
}

/// The toxics of a proxy at one instant, shared with every connection.
#[derive(Debug, Default)]
pub(crate) struct ToxicSet {
    pub(crate) list: Vec<Arc<Installed>>,
}

/// A toxic on a proxy.
#[derive(Debug)]
pub(crate) struct Installed {
    /// New for every add or update, so connections restart its state.
    pub(crate) id: u64,
    pub(crate) spec: ToxicSpec,
    pub(crate) stream: Stream,
    pub(crate) toxic: Arc<dyn Toxic>,
}

#[derive(Debug)]
struct Config {
    listen: String,
    upstream: String,
}

#[derive(Debug)]
struct Running {
    stop: CancellationToken,
    conns: CancellationToken,
    accept: JoinHandle<()>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    config: Mutex<Config>,
    running: tokio::sync::Mutex<Option<Running>>,
    enabled: std::sync::atomic::AtomicBool,
    toxics: watch::Sender<Arc<ToxicSet>>,
    next_id: AtomicU64,
    seed: u64,
    conn_seq: AtomicU64,
    counters: Arc<Counters>,
}

/// A TCP fault proxy; clones share the same proxy.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    inner: Arc<Inner>,
}

impl FaultProxy {
    /// Creates the proxy and, when `options.enabled`, binds its listener.
    pub async fn start(options: Options) -> io::Result<Self> {
        let proxy = Self {
            inner: Arc::new(Inner {
                name: options.name,
                config: Mutex::new(Config {
                    listen: options.listen,
                    upstream: options.upstream,
                }),
                running: tokio::sync::Mutex::new(None),
                enabled: Default::default(),
                toxics: watch::Sender::new(Arc::default()),
                next_id: AtomicU64::new(1),
                seed: options.seed.unwrap_or_else(rand::random),
                conn_seq: AtomicU64::new(0),
                counters: Arc::default(),
            }),
        };
        if options.enabled {
            proxy.enable().await?;
        }
        Ok(proxy)
    }

    /// Listens on `127.0.0.1:0` and forwards to `upstream`.
    pub async fn spawn(upstream: impl Into<String>) -> io::Result<Self> {
        Self::start(Options::new(upstream)).await
    }

    /// The proxy's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The listen address: the bound one once enabled (port 0 resolved), else as configured.
    pub fn listen(&self) -> String {
        self.config().listen.clone()
    }

    /// The bound address, once enabled.
    pub fn addr(&self) -> SocketAddr {
        self.listen()
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Where connections are forwarded.
    pub fn upstream(&self) -> String {
        self.config().upstream.clone()
    }

    /// Whether the proxy accepts connections.
    pub fn enabled(&self) -> bool {
        self.inner.enabled.load(Relaxed)
    }

    /// The counters now.
    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.snapshot()
    }

    fn config(&self) -> MutexGuard<'_, Config> {
        self.inner.config.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts listening (again); a no-op when already enabled.
    pub async fn enable(&self) -> io::Result<()> {
        let mut running = self.inner.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        let listen = self.listen();
        let listener = TcpListener::bind(&listen).await?;
        self.config().listen = listener.local_addr()?.to_string();
        let stop = CancellationToken::new();
        let conns = CancellationToken::new();
        let accept = tokio::spawn(accept_loop(
            self.inner.clone(),
            listener,
            stop.clone(),
            conns.clone(),
        ));
        *running = Some(Running {
            stop,
            conns,
            accept,
        });
        self.inner.enabled.store(true, Relaxed);
        tracing::info!(name = %self.inner.name, listen = %self.listen(), upstream = %self.upstream(), "fault proxy enabled");
        Ok(())
    }

    /// Stops listening (new connections are refused) and closes every open connection.
    pub async fn disable(&self) {
        let mut running = self.inner.running.lock().await;
        if let Some(run) = running.take() {
            run.stop.cancel();
            run.conns.cancel();
            let _ = run.accept.await;
            tracing::info!(name = %self.inner.name, "fault proxy disabled");
        }
        self.inner.enabled.store(false, Relaxed);
    }

    /// Changes the listen and upstream addresses, restarting the listener when either changed
    /// and the proxy is enabled.
    pub async fn reconfigure(&self, listen: &str, upstream: &str) -> io::Result<()> {
        let changed = {
            let c = self.config();
            c.listen != listen || c.upstream != upstream
        };
        if !changed {
            return Ok(());
        }
        let was = self.enabled();
        self.disable().await;
        {
            let mut c = self.config();
            c.listen = listen.to_owned();
            c.upstream = upstream.to_owned();
        }
        if was {
            self.enable().await?;
        }
        Ok(())
    }

    /// The toxics, upstream ones first, each in the order added.
    pub fn toxics(&self) -> Vec<ToxicSpec> {
        let set = self.inner.toxics.borrow().clone();
        let mut out: Vec<ToxicSpec> = Vec::with_capacity(set.list.len());
        for stream in [Stream::Upstream, Stream::Downstream] {
            out.extend(
                set.list
                    .iter()
                    .filter(|t| t.stream == stream)
                    .map(|t| t.spec.clone()),
            );
        }
        out
    }

    /// One toxic by name.
    pub fn toxic(&self, name: &str) -> Option<ToxicSpec> {
        let set = self.inner.toxics.borrow();
        set.list
            .iter()
            .find(|t| t.spec.name == name)
            .map(|t| t.spec.clone())
    }

    /// Adds a toxic; it applies to open connections at once. Answers the full spec.
    pub fn add_toxic(&self, spec: &ToxicSpec) -> Result<ToxicSpec, ToxicError> {
        let built = spec::build(spec)?;
        let mut result = Err(ToxicError::Exists);
        self.inner.toxics.send_if_modified(|set| {
            if set.list.iter().any(|t| t.spec.name == built.spec.name) {
                return false;
            }
            let mut list = set.list.clone();
            list.push(self.install(built.clone()));
            *set = Arc::new(ToxicSet { list });
            result = Ok(built.spec.clone());
            true
        });
        result
    }

    /// Updates a toxic: fields present in `update` (`toxicity`, keys of `attributes`) replace
    /// the old values, the rest is kept. Open connections restart it with the new settings.
    pub fn update_toxic(&self, name: &str, update: &Value) -> Result<ToxicSpec, ToxicError> {
        let old = self.toxic(name).ok_or(ToxicError::NotFound)?;
        let built = spec::build(&spec::merge(&old, update)?)?;
        let mut result = Err(ToxicError::NotFound);
        self.inner.toxics.send_if_modified(|set| {
            let Some(pos) = set.list.iter().position(|t| t.spec.name == name) else {
                return false;
            };
            let mut list = set.list.clone();
            list[pos] = self.install(built.clone());
            *set = Arc::new(ToxicSet { list });
            result = Ok(built.spec.clone());
            true
        });
        result
    }

    /// Removes a toxic; open connections stop applying it at once.
    pub fn remove_toxic(&self, name: &str) -> Result<(), ToxicError> {
        let mut found = false;
        self.inner.toxics.send_if_modified(|set| {
            let before = set.list.len();
            let list: Vec<_> = set
                .list
                .iter()
                .filter(|t| t.spec.name != name)
                .cloned()
                .collect();
            found = list.len() != before;
            if found {
                *set = Arc::new(ToxicSet { list });
            }
            found
        });
        if found {
            Ok(())
        } else {
            Err(ToxicError::NotFound)
        }
    }

    /// Removes every toxic.
    pub fn reset_toxics(&self) {
        self.inner.toxics.send_if_modified(|set| {
            let had = !set.list.is_empty();
            *set = Arc::default();
            had
        });
    }

    fn install(&self, built: spec::Built) -> Arc<Installed> {
        Arc::new(Installed {
            id: self.inner.next_id.fetch_add(1, Relaxed),
            spec: built.spec,
            stream: built.stream,
            toxic: built.toxic,
        })
    }
}

async fn accept_loop(
    inner: Arc<Inner>,
    listener: TcpListener,
    stop: CancellationToken,
    conns: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, _)) => {
                tokio::spawn(connection(inner.clone(), client, conns.child_token()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Decrements the active-connection gauge when the connection ends.
struct ActiveGuard(Arc<Counters>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Relaxed);
    }
}

async fn connection(inner: Arc<Inner>, client: TcpStream, token: CancellationToken) {
    let counters = inner.counters.clone();
    counters.accepted.fetch_add(1, Relaxed);
    counters.active.fetch_add(1, Relaxed);
    let _guard = ActiveGuard(counters.clone());
    let upstream = inner
        .config
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .upstream
        .clone();
    let server = tokio::select! {
        () = token.cancelled() => return,
        server = TcpStream::connect(&upstream) => server,
    };
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            counters.upstream_errors.fetch_add(1, Relaxed);
            tracing::debug!(error = %e, upstream, "upstream connect failed");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let seq = inner.conn_seq.fetch_add(1, Relaxed);
    let mut rng = SmallRng::seed_from_u64(inner.seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let (reply_tx, reply_rx) = mpsc::channel(4);
    let mut up = Pump {
        stream: Stream::Upstream,
        src: client_read,
        dst: server_write,
        toxics: inner.toxics.subscribe(),
        rng: SmallRng::from_rng(&mut rng),
        reply_tx: Some(reply_tx),
        reply_rx: None,
    };
    let mut down = Pump {
        stream: Stream::Downstream,
        src: server_read,
        dst: client_write,
        toxics: inner.toxics.subscribe(),
        rng: SmallRng::from_rng(&mut rng),
        reply_tx: None,
        reply_rx: Some(reply_rx),
    };
    let shared = Shared {
        token,
        turn: AtomicU8::new(0),
        counters: counters.clone(),
    };
    let (a, b) = tokio::join!(run(&mut up, &shared), run(&mut down, &shared));
    let ended = [a, b].into_iter().find_map(|o| match o {
        Outcome::Ended(end) => Some(end),
        _ => None,
    });
    match ended {
        Some(End::Reset) => {
            counters.reset_by_toxic.fetch_add(1, Relaxed);
            // Whole sockets, so no half sends a FIN on drop; linger 0 makes the close a RST.
            let sockets = [up.src.reunite(down.dst), down.src.reunite(up.dst)];
            for socket in sockets.iter().flatten() {
                let _ = socket2::SockRef::from(socket).set_linger(Some(std::time::Duration::ZERO));
            }
        }
        Some(End::Close) => {
            counters.closed_by_toxic.fetch_add(1, Relaxed);
        }
        None => {}
    }
}

/// Runs one direction; anything but a clean EOF stops the other direction too.
async fn run(pump: &mut Pump, shared: &Shared) -> Outcome {
    let outcome = pump.run(shared).await;
    if outcome != Outcome::Eof {
        shared.token.cancel();
    }
    outcome
}
