//! `probe`: every answer to a named probe has the right status and an intact body; for raw
//! probes, also whether the server closed the connection and how many responses it sent.

use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::{ProbeResult, RunData};

/// What to verify about a probe's body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    /// Status only.
    #[default]
    None,
    /// Body sha256 equals the backend's `x-content-sha256` (for `/bytes/N`).
    Sha256,
    /// The backend's `sha256` of what it received equals what was sent (for `/upload`).
    Upload,
}

/// Each answer to probe `probe` has `status` and passes `verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeCheck {
    /// Probe name.
    pub probe: String,
    /// Expected status.
    #[serde(default = "ok")]
    pub status: u16,
    /// Body verification.
    #[serde(default)]
    pub verify: Verify,
    /// Streaming: the first body byte must arrive by this fraction of the time the whole body
    /// took (0.5 = halfway). A proxy that buffers the body delivers its first byte at ~1.0.
    #[serde(default)]
    pub max_first_byte_ratio: Option<f64>,
    /// Text every answer's body must contain (its first KiB), e.g. a JSON error code.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Response headers every answer must carry (names, any case).
    #[serde(default)]
    pub headers: Vec<String>,
    /// Raw probes: the server closed the connection after answering (`true`) or kept it
    /// open (`false`).
    #[serde(default)]
    pub closed: Option<bool>,
    /// Raw probes: exactly this many responses on the connection (1: nothing smuggled).
    #[serde(default)]
    pub responses: Option<usize>,
}

fn ok() -> u16 {
    200
}

impl ProbeCheck {
    fn judge(&self, r: &ProbeResult) -> Result<(), String> {
        if let Some(e) = &r.error {
            return Err(format!("request failed: {e}"));
        }
        if r.status != Some(self.status) {
            return Err(match r.status {
                Some(s) => format!("status {s}"),
                None => "no response".to_owned(),
            });
        }
        if let Some(text) = &self.body_contains
            && !r.body_head.contains(text.as_str())
        {
            return Err(format!("body without `{text}`"));
        }
        if let Some(missing) = self
            .headers
            .iter()
            .find(|h| !r.headers.contains_key(&h.to_ascii_lowercase()))
        {
            return Err(format!("no `{missing}` header"));
        }
        if let Some(want) = self.closed
            && r.closed != Some(want)
        {
            return Err(if want {
                "the connection stayed open".to_owned()
            } else {
                "the server closed the connection".to_owned()
            });
        }
        if let Some(want) = self.responses
            && r.responses != Some(want)
        {
            return Err(format!("{} responses", r.responses.unwrap_or(0)));
        }
        if let Some(max) = self.max_first_byte_ratio {
            let ratio = first_byte_ratio(r).ok_or("no body byte arrived")?;
            if ratio > max {
                return Err(format!("first byte at {}", timing(r)));
            }
        }
        match self.verify {
            Verify::None => Ok(()),
            Verify::Sha256 => match &r.declared_sha256 {
                Some(d) if *d == r.body_sha256 => Ok(()),
                Some(_) => Err(format!("body sha256 mismatch after {} bytes", r.body_len)),
                None => Err("no x-content-sha256 header".to_owned()),
            },
            Verify::Upload => match (&r.sent_sha256, &r.echoed_sha256) {
                (Some(s), Some(e)) if s == e => Ok(()),
                (Some(_), Some(_)) => Err("upload sha256 mismatch".to_owned()),
                _ => Err("no upload checksum to compare".to_owned()),
            },
        }
    }
}

/// First body byte's arrival as a fraction of the whole body's, from sending the request.
fn first_byte_ratio(r: &ProbeResult) -> Option<f64> {
    let (first, total) = (r.first_byte_ms?, r.total_ms?);
    Some(if total > 0.0 { first / total } else { 1.0 })
}

/// `12% of total (105ms of 1010ms)`.
fn timing(r: &ProbeResult) -> String {
    format!(
        "{:.0}% of total ({:.0}ms of {:.0}ms)",
        first_byte_ratio(r).unwrap_or(1.0) * 100.0,
        r.first_byte_ms.unwrap_or_default(),
        r.total_ms.unwrap_or_default()
    )
}

impl Check for ProbeCheck {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let mut expected = match self.verify {
            Verify::None => format!("status {}", self.status),
            Verify::Sha256 => format!("status {}, sha256 intact", self.status),
            Verify::Upload => format!("status {}, upload intact", self.status),
        };
        if let Some(max) = self.max_first_byte_ratio {
            expected.push_str(&format!(", 1st byte <= {:.0}%", max * 100.0));
        }
        if let Some(text) = &self.body_contains {
            expected.push_str(&format!(", body has {text}"));
        }
        if !self.headers.is_empty() {
            expected.push_str(&format!(", with {}", self.headers.join(", ")));
        }
        match self.closed {
            Some(true) => expected.push_str(", closed"),
            Some(false) => expected.push_str(", kept open"),
            None => {}
        }
        if let Some(n) = self.responses {
            expected.push_str(&format!(", {n} response(s)"));
        }
        let Some(results) = run.probes.get(&self.probe).filter(|r| !r.is_empty()) else {
            return Outcome::missing(expected, format!("probe `{}` did not run", self.probe));
        };
        let bad: Vec<String> = results.iter().filter_map(|r| self.judge(r).err()).collect();
        let bytes: usize = results.iter().map(|r| r.body_len).sum();
        match bad.first() {
            None => {
                let mut observed =
                    format!("{} of {} ok, {bytes} bytes", results.len(), results.len());
                if let Some(r) = results.first().filter(|r| r.closed.is_some()) {
                    observed = format!(
                        "{} of {} ok: {}, {}, {} response(s)",
                        results.len(),
                        results.len(),
                        r.status.unwrap_or(0),
                        if r.closed == Some(true) {
                            "closed"
                        } else {
                            "open"
                        },
                        r.responses.unwrap_or(0)
                    );
                }
                if self.max_first_byte_ratio.is_some() {
                    // The slowest first byte, relative to its body.
                    let worst = results.iter().max_by(|a, b| {
                        let (a, b) = (first_byte_ratio(a), first_byte_ratio(b));
                        a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
                    });
                    if let Some(r) = worst {
                        observed = format!("1st byte at {}", timing(r));
                    }
                }
                Outcome::new(true, expected, observed)
            }
            Some(first) => Outcome::new(
                false,
                expected,
                format!("{} of {} bad: {first}", bad.len(), results.len()),
            ),
        }
    }
}
