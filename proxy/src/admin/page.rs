//! The live admin page at `GET /`: one self-contained HTML file (inline CSS and plain
//! JavaScript, nothing fetched from elsewhere) that polls `/admin/summary`, `/admin/upstreams`
//! and `/readyz` every second. Its `<noscript>` part is rendered here, from the state at load.

use serde_json::Value;
use std::fmt::Write;

const PAGE: &str = include_str!("page.html");

/// The page, with the server-side table of `upstreams` (the `/admin/upstreams` JSON) and the
/// totals of `summary` in its `<noscript>` fallback.
pub(super) fn render(upstreams: &Value, summary: &Value) -> String {
    PAGE.replace("{{NOSCRIPT}}", &fallback(upstreams, summary))
}

fn fallback(upstreams: &Value, summary: &Value) -> String {
    let mut out = String::with_capacity(1024);
    let _ = write!(
        out,
        "<p>requests total: {}, 5xx total: {}, in flight: {}, draining: {}</p>",
        summary["requests"], summary["errors"], summary["in_flight"], summary["draining"]
    );
    out.push_str(
        "<table><thead><tr><th>upstream</th><th>backend</th><th>health</th><th>breaker</th>\
         <th>requests</th><th>failures</th></tr></thead><tbody>",
    );
    for u in upstreams["upstreams"].as_array().into_iter().flatten() {
        let name = u["name"].as_str().unwrap_or("");
        for b in u["backends"].as_array().into_iter().flatten() {
            let healthy = b["healthy"].as_bool().unwrap_or(false);
            let breaker = b["breaker"]["state"].as_str().unwrap_or("none");
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                escape(b["address"].as_str().unwrap_or("")),
                if healthy { "healthy" } else { "unhealthy" },
                escape(breaker),
                b["requests"],
                b["failures"],
            );
        }
    }
    out.push_str("</tbody></table>");
    out
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fallback_lists_backends_with_health_and_breaker() {
        let upstreams = json!({ "upstreams": [{ "name": "api", "backends": [
            { "address": "127.0.0.1:9001", "healthy": true, "breaker": { "state": "forced_open" }, "requests": 3, "failures": 1 },
            { "address": "127.0.0.1:9002", "healthy": false, "breaker": null, "requests": 0, "failures": 0 },
        ]}]});
        let summary = json!({ "requests": 3, "errors": 1, "in_flight": 0, "draining": false });
        let page = render(&upstreams, &summary);
        assert!(page.contains("<td>127.0.0.1:9001</td><td>healthy</td><td>forced_open</td>"));
        assert!(page.contains("<td>127.0.0.1:9002</td><td>unhealthy</td><td>none</td>"));
        assert!(!page.contains("{{NOSCRIPT}}"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "nothing fetched from outside"
        );
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
