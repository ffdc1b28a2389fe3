//! The breaker watcher: while the load runs, samples the proxy's `GET /admin/upstreams` every
//! 50 ms and keeps, per backend id, the first state seen and every change after it.
//!
//! A half-open episode can be shorter than the sampling period (a few probes at a few hundred
//! requests per second). The watcher therefore also reads the
//! `rampart_circuit_breaker_transitions_total{to="half_open"}` counters from `GET /metrics`
//! (read first, so a counter never runs ahead of the state read after it): when they rose since
//! the last sample but neither sample showed half-open, a `half_open` entry is recorded at the
//! sample that noticed it, just before the state it found.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::sampling::sample_every;

/// How often the admin API is sampled.
const PERIOD: Duration = Duration::from_millis(50);
/// Timeout of each admin request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// The metric whose `to="half_open"` series counts entries into half-open.
const TRANSITIONS: &str = "rampart_circuit_breaker_transitions_total";
const HALF_OPEN: &str = "half_open";

/// What to watch: the proxy's admin address and backend addresses → ids.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// The proxy's admin listener.
    pub(super) admin: SocketAddr,
    /// `127.0.0.1:PORT` → `bN`.
    pub(super) ids: HashMap<String, String>,
}

/// States per backend id, `(seconds since t0, state)`.
pub(super) type Timelines = BTreeMap<String, Vec<(f64, String)>>;

/// Samples until `cancel` fires or `limit` after `t0` has passed; returns what it saw.
pub(super) async fn run(
    target: Target,
    t0: Instant,
    limit: Duration,
    cancel: CancellationToken,
) -> Timelines {
    let Ok(client) = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() else {
        return Timelines::new();
    };
    let mut recorder = Recorder::default();
    let (client, target) = (&client, &target);
    sample_every(
        PERIOD,
        t0,
        limit,
        &cancel,
        || sample(client, target),
        |t, sampled| {
            if let Some((states, half_opens)) = sampled {
                recorder.observe(t, &states, &half_opens);
            }
        },
    )
    .await;
    recorder.states
}

/// One sample: states by id, and the half-open entry counters by id (empty without metrics).
async fn sample(
    client: &reqwest::Client,
    target: &Target,
) -> Option<(BTreeMap<String, String>, BTreeMap<String, u64>)> {
    let get = |path: &str| {
        let url = format!("http://{}{path}", target.admin);
        async move {
            let resp = client.get(url).send().await.ok()?;
            if !resp.status().is_success() {
                return None;
            }
            resp.text().await.ok()
        }
    };
    let half_opens = get("/metrics")
        .await
        .map(|m| half_open_entries(&m, &target.ids))
        .unwrap_or_default();
    let states = states(&get("/admin/upstreams").await?, &target.ids)?;
    Some((states, half_opens))
}

/// Breaker state per backend id from a `GET /admin/upstreams` body; backends without a breaker
/// (`"breaker": null`) are left out, and the first upstream with a breaker wins an address.
fn states(body: &str, ids: &HashMap<String, String>) -> Option<BTreeMap<String, String>> {
    let doc: serde_json::Value = serde_json::from_str(body).ok()?;
    let mut out = BTreeMap::new();
    let backends = doc["upstreams"]
        .as_array()?
        .iter()
        .filter_map(|u| u["backends"].as_array())
        .flatten();
    for b in backends {
        let (Some(addr), Some(state)) = (b["address"].as_str(), b["breaker"]["state"].as_str())
        else {
            continue;
        };
        if let Some(id) = ids.get(addr) {
            out.entry(id.clone()).or_insert_with(|| state.to_owned());
        }
    }
    Some(out)
}

/// Entries into half-open per backend id, summed over upstreams and `from` states, from
/// Prometheus text.
fn half_open_entries(metrics: &str, ids: &HashMap<String, String>) -> BTreeMap<String, u64> {
    // A backend whose breaker never went half-open has no series yet: that is a count of 0,
    // so the first entry is noticed even when it began and ended between two samples.
    let mut out: BTreeMap<String, u64> = ids.values().map(|id| (id.clone(), 0)).collect();
    for line in metrics.lines() {
        let Some(rest) = line
            .strip_prefix(TRANSITIONS)
            .and_then(|r| r.strip_prefix('{'))
        else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        let label = |key: &str| {
            labels.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"'))
            })
        };
        let id = label("backend").and_then(|a| ids.get(a));
        let count = value.trim().parse::<f64>().ok();
        if let (Some(id), Some(count), Some(HALF_OPEN)) = (id, count, label("to")) {
            *out.entry(id.clone()).or_default() += count as u64;
        }
    }
    out
}

