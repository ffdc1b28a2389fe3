//! Validation of a [`LoadSpec`] into a runnable plan (typed, parsed once).

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Uri};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use crate::proto::conn::Sources;
use crate::proto::h1fast::Wire;
use crate::request::Templates;
use crate::schedule::Schedule;
use crate::spec::{LoadSpec, Protocol};

/// Longest run (`duration`, or the stages added up) and longest `timeout` a spec may ask for.
pub(crate) const MAX_RUN: Duration = Duration::from_secs(7 * 24 * 3600);

/// A spec that cannot run; names the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SpecError {
    /// The offending field, e.g. `requests[1].method`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl SpecError {
    pub(crate) fn new(field: impl Into<String>, reason: impl Display) -> Self {
        Self {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `host:port` for `TcpStream::connect`.
    pub(crate) addr: String,
    pub(crate) tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    pub(crate) uri: Uri,
    /// Local addresses connections are made from, in turn.
    pub(crate) sources: Arc<Sources>,
}

/// A validated spec.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) target: Target,
    pub(crate) protocol: Protocol,
    pub(crate) schedule: Option<Schedule>,
    pub(crate) duration: Option<Duration>,
    pub(crate) connections: usize,
    pub(crate) streams: usize,
    pub(crate) threads: usize,
    pub(crate) budget: Option<u64>,
    pub(crate) timeout: Duration,
    pub(crate) templates: Arc<Templates>,
    /// Pre-serialised requests for the HTTP/1.1 fast path; `None` means hyper.
    pub(crate) wire: Option<Arc<Wire>>,
    pub(crate) group_header: Option<HeaderName>,
    pub(crate) ws_message: String,
}

