//! Turning a suite phase into a loadgen run against an address.

use std::net::SocketAddr;
use std::time::Duration;

use loadgen::{CancellationToken, LoadSpec, Report, RunOptions, SecondSample, TlsSpec};
use tokio::sync::mpsc;

use crate::suite::Phase;
use crate::tls::TlsFiles;

/// The loadgen spec for `phase` against `target` in plain HTTP, grouping by `x-backend-id`.
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
        source_ips: phase.source_ips.clone(),
        ..LoadSpec::new(format!(
            "{}://{target}{}",
            scheme(phase.protocol),
            phase.path
        ))
    }
}

/// The URL scheme loadgen expects for a protocol (TLS swaps it for the secure one).
fn scheme(protocol: loadgen::Protocol) -> &'static str {
    match protocol {
        loadgen::Protocol::Ws => "ws",
        _ => "http",
    }
}

/// `spec` over TLS as `phase.tls` asks, trusting the generated CA (and presenting the
/// generated client certificate if asked).
fn secure(spec: &mut LoadSpec, phase: &Phase, files: &TlsFiles) -> Result<(), String> {
    let Some(tls) = &phase.tls else {
        return Ok(());
    };
    let (client_cert, client_key) = match (tls.client_cert, files.client_paths()) {
        (false, _) => (None, None),
        (true, Some((cert, key))) => (Some(cert), Some(key)),
        (true, None) => {
            return Err(format!(
                "phase `{}`: tls.client_cert needs `proxy.tls.client_cert: true`",
                phase.name
            ));
        }
    };
    spec.url = if spec.url.starts_with("ws://") {
        spec.url.replacen("ws://", "wss://", 1)
    } else {
        spec.url.replacen("http://", "https://", 1)
    };
    spec.tls = TlsSpec {
        ca_file: Some(files.ca_path()),
        server_name: Some(tls.server_name.clone()),
        client_cert,
        client_key,
        ..TlsSpec::default()
    };
    Ok(())
}

/// Runs a phase (over TLS when `tls` is given and the phase asks for it); per-second
/// samples go to `live` as they are final.
pub async fn run_phase(
    phase: &Phase,
    target: SocketAddr,
    tls: Option<&TlsFiles>,
    live: Option<mpsc::UnboundedSender<SecondSample>>,
    cancel: CancellationToken,
) -> Result<Report, String> {
    let mut spec = spec_for(phase, target);
    match tls {
        Some(files) => secure(&mut spec, phase, files)?,
        None if phase.tls.is_some() => {
            return Err(format!(
                "phase `{}`: tls needs `proxy.tls` material",
                phase.name
            ));
        }
        None => {}
    }
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

/// Runs `phase` against every instance at once, each at `rate / n` with `connections / n`
/// (at least one), and merges the reports into one (loadgen's `merge`).
pub(super) async fn run_split(
    phase: &Phase,
    instances: &[SocketAddr],
    tls: Option<&TlsFiles>,
) -> Result<Report, String> {
    let n = instances.len().max(1);
    let mut share = phase.clone();
    share.rate = phase.rate.map(|r| r / n as f64);
    share.connections = phase.connections.map(|c| (c / n).max(1));
    for stage in &mut share.stages {
        stage.rate /= n as f64;
        stage.to_rate = stage.to_rate.map(|r| r / n as f64);
    }
    let runs = instances
        .iter()
        .map(|addr| run_phase(&share, *addr, tls, None, CancellationToken::new()));
    let reports = futures_util::future::try_join_all(runs).await?;
    let named: Vec<(String, Report)> = reports
        .into_iter()
        .enumerate()
        .map(|(i, r)| (format!("instance {i}"), r))
        .collect();
    loadgen::merge::merge(&named)
        .map_err(|e| format!("phase `{}`: merging instances: {e}", phase.name))
}
