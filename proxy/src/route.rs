//! Host + path routing: precompiled rules, most specific wins.

use crate::config::{HostMatch, RouteConfig};

/// The compiled route table; [`RouteTable::find`] is the hot-path lookup.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// Routes sorted most specific first: exact host, then suffix (longest first), then any;
    /// within each, longest path prefix first; file order breaks ties.
    routes: Vec<RouteConfig>,
    /// `index[i]`: the position of `routes[i]` in the config's list.
    index: Vec<usize>,
}

impl RouteTable {
    /// Compiles the routes into lookup order.
    pub fn new(routes: &[RouteConfig]) -> Self {
        let mut routes: Vec<(usize, RouteConfig)> = routes.iter().cloned().enumerate().collect();
        routes.sort_by_key(|(i, r)| {
            let host_rank = match &r.host {
                HostMatch::Exact(_) => (0, 0),
                HostMatch::Suffix(s) => (1, usize::MAX - s.len()),
                HostMatch::Any => (2, 0),
            };
            (host_rank, usize::MAX - r.path_prefix.len(), *i)
        });
        Self {
            index: routes.iter().map(|(i, _)| *i).collect(),
            routes: routes.into_iter().map(|(_, r)| r).collect(),
        }
    }

    /// The route for this host (any case, port allowed) and path, if any.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&RouteConfig> {
        self.find_indexed(host, path).map(|(_, r)| r)
    }

    /// The route for this host and path with its index in the config's `routes`.
    pub fn find_indexed(&self, host: Option<&str>, path: &str) -> Option<(usize, &RouteConfig)> {
        let host = host.map(strip_port);
        let at = self
            .routes
            .iter()
            .position(|r| host_matches(&r.host, host) && prefix_matches(&r.path_prefix, path))?;
        Some((self.index[at], &self.routes[at]))
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn host_matches(rule: &HostMatch, host: Option<&str>) -> bool {
    match (rule, host) {
        (HostMatch::Any, _) => true,
        (HostMatch::Exact(want), Some(h)) => h.eq_ignore_ascii_case(want),
        (HostMatch::Suffix(suffix), Some(h)) => {
            // Compared as bytes: a non-ASCII host must not split a character.
            h.len() > suffix.len()
                && h.as_bytes()[h.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
        }
        (_, None) => false,
    }
}

/// `/api` matches `/api`, `/api/x` and `/api?q`, not `/apix`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The path sent upstream when `strip_prefix` is on: the remainder, never empty.
pub fn strip(prefix: &str, path: &str) -> String {
    if prefix == "/" {
        return path.to_string();
    }
    let rest = path.strip_prefix(prefix).unwrap_or(path);
    if rest.is_empty() {
        "/".to_string()
    } else {
        rest.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, host: HostMatch, prefix: &str) -> RouteConfig {
        RouteConfig {
            name: name.into(),
            host,
            path_prefix: prefix.into(),
            upstream: 0,
            strip_prefix: false,
            preserve_host: true,
            ip_filter: None,
            rate_limit: None,
            methods: None,
            max_body_bytes: None,
            websocket: None,
            sse_failover: None,
        }
    }

    fn table() -> RouteTable {
        RouteTable::new(&[
            route("any-root", HostMatch::Any, "/"),
            route("any-api", HostMatch::Any, "/api"),
            route("wild", HostMatch::Suffix(".example.test".into()), "/"),
            route("exact", HostMatch::Exact("api.example.test".into()), "/"),
            route(
                "exact-v1",
                HostMatch::Exact("api.example.test".into()),
                "/v1",
            ),
        ])
    }

    fn name(host: Option<&str>, path: &str) -> String {
        table()
            .find(host, path)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    }

    #[test]
    fn most_specific_route_wins() {
        assert_eq!(name(Some("api.example.test"), "/v1/users"), "exact-v1");
        assert_eq!(name(Some("API.example.test:8080"), "/v2"), "exact");
        assert_eq!(name(Some("www.example.test"), "/api"), "wild");
        assert_eq!(name(Some("example.test"), "/api/x"), "any-api");
        assert_eq!(name(Some("other"), "/apix"), "any-root");
        assert_eq!(name(None, "/"), "any-root");
        assert_eq!(
            name(Some("é.example.test"), "/"),
            "wild",
            "non-ASCII hosts never split a char"
        );
        assert_eq!(name(Some("ééééééééééééééé"), "/"), "any-root");
    }

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/"));
        assert!(!prefix_matches("/api", "/apix"));
        assert_eq!(strip("/api", "/api/users"), "/users");
        assert_eq!(strip("/api", "/api"), "/");
    }

    #[test]
    fn ports_and_ipv6_literals_are_ignored_for_matching() {
        assert_eq!(strip_port("[::1]:8080"), "::1");
        assert_eq!(strip_port("host:80"), "host");
        assert_eq!(strip_port("host"), "host");
    }
}
