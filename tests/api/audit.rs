//! The audit log: one entry per action (who, from which address, what, before and
//! after), failed sign-ins, filters and the cursor, admins only, secrets never kept, and
//! retention.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::{Housekeeper, HousekeepingOptions};
use switchboard_store::{AuditAction, AuditQuery, NewAuditEntry};
use switchboard_tests::{AppOptions, Backend, TestApp, both_backends, spawn_app, spawn_app_with};

use crate::agents::{call, me, new_agent, problem};
use crate::sign_in::{console_post, person, session_cookie, sign_in_as};

both_backends!(
    sign_ins_failed_sign_ins_and_sign_outs_are_recorded,
    the_address_is_the_trusted_proxys_client,
    agent_and_token_changes_are_recorded,
    configuration_changes_are_recorded_with_before_and_after,
    channel_settings_are_recorded_with_before_and_after,
    webhook_endpoints_are_recorded_without_their_secret,
    a_refused_change_leaves_no_entry,
    filters_and_the_cursor_page_through_the_log,
    bad_filters_are_named_and_agents_are_refused,
    old_entries_are_purged_and_recent_ones_kept,
    the_console_page_lists_filters_and_loads_more,
    channels_sla_consent_and_privacy_actions_are_recorded,
);

/// The log's entries matching `query` (a query string), newest first (one page of 500).
async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let res = call(app, Method::GET, &format!("/api/v1/audit?limit=500&{query}"), Some(&app.token), None).await;
    assert_eq!(res.status(), 200, "{query}");
    let body: Value = res.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

/// The newest entry of `action`.
async fn last(app: &TestApp, action: &str) -> Value {
    entries(app, &format!("action={action}")).await.first().cloned().unwrap_or_else(|| panic!("no {action} entry"))
}

async fn admin_id(app: &TestApp) -> String {
    me(app, &app.token).await["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    call(app, method, path, Some(&app.token), body).await
}

async fn sign_ins_failed_sign_ins_and_sign_outs_are_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let invited = last(&app, "agent_invited").await;
    assert_eq!(invited["actor"], admin_id(&app).await.as_str());
    assert_eq!(invited["target_type"], "agent");
    assert_eq!(invited["target_id"], ana.id.as_str());
    assert_eq!(invited["after"]["purpose"], "invite");

    let res = sign_in_as(&app, &ana.email, &ana.password).await;
    assert_eq!(res.status(), 303);
    let cookie = session_cookie(&res).unwrap();
    let signed = last(&app, "sign_in").await;
    assert_eq!(signed["actor"], ana.id.as_str());
    assert_eq!(signed["client_addr"], "127.0.0.1");
    assert_eq!(signed["target_type"], "session");
    assert_eq!(signed["after"]["second_factor"], "none");

    // A wrong password for a known account names the account; an unknown one, nothing.
    assert_eq!(sign_in_as(&app, &ana.email, "not the password at all").await.status(), 401);
    let failed = last(&app, "sign_in_failed").await;
    assert_eq!(failed["actor"], Value::Null);
    assert_eq!(failed["client_addr"], "127.0.0.1");
    assert_eq!(failed["target_type"], "agent");
    assert_eq!(failed["target_id"], ana.id.as_str());
    assert_eq!(sign_in_as(&app, "nobody@example.com", "not the password at all").await.status(), 401);
    let unknown = last(&app, "sign_in_failed").await;
    assert_eq!(unknown["target_id"], Value::Null);
    assert_eq!(entries(&app, "action=sign_in_failed").await.len(), 2);
    let all = serde_json::to_string(&entries(&app, "").await).unwrap();
    assert!(!all.contains("not the password"), "a typed password never reaches the log");
    assert!(!all.contains("nobody@example.com"), "an unknown account's typed email is not kept");

    let res = console_post(&app, "/sign-out", &cookie, &[]).await;
    assert!(res.status().is_redirection() || res.status().is_success(), "{}", res.status());
    let out = last(&app, "sign_out").await;
    assert_eq!(out["actor"], ana.id.as_str());
    assert_eq!(out["target_id"], signed["target_id"]);
}

