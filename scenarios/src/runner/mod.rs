//! Running a suite: start the topology, measure baselines, drive the phases while the timeline
//! injects faults, send the probes, tear down, then evaluate every check.

mod breaker_watch;
mod load;
mod probe;
mod raw_probe;
mod readyz_watch;
mod sampling;
mod timeline;
mod topology;

pub use load::{merge_series, run_phase, spec_for};
pub use topology::{ReloadAnswer, Topology, TopologyError};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use crate::checks::{CheckSpec, Outcome};
use crate::data::{PhaseData, RunData};
use crate::progress::Progress;
use crate::suite::LoadedSuite;

/// Time factor of `--quick`: every duration and time in a suite is multiplied by it.
pub const QUICK_SCALE: f64 = 0.5;

/// How long the breaker watcher may outlive the load's planned length.
const WATCH_SLACK: Duration = Duration::from_secs(30);

/// How to run suites.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Overrides every suite's seed.
    pub seed: Option<u64>,
    /// Multiplies every duration and time (1.0 normal, [`QUICK_SCALE`] for `--quick`).
    pub time_scale: f64,
    /// Terminal progress.
    pub progress: Progress,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: None,
            time_scale: 1.0,
            progress: Progress::Quiet,
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Kind, name and scope, e.g. `error_rate [after reload for 3s]`.
    pub label: String,
    /// The verdict.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// One suite's result.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    /// Suite name.
    pub name: String,
    /// Suite description.
    pub description: String,
    /// Wall time of the run, seconds.
    pub elapsed_s: f64,
    /// Set when the suite could not run at all (every check then counts as failed).
    pub error: Option<String>,
    /// Set when the suite was not run because something it needs is not installed (e.g.
    /// `redis-server`); it then counts as passed, and reports say `SKIPPED` and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Check verdicts, in file order.
    pub checks: Vec<CheckResult>,
    /// What was measured.
    pub data: RunData,
}

impl SuiteResult {
    /// True when the suite ran and every check held.
    pub fn passed(&self) -> bool {
        self.skipped.is_some()
            || (self.error.is_none() && self.checks.iter().all(|c| c.outcome.passed))
    }
}

/// Runs one suite to the end and evaluates its checks.
pub async fn run_suite(loaded: &LoadedSuite, config: &RunConfig) -> SuiteResult {
    let mut suite = loaded.suite.clone();
    suite.scale_time(config.time_scale);
    let started = Instant::now();
    let progress = &config.progress;
    progress.stage(&format!("suite {}", suite.name));
    if let Some(why) = missing_prerequisite(&suite) {
        progress.note(&format!("SKIPPED {}: {why}", suite.name));
        return SuiteResult {
            name: suite.name.clone(),
            description: suite.description.clone(),
            elapsed_s: 0.0,
            error: None,
            skipped: Some(why),
            checks: Vec::new(),
            data: RunData::default(),
        };
    }
    let (data, error) = match measure(loaded, &suite, config).await {
        Ok(data) => (data, None),
        Err((data, e)) => (data, Some(e)),
    };
    let mut checks: Vec<CheckResult> = suite
        .expect
        .iter()
        .map(|c| CheckResult {
            label: c.label(),
            outcome: match &error {
                Some(e) => Outcome::missing("", format!("suite did not run: {e}")),
                None => c.check().evaluate(&data),
            },
        })
        .collect();
    let failed_actions: Vec<String> = data
        .actions
        .iter()
        .filter_map(|a| a.error.as_ref().map(|e| format!("{}: {e}", a.label)))
        .collect();
    if !suite.timeline.is_empty() {
        checks.push(CheckResult {
            label: "timeline".to_owned(),
            outcome: Outcome::new(
                failed_actions.is_empty() && data.actions.len() == suite.timeline.len(),
                format!("{} actions applied", suite.timeline.len()),
                if failed_actions.is_empty() {
                    format!("{} applied", data.actions.len())
                } else {
                    failed_actions.join("; ")
                },
            ),
        });
    }
    // Keep labels unique for JUnit.
    for i in 1..checks.len() {
        let n = checks[..i]
            .iter()
            .filter(|c| c.label == checks[i].label)
            .count();
        if n > 0 {
            checks[i].label = format!("{} #{}", checks[i].label, n + 1);
        }
    }
    let result = SuiteResult {
        name: suite.name.clone(),
        description: suite.description.clone(),
        elapsed_s: started.elapsed().as_secs_f64(),
        error,
        skipped: None,
        checks,
        data,
    };
    let verdict = if result.passed() { "PASS" } else { "FAIL" };
    progress.note(&format!(
        "{verdict} {} ({:.1}s)",
        result.name, result.elapsed_s
    ));
    result
}

