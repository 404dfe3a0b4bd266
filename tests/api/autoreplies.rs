//! Auto-replies end to end: a signed webhook, the ingest worker deciding in the event's
//! transaction, the outbox, the sender and the mock Graph API.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use switchboard_core::{IngestOptions, IngestWorker};
use switchboard_domain::autoreply::{Away, Greeting, KeywordRule, Limits, QuickReply};
use switchboard_domain::hours::BusinessHours;
use switchboard_domain::label::{LabelColour, LabelName};
use switchboard_domain::{AgentName, AgentRole, ChannelId, Email, NewAgent, PhoneNumberId};
use switchboard_http::hash_token;
use switchboard_store::{ChannelAutoRepliesPatch, NewLabel, StoredRule};
use switchboard_tests::payloads::{contact, delivery, message, text, text_delivery};
use switchboard_tests::{AppOptions, Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app, spawn_app_with};
use tokio_util::sync::CancellationToken;

const FROM: &str = "4915112345678";

/// Closed all week: every moment is outside business hours.
fn always_closed() -> BusinessHours {
    serde_json::from_value(json!({"time_zone": "Europe/Berlin", "weekly": {}})).unwrap()
}

fn always_open() -> BusinessHours {
    let day = json!([{"start": "00:00", "end": "24:00"}]);
    serde_json::from_value(json!({
        "time_zone": "America/New_York",
        "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}
    }))
    .unwrap()
}

fn greeting() -> Greeting {
    serde_json::from_value(
        json!({"enabled": true, "text": "Hello {{contact.first_name}}, welcome to {{business.name}}!"}),
    )
    .unwrap()
}

fn away() -> Away {
    serde_json::from_value(json!({
        "enabled": true,
        "text": "We are closed right now; an agent will answer when we open.",
        "schedule": {"type": "outside_business_hours"}
    }))
    .unwrap()
}

async fn channel(app: &TestApp) -> ChannelId {
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id
}

async fn configure(app: &TestApp, patch: ChannelAutoRepliesPatch<'_>) {
    let channel = channel(app).await;
    app.store.patch_channel_auto_replies(channel, &patch, Utc::now()).await.unwrap();
}

async fn add_rule(app: &TestApp, rule: Value) {
    let rule: KeywordRule = serde_json::from_value(rule).unwrap();
    app.store.create_keyword_rule(&StoredRule { channel: None, rule }, Utc::now()).await.unwrap();
}

/// Posts a text from `from` and applies it; returns the number of auto-replies queued.
async fn customer_writes(app: &mut TestApp, wamid: &str, from: &str, body: &str) -> usize {
    let delivery = delivery(vec![contact(from, "Ana María López")], vec![text(wamid, from, body)], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&delivery).unwrap()).await.status(), 200);
    app.ingest().await.auto_replies
}

