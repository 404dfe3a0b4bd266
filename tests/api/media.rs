//! Customers' files (fetched from the mock Graph API, then cached) and read receipts.

use serde_json::{Value, json};
use sqlx::Connection;
use switchboard_tests::payloads::{contact, delivery, message, text, text_delivery};
use switchboard_tests::{ACCESS_TOKEN, AppOptions, Backend, TestApp, both_backends, spawn_app, spawn_app_with};

const FROM: &str = "16505551234";
const MEDIA_ID: &str = "1037543291543636";

both_backends!(
    an_inbound_image_is_fetched_once_then_served_from_the_cache,
    a_document_is_served_with_its_file_name,
    expired_media_is_gone,
    messages_without_media_have_none,
    sandbox_mode_serves_nothing_uncached_and_marks_nothing_read,
    mark_read_acknowledges_the_last_inbound_message,
    mark_read_reports_graph_errors_without_secrets,
    a_conversation_without_inbound_messages_has_nothing_to_read,
    the_cache_is_pruned_by_last_use_and_size,
);

/// Delivers one inbound message item and returns (conversation id, message id).
async fn receive(app: &mut TestApp, item: Value) -> (String, String) {
    let wamid = item["id"].as_str().unwrap().to_owned();
    let res =
        app.post_webhook(serde_json::to_vec(&delivery(vec![contact(FROM, "Ana")], vec![item], vec![])).unwrap()).await;
    assert_eq!(res.status(), 200);
    app.ingest().await;
    for c in app.conversations().await {
        let conv = c["id"].as_str().unwrap().to_owned();
        if let Some(m) = app.messages(&conv).await.into_iter().find(|m| m["wamid"] == wamid.as_str()) {
            return (conv, m["id"].as_str().unwrap().to_owned());
        }
    }
    panic!("{wamid} was not stored");
}

fn image(wamid: &str, media_id: &str) -> Value {
    message(
        wamid,
        FROM,
        "image",
        json!({
            "caption": "the broken part",
            "mime_type": "image/jpeg",
            "sha256": "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=",
            "id": media_id,
        }),
    )
}

/// Bytes that are not text, larger than one read chunk.
fn file_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 7 + i / 251) % 256).unwrap()).collect()
}

async fn get_media(app: &TestApp, message_id: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/messages/{message_id}/media")).await
}

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

async fn an_inbound_image_is_fetched_once_then_served_from_the_cache(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let bytes = file_bytes(200_000);
    app.graph.media(MEDIA_ID, &bytes, "image/jpeg", 1).await;
    let (_, id) = receive(&mut app, image("wamid.img.1", MEDIA_ID)).await;

    for attempt in ["fetched", "cached"] {
        let res = get_media(&app, &id).await;
        assert_eq!(res.status(), 200, "{attempt}");
        assert_eq!(res.headers()["content-type"], "image/jpeg", "{attempt}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{attempt}");
        assert!(res.headers().get("content-disposition").is_none(), "{attempt}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice(), "{attempt}");
    }
    // One lookup and one download: the second answer came from the cache.
    app.graph.verify().await;
    assert_eq!(app.graph.requests_to(&format!("/v25.0/{MEDIA_ID}")).await, 1);
    let mut names: Vec<String> =
        std::fs::read_dir(&app.media_dir.0).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, [MEDIA_ID.to_owned(), format!("{MEDIA_ID}.meta")], "no temporary files are left");

    // Without a token there is no file.
    let res = app.client.get(app.url(&format!("/api/v1/messages/{id}/media"))).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

async fn a_document_is_served_with_its_file_name(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let bytes = b"%PDF-1.7 not really".to_vec();
    app.graph.media("555001", &bytes, "application/pdf", 1).await;
    let doc = message(
        "wamid.doc.1",
        FROM,
        "document",
        json!({
            "filename": "factura año.pdf", "mime_type": "application/pdf", "sha256": "x", "id": "555001",
        }),
    );
    let (_, id) = receive(&mut app, doc).await;
    let res = get_media(&app, &id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"factura a_o.pdf\""), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''factura%20a%C3%B1o.pdf"), "{disposition}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    app.graph.verify().await;
}

async fn expired_media_is_gone(backend: Backend) {
    let mut app = spawn_app(backend).await;
    // Meta no longer knows the media id.
    app.graph.media_gone("777001").await;
    let (_, id) = receive(&mut app, image("wamid.img.old", "777001")).await;
    let p = problem(get_media(&app, &id).await, 410).await;
    assert_eq!(p["code"], "media_expired");

    // The download URL answers 404 even when fetched afresh.
    app.graph.media_lookup("777002", "image/jpeg", 10).await;
    let (_, id) = receive(&mut app, image("wamid.img.old2", "777002")).await;
    let p = problem(get_media(&app, &id).await, 410).await;
    assert_eq!(p["code"], "media_expired");
    assert_eq!(app.graph.requests_to("/v25.0/777002").await, 2, "a fresh URL was fetched once");
    assert_eq!(app.graph.requests_to("/files/777002").await, 2);
    assert_eq!(std::fs::read_dir(&app.media_dir.0).map(Iterator::count).unwrap_or(0), 0, "nothing was cached");
}

async fn messages_without_media_have_none(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, id) = receive(&mut app, text("wamid.text.1", FROM, "hello")).await;
    let p = problem(get_media(&app, &id).await, 404).await;
    assert_eq!(p["code"], "not_found");
    for unknown in ["0190b7a6-1f5e-7cc0-8000-000000000000", "not-an-id"] {
        problem(get_media(&app, unknown).await, 404).await;
    }
    assert_eq!(app.graph.requests_to(&format!("/v25.0/{MEDIA_ID}")).await, 0);
}