/// Keeps the first sample and the changes, per backend.
#[derive(Debug, Default)]
struct Recorder {
    states: Timelines,
    half_opens: BTreeMap<String, u64>,
}

impl Recorder {
    fn observe(
        &mut self,
        t: f64,
        states: &BTreeMap<String, String>,
        half_opens: &BTreeMap<String, u64>,
    ) {
        for (id, state) in states {
            let timeline = self.states.entry(id.clone()).or_default();
            let now = half_opens.get(id).copied();
            let before = match now {
                Some(n) => self.half_opens.insert(id.clone(), n),
                None => None,
            };
            let missed = matches!((before, now), (Some(b), Some(n)) if n > b);
            let last = timeline.last().map(|(_, s)| s.as_str());
            if missed && !timeline.is_empty() && state != HALF_OPEN && last != Some(HALF_OPEN) {
                timeline.push((t, HALF_OPEN.to_owned()));
            }
            if timeline.last().map(|(_, s)| s) != Some(state) {
                timeline.push((t, state.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> HashMap<String, String> {
        [("127.0.0.1:9001", "b1"), ("127.0.0.1:9000", "b0")]
            .map(|(a, id)| (a.to_owned(), id.to_owned()))
            .into()
    }

    #[test]
    fn states_by_id_skip_backends_without_a_breaker() {
        let body = r#"{"generation":1,"upstreams":[{"name":"api","strategy":"round_robin","backends":[
            {"address":"127.0.0.1:9000","breaker":null},
            {"address":"127.0.0.1:9001","breaker":{"state":"open","failure_rate":100.0,"slow_call_rate":null,"buffered_calls":20}},
            {"address":"127.0.0.1:9999","breaker":{"state":"closed"}}]}]}"#;
        let got = states(body, &ids()).expect("parses");
        assert_eq!(got, BTreeMap::from([("b1".into(), "open".into())]));
        assert!(states("not json", &ids()).is_none());
    }

    #[test]
    fn half_open_entries_sum_over_from_states() {
        let text = "# TYPE rampart_circuit_breaker_transitions_total counter\n\
            rampart_circuit_breaker_transitions_total{upstream=\"api\",backend=\"127.0.0.1:9001\",from=\"open\",to=\"half_open\"} 2\n\
            rampart_circuit_breaker_transitions_total{upstream=\"api\",backend=\"127.0.0.1:9001\",from=\"half_open\",to=\"open\"} 1\n\
            rampart_circuit_breaker_state{upstream=\"api\",backend=\"127.0.0.1:9001\",state=\"open\"} 1\n";
        assert_eq!(
            half_open_entries(text, &ids()),
            BTreeMap::from([("b0".into(), 0), ("b1".into(), 2)]),
            "a backend without a series counts 0"
        );
    }

    #[test]
    fn a_first_half_open_between_two_samples_is_noticed() {
        let mut r = Recorder::default();
        let one = |s: &str| BTreeMap::from([("b1".to_owned(), s.to_owned())]);
        let count = |n: u64| BTreeMap::from([("b1".to_owned(), n)]);
        r.observe(0.05, &one("open"), &count(0));
        r.observe(2.20, &one("closed"), &count(1));
        let states: Vec<&str> = r.states["b1"].iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(states, ["open", "half_open", "closed"]);
    }

    #[test]
    fn records_changes_and_a_half_open_the_samples_missed() {
        let mut r = Recorder::default();
        let one = |s: &str| BTreeMap::from([("b1".to_owned(), s.to_owned())]);
        let count = |n: u64| BTreeMap::from([("b1".to_owned(), n)]);
        r.observe(0.05, &one("closed"), &count(0));
        r.observe(0.10, &one("closed"), &count(0));
        r.observe(3.40, &one("open"), &count(0));
        r.observe(5.50, &one("open"), &count(1)); // half-open and back, between samples
        r.observe(7.50, &one("half_open"), &count(1)); // counter read just before the change
        r.observe(7.55, &one("closed"), &count(2)); // that same half-open: nothing extra
        let got: Vec<(f64, &str)> = r.states["b1"]
            .iter()
            .map(|(t, s)| (*t, s.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (0.05, "closed"),
                (3.40, "open"),
                (5.50, "half_open"),
                (5.50, "open"),
                (7.50, "half_open"),
                (7.55, "closed")
            ]
        );
    }
}
