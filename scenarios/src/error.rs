//! Why a suite file was rejected: which file, where, which key, and what to change.

use std::fmt;

/// A suite that cannot run: unreadable, unparsable or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SuiteError {
    /// File name (or `<inline>`, or `bundled:NAME`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// Key path, e.g. `load.phases[0].rate`; empty when the whole file is at fault.
    pub path: String,
    /// What is wrong and what to change.
    pub message: String,
}

impl SuiteError {
    /// An error about `path` in `file`, without a line.
    pub fn new(file: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)
    }
}
