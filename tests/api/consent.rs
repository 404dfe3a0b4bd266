//! Consent: opt-out keywords (STOP, …) and opt-in keywords (START, …) sent by the
//! customer, changes recorded by agents and admins, and what an opted-out contact no
//! longer gets: no greeting, away message, rule reply, satisfaction survey or template,
//! not even one queued before they opted out. Agents' free-form replies still go.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::autoreply::KeywordRule;
use switchboard_domain::hours::BusinessHours;
use switchboard_domain::{ChannelId, PhoneNumberId};
use switchboard_store::{ChannelAutoRepliesPatch, StoredRule};
use switchboard_tests::payloads::{contact, delivery, message, text};
use switchboard_tests::{Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

use crate::agents::{call, fields, new_agent, problem};

both_backends!(
    stop_silences_every_automatic_message_until_start,
    templates_are_refused_free_form_replies_still_go,
    a_survey_queued_before_stop_is_not_sent,
    keywords_match_whole_messages_in_any_case_accent_or_spacing,
    admins_configure_the_keywords_and_every_bad_field_is_named,
    agents_record_opt_outs_and_only_admins_opt_in,
    outgoing_webhooks_announce_each_change,
    stop_is_never_taken_as_a_surveys_comment,
);

const FROM: &str = "34612345678";

async fn channel(app: &TestApp) -> ChannelId {
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id
}

/// Closed all week, with a greeting, an away message and a keyword rule for "price".
async fn closed_with_everything(app: &TestApp) {
    let hours: BusinessHours = serde_json::from_value(json!({"time_zone": "Europe/Madrid", "weekly": {}})).unwrap();
    let greeting = serde_json::from_value(json!({"enabled": true, "text": "Welcome!"})).unwrap();
    let away = serde_json::from_value(json!({
        "enabled": true, "text": "We are closed.", "schedule": {"type": "outside_business_hours"}
    }))
    .unwrap();
    let patch = ChannelAutoRepliesPatch {
        hours: Some(Some(&hours)),
        greeting: Some(Some(&greeting)),
        away: Some(Some(&away)),
        ..ChannelAutoRepliesPatch::default()
    };
    app.store.patch_channel_auto_replies(channel(app).await, &patch, Utc::now()).await.unwrap();
    let rule: KeywordRule = serde_json::from_value(json!({
        "name": "prices",
        "matcher": {"type": "contains_word", "words": ["price"]},
        "actions": [{"type": "send_text", "text": "Our prices are on the website."}]
    }))
    .unwrap();
    app.store.create_keyword_rule(&StoredRule { channel: None, rule }, Utc::now()).await.unwrap();
}

async fn put_settings(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    call(app, Method::PUT, "/api/v1/admin/consent", Some(token), Some(body)).await
}

/// Posts `item` from `FROM` and applies it; the number of automatic messages queued.
async fn post(app: &mut TestApp, item: Value) -> usize {
    let body = delivery(vec![contact(FROM, "Lucía")], vec![item], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await.auto_replies
}

async fn writes(app: &mut TestApp, wamid: &str, body: &str) -> usize {
    post(app, text(wamid, FROM, body)).await
}

/// The texts the mock Graph API received, in order.
async fn sent_texts(app: &TestApp) -> Vec<String> {
    app.graph.sent().await.iter().map(|m| m["text"]["body"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn open_conversation(app: &TestApp) -> Value {
    app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == FROM && c["status"] == "open").unwrap()
}

async fn consent(app: &TestApp, contact: &str) -> Value {
    app.get_json(&format!("/api/v1/contacts/{contact}/consent")).await
}

async fn stop_silences_every_automatic_message_until_start(backend: Backend) {
    let mut app = spawn_app(backend).await;
    closed_with_everything(&app).await;
    let res = put_settings(
        &app,
        &app.token,
        json!({"opt_out_confirmation": "You will get no more automatic messages. Send START to undo.",
               "opt_in_confirmation": "Welcome back!"}),
    )
    .await;
    assert_eq!(res.status(), 200);

    // The first message is STOP: no greeting, no away message, only the confirmation.
    assert_eq!(writes(&mut app, "wamid.c.1", "Stop.").await, 1);
    assert_eq!(app.send().await.sent, 1);
    assert_eq!(sent_texts(&app).await, ["You will get no more automatic messages. Send START to undo."]);
    let conv = open_conversation(&app).await;
    let contact = conv["contact"]["id"].as_str().unwrap().to_owned();
    assert!(conv["contact"]["opted_out_at"].is_string(), "agents see the state: {conv}");
    let c = consent(&app, &contact).await;
    assert_eq!(c["state"], "opted_out");
    assert_eq!(c["opted_out_source"], "keyword");
    let history = c["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    let messages = app.messages(conv["id"].as_str().unwrap()).await;
    let stop = messages.iter().find(|m| m["direction"] == "inbound").unwrap();
    assert_eq!(history[0]["message_id"], stop["id"], "the keyword's message is recorded: {c}");
    assert_eq!(messages.last().unwrap()["auto_rule"], "consent");
    let shown = app.get_json(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(shown["opted_out_at"], c["opted_out_at"]);

    // The away message and the rule would answer these: nothing goes.
    assert_eq!(writes(&mut app, "wamid.c.2", "what is the price?").await, 0);
    assert_eq!(writes(&mut app, "wamid.c.3", "hello?").await, 0);
    // A second STOP changes nothing and is not confirmed again.
    assert_eq!(writes(&mut app, "wamid.c.4", "STOP").await, 0);
    assert_eq!(app.send().await.sent, 0);
    assert_eq!(consent(&app, &contact).await["history"].as_array().unwrap().len(), 1);

    // START opts back in (confirmed); the automatic replies resume.
    assert_eq!(writes(&mut app, "wamid.c.5", "start").await, 1);
    let c = consent(&app, &contact).await;
    assert_eq!((c["state"].as_str(), c["opted_out_at"].as_str()), (Some("opted_in"), None));
    let states: Vec<&str> = c["history"].as_array().unwrap().iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["opted_out", "opted_in"], "oldest first");
    assert!(open_conversation(&app).await["contact"]["opted_out_at"].is_null());
    assert_eq!(writes(&mut app, "wamid.c.6", "and the price?").await, 2, "the away message and the rule");
    assert_eq!(app.send().await.sent, 3);
    let texts = sent_texts(&app).await;
    assert_eq!(texts[1..], ["Welcome back!", "We are closed.", "Our prices are on the website."]);
}

async fn templates_are_refused_free_form_replies_still_go(backend: Backend) {
    let mut app = spawn_app(backend).await;
    assert_eq!(writes(&mut app, "wamid.t.1", "hi").await, 0);
    let conv = open_conversation(&app).await["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/conversations/{conv}/messages");
    let template = json!({"type": "template", "name": "order_update", "language": "en_US"});
    // Before the opt-out a template is fine.
    assert_eq!(app.post_json(&path, &template).await.status(), 202);
    assert_eq!(app.send().await.sent, 1);

    assert_eq!(writes(&mut app, "wamid.t.2", "UNSUBSCRIBE").await, 0, "no confirmation configured");
    let p = problem(app.post_json(&path, &template).await, 409).await;
    assert_eq!(p["code"], "opted_out", "{p}");
    let res = app.post_json(&path, &json!({"type": "text", "text": "Sure, I will not message you again."})).await;
    assert_eq!(res.status(), 202);
    assert_eq!(app.send().await.sent, 1, "an agent's reply in the open window goes");
    assert_eq!(sent_texts(&app).await.last().unwrap(), "Sure, I will not message you again.");
}

async fn a_survey_queued_before_stop_is_not_sent(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let channel = channel(&app).await;
    let csat = |delay: u32| json!({"enabled": true, "question": "How did we do?", "delay_minutes": delay});

    // Queued at the resolution, due at once; the customer opts out before it goes.
    set_csat(&app, channel, csat(0)).await;
    writes(&mut app, "wamid.s.1", "my order is late").await;
    let first = open_conversation(&app).await["id"].as_str().unwrap().to_owned();
    resolve(&app, &first).await;
    writes(&mut app, "wamid.s.2", "STOP").await;
    let report = app.send().await;
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    assert!(app.graph.sent().await.is_empty(), "nothing reaches WhatsApp");
    let survey = app.messages(&first).await.into_iter().find(|m| m["auto_rule"] == "csat").unwrap();
    assert_eq!(survey["status"], "failed");
    assert_eq!(survey["error"]["code"], -2, "{survey}");
    assert!(survey["error"]["title"].as_str().unwrap().contains("opted out"), "{survey}");

    // Resolving while opted out queues no survey at all.
    let second = open_conversation(&app).await["id"].as_str().unwrap().to_owned();
    resolve(&app, &second).await;
    assert!(app.messages(&second).await.iter().all(|m| m["auto_rule"] != "csat"));

    // A delayed survey queued before the opt-out is withheld when it comes due.
    writes(&mut app, "wamid.s.3", "START").await;
    set_csat(&app, channel, csat(30)).await;
    writes(&mut app, "wamid.s.4", "one more thing").await;
    let third = open_conversation(&app).await["id"].as_str().unwrap().to_owned();
    resolve(&app, &third).await;
    writes(&mut app, "wamid.s.5", "baja").await;
    let later = Utc::now() + Duration::minutes(31);
    let jobs = app.store.claim_outbox(10, later, later + Duration::minutes(1)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].withheld, "the sender fails it without sending");
    assert!(app.graph.sent().await.is_empty());
}

async fn set_csat(app: &TestApp, channel: ChannelId, body: Value) {
    let path = format!("/api/v1/admin/channels/{channel}/csat");
    assert_eq!(call(app, Method::PUT, &path, Some(&app.token), Some(body)).await.status(), 200);
}

async fn resolve(app: &TestApp, conv: &str) {
    let res = app.post_json(&format!("/api/v1/conversations/{conv}/status"), &json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
}

async fn keywords_match_whole_messages_in_any_case_accent_or_spacing(backend: Backend) {
    let mut app = spawn_app(backend).await;
    writes(&mut app, "wamid.k.1", "please don't stop the delivery").await;
    let conv = open_conversation(&app).await;
    let contact = conv["contact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(consent(&app, &contact).await["state"], "opted_in", "not a whole keyword");
    writes(&mut app, "wamid.k.2", "  Arrêt ! ").await;
    assert_eq!(consent(&app, &contact).await["state"], "opted_out");
    writes(&mut app, "wamid.k.3", "ＵＮＳＴＯＰ").await;
    assert_eq!(consent(&app, &contact).await["state"], "opted_in");
    // A template's quick-reply button carries the keyword in its payload.
    post(&mut app, message("wamid.k.4", FROM, "button", json!({"payload": "STOP", "text": "No more offers"}))).await;
    assert_eq!(consent(&app, &contact).await["state"], "opted_out");

    // Admin lists replace the defaults.
    let res =
        put_settings(&app, &app.token, json!({"opt_out_keywords": ["HALT"], "opt_in_keywords": ["Resume"]})).await;
    assert_eq!(res.status(), 200);
    writes(&mut app, "wamid.k.5", "resume").await;
    assert_eq!(consent(&app, &contact).await["state"], "opted_in");
    writes(&mut app, "wamid.k.6", "STOP").await;
    assert_eq!(consent(&app, &contact).await["state"], "opted_in", "no longer a keyword");
    writes(&mut app, "wamid.k.7", "halt").await;
    assert_eq!(consent(&app, &contact).await["state"], "opted_out");
    let history = consent(&app, &contact).await["history"].as_array().unwrap().len();
    assert_eq!(history, 5);
}

async fn admins_configure_the_keywords_and_every_bad_field_is_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let defaults = app.get_json("/api/v1/admin/consent").await;
    let out: Vec<&str> = defaults["opt_out_keywords"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    for k in ["STOP", "UNSUBSCRIBE", "BAJA", "ARRÊT", "STOPP", "AFMELDEN"] {
        assert!(out.contains(&k), "{k} in {out:?}");
    }
    assert!(defaults["opt_in_keywords"].as_array().unwrap().contains(&json!("START")));
    assert!(defaults["opt_out_confirmation"].is_null());

    let bad = json!({
        "opt_out_keywords": ["STOP", "stop", "   "],
        "opt_in_keywords": ["Stop!"],
        "opt_in_confirmation": "x".repeat(1025),
    });
    let p = problem(put_settings(&app, &app.token, bad).await, 422).await;
    assert_eq!(
        fields(&p),
        ["opt_out_keywords[1]", "opt_out_keywords[2]", "opt_in_keywords[0]", "opt_in_confirmation"],
        "{p}"
    );
    let p = problem(put_settings(&app, &app.token, json!({"opt_out_keywords": []})).await, 422).await;
    assert_eq!(fields(&p), ["opt_out_keywords"]);
    let p = problem(put_settings(&app, &app.token, json!({"opt_out_keywords": "STOP"})).await, 422).await;
    assert_eq!(fields(&p), ["opt_out_keywords"]);
    assert_eq!(app.get_json("/api/v1/admin/consent").await, defaults, "nothing changed");

    let (_, token) = new_agent(&app, "Bo").await;
    assert_eq!(call(&app, Method::GET, "/api/v1/admin/consent", Some(&token), None).await.status(), 403);
    assert_eq!(put_settings(&app, &token, json!({})).await.status(), 403);
}

async fn agents_record_opt_outs_and_only_admins_opt_in(backend: Backend) {
    let mut app = spawn_app(backend).await;
    writes(&mut app, "wamid.a.1", "hello").await;
    let contact = open_conversation(&app).await["contact"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/contacts/{contact}/consent");
    // Agents see every conversation unless teams restrict them.
    let (bo, token) = new_agent(&app, "Bo").await;
    let res =
        call(&app, Method::POST, &path, Some(&token), Some(json!({"state": "opted_out", "note": "asked by phone"})))
            .await;
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.unwrap();
    assert_eq!((c["state"].as_str(), c["opted_out_source"].as_str()), (Some("opted_out"), Some("agent")));
    assert_eq!(c["history"][0]["agent_id"], bo["id"]);
    assert_eq!(c["history"][0]["note"], "asked by phone");
    let res = call(&app, Method::POST, &path, Some(&token), Some(json!({"state": "opted_out"}))).await;
    assert_eq!(res.status(), 200, "already opted out: nothing recorded");
    let p = problem(call(&app, Method::POST, &path, Some(&token), Some(json!({"state": "opted_in"}))).await, 403).await;
    assert_eq!(p["code"], "forbidden");

    for (body, field) in [
        (json!({"state": "maybe"}), "state"),
        (json!({}), "body"),
        (json!({"state": "opted_in", "source": "keyword"}), "source"),
        (json!({"state": "opted_in", "note": "n".repeat(501)}), "note"),
    ] {
        let p = problem(call(&app, Method::POST, &path, Some(&app.token), Some(body.clone())).await, 422).await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let res =
        call(&app, Method::POST, &path, Some(&app.token), Some(json!({"state": "opted_in", "source": "import"}))).await;
    assert_eq!(res.status(), 201);
    let c = consent(&app, &contact).await;
    let entries: Vec<(&str, &str)> = c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["state"].as_str().unwrap(), e["source"].as_str().unwrap()))
        .collect();
    assert_eq!(entries, [("opted_out", "agent"), ("opted_in", "import")]);

    let missing = format!("/api/v1/contacts/{}/consent", uuid::Uuid::new_v4());
    assert_eq!(call(&app, Method::GET, &missing, Some(&app.token), None).await.status(), 404);
}

async fn outgoing_webhooks_announce_each_change(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let res = app
        .post_json("/api/v1/admin/webhooks", &json!({"url": server.uri(), "event_types": ["contact.consent_changed"]}))
        .await;
    assert_eq!(res.status(), 201);
    writes(&mut app, "wamid.w.1", "hello").await;
    writes(&mut app, "wamid.w.2", "STOP").await;
    writes(&mut app, "wamid.w.3", "STOP").await;
    writes(&mut app, "wamid.w.4", "START").await;
    app.webhook_worker("127.0.0.1").run_until_idle(Utc::now()).await.unwrap();
    let bodies: Vec<Value> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let seen: Vec<(&str, &str, &str)> = bodies
        .iter()
        .map(|b| {
            let c = &b["data"]["consent"];
            (b["type"].as_str().unwrap(), c["state"].as_str().unwrap(), c["source"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        seen,
        [("contact.consent_changed", "opted_out", "keyword"), ("contact.consent_changed", "opted_in", "keyword")],
        "one per change, none for the repeated STOP: {bodies:?}"
    );
    assert!(bodies[0]["data"]["consent"]["message_id"].is_string());
}

async fn stop_is_never_taken_as_a_surveys_comment(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let channel = channel(&app).await;
    let survey = json!({"enabled": true, "question": "Rate us", "scale": "three_point", "follow_up": "Anything else?"});
    set_csat(&app, channel, survey).await;
    writes(&mut app, "wamid.sc.1", "my order is late").await;
    let conv = open_conversation(&app).await;
    let (id, contact) = (conv["id"].as_str().unwrap().to_owned(), conv["contact"]["id"].as_str().unwrap().to_owned());
    resolve(&app, &id).await;
    assert_eq!(app.send().await.sent, 1, "the survey");
    let tap = message(
        "wamid.sc.2",
        FROM,
        "interactive",
        json!({"type": "button_reply", "button_reply": {"id": format!("csat:{id}:3"), "title": "Great"}}),
    );
    post(&mut app, tap).await;
    assert_eq!(app.send().await.sent, 1, "the follow-up question");
    writes(&mut app, "wamid.sc.3", "STOP").await;
    assert_eq!(consent(&app, &contact).await["state"], "opted_out");
    let kpis = app.get_json(&format!("/api/v1/conversations/{id}/kpis")).await;
    assert!(kpis["csat"]["comment"].is_null(), "{kpis}");
}
