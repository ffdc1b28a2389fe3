//! The Kubernetes manifests under deploy/k8s: every document parses; ports, probes, the
//! preStop drain, the grace period, the embedded config and the loadgen Job agree with the
//! proxy's real config model, admin API and binaries.

use crate::support::{self, admin_facts, config_ports, repo, status_of, str_at};
use serde_json::Value;

/// Every document of every manifest, with the file it came from.
fn manifests() -> Vec<(String, Value)> {
    let dir = repo().join("deploy/k8s");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("deploy/k8s")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for path in files {
        let rel = path.strip_prefix(repo()).unwrap().display().to_string();
        for doc in support::yaml_docs(&rel) {
            for key in ["apiVersion", "kind"] {
                str_at(&doc, &[key], &rel);
            }
            str_at(&doc, &["metadata", "name"], &rel);
            docs.push((rel.clone(), doc));
        }
    }
    docs
}

/// The one document of this kind (and name, if given).
fn one<'a>(docs: &'a [(String, Value)], kind: &str, name: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == kind && name.is_none_or(|n| d["metadata"]["name"] == n))
        .collect();
    assert_eq!(found.len(), 1, "expected one {kind} {name:?}");
    found[0]
}

/// The proxy config embedded in the ConfigMap the Deployment mounts, and the key it is under.
fn embedded_config(docs: &[(String, Value)]) -> (Value, String) {
    let deployment = one(docs, "Deployment", Some("rampart"));
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let (config_path, _) = crate::dockerfile::image_config();
    let (dir, file) = config_path.rsplit_once('/').unwrap();
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == dir)
        .unwrap_or_else(|| {
            panic!("nothing is mounted at {dir}, where the image reads {config_path}")
        });
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    let map_name = str_at(volume, &["configMap", "name"], "config volume");
    let items = volume["configMap"]["items"].as_array();
    let key = items
        .and_then(|items| items.iter().find(|i| i["path"] == file))
        .map_or(file, |i| str_at(i, &["key"], "item"));
    let map = one(docs, "ConfigMap", Some(map_name));
    let text = str_at(map, &["data", key], "ConfigMap");
    let config: Value = serde_saphyr::from_str(text).expect("the embedded config is YAML");
    (config, text.to_owned())
}

/// The port a probe or Service names: a number, or a container port's name.
fn resolve_port(container: &Value, port: &Value) -> u16 {
    if let Some(n) = port.as_u64() {
        return u16::try_from(n).unwrap();
    }
    let name = port.as_str().expect("a port number or name");
    let found = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no container port named {name}"));
    u16::try_from(found["containerPort"].as_u64().unwrap()).unwrap()
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &labels[k] == v))
}

#[test]
fn the_embedded_config_passes_rampart_check() {
    let docs = manifests();
    let (_, text) = embedded_config(&docs);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rampart.yaml");
    std::fs::write(&path, text).unwrap();
    support::rampart_check(&path);
}

