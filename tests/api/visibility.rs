//! Visibility on every route with an id in its path, generated from the route tables:
//! an agent outside the team that owns a conversation's channel gets 404 for it, its
//! messages, notes and contact (403 on admin routes), and nothing is stored, sent or
//! changed. A route added later with an id in its path fails
//! `every_route_with_an_id_hides_what_the_caller_may_not_see` until it is listed here.
//!
//! And open event streams end when access ends: a revoked token, a deactivated agent.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_http::openapi::{API, API_PREFIX, ROOT};
use switchboard_tests::payloads::{contact, delivery, message};
use switchboard_tests::sse::SseStream;
use switchboard_tests::{AppOptions, Backend, TestApp, both_backends, spawn_app_with};

use crate::agents::{call, new_agent};

both_backends!(
    every_route_with_an_id_hides_what_the_caller_may_not_see,
    every_console_route_with_an_id_hides_what_the_caller_may_not_see,
    a_stream_ends_when_its_token_is_revoked,
    a_quiet_stream_ends_when_its_agent_is_deactivated,
    a_stream_ends_when_its_agent_leaves_the_team_and_widens_when_they_join_one,
);

const FROM: &str = "16505550142";
const MEDIA_ID: &str = "2037543291543636";

/// What an agent outside the channel's team gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A conversation, or its messages, notes, labels or contact: 404, as if it did not exist.
    Hidden,
    /// Admins only (or the agent's own, for another agent's tokens): 403.
    Forbidden,
    /// Shared by every agent and about no conversation (labels, agents, teams, links): 200.
    Shared,
    /// Served without a token at the root (short links); not called.
    Public,
}

