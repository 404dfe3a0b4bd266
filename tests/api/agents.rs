//! Agents, roles and API tokens: admins create and edit agents; every agent lists them,
//! reads and sets their own availability and manages their own tokens.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

/// A request with a bearer token (`None`: without one).
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// Asserts the status and the problem+json body, and returns the body.
pub async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

/// Creates an agent through the API as the admin; returns the agent and its token.
pub async fn create_agent(app: &TestApp, body: Value) -> (Value, String) {
    let res = call(app, Method::POST, "/api/v1/agents", Some(&app.token), Some(body.clone())).await;
    assert_eq!(res.status(), 201, "{body}");
    let created: Value = res.json().await.unwrap();
    let token = created["token"]["token"].as_str().unwrap().to_owned();
    (created["agent"].clone(), token)
}

/// An agent (role agent) with a unique email.
pub async fn new_agent(app: &TestApp, name: &str) -> (Value, String) {
    let email = format!("{}-{}@example.com", name.to_lowercase(), uuid::Uuid::new_v4().simple());
    create_agent(app, json!({"name": name, "email": email})).await
}

pub async fn me(app: &TestApp, token: &str) -> Value {
    let res = call(app, Method::GET, "/api/v1/agents/me", Some(token), None).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

both_backends!(
    admins_create_agents_and_the_token_is_shown_once,
    bad_agent_input_is_named,
    agents_are_refused_admin_routes_and_everyone_needs_a_token,
    tokens_are_created_listed_and_revoked,
    a_deactivated_agent_is_logged_out_and_their_conversations_go_back_to_the_queue,
    the_last_active_admin_cannot_be_demoted_or_deactivated,
    agents_set_their_own_availability_and_admins_anyones,
);

async fn admins_create_agents_and_the_token_is_shown_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = call(
        &app,
        Method::POST,
        "/api/v1/agents",
        Some(&app.token),
        Some(json!({"name": " Bo Agent ", "email": "Bo@Example.com", "role": "agent", "capacity": 2, "token_name": "laptop"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let agent = &created["agent"];
    assert_eq!(agent["name"], "Bo Agent");
    assert_eq!(agent["email"], "bo@example.com");
    assert_eq!(agent["role"], "agent");
    assert_eq!(agent["active"], true);
    assert_eq!(agent["availability"], "offline");
    assert_eq!(agent["capacity"], 2);
    let token = created["token"]["token"].as_str().unwrap();
    assert!(token.starts_with("sbt_") && token.len() == 68, "{token}");
    assert!(token[4..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(created["token"]["name"], "laptop");

    // The token works; the agent sees themselves and the list.
    let profile = me(&app, token).await;
    assert_eq!(profile["id"], agent["id"]);
    let list: Value = call(&app, Method::GET, "/api/v1/agents", Some(token), None).await.json().await.unwrap();
    let emails: Vec<&str> = list["items"].as_array().unwrap().iter().map(|a| a["email"].as_str().unwrap()).collect();
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&"bo@example.com"));
    let id = agent["id"].as_str().unwrap();
    let one: Value =
        call(&app, Method::GET, &format!("/api/v1/agents/{id}"), Some(token), None).await.json().await.unwrap();
    assert_eq!(one["email"], "bo@example.com");

    // Listed later, the token is never shown again.
    let tokens: Value = call(&app, Method::GET, &format!("/api/v1/agents/{id}/tokens"), Some(&app.token), None)
        .await
        .json()
        .await
        .unwrap();
    let items = tokens["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], created["token"]["id"]);
    assert!(items[0].get("token").is_none());
    assert!(!tokens.to_string().contains(token));

    // An admin, without a capacity.
    let (admin, _) = create_agent(&app, json!({"name": "Cy", "email": "cy@example.com", "role": "admin"})).await;
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["capacity"], Value::Null);
}

async fn bad_agent_input_is_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = problem(
        call(
            &app,
            Method::POST,
            "/api/v1/agents",
            Some(&app.token),
            Some(json!({"name": "", "email": "nope", "role": "boss", "capacity": 1_000_000})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["name", "email", "role", "capacity"]);
    new_agent(&app, "Bo").await;
    let taken = me(&app, &app.token).await["email"].as_str().unwrap().to_owned();
    let p = problem(
        call(&app, Method::POST, "/api/v1/agents", Some(&app.token), Some(json!({"name": "X", "email": taken}))).await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["email"]);
    let p = problem(
        call(&app, Method::POST, "/api/v1/agents", Some(&app.token), Some(json!({"name": "X", "mail": "x@y.z"}))).await,
        400,
    )
    .await;
    assert_eq!(p["code"], "invalid_body");
    let missing = "/api/v1/agents/0190a000-0000-7000-8000-000000000000";
    let p = problem(call(&app, Method::PATCH, missing, Some(&app.token), Some(json!({"name": "X"}))).await, 404).await;
    assert_eq!(p["code"], "not_found");
    let p = problem(call(&app, Method::GET, "/api/v1/agents/not-an-id", Some(&app.token), None).await, 404).await;
    assert_eq!(p["code"], "not_found");
}

async fn agents_are_refused_admin_routes_and_everyone_needs_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (bo, token) = new_agent(&app, "Bo").await;
    let admin_id = me(&app, &app.token).await["id"].as_str().unwrap().to_owned();
    let bo_id = bo["id"].as_str().unwrap();
    let channel = app.store.channels().await.unwrap()[0].id;
    for (method, path, body) in [
        (Method::POST, "/api/v1/agents".to_owned(), Some(json!({"name": "X", "email": "x@example.com"}))),
        (Method::PATCH, format!("/api/v1/agents/{bo_id}"), Some(json!({"role": "admin"}))),
        (Method::PATCH, format!("/api/v1/agents/{bo_id}"), Some(json!({"capacity": 99}))),
        (Method::GET, format!("/api/v1/agents/{admin_id}/tokens"), None),
        (Method::POST, format!("/api/v1/agents/{admin_id}/tokens"), Some(json!({}))),
        (Method::POST, "/api/v1/teams".to_owned(), Some(json!({"name": "Sales"}))),
        (Method::PUT, format!("/api/v1/channels/{channel}/team"), Some(json!({"team_id": null}))),
        (Method::GET, "/api/v1/audit".to_owned(), None),
        (Method::GET, "/api/v1/audit?action=sign_in".to_owned(), None),
    ] {
        let p = problem(call(&app, method.clone(), &path, Some(&token), body).await, 403).await;
        assert_eq!(p["code"], "forbidden", "{method} {path}");
    }
    for (method, path) in [
        (Method::GET, "/api/v1/agents"),
        (Method::GET, "/api/v1/agents/me"),
        (Method::POST, "/api/v1/queue/claim"),
        (Method::GET, "/api/v1/teams"),
    ] {
        let res = call(&app, method.clone(), path, None, None).await;
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        assert_eq!(problem(res, 401).await["code"], "unauthorized", "{method} {path}");
        let res = call(&app, method.clone(), path, Some("sbt_0000"), None).await;
        assert_eq!(res.status(), 401, "{method} {path} with a made-up token");
    }
}

async fn tokens_are_created_listed_and_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let (bo, first) = new_agent(&app, "Bo").await;
    let bo_id = bo["id"].as_str().unwrap();

    // An agent manages their own tokens, by id or as `me`; no body means no name.
    let res = call(&app, Method::POST, "/api/v1/agents/me/tokens", Some(&first), Some(json!({"name": "CI"}))).await;
    assert_eq!(res.status(), 201);
    let ci: Value = res.json().await.unwrap();
    assert_eq!(ci["name"], "CI");
    assert_eq!(ci["revoked_at"], Value::Null);
    let ci_token = ci["token"].as_str().unwrap().to_owned();
    let res = call(&app, Method::POST, &format!("/api/v1/agents/{bo_id}/tokens"), Some(&first), None).await;
    assert_eq!(res.status(), 201);
    let unnamed: Value = res.json().await.unwrap();
    assert_eq!(unnamed["name"], Value::Null);
    let p = problem(
        call(&app, Method::POST, "/api/v1/agents/me/tokens", Some(&first), Some(json!({"name": "x".repeat(101)})))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["name"]);

    assert_eq!(me(&app, &ci_token).await["id"], bo["id"]);
    let list: Value =
        call(&app, Method::GET, "/api/v1/agents/me/tokens", Some(&first), None).await.json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|t| t.get("token").is_none()));
    let listed_ci = items.iter().find(|t| t["id"] == ci["id"]).unwrap();
    assert!(listed_ci["last_used_at"].is_string(), "its use was recorded: {listed_ci}");

    // Revoked: 401 from then on; the other tokens still work.
    let ci_id = ci["id"].as_str().unwrap();
    let res = call(&app, Method::DELETE, &format!("/api/v1/agents/me/tokens/{ci_id}"), Some(&first), None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(call(&app, Method::GET, "/api/v1/agents/me", Some(&ci_token), None).await.status(), 401);
    me(&app, &first).await;
    let list: Value =
        call(&app, Method::GET, "/api/v1/agents/me/tokens", Some(&first), None).await.json().await.unwrap();
    assert!(list["items"].as_array().unwrap().iter().find(|t| t["id"] == ci["id"]).unwrap()["revoked_at"].is_string());

    // Not another agent's tokens; an admin may revoke anyone's.
    let admin_tokens: Value = app.get_json("/api/v1/agents/me/tokens").await;
    let admin_id = me(&app, &app.token).await["id"].as_str().unwrap().to_owned();
    let admin_token_id = admin_tokens["items"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/agents/{admin_id}/tokens/{admin_token_id}");
    assert_eq!(problem(call(&app, Method::DELETE, &path, Some(&first), None).await, 403).await["code"], "forbidden");
    let wrong_owner = format!("/api/v1/agents/{bo_id}/tokens/{admin_token_id}");
    assert_eq!(
        problem(call(&app, Method::DELETE, &wrong_owner, Some(&first), None).await, 404).await["code"],
        "not_found"
    );
    let unnamed_id = unnamed["id"].as_str().unwrap();
    let res =
        call(&app, Method::DELETE, &format!("/api/v1/agents/{bo_id}/tokens/{unnamed_id}"), Some(&app.token), None)
            .await;
    assert_eq!(res.status(), 204);
    let res = call(&app, Method::DELETE, &format!("/api/v1/agents/{bo_id}/tokens/nope"), Some(&app.token), None).await;
    assert_eq!(res.status(), 404);
}

async fn a_deactivated_agent_is_logged_out_and_their_conversations_go_back_to_the_queue(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (bo, token) = new_agent(&app, "Bo").await;
    let bo_id = bo["id"].as_str().unwrap();
    app.post_webhook(switchboard_tests::payloads::meta_bytes(&switchboard_tests::payloads::text_delivery(
        "wamid.deact",
        "16505550001",
        "hello",
    )))
    .await;
    app.ingest().await;
    let res = call(&app, Method::POST, "/api/v1/queue/claim", Some(&token), None).await;
    assert_eq!(res.status(), 200);
    let claimed: Value = res.json().await.unwrap();
    let conversation = claimed["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(claimed["conversation"]["assignee_id"], bo["id"]);

    let res =
        call(&app, Method::PATCH, &format!("/api/v1/agents/{bo_id}"), Some(&app.token), Some(json!({"active": false})))
            .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], false);
    assert_eq!(call(&app, Method::GET, "/api/v1/agents/me", Some(&token), None).await.status(), 401);

    let history = app.get_json(&format!("/api/v1/conversations/{conversation}/history")).await;
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["kind"], "unassigned");
    assert_eq!(items[1]["data"]["reason"], "agent_deactivated");
    // Back in the queue: the admin claims it.
    let res = call(&app, Method::POST, "/api/v1/queue/claim", Some(&app.token), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["conversation"]["id"], conversation.as_str());
    // Assigning to the deactivated agent is refused.
    let p = problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/assign"),
            Some(&app.token),
            Some(json!({"agent_id": bo_id})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["agent_id"]);
}

async fn the_last_active_admin_cannot_be_demoted_or_deactivated(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin_id = me(&app, &app.token).await["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/agents/{admin_id}");
    for body in [json!({"role": "agent"}), json!({"active": false})] {
        let p = problem(call(&app, Method::PATCH, &path, Some(&app.token), Some(body)).await, 409).await;
        assert_eq!(p["code"], "last_admin");
    }
    assert_eq!(me(&app, &app.token).await["role"], "admin");
    // With a second admin, the first may step down.
    let (cy, cy_token) = new_agent(&app, "Cy").await;
    let cy_path = format!("/api/v1/agents/{}", cy["id"].as_str().unwrap());
    let res = call(&app, Method::PATCH, &cy_path, Some(&app.token), Some(json!({"role": "admin"}))).await;
    assert_eq!(res.status(), 200);
    let res =
        call(&app, Method::PATCH, &path, Some(&cy_token), Some(json!({"role": "agent", "name": "Former Admin"}))).await;
    assert_eq!(res.status(), 200);
    let former: Value = res.json().await.unwrap();
    assert_eq!((former["role"].as_str(), former["name"].as_str()), (Some("agent"), Some("Former Admin")));
    assert_eq!(
        call(&app, Method::POST, "/api/v1/teams", Some(&app.token), Some(json!({"name": "X"}))).await.status(),
        403
    );
    let p =
        problem(call(&app, Method::PATCH, &cy_path, Some(&cy_token), Some(json!({"active": false}))).await, 409).await;
    assert_eq!(p["code"], "last_admin");
}

async fn agents_set_their_own_availability_and_admins_anyones(backend: Backend) {
    let app = spawn_app(backend).await;
    let (bo, token) = new_agent(&app, "Bo").await;
    let res = call(
        &app,
        Method::PUT,
        "/api/v1/agents/me/availability",
        Some(&token),
        Some(json!({"availability": "online"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["availability"], "online");
    assert_eq!(me(&app, &token).await["availability"], "online");
    let p = problem(
        call(&app, Method::PUT, "/api/v1/agents/me/availability", Some(&token), Some(json!({"availability": "busy"})))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["availability"]);
    let path = format!("/api/v1/agents/{}", bo["id"].as_str().unwrap());
    let res =
        call(&app, Method::PATCH, &path, Some(&app.token), Some(json!({"availability": "away", "capacity": null})))
            .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(patched["availability"], "away");
    assert_eq!(patched["capacity"], Value::Null);
}