async fn the_address_is_the_trusted_proxys_client(backend: Backend) {
    let env = vec![("SWITCHBOARD__CONSOLE__TRUST_PROXY", "true".to_owned())];
    let app = spawn_app_with(backend, AppOptions { env, ..AppOptions::default() }).await;
    let res = app
        .client
        .post(app.url("/api/v1/labels"))
        .bearer_auth(&app.token)
        .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
        .json(&json!({"name": "Proxied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(last(&app, "label_created").await["client_addr"], "203.0.113.7");
}

async fn agent_and_token_changes_are_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_id(&app).await;
    let (bo, bo_token) = new_agent(&app, "Bo").await;
    let bo_id = bo["id"].as_str().unwrap();
    let created = last(&app, "agent_created").await;
    assert_eq!(created["actor"], admin.as_str());
    assert_eq!(created["target_id"], bo_id);
    assert_eq!(created["after"]["name"], "Bo");
    // The first token: its metadata, never the token.
    let first = last(&app, "token_created").await;
    assert_eq!(first["target_type"], "token");
    assert!(first["after"].get("token").is_none_or(|t| t == "[redacted]" || t.is_null()));

    let res = send(&app, Method::PATCH, &format!("/api/v1/agents/{bo_id}"), Some(json!({"capacity": 3}))).await;
    assert_eq!(res.status(), 200);
    let updated = last(&app, "agent_updated").await;
    assert_eq!(updated["before"]["capacity"], Value::Null);
    assert_eq!(updated["after"]["capacity"], 3);

    let res = send(&app, Method::PATCH, &format!("/api/v1/agents/{bo_id}"), Some(json!({"role": "admin"}))).await;
    assert_eq!(res.status(), 200);
    let role = last(&app, "role_changed").await;
    assert_eq!((role["before"]["role"].as_str(), role["after"]["role"].as_str()), (Some("agent"), Some("admin")));

    // Bo makes a token for himself: he is the actor.
    let res = call(&app, Method::POST, "/api/v1/agents/me/tokens", Some(&bo_token), Some(json!({"name": "ci"}))).await;
    assert_eq!(res.status(), 201);
    let token: Value = res.json().await.unwrap();
    let secret = token["token"].as_str().unwrap().to_owned();
    let made = last(&app, "token_created").await;
    assert_eq!(made["actor"], bo_id);
    assert_eq!(made["target_id"], token["id"]);
    assert_eq!(made["after"]["name"], "ci");
    let tid = token["id"].as_str().unwrap();
    let res = send(&app, Method::DELETE, &format!("/api/v1/agents/{bo_id}/tokens/{tid}"), None).await;
    assert_eq!(res.status(), 204);
    let revoked = last(&app, "token_revoked").await;
    assert_eq!(revoked["actor"], admin.as_str());
    assert_eq!(revoked["target_id"], tid);

    let res = send(&app, Method::PATCH, &format!("/api/v1/agents/{bo_id}"), Some(json!({"active": false}))).await;
    assert_eq!(res.status(), 200);
    let gone = last(&app, "agent_deactivated").await;
    assert_eq!((gone["before"]["active"].as_bool(), gone["after"]["active"].as_bool()), (Some(true), Some(false)));

    let res = send(&app, Method::PUT, "/api/v1/settings/security", Some(json!({"totp_mandatory": true}))).await;
    assert_eq!(res.status(), 200);
    let settings = last(&app, "settings_changed").await;
    assert_eq!(settings["target_id"], "security");
    assert_eq!(settings["before"]["totp_mandatory"], false);
    assert_eq!(settings["after"]["totp_mandatory"], true);

    let log = serde_json::to_string(&entries(&app, "").await).unwrap();
    assert!(!log.contains(&secret) && !log.contains(&bo_token), "tokens never reach the log");
}

async fn configuration_changes_are_recorded_with_before_and_after(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_id(&app).await;
    // Labels.
    let res = app.post_json("/api/v1/labels", &json!({"name": "VIP", "colour": "#ff0000"})).await;
    let label: Value = res.json().await.unwrap();
    let id = label["id"].as_str().unwrap();
    let e = last(&app, "label_created").await;
    assert_eq!((e["actor"].as_str(), e["target_type"].as_str()), (Some(admin.as_str()), Some("label")));
    assert_eq!(e["after"]["name"], "VIP");
    assert_eq!(e["before"], Value::Null);
    let res = send(&app, Method::PATCH, &format!("/api/v1/labels/{id}"), Some(json!({"name": "Gold"}))).await;
    assert_eq!(res.status(), 200);
    let e = last(&app, "label_updated").await;
    assert_eq!((e["before"]["name"].as_str(), e["after"]["name"].as_str()), (Some("VIP"), Some("Gold")));
    assert_eq!(send(&app, Method::DELETE, &format!("/api/v1/labels/{id}"), None).await.status(), 204);
    let e = last(&app, "label_deleted").await;
    assert_eq!((e["target_id"].as_str(), e["before"]["name"].as_str()), (Some(id), Some("Gold")));
    assert_eq!(e["after"], Value::Null);

    // Teams and their members.
    let res = app.post_json("/api/v1/teams", &json!({"name": "Sales"})).await;
    let team: Value = res.json().await.unwrap();
    let tid = team["id"].as_str().unwrap();
    assert_eq!(last(&app, "team_created").await["after"]["name"], "Sales");
    let res = send(&app, Method::PATCH, &format!("/api/v1/teams/{tid}"), Some(json!({"name": "Support"}))).await;
    assert_eq!(res.status(), 200);
    let e = last(&app, "team_updated").await;
    assert_eq!((e["before"]["name"].as_str(), e["after"]["name"].as_str()), (Some("Sales"), Some("Support")));
    let res = send(&app, Method::PUT, &format!("/api/v1/teams/{tid}/members/{admin}"), None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(last(&app, "team_members_changed").await["after"]["added"], admin.as_str());
    assert_eq!(send(&app, Method::DELETE, &format!("/api/v1/teams/{tid}"), None).await.status(), 204);
    assert_eq!(last(&app, "team_deleted").await["before"]["name"], "Support");

    // Quick replies and rules.
    let res = app.post_json("/api/v1/admin/quick-replies", &json!({"shortcut": "hi", "text": "Hello!"})).await;
    assert_eq!(res.status(), 201);
    let qr: Value = res.json().await.unwrap();
    let qid = qr["id"].as_str().unwrap();
    let e = last(&app, "quick_reply_created").await;
    assert_eq!((e["target_type"].as_str(), e["target_id"].as_str()), (Some("quick_reply"), Some(qid)));
    assert_eq!(e["after"]["text"], "Hello!");
    let res = send(
        &app,
        Method::PUT,
        &format!("/api/v1/admin/quick-replies/{qid}"),
        Some(json!({"shortcut": "hi", "text": "Hi there!"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let e = last(&app, "quick_reply_updated").await;
    assert_eq!((e["before"]["text"].as_str(), e["after"]["text"].as_str()), (Some("Hello!"), Some("Hi there!")));
    assert_eq!(send(&app, Method::DELETE, &format!("/api/v1/admin/quick-replies/{qid}"), None).await.status(), 204);
    assert_eq!(last(&app, "quick_reply_deleted").await["before"]["text"], "Hi there!");

    // Click-to-chat links.
    let res = app.post_json("/api/v1/links", &json!({"phone": "020 7946 0958", "region": "GB", "slug": "promo"})).await;
    assert_eq!(res.status(), 201);
    let link: Value = res.json().await.unwrap();
    let lid = link["id"].as_str().unwrap();
    assert_eq!(last(&app, "link_created").await["target_id"], lid);
    let res = send(&app, Method::PATCH, &format!("/api/v1/links/{lid}"), Some(json!({"enabled": false}))).await;
    assert_eq!(res.status(), 200);
    let e = last(&app, "link_updated").await;
    assert_eq!((e["before"]["enabled"].as_bool(), e["after"]["enabled"].as_bool()), (Some(true), Some(false)));

    // Outbox retries (none waiting: still who asked, and what came of it).
    let res = send(&app, Method::POST, "/api/v1/admin/outbox/retry", None).await;
    assert_eq!(res.status(), 202);
    let e = last(&app, "outbox_retried").await;
    assert_eq!(e["actor"], admin.as_str());
    assert_eq!(e["after"]["requeued"], 0);
}

async fn channel_settings_are_recorded_with_before_and_after(backend: Backend) {
    let app = spawn_app(backend).await;
    let ch = app.store.channels().await.unwrap()[0].id;
    let hours = json!({"time_zone": "Europe/Berlin", "weekly": {}});
    let path = format!("/api/v1/admin/channels/{ch}/auto-replies/hours");
    assert_eq!(send(&app, Method::PUT, &path, Some(hours)).await.status(), 200);
    let e = last(&app, "hours_changed").await;
    assert_eq!((e["target_type"].as_str(), e["target_id"].as_str()), (Some("channel"), Some(ch.to_string().as_str())));
    assert_eq!(e["before"], Value::Null);
    assert_eq!(e["after"]["time_zone"], "Europe/Berlin");
    let later = json!({"time_zone": "America/New_York", "weekly": {}});
    assert_eq!(send(&app, Method::PUT, &path, Some(later)).await.status(), 200);
    let e = last(&app, "hours_changed").await;
    assert_eq!(e["before"]["time_zone"], "Europe/Berlin");
    assert_eq!(e["after"]["time_zone"], "America/New_York");
    assert_eq!(send(&app, Method::DELETE, &path, None).await.status(), 204);
    let e = last(&app, "hours_changed").await;
    assert_eq!((e["before"]["time_zone"].as_str(), &e["after"]), (Some("America/New_York"), &Value::Null));
    assert_eq!(entries(&app, "action=hours_changed").await.len(), 3);
}

async fn webhook_endpoints_are_recorded_without_their_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.post_json("/api/v1/admin/webhooks", &json!({"url": "https://crm.example.com/hook"})).await;
    assert_eq!(res.status(), 201);
    let endpoint: Value = res.json().await.unwrap();
    let id = endpoint["id"].as_str().unwrap();
    let first = endpoint["secret"].as_str().unwrap().to_owned();
    let e = last(&app, "webhook_endpoint_created").await;
    assert_eq!((e["target_type"].as_str(), e["target_id"].as_str()), (Some("webhook_endpoint"), Some(id)));
    assert_eq!(e["after"]["url"], "https://crm.example.com/hook");
    let res = app.post_json(&format!("/api/v1/admin/webhooks/{id}/rotate-secret"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert!(!last(&app, "webhook_secret_rotated").await["after"]["previous_secret_expires_at"].is_null());
    let res = send(&app, Method::PATCH, &format!("/api/v1/admin/webhooks/{id}"), Some(json!({"enabled": false}))).await;
    assert_eq!(res.status(), 200);
    let e = last(&app, "webhook_endpoint_updated").await;
    assert_eq!((e["before"]["enabled"].as_bool(), e["after"]["enabled"].as_bool()), (Some(true), Some(false)));
    assert_eq!(send(&app, Method::DELETE, &format!("/api/v1/admin/webhooks/{id}"), None).await.status(), 204);
    assert_eq!(last(&app, "webhook_endpoint_deleted").await["before"]["url"], "https://crm.example.com/hook");
    let res = call(&app, Method::POST, "/api/v1/agents/me/tokens", Some(&app.token), Some(json!({"name": "x"}))).await;
    let token: Value = res.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_owned();

    // Everything the table holds, straight from the store, and the API's answer.
    let stored = app.store.audit_entries(&AuditQuery { limit: 10_000, ..AuditQuery::default() }).await.unwrap();
    let raw: String = stored
        .iter()
        .map(|e| format!("{:?} {:?} {:?} {:?} {:?}", e.target_type, e.target_id, e.before, e.after, e.client_addr))
        .collect();
    let answered = serde_json::to_string(&entries(&app, "").await).unwrap();
    for secret in [&first, &second, &token, &app.token] {
        assert!(!raw.contains(secret.as_str()), "a secret is in the audit table");
        assert!(!answered.contains(secret.as_str()), "a secret is in the audit API's answer");
    }
    assert!(stored.len() >= 5);
}

async fn a_refused_change_leaves_no_entry(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.post_json("/api/v1/labels", &json!({"name": "VIP"})).await.status(), 201);
    // A duplicate name (409) and an invalid colour (422): nothing changed, nothing recorded.
    assert_eq!(app.post_json("/api/v1/labels", &json!({"name": "vip"})).await.status(), 409);
    assert_eq!(app.post_json("/api/v1/labels", &json!({"name": "X", "colour": "red"})).await.status(), 422);
    assert_eq!(entries(&app, "action=label_created").await.len(), 1);
    // The last admin cannot be demoted: refused, and no role change recorded.
    let admin = admin_id(&app).await;
    let res = send(&app, Method::PATCH, &format!("/api/v1/agents/{admin}"), Some(json!({"role": "agent"}))).await;
    assert_eq!(res.status(), 409);
    assert!(entries(&app, "action=role_changed").await.is_empty());
}

async fn filters_and_the_cursor_page_through_the_log(backend: Backend) {
    let app = spawn_app(backend).await;
    let start = Utc::now();
    let (bo, bo_token) = new_agent(&app, "Bo").await;
    let bo_id = bo["id"].as_str().unwrap();
    let mut labels = Vec::new();
    for i in 0..5 {
        let res = app.post_json("/api/v1/labels", &json!({"name": format!("L{i}")})).await;
        labels.push(res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    call(&app, Method::POST, "/api/v1/agents/me/tokens", Some(&bo_token), Some(json!({}))).await;

    // Pages of two, newest first, every entry once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.as_ref().map_or(String::new(), |c| format!("&cursor={c}"));
        let page: Value = app.get_json(&format!("/api/v1/audit?action=label_created&limit=2{q}")).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|e| e["target_id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut newest_first = labels.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    // By target, by actor, by time.
    let one = entries(&app, &format!("target_type=label&target_id={}", labels[2])).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["action"], "label_created");
    let by_bo = entries(&app, &format!("actor={bo_id}")).await;
    assert_eq!(by_bo.len(), 1);
    assert_eq!(by_bo[0]["action"], "token_created");
    let since = start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).replace('+', "%2B");
    assert!(entries(&app, &format!("since={since}")).await.len() >= 7);
    let until = start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).replace('+', "%2B");
    assert!(entries(&app, &format!("until={until}&action=label_created")).await.is_empty());
}

async fn bad_filters_are_named_and_agents_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    for (query, field) in [
        ("action=nope", "action"),
        ("actor=someone", "actor"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("cursor=-4", "cursor"),
        ("cursor=abc", "cursor"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
    ] {
        let res = send(&app, Method::GET, &format!("/api/v1/audit?{query}"), None).await;
        let p = problem(res, 422).await;
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, [field], "{query}");
    }
    // The description names the actions as the API spells them.
    let doc = app.get_json("/api/v1/openapi.json").await;
    let names = doc["components"]["schemas"]["AuditAction"]["enum"].as_array().unwrap().clone();
    assert!(names.contains(&json!("sign_in")) && names.contains(&json!("webhook_secret_rotated")), "{names:?}");
    assert_eq!(names.len(), AuditAction::ALL.len());
    let (_, token) = new_agent(&app, "Cy").await;
    let res = call(&app, Method::GET, "/api/v1/audit", Some(&token), None).await;
    assert_eq!(problem(res, 403).await["code"], "forbidden");
    assert_eq!(call(&app, Method::GET, "/api/v1/audit", None, None).await.status(), 401);
}

async fn old_entries_are_purged_and_recent_ones_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = Utc::now();
    for days in [400, 370, 10] {
        let entry = NewAuditEntry {
            at: now - chrono::Duration::days(days),
            actor: None,
            client_addr: None,
            action: AuditAction::SettingsChanged,
            target: None,
            before: None,
            after: Some(json!({ "days": days })),
        };
        app.store.record_audit(&entry).await.unwrap();
    }
    let opts = HousekeepingOptions {
        audit_retention: Some(Duration::from_secs(365 * 86_400)),
        ..HousekeepingOptions::default()
    };
    let report = Housekeeper::new(Arc::clone(&app.store), opts).run_once(now).await.unwrap();
    assert_eq!(report.audit_deleted, 2);
    let left = entries(&app, "action=settings_changed").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["after"]["days"], 10);
    // No retention: nothing goes.
    let keep = HousekeepingOptions { audit_retention: None, ..HousekeepingOptions::default() };
    let report =
        Housekeeper::new(Arc::clone(&app.store), keep).run_once(now + chrono::Duration::days(999)).await.unwrap();
    assert_eq!(report.audit_deleted, 0);
}

async fn console(app: &TestApp, path: &str) -> String {
    let res = app.client.get(app.url(path)).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

async fn the_console_page_lists_filters_and_loads_more(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..55 {
        let res = app.post_json("/api/v1/labels", &json!({"name": format!("L{i} <b>")})).await;
        assert_eq!(res.status(), 201);
    }
    let team = app.post_json("/api/v1/teams", &json!({"name": "Sales"})).await.json::<Value>().await.unwrap();
    let html = console(&app, "/admin/audit").await;
    assert!(html.contains("aria-current=\"page\""), "the navigation marks the screen");
    assert!(html.contains("team_created") && html.contains("label_created"));
    assert!(html.contains("L54 &#60;b&#62;") && !html.contains("L54 <b>"), "before/after are escaped");
    assert!(html.contains("127.0.0.1"));
    assert_eq!(html.matches("class=\"audit-entry\"").count(), 50);
    // "Load more": the next rows as a fragment, with the same filters.
    let start = html.find("hx-get=\"/admin/audit/rows?").expect("a load-more link");
    let rest = &html[start + "hx-get=\"".len()..];
    let next = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
    let more = console(&app, &next).await;
    let n = more.matches("class=\"audit-entry\"").count();
    assert!(n >= 6, "{n} more");
    assert!(more.contains("L0 &#60;b&#62;"), "the oldest label is on the next page");
    assert!(!more.contains("<html"), "a fragment");
    // Filters: by action and target.
    let tid = team["id"].as_str().unwrap();
    let only = console(&app, &format!("/admin/audit?action=team_created&target_id={tid}")).await;
    assert_eq!(only.matches("class=\"audit-entry\"").count(), 1);
    assert!(!only.contains("hx-get=\"/admin/audit/rows?"), "no more pages");
    // A bad filter is said, not a 500.
    let bad = console(&app, "/admin/audit?since=yesterday").await;
    assert!(bad.contains("role=\"alert\"") && bad.contains("since"));
    let dated = console(&app, "/admin/audit?since=2000-01-01T00%3A00&action=team_created").await;
    assert_eq!(dated.matches("class=\"audit-entry\"").count(), 1);
}

/// Channels (their credentials never), SLA targets, consent, a contact's export and
/// erasure, and retention each leave their entry.
async fn channels_sla_consent_and_privacy_actions_are_recorded(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let admin = admin_id(&app).await;
    let token = "EAAGsecret-token-for-the-audit-test";
    let body =
        json!({"phone_number_id": "222000111", "name": "Sales", "access_token": token, "app_secret": "s3cr3t-app"});
    let res = app.post_json("/api/v1/admin/channels", &body).await;
    assert_eq!(res.status(), 201);
    let channel: Value = res.json().await.unwrap();
    let id = channel["id"].as_str().unwrap();
    let e = last(&app, "channel_created").await;
    assert_eq!((e["actor"].as_str(), e["target_id"].as_str()), (Some(admin.as_str()), Some(id)));
    assert_eq!(e["after"]["name"], "Sales");
    let res = send(&app, Method::PATCH, &format!("/api/v1/admin/channels/{id}"), Some(json!({"enabled": false}))).await;
    assert_eq!(res.status(), 200);
    let e = last(&app, "channel_changed").await;
    assert_eq!((e["before"]["enabled"].as_bool(), e["after"]["enabled"].as_bool()), (Some(true), Some(false)));

    let sla = format!("/api/v1/admin/channels/{id}/sla");
    assert_eq!(send(&app, Method::PUT, &sla, Some(json!({"first_response_minutes": 30}))).await.status(), 200);
    let e = last(&app, "sla_policy_changed").await;
    assert_eq!((e["target_type"].as_str(), &e["before"]), (Some("channel"), &Value::Null));
    assert_eq!(e["after"]["first_response_minutes"], 30);
    assert_eq!(send(&app, Method::DELETE, &sla, None).await.status(), 204);
    let e = last(&app, "sla_policy_changed").await;
    assert_eq!((e["before"]["first_response_minutes"].as_u64(), &e["after"]), (Some(30), &Value::Null));

    let res =
        send(&app, Method::PUT, "/api/v1/admin/consent", Some(json!({"opt_out_keywords": ["STOP", "HALT"]}))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(last(&app, "consent_settings_changed").await["after"]["opt_out_keywords"], json!(["STOP", "HALT"]));

    let wire =
        serde_json::to_vec(&switchboard_tests::payloads::text_delivery("wamid.audit.1", "447700900123", "hi")).unwrap();
    assert_eq!(app.post_webhook(wire).await.status(), 200);
    app.ingest().await;
    let contact = app.conversations().await[0]["contact"]["id"].as_str().unwrap().to_owned();
    let note = "asked us by phone on Tuesday";
    let res = app
        .post_json(&format!("/api/v1/contacts/{contact}/consent"), &json!({"state": "opted_out", "note": note}))
        .await;
    assert_eq!(res.status(), 201);
    let e = last(&app, "consent_changed").await;
    assert_eq!((e["target_type"].as_str(), e["target_id"].as_str()), (Some("contact"), Some(contact.as_str())));
    assert_eq!(e["after"], json!({"state": "opted_out", "source": "agent"}), "the note stays out of the log");

    let res = call(&app, Method::GET, &format!("/api/v1/contacts/{contact}/export"), Some(&app.token), None).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    assert_eq!(last(&app, "contact_exported").await["target_id"], contact.as_str());

    let retention = format!("/api/v1/admin/channels/{id}/retention");
    assert_eq!(send(&app, Method::PUT, &retention, Some(json!({"conversations_days": 90}))).await.status(), 200);
    let e = last(&app, "retention_changed").await;
    assert_eq!(
        (e["before"]["conversations_days"].clone(), e["after"]["conversations_days"].clone()),
        (Value::Null, json!(90))
    );

    let res = app.post_json(&format!("/api/v1/contacts/{contact}/erase"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let e = last(&app, "contact_erased").await;
    assert_eq!((e["target_id"].as_str(), e["after"]["state"].as_str()), (Some(contact.as_str()), Some("done")));

    let stored = app.store.audit_entries(&AuditQuery { limit: 10_000, ..AuditQuery::default() }).await.unwrap();
    let raw: String = stored.iter().map(|e| format!("{:?} {:?}", e.before, e.after)).collect();
    for secret in [token, "s3cr3t-app", note, "447700900123"] {
        assert!(!raw.contains(secret), "{secret} is in the audit table");
    }
}
