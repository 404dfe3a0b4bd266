//! The webhook receiver: handshake, signatures, limits, durability and dedup.

use serde_json::json;
use switchboard_tests::payloads::{meta_bytes, text_delivery};
use switchboard_tests::{AppOptions, Backend, TestApp, VERIFY_TOKEN, both_backends, sign, spawn_app, spawn_app_with};

async fn stored_events(app: &TestApp) -> i64 {
    let s = app.store.event_log_stats().await.unwrap();
    s.pending + s.applied + s.failed
}

async fn handshake_echoes_the_challenge_only_for_the_right_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = |mode: &str, token: &str| {
        app.url(&format!("/webhooks/whatsapp?hub.mode={mode}&hub.challenge=1158201444&hub.verify_token={token}"))
    };
    let res = app.client.get(url("subscribe", VERIFY_TOKEN)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(res.text().await.unwrap(), "1158201444");

    for (mode, token) in [("subscribe", "wrong"), ("unsubscribe", VERIFY_TOKEN), ("subscribe", "")] {
        let res = app.client.get(url(mode, token)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{mode} {token}");
    }
    let res = app.client.get(app.url("/webhooks/whatsapp")).send().await.unwrap();
    assert_eq!(res.status(), 403);
}

async fn handshake_is_refused_without_a_configured_token(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions { bare: true, ..AppOptions::default() }).await;
    let res = app
        .client
        .get(app.url("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token="))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn bad_signatures_get_401_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = serde_json::to_vec(&text_delivery("wamid.sig", "16505551234", "hi")).unwrap();
    let good = sign(&body);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("no prefix", Some(good.trim_start_matches("sha256=").to_owned())),
        ("wrong prefix", Some(good.replace("sha256=", "sha1="))),
        ("not hex", Some(format!("sha256={}", "z".repeat(64)))),
        ("too short", Some(good[..40].to_owned())),
        ("wrong value", Some(format!("sha256={}", "0".repeat(64)))),
        ("other body", Some(sign(b"{}"))),
    ];
    for (what, sig) in cases {
        let res = app.post_webhook_with(body.clone(), sig.as_deref()).await;
        assert_eq!(res.status(), 401, "{what}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{what}");
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_signature", "{what}");
    }
    assert_eq!(stored_events(&app).await, 0);
}

async fn uppercase_hex_signatures_are_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = serde_json::to_vec(&text_delivery("wamid.upper", "16505551234", "hi")).unwrap();
    let sig = sign(&body);
    let upper = format!("sha256={}", sig.trim_start_matches("sha256=").to_uppercase());
    assert_eq!(app.post_webhook_with(body, Some(&upper)).await.status(), 200);
    assert_eq!(stored_events(&app).await, 1);
}

async fn signed_non_json_gets_400_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    for body in [&b"not json"[..], b"", b"{\"entry\": [", b"\xff\xfe"] {
        let res = app.post_webhook(body.to_vec()).await;
        assert_eq!(res.status(), 400, "{body:?}");
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_json");
    }
    assert_eq!(stored_events(&app).await, 0);
}

async fn bodies_over_the_limit_get_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let filler = "x".repeat(3 * 1024 * 1024);
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [], "pad": filler})).unwrap();
    let res = app.post_webhook(body).await;
    assert_eq!(res.status(), 413);
    assert_eq!(stored_events(&app).await, 0);

    // Just under the limit is fine.
    let filler = "x".repeat(3 * 1024 * 1024 - 200);
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [], "pad": filler})).unwrap();
    assert!(body.len() <= 3 * 1024 * 1024);
    assert_eq!(app.post_webhook(body).await.status(), 200);
}

async fn without_an_app_secret_deliveries_get_503_so_meta_retries(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions { bare: true, ..AppOptions::default() }).await;
    let body = serde_json::to_vec(&text_delivery("wamid.nosecret", "16505551234", "hi")).unwrap();
    let res = app.post_webhook(body).await;
    assert_eq!(res.status(), 503);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "webhooks_not_configured");
    assert!(problem["detail"].as_str().unwrap().contains("SWITCHBOARD_APP_SECRET"));
    assert_eq!(stored_events(&app).await, 0);
}

async fn escaped_unicode_is_verified_over_the_raw_bytes_and_decoded(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let text = "äöå — নমস্কার नमस्ते 😮 see https://example.com/a/b";
    let body = meta_bytes(&text_delivery("wamid.escaped", "16505551234", text));
    let raw = String::from_utf8(body.clone()).unwrap();
    assert!(raw.is_ascii() && raw.contains("\\u00e4") && raw.contains("\\ud83d\\ude2e") && raw.contains("\\/"));
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let messages = app.all_messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["text"], text);
    assert_eq!(messages[0]["wamid"], "wamid.escaped");
}

async fn identical_redelivery_is_stored_and_applied_once(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let body = serde_json::to_vec(&text_delivery("wamid.dup", "16505551234", "once")).unwrap();
    for _ in 0..3 {
        assert_eq!(app.post_webhook(body.clone()).await.status(), 200);
    }
    assert_eq!(stored_events(&app).await, 1);
    app.ingest().await;
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let messages = app.all_messages().await;
    assert_eq!(messages.len(), 1);
}

async fn concurrent_deliveries_are_all_acknowledged_and_stored(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url("/webhooks/whatsapp");
        // Every fifth delivery is sent twice, concurrently.
        let copies = if i % 5 == 0 { 2 } else { 1 };
        let body = serde_json::to_vec(&text_delivery(&format!("wamid.c{i}"), &format!("1650555{i:04}"), "hi")).unwrap();
        for _ in 0..copies {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let sig = sign(&body);
                client.post(url).header("x-hub-signature-256", sig).body(body).send().await.unwrap().status()
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(stored_events(&app).await, 200);
    app.ingest().await;
    assert_eq!(app.all_messages().await.len(), 200);
}

both_backends!(
    handshake_echoes_the_challenge_only_for_the_right_token,
    handshake_is_refused_without_a_configured_token,
    bad_signatures_get_401_and_nothing_is_stored,
    uppercase_hex_signatures_are_accepted,
    signed_non_json_gets_400_and_nothing_is_stored,
    bodies_over_the_limit_get_413,
    without_an_app_secret_deliveries_get_503_so_meta_retries,
    escaped_unicode_is_verified_over_the_raw_bytes_and_decoded,
    identical_redelivery_is_stored_and_applied_once,
    concurrent_deliveries_are_all_acknowledged_and_stored,
);
