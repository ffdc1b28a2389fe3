//! Turning a suite phase into a loadgen run against an address.

use std::net::SocketAddr;
use std::time::Duration;

use loadgen::{CancellationToken, LoadSpec, Report, RunOptions, SecondSample};
use tokio::sync::mpsc;

use crate::suite::Phase;

/// The loadgen spec for `phase` against `target`, grouping by `x-backend-id`.
pub fn spec_for(phase: &Phase, target: SocketAddr) -> LoadSpec {
    let open = phase.rate.is_some() || !phase.stages.is_empty();
    let default_conns = if open { 64 } else { 16 };
    LoadSpec {
        protocol: phase.protocol,
        // Stages set their own durations; loadgen refuses both.
        duration: phase.stages.is_empty().then(|| phase.length()),
        rate: phase.rate,
        stages: phase.stages.clone(),
        connections: phase.connections.unwrap_or(default_conns),
        timeout: phase.timeout.unwrap_or(Duration::from_secs(5)),
        requests: phase.requests.clone(),
        group_by_header: Some(mock_backends::BACKEND_ID_HEADER.to_owned()),
        ..LoadSpec::new(format!("http://{target}{}", phase.path))
    }
}

/// Runs a phase; per-second samples go to `live` as they are final.
pub async fn run_phase(
    phase: &Phase,
    target: SocketAddr,
    live: Option<mpsc::UnboundedSender<SecondSample>>,
    cancel: CancellationToken,
) -> Result<Report, String> {
    let spec = spec_for(phase, target);
    loadgen::run(&spec, RunOptions { cancel, live })
        .await
        .map_err(|e| format!("phase `{}`: {e}", phase.name))
}

/// Places a phase's series on the run's timeline at `offset_s` seconds.
pub fn merge_series(timeline: &mut Vec<SecondSample>, series: &[SecondSample], offset_s: f64) {
    let base = offset_s.round().max(0.0) as u64;
    for s in series {
        let second = base + s.second;
        let idx = second as usize;
        while timeline.len() <= idx {
            let n = timeline.len() as u64;
            timeline.push(SecondSample {
                second: n,
                ..SecondSample::default()
            });
        }
        let slot = &mut timeline[idx];
        if s.responses >= slot.responses {
            slot.p50_us = s.p50_us;
            slot.p90_us = s.p90_us;
            slot.p99_us = s.p99_us;
            slot.max_us = s.max_us.max(slot.max_us);
        }
        slot.responses += s.responses;
        slot.non_success += s.non_success;
        slot.errors += s.errors;
        slot.late += s.late;
        for (g, n) in &s.groups {
            *slot.groups.entry(g.clone()).or_default() += n;
        }
        for (code, n) in &s.status {
            *slot.status.entry(*code).or_default() += n;
        }
    }
}