/// Every route with an id in its path, as `(method, path as registered, what an agent
/// outside the team gets, a plausible body)`. API paths are relative to `/api/v1`.
pub fn matrix() -> Vec<(&'static str, &'static str, Expect, Option<Value>)> {
    use Expect::{Forbidden, Hidden, Public, Shared};
    vec![
        // Conversations and what hangs off them.
        ("get", "/conversations/{id}", Hidden, None),
        ("get", "/conversations/{id}/messages", Hidden, None),
        ("post", "/conversations/{id}/messages", Hidden, Some(json!({"type": "text", "text": "sent as the business"}))),
        // The body is the file; a JSON one is refused after the visibility check.
        ("post", "/conversations/{id}/attachments", Hidden, Some(json!({}))),
        ("get", "/conversations/{id}/notes", Hidden, None),
        ("post", "/conversations/{id}/notes", Hidden, Some(json!({"text": "a note from outside"}))),
        ("delete", "/conversations/{id}/notes/{note_id}", Hidden, None),
        ("post", "/conversations/{id}/mentions/seen", Hidden, None),
        ("get", "/conversations/{id}/labels", Hidden, None),
        ("post", "/conversations/{id}/labels", Hidden, Some(json!({"labels": ["spare"]}))),
        ("delete", "/conversations/{id}/labels/{label_id}", Hidden, None),
        ("post", "/conversations/{id}/read", Hidden, Some(json!({"typing": true}))),
        ("post", "/conversations/{id}/assign", Hidden, Some(json!({"agent_id": "{outsider}"}))),
        ("post", "/conversations/{id}/status", Hidden, Some(json!({"status": "resolved"}))),
        ("post", "/conversations/{id}/team", Hidden, Some(json!({"team_id": null}))),
        ("get", "/conversations/{id}/history", Hidden, None),
        ("get", "/messages/{id}/media", Hidden, None),
        // Admins only, and hidden first: the insider agent gets 403 (tests/api/privacy.rs).
        ("post", "/contacts/{id}/erase", Hidden, None),
        ("get", "/contacts/{id}", Hidden, None),
        ("patch", "/contacts/{id}", Hidden, Some(json!({"name": "Renamed from outside"}))),
        ("get", "/contacts/{id}/conversations", Hidden, None),
        ("get", "/contacts/{id}/consent", Hidden, None),
        ("post", "/contacts/{id}/consent", Hidden, Some(json!({"state": "opted_out", "note": "from outside"}))),
        // Admins only: an agent who may see the contact gets 403 (tests/api/export.rs).
        ("get", "/contacts/{id}/export", Hidden, None),
        // Admin routes.
        ("get", "/conversations/{id}/kpis", Hidden, None),
        ("post", "/admin/outbox/{id}/retry", Forbidden, None),
        ("get", "/admin/webhooks/{id}", Forbidden, None),
        ("patch", "/admin/webhooks/{id}", Forbidden, Some(json!({"enabled": false}))),
        ("delete", "/admin/webhooks/{id}", Forbidden, None),
        ("post", "/admin/webhooks/{id}/rotate-secret", Forbidden, None),
        ("get", "/admin/webhooks/{id}/deliveries", Forbidden, None),
        ("get", "/admin/webhooks/{id}/attempts", Forbidden, None),
        (
            "post",
            "/admin/webhooks/{id}/replay",
            Forbidden,
            Some(json!({"webhook_id": "msg_0123456789abcdef0123456789abcdef"})),
        ),
        ("get", "/admin/channels/{id}", Forbidden, None),
        ("patch", "/admin/channels/{id}", Forbidden, Some(json!({"enabled": false}))),
        ("post", "/admin/channels/{id}/templates/sync", Forbidden, None),
        ("get", "/channels/{id}/templates", Shared, None),
        ("get", "/admin/channels/{channel_id}/auto-replies", Forbidden, None),
        ("put", "/admin/channels/{channel_id}/auto-replies", Forbidden, Some(json!({}))),
        ("patch", "/admin/channels/{channel_id}/auto-replies", Forbidden, Some(json!({}))),
        ("get", "/admin/channels/{channel_id}/auto-replies/{section}", Forbidden, None),
        ("put", "/admin/channels/{channel_id}/auto-replies/{section}", Forbidden, Some(json!({}))),
        ("delete", "/admin/channels/{channel_id}/auto-replies/{section}", Forbidden, None),
        ("get", "/admin/channels/{channel_id}/csat", Forbidden, None),
        (
            "put",
            "/admin/channels/{channel_id}/csat",
            Forbidden,
            Some(json!({"enabled": true, "question": "How did we do?"})),
        ),
        ("get", "/admin/channels/{channel_id}/sla", Forbidden, None),
        ("put", "/admin/channels/{channel_id}/sla", Forbidden, Some(json!({"first_response_minutes": 30}))),
        ("delete", "/admin/channels/{channel_id}/sla", Forbidden, None),
        ("get", "/admin/teams/{team_id}/sla", Forbidden, None),
        ("put", "/admin/teams/{team_id}/sla", Forbidden, Some(json!({"resolution_minutes": 480}))),
        ("delete", "/admin/teams/{team_id}/sla", Forbidden, None),
        ("get", "/admin/channels/{channel_id}/retention", Forbidden, None),
        ("put", "/admin/channels/{channel_id}/retention", Forbidden, Some(json!({"conversations_days": 1}))),
        ("get", "/erasures/{id}", Forbidden, None),
        ("get", "/admin/quick-replies/{id}", Forbidden, None),
        ("put", "/admin/quick-replies/{id}", Forbidden, Some(json!({}))),
        ("delete", "/admin/quick-replies/{id}", Forbidden, None),
        ("get", "/admin/rules/{id}", Forbidden, None),
        ("put", "/admin/rules/{id}", Forbidden, Some(json!({}))),
        ("delete", "/admin/rules/{id}", Forbidden, None),
        ("patch", "/labels/{id}", Forbidden, Some(json!({"name": "renamed"}))),
        ("delete", "/labels/{id}", Forbidden, None),
        ("patch", "/links/{id}", Forbidden, Some(json!({"text": "changed"}))),
        ("post", "/links/{id}/disable", Forbidden, None),
        ("post", "/links/{id}/enable", Forbidden, None),
        ("patch", "/agents/{id}", Forbidden, Some(json!({"name": "Renamed"}))),
        ("get", "/agents/{id}/tokens", Forbidden, None),
        ("post", "/agents/{id}/tokens", Forbidden, Some(json!({"name": "mine now"}))),
        ("delete", "/agents/{id}/tokens/{token_id}", Forbidden, None),
        ("post", "/agents/{id}/invitation", Forbidden, None),
        ("get", "/agents/{id}/sessions", Forbidden, None),
        ("delete", "/agents/{id}/sessions/{session_id}", Forbidden, None),
        ("patch", "/teams/{id}", Forbidden, Some(json!({"name": "Renamed"}))),
        ("delete", "/teams/{id}", Forbidden, None),
        ("put", "/teams/{id}/members/{agent_id}", Forbidden, None),
        ("delete", "/teams/{id}/members/{agent_id}", Forbidden, None),
        ("put", "/teams/{id}/assignment", Forbidden, Some(json!({"policy": "round_robin"}))),
        ("put", "/channels/{id}/team", Forbidden, Some(json!({"team_id": null}))),
        ("put", "/channels/{id}/assignment", Forbidden, Some(json!({"policy": "round_robin"}))),
        ("delete", "/channels/{id}/assignment", Forbidden, None),
        // Shared, about no conversation.
        ("get", "/labels/{id}", Shared, None),
        ("get", "/links/{id}", Shared, None),
        ("get", "/links/{id}/stats", Shared, None),
        ("get", "/agents/{id}", Shared, None),
        ("get", "/teams/{id}", Shared, None),
        ("get", "/teams/{id}/assignment", Shared, None),
        ("get", "/channels/{id}/assignment", Shared, None),
        // Public short links, at the root.
        ("get", "/l/{slug}", Public, None),
        ("head", "/l/{slug}", Public, None),
        ("get", "/l/{slug}/qr.svg", Public, None),
        ("get", "/l/{slug}/qr.png", Public, None),
    ]
}

