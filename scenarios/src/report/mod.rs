//! Reports of a run: the console table, JUnit XML, JSON and a self-contained HTML page.

mod html;
mod json;
mod junit;
mod svg;
mod table;

pub use html::html;
pub use json::json;
pub use junit::junit;
pub use table::table;

/// Escapes text for XML and HTML.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
