//! The control API and the library handle: live changes, bad input, counters.

use mock_backends::{Behavior, ErrorFault};

use crate::common::{backend, client, within};

#[tokio::test]
async fn put_json_changes_the_next_request() {
    let backend = backend(Behavior::default()).await;
    let client = client();
    let control = format!("{}/__mock/behavior", backend.url());
    assert_eq!(
        within(client.get(backend.url()).send())
            .await
            .unwrap()
            .status(),
        200
    );

    let put = within(
        client
            .put(&control)
            .body(r#"{"error": {"status": 502}}"#)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        within(client.get(backend.url()).send())
            .await
            .unwrap()
            .status(),
        502
    );

    let current: serde_json::Value =
        within(within(client.get(&control).send()).await.unwrap().json())
            .await
            .unwrap();
    assert_eq!(current["error"]["status"], 502);
    assert_eq!(
        within(client.delete(&control).send())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        within(client.get(backend.url()).send())
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn put_yaml_is_accepted() {
    let backend = backend(Behavior::default()).await;
    let client = client();
    let yaml = "error:\n  status: 504\n  rate: 1.0\n";
    let put = within(
        client
            .put(format!("{}/__mock/behavior", backend.url()))
            .header("content-type", "application/yaml")
            .body(yaml)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        within(client.get(backend.url()).send())
            .await
            .unwrap()
            .status(),
        504
    );
}

#[tokio::test]
async fn invalid_behaviour_is_a_400_naming_the_field_and_the_old_one_stays() {
    let backend = backend(Behavior::from_yaml("error: { status: 503 }").unwrap()).await;
    let client = client();
    let control = format!("{}/__mock/behavior", backend.url());
    let cases = [
        (
            "application/json",
            r#"{"error": {"status": 503, "ratio": 0.5}}"#,
            "ratio",
        ),
        (
            "application/json",
            r#"{"dribble": {"over": "slowly"}}"#,
            "dribble.over",
        ),
        ("application/yaml", "error:\n  rate: 2\n", "error.rate"),
        (
            "application/yaml",
            "latency: { distribution: { type: wobbly } }",
            "wobbly",
        ),
    ];
    for (content_type, text, field) in cases {
        let response = within(
            client
                .put(&control)
                .header("content-type", content_type)
                .body(text)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 400, "{text}");
        let message = within(response.text()).await.unwrap();
        assert!(message.contains(field), "{text}: {message}");
        assert_eq!(
            within(client.get(backend.url()).send())
                .await
                .unwrap()
                .status(),
            503,
            "old behaviour stays"
        );
    }
    assert_eq!(backend.behavior().error.map(|e| e.status), Some(503));
}

#[tokio::test]
async fn handle_changes_take_effect_and_invalid_ones_are_refused() {
    let backend = backend(Behavior::default()).await;
    let client = client();
    let handle = backend.handle();
    handle
        .set_behavior(Behavior {
            error: Some(ErrorFault {
                rate: 1.0,
                paths: vec![],
                status: 500,
                body: Some("boom".into()),
            }),
            ..Behavior::default()
        })
        .unwrap();
    let response = within(client.get(backend.url()).send()).await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(within(response.text()).await.unwrap(), "boom");
    assert!(
        handle
            .update_behavior(|b| b.error.as_mut().unwrap().rate = 7.0)
            .is_err()
    );
    assert_eq!(backend.behavior().error.unwrap().rate, 1.0);
}

#[tokio::test]
async fn stats_count_requests_by_path_and_status_and_reset() {
    let backend = backend(Behavior::default()).await;
    let client = client();
    for path in ["/a", "/a", "/status/404"] {
        within(client.get(format!("{}{path}", backend.url())).send())
            .await
            .unwrap();
    }
    let stats_url = format!("{}/__mock/stats", backend.url());
    let stats: serde_json::Value =
        within(within(client.get(&stats_url).send()).await.unwrap().json())
            .await
            .unwrap();
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["by_path"]["/a"], 2);
    assert_eq!(stats["by_status"]["404"], 1);
    assert_eq!(backend.stats().status(200), 2);
    within(client.delete(&stats_url).send()).await.unwrap();
    assert_eq!(backend.stats().requests, 0);
}
