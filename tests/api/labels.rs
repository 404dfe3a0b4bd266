//! Labels: admins manage them, every agent reads them and puts them on conversations.

use chrono::Utc;
use serde_json::{Value, json};
use switchboard_domain::{AgentName, AgentRole, Email, NewAgent};
use switchboard_http::hash_token;
use switchboard_tests::payloads::text_delivery;
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

/// Creates an agent (not an admin) and returns its token and id.
pub async fn agent_token(app: &TestApp) -> (String, String) {
    let token = format!("sbt_agent_{}", uuid::Uuid::new_v4().simple());
    let agent = NewAgent {
        name: AgentName::parse("Ana Agent").unwrap(),
        email: Email::parse(&format!("ana-{}@example.com", uuid::Uuid::new_v4().simple())).unwrap(),
        role: AgentRole::Agent,
    };
    let agent = app.store.create_agent(&agent, &hash_token(&token), Utc::now()).await.unwrap();
    (token, agent.id.to_string())
}

pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// Creates a label as the admin and returns it.
pub async fn create_label(app: &TestApp, body: Value) -> Value {
    let res = app.post_json("/api/v1/labels", &body).await;
    assert_eq!(res.status(), 201, "{body}");
    res.json().await.unwrap()
}

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

async fn admins_manage_labels_and_agents_read_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let (agent, _) = agent_token(&app).await;
    let vip = create_label(&app, json!({"name": " VIP ", "colour": "#AA0000", "description": "Big spenders"})).await;
    assert_eq!(vip["name"], "VIP");
    assert_eq!(vip["colour"], "#aa0000");
    assert_eq!(vip["description"], "Big spenders");
    let plain = create_label(&app, json!({"name": "billing"})).await;
    assert_eq!(plain["colour"], "#6b7280", "a default colour");
    assert_eq!(plain["description"], Value::Null);

    // Agents read, but may not write.
    let list: Value = send(&app, reqwest::Method::GET, "/api/v1/labels", &agent, None).await.json().await.unwrap();
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["billing", "VIP"]);
    let id = vip["id"].as_str().unwrap();
    for (method, path, body) in [
        (reqwest::Method::POST, "/api/v1/labels".to_owned(), Some(json!({"name": "x"}))),
        (reqwest::Method::PATCH, format!("/api/v1/labels/{id}"), Some(json!({"name": "y"}))),
        (reqwest::Method::DELETE, format!("/api/v1/labels/{id}"), None),
    ] {
        let p = problem(send(&app, method.clone(), &path, &agent, body).await, 403).await;
        assert_eq!(p["code"], "forbidden", "{method} {path}");
    }

    let res = send(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/labels/{id}"),
        &app.token,
        Some(json!({"name": "Gold", "description": null})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let gold: Value = res.json().await.unwrap();
    assert_eq!(
        (gold["name"].as_str(), gold["colour"].as_str(), &gold["description"]),
        (Some("Gold"), Some("#aa0000"), &Value::Null)
    );
    assert_eq!(app.get_json(&format!("/api/v1/labels/{id}")).await["name"], "Gold");

    let res = send(&app, reqwest::Method::DELETE, &format!("/api/v1/labels/{id}"), &app.token, None).await;
    assert_eq!(res.status(), 204);
    problem(app.get(&format!("/api/v1/labels/{id}")).await, 404).await;
    problem(send(&app, reqwest::Method::DELETE, &format!("/api/v1/labels/{id}"), &app.token, None).await, 404).await;
    problem(app.get("/api/v1/labels/not-an-id").await, 404).await;
}

async fn label_validation_names_the_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = problem(app.post_json("/api/v1/labels", &json!({"name": "  ", "colour": "red"})).await, 422).await;
    assert_eq!(p["code"], "validation_failed");
    assert_eq!(fields(&p), ["name", "colour"]);
    let p = problem(app.post_json("/api/v1/labels", &json!({"name": "x".repeat(51)})).await, 422).await;
    assert_eq!(fields(&p), ["name"]);
    let p = problem(app.post_json("/api/v1/labels", &json!({"name": "ok", "description": "d".repeat(501)})).await, 422)
        .await;
    assert_eq!(fields(&p), ["description"]);
    let p = problem(app.post_json("/api/v1/labels", &json!({"nom": "x"})).await, 400).await;
    assert_eq!(p["code"], "invalid_body");

    create_label(&app, json!({"name": "Urgent"})).await;
    let p = problem(app.post_json("/api/v1/labels", &json!({"name": "uRGENT"})).await, 409).await;
    assert_eq!(p["code"], "conflict");
    assert!(p["detail"].as_str().unwrap().contains("label name"), "{p}");
}

async fn agents_put_labels_on_conversations_by_id_or_name(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (agent, agent_id) = agent_token(&app).await;
    app.post_webhook(serde_json::to_vec(&text_delivery("wamid.lab1", "16505550100", "Hello")).unwrap()).await;
    app.ingest().await;
    let conversation = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    let vip = create_label(&app, json!({"name": "VIP"})).await;
    let billing = create_label(&app, json!({"name": "Billing"})).await;
    let path = format!("/api/v1/conversations/{conversation}/labels");

    let res =
        send(&app, reqwest::Method::POST, &path, &agent, Some(json!({"labels": ["vip", billing["id"], "VIP"]}))).await;
    assert_eq!(res.status(), 200);
    let on: Value = res.json().await.unwrap();
    let on = on["labels"].as_array().unwrap();
    assert_eq!(on.iter().map(|l| l["name"].as_str().unwrap()).collect::<Vec<_>>(), ["Billing", "VIP"]);
    assert!(on.iter().all(|l| l["added_by"] == agent_id.as_str()), "{on:?}");
    // The conversation shows its labels, in the list and alone.
    let listed = &app.conversations().await[0]["labels"];
    assert_eq!(
        listed.as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["Billing", "VIP"]
    );
    assert_eq!(app.get_json(&format!("/api/v1/conversations/{conversation}")).await["labels"][1]["colour"], "#6b7280");

    let p = problem(
        send(
            &app,
            reqwest::Method::POST,
            &path,
            &agent,
            Some(json!({"labels": ["vip", "nope", "0190b7a6-1f5e-7cc0-8000-000000000000"]})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["labels[1]", "labels[2]"]);
    let p = problem(send(&app, reqwest::Method::POST, &path, &agent, Some(json!({"labels": []}))).await, 422).await;
    assert_eq!(fields(&p), ["labels"]);
    problem(
        send(
            &app,
            reqwest::Method::POST,
            "/api/v1/conversations/0190b7a6-1f5e-7cc0-8000-000000000000/labels",
            &agent,
            Some(json!({"labels": ["vip"]})),
        )
        .await,
        404,
    )
    .await;

    let vip_id = vip["id"].as_str().unwrap();
    let res = send(&app, reqwest::Method::DELETE, &format!("{path}/{vip_id}"), &agent, None).await;
    assert_eq!(res.status(), 204);
    // Idempotent.
    let res = send(&app, reqwest::Method::DELETE, &format!("{path}/{vip_id}"), &agent, None).await;
    assert_eq!(res.status(), 204);
    let on: Value = send(&app, reqwest::Method::GET, &path, &agent, None).await.json().await.unwrap();
    assert_eq!(
        on["labels"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["Billing"]
    );
}

both_backends!(
    admins_manage_labels_and_agents_read_them,
    label_validation_names_the_fields,
    agents_put_labels_on_conversations_by_id_or_name,
);