/// A conversation on a channel routed to a team, with a customer's image, a note and a
/// label; an agent in that team and one in another; a link.
pub struct Fixture {
    pub app: TestApp,
    pub conversation: String,
    pub contact: String,
    pub message: String,
    pub note: String,
    pub label: String,
    pub channel: String,
    pub team: String,
    pub insider: String,
    pub insider_token: String,
    pub insider_token_id: String,
    pub outsider: String,
    pub outsider_token: String,
    pub link: String,
}

async fn ok(res: reqwest::Response, what: &str) -> Value {
    let status = res.status();
    assert!(status.is_success(), "{what}: {status}");
    if status == 204 { Value::Null } else { res.json().await.unwrap() }
}

impl Fixture {
    pub async fn new(backend: Backend) -> Self {
        let env = vec![("SWITCHBOARD__WHATSAPP__DISPLAY_PHONE_NUMBER", "+44 7700 900123".to_owned())];
        let mut app = spawn_app_with(backend, AppOptions { env, ..AppOptions::default() }).await;
        let image = message(
            "wamid.vis.1",
            FROM,
            "image",
            json!({"mime_type": "image/jpeg", "sha256": "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=", "id": MEDIA_ID}),
        );
        let body = serde_json::to_vec(&delivery(vec![contact(FROM, "Ana")], vec![image], vec![])).unwrap();
        assert_eq!(app.post_webhook(body).await.status(), 200);
        app.ingest().await;
        let c = app.conversations().await.pop().unwrap();
        let conversation = c["id"].as_str().unwrap().to_owned();
        let contact = c["contact"]["id"].as_str().unwrap().to_owned();
        let channel = c["channel_id"].as_str().unwrap().to_owned();
        let message = app.messages(&conversation).await[0]["id"].as_str().unwrap().to_owned();

        let admin = |method: Method, path: String, body: Option<Value>| {
            let app = &app;
            async move { ok(call(app, method, &format!("/api/v1{path}"), Some(&app.token), body).await, &path).await }
        };
        let team = admin(Method::POST, "/teams".into(), Some(json!({"name": "Billing"}))).await;
        let team = team["id"].as_str().unwrap().to_owned();
        let other = admin(Method::POST, "/teams".into(), Some(json!({"name": "Sales"}))).await;
        let other = other["id"].as_str().unwrap().to_owned();
        admin(Method::PUT, format!("/channels/{channel}/team"), Some(json!({"team_id": team}))).await;
        let (insider, insider_token) = new_agent(&app, "Ina").await;
        let insider = insider["id"].as_str().unwrap().to_owned();
        let (outsider, outsider_token) = new_agent(&app, "Otto").await;
        let outsider = outsider["id"].as_str().unwrap().to_owned();
        admin(Method::PUT, format!("/teams/{team}/members/{insider}"), None).await;
        admin(Method::PUT, format!("/teams/{other}/members/{outsider}"), None).await;
        let tokens = admin(Method::GET, format!("/agents/{insider}/tokens"), None).await;
        let insider_token_id = tokens["items"][0]["id"].as_str().unwrap().to_owned();

        let label = crate::labels::create_label(&app, json!({"name": "vip"})).await;
        let label = label["id"].as_str().unwrap().to_owned();
        crate::labels::create_label(&app, json!({"name": "spare"})).await;
        admin(Method::POST, format!("/conversations/{conversation}/labels"), Some(json!({"labels": ["vip"]}))).await;
        let note =
            admin(Method::POST, format!("/conversations/{conversation}/notes"), Some(json!({"text": "call at 5"})))
                .await;
        let note = note["id"].as_str().unwrap().to_owned();
        let link = admin(Method::POST, "/links".into(), Some(json!({"text": "hi"}))).await;
        let link = link["id"].as_str().unwrap().to_owned();
        Self {
            app,
            conversation,
            contact,
            message,
            note,
            label,
            channel,
            team,
            insider,
            insider_token,
            insider_token_id,
            outsider,
            outsider_token,
            link,
        }
    }

