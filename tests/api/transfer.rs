//! Transfer to a team over HTTP (`POST /api/v1/conversations/{id}/team`): the
//! conversation's effective team becomes the team (or its channel's again with `null`),
//! which decides who sees it, the team views and counts, claim next, auto-assignment and
//! the live events; an assignee outside the new team gives it back to that team's queue.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_tests::payloads::{contact, delivery, meta_bytes, text};
use switchboard_tests::sse::SseStream;
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::agents::{call, fields, new_agent, problem};

both_backends!(
    an_admin_transfers_to_a_team_and_back_and_an_assignee_outside_it_is_unassigned,
    an_agent_who_transfers_away_loses_sight_and_the_new_team_gets_it,
    an_agent_who_cannot_see_it_gets_404_and_nothing_changes,
    bad_transfers_are_refused_naming_the_field,
    the_new_teams_policy_assigns_a_transferred_conversation,
);

/// One customer writes; returns the new conversation's id.
async fn inbound(app: &mut TestApp, wamid: &str, from: &str) -> String {
    let res = app
        .post_webhook(meta_bytes(&delivery(vec![contact(from, "Customer")], vec![text(wamid, from, "hello")], vec![])))
        .await;
    assert_eq!(res.status(), 200);
    app.ingest().await;
    let c = app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == from).unwrap();
    c["id"].as_str().unwrap().to_owned()
}

async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let res = call(app, method.clone(), &format!("/api/v1{path}"), Some(&app.token), body).await;
    let status = res.status();
    assert!(status.is_success(), "{method} {path}: {status}");
    if status == 204 { Value::Null } else { res.json().await.unwrap() }
}

async fn team(app: &TestApp, name: &str) -> String {
    admin(app, Method::POST, "/teams", Some(json!({ "name": name }))).await["id"].as_str().unwrap().to_owned()
}

async fn join(app: &TestApp, team: &str, agent: &str) {
    admin(app, Method::PUT, &format!("/teams/{team}/members/{agent}"), None).await;
}

async fn transfer(app: &TestApp, token: &str, conversation: &str, team: Value) -> reqwest::Response {
    let path = format!("/api/v1/conversations/{conversation}/team");
    call(app, Method::POST, &path, Some(token), Some(json!({ "team_id": team }))).await
}

async fn ok(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn history(app: &TestApp, conversation: &str) -> Vec<Value> {
    app.get_json(&format!("/api/v1/conversations/{conversation}/history")).await["items"].as_array().unwrap().clone()
}

async fn an_admin_transfers_to_a_team_and_back_and_an_assignee_outside_it_is_unassigned(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conv = inbound(&mut app, "wamid.tr1", "16505550301").await;
    let sales = team(&app, "Sales").await;
    let (ann, _) = new_agent(&app, "Ann").await;
    let (bo, _) = new_agent(&app, "Bo").await;
    let (ann, bo) = (ann["id"].as_str().unwrap().to_owned(), bo["id"].as_str().unwrap().to_owned());
    join(&app, &sales, &ann).await;

    // Ann is in Sales: she keeps it.
    admin(&app, Method::POST, &format!("/conversations/{conv}/assign"), Some(json!({ "agent_id": ann }))).await;
    let s = ok(transfer(&app, &app.token, &conv, json!(sales)).await).await;
    assert_eq!((s["team_id"].as_str(), s["transferred_to"].as_str()), (Some(sales.as_str()), Some(sales.as_str())));
    assert_eq!(s["assignee_id"], ann.as_str());
    // The same again changes nothing, and records nothing.
    let before = history(&app, &conv).await.len();
    ok(transfer(&app, &app.token, &conv, json!(sales)).await).await;
    assert_eq!(history(&app, &conv).await.len(), before);

    // Back to the channel's routing (no team), then to Sales with Bo, who is not in it.
    let s = ok(transfer(&app, &app.token, &conv, Value::Null).await).await;
    assert!(s["team_id"].is_null() && s["transferred_to"].is_null());
    admin(&app, Method::POST, &format!("/conversations/{conv}/assign"), Some(json!({ "agent_id": bo }))).await;
    let s = ok(transfer(&app, &app.token, &conv, json!(sales)).await).await;
    assert_eq!(s["team_id"], sales.as_str());
    assert!(s["assignee_id"].is_null(), "Bo is not in Sales: back to its queue");
    let c = app.get_json(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(c["team_id"], sales.as_str());

    let items = history(&app, &conv).await;
    let kinds: Vec<&str> = items.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["assigned", "team_changed", "team_changed", "assigned", "team_changed", "unassigned"],
        "{items:#?}"
    );
    let admin_id = crate::agents::me(&app, &app.token).await["id"].clone();
    assert_eq!(items[1]["data"], json!({ "from": null, "to": sales, "transferred_to": sales }));
    assert_eq!(items[1]["actor_id"], admin_id);
    assert_eq!(items[2]["data"], json!({ "from": sales, "to": null, "transferred_to": null }));
    assert_eq!(items[5]["data"], json!({ "agent_id": bo, "reason": "team_changed" }));

    // The team view and its count follow the conversation's team, not its channel's.
    let listed = app.get_json(&format!("/api/v1/conversations?team={sales}")).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], conv.as_str());

    // A deleted team sends its conversations back to their channel's routing.
    admin(&app, Method::DELETE, &format!("/teams/{sales}"), None).await;
    let c = app.get_json(&format!("/api/v1/conversations/{conv}")).await;
    assert!(c["team_id"].is_null());
}

