//! The result of a run: the JSON schema (versioned, serde round-trip) and the human summary.

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use crate::hist::{HISTOGRAM_ENCODING, HISTOGRAM_UNIT};
use crate::spec::Protocol;
use crate::stats::ErrorKind;

/// Version of the JSON layout of [`Report`]; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

/// The summary warns when send-lag p99 exceeds this fraction of the latency p50: the
/// latencies then measure the generator's own delay as much as the server.
pub const LAG_WARN_FRACTION: f64 = 0.25;

/// Open (arrival-rate driven) or closed (as fast as the connections go).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Constant rate, ramps or steps; latency measured from each request's intended send time.
    Open,
    /// Each connection sends its next request as soon as the previous one completes.
    Closed,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Layout version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Target URL.
    pub url: String,
    /// Wall-clock start of the run, ms since the UNIX epoch (aligns series in a merge).
    pub started_at_unix_ms: u64,
    /// Open or closed loop.
    pub mode: Mode,
    /// Protocol used.
    pub protocol: Protocol,
    /// Connections (or SSE streams) configured.
    pub connections: usize,
    /// Wall-clock length of the run in seconds, including the drain of in-flight requests.
    pub duration_s: f64,
    /// Mean target rate (open mode only).
    pub target_rate: Option<f64>,
    /// Responses (or messages, or events) per second actually completed.
    pub achieved_rate: f64,
    /// Counters over the whole run.
    pub totals: Totals,
    /// Latency over the whole run (open mode: from the intended send time; SSE: delivery delay).
    pub latency: LatencySummary,
    /// SSE only: time between consecutive events on a stream.
    pub inter_arrival: Option<LatencySummary>,
    /// Open mode: actual minus intended send time of every request — the generator's own
    /// error, included in `latency` (empty in closed mode).
    pub send_lag: LatencySummary,
    /// The full histograms behind `latency`, `send_lag` and `inter_arrival`, lossless.
    pub histograms: Histograms,
    /// SSE only: what the numeric event ids of each stream showed (lost, repeated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_ids: Option<SseIds>,
    /// Responses per HTTP status code.
    pub status: BTreeMap<u16, u64>,
    /// Failed requests per error kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Response header used for grouping, if any.
    pub group_by_header: Option<String>,
    /// Responses per value of `group_by_header`.
    pub groups: BTreeMap<String, u64>,
    /// One entry per second of the run, second 0 first, no gaps.
    pub series: Vec<SecondSample>,
}

/// SSE event ids, checked per stream: each numeric id should be the previous one plus one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseIds {
    /// Streams that got a `2xx` event stream.
    pub streams: u64,
    /// Ids skipped on a stream (an id more than one past the previous: the gap's size).
    pub lost: u64,
    /// Ids not above the previous one on their stream (repeated or out of order).
    pub repeated: u64,
    /// Fewest events any stream received.
    pub min_events: u64,
}

impl SseIds {
    /// Adds one stream's counts.
    pub(crate) fn add(&mut self, other: &SseIds) {
        self.min_events = if self.streams == 0 {
            other.min_events
        } else if other.streams == 0 {
            self.min_events
        } else {
            self.min_events.min(other.min_events)
        };
        self.streams += other.streams;
        self.lost += other.lost;
        self.repeated += other.repeated;
    }
}

/// Counters over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Requests (or WS messages) sent.
    pub sent: u64,
    /// Responses (or echoes, or SSE events) received, any status.
    pub responses: u64,
    /// Responses with status >= 400.
    pub non_success: u64,
    /// Requests that failed without a response (see `errors`).
    pub errors: u64,
    /// Sends more than 2 ms behind their intended time (open mode).
    pub late: u64,
    /// Largest send lag behind schedule, µs (open mode; `send_lag.max_us` before clamping).
    pub max_lag_us: u64,
    /// Times a request came due with every connection busy (open mode; sent late, not dropped).
    pub saturated: u64,
    /// Scheduled requests never sent because the run was cancelled.
    pub unsent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Connections (or streams) opened, including reconnects.
    pub connections_opened: u64,
}

/// Percentiles of a latency histogram, µs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Smallest sample.
    pub min_us: u64,
    /// Arithmetic mean.
    pub mean_us: f64,
    /// Standard deviation.
    pub stdev_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest sample.
    pub max_us: u64,
}

impl LatencySummary {
    /// Summarises a histogram (all zero when empty).
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            min_us: h.min(),
            mean_us: crate::engine::round3(h.mean()),
            stdev_us: crate::engine::round3(h.stdev()),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Histograms as HdrHistogram V2 compressed, base64 ([`HISTOGRAM_ENCODING`]), values in
/// [`HISTOGRAM_UNIT`]; any HDR tool reads them, `loadgen merge` adds them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Histograms {
    /// Unit of the recorded values, `us`.
    pub unit: String,
    /// Encoding of the strings below, `hdr-v2-deflate-base64`.
    pub encoding: String,
    /// Latency.
    pub latency: String,
    /// Send lag.
    pub send_lag: String,
    /// SSE inter-arrival gaps.
    pub inter_arrival: Option<String>,
}

