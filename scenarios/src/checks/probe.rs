//! `probe`: every answer to a named probe has the right status and an intact body.

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
            return Err(format!("status {:?}", r.status.unwrap_or(0)));
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

impl Check for ProbeCheck {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let expected = match self.verify {
            Verify::None => format!("status {}", self.status),
            Verify::Sha256 => format!("status {}, sha256 intact", self.status),
            Verify::Upload => format!("status {}, upload intact", self.status),
        };
        let Some(results) = run.probes.get(&self.probe).filter(|r| !r.is_empty()) else {
            return Outcome::missing(expected, format!("probe `{}` did not run", self.probe));
        };
        let bad: Vec<String> = results.iter().filter_map(|r| self.judge(r).err()).collect();
        let bytes: usize = results.iter().map(|r| r.body_len).sum();
        match bad.first() {
            None => Outcome::new(
                true,
                expected,
                format!("{} of {} ok, {bytes} bytes", results.len(), results.len()),
            ),
            Some(first) => Outcome::new(
                false,
                expected,
                format!("{} of {} bad: {first}", bad.len(), results.len()),
            ),
        }
    }
}
