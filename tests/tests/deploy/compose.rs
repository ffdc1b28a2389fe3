//! docker-compose.yml: the Compose client accepts it when installed; its services, ports and
//! mounted files agree with the configs they mount and the binaries they run.

use crate::support::{self, config_ports, port_of, repo, str_at};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// The compose file, parsed (anchors and `<<` merges resolved).
fn compose() -> Value {
    support::yaml("docker-compose.yml")
}

fn services(compose: &Value) -> &serde_json::Map<String, Value> {
    compose["services"].as_object().expect("services")
}

/// The repository file a service mounts at `target`.
fn mounted(service: &Value, target: &str) -> Option<String> {
    service["volumes"].as_array()?.iter().find_map(|v| {
        let mut parts = v.as_str()?.split(':');
        let (host, container) = (parts.next()?, parts.next()?);
        (container == target).then(|| host.trim_start_matches("./").to_owned())
    })
}

/// The container port published for each `HOST:CONTAINER` entry.
fn published(service: &Value) -> Vec<u16> {
    service["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| port_of(p.as_str().expect("ports as \"HOST:CONTAINER\"")))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn the_compose_client_accepts_the_file_when_installed() {
    let candidates: [(&str, &[&str]); 2] = [("docker", &["compose"]), ("docker-compose", &[])];
    let mut ran = false;
    for (program, prefix) in candidates {
        let present = Command::new(program)
            .args(prefix)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !present {
            continue;
        }
        let out = Command::new(program)
            .args(prefix)
            .args(["-f", "docker-compose.yml", "config", "-q"])
            .current_dir(repo())
            .output()
            .expect("the compose client runs");
        assert!(
            out.status.success(),
            "{program} {prefix:?} config refused docker-compose.yml: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ran = true;
        break;
    }
    if !ran {
        eprintln!(
            "neither `docker compose` nor `docker-compose` is installed: only the YAML checks ran"
        );
    }
    // Whether or not a client ran, the file parses and has what the deployment needs.
    let compose = compose();
    let services = services(&compose);
    for name in [
        "rampart",
        "backend-1",
        "backend-2",
        "backend-3",
        "chaos",
        "prometheus",
        "grafana",
    ] {
        assert!(services.contains_key(name), "no service {name}");
    }
    for (name, service) in services {
        let image = str_at(service, &["image"], name);
        assert!(
            !image.ends_with(":latest") && image.contains(':'),
            "{name}: pin the image tag ({image})"
        );
    }
}

#[test]
fn every_mounted_file_exists() {
    let compose = compose();
    for (name, service) in services(&compose) {
        for v in service["volumes"].as_array().into_iter().flatten() {
            let host = v
                .as_str()
                .expect("short volume syntax")
                .split(':')
                .next()
                .unwrap();
            assert!(
                host.starts_with("./"),
                "{name}: mount {host} from the repository"
            );
            assert!(repo().join(host).exists(), "{name}: {host} does not exist");
        }
    }
}

#[tokio::test]
async fn the_proxy_config_passes_check_and_its_ports_and_backends_match_the_services() {
    let compose = compose();
    let services = services(&compose);
    let proxy = &services["rampart"];
    let (config_path, image_source) = crate::dockerfile::image_config();
    let source = mounted(proxy, &config_path)
        .unwrap_or_else(|| panic!("the rampart service mounts no config at {config_path}"));
    assert_eq!(
        source, image_source,
        "compose mounts the config the image is built with"
    );
    support::rampart_check(&repo().join(&source));

    let config = support::yaml(&source);
    let facts = support::admin_facts(&config, &[]).await;
    let (drain, keys) = support::drain_seconds(&facts.effective);
    let grace = support::seconds(str_at(proxy, &["stop_grace_period"], "rampart"));
    assert!(
        grace > drain,
        "stop_grace_period {grace}s must exceed {} = {drain}s",
        keys.join(" + ")
    );
    let (listeners, admin) = config_ports(&config);
    let mut want: Vec<u16> = listeners.clone();
    want.push(admin);
    want.sort_unstable();
    let mut got = published(proxy);
    got.sort_unstable();
    assert_eq!(got, want, "rampart publishes its listener and admin ports");

    // Where each backend service listens: mocks from their fleet files, chaos from its proxies.
    let mut listening: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for (name, service) in services {
        let entry = match &service["entrypoint"] {
            Value::Null => Vec::new(),
            v => strings(v),
        };
        match entry.first().map(String::as_str) {
            Some("mock-backends") => {
                let unknown = support::unknown_flags("mock-backends", &[], &entry[1..]);
                assert!(
                    unknown.is_empty(),
                    "{name}: mock-backends has no {unknown:?}"
                );
                let at = entry
                    .iter()
                    .position(|a| a == "--config")
                    .expect("--config");
                let file = mounted(service, &entry[at + 1]).expect("the fleet file is mounted");
                let fleet = mock_backends::FleetConfig::from_yaml(&support::read(&file))
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
                let ports: Vec<u16> = fleet
                    .backend_configs()
                    .unwrap_or_else(|e| panic!("{file}: {e}"))
                    .iter()
                    .map(|b| b.bind.port())
                    .collect();
                assert_eq!(
                    fleet.host.to_string(),
                    "0.0.0.0",
                    "{file}: bind all interfaces in a container"
                );
                listening.insert(name.clone(), ports);
            }
            Some("chaos") => {
                let unknown = support::unknown_flags("chaos", &[], &entry[1..]);
                assert!(unknown.is_empty(), "chaos has no {unknown:?}");
                let at = entry
                    .iter()
                    .position(|a| a == "--config")
                    .expect("--config");
                let file = mounted(service, &entry[at + 1]).expect("the proxies file is mounted");
                let proxies: Vec<chaos::api::ProxyInput> =
                    serde_json::from_str(&support::read(&file))
                        .unwrap_or_else(|e| panic!("{file}: {e}"));
                for p in &proxies {
                    let (host, port) = p.upstream.rsplit_once(':').expect("host:port");
                    let target = listening_of(services, host);
                    assert!(
                        target.contains(&port.parse().unwrap()),
                        "{file}: {} goes nowhere",
                        p.upstream
                    );
                }
                listening.insert(
                    name.clone(),
                    proxies.iter().map(|p| port_of(&p.listen)).collect(),
                );
            }
            _ => {}
        }
    }
    for upstream in config["upstreams"].as_object().unwrap().values() {
        for b in upstream["backends"].as_array().unwrap() {
            let address = str_at(b, &["address"], "backend");
            let (host, port) = address.rsplit_once(':').unwrap();
            let ports = listening.get(host).unwrap_or_else(|| {
                panic!("backend {address}: no compose service {host} runs a mock or chaos")
            });
            assert!(
                ports.contains(&port.parse().unwrap()),
                "backend {address}: {host} listens on {ports:?}"
            );
        }
    }
}

/// The ports a mock service listens on (read from its fleet file).
fn listening_of(services: &serde_json::Map<String, Value>, host: &str) -> Vec<u16> {
    let service = services
        .get(host)
        .unwrap_or_else(|| panic!("no compose service {host}"));
    let entry = strings(&service["entrypoint"]);
    let at = entry
        .iter()
        .position(|a| a == "--config")
        .expect("--config");
    let file = mounted(service, &entry[at + 1]).expect("mounted");
    mock_backends::FleetConfig::from_yaml(&support::read(&file))
        .and_then(|f| f.backend_configs())
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .iter()
        .map(|b| b.bind.port())
        .collect()
}

#[test]
fn prometheus_scrapes_the_admin_port_and_grafana_is_provisioned() {
    let compose = compose();
    let services = services(&compose);
    let (_, source) = crate::dockerfile::image_config();
    let (_, admin) = config_ports(&support::yaml(&source));

    let prometheus = &services["prometheus"];
    let prom_file =
        mounted(prometheus, "/etc/prometheus/prometheus.yml").expect("prometheus.yml mounted");
    let scrape = support::yaml(&prom_file);
    let job = scrape["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_name"] == "rampart")
        .expect("a rampart scrape job");
    assert_eq!(job["metrics_path"], "/metrics");
    let targets = strings(&job["static_configs"][0]["targets"]);
    assert_eq!(
        targets,
        [format!("rampart:{admin}")],
        "scrape the rampart service's admin port"
    );
    let prom_port = published(prometheus)[0];

    let grafana = &services["grafana"];
    let provisioning = mounted(grafana, "/etc/grafana/provisioning").expect("provisioning mounted");
    let datasource = support::yaml(&format!("{provisioning}/datasources/prometheus.yaml"));
    let ds = &datasource["datasources"][0];
    assert_eq!(ds["type"], "prometheus");
    assert_eq!(ds["url"], format!("http://prometheus:{prom_port}"));
    let providers = support::yaml(&format!("{provisioning}/dashboards/rampart.yaml"));
    let dir = str_at(
        &providers["providers"][0],
        &["options", "path"],
        "dashboard provider",
    );
    let dashboards = mounted(grafana, dir).expect("the provider's directory is mounted");
    let dashboard: Value =
        serde_json::from_str(&support::read(&format!("{dashboards}/rampart.json")))
            .expect("the dashboard is JSON");
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] != "row" {
            assert_eq!(
                panel["datasource"]["uid"], ds["uid"],
                "panel {} uses the provisioned datasource",
                panel["title"]
            );
        }
    }
}
