//! SLA targets: channel and team policies (admins), due times in business time set when a
//! conversation starts, outcomes at the first reply and the resolution, the scheduler's
//! warning and breach events (once each, over SSE), the `sla_due` sort and % met in the
//! report.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::{Scheduler, SchedulerOptions};
use switchboard_domain::PhoneNumberId;
use switchboard_domain::hours::BusinessHours;
use switchboard_store::ChannelAutoRepliesPatch;
use switchboard_tests::payloads::{contact, delivery, message};
use switchboard_tests::sse::SseStream;
use switchboard_tests::{Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

use crate::agents::{call, fields, problem};

both_backends!(
    channel_and_team_policies_are_set_read_and_removed,
    a_bad_policy_names_its_fields,
    due_times_count_business_time_only,
    a_team_policy_wins_over_the_channel_s,
    the_breach_event_fires_once_and_reaches_sse,
    a_reply_in_time_meets_the_target,
    the_queue_sorts_by_sla_due,
    the_report_shows_percent_met,
    the_console_shows_due_times_and_sorts_by_them,
);

async fn channel_id(app: &TestApp) -> String {
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id.to_string()
}

async fn put_policy(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    call(app, Method::PUT, path, Some(&app.token), Some(body)).await
}

async fn set_channel_policy(app: &TestApp, body: Value) {
    let channel = channel_id(app).await;
    let res = put_policy(app, &format!("/api/v1/admin/channels/{channel}/sla"), body).await;
    assert_eq!(res.status(), 200);
}

/// The customer `from` wrote at `at` (Meta's timestamp); applied. Returns the conversation.
async fn customer_wrote_at(app: &mut TestApp, wamid: &str, from: &str, at: DateTime<Utc>) -> Value {
    let mut m = message(wamid, from, "text", json!({"body": "hello?"}));
    m["timestamp"] = json!(at.timestamp().to_string());
    let body = delivery(vec![contact(from, "Ana")], vec![m], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await;
    app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == from).unwrap()
}

async fn conversation(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/api/v1/conversations/{id}")).await
}

async fn reply(app: &TestApp, conversation: &str) {
    let res = app
        .post_json(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &json!({"type": "text", "text": "Here to help"}),
        )
        .await;
    assert_eq!(res.status(), 202);
}

async fn resolve(app: &TestApp, conversation: &str) {
    let res =
        app.post_json(&format!("/api/v1/conversations/{conversation}/status"), &json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap()
}

async fn channel_and_team_policies_are_set_read_and_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let channel = channel_id(&app).await;
    let path = format!("/api/v1/admin/channels/{channel}/sla");
    let got = app.get_json(&path).await;
    assert_eq!(got, json!({"channel_id": channel, "policy": null}));

    let res = put_policy(&app, &path, json!({"first_response_minutes": 30, "warning_minutes": 5})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let policy = json!({"first_response_minutes": 30, "resolution_minutes": null, "warning_minutes": 5});
    assert_eq!(body["policy"], policy);
    assert_eq!(app.get_json(&path).await["policy"], policy);

    let res = call(&app, Method::DELETE, &path, Some(&app.token), None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get_json(&path).await["policy"], Value::Null);
    // Removing nothing is fine.
    assert_eq!(call(&app, Method::DELETE, &path, Some(&app.token), None).await.status(), 204);

    // A team's.
    let team: Value = app.post_json("/api/v1/teams", &json!({"name": "Billing"})).await.json().await.unwrap();
    let team = team["id"].as_str().unwrap();
    let path = format!("/api/v1/admin/teams/{team}/sla");
    assert_eq!(app.get_json(&path).await, json!({"team_id": team, "policy": null}));
    let res = put_policy(&app, &path, json!({"resolution_minutes": 480})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(&path).await["policy"]["resolution_minutes"], 480);
    assert_eq!(call(&app, Method::DELETE, &path, Some(&app.token), None).await.status(), 204);
    assert_eq!(app.get_json(&path).await["policy"], Value::Null);

    // No such channel or team.
    let nobody = uuid::Uuid::new_v4();
    for path in [format!("/api/v1/admin/channels/{nobody}/sla"), format!("/api/v1/admin/teams/{nobody}/sla")] {
        assert_eq!(app.get(&path).await.status(), 404);
        assert_eq!(put_policy(&app, &path, json!({"first_response_minutes": 30})).await.status(), 404);
    }
}

async fn a_bad_policy_names_its_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let channel = channel_id(&app).await;
    let path = format!("/api/v1/admin/channels/{channel}/sla");
    let p = problem(put_policy(&app, &path, json!({"warning_minutes": 5})).await, 422).await;
    assert_eq!(fields(&p), ["first_response_minutes"], "{p}");
    let p = problem(
        put_policy(&app, &path, json!({"first_response_minutes": 0, "resolution_minutes": 10, "warning_minutes": 10}))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["first_response_minutes", "warning_minutes"], "{p}");
    let p = problem(put_policy(&app, &path, json!({"resolution_minutes": 200_000})).await, 422).await;
    assert_eq!(fields(&p), ["resolution_minutes"], "{p}");
    // Not a number, or a field it does not know: refused too.
    let res = put_policy(&app, &path, json!({"first_response_minutes": "soon"})).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let res = put_policy(&app, &path, json!({"first_response_minutes": 5, "priority": "high"})).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(app.get_json(&path).await["policy"], Value::Null, "nothing was stored");
}

/// Mon–Fri 09:00–17:00 UTC.
async fn office_hours(app: &TestApp) {
    let day = json!([{"start": "09:00", "end": "17:00"}]);
    let hours: BusinessHours = serde_json::from_value(json!({
        "time_zone": "UTC",
        "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
    }))
    .unwrap();
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    let channel = app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id;
    let patch = ChannelAutoRepliesPatch { hours: Some(Some(&hours)), ..ChannelAutoRepliesPatch::default() };
    app.store.patch_channel_auto_replies(channel, &patch, Utc::now()).await.unwrap();
}

async fn due_times_count_business_time_only(backend: Backend) {
    let mut app = spawn_app(backend).await;
    office_hours(&app).await;
    set_channel_policy(&app, json!({"first_response_minutes": 60, "resolution_minutes": 480, "warning_minutes": 15}))
        .await;
    // Friday 2026-11-27, 20:00 UTC: closed until Monday 09:00.
    let friday_evening = Utc.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).unwrap();
    let c = customer_wrote_at(&mut app, "wamid.sla.friday", "16505550201", friday_evening).await;
    let sla = &c["sla"];
    assert_eq!(time(&sla["first_response_due_at"]), Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap(), "{c}");
    assert_eq!(time(&sla["resolution_due_at"]), Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap(), "{c}");
    // Long past: missed already, even before the scheduler says so.
    assert_eq!(sla["first_response"], "breached");
    let one = conversation(&app, c["id"].as_str().unwrap()).await;
    assert_eq!(one["sla"], c["sla"]);
}

