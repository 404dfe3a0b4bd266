//! Auto-assignment over HTTP: policies per team and channel (admins set them, 422 names
//! the field), and the assigner woken by the API and the ingest worker, draining the
//! backlog when an agent comes online and when one frees capacity.

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::ConversationId;
use switchboard_tests::payloads::{contact, delivery, meta_bytes, text};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::agents::{call, create_agent, fields, me, new_agent, problem};

both_backends!(
    policies_are_read_by_agents_set_by_admins_and_bad_input_is_named,
    the_backlog_drains_when_an_agent_comes_online_and_when_they_resolve_one,
    a_team_policy_assigns_its_channels_conversations_to_members_only,
);

/// `n` customers write once each, in one delivery; returns their conversations in queue
/// order (waiting longest first).
async fn waiting(app: &mut TestApp, n: usize, tag: &str) -> Vec<ConversationId> {
    let contacts = (0..n).map(|i| contact(&format!("1650777{i:04}"), "Customer")).collect();
    let messages = (0..n).map(|i| text(&format!("wamid.{tag}.{i}"), &format!("1650777{i:04}"), "hello")).collect();
    let res = app.post_webhook(meta_bytes(&delivery(contacts, messages, vec![]))).await;
    assert_eq!(res.status(), 200);
    app.ingest().await;
    let mut states = Vec::new();
    for c in app.conversations().await {
        let id: ConversationId = c["id"].as_str().unwrap().parse().unwrap();
        let state = app.store.conversation_state(id).await.unwrap().unwrap();
        if state.assignee_id.is_none() && state.waiting_since.is_some() {
            states.push((state.waiting_since, state.id));
        }
    }
    states.sort();
    states.into_iter().map(|(_, id)| id).collect()
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    call(app, Method::PUT, path, Some(token), Some(body)).await
}

async fn json_ok(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn policies_are_read_by_agents_set_by_admins_and_bad_input_is_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, agent_token) = new_agent(&app, "Bo").await;
    let channel = app.store.channels().await.unwrap()[0].id;
    let team: Value = call(&app, Method::POST, "/api/v1/teams", Some(&app.token), Some(json!({"name": "Sales"})))
        .await
        .json()
        .await
        .unwrap();
    let team_id = team["id"].as_str().unwrap().to_owned();
    let team_path = format!("/api/v1/teams/{team_id}/assignment");
    let channel_path = format!("/api/v1/channels/{channel}/assignment");

    let got = json_ok(call(&app, Method::GET, &team_path, Some(&agent_token), None).await).await;
    assert_eq!(got, json!({"team_id": team_id, "policy": "off", "reassign_after_minutes": null}));
    let got = json_ok(call(&app, Method::GET, &channel_path, Some(&agent_token), None).await).await;
    assert_eq!(got["policy"], "off");
    assert_eq!(got["source"], "default");
    assert_eq!(got["own"], Value::Null);

    // Agents read; only admins write.
    let body = json!({"policy": "least_loaded", "reassign_after_minutes": 15});
    problem(put(&app, &team_path, &agent_token, body.clone()).await, 403).await;
    problem(call(&app, Method::DELETE, &channel_path, Some(&agent_token), None).await, 403).await;
    let got = json_ok(put(&app, &team_path, &app.token, body.clone()).await).await;
    assert_eq!(got, json!({"team_id": team_id, "policy": "least_loaded", "reassign_after_minutes": 15}));

    // A channel routed to the team follows it, until it has its own policy.
    let res = put(&app, &format!("/api/v1/channels/{channel}/team"), &app.token, json!({"team_id": team_id})).await;
    assert_eq!(res.status(), 200);
    let got = json_ok(call(&app, Method::GET, &channel_path, Some(&app.token), None).await).await;
    assert_eq!(
        (&got["policy"], &got["source"], &got["team_id"]),
        (&json!("least_loaded"), &json!("team"), &json!(team_id))
    );
    assert_eq!(got["reassign_after_minutes"], 15);
    let got = json_ok(put(&app, &channel_path, &app.token, json!({"policy": "round_robin"})).await).await;
    assert_eq!((&got["policy"], &got["source"]), (&json!("round_robin"), &json!("channel")));
    assert_eq!(got["reassign_after_minutes"], Value::Null);
    assert_eq!(got["own"], json!({"policy": "round_robin", "reassign_after_minutes": null}));
    let got = json_ok(call(&app, Method::DELETE, &channel_path, Some(&app.token), None).await).await;
    assert_eq!((&got["policy"], &got["source"], &got["own"]), (&json!("least_loaded"), &json!("team"), &Value::Null));

    // 422 naming the field.
    for (body, field) in [
        (json!({}), "policy"),
        (json!({"policy": "random"}), "policy"),
        (json!({"policy": 3}), "policy"),
        (json!({"policy": "round_robin", "reassign_after_minutes": 0}), "reassign_after_minutes"),
        (json!({"policy": "round_robin", "reassign_after_minutes": "soon"}), "reassign_after_minutes"),
        (json!({"policy": "round_robin", "reassign_after_minutes": 1.5}), "reassign_after_minutes"),
        (json!({"policy": "round_robin", "reassign_after_minutes": 100_000}), "reassign_after_minutes"),
    ] {
        let p = problem(put(&app, &channel_path, &app.token, body.clone()).await, 422).await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let p = problem(put(&app, &team_path, &app.token, json!({"policy": "x", "reassign_after_minutes": -1})).await, 422)
        .await;
    assert_eq!(fields(&p), ["policy", "reassign_after_minutes"]);
    problem(put(&app, &channel_path, &app.token, json!({"policy": "off", "extra": 1})).await, 400).await;

    // Unknown teams and channels are 404.
    let unknown = uuid::Uuid::now_v7();
    problem(call(&app, Method::GET, &format!("/api/v1/teams/{unknown}/assignment"), Some(&app.token), None).await, 404)
        .await;
    problem(
        put(&app, &format!("/api/v1/channels/{unknown}/assignment"), &app.token, json!({"policy": "off"})).await,
        404,
    )
    .await;
    problem(call(&app, Method::GET, "/api/v1/channels/nope/assignment", Some(&app.token), None).await, 404).await;
    problem(call(&app, Method::GET, &team_path, None, None).await, 401).await;
}

