//! Agents' files: checked against Meta's types and sizes, uploaded to Meta's media
//! endpoint, sent by the id Meta gives, and served back from the cache.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use switchboard_tests::payloads::{contact, delivery, text, text_delivery};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

const FROM: &str = "16505551234";
const MEDIA_ID: &str = "2288112233445566";

both_backends!(
    a_file_is_uploaded_to_meta_sent_by_its_id_and_shown_from_the_cache,
    files_meta_would_refuse_are_refused_before_anything_is_uploaded,
    no_file_goes_out_once_the_window_closed,
);

async fn conversation(app: &mut TestApp) -> String {
    let body = serde_json::to_vec(&text_delivery("wamid.in.attach", FROM, "send me the invoice")).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    app.conversations().await[0]["id"].as_str().unwrap().to_owned()
}

async fn attach(app: &TestApp, conv: &str, query: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/conversations/{conv}/attachments{query}")))
        .bearer_auth(&app.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn a_file_is_uploaded_to_meta_sent_by_its_id_and_shown_from_the_cache(backend: Backend) {
    let mut app = spawn_app(backend).await;
    app.graph.accept_uploads(MEDIA_ID).await;
    let conv = conversation(&mut app).await;
    let pdf = b"%PDF-1.4 invoice 2026-0042".to_vec();
    let res =
        attach(&app, &conv, "?filename=invoice%200042.pdf&caption=Your%20invoice", "application/pdf", pdf.clone())
            .await;
    assert_eq!(res.status(), 202);
    let queued: Value = res.json().await.unwrap();
    assert_eq!(queued["type"], "document");
    assert_eq!(queued["status"], "queued");

    let uploads = app.graph.uploads().await;
    assert_eq!(uploads.len(), 1);
    let upload = String::from_utf8_lossy(&uploads[0]);
    assert!(
        upload.contains("filename=\"invoice 0042.pdf\"") && upload.contains("%PDF-1.4 invoice 2026-0042"),
        "{upload}"
    );

    assert_eq!(app.send().await.sent, 1);
    let sent = app.graph.sent().await;
    assert_eq!(sent[0]["type"], "document");
    assert_eq!(sent[0]["document"], json!({"id": MEDIA_ID, "caption": "Your invoice", "filename": "invoice 0042.pdf"}));
    // The thread shows the file from the cache: Meta is not asked for it.
    let res = app.get(&format!("/api/v1/messages/{}/media", queued["id"].as_str().unwrap())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.bytes().await.unwrap().as_ref(), pdf.as_slice());
    let lookups = app.graph.requests_to(&format!("/v25.0/{MEDIA_ID}")).await;
    assert_eq!(lookups, 0, "served from the cache");
}

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    res.json().await.unwrap()
}

async fn files_meta_would_refuse_are_refused_before_anything_is_uploaded(backend: Backend) {
    let mut app = spawn_app(backend).await;
    app.graph.accept_uploads(MEDIA_ID).await;
    let conv = conversation(&mut app).await;

    let p = problem(attach(&app, &conv, "", "image/gif", vec![1, 2, 3]).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "Content-Type");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("JPEG, PNG"), "{p}");

    let too_big = vec![0u8; 5 * 1024 * 1024 + 1];
    let p = problem(attach(&app, &conv, "", "image/png", too_big).await, 413).await;
    assert_eq!(p["code"], "payload_too_large");

    let p = problem(attach(&app, &conv, "", "application/pdf", Vec::new()).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "file");

    let p = problem(attach(&app, &conv, "?filename=in%0Avoice.pdf", "application/pdf", b"x".to_vec()).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "filename");

    assert!(app.graph.uploads().await.is_empty(), "nothing reached Meta");
    assert_eq!(app.messages(&conv).await.len(), 1, "nothing was queued");
}

async fn no_file_goes_out_once_the_window_closed(backend: Backend) {
    let mut app = spawn_app(backend).await;
    app.graph.accept_uploads(MEDIA_ID).await;
    let mut old = text("wamid.old.attach", FROM, "are you there?");
    old["timestamp"] = json!((Utc::now() - Duration::hours(30)).timestamp().to_string());
    app.post_webhook(serde_json::to_vec(&delivery(vec![contact(FROM, "Ana")], vec![old], vec![])).unwrap()).await;
    app.ingest().await;
    let conv = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    let p = problem(attach(&app, &conv, "", "image/jpeg", vec![0xff, 0xd8, 0xff]).await, 422).await;
    assert_eq!(p["code"], "window_closed");
    assert!(app.graph.uploads().await.is_empty(), "not uploaded");
}