async fn a_team_policy_wins_over_the_channel_s(backend: Backend) {
    let mut app = spawn_app(backend).await;
    set_channel_policy(&app, json!({"first_response_minutes": 60})).await;
    let start = Utc::now();
    let c = customer_wrote_at(&mut app, "wamid.sla.channel", "16505550211", start).await;
    let due = time(&c["sla"]["first_response_due_at"]);
    assert_eq!(due, start_of(&c) + TimeDelta::minutes(60));
    assert!(c["sla"]["resolution_due_at"].is_null() && c["sla"]["resolution"].is_null(), "{c}");

    // The channel is routed to a team with its own policy: new conversations take it.
    let team: Value = app.post_json("/api/v1/teams", &json!({"name": "Support"})).await.json().await.unwrap();
    let team = team["id"].as_str().unwrap();
    let res = put_policy(
        &app,
        &format!("/api/v1/admin/teams/{team}/sla"),
        json!({"first_response_minutes": 10, "resolution_minutes": 120}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let channel = channel_id(&app).await;
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/channels/{channel}/team"),
        Some(&app.token),
        Some(json!({"team_id": team})),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let c2 = customer_wrote_at(&mut app, "wamid.sla.team", "16505550212", Utc::now()).await;
    assert_eq!(time(&c2["sla"]["first_response_due_at"]), start_of(&c2) + TimeDelta::minutes(10), "{c2}");
    assert_eq!(time(&c2["sla"]["resolution_due_at"]), start_of(&c2) + TimeDelta::minutes(120), "{c2}");
    // The conversation already open keeps its due time.
    assert_eq!(time(&conversation(&app, c["id"].as_str().unwrap()).await["sla"]["first_response_due_at"]), due);
}

/// A conversation's start: its first customer message (Meta's seconds), or its creation
/// if earlier.
fn start_of(c: &Value) -> DateTime<Utc> {
    time(&c["last_inbound_at"]).min(time(&c["created_at"]))
}

async fn open_events(app: &TestApp) -> SseStream {
    let req = app.client.get(format!("{}/api/v1/events", app.base)).bearer_auth(&app.token);
    SseStream::new(req.send().await.unwrap())
}

/// The next SLA event, past the others (the reply's message events).
async fn next_sla_event(stream: &mut SseStream) -> switchboard_tests::sse::SseEvent {
    loop {
        let e = stream.next_event().await;
        if e.event.starts_with("sla_") {
            return e;
        }
    }
}

async fn the_breach_event_fires_once_and_reaches_sse(backend: Backend) {
    let mut app = spawn_app(backend).await;
    set_channel_policy(&app, json!({"first_response_minutes": 30, "resolution_minutes": 240, "warning_minutes": 10}))
        .await;
    let c = customer_wrote_at(&mut app, "wamid.sla.breach", "16505550221", Utc::now()).await;
    let id = c["id"].as_str().unwrap();
    let start = start_of(&c);
    assert_eq!(c["sla"]["first_response"], "pending");
    let mut stream = open_events(&app).await;
    let scheduler = Scheduler::new(std::sync::Arc::clone(&app.store), SchedulerOptions::default());

    // Nothing due yet.
    let r = scheduler.run_once(start + TimeDelta::minutes(19)).await.unwrap();
    assert_eq!((r.sla_warnings, r.sla_breaches), (0, 0));
    // Ten minutes before the due time: the warning, once.
    let r = scheduler.run_once(start + TimeDelta::minutes(21)).await.unwrap();
    assert_eq!((r.sla_warnings, r.sla_breaches), (1, 0));
    let r = scheduler.run_once(start + TimeDelta::minutes(22)).await.unwrap();
    assert_eq!((r.sla_warnings, r.sla_breaches), (0, 0));
    let warning = stream.next_event().await;
    assert_eq!(warning.event, "sla_warning");
    assert_eq!(warning.data["conversation_id"], id);
    assert_eq!(warning.data["target"], "first_response");
    assert_eq!(time(&warning.data["due_at"]), start + TimeDelta::minutes(30));

    // Past the due time: the breach, once.
    let r = scheduler.run_once(start + TimeDelta::minutes(31)).await.unwrap();
    assert_eq!((r.sla_warnings, r.sla_breaches), (0, 1));
    let r = scheduler.run_once(start + TimeDelta::minutes(45)).await.unwrap();
    assert_eq!((r.sla_warnings, r.sla_breaches), (0, 0));
    let breach = stream.next_event().await;
    assert_eq!(breach.event, "sla_breached");
    assert_eq!(breach.data["conversation_id"], id);
    assert_eq!(breach.data["target"], "first_response");
    assert!(breach.id > warning.id);
    assert!(stream.event_within(Duration::from_millis(300)).await.is_none(), "nothing more");

    // A late reply does not undo the breach; the resolution target is still open.
    reply(&app, id).await;
    let after = conversation(&app, id).await;
    assert_eq!(after["sla"]["first_response"], "breached", "{after}");
    // Long after the resolution's due time, both its warning and breach are due: the breach only.
    let r = scheduler.run_once(start + TimeDelta::minutes(300)).await.unwrap();
    assert_eq!((r.sla_warnings, r.sla_breaches), (0, 1));
    let breach = next_sla_event(&mut stream).await;
    assert_eq!((breach.event.as_str(), &breach.data["target"]), ("sla_breached", &json!("resolution")));
    resolve(&app, id).await;
    assert_eq!(conversation(&app, id).await["sla"]["resolution"], "breached");
}

async fn a_reply_in_time_meets_the_target(backend: Backend) {
    let mut app = spawn_app(backend).await;
    set_channel_policy(&app, json!({"first_response_minutes": 30, "resolution_minutes": 240, "warning_minutes": 10}))
        .await;
    let c = customer_wrote_at(&mut app, "wamid.sla.met", "16505550231", Utc::now()).await;
    let id = c["id"].as_str().unwrap();
    reply(&app, id).await;
    assert_eq!(conversation(&app, id).await["sla"]["first_response"], "met");
    resolve(&app, id).await;
    let after = conversation(&app, id).await;
    assert_eq!((&after["sla"]["first_response"], &after["sla"]["resolution"]), (&json!("met"), &json!("met")));
    // Nothing left to fire for it, ever.
    let scheduler = Scheduler::new(std::sync::Arc::clone(&app.store), SchedulerOptions::default());
    let r = scheduler.run_once(Utc::now() + TimeDelta::days(30)).await.unwrap();
    assert_eq!((r.sla_warnings, r.sla_breaches), (0, 0));
}

async fn the_queue_sorts_by_sla_due(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let none = customer_wrote_at(&mut app, "wamid.sla.s0", "16505550240", Utc::now()).await;
    set_channel_policy(&app, json!({"first_response_minutes": 60})).await;
    let later = customer_wrote_at(&mut app, "wamid.sla.s1", "16505550241", Utc::now()).await;
    set_channel_policy(&app, json!({"first_response_minutes": 5})).await;
    let sooner = customer_wrote_at(&mut app, "wamid.sla.s2", "16505550242", Utc::now()).await;
    let answered = customer_wrote_at(&mut app, "wamid.sla.s3", "16505550243", Utc::now()).await;
    reply(&app, answered["id"].as_str().unwrap()).await;
    let ids = |v: &Value| v["items"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect::<Vec<_>>();
    let all = app.get_json("/api/v1/conversations?sort=sla_due").await;
    // Soonest due first; nothing due (never had a target, or met) after, by id.
    let mut rest = vec![none["id"].clone(), answered["id"].clone()];
    rest.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    let mut want = vec![sooner["id"].clone(), later["id"].clone()];
    want.extend(rest);
    assert_eq!(ids(&all), want);
    // Page by page, the same order.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/conversations?sort=sla_due&limit=1&cursor={c}"),
            None => "/api/v1/conversations?sort=sla_due&limit=1".to_owned(),
        };
        let page = app.get_json(&path).await;
        paged.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, want);
}

async fn the_report_shows_percent_met(backend: Backend) {
    let mut app = spawn_app(backend).await;
    set_channel_policy(&app, json!({"first_response_minutes": 30, "resolution_minutes": 60})).await;
    // Two answered in time and resolved in time; one missed by the scheduler and resolved late.
    for (n, wamid) in ["wamid.sla.r1", "wamid.sla.r2"].iter().enumerate() {
        let c = customer_wrote_at(&mut app, wamid, &format!("1650555025{n}"), Utc::now()).await;
        reply(&app, c["id"].as_str().unwrap()).await;
        resolve(&app, c["id"].as_str().unwrap()).await;
    }
    // Started two hours ago: both targets already missed.
    let late = customer_wrote_at(&mut app, "wamid.sla.r3", "16505550259", Utc::now() - TimeDelta::hours(2)).await;
    let scheduler = Scheduler::new(std::sync::Arc::clone(&app.store), SchedulerOptions::default());
    let r = scheduler.run_once(Utc::now()).await.unwrap();
    assert_eq!(r.sla_breaches, 2, "first response and resolution");
    resolve(&app, late["id"].as_str().unwrap()).await;

    let report = app.get_json("/api/v1/reports/conversations?group_by=channel").await;
    let s = &report["summary"];
    assert_eq!(s["sla_first_response"]["met"], 2, "{s}");
    assert_eq!(s["sla_first_response"]["breached"], 1);
    let pct = s["sla_first_response"]["percent_met"].as_f64().unwrap();
    assert!((pct - 200.0 / 3.0).abs() < 1e-9, "{pct}");
    assert_eq!((&s["sla_resolution"]["met"], &s["sla_resolution"]["breached"]), (&json!(2), &json!(1)));
    let g = &report["groups"][0];
    assert_eq!(g["sla_first_response"], s["sla_first_response"]);
    assert_eq!(g["sla_resolution"], s["sla_resolution"]);

    // The CSV: due times and outcomes per conversation.
    let csv = app.get("/api/v1/reports/conversations.csv").await.text().await.unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let late_id = late["id"].as_str().unwrap();
    let row: Vec<&str> = lines.find(|l| l.starts_with(late_id)).unwrap().split(',').collect();
    assert_eq!(row[col("first_response_sla")], "breached");
    assert_eq!(row[col("resolution_sla")], "breached");
    assert!(!row[col("first_response_due_at")].is_empty());
    assert!(!row[col("resolution_due_at")].is_empty());

    // The console's reports page says the same.
    let page = html(&app, "/reports").await;
    assert!(page.contains(r#"<td id="sla-first-response">67 % (2 of 3)</td>"#), "{page}");
    assert!(page.contains(r#"<td id="sla-resolution">67 % (2 of 3)</td>"#));
}

async fn html(app: &TestApp, path: &str) -> String {
    let res = app.client.get(app.url(path)).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

async fn the_console_shows_due_times_and_sorts_by_them(backend: Backend) {
    let mut app = spawn_app(backend).await;
    set_channel_policy(&app, json!({"first_response_minutes": 30, "resolution_minutes": 240})).await;
    let due = customer_wrote_at(&mut app, "wamid.sla.c1", "16505550261", Utc::now()).await;
    let overdue = customer_wrote_at(&mut app, "wamid.sla.c2", "16505550262", Utc::now() - TimeDelta::minutes(90)).await;
    let page = html(&app, "/?view=all&sort=sla_due").await;
    assert!(page.contains(r#"<option value="sla_due" selected>"#), "the sort is chosen");
    assert!(page.contains("sla sla-overdue") && page.contains("SLA overdue by 1 h"), "{page}");
    assert!(page.contains("sla sla-due") && page.contains("SLA due in 2"), "{page}");
    let (first, second) = (overdue["id"].as_str().unwrap(), due["id"].as_str().unwrap());
    let at = |id: &str| page.find(&format!(r#"data-id="{id}""#)).unwrap();
    assert!(at(first) < at(second), "the overdue one first");

    let admin = html(&app, "/admin/channels").await;
    assert!(admin.contains("SLA: first response within 30 min, resolution within 4 h (business time)"), "{admin}");

    let panel = html(&app, &format!("/c/{first}")).await;
    assert!(panel.contains(r#"id="conv-sla""#), "{panel}");
    assert!(panel.contains(r#"First response <span class="sla-overdue">overdue</span>"#), "{panel}");
    assert!(panel.contains(r#"Resolution <span class="sla-due">due</span>"#), "{panel}");
}
