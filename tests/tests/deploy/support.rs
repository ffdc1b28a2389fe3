//! Shared helpers: repository paths, YAML documents, the workspace binaries and their flags,
//! and an in-process proxy started from a deployment config.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (the workspace).
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// The text of a repository file.
pub(crate) fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every YAML document of a repository file, as JSON values (`---` separated).
pub(crate) fn yaml_docs(rel: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(&read(rel))
        .unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// The one YAML document of a repository file.
pub(crate) fn yaml(rel: &str) -> Value {
    let mut docs = yaml_docs(rel);
    assert_eq!(docs.len(), 1, "{rel}: expected one YAML document");
    docs.remove(0)
}

/// `value[path…]` as a string, or a panic naming `what` and the path.
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str], what: &str) -> &'a str {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: {} is not a string: {v}", path.join(".")))
}

/// A workspace binary built next to this test (`target/<profile>/<name>`).
///
/// Cargo hands a test only the binaries of its own package, so this one is found by path:
/// `cargo nextest run --workspace` (CI) builds every package's binaries there, fresh. When a
/// narrower run has not, the test fails saying how to build them.
pub(crate) fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace binaries first with \
         `cargo build -p proxy -p loadgen -p mock-backends -p chaos` \
         (`cargo nextest run --workspace` builds them)",
        path.display()
    );
    path
}

