//! The collector: merges per-worker second buckets into the per-second series.
//!
//! A second is finalised (percentiles fixed, sample emitted to the live channel) once it is two
//! seconds old; buckets arriving later still add their counts, only not their latencies.

use std::collections::BTreeMap;
use std::time::Instant;

use hdrhistogram::Histogram;
use tokio::sync::mpsc;

use crate::report::SecondSample;
use crate::schedule::Schedule;
use crate::stats::{Bucket, histogram};

struct Acc {
    hist: Histogram<u64>,
    sample: SecondSample,
}

/// Aggregates buckets into [`SecondSample`]s.
pub(crate) struct Series {
    open: BTreeMap<u64, Acc>,
    done: Vec<SecondSample>,
    schedule: Option<Schedule>,
    live: Option<mpsc::UnboundedSender<SecondSample>>,
}

impl Series {
    pub(crate) fn new(
        schedule: Option<Schedule>,
        live: Option<mpsc::UnboundedSender<SecondSample>>,
    ) -> Self {
        Self {
            open: BTreeMap::new(),
            done: Vec::new(),
            schedule,
            live,
        }
    }

    fn add_counts(s: &mut SecondSample, b: &Bucket) {
        s.responses += b.responses;
        s.non_success += b.non_success;
        s.errors += b.errors;
        s.late += b.late;
        for (k, v) in &b.groups {
            *s.groups.entry(k.to_string()).or_default() += v;
        }
        for (code, n) in &b.status {
            *s.status.entry(*code).or_default() += n;
        }
    }

    /// Adds one worker's bucket.
    pub(crate) fn add(&mut self, b: Bucket) {
        let idx = usize::try_from(b.second).unwrap_or(usize::MAX);
        if let Some(sample) = self.done.get_mut(idx) {
            Self::add_counts(sample, &b);
            return;
        }
        let acc = self.open.entry(b.second).or_insert_with(|| Acc {
            hist: histogram(2),
            sample: SecondSample {
                second: b.second,
                ..SecondSample::default()
            },
        });
        acc.hist.add(&b.hist).expect("same bounds");
        Self::add_counts(&mut acc.sample, &b);
    }

    /// Finalises every second before `second`.
    pub(crate) fn finalize_before(&mut self, second: u64) {
        while (self.done.len() as u64) < second {
            let s = self.done.len() as u64;
            let mut sample = match self.open.remove(&s) {
                Some(acc) => {
                    let mut sample = acc.sample;
                    if !acc.hist.is_empty() {
                        sample.p50_us = acc.hist.value_at_quantile(0.5);
                        sample.p90_us = acc.hist.value_at_quantile(0.9);
                        sample.p99_us = acc.hist.value_at_quantile(0.99);
                        sample.max_us = acc.hist.max();
                    }
                    sample
                }
                None => SecondSample {
                    second: s,
                    ..SecondSample::default()
                },
            };
            sample.target_rate = self
                .schedule
                .as_ref()
                .map(|sch| crate::engine::round3(sch.count_between(s as f64, (s + 1) as f64)));
            if let Some(live) = &self.live {
                // A caller that stopped listening does not stop the run.
                let _ = live.send(sample.clone());
            }
            self.done.push(sample);
        }
    }

    /// Finalises everything seen and returns the series.
    pub(crate) fn finish(mut self) -> Vec<SecondSample> {
        let last = self.open.keys().next_back().map_or(0, |s| s + 1);
        self.finalize_before(last.max(self.done.len() as u64));
        self.done
    }
}

/// Runs the collector until every recorder is gone.
pub(crate) async fn collect(
    mut rx: mpsc::UnboundedReceiver<Bucket>,
    start: Instant,
    mut series: Series,
) -> Vec<SecondSample> {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tokio::select! {
            b = rx.recv() => match b {
                Some(b) => series.add(b),
                None => break,
            },
            _ = tick.tick() => {
                let elapsed = start.elapsed().as_secs();
                series.finalize_before(elapsed.saturating_sub(1));
            }
        }
    }
    series.finish()
}
