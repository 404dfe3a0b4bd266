use switchboard_tests::{Backend, both_backends, spawn_app};

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

both_backends!(health_and_readiness_answer, metrics_count_webhooks_and_show_the_backlog);