/// Why the suite cannot run here, if a program it needs is missing (and not required).
fn missing_prerequisite(suite: &crate::suite::Suite) -> Option<String> {
    use mock_backends::redis;
    (suite.proxy.redis && redis::binary().is_none() && !redis::required()).then(|| {
        format!(
            "redis-server is not installed (apt-get install redis-server; {}=1 makes this a failure)",
            redis::REQUIRE_ENV
        )
    })
}

type Measured = Result<RunData, (RunData, String)>;

async fn measure(
    loaded: &LoadedSuite,
    suite: &crate::suite::Suite,
    config: &RunConfig,
) -> Measured {
    let mut data = RunData::default();
    let seed = config.seed.unwrap_or(suite.seed);
    let text = match topology::proxy_text(suite, &loaded.dir) {
        Ok(t) => t,
        Err(e) => return Err((data, e.to_string())),
    };
    let topo = match Topology::start(suite, &text, seed).await {
        Ok(t) => t,
        Err(e) => return Err((data, e.to_string())),
    };
    data.backend_ids = topo.backend_ids();
    let proxy_addr = topo.proxy_addr();
    let targets = Targets::of(suite, &topo);
    let baseline_id = suite
        .load
        .baseline_backend
        .clone()
        .unwrap_or_else(|| "b0".to_owned());
    let baseline_addr = topo.backend_addr(&baseline_id).unwrap_or(proxy_addr);
    let watch = watch_target(suite, &topo);
    let readyz = topo.admin_addr().filter(|_| {
        suite
            .expect
            .iter()
            .any(|c| matches!(c, CheckSpec::Readiness(_)))
    });
    let topo = Arc::new(Mutex::new(topo));
    let progress = config.progress.clone();
    let result = drive(
        suite,
        &topo,
        &targets,
        baseline_addr,
        (watch, readyz),
        &progress,
        &mut data,
    )
    .await;
    if let Ok(topo) = Arc::try_unwrap(topo) {
        topo.into_inner().shutdown().await;
    }
    match result {
        Ok(()) => Ok(data),
        Err(e) => Err((data, e)),
    }
}

/// What the breaker watcher samples: only for suites with `breaker` checks and an admin
/// listener (validation requires one for those checks).
fn watch_target(suite: &crate::suite::Suite, topo: &Topology) -> Option<breaker_watch::Target> {
    let wanted = suite
        .expect
        .iter()
        .any(|c| matches!(c, CheckSpec::Breaker(_)));
    let admin = topo.admin_addr().filter(|_| wanted)?;
    let ids: HashMap<String, String> = topo
        .backend_ids()
        .into_iter()
        .filter_map(|id| Some((topo.upstream_addr(&id)?.to_string(), id)))
        .collect();
    Some(breaker_watch::Target { admin, ids })
}

/// Where phases, probes and TLS checks connect: proxy listeners by name, and the material.
struct Targets {
    first: SocketAddr,
    listeners: HashMap<String, SocketAddr>,
    tls: Option<Arc<crate::tls::TlsFiles>>,
    /// The first listener of every proxy instance (`split` phases).
    instances: Vec<SocketAddr>,
}

impl Targets {
    fn of(suite: &crate::suite::Suite, topo: &Topology) -> Self {
        let names = suite
            .load
            .phases
            .iter()
            .filter_map(|p| p.listener.clone())
            .chain(suite.probes.iter().filter_map(|p| p.listener.clone()))
            .chain(suite.expect.iter().filter_map(|c| match c {
                CheckSpec::Tls(t) => t.listener.clone(),
                _ => None,
            }));
        Self {
            first: topo.proxy_addr(),
            listeners: names
                .filter_map(|n| Some((n.clone(), topo.listener_addr(Some(&n))?)))
                .collect(),
            tls: topo.tls(),
            instances: topo.instance_addrs(),
        }
    }

    /// The listener called `name` (validation made sure it exists), or the first.
    fn addr(&self, name: Option<&String>) -> SocketAddr {
        name.and_then(|n| self.listeners.get(n))
            .copied()
            .unwrap_or(self.first)
    }
}

