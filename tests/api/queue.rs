//! The shared queue over HTTP: claim next (race, capacity, teams), assignment, status,
//! snoozes and history.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::{Scheduler, SchedulerOptions};
use switchboard_domain::{AgentName, AgentRole, Email, NewAgent};
use switchboard_tests::payloads::{contact, delivery, meta_bytes, text, text_delivery};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::agents::{call, create_agent, fields, me, new_agent, problem};

both_backends!(
    fifty_concurrent_claimers_never_get_the_same_conversation,
    an_agent_at_capacity_gets_409_and_an_empty_queue_204,
    agents_claim_and_see_only_their_teams_conversations,
    teams_are_managed_by_admins,
    assignment_rules_and_history,
    status_changes_snoozes_and_resolution,
    a_snoozed_conversation_reopens_by_the_job_or_a_new_message,
);

/// `n` customers write once each, in one delivery; returns the conversation ids.
async fn conversations(app: &mut TestApp, n: usize, tag: &str) -> Vec<String> {
    let before: HashSet<String> =
        app.conversations().await.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    let contacts = (0..n).map(|i| contact(&format!("1650555{i:04}"), "Customer")).collect();
    let messages = (0..n).map(|i| text(&format!("wamid.{tag}.{i}"), &format!("1650555{i:04}"), "hello")).collect();
    let res = app.post_webhook(meta_bytes(&delivery(contacts, messages, vec![]))).await;
    assert_eq!(res.status(), 200);
    app.ingest().await;
    app.conversations()
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .filter(|id| !before.contains(id))
        .collect()
}

async fn claim(app: &TestApp, token: &str) -> reqwest::Response {
    call(app, Method::POST, "/api/v1/queue/claim", Some(token), None).await
}

async fn claimed_id(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["conversation"]["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    call(app, Method::POST, path, Some(token), Some(body)).await
}

async fn fifty_concurrent_claimers_never_get_the_same_conversation(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let waiting: HashSet<String> = conversations(&mut app, 30, "race").await.into_iter().collect();
    assert_eq!(waiting.len(), 30);
    // Fifty agents, created directly (fast); each claims once, all at the same time.
    let mut tokens = Vec::new();
    for i in 0..50 {
        let token = switchboard_http::new_token();
        let agent = NewAgent {
            name: AgentName::parse(&format!("Agent {i}")).unwrap(),
            email: Email::parse(&format!("agent{i}@example.com")).unwrap(),
            role: AgentRole::Agent,
        };
        app.store.create_agent(&agent, &switchboard_http::hash_token(&token), Utc::now()).await.unwrap();
        tokens.push(token);
    }
    let client = app.client.clone();
    let url = app.url("/api/v1/queue/claim");
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let res = client.post(url).bearer_auth(&token).send().await.unwrap();
                let status = res.status().as_u16();
                let body = if status == 200 { Some(res.json::<Value>().await.unwrap()) } else { None };
                (status, body)
            })
        })
        .collect();
    let mut got = Vec::new();
    let mut empty = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, Some(body)) => got.push(body["conversation"]["id"].as_str().unwrap().to_owned()),
            (204, None) => empty += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let distinct: HashSet<String> = got.iter().cloned().collect();
    assert_eq!(distinct.len(), got.len(), "a conversation was claimed twice");
    assert_eq!(distinct, waiting);
    assert_eq!(empty, 20);
}

async fn an_agent_at_capacity_gets_409_and_an_empty_queue_204(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, token) = create_agent(&app, json!({"name": "Bo", "email": "bo@example.com", "capacity": 1})).await;
    let res = claim(&app, &token).await;
    assert_eq!(res.status(), 204, "nothing waits yet");
    assert!(res.bytes().await.unwrap().is_empty());
    let ids = conversations(&mut app, 2, "cap").await;
    let first = claimed_id(claim(&app, &token).await).await;
    assert!(ids.contains(&first));
    let p = problem(claim(&app, &token).await, 409).await;
    assert_eq!(p["code"], "at_capacity");
    // Self-assignment respects capacity too.
    let other = ids.iter().find(|id| **id != first).unwrap();
    let bo_id = me(&app, &token).await["id"].clone();
    let p = problem(
        post(&app, &format!("/api/v1/conversations/{other}/assign"), &token, json!({"agent_id": bo_id})).await,
        409,
    )
    .await;
    assert_eq!(p["code"], "at_capacity");
    // Resolving frees the capacity.
    let res = post(&app, &format!("/api/v1/conversations/{first}/status"), &token, json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(claimed_id(claim(&app, &token).await).await, *other);
    assert_eq!(claim(&app, &app.token).await.status(), 204);
}