async fn the_backlog_drains_when_an_agent_comes_online_and_when_they_resolve_one(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let channel = app.store.channels().await.unwrap()[0].id;
    let path = format!("/api/v1/channels/{channel}/assignment");
    json_ok(put(&app, &path, &app.token, json!({"policy": "round_robin"})).await).await;
    let (bo, token) = create_agent(&app, json!({"name": "Bo", "email": "bo@example.com", "capacity": 5})).await;
    let bo_id = bo["id"].as_str().unwrap().to_owned();
    assert!(app.assigner_was_woken().await, "setting a policy wakes the assigner");

    // Stored messages wake the assigner; nobody is online, so nothing is assigned.
    let backlog = waiting(&mut app, 8, "b").await;
    assert_eq!(backlog.len(), 8);
    assert!(app.assigner_was_woken().await, "the ingest worker wakes the assigner");
    assert!(app.assign_once(Utc::now()).await.assigned.is_empty());

    // Bo comes online: the assigner is woken and gives him the five longest waiting.
    let res = put(&app, "/api/v1/agents/me/availability", &token, json!({"availability": "online"})).await;
    assert_eq!(res.status(), 200);
    assert!(app.assigner_was_woken().await, "coming online wakes the assigner");
    let report = app.assign_once(Utc::now()).await;
    assert_eq!(report.assigned.iter().map(|a| a.conversation).collect::<Vec<_>>(), backlog[..5]);
    let history = json_ok(
        call(&app, Method::GET, &format!("/api/v1/conversations/{}/history", backlog[0]), Some(&token), None).await,
    )
    .await;
    let entry = &history["items"][0];
    assert_eq!((&entry["kind"], &entry["actor_id"]), (&json!("assigned"), &Value::Null));
    assert_eq!((&entry["data"]["via"], &entry["data"]["agent_id"]), (&json!("auto"), &json!(bo_id)));
    assert_eq!(entry["data"]["policy"], "round_robin");
    // He is at capacity: his own claim is refused, and so is the assigner.
    assert_eq!(
        problem(call(&app, Method::POST, "/api/v1/queue/claim", Some(&token), None).await, 409).await["code"],
        "at_capacity"
    );
    assert!(app.assign_once(Utc::now()).await.assigned.is_empty());

    // Resolving one frees room: woken, the next in line is his.
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/conversations/{}/status", backlog[0]),
        Some(&token),
        Some(json!({"status": "resolved"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(app.assigner_was_woken().await, "resolving wakes the assigner");
    let report = app.assign_once(Utc::now()).await;
    assert_eq!(report.assigned.iter().map(|a| a.conversation).collect::<Vec<_>>(), [backlog[5]]);

    // Giving one back puts it in the queue and wakes the assigner, which hands it to
    // the next online agent with room (Bo is the only one: back to him).
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/conversations/{}/assign", backlog[1]),
        Some(&token),
        Some(json!({"agent_id": null})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(app.assigner_was_woken().await, "unassigning wakes the assigner");
    let report = app.assign_once(Utc::now()).await;
    assert_eq!(report.assigned.len(), 1);
    assert_eq!(report.assigned[0].conversation, backlog[1], "the longest waiting first");
    assert_eq!(me(&app, &token).await["availability"], "online");
}

async fn a_team_policy_assigns_its_channels_conversations_to_members_only(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let channel = app.store.channels().await.unwrap()[0].id;
    let (member, member_token) = new_agent(&app, "Member").await;
    let (_outsider, outsider_token) = new_agent(&app, "Outsider").await;
    for token in [&member_token, &outsider_token] {
        json_ok(put(&app, "/api/v1/agents/me/availability", token, json!({"availability": "online"})).await).await;
    }
    let team: Value = call(&app, Method::POST, "/api/v1/teams", Some(&app.token), Some(json!({"name": "Sales"})))
        .await
        .json()
        .await
        .unwrap();
    let team_id = team["id"].as_str().unwrap();
    let member_id = member["id"].as_str().unwrap();
    let res = put(&app, &format!("/api/v1/teams/{team_id}/members/{member_id}"), &app.token, json!({})).await;
    assert_eq!(res.status(), 204);
    put(&app, &format!("/api/v1/channels/{channel}/team"), &app.token, json!({"team_id": team_id})).await;
    json_ok(
        put(&app, &format!("/api/v1/teams/{team_id}/assignment"), &app.token, json!({"policy": "least_loaded"})).await,
    )
    .await;

    let convs = waiting(&mut app, 3, "t").await;
    let report = app.assign_once(Utc::now()).await;
    assert_eq!(report.assigned.len(), 3);
    for c in convs {
        let state = app.store.conversation_state(c).await.unwrap().unwrap();
        assert_eq!(state.assignee_id.map(|a| a.to_string()).as_deref(), Some(member_id));
    }
}
