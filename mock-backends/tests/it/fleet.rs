//! Fleets, from the library and from the binary.

use std::collections::HashSet;
use std::process::Stdio;

use mock_backends::{Behavior, FleetConfig, MockFleet};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::common::{client, within};

#[tokio::test]
async fn fleet_of_three_has_distinct_ids_and_addresses() {
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let client = client();
    let ids: Vec<&str> = fleet.backends().iter().map(|b| b.id()).collect();
    assert_eq!(ids, ["b0", "b1", "b2"]);
    assert_eq!(fleet.addrs().into_iter().collect::<HashSet<_>>().len(), 3);
    assert_eq!(fleet.backend(2).map(|b| b.id()), Some("b2"));
    assert!(fleet.backend(3).is_none());
    assert!(fleet.backend(usize::MAX).is_none());
    for backend in fleet.backends() {
        let response = within(client.get(backend.url()).send()).await.unwrap();
        assert_eq!(response.headers()["x-backend-id"], backend.id());
    }
    fleet.shutdown().await;
}

#[tokio::test]
async fn fleet_config_lists_backends_with_their_own_behaviour() {
    let yaml = r#"
behavior: { error: { status: 500 } }
backends:
  - { id: good, behavior: {} }
  - { id: bad }
"#;
    let fleet = MockFleet::from_config(&FleetConfig::from_yaml(yaml).unwrap())
        .await
        .unwrap();
    let client = client();
    let good = within(client.get(fleet.get("good").unwrap().url()).send())
        .await
        .unwrap();
    let bad = within(client.get(fleet.get("bad").unwrap().url()).send())
        .await
        .unwrap();
    assert_eq!((good.status().as_u16(), bad.status().as_u16()), (200, 500));

    let mismatch = FleetConfig::from_yaml("count: 3\nbackends: [{}]")
        .unwrap()
        .backend_configs();
    assert!(mismatch.unwrap_err().to_string().contains("count"));
    let duplicate = FleetConfig::from_yaml("backends: [{id: x}, {id: x}]")
        .unwrap()
        .backend_configs();
    assert!(
        duplicate
            .unwrap_err()
            .to_string()
            .contains("backends[1].id")
    );
}

#[tokio::test]
async fn binary_prints_addresses_and_stops_cleanly_on_ctrl_c() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mock-backends"))
        .args(["--count", "2", "--base-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let client = client();
    for expected in ["b0", "b1"] {
        let line = within(lines.next_line())
            .await
            .unwrap()
            .expect("a line per backend");
        let (id, addr) = line.split_once(' ').unwrap();
        assert_eq!(id, expected);
        let response = within(client.get(format!("http://{addr}/")).send())
            .await
            .unwrap();
        assert_eq!(response.headers()["x-backend-id"], expected);
    }
    let pid = child.id().unwrap().to_string();
    let sent = within(
        tokio::process::Command::new("kill")
            .args(["-INT", &pid])
            .status(),
    )
    .await
    .unwrap();
    assert!(sent.success());
    let status = within(child.wait()).await.unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn example_fleet_file_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet.yaml");
    let config = FleetConfig::from_yaml(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ids: Vec<String> = config
        .backend_configs()
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, ["b0", "slow", "flaky"]);
}