async fn an_agent_who_transfers_away_loses_sight_and_the_new_team_gets_it(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let channel = app.store.channels().await.unwrap()[0].id;
    let (billing, sales) = (team(&app, "Billing").await, team(&app, "Sales").await);
    admin(&app, Method::PUT, &format!("/channels/{channel}/team"), Some(json!({ "team_id": billing }))).await;
    let (ina, ina_token) = new_agent(&app, "Ina").await;
    let (sam, sam_token) = new_agent(&app, "Sam").await;
    join(&app, &billing, ina["id"].as_str().unwrap()).await;
    join(&app, &sales, sam["id"].as_str().unwrap()).await;
    let conv = inbound(&mut app, "wamid.tr2", "16505550302").await;

    // Sam (Sales) does not see Billing's conversation; Ina claims it.
    let res = call(&app, Method::GET, &format!("/api/v1/conversations/{conv}"), Some(&sam_token), None).await;
    assert_eq!(res.status(), 404);
    assert_eq!(call(&app, Method::POST, "/api/v1/queue/claim", Some(&sam_token), None).await.status(), 204);
    let res = call(&app, Method::POST, "/api/v1/queue/claim", Some(&ina_token), None).await;
    assert_eq!(res.status(), 200);

    let mut ina_stream =
        SseStream::new(app.client.get(app.url("/api/v1/events")).bearer_auth(&ina_token).send().await.unwrap());
    let mut sam_stream =
        SseStream::new(app.client.get(app.url("/api/v1/events")).bearer_auth(&sam_token).send().await.unwrap());

    // Ina hands it to Sales: answered with the state after, though she no longer sees it.
    let s = ok(transfer(&app, &ina_token, &conv, json!(sales)).await).await;
    assert_eq!(s["team_id"], sales.as_str());
    assert!(s["assignee_id"].is_null());
    let res = call(&app, Method::GET, &format!("/api/v1/conversations/{conv}"), Some(&ina_token), None).await;
    assert_eq!(res.status(), 404, "gone to a team she is not in");
    let mine = call(&app, Method::GET, "/api/v1/conversations?status=all", Some(&ina_token), None).await;
    let mine: Value = mine.json().await.unwrap();
    assert!(mine["items"].as_array().unwrap().is_empty());

    // Both streams hear it: Ina that it left (the unassignment and the transfer), Sam that it came.
    let mut ina_kinds = Vec::new();
    while let Some(ev) = ina_stream.event_within(Duration::from_secs(5)).await {
        ina_kinds.push(ev.event.clone());
        if ev.event == "team_changed" {
            assert_eq!(
                (ev.data["team_id"].as_str(), ev.data["previous_team_id"].as_str()),
                (Some(sales.as_str()), Some(billing.as_str()))
            );
            break;
        }
    }
    assert!(ina_kinds.contains(&"team_changed".to_owned()), "{ina_kinds:?}");
    let ev = sam_stream.event_within(Duration::from_secs(5)).await.expect("Sam hears of it");
    assert_eq!(ev.data["conversation_id"], conv.as_str());

    // Sam sees it now and claims it.
    let res = call(&app, Method::GET, &format!("/api/v1/conversations/{conv}"), Some(&sam_token), None).await;
    assert_eq!(res.status(), 200);
    let counts = call(&app, Method::GET, "/api/v1/conversations/counts", Some(&sam_token), None).await;
    let counts: Value = counts.json().await.unwrap();
    assert_eq!(counts["unassigned"], 1, "{counts}");
    let res = call(&app, Method::POST, "/api/v1/queue/claim", Some(&sam_token), None).await;
    assert_eq!(ok(res).await["conversation"]["id"], conv.as_str());
    assert_eq!(call(&app, Method::POST, "/api/v1/queue/claim", Some(&ina_token), None).await.status(), 204);
}