/// One second's histograms (same encoding and unit as [`Histograms`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondHistograms {
    /// Latency of the responses completed in this second.
    pub latency: String,
    /// Send lag of the sends in this second.
    pub send_lag: String,
}

/// One second of the run, for plotting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondSample {
    /// Seconds since the start (this sample covers `[second, second + 1)`).
    pub second: u64,
    /// Requests due in this second (open mode).
    pub target_rate: Option<f64>,
    /// Responses completed in this second.
    pub responses: u64,
    /// Of those, status >= 400.
    pub non_success: u64,
    /// Requests that failed in this second.
    pub errors: u64,
    /// Sends in this second that were behind schedule.
    pub late: u64,
    /// Median latency of the responses completed in this second, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Slowest response, µs.
    pub max_us: u64,
    /// Median send lag of the sends in this second, µs (open mode).
    pub send_lag_p50_us: u64,
    /// 99th percentile send lag, µs.
    pub send_lag_p99_us: u64,
    /// Largest send lag, µs.
    pub send_lag_max_us: u64,
    /// Responses per group value in this second.
    pub groups: BTreeMap<String, u64>,
    /// Responses per status code in this second.
    pub status: BTreeMap<u16, u64>,
    /// This second's histograms, lossless.
    pub histograms: SecondHistograms,
}

impl Report {
    /// Serialises to pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report is always serialisable")
    }

    /// Parses a report written by [`Report::to_json`].
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Whether send-lag p99 exceeds [`LAG_WARN_FRACTION`] of the latency p50 (open mode).
    pub fn lag_dominates(&self) -> bool {
        self.mode == Mode::Open
            && self.send_lag.count > 0
            && self.send_lag.p99_us as f64 > LAG_WARN_FRACTION * self.latency.p50_us as f64
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}ms", us as f64 / 1000.0)
}

/// Microseconds below 10 ms, else milliseconds.
fn us(v: u64) -> String {
    if v < 10_000 { format!("{v}us") } else { ms(v) }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        let mode = match self.mode {
            Mode::Open => "open",
            Mode::Closed => "closed",
        };
        writeln!(
            f,
            "{} {} {mode}-loop, {} connections, {:.2}s",
            self.url,
            self.protocol.as_str(),
            self.connections,
            self.duration_s
        )?;
        match self.target_rate {
            Some(target) => writeln!(
                f,
                "  rate        {:.1}/s achieved of {target:.1}/s target",
                self.achieved_rate
            )?,
            None => writeln!(f, "  rate        {:.1}/s", self.achieved_rate)?,
        }
        writeln!(
            f,
            "  requests    {} sent, {} responses, {} errors, {} non-2xx/3xx",
            t.sent, t.responses, t.errors, t.non_success
        )?;
        let l = &self.latency;
        writeln!(
            f,
            "  latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
            ms(l.p50_us),
            ms(l.p90_us),
            ms(l.p99_us),
            ms(l.p999_us),
            ms(l.max_us),
            ms(l.mean_us as u64)
        )?;
        if let Some(g) = &self.inter_arrival {
            writeln!(
                f,
                "  gaps        p50 {}  p99 {}  max {}",
                ms(g.p50_us),
                ms(g.p99_us),
                ms(g.max_us)
            )?;
        }
        if self.mode == Mode::Open {
            let g = &self.send_lag;
            writeln!(
                f,
                "  send lag    p50 {}  p99 {}  max {}  (actual - intended send time)",
                us(g.p50_us),
                us(g.p99_us),
                us(g.max_us)
            )?;
            if self.lag_dominates() {
                writeln!(
                    f,
                    "  WARNING     send lag p99 {} is over {:.0}% of latency p50 {}: these latencies measure the generator as much as the server (fewer threads, a quieter machine, or a slower rate)",
                    us(g.p99_us),
                    LAG_WARN_FRACTION * 100.0,
                    us(l.p50_us)
                )?;
            }
            writeln!(
                f,
                "  schedule    {} late (>2ms), max lag {}, {} saturated, {} unsent",
                t.late,
                ms(t.max_lag_us),
                t.saturated,
                t.unsent
            )?;
            if t.late * 100 > t.sent.max(1) {
                writeln!(
                    f,
                    "  WARNING     over 1% of sends were late: every connection was busy (slow server, add connections) or the generator is overloaded"
                )?;
            }
        }
        let status: Vec<String> = self
            .status
            .iter()
            .map(|(s, n)| format!("{s}={n}"))
            .collect();
        writeln!(f, "  status      {}", status.join(" "))?;
        if !self.errors.is_empty() {
            let errors: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{}={n}", k.as_str()))
                .collect();
            writeln!(f, "  errors      {}", errors.join(" "))?;
        }
        if let Some(h) = &self.group_by_header {
            let total: u64 = self.groups.values().sum::<u64>().max(1);
            writeln!(f, "  by {h}")?;
            for (g, n) in &self.groups {
                writeln!(
                    f,
                    "    {g:<20} {n:>10} {:>6.1}%",
                    *n as f64 * 100.0 / total as f64
                )?;
            }
        }
        Ok(())
    }
}