    /// A registered path with this fixture's ids in place of its parameters.
    pub fn path(&self, template: &str) -> String {
        let family = template.trim_start_matches('/').split('/').take(2).collect::<Vec<_>>().join("/");
        let id = match family.as_str() {
            "conversations/{id}" => self.conversation.clone(),
            "messages/{id}" | "admin/outbox" => self.message.clone(),
            "contacts/{id}" => self.contact.clone(),
            "labels/{id}" => self.label.clone(),
            "links/{id}" => self.link.clone(),
            "agents/{id}" => self.insider.clone(),
            "teams/{id}" => self.team.clone(),
            "channels/{id}" | "admin/channels" => self.channel.clone(),
            // Admins only: refused before the id is looked at.
            _ => uuid::Uuid::now_v7().to_string(),
        };
        let path = template
            .replace("{id}", &id)
            .replace("{note_id}", &self.note)
            .replace("{label_id}", &self.label)
            .replace("{token_id}", &self.insider_token_id)
            // Another agent's session: refused before the id is looked at.
            .replace("{session_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{agent_id}", &self.outsider)
            .replace("{channel_id}", &self.channel)
            .replace("{team_id}", &self.team)
            .replace("{section}", "hours");
        assert!(!path.contains('{'), "no id for a parameter of {template}");
        format!("{API_PREFIX}{path}")
    }

    /// Everything a call might change, as the admin sees it, and what reached WhatsApp.
    pub async fn snapshot(&self) -> Value {
        let app = &self.app;
        let (c, k, l) = (&self.conversation, &self.contact, &self.link);
        let mut out = serde_json::Map::new();
        for path in [
            format!("/api/v1/conversations/{c}"),
            format!("/api/v1/conversations/{c}/messages"),
            format!("/api/v1/conversations/{c}/notes"),
            format!("/api/v1/conversations/{c}/labels"),
            format!("/api/v1/conversations/{c}/history"),
            format!("/api/v1/contacts/{k}"),
            "/api/v1/admin/outbox".to_owned(),
            "/api/v1/labels".to_owned(),
            "/api/v1/teams".to_owned(),
            format!("/api/v1/teams/{}", self.team),
            "/api/v1/agents".to_owned(),
            format!("/api/v1/agents/{}/tokens", self.insider),
            format!("/api/v1/agents/{}/sessions", self.insider),
            format!("/api/v1/channels/{}/assignment", self.channel),
            format!("/api/v1/teams/{}/assignment", self.team),
            format!("/api/v1/admin/channels/{}/auto-replies", self.channel),
            format!("/api/v1/admin/channels/{}", self.channel),
            format!("/api/v1/admin/channels/{}/csat", self.channel),
            format!("/api/v1/admin/channels/{}/sla", self.channel),
            format!("/api/v1/admin/channels/{}/retention", self.channel),
            format!("/api/v1/admin/teams/{}/sla", self.team),
            format!("/api/v1/links/{l}"),
        ] {
            out.insert(path.clone(), app.get_json(&path).await);
        }
        out.insert("graph requests".into(), json!(app.graph.received().await));
        let cached = std::fs::read_dir(&app.media_dir.0).map(Iterator::count).unwrap_or(0);
        out.insert("cached files".into(), json!(cached));
        Value::Object(out)
    }
}

/// `(method, path)` of every registered route with a parameter in its path; API routes
/// relative to `/api/v1`.
pub fn routes_with_ids() -> BTreeSet<(String, String)> {
    API.iter()
        .chain(ROOT)
        .flat_map(|m| m.routes)
        .filter(|(_, path)| path.contains('{'))
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect()
}

fn method(m: &str) -> Method {
    Method::from_bytes(m.to_uppercase().as_bytes()).unwrap()
}

