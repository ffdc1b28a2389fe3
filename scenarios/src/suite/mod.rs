//! Suites: the file model, parsing, validation and the bundled set.

mod bundled;
pub mod chaos;
mod fill;
pub mod model;
mod parse;
mod security;
mod validate;

pub use bundled::{BUNDLED, bundled};
pub use fill::{REDIS_PLACEHOLDER, fill_placeholders};
pub use model::*;
pub use parse::{parse_file, parse_str};
pub use validate::{proxy_text, validate};

use std::path::{Path, PathBuf};

use crate::error::SuiteError;

/// A parsed, validated suite with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedSuite {
    /// The suite.
    pub suite: Suite,
    /// Source name for messages (`bundled:NAME` or the path).
    pub source: String,
    /// Directory relative paths (e.g. `proxy.file`) resolve against.
    pub dir: PathBuf,
}

impl LoadedSuite {
    /// Parses and validates suite text.
    pub fn from_str(text: &str, source: &str, dir: &Path) -> Result<Self, SuiteError> {
        let suite = parse_str(text, source)?;
        validate(&suite, source, dir)?;
        Ok(Self {
            suite,
            source: source.to_owned(),
            dir: dir.to_owned(),
        })
    }

    /// Reads, parses and validates a suite file.
    pub fn from_file(path: &Path) -> Result<Self, SuiteError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SuiteError::new(&source, "", format!("cannot read suite file: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        Self::from_str(&text, &source, &dir)
    }

    /// A bundled suite by name, or a file path; `Err` names the bundled suites when neither.
    pub fn resolve(name_or_file: &str) -> Result<Self, SuiteError> {
        if let Some(text) = bundled(name_or_file) {
            return Self::from_str(text, &format!("bundled:{name_or_file}"), Path::new("."));
        }
        let path = Path::new(name_or_file);
        if path.exists() {
            return Self::from_file(path);
        }
        let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
        Err(SuiteError::new(
            name_or_file,
            "",
            format!(
                "no bundled suite or file by this name; bundled: {}",
                names.join(", ")
            ),
        ))
    }
}

impl Suite {
    /// Multiplies every duration and time (phases, timeline, windows) by `factor`.
    pub fn scale_time(&mut self, factor: f64) {
        for p in &mut self.load.phases {
            p.scale(factor);
        }
        for a in &mut self.timeline {
            a.at = a.at.mul_f64(factor);
        }
        for c in &mut self.expect {
            if let Some(w) = c.window_mut() {
                w.scale(factor);
            }
        }
    }

    /// Timeline action names, defaulting to `action-N`.
    pub fn action_names(&self) -> Vec<String> {
        self.timeline
            .iter()
            .enumerate()
            .map(|(i, a)| a.name.clone().unwrap_or_else(|| format!("action-{i}")))
            .collect()
    }
}
