//! Request bodies are JSON objects: serde would read a struct from an array (its fields
//! in order), so an array (or `null` where a body is required) must be refused before a handler
//! sees it — on every
//! operation the OpenAPI description gives a body.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_http::openapi::{API_PREFIX, openapi};
use switchboard_tests::{Backend, both_backends};

use crate::agents::call;
use crate::visibility::Fixture;

both_backends!(every_body_must_be_an_object, a_token_is_not_named_by_an_array, mark_read_takes_no_body_or_an_object,);

/// `(method, path relative to /api/v1)` of every API operation that takes a JSON body,
/// and whether its description says the body may be `null` (an optional body).
fn operations_with_a_body() -> Vec<(String, String, bool)> {
    let doc = serde_json::to_value(openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(relative) = path.strip_prefix(API_PREFIX) else { continue };
        for (method, op) in item.as_object().unwrap() {
            // JSON bodies (a file sent as it is, `application/octet-stream`, is not one).
            if let Some(body) = op.get("requestBody").filter(|b| b["content"].get("application/json").is_some()) {
                let nullable = body.to_string().contains(r#"{"type":"null"}"#);
                out.push((method.clone(), relative.to_owned(), nullable));
            }
        }
    }
    out
}

async fn problem(res: reqwest::Response, what: &str) -> Value {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert!(status == 400 || status == 422, "{what}: {status} {body}");
    body
}

async fn every_body_must_be_an_object(backend: Backend) {
    let ops = operations_with_a_body();
    assert!(ops.len() > 25, "only {} operations take a body", ops.len());
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    let before = fx.snapshot().await;
    assert_eq!(ops.iter().filter(|op| op.2).count(), 3, "optional bodies: {ops:?}");
    for (method, template, nullable) in &ops {
        let path = fx.path(template);
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let bodies = [json!(["named-by-array"]), json!([]), Value::Null];
        // An optional body may be `null`, as its description says.
        for body in bodies.into_iter().filter(|b| !(*nullable && b.is_null())) {
            let res = call(app, method.clone(), &path, Some(&app.token), Some(body.clone())).await;
            let p = problem(res, &format!("{method} {template} with {body}")).await;
            assert_eq!(p["code"], "invalid_body", "{method} {template} with {body}");
        }
    }
    assert_eq!(fx.snapshot().await, before, "an array or null body changed something");
}

async fn a_token_is_not_named_by_an_array(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    let tokens = |token: &str| {
        let token = token.to_owned();
        async move {
            let res = call(app, Method::GET, "/api/v1/agents/me/tokens", Some(&token), None).await;
            let list: Value = res.json().await.unwrap();
            list["items"].as_array().unwrap().iter().map(|t| t["name"].clone()).collect::<Vec<_>>()
        }
    };
    let before = tokens(&fx.insider_token).await;
    for (who, path) in [
        (&fx.insider_token, "/api/v1/agents/me/tokens".to_owned()),
        (&app.token, format!("/api/v1/agents/{}/tokens", fx.insider)),
    ] {
        let res = call(app, Method::POST, &path, Some(who), Some(json!(["named-by-array"]))).await;
        let p = problem(res, &path).await;
        assert_eq!(p["code"], "invalid_body");
        assert!(p["detail"].as_str().unwrap().contains("object"), "{p}");
    }
    assert_eq!(tokens(&fx.insider_token).await, before);
    // An object names it; no body at all is still a token without a name.
    let res =
        call(app, Method::POST, "/api/v1/agents/me/tokens", Some(&fx.insider_token), Some(json!({"name": "laptop"})))
            .await;
    assert_eq!(res.status(), 201);
    let res = app.client.post(app.url("/api/v1/agents/me/tokens")).bearer_auth(&fx.insider_token).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let names = tokens(&fx.insider_token).await;
    assert_eq!(names.len(), before.len() + 2);
    assert!(names.contains(&json!("laptop")));
    assert!(!names.contains(&json!("named-by-array")));
}

async fn mark_read_takes_no_body_or_an_object(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    let path = fx.path("/conversations/{id}/read");
    for body in [json!([]), json!([true])] {
        let res = call(app, Method::POST, &path, Some(&app.token), Some(body.clone())).await;
        assert_eq!(problem(res, &body.to_string()).await["code"], "invalid_body", "{body}");
    }
    // Nothing reached WhatsApp.
    assert_eq!(app.graph.received().await, 0);
    let res = call(app, Method::POST, &path, Some(&app.token), Some(json!({"typing": true}))).await;
    assert_eq!(res.status(), 204);
    let res = call(app, Method::POST, &path, Some(&app.token), Some(Value::Null)).await;
    assert_eq!(res.status(), 204);
    let res = app.client.post(app.url(&path)).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.graph.received().await, 3);
}