#[tokio::test]
async fn ports_probes_pre_stop_and_grace_period_match_the_proxy() {
    let docs = manifests();
    let (config, _) = embedded_config(&docs);
    let (listeners, admin) = config_ports(&config);
    let deployment = one(&docs, "Deployment", Some("rampart"));
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(resolve_port(container, &Value::from("http")), listeners[0]);
    assert_eq!(resolve_port(container, &Value::from("admin")), admin);
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"], admin.to_string());

    let readiness = &container["readinessProbe"]["httpGet"];
    let liveness = &container["livenessProbe"]["httpGet"];
    assert_eq!(
        resolve_port(container, &readiness["port"]),
        admin,
        "readiness on the admin port"
    );
    assert_eq!(
        resolve_port(container, &liveness["port"]),
        admin,
        "liveness on the admin port"
    );
    let (ready, live) = (
        str_at(readiness, &["path"], "probe"),
        str_at(liveness, &["path"], "probe"),
    );
    assert_eq!((ready, live), ("/readyz", "/healthz"));
    let facts = admin_facts(&config, &[ready, live, "/no-such-endpoint"]).await;
    assert_eq!(
        status_of(&facts, live),
        200,
        "{live} answers 200 while the process runs"
    );
    // Ready or not (no backend is reachable here), the readiness endpoint exists.
    assert!(
        [200, 503].contains(&status_of(&facts, ready)),
        "{ready} is served"
    );
    assert_eq!(
        status_of(&facts, "/no-such-endpoint"),
        404,
        "unknown admin paths are 404"
    );

    let pre_stop: Vec<&str> = container["lifecycle"]["preStop"]["exec"]["command"]
        .as_array()
        .expect("a preStop exec command")
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let admin_addr = format!("127.0.0.1:{admin}");
    assert_eq!(
        pre_stop,
        ["rampart", "drain", "--admin", admin_addr.as_str()]
    );
    assert!(
        support::rampart_subcommands().contains("drain"),
        "rampart has no `drain` subcommand for the preStop hook"
    );
    let args: Vec<String> = pre_stop[2..].iter().map(|s| (*s).to_owned()).collect();
    let unknown = support::unknown_flags("rampart", &["drain"], &args);
    assert!(unknown.is_empty(), "rampart drain has no {unknown:?}");

    let (drain, keys) = support::drain_seconds(&facts.effective);
    let grace = pod["terminationGracePeriodSeconds"]
        .as_f64()
        .expect("terminationGracePeriodSeconds");
    assert!(!keys.is_empty(), "the effective config has no drain keys");
    assert!(
        grace > drain,
        "terminationGracePeriodSeconds {grace} must exceed {} = {drain}s",
        keys.join(" + ")
    );

    let resources = &container["resources"];
    for key in ["requests.cpu", "requests.memory", "limits.memory"] {
        let (a, b) = key.split_once('.').unwrap();
        assert!(resources[a][b].is_string(), "resources.{key} is set");
    }
}

#[test]
fn service_hpa_and_pdb_select_the_deployment() {
    let docs = manifests();
    let (config, _) = embedded_config(&docs);
    let (listeners, _) = config_ports(&config);
    let deployment = one(&docs, "Deployment", Some("rampart"));
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert!(labels_match(
        &deployment["spec"]["selector"]["matchLabels"],
        labels
    ));
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];

    let service = one(&docs, "Service", Some("rampart"));
    assert!(
        labels_match(&service["spec"]["selector"], labels),
        "the Service selects the pods"
    );
    for port in service["spec"]["ports"].as_array().unwrap() {
        let target = resolve_port(container, &port["targetPort"]);
        assert!(
            listeners.contains(&target),
            "the Service sends to a listener, not {target}"
        );
    }

    let hpa = one(&docs, "HorizontalPodAutoscaler", None);
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(
        (&target["kind"], &target["name"]),
        (&Value::from("Deployment"), &deployment["metadata"]["name"])
    );
    let (min, max) = (
        hpa["spec"]["minReplicas"].as_u64().unwrap(),
        hpa["spec"]["maxReplicas"].as_u64().unwrap(),
    );
    assert!(min >= 2 && max > min, "replicas {min}..{max}");
    for metric in hpa["spec"]["metrics"].as_array().unwrap() {
        if let Some(resource) = metric["resource"]["name"].as_str() {
            assert!(
                container["resources"]["requests"][resource].is_string(),
                "utilisation of {resource} needs a request"
            );
        }
    }

    let pdb = one(&docs, "PodDisruptionBudget", None);
    assert!(
        labels_match(&pdb["spec"]["selector"]["matchLabels"], labels),
        "the PDB selects the pods"
    );
    let min_available = pdb["spec"]["minAvailable"].as_u64().expect("minAvailable");
    assert!(
        min_available < min,
        "the PDB must let a node drain evict one of {min} pods"
    );
}

