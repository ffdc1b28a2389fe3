//! The engine: validates the spec, starts workers and the collector, builds the [`Report`].

mod closed;
mod open;
mod pace;
mod streams;
#[cfg(test)]
mod tests;
mod threads;
mod watchdog;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::hist::{HISTOGRAM_ENCODING, HISTOGRAM_UNIT, encode};
use crate::plan::{Plan, SpecError};
use crate::proto::Client;
use crate::proto::h1fast::FastH1;
use crate::proto::http::{H1, H2, H2Conn};
use crate::proto::ws::Ws;
use crate::report::{Histograms, LatencySummary, Mode, Report, SCHEMA_VERSION, SecondSample};
use crate::series::{Series, collect};
use crate::spec::{LoadSpec, Protocol};
use crate::stats::{Bucket, Recorder, Totals};

/// How the caller steers and watches a run.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Cancel to stop early; the report covers what ran (unsent requests are counted).
    pub cancel: CancellationToken,
    /// Receives each second's sample about two seconds after it ends (late data may still add
    /// counts to the final report).
    pub live: Option<mpsc::UnboundedSender<SecondSample>>,
}

/// What the worker pools hand back (open-mode dispatchers add `saturated` and `unsent`).
struct Outcome {
    totals: Vec<Totals>,
}

/// Shared context for the worker pools.
struct Ctx {
    plan: Arc<Plan>,
    start: Instant,
    tx: mpsc::UnboundedSender<Bucket>,
    cancel: CancellationToken,
}

impl Ctx {
    fn recorder(&self) -> Recorder {
        Recorder::new(self.start, self.plan.group_header.clone(), self.tx.clone())
    }

    /// One client per worker: connections × streams for h2, one per connection otherwise.
    fn clients(&self) -> Vec<Client> {
        let plan = &self.plan;
        let mut clients = Vec::with_capacity(plan.connections * plan.streams);
        for c in 0..plan.connections {
            let h2 = Arc::new(H2Conn::default());
            for s in 0..plan.streams {
                let id = (c * plan.streams + s) as u64;
                clients.push(match plan.protocol {
                    Protocol::Http2 => Client::H2(H2::new(plan.clone(), h2.clone(), id)),
                    Protocol::Ws => Client::Ws(Box::new(Ws::new(plan.clone()))),
                    Protocol::Http1 if let Some(wire) = &plan.wire => {
                        Client::FastH1(Box::new(FastH1::new(plan.clone(), wire.clone(), id)))
                    }
                    Protocol::Http1 | Protocol::Sse => Client::H1(H1::new(plan.clone(), id)),
                });
            }
        }
        clients
    }
}

/// Runs one load spec to completion (or cancellation) and reports what happened.
///
/// Closed- and open-mode workers run on `spec.threads` dedicated threads (one single-threaded
/// runtime each; in open mode each thread also paces its own share of the schedule); the
/// collector and SSE streams run on the caller's runtime.
pub async fn run(spec: &LoadSpec, options: RunOptions) -> Result<Report, SpecError> {
    run_plan(spec, Plan::new(spec)?, options).await
}

/// Runs a validated plan (tests use it to force the hyper HTTP/1.1 path).
pub(crate) async fn run_plan(
    spec: &LoadSpec,
    plan: Plan,
    options: RunOptions,
) -> Result<Report, SpecError> {
    let plan = Arc::new(plan);
    let started_at_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let start = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let series = Series::new(plan.schedule.clone(), options.live);
    let collector = tokio::spawn(collect(rx, start, series));
    let ctx = Ctx {
        plan: plan.clone(),
        start,
        tx,
        cancel: options.cancel,
    };
    let outcome = match (plan.protocol, plan.schedule.is_some()) {
        (Protocol::Sse, _) => streams::run(ctx).await,
        (_, true) => open::run(ctx).await,
        (_, false) => closed::run(ctx).await,
    };
    let duration_s = start.elapsed().as_secs_f64();
    let series = collector.await.expect("collector does not panic");
    let mut report = build_report(spec, &plan, outcome.totals, duration_s, series);
    report.started_at_unix_ms = started_at_unix_ms;
    Ok(report)
}

pub(crate) fn build_report(
    spec: &LoadSpec,
    plan: &Plan,
    totals: Vec<Totals>,
    duration_s: f64,
    series: Vec<SecondSample>,
) -> Report {
    let mut all = Totals::new();
    for t in &totals {
        all.merge(t);
    }
    let status: std::collections::BTreeMap<u16, u64> = all.status_counts().collect();
    let non_success = status
        .iter()
        .filter(|(s, _)| **s >= 400)
        .map(|(_, n)| n)
        .sum();
    let mut groups: Vec<(String, u64)> = all
        .groups
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    groups.sort();
    Report {
        schema_version: SCHEMA_VERSION,
        url: spec.url.clone(),
        started_at_unix_ms: 0,
        mode: if plan.schedule.is_some() {
            Mode::Open
        } else {
            Mode::Closed
        },
        protocol: plan.protocol,
        connections: plan.connections,
        duration_s: round3(duration_s),
        target_rate: plan.schedule.as_ref().map(|s| round3(s.mean_rate())),
        achieved_rate: round3(if duration_s > 0.0 {
            all.responses as f64 / duration_s
        } else {
            0.0
        }),
        totals: crate::report::Totals {
            sent: all.sent,
            responses: all.responses,
            non_success,
            errors: all.error_total(),
            late: all.late,
            max_lag_us: u64::try_from(all.max_lag.as_micros()).unwrap_or(u64::MAX),
            saturated: all.saturated,
            unsent: all.unsent,
            bytes_received: all.bytes,
            connections_opened: all.connections,
        },
        latency: LatencySummary::from_histogram(&all.hist),
        inter_arrival: (plan.protocol == Protocol::Sse)
            .then(|| LatencySummary::from_histogram(&all.gaps)),
        send_lag: LatencySummary::from_histogram(&all.lag),
        histograms: Histograms {
            unit: HISTOGRAM_UNIT.to_owned(),
            encoding: HISTOGRAM_ENCODING.to_owned(),
            latency: encode(&all.hist),
            send_lag: encode(&all.lag),
            inter_arrival: (plan.protocol == Protocol::Sse).then(|| encode(&all.gaps)),
        },
        sse_ids: (plan.protocol == Protocol::Sse).then(|| all.sse_ids.clone()),
        status,
        errors: all.error_counts().collect(),
        group_by_header: spec.group_by_header.clone(),
        groups: groups.into_iter().collect(),
        series,
    }
}

/// Rounds to 3 decimals so the JSON is readable and parses back to the same `f64`.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Waits for every worker; a panicked worker loses its numbers but not the run.
async fn join_all(handles: Vec<tokio::task::JoinHandle<Totals>>) -> Vec<Totals> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(t) => out.push(t),
            Err(e) => tracing::error!(error = %e, "worker failed"),
        }
    }
    out
}
