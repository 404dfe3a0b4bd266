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