#[test]
fn the_demo_backends_are_the_addresses_the_config_names() {
    let docs = manifests();
    let (config, _) = embedded_config(&docs);
    let set = one(&docs, "StatefulSet", Some("mock"));
    let name = str_at(set, &["metadata", "name"], "StatefulSet");
    let service = str_at(set, &["spec", "serviceName"], "StatefulSet");
    assert_eq!(
        one(&docs, "Service", Some(service))["spec"]["clusterIP"],
        "None",
        "headless"
    );
    let replicas = set["spec"]["replicas"].as_u64().unwrap();
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let command: Vec<String> = serde_json::from_value(container["command"].clone()).unwrap();
    assert_eq!(command[0], "mock-backends");
    let unknown = support::unknown_flags("mock-backends", &[], &command[1..]);
    assert!(unknown.is_empty(), "mock-backends has no {unknown:?}");
    let port = resolve_port(container, &Value::from("http"));
    let base = command
        .iter()
        .position(|a| a == "--base-port")
        .map(|i| command[i + 1].parse().unwrap());
    assert_eq!(base, Some(port));
    let backends: Vec<&str> = config["upstreams"]["api"]["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| str_at(b, &["address"], "backend"))
        .collect();
    let want: Vec<String> = (0..replicas)
        .map(|i| format!("{name}-{i}.{service}:{port}"))
        .collect();
    assert_eq!(backends, want);
}

#[tokio::test]
async fn the_loadgen_job_runs_with_flags_loadgen_accepts_and_its_reports_merge() {
    let docs = manifests();
    let job = one(&docs, "Job", None);
    let spec = &job["spec"];
    let parallelism = spec["parallelism"].as_u64().expect("parallelism");
    assert!(parallelism > 1, "several generators");
    assert_eq!(
        spec["completions"].as_u64(),
        Some(parallelism),
        "one report per pod"
    );
    let pod = &spec["template"]["spec"];
    let load = &pod["initContainers"][0];
    let report = &pod["containers"][0];
    let command: Vec<String> = serde_json::from_value(load["command"].clone()).unwrap();
    let args: Vec<String> = serde_json::from_value(load["args"].clone()).unwrap();
    assert_eq!(command, ["loadgen"]);
    let unknown = support::unknown_flags("loadgen", &[], &args);
    assert!(unknown.is_empty(), "loadgen --help lists no {unknown:?}");
    assert!(support::help_flags("loadgen", &["merge"]).contains("--json"));

    // The report lands on a volume the `report` container prints from.
    let json_at = args.iter().position(|a| a == "--json").expect("--json");
    let report_path = &args[json_at + 1];
    let mount_of = |c: &Value| -> String {
        let m = &c["volumeMounts"][0];
        format!("{}|{}", m["name"], m["mountPath"])
    };
    assert_eq!(
        mount_of(load),
        mount_of(report),
        "both containers share the reports volume"
    );
    let report_command: Vec<String> = serde_json::from_value(report["command"].clone()).unwrap();
    assert_eq!(report_command, ["cat", report_path.as_str()]);

    // The URL names the proxy's Service and its port.
    let service = one(&docs, "Service", Some("rampart"));
    let url = args
        .iter()
        .find(|a| a.starts_with("http://"))
        .expect("a target URL");
    let authority = url.trim_start_matches("http://").split('/').next().unwrap();
    let port = service["spec"]["ports"][0]["port"].as_u64().unwrap();
    assert_eq!(
        authority,
        format!("{}:{port}", service["metadata"]["name"].as_str().unwrap())
    );

    // The workflow end to end, small: two generators with the Job's flags against a local
    // backend (URL, duration and report path swapped), then `loadgen merge`.
    let backend = tests::backend::TestBackend::start("job").await;
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for i in 0..2 {
        let out_path = dir.path().join(format!("loadgen-{i}.json"));
        let local: Vec<String> = args
            .iter()
            .enumerate()
            .map(|(j, a)| match () {
                () if a == url => format!("http://{}/", backend.addr()),
                () if j > 0 && args[j - 1] == "--duration" => "1s".to_owned(),
                () if j > 0 && args[j - 1] == "--rate" => "50".to_owned(),
                () if j > 0 && args[j - 1] == "--json" => out_path.display().to_string(),
                () => a.clone(),
            })
            .collect();
        let (out, local) = tokio::task::spawn_blocking(move || {
            let argv: Vec<&str> = local.iter().map(String::as_str).collect();
            (support::run("loadgen", &argv), local)
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "loadgen {local:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        reports.push(out_path);
    }
    let merged = dir.path().join("merged.json");
    let mut argv: Vec<String> = vec!["merge".into()];
    argv.extend(reports.iter().map(|p| p.display().to_string()));
    argv.extend(["--json".into(), merged.display().to_string()]);
    let out = tokio::task::spawn_blocking(move || {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        support::run("loadgen", &argv)
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "loadgen merge: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parts: Vec<Value> = reports
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    let total: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let sent = |r: &Value| {
        r["totals"]["responses"]
            .as_u64()
            .unwrap_or_else(|| panic!("no totals.responses in {r}"))
    };
    assert!(
        parts.iter().all(|r| sent(r) > 0),
        "each generator got responses"
    );
    assert_eq!(
        sent(&total),
        parts.iter().map(sent).sum::<u64>(),
        "merge adds the generators up"
    );
}