async fn drive(
    suite: &crate::suite::Suite,
    topo: &Arc<Mutex<Topology>>,
    targets: &Targets,
    baseline_addr: std::net::SocketAddr,
    (watch, readyz): (Option<breaker_watch::Target>, Option<SocketAddr>),
    progress: &Progress,
    data: &mut RunData,
) -> Result<(), String> {
    for phase in suite.load.phases.iter().filter(|p| p.baseline) {
        progress.stage(&format!("{}: baseline {} (direct)", suite.name, phase.name));
        let report = with_live(progress, |live| {
            run_phase(
                phase,
                baseline_addr,
                None,
                Some(live),
                CancellationToken::new(),
            )
        })
        .await?;
        data.baselines.insert(phase.name.clone(), report);
    }
    let mut actions: Vec<_> = suite
        .action_names()
        .into_iter()
        .zip(suite.timeline.clone())
        .collect();
    actions.sort_by_key(|(_, a)| a.at);
    let t0 = Instant::now();
    let cancel = CancellationToken::new();
    let notes = progress.clone();
    let timeline = tokio::spawn(timeline::run(
        actions,
        topo.clone(),
        t0,
        cancel.clone(),
        move |a| {
            let status = a
                .error
                .as_deref()
                .map_or("ok".to_owned(), |e| format!("FAILED: {e}"));
            notes.note(&format!(
                "  t={:.1}s {} ({}) {status}",
                a.at_s, a.name, a.label
            ));
        },
    ));
    // Bounded by the load's length (plus slack) even if the cancel never came.
    let limit = suite
        .load
        .phases
        .iter()
        .map(|p| p.length())
        .sum::<Duration>()
        + WATCH_SLACK;
    let watcher =
        watch.map(|target| tokio::spawn(breaker_watch::run(target, t0, limit, cancel.clone())));
    let readyz_watcher =
        readyz.map(|admin| tokio::spawn(readyz_watch::run(admin, t0, limit, cancel.clone())));
    let mut failure = None;
    for phase in &suite.load.phases {
        progress.stage(&format!("{}: phase {}", suite.name, phase.name));
        let offset_s = t0.elapsed().as_secs_f64();
        let addr = targets.addr(phase.listener.as_ref());
        let tls = targets.tls.as_deref();
        let report = if phase.split {
            load::run_split(phase, &targets.instances, tls).await
        } else {
            with_live(progress, |live| {
                run_phase(phase, addr, tls, Some(live), CancellationToken::new())
            })
            .await
        };
        match report {
            Ok(report) => {
                merge_series(&mut data.series, &report.series, offset_s);
                data.phases.push(PhaseData {
                    name: phase.name.clone(),
                    offset_s,
                    report,
                });
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    cancel.cancel();
    data.actions = timeline.await.unwrap_or_default();
    if let Some(watcher) = watcher {
        data.breaker_states = watcher.await.unwrap_or_default();
    }
    if let Some(watcher) = readyz_watcher {
        data.readyz = watcher.await.unwrap_or_default();
    }
    if let Some(e) = failure {
        return Err(e);
    }
    for probe in &suite.probes {
        progress.stage(&format!("{}: probe {}", suite.name, probe.name));
        let addr = targets.addr(probe.listener.as_ref());
        data.probes
            .insert(probe.name.clone(), probe::run(probe, addr).await);
    }
    for check in &suite.expect {
        if let (CheckSpec::Tls(t), Some(files)) = (check, &targets.tls) {
            progress.stage(&format!("{}: tls {}", suite.name, t.server_name));
            let addr = targets.addr(t.listener.as_ref());
            let observed = crate::tls::observe(t, addr, files).await;
            data.tls.insert(t.key(), observed);
        }
    }
    if suite
        .expect
        .iter()
        .any(|c| matches!(c, CheckSpec::Websocket(_)))
    {
        // Closes are counted once both sides are done; the load's last ones end within the
        // relay's close grace.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut closes = crate::checks::closes_from_metrics(&topo.lock().await.proxy_metrics());
        while Instant::now() < deadline && open_websockets(&topo.lock().await.proxy_metrics()) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            closes = crate::checks::closes_from_metrics(&topo.lock().await.proxy_metrics());
        }
        data.websocket_closes = closes;
    }
    data.backend_stats = topo.lock().await.backend_stats();
    Ok(())
}

/// WebSockets the proxy still has open, from its Prometheus text.
fn open_websockets(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("rampart_websocket_connections{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// Runs `f` with a live channel whose samples feed the progress display.
async fn with_live<F, Fut, T>(progress: &Progress, f: F) -> T
where
    F: FnOnce(mpsc::UnboundedSender<loadgen::SecondSample>) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shown = progress.clone();
    let printer = tokio::spawn(async move {
        while let Some(s) = rx.recv().await {
            shown.sample(&s);
        }
    });
    let out = f(tx).await;
    // The sender is gone once the run ends, so the printer finishes promptly.
    let _ = tokio::time::timeout(Duration::from_secs(5), printer).await;
    out
}
