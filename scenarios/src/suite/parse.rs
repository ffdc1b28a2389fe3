//! Suite text → [`Suite`]: serde-saphyr with the key path (serde_path_to_error) and line.

use std::path::Path;

use super::model::Suite;
use crate::error::SuiteError;

/// Parses suite YAML; `file` names the source in errors. Does not validate (see `validate`).
pub fn parse_str(text: &str, file: &str) -> Result<Suite, SuiteError> {
    let mut path = String::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let line = e.location().map(|l| l.line());
        let path = if path == "." { String::new() } else { path };
        SuiteError {
            file: file.to_owned(),
            line,
            path,
            message: first_line(&e.to_string()),
        }
    })
}

/// Reads and parses a suite file.
pub fn parse_file(path: &Path) -> Result<Suite, SuiteError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| SuiteError::new(&file, "", format!("cannot read suite file: {e}")))?;
    parse_str(&text, &file)
}

/// serde-saphyr's message without its source snippet and `error: line L column C:` prefix
/// (the line is reported separately).
fn first_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim();
    let rest = first.strip_prefix("error: ").unwrap_or(first);
    match rest.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((position, tail)) if position.contains("column") => tail.to_owned(),
        _ => rest.to_owned(),
    }
}