async fn every_route_with_an_id_hides_what_the_caller_may_not_see(backend: Backend) {
    let matrix = matrix();
    let listed: BTreeSet<(String, String)> =
        matrix.iter().map(|(m, p, _, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(listed.len(), matrix.len(), "a route is listed twice");
    for (m, p) in routes_with_ids() {
        assert!(listed.contains(&(m.clone(), p.clone())), "route {m} {p} is not covered by the visibility matrix");
    }
    for (m, p) in &listed {
        assert!(routes_with_ids().contains(&(m.clone(), p.clone())), "{m} {p} is listed but not registered");
    }
    // What names a conversation, a message, a note or a contact is hidden, never shared.
    for (m, p, expect, _) in &matrix {
        let scoped = ["/conversations/", "/messages/", "/contacts/"].iter().any(|f| p.starts_with(f));
        assert!(!scoped || *expect == Expect::Hidden, "{m} {p} names a conversation's data: it must be Hidden");
    }

    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    app.graph.media(MEDIA_ID, b"\xff\xd8 a photo", "image/jpeg", 1).await;
    // The agent in the team sees it all; the one outside nothing.
    for path in ["/conversations/{id}", "/contacts/{id}", "/conversations/{id}/notes"] {
        let res = call(app, Method::GET, &fx.path(path), Some(&fx.insider_token), None).await;
        assert_eq!(res.status(), 200, "the insider: {path}");
    }
    let before = fx.snapshot().await;
    for (m, template, expect, body) in &matrix {
        if *expect == Expect::Public {
            continue;
        }
        let path = fx.path(template);
        let body =
            body.as_ref().map(|b| serde_json::from_str(&b.to_string().replace("{outsider}", &fx.outsider)).unwrap());
        let res = call(app, method(m), &path, Some(&fx.outsider_token), body).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        match expect {
            Expect::Hidden => {
                assert_eq!(status, 404, "{m} {template}: {text}");
                assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["code"], "not_found", "{m} {template}");
            }
            Expect::Forbidden => assert_eq!(status, 403, "{m} {template}: {text}"),
            Expect::Shared => assert_eq!(status, 200, "{m} {template}: {text}"),
            Expect::Public => unreachable!(),
        }
        assert_eq!(fx.snapshot().await, before, "{m} {template} changed something");
    }
    // Nothing was queued for the sender either.
    assert_eq!(app.send().await.sent, 0);
    assert_eq!(app.graph.received().await, 0);
    // The file is there for whoever may see it.
    let res = call(app, Method::GET, &fx.path("/messages/{id}/media"), Some(&fx.insider_token), None).await;
    assert_eq!(res.status(), 200);
    app.graph.verify().await;
}

/// Every console route with an id in its path, as `(method, path as registered, a
/// plausible form)`: an agent who may not see the conversation gets 404 and nothing
/// changes.
type ConsoleCase = (&'static str, &'static str, Vec<(&'static str, &'static str)>);

fn console_matrix() -> Vec<ConsoleCase> {
    vec![
        ("get", "/c/{id}", vec![]),
        ("get", "/c/{id}/messages", vec![]),
        ("get", "/c/{id}/panel", vec![]),
        ("get", "/c/{id}/history", vec![]),
        ("get", "/c/{id}/next", vec![]),
        ("get", "/c/{id}/quick-reply", vec![]),
        ("post", "/c/{id}/compose", vec![("text", "sent as the business")]),
        ("post", "/c/{id}/template", vec![("name", "hello_world"), ("language", "en_US")]),
        ("get", "/c/{id}/template-fields", vec![]),
        ("post", "/c/{id}/claim", vec![]),
        ("post", "/c/{id}/assign", vec![("agent_id", "me")]),
        ("post", "/c/{id}/team", vec![("team_id", "")]),
        ("post", "/c/{id}/status", vec![("status", "resolved")]),
        ("post", "/c/{id}/resolve-next", vec![]),
        ("post", "/c/{id}/labels", vec![("label", "spare")]),
        ("post", "/c/{id}/labels/{label_id}/remove", vec![]),
        ("post", "/c/{id}/contact", vec![("name", "Renamed from outside")]),
        ("post", "/c/{id}/contact/erase", vec![]),
    ]
}

async fn every_console_route_with_an_id_hides_what_the_caller_may_not_see(backend: Backend) {
    let matrix = console_matrix();
    let listed: BTreeSet<(String, String)> =
        matrix.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    let registered: BTreeSet<(String, String)> = switchboard_http::CONSOLE_ROUTES_WITH_IDS
        .iter()
        .flat_map(|r| r.iter())
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(listed, registered, "every console route with an id is listed here, and only those");
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    let path = |template: &str| template.replace("{id}", &fx.conversation).replace("{label_id}", &fx.label);
    // The agent in the team sees the page.
    let res = app.client.get(app.url(&path("/c/{id}"))).bearer_auth(&fx.insider_token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let before = fx.snapshot().await;
    for (m, template, form) in &matrix {
        let req = app.client.request(method(m), app.url(&path(template))).bearer_auth(&fx.outsider_token);
        let req = if *m == "get" {
            req
        } else {
            req.header("HX-Request", "true")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(crate::console_conversation::form_body(form))
        };
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 404, "{m} {template}");
        assert!(res.text().await.unwrap().contains("conversation not found"), "{m} {template}");
        assert_eq!(fx.snapshot().await, before, "{m} {template} changed something");
    }
    assert_eq!(app.send().await.sent, 0);
}

async fn open(app: &TestApp, token: &str) -> SseStream {
    let res = app.client.get(app.url("/api/v1/events")).bearer_auth(token).send().await.unwrap();
    SseStream::new(res)
}

/// Waits for the server to end the stream (keep-alives and events may come first).
async fn ends_within(stream: &mut SseStream, within: Duration) {
    let ended = tokio::time::timeout(within, async { while stream.next_frame().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the stream is still open after {within:?}");
}

async fn a_stream_ends_when_its_token_is_revoked(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    let mut stream = open(app, &fx.insider_token).await;
    // The stream works: a note on the conversation reaches it.
    let res = call(
        app,
        Method::POST,
        &fx.path("/conversations/{id}/notes"),
        Some(&app.token),
        Some(json!({"text": "still there?"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(stream.next_event().await.event, "note_created");
    let path = format!("/api/v1/agents/{}/tokens/{}", fx.insider, fx.insider_token_id);
    assert_eq!(call(app, Method::DELETE, &path, Some(&app.token), None).await.status(), 204);
    ends_within(&mut stream, Duration::from_secs(10)).await;
    // And it cannot be opened again.
    let res = app.client.get(app.url("/api/v1/events")).bearer_auth(&fx.insider_token).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

async fn a_quiet_stream_ends_when_its_agent_is_deactivated(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    let mut stream = open(app, &fx.insider_token).await;
    let res = call(
        app,
        Method::PATCH,
        &format!("/api/v1/agents/{}", fx.insider),
        Some(&app.token),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(res.status(), 200);
    // Nothing happens in the inbox: the stream ends on its own re-check.
    ends_within(&mut stream, Duration::from_secs(10)).await;
}

async fn a_stream_ends_when_its_agent_leaves_the_team_and_widens_when_they_join_one(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    let path = fx.path("/conversations/{id}/notes");
    let note = |text: &'static str| {
        let path = path.clone();
        async move {
            let res = call(app, Method::POST, &path, Some(&app.token), Some(json!({ "text": text }))).await;
            assert_eq!(res.status(), 201);
        }
    };
    // Joining the channel's team widens an open stream: within a re-check, the outsider
    // gets the conversation's events.
    let mut outsider = open(app, &fx.outsider_token).await;
    let members = format!("/api/v1/teams/{}/members/{}", fx.team, fx.outsider);
    assert_eq!(call(app, Method::PUT, &members, Some(&app.token), None).await.status(), 204);
    tokio::time::sleep(Duration::from_secs(6)).await;
    note("now you see it").await;
    assert_eq!(outsider.next_event().await.event, "note_created");

    // Leaving it ends the stream: the client may hold what it may no longer see.
    let mut insider = open(app, &fx.insider_token).await;
    let members = format!("/api/v1/teams/{}/members/{}", fx.team, fx.insider);
    assert_eq!(call(app, Method::DELETE, &members, Some(&app.token), None).await.status(), 204);
    note("now you don't").await;
    // An event before the re-check may still come through (the old teams); then it ends.
    ends_within(&mut insider, Duration::from_secs(10)).await;
    // Reopened, it no longer carries the conversation.
    let mut insider = open(app, &fx.insider_token).await;
    note("hidden").await;
    assert_eq!(insider.event_within(Duration::from_millis(500)).await, None);
}
