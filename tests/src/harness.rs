//! Starting the proxy in-process on `127.0.0.1:0` and polling with deadlines.

use proxy::{ConfigSource, Proxy, ProxyHandle};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// Upper bound for any single wait in a test.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A config with one listener and admin on port 0, one upstream `api` with these backends and
/// a catch-all route `default`; richer configs use [`config_with`].
pub fn simple_config(backends: &[SocketAddr]) -> String {
    config_with(
        &upstream_yaml("api", backends, ""),
        "  - { name: default, match: { path_prefix: / }, upstream: api }\n",
        "",
    )
}

/// One `upstreams:` entry; `timeouts` is e.g. `"timeouts: { response_header: 200ms }"`.
pub fn upstream_yaml(name: &str, backends: &[SocketAddr], timeouts: &str) -> String {
    let list: Vec<String> = backends
        .iter()
        .map(|a| format!("{{ address: \"{a}\" }}"))
        .collect();
    let timeouts = if timeouts.is_empty() {
        String::new()
    } else {
        format!(", {timeouts}")
    };
    format!(
        "  {name}: {{ backends: [{}]{timeouts} }}\n",
        list.join(", ")
    )
}

/// A full config from `upstreams:` and `routes:` entries (already indented) plus extra
/// top-level sections.
pub fn config_with(upstreams: &str, routes: &str, extra: &str) -> String {
    format!(
        "listeners: [{{ name: http, bind: \"127.0.0.1:0\" }}]\n\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         logging: {{ access_log: false }}\n\
         upstreams:\n{upstreams}routes:\n{routes}{extra}"
    )
}

/// Starts the proxy from inline YAML.
pub async fn start(yaml: &str) -> ProxyHandle {
    Proxy::start(ConfigSource::Inline(yaml.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("proxy did not start: {e}\n{yaml}"))
}

/// The proxy's base URL, `http://127.0.0.1:port`.
pub fn base_url(handle: &ProxyHandle) -> String {
    format!("http://{}", handle.first_addr())
}

/// The admin API's base URL.
pub fn admin_url(handle: &ProxyHandle) -> String {
    format!("http://{}", handle.admin_addr().expect("admin enabled"))
}

/// One parsed `GET /metrics` scrape of the proxy's admin listener (panics on a bad one).
pub async fn scrape(handle: &ProxyHandle) -> Vec<crate::prom::Sample> {
    let url = format!("{}/metrics", admin_url(handle));
    let text = within("metrics", async { reqwest::get(url).await?.text().await })
        .await
        .unwrap();
    crate::prom::parse(&text).unwrap()
}

/// Runs `fut` with the test [`DEADLINE`], panicking with `what` if it does not finish.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Polls `check` until it returns `Some`, or panics with `what` after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// An HTTP client whose connections come from the loopback address `from` (e.g. `127.0.0.2`:
/// Linux routes all of 127.0.0.0/8 to `lo` without setup).
pub fn client_from(from: &str) -> reqwest::Client {
    let ip: std::net::IpAddr = from.parse().expect("a literal IP address");
    reqwest::Client::builder()
        .local_address(ip)
        .no_proxy()
        .build()
        .expect("a reqwest client")
}