async fn agents_claim_and_see_only_their_teams_conversations(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (bo, token) = new_agent(&app, "Bo").await;
    let bo_id = bo["id"].as_str().unwrap();
    let channel = app.store.channels().await.unwrap()[0].id;
    let res = post(&app, "/api/v1/teams", &app.token, json!({"name": "Sales"})).await;
    assert_eq!(res.status(), 201);
    let team: Value = res.json().await.unwrap();
    let team_id = team["id"].as_str().unwrap();
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/channels/{channel}/team"),
        Some(&app.token),
        Some(json!({"team_id": team_id})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let ids = conversations(&mut app, 1, "team").await;
    let id = &ids[0];

    // Bo is not in Sales: nothing to claim, and the conversation does not exist for him.
    assert_eq!(claim(&app, &token).await.status(), 204);
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/conversations/{id}/history"), None),
        (Method::POST, format!("/api/v1/conversations/{id}/assign"), Some(json!({"agent_id": bo_id}))),
        (Method::POST, format!("/api/v1/conversations/{id}/status"), Some(json!({"status": "pending"}))),
    ] {
        let p = problem(call(&app, method.clone(), &path, Some(&token), body).await, 404).await;
        assert_eq!(p["code"], "not_found", "{method} {path}");
    }

    let res =
        call(&app, Method::PUT, &format!("/api/v1/teams/{team_id}/members/{bo_id}"), Some(&app.token), None).await;
    assert_eq!(res.status(), 204);
    let claimed = claim(&app, &token).await;
    assert_eq!(claimed.status(), 200);
    let body: Value = claimed.json().await.unwrap();
    assert_eq!(body["conversation"]["id"], id.as_str());
    assert_eq!(body["conversation"]["team_id"], team_id);
    assert_eq!(body["conversation"]["assignee_id"], bo_id);
    assert!(body["conversation"]["waiting_since"].is_string());

    // Out of the team again, he still sees the conversation assigned to him.
    let res =
        call(&app, Method::DELETE, &format!("/api/v1/teams/{team_id}/members/{bo_id}"), Some(&app.token), None).await;
    assert_eq!(res.status(), 204);
    let res = call(&app, Method::GET, &format!("/api/v1/conversations/{id}/history"), Some(&token), None).await;
    assert_eq!(res.status(), 200);
}

