//! Agents' quick replies: `{"quick_reply": "hours"}` or a text that is exactly `/hours`,
//! expanded with its variables and sent through the outbox to the mock Graph API.

use chrono::Utc;
use serde_json::{Value, json};
use switchboard_domain::{AgentName, AgentRole, Email, NewAgent, PhoneNumberId};
use switchboard_http::hash_token;
use switchboard_tests::payloads::{contact, delivery, text};
use switchboard_tests::{Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

const FROM: &str = "4915112345678";

/// A conversation whose customer, Ana María López, wrote just now; returns its id.
async fn conversation(app: &mut TestApp) -> String {
    let d = delivery(vec![contact(FROM, "Ana María López")], vec![text("wamid.in.1", FROM, "hello")], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&d).unwrap()).await.status(), 200);
    app.ingest().await;
    app.conversations().await[0]["id"].as_str().unwrap().to_owned()
}

async fn channel(app: &TestApp) -> String {
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id.to_string()
}

/// Business name and hours that are always open (so `{{next_open}}` is "now").
async fn configure(app: &TestApp) {
    let day = json!([{"start": "00:00", "end": "24:00"}]);
    let settings = json!({
        "business_name": "Acme Bikes",
        "hours": {"time_zone": "Europe/Berlin", "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}}
    });
    let url = format!("/api/v1/admin/channels/{}/auto-replies", channel(app).await);
    let res = app.client.put(app.url(&url)).bearer_auth(&app.token).json(&settings).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

async fn create(app: &TestApp, body: Value) {
    let res = app.post_json("/api/v1/admin/quick-replies", &body).await;
    assert_eq!(res.status(), 201, "{body}");
}

async fn reply(app: &TestApp, conv: &str, body: Value) -> reqwest::Response {
    app.post_json(&format!("/api/v1/conversations/{conv}/messages"), &body).await
}

async fn assert_field_error(res: reqwest::Response, field: &str) {
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
}

async fn a_quick_reply_is_sent_with_its_variables_filled_in(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conv = conversation(&mut app).await;
    configure(&app).await;
    create(
        &app,
        json!({"shortcut": "hours", "text": "Hi {{contact.first_name}}, {{agent.name}} from {{business.name}} here: we are open {{next_open}}. ({{contact.name}})"}),
    )
    .await;

    let res = reply(&app, &conv, json!({"quick_reply": "hours"})).await;
    assert_eq!(res.status(), 202);
    let queued: Value = res.json().await.unwrap();
    let expected = "Hi Ana, Test Admin from Acme Bikes here: we are open now. (Ana María López)";
    assert_eq!(queued["text"], expected);
    assert!(queued["sent_by"].is_string());
    assert!(queued["auto_rule"].is_null(), "an agent sent it, not a rule");

    assert_eq!(app.send().await.sent, 1);
    let sent = app.graph.sent().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["to"], FROM);
    assert_eq!(sent[0]["text"], json!({"body": expected, "preview_url": false}));

    // Once an agent records the contact's language, variables speak it.
    let contact = app.conversations().await[0]["contact"]["id"].as_str().unwrap().to_owned();
    let patch = json!({"attributes": {"language": "pt-BR"}});
    let res = app.client.patch(app.url(&format!("/api/v1/contacts/{contact}"))).bearer_auth(&app.token);
    assert_eq!(res.json(&patch).send().await.unwrap().status(), 200);
    let res = reply(&app, &conv, json!({"quick_reply": "hours"})).await;
    assert_eq!(res.status(), 202);
    let queued: Value = res.json().await.unwrap();
    assert_eq!(queued["text"], "Hi Ana, Test Admin from Acme Bikes here: we are open agora. (Ana María López)");
}

async fn a_text_that_is_exactly_a_shortcut_is_expanded_and_unknown_ones_are_refused(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conv = conversation(&mut app).await;
    create(&app, json!({"shortcut": "thanks", "text": "Thank you, {{contact.first_name|friend}}!"})).await;

    let res = reply(&app, &conv, json!({"type": "text", "text": " /Thanks "})).await;
    assert_eq!(res.status(), 202);
    // Only a whole text that is a shortcut is expanded.
    let res = reply(&app, &conv, json!({"type": "text", "text": "see /thanks"})).await;
    assert_eq!(res.status(), 202);
    // Unknown shortcuts are refused, never sent as typed.
    assert_field_error(reply(&app, &conv, json!({"type": "text", "text": "/nope"})).await, "text").await;
    assert_field_error(reply(&app, &conv, json!({"quick_reply": "nope"})).await, "quick_reply").await;
    assert_field_error(reply(&app, &conv, json!({"quick_reply": "Not A Shortcut"})).await, "quick_reply").await;
    assert_eq!(reply(&app, &conv, json!({"quick_reply": "thanks", "colour": "red"})).await.status(), 400);

    assert_eq!(app.send().await.sent, 2);
    let bodies: Vec<Value> = app.graph.sent().await.iter().map(|m| m["text"]["body"].clone()).collect();
    assert_eq!(bodies, [json!("Thank you, Ana!"), json!("see /thanks")]);
}

async fn a_quick_reply_with_media_and_buttons_is_sent_as_interactive_buttons(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conv = conversation(&mut app).await;
    configure(&app).await;
    create(
        &app,
        json!({
            "shortcut": "menu", "text": "Our menu, {{contact.first_name}}. Order at {{business.name}}?",
            "media": {"kind": "image", "link": "https://example.com/menu.png"},
            "buttons": [{"id": "order", "title": "Order now"}, {"id": "later", "title": "Later"}]
        }),
    )
    .await;
    create(
        &app,
        json!({"shortcut": "price-list", "text": "Prices for {{contact.first_name}}", "media": {"kind": "document", "id": "998877", "filename": "prices.pdf"}}),
    )
    .await;
    let id = app.get_json("/api/v1/quick-replies").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["shortcut"] == "price-list")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(reply(&app, &conv, json!({"quick_reply": "menu"})).await.status(), 202);
    // By id, too.
    assert_eq!(reply(&app, &conv, json!({"quick_reply": id})).await.status(), 202);
    assert_eq!(app.send().await.sent, 2);
    let sent = app.graph.sent().await;
    assert_eq!(sent[0]["type"], "interactive");
    assert_eq!(sent[0]["interactive"]["type"], "button");
    assert_eq!(
        sent[0]["interactive"]["header"],
        json!({"type": "image", "image": {"link": "https://example.com/menu.png"}})
    );
    assert_eq!(sent[0]["interactive"]["body"]["text"], "Our menu, Ana. Order at Acme Bikes?");
    assert_eq!(sent[0]["interactive"]["action"]["buttons"][0]["reply"], json!({"id": "order", "title": "Order now"}));
    assert_eq!(sent[1]["type"], "document");
    assert_eq!(sent[1]["document"], json!({"id": "998877", "caption": "Prices for Ana", "filename": "prices.pdf"}));

    // The conversation shows them as sent by the agent.
    let messages = app.messages(&conv).await;
    let outbound: Vec<&Value> = messages.iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(outbound.len(), 2);
    assert_eq!(outbound[0]["content"]["type"], "interactive_message");
    assert!(outbound.iter().all(|m| m["auto_rule"].is_null() && m["sent_by"].is_string()));
}

