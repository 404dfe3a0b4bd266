//! `GET /api/v1/openapi.json` and the interactive documentation, served offline.

use switchboard_tests::{Backend, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_is_served_and_every_api_operation_it_names_needs_a_token() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "Switchboard");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/webhooks/whatsapp") && paths.contains_key("/api/v1/queue/claim"));

    // Independent of how the description is built: each API operation it names is served
    // (not the 404 of an unknown path, not a 405) and refuses a call without a token.
    let mut checked = 0;
    for (path, item) in paths {
        if !path.starts_with("/api/v1/") || path.ends_with("openapi.json") || path.ends_with("/docs/") {
            continue;
        }
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "0192f0c4-1d5a-7b3e-8c2a-5e6f7a8b9c0d" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app.client.request(method.clone(), app.url(&concrete)).send().await.unwrap();
            assert_eq!(res.status(), 401, "{method} {concrete}");
            checked += 1;
        }
    }
    assert!(checked > 70, "only {checked} operations checked");
}

/// The outgoing webhooks' payloads are described as OpenAPI `webhooks`, one per event
/// type an endpoint may subscribe to, each with the versioned envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outgoing_webhook_type_is_described() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc: serde_json::Value =
        app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let webhooks = doc["webhooks"].as_object().expect("a webhooks section");
    let types: Vec<&str> = switchboard_domain::WebhookEventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        webhooks.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(),
        types.iter().copied().collect()
    );
    for t in types {
        let op = &webhooks[t]["post"];
        let body = &op["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["properties"]["type"]["enum"], serde_json::json!([t]), "{t}");
        assert_eq!(body["properties"]["version"]["enum"], serde_json::json!([1]), "{t}");
        assert!(!body["properties"]["data"]["description"].as_str().unwrap().is_empty(), "{t}");
        let headers: Vec<&str> =
            op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(headers, ["webhook-id", "webhook-timestamp", "webhook-signature"], "{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interactive_documentation_is_served_from_the_binary() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.client.get(app.url("/api/v1/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(!page.contains("https://"), "the page must not load anything from the internet:\n{page}");
    // The page's script, vendored: no CDN.
    let res = app.client.get(app.url("/api/v1/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().len() > 100_000);
    // The configuration points the page at our description.
    let res = app.client.get(app.url("/api/v1/docs/swagger-initializer.js")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("/api/v1/openapi.json"));
}
