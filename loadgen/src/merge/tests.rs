//! Merging equals one run over the union of the samples, bucket for bucket; mismatched
//! reports are refused with a reason.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use super::{MergeError, merge, merge_json};
use crate::hist::decode;
use crate::plan::Plan;
use crate::report::Report;
use crate::series::Series;
use crate::spec::LoadSpec;
use crate::stats::Recorder;

/// One known request: when it completed, its latency, its send lag, its status.
#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    latency_us: u64,
    lag_us: u64,
    status: u16,
}

fn samples(seed: u64, n: usize, secs: u64) -> Vec<Sample> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n)
        .map(|_| Sample {
            at: Duration::from_micros(rng.random_range(0..secs * 1_000_000)),
            // Spread over five decades so many HDR buckets are used.
            latency_us: 10f64.powf(rng.random_range(1.0..6.0)) as u64,
            lag_us: rng.random_range(0..3_000),
            status: if rng.random_bool(0.1) { 503 } else { 200 },
        })
        .collect()
}

/// A report built by the engine's own recorder, collector and report code from `samples`.
fn report(started_at_unix_ms: u64, samples: &[Sample]) -> Report {
    let spec = LoadSpec {
        rate: Some(500.0),
        duration: Some(Duration::from_secs(6)),
        ..LoadSpec::new("http://127.0.0.1:1/")
    };
    let plan = Plan::new(&spec).unwrap();
    let start = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut rec = Recorder::new(start, None, tx);
    let mut sorted = samples.to_vec();
    sorted.sort_by_key(|s| s.at);
    for s in &sorted {
        let done = start + s.at;
        rec.sent(done, Duration::from_micros(s.lag_us));
        let latency = Some(Duration::from_micros(s.latency_us));
        rec.response(done, latency, Some(s.status), None, 2);
    }
    let totals = rec.finish();
    let mut series = Series::new(plan.schedule.clone(), None);
    while let Ok(b) = rx.try_recv() {
        series.add(b);
    }
    let mut r = crate::engine::build_report(&spec, &plan, vec![totals], 6.0, series.finish());
    r.started_at_unix_ms = started_at_unix_ms;
    r
}

fn named(reports: &[&Report]) -> Vec<(String, String)> {
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("r{i}.json"), r.to_json()))
        .collect()
}

#[test]
fn merge_equals_one_run_over_the_union() {
    let t0 = 1_800_000_000_000;
    let a = samples(1, 3000, 4);
    let b = samples(2, 2000, 4);
    // `b` started 2 s after `a`: in the union its samples sit 2 s later.
    let union: Vec<Sample> = a
        .iter()
        .copied()
        .chain(b.iter().map(|s| Sample {
            at: s.at + Duration::from_secs(2),
            ..*s
        }))
        .collect();
    let (ra, rb, ru) = (report(t0, &a), report(t0 + 2000, &b), report(t0, &union));
    let merged = merge_json(&named(&[&ra, &rb])).unwrap();

    for (got, want) in [
        (&merged.histograms.latency, &ru.histograms.latency),
        (&merged.histograms.send_lag, &ru.histograms.send_lag),
    ] {
        assert_eq!(decode(got).unwrap(), decode(want).unwrap());
    }
    assert_eq!(merged.latency, ru.latency);
    assert_eq!(merged.send_lag, ru.send_lag);
    assert_eq!(merged.totals, ru.totals);
    assert_eq!(merged.status, ru.status);
    assert_eq!(merged.latency.count, 5000);
    assert_eq!(merged.started_at_unix_ms, t0);
    assert_eq!(merged.series.len(), ru.series.len());
    assert_eq!(merged.series.len(), 6);
    for (m, u) in merged.series.iter().zip(&ru.series) {
        let hist = |s: &crate::report::SecondSample| {
            (
                decode(&s.histograms.latency).unwrap(),
                decode(&s.histograms.send_lag).unwrap(),
            )
        };
        assert_eq!(hist(m), hist(u), "second {}", m.second);
        let counts = |s: &crate::report::SecondSample| {
            (
                s.second,
                s.responses,
                s.non_success,
                s.late,
                s.status.clone(),
            )
        };
        assert_eq!(counts(m), counts(u));
        let pcts = |s: &crate::report::SecondSample| {
            let lag = (s.send_lag_p50_us, s.send_lag_p99_us, s.send_lag_max_us);
            (s.p50_us, s.p90_us, s.p99_us, s.max_us, lag)
        };
        assert_eq!(pcts(m), pcts(u), "second {}", m.second);
    }
    // Target rates add up (two generators at 500/s are 1000/s).
    assert_eq!(merged.target_rate, Some(1000.0));
    assert_eq!(merged.series[3].target_rate, Some(1000.0));
}

#[test]
fn merging_one_report_changes_nothing_measured() {
    let r = report(1_800_000_000_000, &samples(3, 500, 3));
    let merged = merge(&[("only.json".to_owned(), r.clone())]).unwrap();
    assert_eq!(merged.latency, r.latency);
    assert_eq!(merged.totals, r.totals);
    assert_eq!(merged.series, r.series);
    assert!(matches!(merge(&[]), Err(MergeError::Empty)));
}

#[test]
fn different_schema_versions_are_refused_by_name() {
    let r = report(1_800_000_000_000, &samples(4, 100, 2));
    let mut old: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    old["schema_version"] = 1.into();
    old.as_object_mut().unwrap().remove("histograms");
    let inputs = vec![
        ("new.json".to_owned(), r.to_json()),
        ("old.json".to_owned(), old.to_string()),
    ];
    let err = merge_json(&inputs).unwrap_err();
    assert!(matches!(err, MergeError::SchemaVersion { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("old.json has schema_version 1 but new.json has 2"),
        "{text}"
    );
    assert!(text.contains("different schema versions"), "{text}");
    // Alone, an old report is refused against this loadgen's version.
    let err = merge_json(&inputs[1..]).unwrap_err().to_string();
    assert!(err.contains("this loadgen has 2"), "{err}");
}

#[test]
fn different_units_are_refused_by_name() {
    let r = report(1_800_000_000_000, &samples(5, 100, 2));
    let mut ms: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    ms["histograms"]["unit"] = "ms".into();
    let inputs = vec![
        ("us.json".to_owned(), r.to_json()),
        ("ms.json".to_owned(), ms.to_string()),
    ];
    let err = merge_json(&inputs).unwrap_err();
    assert!(matches!(err, MergeError::Unit { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(r#"ms.json records histograms in "ms" but us.json in "us""#),
        "{text}"
    );
    assert!(text.contains("different units"), "{text}");
}

#[test]
fn a_broken_histogram_names_the_file_and_histogram() {
    let mut r = report(1_800_000_000_000, &samples(6, 100, 2));
    r.series[1].histograms.latency = "bm90IGEgaGlzdG9ncmFt".to_owned();
    let err = merge(&[("bad.json".to_owned(), r)])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("bad.json: histogram series[1].latency"),
        "{err}"
    );
}