/// The texts the mock Graph API received, in order.
async fn sent_texts(app: &TestApp) -> Vec<String> {
    app.graph
        .sent()
        .await
        .iter()
        .map(|m| {
            m["text"]["body"]
                .as_str()
                .or_else(|| m["interactive"]["body"]["text"].as_str())
                .or_else(|| m["image"]["caption"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn conversation_of(app: &TestApp, from: &str) -> Value {
    app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == from).unwrap()
}

/// Acme Bikes, closed all week, with a greeting and an away message.
async fn closed_with_greeting_and_away(app: &TestApp) {
    let (hours, greeting, away) = (always_closed(), greeting(), away());
    configure(
        app,
        ChannelAutoRepliesPatch {
            business_name: Some(Some("Acme Bikes")),
            hours: Some(Some(&hours)),
            greeting: Some(Some(&greeting)),
            away: Some(Some(&away)),
            ..ChannelAutoRepliesPatch::default()
        },
    )
    .await;
}

async fn a_disabled_channel_keeps_its_messages_but_does_not_answer(backend: Backend) {
    let mut app = spawn_app(backend).await;
    closed_with_greeting_and_away(&app).await;
    let channel = app.get_json("/api/v1/channels").await["items"][0]["id"].as_str().unwrap().to_owned();
    let (client, url, token) =
        (app.client.clone(), app.url(&format!("/api/v1/admin/channels/{channel}")), app.token.clone());
    let set_enabled = |on: bool| {
        let req = client.patch(&url).bearer_auth(&token).json(&serde_json::json!({"enabled": on}));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(set_enabled(false).await, 200);
    assert_eq!(customer_writes(&mut app, "wamid.off.1", FROM, "anyone?").await, 0);
    let conv = conversation_of(&app, FROM).await;
    assert_eq!(app.messages(conv["id"].as_str().unwrap()).await.len(), 1, "the message is kept");
    assert_eq!(app.send().await.sent, 0);

    // Enabled again: the next customer is answered.
    assert_eq!(set_enabled(true).await, 200);
    assert_eq!(customer_writes(&mut app, "wamid.on.1", "16505550999", "hello").await, 2);
}

async fn a_first_message_outside_hours_gets_greeting_then_away(backend: Backend) {
    let mut app = spawn_app(backend).await;
    closed_with_greeting_and_away(&app).await;

    assert_eq!(customer_writes(&mut app, "wamid.ar.1", FROM, "hi, is anyone there?").await, 2);
    assert_eq!(app.send().await.sent, 2);
    let sent = app.graph.sent().await;
    assert!(sent.iter().all(|m| m["to"] == FROM && m["type"] == "text"), "{sent:?}");
    assert_eq!(
        sent_texts(&app).await,
        ["Hello Ana, welcome to Acme Bikes!", "We are closed right now; an agent will answer when we open."]
    );

    // Both are on the conversation, marked with the rule that sent them.
    let conv = conversation_of(&app, FROM).await;
    let messages = app.messages(conv["id"].as_str().unwrap()).await;
    let auto: Vec<(&str, &str)> = messages
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .map(|m| (m["auto_rule"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(auto, [("greeting", "sent"), ("away", "sent")]);

    // A second message within the cooldown (same closed period) gets nothing.
    assert_eq!(customer_writes(&mut app, "wamid.ar.2", FROM, "hello??").await, 0);
    assert_eq!(app.send().await.sent, 0);
    assert_eq!(app.graph.sent().await.len(), 2);
}

/// With the ingest worker and the sender running in the server, as in production: the
/// greeting's job is leased when it is queued and handed straight to the sender (a job
/// leased and never handed over would wait out its 60 s lease), and the away message
/// behind it is claimed once the greeting is done, so both arrive at once, in order.
async fn with_the_workers_running_greeting_and_away_go_out_at_once_in_order(backend: Backend) {
    let on = |k| (k, "true".to_owned());
    let app = spawn_app_with(
        backend,
        AppOptions {
            env: vec![
                on("SWITCHBOARD__INGEST__ENABLED"),
                on("SWITCHBOARD__SENDER__ENABLED"),
                ("SWITCHBOARD__SENDER__POLL_INTERVAL_MS", "60000".to_owned()),
                ("SWITCHBOARD__INGEST__POLL_INTERVAL_MS", "60000".to_owned()),
            ],
            ..AppOptions::default()
        },
    )
    .await;
    closed_with_greeting_and_away(&app).await;
    for (i, from) in ["4915112345678", "4915112345679"].into_iter().enumerate() {
        let delivery =
            delivery(vec![contact(from, "Ana María López")], vec![text(&format!("wamid.run.{i}"), from, "hi")], vec![]);
        assert_eq!(app.post_webhook(serde_json::to_vec(&delivery).unwrap()).await.status(), 200);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.graph.sent().await.len() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let sent = app.graph.sent().await;
    for from in ["4915112345678", "4915112345679"] {
        let texts: Vec<&str> =
            sent.iter().filter(|m| m["to"] == from).filter_map(|m| m["text"]["body"].as_str()).collect();
        assert_eq!(
            texts,
            ["Hello Ana, welcome to Acme Bikes!", "We are closed right now; an agent will answer when we open."],
            "{from}"
        );
    }
}

/// A handed job the sender did not send before it stopped, or could no longer take, is
/// released at once (not left until its lease runs out): the next sender claims it.
async fn handed_jobs_left_at_shutdown_are_released_to_the_claim(backend: Backend) {
    let app = spawn_app(backend).await;
    let greeting = greeting();
    configure(&app, ChannelAutoRepliesPatch { greeting: Some(Some(&greeting)), ..Default::default() }).await;
    let stopping = app.another_sender();
    let (give, take) = stopping.handoff();
    let mut ingest = IngestWorker::new(Arc::clone(&app.store), IngestOptions::default()).with_handoff(give);

    // Queued leased and given; the sender stops before it sends anything.
    let first = serde_json::to_vec(&text_delivery("wamid.ar.stop.1", FROM, "hi")).unwrap();
    assert_eq!(app.post_webhook(first).await.status(), 200);
    assert_eq!(ingest.run_until_idle().await.unwrap().auto_replies, 1);
    let cancel = CancellationToken::new();
    cancel.cancel();
    stopping.run_until_stopped(switchboard_core::Wake::new(), Some(take), cancel).await;
    assert_eq!(app.send().await.sent, 1, "released, then claimed");

    // Queued leased after the sender stopped: the ingest worker releases it.
    let second = serde_json::to_vec(&text_delivery("wamid.ar.stop.2", "4915112345679", "hi")).unwrap();
    assert_eq!(app.post_webhook(second).await.status(), 200);
    assert_eq!(ingest.run_until_idle().await.unwrap().auto_replies, 1);
    assert_eq!(app.send().await.sent, 1, "released, then claimed");
    assert_eq!(sent_texts(&app).await, ["Hello Ana, welcome to WhatsApp!", "Hello Ana, welcome to WhatsApp!"]);
}

async fn a_redelivered_message_is_not_answered_twice(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let greeting = greeting();
    configure(&app, ChannelAutoRepliesPatch { greeting: Some(Some(&greeting)), ..Default::default() }).await;
    let body = serde_json::to_vec(&text_delivery("wamid.ar.dup", FROM, "hi")).unwrap();
    assert_eq!(app.post_webhook(body.clone()).await.status(), 200);
    assert_eq!(app.ingest().await.auto_replies, 1);
    // Meta retries with different bytes (another entry id): same wamid, no second greeting.
    let mut again: Value = serde_json::from_slice(&body).unwrap();
    again["entry"][0]["id"] = json!("another-waba");
    assert_eq!(app.post_webhook(serde_json::to_vec(&again).unwrap()).await.status(), 200);
    let report = app.ingest().await;
    assert_eq!((report.duplicates, report.auto_replies), (1, 0));
    assert_eq!(app.send().await.sent, 1);
}

/// Ingest stores a batch's messages together; each contact is still answered as if its
/// messages had come one at a time: its second message sees the first and its replies.
async fn a_batch_answers_each_contact_as_if_its_messages_came_alone(backend: Backend) {
    let mut app = spawn_app(backend).await;
    closed_with_greeting_and_away(&app).await;
    const OTHER: &str = "4915187654321";
    // Two deliveries, applied in one batch: Ana writes twice (and Meta repeats her first
    // message inside the second delivery), Bea once, in between.
    let first = delivery(
        vec![contact(FROM, "Ana María López"), contact(OTHER, "Bea")],
        vec![text("wamid.batch.a1", FROM, "hi"), text("wamid.batch.b1", OTHER, "hello")],
        vec![],
    );
    let second = delivery(
        vec![contact(FROM, "Ana María López")],
        vec![text("wamid.batch.a2", FROM, "anyone?"), text("wamid.batch.a1", FROM, "hi")],
        vec![],
    );
    for d in [first, second] {
        assert_eq!(app.post_webhook(serde_json::to_vec(&d).unwrap()).await.status(), 200);
    }
    let report = app.ingest().await;
    assert_eq!((report.applied, report.messages, report.duplicates), (2, 3, 1));
    // A greeting and an away message each; Ana's second message is within the cooldown.
    assert_eq!(report.auto_replies, 4);
    assert_eq!(app.send().await.sent, 4);
    let sent = app.graph.sent().await;
    for to in [FROM, OTHER] {
        let texts: Vec<&str> =
            sent.iter().filter(|m| m["to"] == to).map(|m| m["text"]["body"].as_str().unwrap()).collect();
        assert_eq!(texts.len(), 2, "{to}: {texts:?}");
        assert!(texts[0].starts_with("Hello "), "{to}: {texts:?}");
        assert!(texts[1].starts_with("We are closed"), "{to}: {texts:?}");
    }
    let conv = conversation_of(&app, FROM).await;
    let inbound: Vec<String> = app
        .messages(conv["id"].as_str().unwrap())
        .await
        .iter()
        .filter(|m| m["direction"] == "inbound")
        .map(|m| m["wamid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(inbound, ["wamid.batch.a1", "wamid.batch.a2"]);
}

async fn within_hours_only_the_greeting_goes_and_only_to_new_contacts(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (hours, away) = (always_open(), away());
    let greeting: Greeting = serde_json::from_value(json!({
        "enabled": true, "text": "Welcome!", "recipients": {"type": "all_except", "wa_ids": ["15550000001"]}
    }))
    .unwrap();
    configure(
        &app,
        ChannelAutoRepliesPatch {
            hours: Some(Some(&hours)),
            greeting: Some(Some(&greeting)),
            away: Some(Some(&away)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(customer_writes(&mut app, "wamid.ar.open.1", FROM, "hi").await, 1);
    // Excluded from the greeting by the recipients list.
    assert_eq!(customer_writes(&mut app, "wamid.ar.open.2", "15550000001", "hi").await, 0);
    // Not silent for 14 days: no second greeting.
    assert_eq!(customer_writes(&mut app, "wamid.ar.open.3", FROM, "one more thing").await, 0);
    app.send().await;
    assert_eq!(sent_texts(&app).await, ["Welcome!"]);
}

async fn a_keyword_gets_its_quick_reply_with_variables_filled_in(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let qr: QuickReply = serde_json::from_value(json!({
        "shortcut": "hours",
        "text": "Hi {{contact.first_name}}! {{business.name}} opens Monday to Friday.",
        "buttons": [{"id": "book", "title": "Book a visit"}]
    }))
    .unwrap();
    app.store.create_quick_reply(&qr, Utc::now()).await.unwrap();
    configure(&app, ChannelAutoRepliesPatch { business_name: Some(Some("Acme Bikes")), ..Default::default() }).await;
    add_rule(
        &app,
        json!({
            "name": "opening hours",
            "matcher": {"type": "contains_word", "words": ["horario", "opening hours"]},
            "actions": [{"type": "send_quick_reply", "quick_reply": "hours"}]
        }),
    )
    .await;

    // Accent- and case-insensitive.
    assert_eq!(customer_writes(&mut app, "wamid.ar.kw.1", FROM, "¿Cuál es el HORÁRIO?").await, 1);
    assert_eq!(customer_writes(&mut app, "wamid.ar.kw.2", "15550000002", "thanks, bye").await, 0);
    app.send().await;
    let sent = app.graph.sent().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["to"], FROM);
    assert_eq!(sent[0]["type"], "interactive");
    assert_eq!(sent[0]["interactive"]["body"]["text"], "Hi Ana! Acme Bikes opens Monday to Friday.");
    assert_eq!(sent[0]["interactive"]["action"]["buttons"][0]["reply"]["id"], "book");
}

async fn a_button_reply_can_label_and_assign(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let label = app
        .store
        .create_label(&NewLabel {
            name: LabelName::parse("sales").unwrap(),
            colour: LabelColour::parse("#22aa44").unwrap(),
            description: None,
            at: Utc::now(),
        })
        .await
        .unwrap();
    let agent = NewAgent {
        name: AgentName::parse("Sam Sales").unwrap(),
        email: Email::parse("sam@example.com").unwrap(),
        role: AgentRole::Agent,
    };
    let agent = app.store.create_agent(&agent, &hash_token("sbt_sam"), Utc::now()).await.unwrap();
    add_rule(
        &app,
        json!({
            "name": "wants to buy",
            "matcher": {"type": "button_id", "ids": ["buy"]},
            "actions": [
                {"type": "send_text", "text": "A sales agent will be with you shortly."},
                {"type": "add_labels", "labels": [label.id]},
                {"type": "assign", "agent": agent.id}
            ]
        }),
    )
    .await;
    let button = message(
        "wamid.ar.btn",
        FROM,
        "interactive",
        json!({"type": "button_reply", "button_reply": {"id": "buy", "title": "Buy now"}}),
    );
    let d = delivery(vec![contact(FROM, "Ana")], vec![button], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&d).unwrap()).await.status(), 200);
    assert_eq!(app.ingest().await.auto_replies, 1);
    let conv = conversation_of(&app, FROM).await;
    assert_eq!(conv["assignee_id"], json!(agent.id));
    let id = conv["id"].as_str().unwrap().parse().unwrap();
    let labels = app.store.conversation_labels(id).await.unwrap();
    assert_eq!(labels.iter().map(|l| l.label.id).collect::<Vec<_>>(), [label.id]);
    app.send().await;
    assert_eq!(sent_texts(&app).await, ["A sales agent will be with you shortly."]);
}

async fn another_bot_is_capped_per_hour(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let limits: Limits = serde_json::from_value(json!({"max_auto_replies_per_contact_per_hour": 2})).unwrap();
    configure(&app, ChannelAutoRepliesPatch { limits: Some(Some(&limits)), ..Default::default() }).await;
    add_rule(
        &app,
        json!({"name": "echo", "matcher": {"type": "contains_word", "words": ["ping"]},
               "actions": [{"type": "send_text", "text": "pong"}]}),
    )
    .await;
    let mut queued = 0;
    for i in 0..5 {
        queued += customer_writes(&mut app, &format!("wamid.ar.bot.{i}"), FROM, "ping").await;
    }
    assert_eq!(queued, 2);
    app.send().await;
    assert_eq!(sent_texts(&app).await, ["pong", "pong"]);
}

async fn reactions_and_statuses_are_never_answered(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (hours, greeting, away) = (always_closed(), greeting(), away());
    configure(
        &app,
        ChannelAutoRepliesPatch {
            hours: Some(Some(&hours)),
            greeting: Some(Some(&greeting)),
            away: Some(Some(&away)),
            ..Default::default()
        },
    )
    .await;
    let reaction =
        message("wamid.ar.react", FROM, "reaction", json!({"reaction": {"message_id": "wamid.x", "emoji": "👍"}}));
    let d = delivery(vec![contact(FROM, "Ana")], vec![reaction], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&d).unwrap()).await.status(), 200);
    let report = app.ingest().await;
    assert_eq!((report.messages, report.auto_replies), (1, 0));
}

async fn an_agent_reply_holds_back_the_away_message(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let hours = always_closed();
    let away: Away = serde_json::from_value(json!({
        "enabled": true, "text": "We are closed.", "schedule": {"type": "always"},
        "cooldown": {"once_per_period": false, "min_interval_minutes": 0},
        "skip_if_agent_replied_within_minutes": 10
    }))
    .unwrap();
    configure(
        &app,
        ChannelAutoRepliesPatch { hours: Some(Some(&hours)), away: Some(Some(&away)), ..Default::default() },
    )
    .await;
    assert_eq!(customer_writes(&mut app, "wamid.ar.ag.1", FROM, "hello").await, 1);
    let conv = conversation_of(&app, FROM).await;
    let res = app
        .post_json(
            &format!("/api/v1/conversations/{}/messages", conv["id"].as_str().unwrap()),
            &json!({"type": "text", "text": "Hi, I'm here after all"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.send().await;
    assert_eq!(customer_writes(&mut app, "wamid.ar.ag.2", FROM, "great, thanks").await, 0);
}

async fn a_rule_that_only_assigns_keeps_its_cooldown(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let agent = NewAgent {
        name: AgentName::parse("Sam Sales").unwrap(),
        email: Email::parse("sam@example.com").unwrap(),
        role: AgentRole::Agent,
    };
    let agent = app.store.create_agent(&agent, &hash_token("sbt_sam"), Utc::now()).await.unwrap();
    add_rule(
        &app,
        json!({"name": "sales", "matcher": {"type": "contains_word", "words": ["buy"]},
               "actions": [{"type": "assign", "agent": agent.id}], "cooldown_minutes": 60}),
    )
    .await;
    assert_eq!(customer_writes(&mut app, "wamid.ar.cd.1", FROM, "I want to buy").await, 0);
    let conv = conversation_of(&app, FROM).await;
    assert_eq!(conv["assignee_id"], json!(agent.id));
    let id = conv["id"].as_str().unwrap();
    let res = app.post_json(&format!("/api/v1/conversations/{id}/assign"), &json!({"agent_id": null})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // Within the cooldown the rule does not fire again.
    customer_writes(&mut app, "wamid.ar.cd.2", FROM, "buy buy buy").await;
    assert!(conversation_of(&app, FROM).await["assignee_id"].is_null());
}

/// Search covers what customers and agents wrote; automatic replies are canned text.
async fn search_finds_what_people_wrote_not_automatic_replies(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let hours = always_closed();
    let away: Away = serde_json::from_value(json!({
        "enabled": true, "text": "Our workshop is closed.", "schedule": {"type": "always"}
    }))
    .unwrap();
    configure(
        &app,
        ChannelAutoRepliesPatch { hours: Some(Some(&hours)), away: Some(Some(&away)), ..Default::default() },
    )
    .await;
    assert_eq!(customer_writes(&mut app, "wamid.ar.s.1", FROM, "is the bike ready?").await, 1);
    assert_eq!(app.send().await.sent, 1);
    let conv = conversation_of(&app, FROM).await;
    let id = conv["id"].as_str().unwrap().to_owned();
    let search = |q: &str| format!("/api/v1/conversations?status=all&q={q}");
    let found = |body: Value| body["items"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect::<Vec<_>>();

    assert_eq!(found(app.get(&search("bike%20ready")).await.json().await.unwrap()), [json!(id)]);
    assert!(found(app.get(&search("workshop")).await.json().await.unwrap()).is_empty());
    let res = app
        .post_json(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"type": "text", "text": "Your workshop slot is 3pm"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(found(app.get(&search("workshop%20slot")).await.json().await.unwrap()), [json!(id)]);
}

/// "Assign to team": an online member with room, the least loaded; nobody able to take
/// it leaves it in the team's queue. Either way the conversation now belongs to the team.
async fn a_rule_hands_the_conversation_to_a_team_member_with_room(backend: Backend) {
    use reqwest::Method;

    use crate::agents::{call, create_agent, new_agent};
    let mut app = spawn_app(backend).await;
    let team: Value = call(&app, Method::POST, "/api/v1/teams", Some(&app.token), Some(json!({"name": "Sales"})))
        .await
        .json()
        .await
        .unwrap();
    let team_id = team["id"].as_str().unwrap().to_owned();
    let (offline, _) = new_agent(&app, "Olga").await;
    let email = format!("nia-{}@example.com", uuid::Uuid::new_v4().simple());
    let (online, token) = create_agent(&app, json!({"name": "Nia", "email": email, "capacity": 1})).await;
    let (outsider, outsider_token) = new_agent(&app, "Otto").await;
    for (agent, tok) in [(&offline, None), (&online, Some(&token)), (&outsider, Some(&outsider_token))] {
        if agent["id"] != outsider["id"] {
            let path = format!("/api/v1/teams/{team_id}/members/{}", agent["id"].as_str().unwrap());
            assert!(call(&app, Method::PUT, &path, Some(&app.token), None).await.status().is_success());
        }
        if let Some(tok) = tok {
            let body = json!({"availability": "online"});
            let res = call(&app, Method::PUT, "/api/v1/agents/me/availability", Some(tok), Some(body)).await;
            assert_eq!(res.status(), 200);
        }
    }
    add_rule(
        &app,
        json!({"name": "sales", "matcher": {"type": "contains_word", "words": ["buy"]},
               "actions": [{"type": "assign_team", "team": team_id}]}),
    )
    .await;

    customer_writes(&mut app, "wamid.ar.team.1", FROM, "I want to buy a bike").await;
    let conv = conversation_of(&app, FROM).await;
    assert_eq!(conv["assignee_id"], online["id"], "the online member, not the offline one nor the outsider");
    let history = app.get(&format!("/api/v1/conversations/{}/history", conv["id"].as_str().unwrap())).await;
    let history: Value = history.json().await.unwrap();
    assert!(history.to_string().contains("\"via\":\"rule\""), "{history}");
    assert!(history.to_string().contains("\"team_changed\""), "{history}");
    assert_eq!(conv["team_id"], team_id.as_str());

    // Nia is at her capacity (1): the next one waits in the team's queue.
    customer_writes(&mut app, "wamid.ar.team.2", "4915187654321", "buy").await;
    let waiting = conversation_of(&app, "4915187654321").await;
    assert!(waiting["assignee_id"].is_null());
    assert_eq!(waiting["team_id"], team_id.as_str());
}

/// Variables are formatted in the contact's language once agents record it (attribute
/// `language`), else in the channel's.
async fn replies_speak_the_contacts_language_once_it_is_known(backend: Backend) {
    use reqwest::Method;

    use crate::agents::call;
    let mut app = spawn_app(backend).await;
    let hours = always_closed();
    configure(&app, ChannelAutoRepliesPatch { hours: Some(Some(&hours)), ..Default::default() }).await;
    add_rule(
        &app,
        json!({"name": "open", "matcher": {"type": "contains_word", "words": ["open"]},
               "actions": [{"type": "send_text", "text": "We open {{next_open}}."}], "cooldown_minutes": 0}),
    )
    .await;
    assert_eq!(customer_writes(&mut app, "wamid.ar.lang.1", FROM, "are you open?").await, 1);
    let contact = conversation_of(&app, FROM).await["contact"]["id"].as_str().unwrap().to_owned();
    let body = json!({"attributes": {"language": "de"}});
    let res = call(&app, Method::PATCH, &format!("/api/v1/contacts/{contact}"), Some(&app.token), Some(body)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(customer_writes(&mut app, "wamid.ar.lang.2", FROM, "open tomorrow?").await, 1);
    app.send().await;
    assert_eq!(sent_texts(&app).await, ["We open soon.", "We open bald."]);
}

both_backends!(
    a_disabled_channel_keeps_its_messages_but_does_not_answer,
    handed_jobs_left_at_shutdown_are_released_to_the_claim,
    with_the_workers_running_greeting_and_away_go_out_at_once_in_order,
    replies_speak_the_contacts_language_once_it_is_known,
    a_rule_hands_the_conversation_to_a_team_member_with_room,
    search_finds_what_people_wrote_not_automatic_replies,
    a_rule_that_only_assigns_keeps_its_cooldown,
    a_first_message_outside_hours_gets_greeting_then_away,
    a_redelivered_message_is_not_answered_twice,
    a_batch_answers_each_contact_as_if_its_messages_came_alone,
    within_hours_only_the_greeting_goes_and_only_to_new_contacts,
    a_keyword_gets_its_quick_reply_with_variables_filled_in,
    a_button_reply_can_label_and_assign,
    another_bot_is_capped_per_hour,
    reactions_and_statuses_are_never_answered,
    an_agent_reply_holds_back_the_away_message,
);
