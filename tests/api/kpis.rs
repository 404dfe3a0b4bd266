//! KPI facts, recorded by the reply and the resolution that cause them: first response
//! (from the customer's first message, or from the last automatic message before the
//! reply), every reply to a waiting customer, resolution; in wall-clock and business
//! seconds of the channel's hours.

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::PhoneNumberId;
use switchboard_domain::autoreply::Greeting;
use switchboard_domain::hours::BusinessHours;
use switchboard_store::ChannelAutoRepliesPatch;
use switchboard_tests::payloads::{contact, delivery, message};
use switchboard_tests::{Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

use crate::agents::{call, new_agent};

both_backends!(
    a_persons_replies_and_the_resolution_are_timed,
    an_automatic_message_moves_the_first_responses_start,
    business_seconds_leave_out_closed_time,
    an_agent_who_may_not_see_the_conversation_gets_404,
);

const FROM: &str = "16505550177";

/// The customer wrote `ago_secs` seconds ago (Meta's timestamp); applied.
async fn customer_wrote(app: &mut TestApp, wamid: &str, ago_secs: i64) -> String {
    let mut m = message(wamid, FROM, "text", json!({"body": "hello?"}));
    m["timestamp"] = json!((Utc::now().timestamp() - ago_secs).to_string());
    let body = delivery(vec![contact(FROM, "Ana")], vec![m], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await;
    app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == FROM).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn reply(app: &TestApp, token: &str, conversation: &str) -> Value {
    let res = call(
        app,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(token),
        Some(json!({"type": "text", "text": "Here to help"})),
    )
    .await;
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

async fn kpis(app: &TestApp, conversation: &str) -> Value {
    app.get_json(&format!("/api/v1/conversations/{conversation}/kpis")).await
}

fn secs(v: &Value) -> i64 {
    v["seconds"].as_i64().unwrap()
}

async fn configure(app: &TestApp, hours: Option<&BusinessHours>, greeting: Option<&Greeting>) {
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    let channel = app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id;
    let patch = ChannelAutoRepliesPatch {
        hours: hours.map(Some),
        greeting: greeting.map(Some),
        ..ChannelAutoRepliesPatch::default()
    };
    app.store.patch_channel_auto_replies(channel, &patch, Utc::now()).await.unwrap();
}

async fn a_persons_replies_and_the_resolution_are_timed(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (agent, token) = new_agent(&app, "Rita").await;
    let conversation = customer_wrote(&mut app, "wamid.kpi.1", 600).await;
    let before = kpis(&app, &conversation).await;
    assert!(before["first_response"].is_null() && before["resolution"].is_null(), "{before}");
    assert_eq!(before["replies"], json!([]));

    let sent = reply(&app, &token, &conversation).await;
    let k = kpis(&app, &conversation).await;
    let first = &k["first_response"];
    assert!((600..630).contains(&secs(first)), "{k}");
    assert_eq!(first["business_seconds"], first["seconds"], "no hours: open all the time");
    assert_eq!(first["by"], agent["id"]);
    assert_eq!(k["replies"].as_array().unwrap().len(), 1);
    assert_eq!(k["replies"][0]["message_id"], sent["id"]);
    assert_eq!(k["replies"][0]["seconds"], first["seconds"]);

    // A reply nobody waited for is no reply time; the next wait is timed on its own.
    reply(&app, &app.token, &conversation).await;
    assert_eq!(kpis(&app, &conversation).await["replies"].as_array().unwrap().len(), 1);
    customer_wrote(&mut app, "wamid.kpi.2", 120).await;
    reply(&app, &app.token, &conversation).await;
    let k = kpis(&app, &conversation).await;
    let replies = k["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 2);
    assert!((120..150).contains(&secs(&replies[1])), "{k}");
    assert_eq!(k["first_response"], first.clone(), "the first response stays the first");

    // Resolved: from the start (the first message) to now.
    let res =
        app.post_json(&format!("/api/v1/conversations/{conversation}/status"), &json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
    let k = kpis(&app, &conversation).await;
    assert!((600..630).contains(&secs(&k["resolution"])), "{k}");
}

async fn an_automatic_message_moves_the_first_responses_start(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let greeting: Greeting =
        serde_json::from_value(json!({"enabled": true, "text": "Hi, an agent will be with you"})).unwrap();
    configure(&app, None, Some(&greeting)).await;
    let conversation = customer_wrote(&mut app, "wamid.kpi.auto", 900).await;
    assert_eq!(app.send().await.sent, 1, "the greeting went out");
    reply(&app, &app.token, &conversation).await;
    let k = kpis(&app, &conversation).await;
    // From the greeting (sent just now), not from the message 15 minutes ago …
    assert!(secs(&k["first_response"]) < 60, "{k}");
    // … while the customer's wait for a person still counts in full.
    assert!((900..930).contains(&secs(&k["replies"][0])), "{k}");
}

async fn business_seconds_leave_out_closed_time(backend: Backend) {
    let mut app = spawn_app(backend).await;
    // Open all week, but today and yesterday are holidays (UTC): closed throughout.
    let day = json!([{"start": "00:00", "end": "24:00"}]);
    let today = Utc::now().date_naive();
    let hours: BusinessHours = serde_json::from_value(json!({
        "time_zone": "UTC",
        "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day},
        "overrides": [{"date": today.pred_opt().unwrap().to_string(), "until": today.to_string(), "label": "Closed"}],
    }))
    .unwrap();
    configure(&app, Some(&hours), None).await;
    let conversation = customer_wrote(&mut app, "wamid.kpi.closed", 600).await;
    reply(&app, &app.token, &conversation).await;
    let k = kpis(&app, &conversation).await;
    assert!(secs(&k["first_response"]) >= 600, "{k}");
    assert_eq!(k["first_response"]["business_seconds"], 0, "{k}");
    assert_eq!(k["replies"][0]["business_seconds"], 0, "{k}");
}

async fn an_agent_who_may_not_see_the_conversation_gets_404(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conversation = customer_wrote(&mut app, "wamid.kpi.hidden", 60).await;
    // A team owns the channel; this agent is not in it.
    let team: Value = app.post_json("/api/v1/teams", &json!({"name": "Billing"})).await.json().await.unwrap();
    let channel = app.conversations().await[0]["channel_id"].as_str().unwrap().to_owned();
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/channels/{channel}/team"),
        Some(&app.token),
        Some(json!({"team_id": team["id"]})),
    )
    .await;
    assert!(res.status().is_success());
    let (_, outsider) = new_agent(&app, "Otto").await;
    let res =
        call(&app, Method::GET, &format!("/api/v1/conversations/{conversation}/kpis"), Some(&outsider), None).await;
    assert_eq!(res.status(), 404);
}