async fn sandbox_mode_serves_nothing_uncached_and_marks_nothing_read(backend: Backend) {
    let mut app = spawn_app_with(
        backend,
        AppOptions { env: vec![("SWITCHBOARD__WHATSAPP__SANDBOX", "true".into())], ..AppOptions::default() },
    )
    .await;
    let (conv, id) = receive(&mut app, image("wamid.img.sb", MEDIA_ID)).await;
    let p = problem(get_media(&app, &id).await, 503).await;
    assert_eq!(p["code"], "media_unavailable");

    // A cached copy is served all the same.
    std::fs::create_dir_all(&app.media_dir.0).unwrap();
    std::fs::write(app.media_dir.0.join(MEDIA_ID), b"cached bytes").unwrap();
    std::fs::write(app.media_dir.0.join(format!("{MEDIA_ID}.meta")), br#"{"content_type":"image/png"}"#).unwrap();
    let res = get_media(&app, &id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"cached bytes");

    let res = app.post_json(&format!("/api/v1/conversations/{conv}/read"), &json!({"typing": true})).await;
    assert_eq!(res.status(), 204);
    assert!(app.graph.sent().await.is_empty(), "nothing reached the Graph API");
}

async fn mark_read_acknowledges_the_last_inbound_message(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (conv, _) = receive(&mut app, text("wamid.in.1", FROM, "hello")).await;
    receive(&mut app, text("wamid.in.2", FROM, "anyone?")).await;
    // An agent's reply afterwards does not change what is read.
    let res =
        app.post_json(&format!("/api/v1/conversations/{conv}/messages"), &json!({"type": "text", "text": "Hi!"})).await;
    assert_eq!(res.status(), 202);
    app.send().await;

    let read = format!("/api/v1/conversations/{conv}/read");
    let res = app.client.post(app.url(&read)).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = app.post_json(&read, &json!({"typing": true})).await;
    assert_eq!(res.status(), 204);

    let sent = app.graph.sent().await;
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[1], json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.in.2"}));
    assert_eq!(
        sent[2],
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.in.2", "typing_indicator": {"type": "text"}})
    );

    let p = problem(app.post_json(&read, &json!({"typing": "please"})).await, 400).await;
    assert_eq!(p["code"], "invalid_body");
    problem(app.post_json("/api/v1/conversations/0190b7a6-1f5e-7cc0-8000-000000000000/read", &json!({})).await, 404)
        .await;
    let res = app.client.post(app.url(&read)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.graph.sent().await.len(), 3);
}

async fn mark_read_reports_graph_errors_without_secrets(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let body = serde_json::to_vec(&text_delivery("wamid.in.9", FROM, "hello")).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let conv = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    app.graph
        .fail_next(
            1,
            401,
            json!({"error": {
                "message": "Error validating access token: Session has expired",
                "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "Bx",
            }}),
        )
        .await;
    let res = app.post_json(&format!("/api/v1/conversations/{conv}/read"), &json!({})).await;
    assert_eq!(res.status(), 502);
    let text = res.text().await.unwrap();
    assert!(!text.contains(ACCESS_TOKEN), "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["code"], "graph_error");
    assert!(p["detail"].as_str().unwrap().contains("access token (expired or revoked)"), "{p}");
}

async fn a_conversation_without_inbound_messages_has_nothing_to_read(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (conv, _) = receive(&mut app, text("wamid.in.gone", FROM, "hello")).await;
    // No port makes such a conversation: remove its only message by hand.
    let conv_id: uuid::Uuid = conv.parse().unwrap();
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
            sqlx::query("DELETE FROM messages WHERE conversation_id = ?1").bind(conv_id).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
            sqlx::query("DELETE FROM messages WHERE conversation_id = $1").bind(conv_id).execute(&mut c).await.unwrap();
        }
    }
    let p = problem(app.post_json(&format!("/api/v1/conversations/{conv}/read"), &json!({})).await, 409).await;
    assert_eq!(p["code"], "nothing_to_read");
    assert!(app.graph.sent().await.is_empty());
}