impl Plan {
    /// Checks every field and builds the plan.
    pub(crate) fn new(spec: &LoadSpec) -> Result<Self, SpecError> {
        let uri: Uri = spec.url.parse().map_err(|e| SpecError::new("url", e))?;
        let secure = match (uri.scheme_str(), spec.protocol) {
            (Some("http"), Protocol::Http1 | Protocol::Http2 | Protocol::Sse) => false,
            (Some("https"), Protocol::Http1 | Protocol::Http2 | Protocol::Sse) => true,
            (Some("ws"), Protocol::Ws) => false,
            (Some("wss"), Protocol::Ws) => true,
            (s, p) => {
                return Err(SpecError::new(
                    "url",
                    format!(
                        "scheme {s:?} does not fit protocol {p:?} (http/https, or ws/wss for ws)"
                    ),
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| SpecError::new("url", "has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let tls = if secure {
            let name = spec.tls.server_name.clone().unwrap_or_else(|| host.clone());
            let name =
                ServerName::try_from(name).map_err(|e| SpecError::new("tls.server_name", e))?;
            Some((
                crate::proto::tls::client_config(&spec.tls, spec.protocol)?,
                name,
            ))
        } else {
            None
        };
        if spec.connections == 0 {
            return Err(SpecError::new("connections", "must be at least 1"));
        }
        if spec.streams_per_connection == 0 {
            return Err(SpecError::new(
                "streams_per_connection",
                "must be at least 1",
            ));
        }
        let streams = if spec.protocol == Protocol::Http2 {
            spec.streams_per_connection
        } else {
            1
        };
        check_length("duration", spec.duration)?;
        check_length("timeout", Some(spec.timeout))?;
        let schedule = match (spec.rate, spec.stages.is_empty()) {
            (Some(_), false) => return Err(SpecError::new("rate", "set rate or stages, not both")),
            (Some(rate), true) => {
                if !(rate > 0.0 && rate.is_finite()) {
                    return Err(SpecError::new(
                        "rate",
                        format!("must be a finite number above 0, got {rate}"),
                    ));
                }
                let duration = spec.duration.ok_or_else(|| {
                    SpecError::new("duration", "open mode with rate needs a duration")
                })?;
                Some(Schedule::constant(rate, duration))
            }
            (None, false) => {
                if spec.duration.is_some() {
                    return Err(SpecError::new("duration", "stages set their own durations"));
                }
                check_stages(&spec.stages)?;
                Some(Schedule::from_stages(&spec.stages))
            }
            (None, true) => None,
        };
        if schedule.is_some() && spec.max_requests.is_some() {
            return Err(SpecError::new(
                "max_requests",
                "only applies to closed mode",
            ));
        }
        if schedule.is_some() && spec.protocol == Protocol::Sse {
            return Err(SpecError::new(
                "rate",
                "sse holds streams; use connections and duration",
            ));
        }
        if schedule.is_none() && spec.duration.is_none() && spec.max_requests.is_none() {
            return Err(SpecError::new(
                "duration",
                "closed mode needs a duration or max_requests",
            ));
        }
        if spec.protocol == Protocol::Sse && spec.duration.is_none() {
            return Err(SpecError::new("duration", "sse needs a duration"));
        }
        let http2 = spec.protocol == Protocol::Http2;
        let templates = Templates::build(&uri, &spec.requests, spec.key.as_ref(), http2)?;
        let group_header = spec
            .group_by_header
            .as_deref()
            .map(|h| {
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|e| SpecError::new("group_by_header", e))
            })
            .transpose()?;
        let threads = match spec.threads {
            Some(0) => return Err(SpecError::new("threads", "must be at least 1")),
            Some(n) => n,
            None => default_threads(schedule.as_ref()),
        };
        Ok(Self {
            target: Target {
                addr,
                tls,
                uri,
                sources: Arc::new(Sources::new(spec.source_ips.clone())),
            },
            protocol: spec.protocol,
            duration: schedule.as_ref().map(Schedule::duration).or(spec.duration),
            schedule,
            connections: spec.connections,
            streams,
            threads,
            budget: spec.max_requests,
            timeout: spec.timeout,
            wire: (spec.protocol == Protocol::Http1)
                .then(|| Wire::build(&templates).map(Arc::new))
                .flatten(),
            templates: Arc::new(templates),
            group_header,
            ws_message: spec.ws_message.clone().unwrap_or_else(|| "ping".to_owned()),
        })
    }
}

/// Refuses a length over [`MAX_RUN`], naming the field.
fn check_length(field: &str, length: Option<Duration>) -> Result<(), SpecError> {
    match length {
        Some(length) if length > MAX_RUN => Err(SpecError::new(
            field,
            format!(
                "{} is longer than the maximum of {}",
                humantime::format_duration(length),
                humantime::format_duration(MAX_RUN)
            ),
        )),
        _ => Ok(()),
    }
}

/// Rates must be finite and >= 0; the stages together must last at most [`MAX_RUN`].
fn check_stages(stages: &[crate::spec::Stage]) -> Result<(), SpecError> {
    let mut total = Duration::ZERO;
    for (i, stage) in stages.iter().enumerate() {
        let rates = [("rate", Some(stage.rate)), ("to_rate", stage.to_rate)];
        for (name, rate) in rates {
            if let Some(rate) = rate.filter(|r| !(r.is_finite() && *r >= 0.0)) {
                return Err(SpecError::new(
                    format!("stages[{i}].{name}"),
                    format!("must be a finite number >= 0, got {rate}"),
                ));
            }
        }
        total = total
            .checked_add(stage.duration)
            .filter(|t| *t <= MAX_RUN)
            .ok_or_else(|| {
                SpecError::new(
                    format!("stages[{i}].duration"),
                    format!(
                        "the stages up to here last longer than the maximum of {}",
                        humantime::format_duration(MAX_RUN)
                    ),
                )
            })?;
    }
    Ok(())
}

/// Open-mode rate one generator thread paces comfortably (it closes 50k+/s closed-loop).
const RATE_PER_THREAD: f64 = 25_000.0;

/// One thread per CPU; in open mode only as many as the peak rate needs and one CPU fewer than
/// the machine has, since a thread finishing each wait precisely spins and would take a core
/// from a server on the same machine (on 2 cores at 50,000/s, two spinning threads left nginx
/// too little CPU: p50 50 ms, against 0.04 ms with one).
fn default_threads(schedule: Option<&Schedule>) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    match schedule {
        Some(s) => ((s.peak_rate() / RATE_PER_THREAD).ceil() as usize).clamp(1, (cpus - 1).max(1)),
        None => cpus,
    }
}