async fn agents_list_quick_replies_and_send_them(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conv = conversation(&mut app).await;
    create(&app, json!({"shortcut": "bye", "text": "Bye {{contact.first_name}}, {{agent.name}} here."})).await;
    let token = format!("sbt_agent_{}", uuid::Uuid::new_v4().simple());
    let agent = NewAgent {
        name: AgentName::parse("Sam Agent").unwrap(),
        email: Email::parse("sam@example.com").unwrap(),
        role: AgentRole::Agent,
    };
    app.store.create_agent(&agent, &hash_token(&token), Utc::now()).await.unwrap();

    let res = app.client.get(app.url("/api/v1/quick-replies")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["items"][0]["shortcut"], "bye");

    let res = app
        .client
        .post(app.url(&format!("/api/v1/conversations/{conv}/messages")))
        .bearer_auth(&token)
        .header("idempotency-key", "bye-1")
        .json(&json!({"type": "text", "text": "/bye"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(app.send().await.sent, 1);
    assert_eq!(app.graph.sent().await[0]["text"]["body"], "Bye Ana, Sam Agent here.");
}

async fn a_quick_reply_outside_the_window_is_refused(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut old = text("wamid.old", FROM, "are you there?");
    old["timestamp"] = json!((Utc::now() - chrono::Duration::hours(30)).timestamp().to_string());
    app.post_webhook(serde_json::to_vec(&delivery(vec![contact(FROM, "Ana")], vec![old], vec![])).unwrap()).await;
    app.ingest().await;
    let conv = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    create(&app, json!({"shortcut": "sorry", "text": "Sorry for the wait"})).await;
    let res = reply(&app, &conv, json!({"quick_reply": "sorry"})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "window_closed");
    assert_eq!(app.send().await.claimed, 0);
}

both_backends!(
    a_quick_reply_is_sent_with_its_variables_filled_in,
    a_text_that_is_exactly_a_shortcut_is_expanded_and_unknown_ones_are_refused,
    a_quick_reply_with_media_and_buttons_is_sent_as_interactive_buttons,
    agents_list_quick_replies_and_send_them,
    a_quick_reply_outside_the_window_is_refused,
);
