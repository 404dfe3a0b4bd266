//! Satisfaction surveys in WhatsApp: configured per channel by admins, queued when a
//! conversation is resolved (interactive while the window is open, the template after),
//! answered by a tap that rates the surveyed conversation without opening a new one.

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::PhoneNumberId;
use switchboard_store::OutboxState;
use switchboard_tests::payloads::{contact, delivery, message, text};
use switchboard_tests::{Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

use crate::agents::{call, new_agent};

both_backends!(
    resolving_sends_the_survey_and_a_tap_rates_the_conversation,
    outside_the_window_the_template_is_sent_and_its_button_rates,
    a_conversation_is_surveyed_once_and_three_points_are_buttons,
    the_follow_up_asks_for_a_comment_and_keeps_the_next_text,
    a_delayed_survey_waits_in_the_outbox,
    only_the_surveyed_contact_can_rate_and_the_label_condition_holds,
    admins_configure_the_survey_agents_may_not,
    answers_reach_outgoing_webhooks_and_the_live_stream,
);

const FROM: &str = "16505550188";

async fn channel_id(app: &TestApp) -> String {
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id.to_string()
}

async fn configure(app: &TestApp, settings: Value) -> Value {
    let channel = channel_id(app).await;
    let res =
        call(app, Method::PUT, &format!("/api/v1/admin/channels/{channel}/csat"), Some(&app.token), Some(settings))
            .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// `from` wrote `ago_secs` seconds ago; applied. Answers the conversation's id.
async fn customer_wrote(app: &mut TestApp, from: &str, wamid: &str, ago_secs: i64) -> String {
    let mut m = text(wamid, from, "my order is late");
    m["timestamp"] = json!((Utc::now().timestamp() - ago_secs).to_string());
    post(app, from, m).await;
    app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == from && c["status"] == "open").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post(app: &mut TestApp, from: &str, item: Value) {
    let body = delivery(vec![contact(from, "Ana")], vec![item], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await;
}

async fn resolve(app: &TestApp, conversation: &str) {
    let res =
        app.post_json(&format!("/api/v1/conversations/{conversation}/status"), &json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
}

fn list_reply(wamid: &str, from: &str, id: &str) -> Value {
    message(wamid, from, "interactive", json!({"type": "list_reply", "list_reply": {"id": id, "title": "Good"}}))
}

fn button_reply(wamid: &str, from: &str, id: &str) -> Value {
    message(wamid, from, "interactive", json!({"type": "button_reply", "button_reply": {"id": id, "title": "Great"}}))
}

async fn csat(app: &TestApp, conversation: &str) -> Value {
    app.get_json(&format!("/api/v1/conversations/{conversation}/kpis")).await["csat"].clone()
}

async fn resolving_sends_the_survey_and_a_tap_rates_the_conversation(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let set = configure(&app, json!({"enabled": true, "question": "¿Cómo te atendimos?"})).await;
    assert_eq!(set["settings"]["options"].as_array().unwrap().len(), 5, "{set}");
    let conversation = customer_wrote(&mut app, FROM, "wamid.csat.1", 60).await;
    assert!(csat(&app, &conversation).await.is_null(), "no survey before the resolution");
    resolve(&app, &conversation).await;
    assert_eq!(app.send().await.sent, 1);

    // A list (five choices do not fit three reply buttons), best first.
    let sent = app.graph.sent().await;
    let survey = &sent.last().unwrap()["interactive"];
    assert_eq!(survey["type"], "list", "{survey}");
    assert_eq!(survey["body"]["text"], "¿Cómo te atendimos?");
    let rows = survey["action"]["sections"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["id"], format!("csat:{conversation}:5"));
    assert_eq!(rows[0]["title"], "Excellent");
    let messages = app.messages(&conversation).await;
    assert_eq!(messages.last().unwrap()["auto_rule"], "csat", "an automatic message: {:?}", messages.last());

    // The tap rates the resolved conversation: no new conversation, nothing sent back.
    let waiting = app.conversations().await[0]["waiting_since"].clone();
    post(&mut app, FROM, list_reply("wamid.csat.tap1", FROM, &format!("csat:{conversation}:4"))).await;
    let c = csat(&app, &conversation).await;
    assert_eq!((c["score"].as_i64(), c["scale"].as_i64()), (Some(4), Some(5)), "{c}");
    assert!(c["rated_at"].is_string());
    let conversations = app.conversations().await;
    assert_eq!(conversations.len(), 1, "the answer opened nothing: {conversations:?}");
    assert_eq!(conversations[0]["status"], "resolved");
    assert_eq!(conversations[0]["waiting_since"], waiting, "the answer makes nobody wait");
    assert_eq!(app.messages(&conversation).await.len(), messages.len() + 1, "the tap is in the surveyed conversation");
    assert_eq!(app.send().await.sent, 0, "no greeting, no rule, no follow-up");

    // A later tap within the window changes the rating; a redelivery changes nothing.
    post(&mut app, FROM, list_reply("wamid.csat.tap2", FROM, &format!("csat:{conversation}:2"))).await;
    post(&mut app, FROM, list_reply("wamid.csat.tap2", FROM, &format!("csat:{conversation}:2"))).await;
    assert_eq!(csat(&app, &conversation).await["score"], 2);
    assert_eq!(app.messages(&conversation).await.len(), messages.len() + 2);
    assert_eq!(app.conversations().await.len(), 1);

    // The metric counts responses by score.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchboard_csat_responses_total{score=\"4\"}"), "{metrics}");
}

async fn outside_the_window_the_template_is_sent_and_its_button_rates(backend: Backend) {
    let mut app = spawn_app(backend).await;
    configure(
        &app,
        json!({"enabled": true, "question": "How did we do?", "scale": "three_point",
               "template": {"name": "csat_three", "language": "en_US"}}),
    )
    .await;
    // The customer's last message is 25 hours old: the window is closed.
    let conversation = customer_wrote(&mut app, FROM, "wamid.csat.old", 25 * 3600).await;
    resolve(&app, &conversation).await;
    assert_eq!(app.send().await.sent, 1);
    let sent = app.graph.sent().await;
    let t = &sent.last().unwrap();
    assert_eq!(t["type"], "template", "{t}");
    assert_eq!(t["template"]["name"], "csat_three");
    assert_eq!(t["template"]["language"]["code"], "en_US");
    let buttons = t["template"]["components"].as_array().unwrap();
    assert_eq!(buttons.len(), 3);
    assert_eq!(buttons[2]["sub_type"], "quick_reply");
    assert_eq!(buttons[2]["index"], "2");
    assert_eq!(buttons[2]["parameters"][0]["payload"], format!("csat:{conversation}:1"));

    // The template's quick-reply button comes back as a `button` message.
    let tap = message(
        "wamid.csat.button",
        FROM,
        "button",
        json!({"payload": format!("csat:{conversation}:3"), "text": "Great"}),
    );
    post(&mut app, FROM, tap).await;
    let c = csat(&app, &conversation).await;
    assert_eq!((c["score"].as_i64(), c["scale"].as_i64()), (Some(3), Some(3)), "{c}");
    assert_eq!(app.conversations().await.len(), 1);

    // Without a template, a closed window means no survey at all.
    configure(&app, json!({"enabled": true, "question": "How did we do?"})).await;
    let other = "16505550199";
    let second = customer_wrote(&mut app, other, "wamid.csat.old2", 25 * 3600).await;
    resolve(&app, &second).await;
    assert_eq!(app.send().await.sent, 0);
    assert!(csat(&app, &second).await.is_null());
}

async fn a_conversation_is_surveyed_once_and_three_points_are_buttons(backend: Backend) {
    let mut app = spawn_app(backend).await;
    configure(
        &app,
        json!({"enabled": true, "question": "評価してください", "scale": "three_point", "options": ["良い", "普通", "悪い"]}),
    )
    .await;
    let conversation = customer_wrote(&mut app, FROM, "wamid.csat.once", 60).await;
    resolve(&app, &conversation).await;
    resolve(&app, &conversation).await;
    assert_eq!(app.send().await.sent, 1, "one survey");
    let sent = app.graph.sent().await;
    let survey = &sent.last().unwrap()["interactive"];
    assert_eq!(survey["type"], "button", "{survey}");
    let titles: Vec<&str> =
        survey["action"]["buttons"].as_array().unwrap().iter().map(|b| b["reply"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["良い", "普通", "悪い"]);
    // A score off the survey's scale is no answer: an ordinary message, in a new conversation.
    post(&mut app, FROM, button_reply("wamid.csat.off", FROM, &format!("csat:{conversation}:5"))).await;
    assert!(csat(&app, &conversation).await["score"].is_null());
    assert_eq!(app.conversations().await.len(), 2);
}

async fn the_follow_up_asks_for_a_comment_and_keeps_the_next_text(backend: Backend) {
    let mut app = spawn_app(backend).await;
    configure(
        &app,
        json!({"enabled": true, "question": "Rate us", "scale": "three_point",
               "follow_up": "Thanks! Anything we could do better?"}),
    )
    .await;
    let conversation = customer_wrote(&mut app, FROM, "wamid.csat.f1", 60).await;
    resolve(&app, &conversation).await;
    assert_eq!(app.send().await.sent, 1);
    post(&mut app, FROM, button_reply("wamid.csat.f2", FROM, &format!("csat:{conversation}:3"))).await;
    assert_eq!(app.send().await.sent, 1, "the follow-up question");
    let sent = app.graph.sent().await;
    assert_eq!(sent.last().unwrap()["text"]["body"], "Thanks! Anything we could do better?");
    assert!(csat(&app, &conversation).await["comment_asked_at"].is_string());

    post(&mut app, FROM, text("wamid.csat.f3", FROM, "Faster answers, please")).await;
    let c = csat(&app, &conversation).await;
    assert_eq!(c["comment"], "Faster answers, please", "{c}");
    assert_eq!(app.conversations().await.len(), 1, "the comment opened nothing");
    // A later tap changes the rating without asking again; the next text is a new conversation.
    post(&mut app, FROM, button_reply("wamid.csat.f4", FROM, &format!("csat:{conversation}:2"))).await;
    assert_eq!(app.send().await.sent, 0);
    post(&mut app, FROM, text("wamid.csat.f5", FROM, "New question")).await;
    assert_eq!(csat(&app, &conversation).await["comment"], "Faster answers, please");
    assert_eq!(app.conversations().await.len(), 2);

    // The console shows the rating and comment on the conversation, and on the contact's
    // earlier conversations from the new one.
    let html = console_page(&app, &format!("/c/{conversation}")).await;
    assert!(html.contains("<dt>Satisfaction</dt><dd id=\"csat\">2 of 3"), "{html}");
    assert!(html.contains("<q>Faster answers, please</q>"));
    let newer = app.conversations().await.into_iter().find(|c| c["status"] == "open").unwrap()["id"].clone();
    let html = console_page(&app, &format!("/c/{}", newer.as_str().unwrap())).await;
    assert!(html.contains(", rated 2/3</a>"), "{html}");
}

/// A rating, its comment and a changed rating each reach an endpoint subscribed to
/// `csat.answered`, and the live stream as `csat_answered`.
async fn answers_reach_outgoing_webhooks_and_the_live_stream(backend: Backend) {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let mut app = spawn_app(backend).await;
    configure(&app, json!({"enabled": true, "question": "Rate us", "scale": "three_point", "follow_up": "Why?"})).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&receiver).await;
    let body = json!({"url": receiver.uri(), "event_types": ["csat.answered"]});
    assert_eq!(app.post_json("/api/v1/admin/webhooks", &body).await.status(), 201);
    let conversation = customer_wrote(&mut app, FROM, "wamid.csat.w1", 60).await;
    resolve(&app, &conversation).await;
    app.send().await;
    let res = app.client.get(app.url("/api/v1/events")).bearer_auth(&app.token).send().await.unwrap();
    let mut stream = switchboard_tests::sse::SseStream::new(res);

    let worker = app.webhook_worker("127.0.0.1");
    let mut delivered = Vec::new();
    for item in [
        button_reply("wamid.csat.w2", FROM, &format!("csat:{conversation}:3")),
        text("wamid.csat.w3", FROM, "Quick and kind"),
        button_reply("wamid.csat.w4", FROM, &format!("csat:{conversation}:2")),
    ] {
        post(&mut app, FROM, item).await;
        worker.run_until_idle(Utc::now()).await.unwrap();
        let requests = receiver.received_requests().await.unwrap();
        delivered.push(serde_json::from_slice::<Value>(&requests.last().unwrap().body).unwrap());
        assert_eq!(requests.len(), delivered.len(), "one event per answer");
    }
    let csats: Vec<Value> = delivered.iter().map(|d| d["data"]["csat"].clone()).collect();
    for d in &delivered {
        assert_eq!(d["type"], "csat.answered");
        assert_eq!(d["data"]["conversation"]["id"], conversation.as_str());
    }
    assert_eq!((csats[0]["score"].clone(), csats[0]["previous_score"].clone()), (json!(3), Value::Null));
    assert_eq!((csats[0]["scale"].clone(), csats[0]["comment"].clone()), (json!(3), Value::Null));
    assert_eq!((csats[1]["score"].clone(), csats[1]["comment"].clone()), (json!(3), json!("Quick and kind")));
    assert_eq!((csats[2]["score"].clone(), csats[2]["previous_score"].clone()), (json!(2), json!(3)));

    let mut scores = Vec::new();
    while scores.len() < 3 {
        let e = stream.event_within(std::time::Duration::from_secs(5)).await.expect("three csat_answered events");
        if e.event == "csat_answered" {
            assert_eq!(e.data["conversation_id"], conversation.as_str());
            scores.push(e.data["score"].clone());
        }
    }
    assert_eq!(scores, [json!(3), json!(3), json!(2)], "the rating, the comment, the change");
}

async fn console_page(app: &TestApp, path: &str) -> String {
    let res = app.client.get(app.url(path)).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

async fn a_delayed_survey_waits_in_the_outbox(backend: Backend) {
    let mut app = spawn_app(backend).await;
    configure(&app, json!({"enabled": true, "question": "Rate us", "delay_minutes": 30})).await;
    let conversation = customer_wrote(&mut app, FROM, "wamid.csat.d1", 60).await;
    resolve(&app, &conversation).await;
    assert_eq!(app.send().await.sent, 0, "not yet");
    let jobs = app.store.list_outbox(OutboxState::Ready, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let wait = jobs[0].run_at - Utc::now();
    assert!(wait > chrono::Duration::minutes(29) && wait <= chrono::Duration::minutes(30), "{wait}");
    let c = csat(&app, &conversation).await;
    assert!(c["score"].is_null() && c["queued_at"].is_string(), "{c}");
}

async fn only_the_surveyed_contact_can_rate_and_the_label_condition_holds(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let label = app.post_json("/api/v1/labels", &json!({"name": "vip"})).await.json::<Value>().await.unwrap();
    configure(
        &app,
        json!({"enabled": true, "question": "Rate us", "label": {"type": "with", "label_id": label["id"]}}),
    )
    .await;
    // Without the label: no survey.
    let plain = customer_wrote(&mut app, FROM, "wamid.csat.l1", 60).await;
    resolve(&app, &plain).await;
    assert_eq!(app.send().await.sent, 0);
    assert!(csat(&app, &plain).await.is_null());
    // With it: surveyed.
    let vip = customer_wrote(&mut app, FROM, "wamid.csat.l2", 60).await;
    let res = app.post_json(&format!("/api/v1/conversations/{vip}/labels"), &json!({"labels": [label["id"]]})).await;
    assert!(res.status().is_success(), "{}", res.status());
    resolve(&app, &vip).await;
    assert_eq!(app.send().await.sent, 1);
    // Someone else's tap naming it is not an answer.
    let stranger = "16505550111";
    post(&mut app, stranger, list_reply("wamid.csat.l3", stranger, &format!("csat:{vip}:1"))).await;
    assert!(csat(&app, &vip).await["score"].is_null());
    assert!(app.conversations().await.iter().any(|c| c["contact"]["wa_id"] == stranger));
}

async fn admins_configure_the_survey_agents_may_not(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let channel = channel_id(&app).await;
    let path = format!("/api/v1/admin/channels/{channel}/csat");
    let before = app.get_json(&path).await;
    assert!(before["settings"].is_null(), "{before}");

    let bad = call(
        &app,
        Method::PUT,
        &path,
        Some(&app.token),
        Some(json!({"question": "", "scale": "three_point", "options": ["a", "b"], "response_window_days": 90,
                    "label": {"type": "without", "label_id": uuid::Uuid::new_v4()}})),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.unwrap();
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["question", "options", "response_window_days"] {
        assert!(fields.contains(&f), "{f}: {problem}");
    }
    let unknown_label = call(
        &app,
        Method::PUT,
        &path,
        Some(&app.token),
        Some(json!({"question": "Q", "label": {"type": "without", "label_id": uuid::Uuid::new_v4()}})),
    )
    .await;
    assert_eq!(unknown_label.status(), 422);
    let problem: Value = unknown_label.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "label.label_id", "{problem}");
    let missing = call(
        &app,
        Method::GET,
        &format!("/api/v1/admin/channels/{}/csat", uuid::Uuid::new_v4()),
        Some(&app.token),
        None,
    )
    .await;
    assert_eq!(missing.status(), 404);

    let (_, agent) = new_agent(&app, "Rita").await;
    assert_eq!(call(&app, Method::GET, &path, Some(&agent), None).await.status(), 403);
    let put = call(&app, Method::PUT, &path, Some(&agent), Some(json!({"enabled": true, "question": "Q"}))).await;
    assert_eq!(put.status(), 403);
    assert!(app.get_json(&path).await["settings"].is_null(), "nothing stored");

    // An agent who may see the conversation sees its rating.
    configure(&app, json!({"enabled": true, "question": "Rate us"})).await;
    let conversation = customer_wrote(&mut app, FROM, "wamid.csat.a1", 60).await;
    resolve(&app, &conversation).await;
    post(&mut app, FROM, list_reply("wamid.csat.a2", FROM, &format!("csat:{conversation}:5"))).await;
    let res = call(&app, Method::GET, &format!("/api/v1/conversations/{conversation}/kpis"), Some(&agent), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["csat"]["score"], 5);
}