async fn teams_are_managed_by_admins(backend: Backend) {
    let app = spawn_app(backend).await;
    let (bo, token) = new_agent(&app, "Bo").await;
    let bo_id = bo["id"].as_str().unwrap();
    let channel = app.store.channels().await.unwrap()[0].id;
    let team: Value = post(&app, "/api/v1/teams", &app.token, json!({"name": " Support "})).await.json().await.unwrap();
    assert_eq!(team["name"], "Support");
    let id = team["id"].as_str().unwrap();
    let p = problem(post(&app, "/api/v1/teams", &app.token, json!({"name": "SUPPORT"})).await, 422).await;
    assert_eq!(fields(&p), ["name"]);
    let p = problem(post(&app, "/api/v1/teams", &app.token, json!({"name": "  "})).await, 422).await;
    assert_eq!(fields(&p), ["name"]);

    let res = call(&app, Method::PUT, &format!("/api/v1/teams/{id}/members/{bo_id}"), Some(&app.token), None).await;
    assert_eq!(res.status(), 204);
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/channels/{channel}/team"),
        Some(&app.token),
        Some(json!({"team_id": id})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res =
        call(&app, Method::PATCH, &format!("/api/v1/teams/{id}"), Some(&app.token), Some(json!({"name": "Help"})))
            .await;
    assert_eq!(res.status(), 200);

    // Every agent reads teams.
    let list: Value = call(&app, Method::GET, "/api/v1/teams", Some(&token), None).await.json().await.unwrap();
    let t = &list["items"][0];
    assert_eq!(t["name"], "Help");
    assert_eq!(t["members"], json!([bo_id]));
    assert_eq!(t["channels"], json!([channel.to_string()]));
    // Agents do not write.
    for (method, path) in [
        (Method::PATCH, format!("/api/v1/teams/{id}")),
        (Method::DELETE, format!("/api/v1/teams/{id}")),
        (Method::PUT, format!("/api/v1/teams/{id}/members/{bo_id}")),
        (Method::DELETE, format!("/api/v1/teams/{id}/members/{bo_id}")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"name": "Mine"}));
        assert_eq!(call(&app, method.clone(), &path, Some(&token), body).await.status(), 403, "{method} {path}");
    }
    // Unknown things.
    let unknown = "0190a000-0000-7000-8000-000000000000";
    let res = call(&app, Method::PUT, &format!("/api/v1/teams/{id}/members/{unknown}"), Some(&app.token), None).await;
    assert_eq!(res.status(), 404);
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/channels/{unknown}/team"),
        Some(&app.token),
        Some(json!({"team_id": null})),
    )
    .await;
    assert_eq!(res.status(), 404);
    let p = problem(
        call(
            &app,
            Method::PUT,
            &format!("/api/v1/channels/{channel}/team"),
            Some(&app.token),
            Some(json!({"team_id": unknown})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["team_id"]);
    let p = problem(
        call(&app, Method::PUT, &format!("/api/v1/channels/{channel}/team"), Some(&app.token), Some(json!({}))).await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["team_id"]);

    let res = call(&app, Method::DELETE, &format!("/api/v1/teams/{id}"), Some(&app.token), None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/teams/{id}"), Some(&app.token), None).await.status(), 404);
    assert_eq!(call(&app, Method::DELETE, &format!("/api/v1/teams/{id}"), Some(&app.token), None).await.status(), 404);
}

async fn assignment_rules_and_history(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (bo, bo_token) = new_agent(&app, "Bo").await;
    let (cy, cy_token) = new_agent(&app, "Cy").await;
    let admin_id = me(&app, &app.token).await["id"].clone();
    let ids = conversations(&mut app, 1, "assign").await;
    let path = format!("/api/v1/conversations/{}/assign", ids[0]);

    // The admin assigns to Bo.
    let res = post(&app, &path, &app.token, json!({"agent_id": bo["id"]})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["assignee_id"], bo["id"]);
    // Cy may neither take it nor give it to someone else, nor unassign Bo.
    for body in [json!({"agent_id": cy["id"]}), json!({"agent_id": admin_id}), json!({"agent_id": null})] {
        assert_eq!(problem(post(&app, &path, &cy_token, body).await, 403).await["code"], "forbidden");
    }
    // Bo gives it back; Cy takes it.
    let res = post(&app, &path, &bo_token, json!({"agent_id": null})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["assignee_id"], Value::Null);
    let res = post(&app, &path, &cy_token, json!({"agent_id": cy["id"]})).await;
    assert_eq!(res.status(), 200);
    // The admin transfers it to Bo.
    assert_eq!(post(&app, &path, &app.token, json!({"agent_id": bo["id"]})).await.status(), 200);

    // Bad input.
    let p = problem(post(&app, &path, &app.token, json!({})).await, 422).await;
    assert_eq!(fields(&p), ["agent_id"]);
    let p = problem(post(&app, &path, &app.token, json!({"agent_id": "nope"})).await, 422).await;
    assert_eq!(fields(&p), ["agent_id"]);
    let p =
        problem(post(&app, &path, &app.token, json!({"agent_id": "0190a000-0000-7000-8000-000000000000"})).await, 422)
            .await;
    assert_eq!(fields(&p), ["agent_id"]);
    let res = post(
        &app,
        "/api/v1/conversations/0190a000-0000-7000-8000-000000000000/assign",
        &app.token,
        json!({"agent_id": null}),
    )
    .await;
    assert_eq!(res.status(), 404);

    let history = app.get_json(&format!("/api/v1/conversations/{}/history", ids[0])).await;
    let items = history["items"].as_array().unwrap();
    let summary: Vec<(&str, &Value, &Value)> =
        items.iter().map(|h| (h["kind"].as_str().unwrap(), &h["actor_id"], &h["data"]["agent_id"])).collect();
    assert_eq!(
        summary,
        [
            ("assigned", &admin_id, &bo["id"]),
            ("unassigned", &bo["id"], &bo["id"]),
            ("assigned", &cy["id"], &cy["id"]),
            ("assigned", &admin_id, &bo["id"]),
        ]
    );
    assert_eq!(items[3]["data"]["previous_agent_id"], cy["id"]);
    assert!(items.iter().all(|h| h["at"].is_string() && h["id"].is_i64()));
    assert_eq!(history["next_cursor"], Value::Null);
    let page = app.get_json(&format!("/api/v1/conversations/{}/history?limit=3", ids[0])).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app.get_json(&format!("/api/v1/conversations/{}/history?limit=3&cursor={cursor}", ids[0])).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    let res = app.get(&format!("/api/v1/conversations/{}/history?limit=0&cursor=x", ids[0])).await;
    assert_eq!(fields(&problem(res, 422).await), ["limit", "cursor"]);
}

async fn status_changes_snoozes_and_resolution(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, token) = new_agent(&app, "Bo").await;
    let admin_id = me(&app, &app.token).await["id"].clone();
    let ids = conversations(&mut app, 1, "status").await;
    let path = format!("/api/v1/conversations/{}/status", ids[0]);

    let past = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    for (body, field) in [
        (json!({"status": "closed"}), "status"),
        (json!({"status": "snoozed"}), "snooze_until"),
        (json!({"status": "snoozed", "snooze_until": past}), "snooze_until"),
        (json!({"status": "snoozed", "snooze_until": "tomorrow"}), "snooze_until"),
        (json!({"status": "open", "snooze_until": (Utc::now() + Duration::hours(1)).to_rfc3339()}), "snooze_until"),
    ] {
        let p = problem(post(&app, &path, &app.token, body.clone()).await, 422).await;
        assert_eq!(fields(&p), [field], "{body}");
    }

    let res = post(&app, &path, &token, json!({"status": "pending"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "pending");
    let until = Utc::now() + Duration::hours(2);
    let res = post(&app, &path, &app.token, json!({"status": "snoozed", "snooze_until": until.to_rfc3339()})).await;
    assert_eq!(res.status(), 200);
    let snoozed: Value = res.json().await.unwrap();
    assert_eq!(snoozed["status"], "snoozed");
    let at = chrono::DateTime::parse_from_rfc3339(snoozed["snoozed_until"].as_str().unwrap()).unwrap();
    assert!((at.timestamp_millis() - until.timestamp_millis()).abs() <= 1);

    let res = post(&app, &path, &app.token, json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
    let resolved: Value = res.json().await.unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_by"], admin_id);
    assert!(resolved["resolved_at"].is_string());
    assert_eq!(resolved["snoozed_until"], Value::Null);
    let conversation = app.get_json(&format!("/api/v1/conversations/{}", ids[0])).await;
    assert_eq!(conversation["status"], "resolved");
    // Closed for good.
    let p = problem(post(&app, &path, &app.token, json!({"status": "open"})).await, 409).await;
    assert_eq!(p["code"], "conversation_resolved");
    let p = problem(
        post(&app, &format!("/api/v1/conversations/{}/assign", ids[0]), &app.token, json!({"agent_id": null})).await,
        409,
    )
    .await;
    assert_eq!(p["code"], "conversation_resolved");

    let history = app.get_json(&format!("/api/v1/conversations/{}/history", ids[0])).await;
    let changes: Vec<(&str, &str)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["data"]["from"].as_str().unwrap(), h["data"]["to"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, [("open", "pending"), ("pending", "snoozed"), ("snoozed", "resolved")]);
}

async fn a_snoozed_conversation_reopens_by_the_job_or_a_new_message(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let ids = conversations(&mut app, 2, "snooze").await;
    let until = Utc::now() + Duration::minutes(30);
    for id in &ids {
        let res = post(
            &app,
            &format!("/api/v1/conversations/{id}/status"),
            &app.token,
            json!({"status": "snoozed", "snooze_until": until.to_rfc3339()}),
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    // Snoozed conversations are not claimed.
    assert_eq!(claim(&app, &app.token).await.status(), 204);

    // The job, at a time after the snooze: both reopen (nothing before).
    let scheduler = Scheduler::new(std::sync::Arc::clone(&app.store), SchedulerOptions::default());
    assert_eq!(scheduler.run_once(Utc::now()).await.unwrap().woken, 0);
    // The customer of the first writes before that: it reopens at once.
    let first = app.get_json(&format!("/api/v1/conversations/{}", ids[0])).await;
    let wa_id = first["contact"]["wa_id"].as_str().unwrap().to_owned();
    app.post_webhook(meta_bytes(&text_delivery("wamid.snooze.again", &wa_id, "any news?"))).await;
    app.ingest().await;
    assert_eq!(app.get_json(&format!("/api/v1/conversations/{}", ids[0])).await["status"], "open");
    assert_eq!(app.get_json(&format!("/api/v1/conversations/{}", ids[1])).await["status"], "snoozed");

    assert_eq!(scheduler.run_once(until + Duration::seconds(1)).await.unwrap().woken, 1);
    assert_eq!(app.get_json(&format!("/api/v1/conversations/{}", ids[1])).await["status"], "open");
    let history = app.get_json(&format!("/api/v1/conversations/{}/history", ids[1])).await;
    let last = history["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "status_changed");
    assert_eq!(last["actor_id"], Value::Null);
    assert_eq!(last["data"]["reason"], "snooze_ended");
    // Both are back in the queue.
    let a = claimed_id(claim(&app, &app.token).await).await;
    let b = claimed_id(claim(&app, &app.token).await).await;
    assert_eq!(HashSet::from([a, b]), ids.iter().cloned().collect());
}