/// Runs a workspace binary with `args` (bounded: every binary run here exits by itself).
pub(crate) fn run(name: &str, args: &[&str]) -> Output {
    Command::new(bin(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"))
}

/// `rampart --config FILE --check` succeeds, or the panic shows what it said.
pub(crate) fn rampart_check(config: &Path) {
    let config = config.to_str().expect("a UTF-8 path");
    let out = run("rampart", &["--config", config, "--check"]);
    assert!(
        out.status.success(),
        "rampart --check refused {config}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The long (`--name`) and short (`-x`) flags a binary's `--help` lists; `sub` is a
/// subcommand path (e.g. `["merge"]`).
pub(crate) fn help_flags(name: &str, sub: &[&str]) -> BTreeSet<String> {
    let mut args: Vec<&str> = sub.to_vec();
    args.push("--help");
    let out = run(name, &args);
    assert!(out.status.success(), "{name} {args:?} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut flags = BTreeSet::new();
    for token in text.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']') {
        let name: String = token
            .trim_start_matches('-')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let dashes = token.len() - token.trim_start_matches('-').len();
        match dashes {
            2 if !name.is_empty() => flags.insert(format!("--{name}")),
            1 if name.len() == 1 => flags.insert(format!("-{name}")),
            _ => false,
        };
    }
    flags
}

/// Every flag in `args` (`--name`, `--name=value`, `-x`) that `name`'s `--help` does not list.
pub(crate) fn unknown_flags(name: &str, sub: &[&str], args: &[String]) -> Vec<String> {
    let known = help_flags(name, sub);
    args.iter()
        .filter(|a| a.starts_with('-') && a.len() > 1)
        .map(|a| a.split('=').next().unwrap_or(a).to_owned())
        .filter(|flag| !known.contains(flag))
        .collect()
}

/// The subcommands `rampart --help` lists.
pub(crate) fn rampart_subcommands() -> BTreeSet<String> {
    let out = run("rampart", &["--help"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some((_, commands)) = text.split_once("Commands:") else {
        return BTreeSet::new();
    };
    commands
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The config as a JSON value with every listener and the admin API on `127.0.0.1:0` and every
/// backend on a low loopback port nothing listens on (1, 2, …), so it starts in a test without fixed ports or
/// DNS; everything else as written.
pub(crate) fn local_config(config: &Value) -> String {
    let mut config = config.clone();
    if let Some(listeners) = config["listeners"].as_array_mut() {
        for l in listeners {
            l["bind"] = Value::from("127.0.0.1:0");
        }
    }
    config["admin"]["bind"] = Value::from("127.0.0.1:0");
    if let Some(upstreams) = config["upstreams"].as_object_mut() {
        for upstream in upstreams.values_mut() {
            let backends = upstream["backends"].as_array_mut().into_iter().flatten();
            for (i, b) in backends.enumerate() {
                b["address"] = Value::from(format!("127.0.0.1:{}", i + 1));
            }
        }
    }
    config.to_string()
}

/// The port of an `ip:port` or `host:port` text.
pub(crate) fn port_of(address: &str) -> u16 {
    let (_, port) = address
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{address:?} has no port"));
    port.parse()
        .unwrap_or_else(|_| panic!("{address:?}: bad port"))
}

/// The ports of the config's listeners and of its admin API.
pub(crate) fn config_ports(config: &Value) -> (Vec<u16>, u16) {
    let listeners = config["listeners"]
        .as_array()
        .expect("listeners")
        .iter()
        .map(|l| port_of(str_at(l, &["bind"], "listener")))
        .collect();
    (
        listeners,
        port_of(str_at(config, &["admin", "bind"], "admin")),
    )
}

/// Facts about a running proxy's admin API that the artefacts are checked against.
pub(crate) struct Admin {
    /// Status of `GET path` for each asked path.
    pub(crate) statuses: Vec<(String, u16)>,
    /// `/admin/config`: the effective config with defaults filled in.
    pub(crate) effective: Value,
}

/// Starts the proxy in-process from `config` (see [`local_config`]), asks its admin API for
/// `paths` and the effective config, and stops it.
pub(crate) async fn admin_facts(config: &Value, paths: &[&str]) -> Admin {
    let proxy = tests::harness::start(&local_config(config)).await;
    let base = tests::harness::admin_url(&proxy);
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for path in paths {
        let resp = tests::harness::within(path, client.get(format!("{base}{path}")).send())
            .await
            .expect("admin answers");
        statuses.push(((*path).to_owned(), resp.status().as_u16()));
    }
    let effective: Value = client
        .get(format!("{base}/admin/config"))
        .send()
        .await
        .expect("admin answers")
        .json()
        .await
        .expect("/admin/config is JSON");
    tests::harness::within("shutdown", proxy.shutdown()).await;
    Admin {
        statuses,
        effective: effective["config"].clone(),
    }
}

/// The status `path` got in [`admin_facts`].
pub(crate) fn status_of(admin: &Admin, path: &str) -> u16 {
    admin
        .statuses
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("{path} was not asked"))
}

/// Seconds in a duration as the config writes it (`250ms`, `2s`, `1m 30s`).
pub(crate) fn seconds(text: &str) -> f64 {
    humantime::parse_duration(text)
        .unwrap_or_else(|e| panic!("{text:?} is not a duration: {e}"))
        .as_secs_f64()
}

/// The drain keys under `server` that bound how long a stopping proxy takes: whichever of them
/// the proxy's config model has (`drain_delay` is optional), each with its effective value.
pub(crate) const DRAIN_KEYS: [&str; 3] =
    ["drain_delay", "shutdown_timeout", "stream_drain_timeout"];

/// The sum, in seconds, of the [`DRAIN_KEYS`] present in an effective config.
pub(crate) fn drain_seconds(effective: &Value) -> (f64, Vec<String>) {
    let mut total = 0.0;
    let mut seen = Vec::new();
    for key in DRAIN_KEYS {
        let v = &effective["server"][key];
        let secs = match v {
            Value::Null => continue,
            Value::String(s) => seconds(s),
            Value::Number(n) => n.as_f64().expect("a number"),
            other => panic!("server.{key} is neither a duration text nor a number: {other}"),
        };
        seen.push(format!("{key}={secs}s"));
        total += secs;
    }
    (total, seen)
}

/// The `[[bin]]` targets of the workspace's packages, from `cargo metadata`.
pub(crate) fn workspace_bins() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}
