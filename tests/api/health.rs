use std::time::Duration;

use chrono::Utc;
use switchboard_store::IngestBatch;
use switchboard_tests::payloads::text_delivery;
use switchboard_tests::{AppOptions, Backend, TestApp, TestDb, both_backends, spawn_app, test_settings};

async fn health_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["capabilities"]["webhooks"], true);
    assert_eq!(body["database"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
}

async fn metrics_count_webhooks_and_show_the_backlog(backend: Backend) {
    let app = spawn_app(backend).await;
    let body =
        serde_json::to_vec(&switchboard_tests::payloads::text_delivery("wamid.metrics", "16505551234", "hi")).unwrap();
    assert_eq!(app.post_webhook(body.clone()).await.status(), 200);
    assert_eq!(app.post_webhook(body).await.status(), 200);
    assert_eq!(app.post_webhook_with(b"{}".to_vec(), Some("sha256=00")).await.status(), 401);
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    for needle in [
        "switchboard_webhooks_total{outcome=\"accepted\"}",
        "switchboard_webhooks_total{outcome=\"duplicate\"}",
        "switchboard_webhooks_total{outcome=\"invalid_signature\"}",
        "switchboard_event_log_pending",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

async fn metrics_time_acknowledgements_requests_ingest_and_sends_without_personal_data(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let body = serde_json::to_vec(&text_delivery("wamid.timed", "16505557788", "secret phrase")).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let conversation = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    let res = app
        .post_json(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &serde_json::json!({"type": "text", "text": "hello"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(app.send().await.sent, 1);
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        "switchboard_webhook_ack_seconds_bucket{status=\"200\",le=\"0.0005\"}",
        "switchboard_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/conversations/{id}/messages\",status=\"202\",le=\"0.001\"}",
        "switchboard_http_request_duration_seconds_count{method=\"POST\",route=\"/webhooks/whatsapp\",status=\"200\"}",
        "switchboard_ingest_lag_seconds_bucket{le=\"60\"}",
        "switchboard_send_latency_seconds_count",
        "switchboard_outbox_jobs{state=\"ready\"}",
        "switchboard_outbox_jobs{state=\"dead\"}",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // Routes are patterns: no id, number or text of anyone's in a label.
    for personal in [conversation.as_str(), "16505557788", "secret phrase"] {
        assert!(!text.contains(personal), "{personal} in /metrics");
    }
}

/// `(pending, failed)` as `/readyz` and `/metrics` report them.
async fn backlog(app: &TestApp) -> ((i64, i64), (i64, i64)) {
    let ready: serde_json::Value = app.client.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    let log = &ready["event_log"];
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let gauge = |name: &str| -> i64 {
        let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}"));
        line[name.len() + 1..].trim().parse::<f64>().unwrap() as i64
    };
    (
        (log["pending"].as_i64().unwrap(), log["failed"].as_i64().unwrap()),
        (gauge("switchboard_event_log_pending"), gauge("switchboard_event_log_failed")),
    )
}

async fn readiness_and_metrics_count_pending_and_failed_deliveries(backend: Backend) {
    let mut app = spawn_app(backend).await;
    assert_eq!(backlog(&app).await, ((0, 0), (0, 0)));
    for i in 0..3 {
        let body = serde_json::to_vec(&text_delivery(&format!("wamid.backlog{i}"), "16505551234", "hi")).unwrap();
        assert_eq!(app.post_webhook(body).await.status(), 200);
    }
    // One of them fails to apply.
    let IngestBatch { tx, events } = app.store.begin_ingest(1).await.unwrap().unwrap();
    drop(tx);
    app.store.mark_event_failed(events[0].id, "test", Utc::now()).await.unwrap();
    // Counts are at most a second old.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(backlog(&app).await, ((2, 1), (2, 1)));

    app.ingest().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(backlog(&app).await, ((0, 1), (0, 1)));
    let all = app.store.event_log_stats().await.unwrap();
    assert_eq!((all.pending, all.failed, all.applied), (0, 1, 2));
}

async fn metrics_can_have_their_own_address(backend: Backend) {
    let db = TestDb::new(backend).await;
    let opts =
        AppOptions { env: vec![("SWITCHBOARD__HTTP__METRICS_LISTEN", "127.0.0.1:0".into())], ..AppOptions::default() };
    let running = switchboard_server::startup::start(&test_settings(&db, &opts)).await.unwrap();
    let metrics = running.metrics_addr.unwrap();
    assert_ne!(metrics, running.addr);
    let client = reqwest::Client::new();
    let get = |addr: std::net::SocketAddr, path: &str| client.get(format!("http://{addr}{path}")).send();
    let res = get(metrics, "/metrics").await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("switchboard_event_log_pending"));
    assert_eq!(get(running.addr, "/metrics").await.unwrap().status(), 404);
    assert_eq!(get(running.addr, "/readyz").await.unwrap().status(), 200);
    assert_eq!(get(metrics, "/readyz").await.unwrap().status(), 404);
    running.shutdown().await;
    assert!(get(metrics, "/metrics").await.is_err(), "stopped with the server");
}

both_backends!(
    metrics_can_have_their_own_address,
    health_and_readiness_answer,
    metrics_count_webhooks_and_show_the_backlog,
    metrics_time_acknowledgements_requests_ingest_and_sends_without_personal_data,
    readiness_and_metrics_count_pending_and_failed_deliveries,
);
