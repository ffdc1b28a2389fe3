//! The collector: merges per-worker second buckets into the per-second series.
//!
//! A second is finalised (sample emitted to the live channel) once it is two seconds old;
//! buckets arriving later still add to it, and the final series is computed from everything,
//! with each second's histograms encoded losslessly.

use std::collections::BTreeMap;
use std::time::Instant;

use hdrhistogram::Histogram;
use tokio::sync::mpsc;

use crate::hist::encode;
use crate::report::{SecondHistograms, SecondSample};
use crate::schedule::Schedule;
use crate::stats::{Bucket, histogram};

struct Acc {
    hist: Histogram<u64>,
    lag: Histogram<u64>,
    sample: SecondSample,
}

impl Acc {
    fn new(second: u64) -> Self {
        Self {
            hist: histogram(2),
            lag: histogram(2),
            sample: SecondSample {
                second,
                ..SecondSample::default()
            },
        }
    }

    /// Fills the sample's percentiles from the histograms.
    fn summarise(&mut self) {
        summarise(&mut self.sample, &self.hist, &self.lag);
    }
}

/// Fills a second's latency and send-lag percentiles from its histograms.
pub(crate) fn summarise(s: &mut SecondSample, h: &Histogram<u64>, g: &Histogram<u64>) {
    if !h.is_empty() {
        s.p50_us = h.value_at_quantile(0.5);
        s.p90_us = h.value_at_quantile(0.9);
        s.p99_us = h.value_at_quantile(0.99);
        s.max_us = h.max();
    }
    if !g.is_empty() {
        s.send_lag_p50_us = g.value_at_quantile(0.5);
        s.send_lag_p99_us = g.value_at_quantile(0.99);
        s.send_lag_max_us = g.max();
    }
}

/// Aggregates buckets into [`SecondSample`]s.
pub(crate) struct Series {
    open: BTreeMap<u64, Acc>,
    done: Vec<Acc>,
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
        let acc = match self.done.get_mut(idx) {
            Some(acc) => acc,
            None => self
                .open
                .entry(b.second)
                .or_insert_with(|| Acc::new(b.second)),
        };
        // Same bounds on both sides (`histogram(2)`), so adding cannot fail.
        let _ = acc.hist.add(&b.hist);
        let _ = acc.lag.add(&b.lag);
        Self::add_counts(&mut acc.sample, &b);
    }

    /// Finalises every second before `second`.
    pub(crate) fn finalize_before(&mut self, second: u64) {
        while (self.done.len() as u64) < second {
            let s = self.done.len() as u64;
            let mut acc = self.open.remove(&s).unwrap_or_else(|| Acc::new(s));
            acc.summarise();
            acc.sample.target_rate = self
                .schedule
                .as_ref()
                .map(|sch| crate::engine::round3(sch.count_between(s as f64, (s + 1) as f64)));
            if let Some(live) = &self.live {
                // A caller that stopped listening does not stop the run.
                let _ = live.send(acc.sample.clone());
            }
            self.done.push(acc);
        }
    }

    /// Finalises everything seen and returns the series, histograms encoded.
    pub(crate) fn finish(mut self) -> Vec<SecondSample> {
        let last = self.open.keys().next_back().map_or(0, |s| s + 1);
        self.finalize_before(last.max(self.done.len() as u64));
        self.done
            .into_iter()
            .map(|mut acc| {
                acc.summarise();
                acc.sample.histograms = SecondHistograms {
                    latency: encode(&acc.hist),
                    send_lag: encode(&acc.lag),
                };
                acc.sample
            })
            .collect()
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
