//! The read API: authentication, errors, filters and cursor pagination.

use switchboard_tests::payloads::text_delivery;
use switchboard_tests::{Backend, both_backends, spawn_app};

async fn the_api_requires_a_valid_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.url("/api/v1/conversations");
    for auth in [None, Some("Bearer nope"), Some("Basic abc"), Some("Bearer ")] {
        let mut req = app.client.get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "unauthorized");
        assert_eq!(problem["status"], 401);
    }
    assert_eq!(app.get("/api/v1/conversations").await.status(), 200);
}

async fn bad_parameters_are_422_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    for (query, field) in [
        ("status=closed", "status"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("cursor=garbage", "cursor"),
    ] {
        let res = app.get(&format!("/api/v1/conversations?{query}")).await;
        assert_eq!(res.status(), 422, "{query}");
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}

async fn unknown_conversations_and_routes_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/api/v1/conversations/0190b7a6-1f5e-7cc0-8000-000000000000",
        "/api/v1/conversations/not-a-uuid/messages",
        "/api/v1/conversations/0190b7a6-1f5e-7cc0-8000-000000000000/messages",
        "/api/v1/nothing-here",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
}

async fn conversations_page_with_cursors_and_filter_by_status(backend: Backend) {
    let mut app = spawn_app(backend).await;
    for i in 0..7 {
        let body = serde_json::to_vec(&text_delivery(&format!("wamid.p{i}"), &format!("1650555000{i}"), "hi")).unwrap();
        app.post_webhook(body).await;
    }
    app.ingest().await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/conversations?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get_json(&path).await;
        pages += 1;
        for c in page["items"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/conversations?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
    assert_eq!(app.get_json("/api/v1/conversations?status=open").await["items"].as_array().unwrap().len(), 7);
    assert_eq!(app.get_json("/api/v1/conversations?status=resolved").await["items"].as_array().unwrap().len(), 0);
    let one = &seen[0];
    let c = app.get_json(&format!("/api/v1/conversations/{one}")).await;
    assert_eq!(c["id"], one.as_str());
}

async fn messages_page_with_cursors_in_arrival_order(backend: Backend) {
    let mut app = spawn_app(backend).await;
    for i in 0..5 {
        app.post_webhook(
            serde_json::to_vec(&text_delivery(&format!("wamid.m{i}"), "16505550000", &format!("m{i}"))).unwrap(),
        )
        .await;
    }
    app.ingest().await;
    let conv = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    let first = app.get_json(&format!("/api/v1/conversations/{conv}/messages?limit=2")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app.get_json(&format!("/api/v1/conversations/{conv}/messages?limit=2&cursor={cursor}")).await;
    let texts: Vec<_> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3"]);
}

both_backends!(
    the_api_requires_a_valid_token,
    bad_parameters_are_422_naming_the_field,
    unknown_conversations_and_routes_are_404,
    conversations_page_with_cursors_and_filter_by_status,
    messages_page_with_cursors_in_arrival_order,
);
