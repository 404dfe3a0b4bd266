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

both_backends!(health_and_readiness_answer);