async fn an_agent_who_cannot_see_it_gets_404_and_nothing_changes(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let channel = app.store.channels().await.unwrap()[0].id;
    let (billing, sales) = (team(&app, "Billing").await, team(&app, "Sales").await);
    admin(&app, Method::PUT, &format!("/channels/{channel}/team"), Some(json!({ "team_id": billing }))).await;
    let (otto, otto_token) = new_agent(&app, "Otto").await;
    join(&app, &sales, otto["id"].as_str().unwrap()).await;
    let conv = inbound(&mut app, "wamid.tr3", "16505550303").await;
    let before = (app.get_json(&format!("/api/v1/conversations/{conv}")).await, history(&app, &conv).await);

    for target in [json!(sales), Value::Null] {
        let p = problem(transfer(&app, &otto_token, &conv, target).await, 404).await;
        assert_eq!(p["code"], "not_found");
    }
    let after = (app.get_json(&format!("/api/v1/conversations/{conv}")).await, history(&app, &conv).await);
    assert_eq!(after, before);
}

async fn bad_transfers_are_refused_naming_the_field(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conv = inbound(&mut app, "wamid.tr4", "16505550304").await;
    let path = format!("/api/v1/conversations/{conv}/team");
    let unknown = uuid::Uuid::now_v7().to_string();
    for body in [json!({}), json!({ "team_id": "billing" }), json!({ "team_id": unknown })] {
        let p = problem(call(&app, Method::POST, &path, Some(&app.token), Some(body.clone())).await, 422).await;
        assert_eq!(fields(&p), ["team_id"], "{body}");
    }
    let p = problem(call(&app, Method::POST, &path, Some(&app.token), Some(json!({ "team_id": 5 }))).await, 400).await;
    assert_eq!(p["code"], "invalid_body", "{p}");

    // An agent may not take another agent's conversation away from them.
    let sales = team(&app, "Sales").await;
    let (bo, _) = new_agent(&app, "Bo").await;
    let (_, cy_token) = new_agent(&app, "Cy").await;
    admin(&app, Method::POST, &format!("/conversations/{conv}/assign"), Some(json!({ "agent_id": bo["id"] }))).await;
    problem(transfer(&app, &cy_token, &conv, json!(sales)).await, 403).await;
    // A resolved conversation is closed for good.
    admin(&app, Method::POST, &format!("/conversations/{conv}/status"), Some(json!({ "status": "resolved" }))).await;
    let p = problem(transfer(&app, &app.token, &conv, json!(sales)).await, 409).await;
    assert_eq!(p["code"], "conversation_resolved");
    let c = app.get_json(&format!("/api/v1/conversations/{conv}")).await;
    assert!(c["team_id"].is_null());
}

async fn the_new_teams_policy_assigns_a_transferred_conversation(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let sales = team(&app, "Sales").await;
    let (member, member_token) = new_agent(&app, "Member").await;
    let (_, outsider_token) = new_agent(&app, "Outsider").await;
    let member_id = member["id"].as_str().unwrap().to_owned();
    join(&app, &sales, &member_id).await;
    for token in [&member_token, &outsider_token] {
        let res = call(
            &app,
            Method::PUT,
            "/api/v1/agents/me/availability",
            Some(token),
            Some(json!({"availability": "online"})),
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    admin(&app, Method::PUT, &format!("/teams/{sales}/assignment"), Some(json!({ "policy": "least_loaded" }))).await;
    let conv = inbound(&mut app, "wamid.tr5", "16505550305").await;
    let other = inbound(&mut app, "wamid.tr6", "16505550306").await;
    // Its channel has no team and no policy: nobody assigns it.
    assert_eq!(app.assign_once(Utc::now()).await.changes(), 0);

    ok(transfer(&app, &app.token, &conv, json!(sales)).await).await;
    let report = app.assign_once(Utc::now()).await;
    assert_eq!(report.assigned.len(), 1, "{report:?}");
    assert_eq!(report.assigned[0].conversation.to_string(), conv);
    assert_eq!(report.assigned[0].agent.to_string(), member_id);
    // The other conversation still follows its channel: nobody assigns it.
    let o = app.get_json(&format!("/api/v1/conversations/{other}")).await;
    assert!(o["assignee_id"].is_null());
    let items = history(&app, &conv).await;
    let last = items.last().unwrap();
    assert_eq!((last["kind"].as_str(), last["data"]["via"].as_str()), (Some("assigned"), Some("auto")));
}
