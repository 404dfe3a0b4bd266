//! The admins' quick replies and keyword rules screens (`/admin/quick-replies`,
//! `/admin/rules`): pages show what the API holds and their forms call it; the previews
//! answer with what the engine would send, and why.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::PhoneNumberId;
use switchboard_tests::{Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

use crate::agents::call;

both_backends!(
    the_quick_replies_page_lists_searches_and_its_forms_call_the_api,
    the_quick_reply_preview_fills_the_variables_and_names_bad_fields,
    the_rules_pages_show_the_rules_in_order_with_their_forms,
    the_try_it_box_shows_the_firing_rule_and_its_exact_replies,
);

/// The configured channel's id.
async fn channel(app: &TestApp) -> String {
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id.to_string()
}

async fn api(app: &TestApp, method: Method, path: &str, body: Value) -> Value {
    let res = call(app, method, path, Some(&app.token), Some(body)).await;
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

async fn page(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    let html = res.text().await.unwrap();
    assert!(!html.contains(" style="), "{path}: no inline style");
    html
}

/// POSTs a preview body; answers (status, HTML).
async fn preview(app: &TestApp, path: &str, body: Value) -> (u16, String) {
    let res = app.post_json(path, &body).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn the_quick_replies_page_lists_searches_and_its_forms_call_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let html = page(&app, "/admin/quick-replies").await;
    assert!(html.contains("No quick replies yet."));
    assert!(html.contains(r#"data-api="POST /api/v1/admin/quick-replies""#));
    assert!(html.contains("{{contact.first_name}}"), "the variables are explained");
    let hours = api(
        &app,
        Method::POST,
        "/api/v1/admin/quick-replies",
        json!({"shortcut": "hours", "text": "We open {{next_open}} <b>",
               "media": {"kind": "image", "link": "https://example.com/h.png"},
               "buttons": [{"id": "book", "title": "Book"}]}),
    )
    .await;
    api(&app, Method::POST, "/api/v1/admin/quick-replies", json!({"shortcut": "bye", "text": "Goodbye!"})).await;
    let id = hours["id"].as_str().unwrap();
    let html = page(&app, "/admin/quick-replies").await;
    assert!(html.contains("/hours") && html.contains("/bye"));
    assert!(html.contains("We open {{next_open}} &#60;b&#62;") && !html.contains("<b>"), "escaped");
    assert!(html.contains(&format!(r#"data-api="PUT /api/v1/admin/quick-replies/{id}""#)));
    assert!(html.contains(&format!(r#"data-api="DELETE /api/v1/admin/quick-replies/{id}""#)));
    assert!(html.contains(r#"<option value="image" selected>"#), "the media is shown");
    assert!(html.contains(r#"value="https://example.com/h.png""#));
    assert!(html.contains(r#"value="book""#), "the buttons are shown");
    assert!(html.contains(r#"data-preview="/admin/quick-replies/preview""#));
    // Search: by shortcut (with or without the slash) or text, case ignored.
    for q in ["HOURS", "%2Fhours", "open"] {
        let html = page(&app, &format!("/admin/quick-replies?q={q}")).await;
        assert!(html.contains("id=\"qr-") && html.contains("/hours") && !html.contains(">/bye<"), "q={q}");
    }
    let html = page(&app, "/admin/quick-replies?q=nothing-like-it").await;
    assert!(html.contains("No quick reply matches “nothing-like-it”."));
}

async fn the_quick_reply_preview_fills_the_variables_and_names_bad_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, html) = preview(
        &app,
        "/admin/quick-replies/preview",
        json!({"shortcut": "hi", "text": "Hi {{contact.first_name|there}}, this is {{agent.name}}.",
               "buttons": [{"id": "yes", "title": "Yes please"}]}),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Hi Ana, this is Test Admin."), "{html}");
    assert!(html.contains("Hi there, this is Test Admin."), "{html}");
    assert!(html.contains("Yes please"), "the buttons: {html}");
    // An unknown variable and a bad shortcut: 422, naming the field.
    let (status, html) =
        preview(&app, "/admin/quick-replies/preview", json!({"shortcut": "hi", "text": "Hi {{contact.email}}"})).await;
    assert_eq!(status, 422);
    assert!(html.contains("<strong>text</strong>"), "{html}");
    let (status, html) = preview(
        &app,
        "/admin/quick-replies/preview",
        json!({"shortcut": "hi", "text": "x", "buttons": [{"id": "a", "title": "This title is far too long"}]}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"error-message\"") && html.contains("<strong>buttons[0].title</strong>"), "{html}");
    // A shortcut still being typed does not stop the preview (saving names it).
    let (status, html) =
        preview(&app, "/admin/quick-replies/preview", json!({"shortcut": "Not Val", "text": "So far"})).await;
    assert_eq!(status, 200);
    assert!(html.contains("So far"), "{html}");
    // Nothing was stored.
    assert!(app.store.quick_replies().await.unwrap().is_empty());
}

async fn the_rules_pages_show_the_rules_in_order_with_their_forms(backend: Backend) {
    let app = spawn_app(backend).await;
    let label = api(&app, Method::POST, "/api/v1/labels", json!({"name": "Pricing", "colour": "#336699"})).await;
    let first = api(
        &app,
        Method::POST,
        "/api/v1/admin/rules",
        json!({"name": "Prices", "matcher": {"type": "contains_word", "words": ["price", "precio"]},
               "actions": [{"type": "send_text", "text": "Our prices"}, {"type": "add_labels", "labels": [label["id"]]}]}),
    )
    .await;
    let second = api(
        &app,
        Method::POST,
        "/api/v1/admin/rules",
        json!({"name": "Menu", "enabled": false, "matcher": {"type": "list_id", "ids": ["menu"]},
               "actions": [{"type": "send_list", "body": "Pick", "button": "Options",
                            "sections": [{"rows": [{"id": "a", "title": "A", "description": "first"}]}]}],
               "stop": false, "cooldown_minutes": 30}),
    )
    .await;
    let (a, b) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    let html = page(&app, "/admin/rules").await;
    let (pa, pb) = (html.find(&format!("id=\"rule-{a}\"")).unwrap(), html.find(&format!("id=\"rule-{b}\"")).unwrap());
    assert!(pa < pb, "in evaluation order");
    assert!(html.contains("has the word “price”, “precio”") && html.contains("labels Pricing"), "summaries");
    assert!(html.contains("at most once per 30 minutes"));
    // Moving the second up sends the whole new order; switching the first off sends it back off.
    let up = format!(r#"{{&#34;order&#34;:[&#34;{b}&#34;,&#34;{a}&#34;]}}"#);
    assert!(html.contains(&format!(r#"data-api="PUT /api/v1/admin/rules/order" data-body="{up}""#)), "{html}");
    assert!(html.contains(&format!(r#"data-api="PUT /api/v1/admin/rules/{a}""#)));
    assert!(html.contains(&format!(r#"data-api="DELETE /api/v1/admin/rules/{b}""#)));
    assert!(html.contains(r#"data-preview="/admin/rules/preview""#), "the try-it box");
    // The bodies those buttons carry are accepted by the API as they are.
    let res =
        call(&app, Method::PUT, "/api/v1/admin/rules/order", Some(&app.token), Some(json!({"order": [b, a]}))).await;
    assert_eq!(res.status(), 200);
    let html = page(&app, "/admin/rules").await;
    assert!(html.find(&format!("id=\"rule-{b}\"")).unwrap() < html.find(&format!("id=\"rule-{a}\"")).unwrap());
    // The edit page has every part of the rule; the new-rule page a blank form.
    let html = page(&app, &format!("/admin/rules/{b}")).await;
    assert!(html.contains(&format!(r#"data-api="PUT /api/v1/admin/rules/{b}""#)));
    assert!(html.contains(r#"<option value="list_id" selected>"#));
    assert!(html.contains(r#"<option value="send_list" selected>"#));
    assert!(html.contains(r#"value="Options""#) && html.contains(r#"value="first""#));
    assert!(html.contains(r#"value="30""#));
    // A quick reply named by its shortcut is chosen by id (and saved so).
    let qr =
        api(&app, Method::POST, "/api/v1/admin/quick-replies", json!({"shortcut": "hours", "text": "9 to 5"})).await;
    let qr_id = qr["id"].as_str().unwrap();
    let by_shortcut = api(
        &app,
        Method::POST,
        "/api/v1/admin/rules",
        json!({"matcher": {"type": "exact", "texts": ["hours"]}, "actions": [{"type": "send_quick_reply", "quick_reply": "hours"}]}),
    )
    .await;
    assert!(page(&app, "/admin/rules").await.contains("sends /hours"));
    let html = page(&app, &format!("/admin/rules/{}", by_shortcut["id"].as_str().unwrap())).await;
    assert!(html.contains(&format!(r#"<option value="{qr_id}" selected>/hours</option>"#)), "{html}");
    let html = page(&app, "/admin/rules/new").await;
    assert!(html.contains(r#"data-api="POST /api/v1/admin/rules""#));
    assert!(html.contains(r#"<template id="action-template">"#));
    assert!(html.contains(&format!(r#"<option value="{}">Pricing</option>"#, label["id"].as_str().unwrap())));
    // A rule that does not exist, or is not an id.
    assert_eq!(app.get("/admin/rules/0190b7a6-1f5e-7cc0-8000-000000000000").await.status(), 404);
    assert_eq!(app.get("/admin/rules/nope").await.status(), 404);
}

async fn the_try_it_box_shows_the_firing_rule_and_its_exact_replies(backend: Backend) {
    let app = spawn_app(backend).await;
    let ch = channel(&app).await;
    let base = format!("/api/v1/admin/channels/{ch}/auto-replies");
    // Open Mondays 09:00–14:00 in Madrid; away outside.
    let hours = json!({"time_zone": "Europe/Madrid", "weekly": {"mon": [{"start": "09:00", "end": "14:00"}]}});
    api(&app, Method::PUT, &format!("{base}/hours"), hours).await;
    api(&app, Method::PUT, &format!("{base}/away"), json!({"text": "Closed, back {{next_open}}."})).await;
    api(
        &app,
        Method::POST,
        "/api/v1/admin/rules",
        json!({"name": "Prices", "matcher": {"type": "contains_word", "words": ["precio"]},
               "actions": [{"type": "send_text", "text": "Hola {{contact.first_name}}, our prices: 10 €."}]}),
    )
    .await;
    api(
        &app,
        Method::POST,
        "/api/v1/admin/rules",
        json!({"name": "Later", "matcher": {"type": "contains", "texts": ["prec"]},
               "actions": [{"type": "send_text", "text": "never"}]}),
    )
    .await;
    let sample = |at: &str| {
        json!({"channel_id": ch, "at": at, "message": {"type": "text", "text": "¿Cuál es el PRECIO?"},
               "contact": {"wa_id": "34600000001", "name": "Lucía Pérez", "new": true}})
    };
    // Monday 2026-03-02 at 10:00 in Madrid (the form's local time): open, the rule fires.
    let (status, html) = preview(&app, "/admin/rules/preview", sample("2026-03-02T10:00")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Monday 2 March 2026, 10:00 (Europe/Madrid)") && html.contains("09:00 UTC"), "{html}");
    assert!(html.contains("<strong>Rule “Prices”</strong>: fires"), "{html}");
    assert!(html.contains("Hola Lucía, our prices: 10 €."), "the exact reply: {html}");
    assert!(html.contains("<strong>Rule “Later”</strong>: stopped by Rule “Prices”"), "why not: {html}");
    assert!(html.contains("<strong>Away message</strong>: not away now"), "{html}");
    assert!(!html.contains("never"));
    // At 15:00 local it is closed: the away message first, then the rule.
    let (status, html) = preview(&app, "/admin/rules/preview", sample("2026-03-02T15:00")).await;
    assert_eq!(status, 200, "{html}");
    let (away, rule) = (html.find("Closed, back").unwrap(), html.find("Hola Lucía").unwrap());
    assert!(away < rule, "in sending order: {html}");
    assert!(html.contains("Closed, back Monday 9 March at 09:00."), "{html}");
    // An instant with its offset is read as it is, as the API does.
    let (_, html) = preview(&app, "/admin/rules/preview", sample("2026-03-02T09:30:00Z")).await;
    assert!(html.contains("Monday 2 March 2026, 10:30 (Europe/Madrid)"), "{html}");
    // Bad input: 422 naming the field, as the API.
    let mut bad = sample("2026-03-02T10:00");
    bad["message"] = json!({"type": "text"});
    let (status, html) = preview(&app, "/admin/rules/preview", bad).await;
    assert_eq!(status, 422);
    assert!(html.contains("<strong>message.text</strong>"), "{html}");
    // Nothing was sent or stored.
    assert!(app.conversations().await.is_empty());
    assert_eq!(app.graph.sent().await.len(), 0);
}
