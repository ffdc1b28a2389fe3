//! The `chaos` binary driven with the request bodies of Toxiproxy's README: status codes,
//! bodies, defaults and errors as Toxiproxy 2.x answers them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{read_n, send};

/// A running `chaos` binary on a free port; killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Server {
    /// Starts the binary with `--port 0` and reads the address it prints.
    pub(crate) fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chaos"))
            .args(["--port", "0", "--seed", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("chaos API on ")
            .unwrap_or_else(|| panic!("{line:?}"));
        Self {
            base: base.to_owned(),
            child,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(method: &str, url: String, body: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(body) = body {
        req = req.body(body.to_owned());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn readme_flow_create_toxic_list_update_delete_populate_reset() {
    let server = Server::start(&[]);
    let b = &server.base;
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = upstream.local_addr().unwrap().to_string();

    // Create a proxy (README: {"name": "mysql", "listen": ..., "upstream": ...}).
    let body = format!(r#"{{"name": "mysql", "listen": "127.0.0.1:0", "upstream": "{up}"}}"#);
    let (status, proxy) = call("POST", format!("{b}/proxies"), Some(&body)).await;
    assert_eq!(status, 201, "{proxy}");
    assert_eq!(proxy["name"], "mysql");
    assert_eq!(proxy["upstream"], up);
    assert_eq!(proxy["enabled"], true);
    assert_eq!(proxy["toxics"], json!([]));
    let listen = proxy["listen"].as_str().unwrap().to_owned();
    assert!(!listen.ends_with(":0"), "listen not resolved: {listen}");

    // The same name again is a conflict; a missing upstream a 400.
    let (status, err) = call("POST", format!("{b}/proxies"), Some(&body)).await;
    assert_eq!(
        (status, err),
        (409, json!({"error": "proxy already exists", "status": 409}))
    );
    let (status, err) = call("POST", format!("{b}/proxies"), Some(r#"{"name": "x"}"#)).await;
    assert_eq!(
        (status, err),
        (
            400,
            json!({"error": "missing required field: upstream", "status": 400})
        )
    );
    // A busy listen port is a 500.
    let busy = format!(r#"{{"name": "busy", "listen": "{up}", "upstream": "{up}"}}"#);
    let (status, err) = call("POST", format!("{b}/proxies"), Some(&busy)).await;
    assert_eq!(status, 500, "{err}");
    assert_eq!(err["status"], 500);

    // Add a latency toxic (README: {"type": "latency", "attributes": {"latency": 1000}}).
    let toxics = format!("{b}/proxies/mysql/toxics");
    let (status, toxic) = call(
        "POST",
        toxics.clone(),
        Some(r#"{"type": "latency", "attributes": {"latency": 1000}}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        toxic,
        json!({"attributes": {"latency": 1000, "jitter": 0}, "name": "latency_downstream",
               "type": "latency", "stream": "downstream", "toxicity": 1.0})
    );
    let (status, err) = call("POST", toxics.clone(), Some(r#"{"type": "latency"}"#)).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (409, Some("toxic already exists"))
    );
    let (status, err) = call("POST", toxics.clone(), Some(r#"{"type": "nope"}"#)).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid toxic type"))
    );
    let (status, _) = call(
        "POST",
        toxics.clone(),
        Some(r#"{"type": "latency", "stream": "sideways"}"#),
    )
    .await;
    assert_eq!(status, 400);
    // Stream names are case-insensitive.
    let (status, toxic) = call(
        "POST",
        toxics.clone(),
        Some(r#"{"name": "cut", "type": "limit_data", "stream": "UpStream", "attributes": {"bytes": 5}}"#),
    )
    .await;
    assert_eq!(status, 200, "{toxic}");

    // List: upstream toxics first, like Toxiproxy.
    let (status, list) = call("GET", toxics.clone(), None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cut", "latency_downstream"]);
    let (_, proxies) = call("GET", format!("{b}/proxies"), None).await;
    assert_eq!(proxies["mysql"]["toxics"].as_array().unwrap().len(), 2);

    // Update keeps the fields not sent.
    let one = format!("{toxics}/latency_downstream");
    let (status, toxic) = call(
        "POST",
        one.clone(),
        Some(r#"{"attributes": {"jitter": 50}}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(toxic["attributes"], json!({"latency": 1000, "jitter": 50}));
    assert_eq!(toxic["toxicity"], 1.0);
    let (status, toxic) = call("PATCH", one.clone(), Some(r#"{"toxicity": 0.5}"#)).await;
    assert_eq!(
        (
            status,
            toxic["toxicity"].clone(),
            toxic["attributes"]["jitter"].clone()
        ),
        (200, json!(0.5), json!(50))
    );
    let (status, shown) = call("GET", one.clone(), None).await;
    assert_eq!((status, shown), (200, toxic));

    // Delete the toxic; a second delete is a 404.
    assert_eq!(call("DELETE", one.clone(), None).await.0, 204);
    let (status, err) = call("DELETE", one.clone(), None).await;
    assert_eq!(
        (status, err),
        (404, json!({"error": "toxic not found", "status": 404}))
    );
    let (status, err) = call("GET", format!("{b}/proxies/nope"), None).await;
    assert_eq!(
        (status, err),
        (404, json!({"error": "proxy not found", "status": 404}))
    );

    // Disable through the API: the listener goes away; enable brings it back.
    let (status, p) = call(
        "POST",
        format!("{b}/proxies/mysql"),
        Some(r#"{"enabled": false}"#),
    )
    .await;
    assert_eq!((status, p["enabled"].clone()), (200, json!(false)));
    assert!(TcpStream::connect(&listen).await.is_err());
    // Reset re-enables every proxy and removes every toxic.
    assert_eq!(call("POST", format!("{b}/reset"), None).await.0, 204);
    let (_, p) = call("GET", format!("{b}/proxies/mysql"), None).await;
    assert_eq!(
        (p["enabled"].clone(), p["toxics"].clone()),
        (json!(true), json!([]))
    );
    let mut client = TcpStream::connect(&listen).await.unwrap();
    let (mut srv, _) = upstream.accept().await.unwrap();
    send(&mut client, b"through").await;
    assert_eq!(read_n(&mut srv, 7).await, b"through");

    // Populate: 201 with {"proxies": [...]}; an identical entry is kept, not restarted.
    let pop = format!(
        r#"[{{"name": "web_dev_frontend_1", "listen": "127.0.0.1:0", "upstream": "{up}"}},
            {{"name": "mysql", "listen": "{listen}", "upstream": "{up}"}}]"#
    );
    let (status, res) = call("POST", format!("{b}/populate"), Some(&pop)).await;
    assert_eq!(status, 201, "{res}");
    let listed = res["proxies"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["listen"], listen.as_str());
    let (status, err) = call(
        "POST",
        format!("{b}/populate"),
        Some(r#"[{"upstream": "x:1"}]"#),
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("missing required field: name at proxy 1"))
    );

    // Delete a proxy; version and metrics.
    assert_eq!(
        call("DELETE", format!("{b}/proxies/web_dev_frontend_1"), None)
            .await
            .0,
        204
    );
    let (status, v) = call("GET", format!("{b}/version"), None).await;
    assert_eq!((status, v["version"].is_string()), (200, true));
    let (status, m) = call("GET", format!("{b}/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(
        m.as_str()
            .unwrap()
            .contains("chaos_connections_accepted_total{proxy=\"mysql\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn config_file_preloads_proxies() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = upstream.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxies.json");
    std::fs::write(
        &path,
        format!(r#"[{{"name": "db", "listen": "127.0.0.1:0", "upstream": "{up}"}}]"#),
    )
    .unwrap();
    let server = Server::start(&["--config", path.to_str().unwrap()]);
    let (status, p) = call("GET", format!("{}/proxies/db", server.base), None).await;
    assert_eq!(
        (status, p["upstream"].as_str()),
        (200, Some(up.to_string().as_str()))
    );
}
