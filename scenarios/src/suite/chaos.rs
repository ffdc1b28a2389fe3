//! Chaos links and the toxic timeline actions: where a link sits, and the action bodies
//! (`add_toxic: { link, name, type, stream, toxicity, attributes }`, `remove_toxic: { link,
//! name }`), checked before a run and parsed again when applied.

use chaos::ToxicSpec;
use serde_json::Value;

use super::model::ChaosLink;

/// The pseudo toxic that takes a link down (disables its fault proxy) until removed.
pub const DOWN: &str = "down";

/// Where a chaos link sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEnd {
    /// Between the load generator (and probes) and the proxy's first listener.
    ClientProxy,
    /// Between the proxy and this backend.
    ProxyBackend(String),
}

/// Parses `client->proxy` or `proxy->bN` (spaces allowed around the arrow).
pub fn link_end(text: &str) -> Result<LinkEnd, String> {
    let (from, to) = text
        .split_once("->")
        .ok_or_else(|| format!("`{text}`: write `client->proxy` or `proxy->bN`"))?;
    match (from.trim(), to.trim()) {
        ("client", "proxy") => Ok(LinkEnd::ClientProxy),
        ("proxy", id) if id.starts_with('b') => Ok(LinkEnd::ProxyBackend(id.to_owned())),
        _ => Err(format!("`{text}`: write `client->proxy` or `proxy->bN`")),
    }
}

/// What an `add_toxic` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum AddToxic {
    /// Add this toxic to the link.
    Toxic {
        /// The link's name.
        link: String,
        /// The toxic.
        toxic: ToxicSpec,
    },
    /// Disable the link's fault proxy (connections closed, new ones refused).
    Down {
        /// The link's name.
        link: String,
    },
}

fn link_of(v: &Value) -> Result<(String, serde_json::Map<String, Value>), String> {
    let Value::Object(map) = v else {
        return Err("expected a map with `link` and the toxic's fields".to_owned());
    };
    let mut map = map.clone();
    match map.remove("link") {
        Some(Value::String(link)) => Ok((link, map)),
        _ => Err("`link` (the chaos link's name) is required".to_owned()),
    }
}

/// Parses and checks an `add_toxic` body (the toxic is built, so bad attributes fail here).
pub fn parse_add(v: &Value) -> Result<AddToxic, String> {
    let (link, rest) = link_of(v)?;
    if rest.get("type").and_then(Value::as_str) == Some(DOWN) {
        return Ok(AddToxic::Down { link });
    }
    let toxic: ToxicSpec =
        serde_json::from_value(Value::Object(rest)).map_err(|e| e.to_string())?;
    let built = chaos::spec::build(&toxic).map_err(|e| format!("{}: {e}", toxic.kind))?;
    Ok(AddToxic::Toxic {
        link,
        toxic: built.spec,
    })
}

/// Parses a `remove_toxic` body: (link, toxic name); the name `down` brings the link back up.
pub fn parse_remove(v: &Value) -> Result<(String, String), String> {
    let (link, rest) = link_of(v)?;
    match rest.get("name") {
        Some(Value::String(name)) => Ok((link, name.clone())),
        _ => Err("`name` (the toxic's name, e.g. latency_downstream) is required".to_owned()),
    }
}

/// A short label for a toxic action: `LINK KEY-VALUE`, e.g. `b1-link latency`.
pub fn label(v: &Value, key: &str) -> String {
    let link = v.get("link").and_then(Value::as_str).unwrap_or("?");
    let what = v.get(key).and_then(Value::as_str).unwrap_or("?");
    format!("{link} {what}")
}

/// Checks the links: unique names, known ends (one link per end), toxics that build.
pub fn check_links(links: &[ChaosLink], backend_ids: &[String]) -> Result<(), (String, String)> {
    let mut ends = Vec::new();
    for (i, l) in links.iter().enumerate() {
        let key = format!("chaos[{i}]");
        if links[..i].iter().any(|o| o.name == l.name) {
            return Err((format!("{key}.name"), format!("`{}` is used twice", l.name)));
        }
        let end = link_end(&l.link).map_err(|e| (format!("{key}.link"), e))?;
        if let LinkEnd::ProxyBackend(id) = &end
            && !backend_ids.contains(id)
        {
            return Err((
                format!("{key}.link"),
                format!("no backend `{id}`; ids are {}", backend_ids.join(", ")),
            ));
        }
        if ends.contains(&end) {
            return Err((
                format!("{key}.link"),
                format!("a second link on `{}`", l.link),
            ));
        }
        ends.push(end);
        for (j, t) in l.toxics.iter().enumerate() {
            chaos::spec::build(t).map_err(|e| (format!("{key}.toxics[{j}]"), e.to_string()))?;
        }
    }
    Ok(())
}