/// Sets a cached file's last use `days` ago.
fn last_used(app: &TestApp, name: &str, days: u64) {
    let f = std::fs::File::options().write(true).open(app.media_dir.0.join(name)).unwrap();
    let at = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    f.set_times(std::fs::FileTimes::new().set_modified(at)).unwrap();
}

fn cached(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(&app.media_dir.0).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// Housekeeping removes files unused for longer than the age limit (a file served from
/// the cache counts as used) and, past the size cap, the least recently used; a removed
/// file is fetched again while Meta has it.
async fn the_cache_is_pruned_by_last_use_and_size(backend: Backend) {
    use switchboard_core::{Housekeeper, HousekeepingOptions, MediaCacheLimits};
    let mut app = spawn_app(backend).await;
    let bytes = file_bytes(100_000);
    app.graph.media(MEDIA_ID, &bytes, "image/jpeg", 2).await;
    app.graph.media("1037543291543637", &bytes, "image/jpeg", 1).await;
    let (_, id) = receive(&mut app, image("wamid.img.p1", MEDIA_ID)).await;
    let (_, other) = receive(&mut app, image("wamid.img.p2", "1037543291543637")).await;
    for id in [&id, &other] {
        assert_eq!(get_media(&app, id).await.bytes().await.unwrap().len(), 100_000);
    }
    let housekeeping = |limits| {
        Housekeeper::new(
            std::sync::Arc::clone(&app.store),
            HousekeepingOptions { media: Some((app.media_dir.0.clone(), limits)), ..HousekeepingOptions::default() },
        )
    };
    let by_age = MediaCacheLimits { max_age: Some(std::time::Duration::from_secs(90 * 86_400)), max_bytes: None };

    // Both unused for 100 days; one is opened again (from the cache) before the pass.
    for name in [MEDIA_ID, "1037543291543637"] {
        last_used(&app, name, 100);
    }
    assert_eq!(get_media(&app, &other).await.status(), 200);
    let report = housekeeping(by_age).run_once(chrono::Utc::now()).await.unwrap();
    assert_eq!((report.media.removed, report.media.kept), (1, 1));
    assert_eq!(cached(&app), ["1037543291543637", "1037543291543637.meta"]);

    // The removed one is fetched again (Meta's second download) and cached again.
    let res = get_media(&app, &id).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(cached(&app).len(), 4);

    // Past a cap of 150,000 bytes the least recently used goes.
    last_used(&app, "1037543291543637", 2);
    let by_size = MediaCacheLimits { max_age: None, max_bytes: Some(150_000) };
    let report = housekeeping(by_size).run_once(chrono::Utc::now()).await.unwrap();
    assert_eq!(report.media.removed, 1);
    assert_eq!(cached(&app), [MEDIA_ID.to_owned(), format!("{MEDIA_ID}.meta")]);
    app.graph.verify().await;
}
