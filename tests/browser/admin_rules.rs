//! The admins' keyword rules and quick replies screens in a real browser: a rule made on
//! screen fires in the try-it box and then answers a real webhook at the mock Graph API;
//! moving a rule up saves the order; a quick reply made on screen shows in the list, and
//! the API's 422 is shown next to the field it names.

use anyhow::{Context as _, Result, ensure};
use serde_json::{Value, json};
use switchboard_tests::TestApp;
use switchboard_tests::payloads::text_delivery;

use crate::browser_tests;
use crate::harness::BrowserTest;

async fn api(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(&app.token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await?;
    ensure!(res.status().is_success(), "{path}: {}", res.status());
    Ok(if res.status() == 204 { Value::Null } else { res.json().await? })
}

async fn a_rule_made_on_screen_fires_in_the_try_it_box_and_answers_a_real_webhook(t: &mut BrowserTest) -> Result<()> {
    t.sign_in().await?;
    t.browser.goto("/admin/rules").await?;
    t.browser.click("a[href='/admin/rules/new']").await?;
    t.browser.wait_for_path("the new rule's form", |p| p == "/admin/rules/new").await?;
    t.browser.fill("#rule-name", "Prices").await?;
    t.browser.fill("#matcher-words", "precio\nprice").await?;
    t.browser
        .fill("#rule-actions textarea[name=text]", "Hola {{contact.first_name}}, our prices start at 10 €.")
        .await?;
    t.browser.click("#rule-form button[type=submit]").await?;
    t.browser.wait_for_path("the list of rules", |p| p == "/admin/rules").await?;
    t.browser.wait_for_text("#rules", "Prices").await?;
    let rules = api(&t.app, reqwest::Method::GET, "/api/v1/admin/rules", None).await?;
    let rule = &rules["items"][0];
    ensure!(rule["matcher"] == json!({"type": "contains_word", "words": ["precio", "price"]}), "saved: {rule}");
    ensure!(rule["channel_id"].is_null() && rule["enabled"] == json!(true), "saved: {rule}");

    // Try it: a message in Spanish, as the sample contact Ana García.
    t.browser.fill("#try-text", "¿Cuál es el PRECIO?").await?;
    t.browser.wait_for_text("#try-result", "Rule “Prices”: fires").await?;
    t.browser.wait_for_text("#try-result", "Hola Ana, our prices start at 10 €.").await?;
    // A message that matches nothing says why.
    t.browser.fill("#try-text", "hello").await?;
    t.browser.wait_for_text("#try-result", "the message does not match").await?;
    ensure!(t.app.graph.sent().await.is_empty(), "trying sends nothing");

    // A real customer writes: the rule answers through the outbox.
    let body = serde_json::to_vec(&text_delivery("wamid.b.rule1", "16505550801", "what is the price?"))?;
    ensure!(t.app.post_webhook(body).await.status() == 200);
    t.app.ingest().await;
    t.app.send().await;
    let sent = t.app.graph.sent().await;
    ensure!(sent.len() == 1, "one reply: {sent:?}");
    ensure!(sent[0]["to"] == "16505550801", "{sent:?}");
    ensure!(sent[0]["text"]["body"] == "Hola Ana, our prices start at 10 €.", "{sent:?}");
    Ok(())
}

async fn moving_a_rule_up_saves_the_order(t: &mut BrowserTest) -> Result<()> {
    let rule = |name: &str, word: &str| json!({"name": name, "matcher": {"type": "exact", "texts": [word]}, "actions": [{"type": "send_text", "text": word}]});
    let post = reqwest::Method::POST;
    let first = api(&t.app, post.clone(), "/api/v1/admin/rules", Some(rule("First", "one"))).await?;
    let second = api(&t.app, post, "/api/v1/admin/rules", Some(rule("Second", "two"))).await?;
    let (a, b) = (first["id"].as_str().unwrap_or_default(), second["id"].as_str().unwrap_or_default());
    t.sign_in().await?;
    t.browser.goto("/admin/rules").await?;
    t.browser.wait_for_text("#rules > li:first-child", "First").await?;
    t.browser.click(&format!("#rule-{b} button.move-up")).await?;
    t.browser.wait_for_text("#notice", "Order saved").await?;
    t.browser.wait_for_text("#rules > li:first-child", "Second").await?;
    let rules = api(&t.app, reqwest::Method::GET, "/api/v1/admin/rules", None).await?;
    let order: Vec<&str> =
        rules["items"].as_array().context("items")?.iter().filter_map(|r| r["id"].as_str()).collect();
    ensure!(order == [b, a], "saved order {order:?}");
    // And back down, from the keyboard.
    t.browser.eval(&format!("document.querySelector('#rule-{b} button.move-down').focus(); return true;")).await?;
    t.browser.keys("\u{e007}").await?;
    t.browser.wait_for_text("#rules > li:first-child", "First").await?;
    // Switching a rule off is saved too.
    t.browser.click(&format!("#rule-{a} button.toggle")).await?;
    t.browser.wait_for_text(&format!("#rule-{a} .badge"), "off").await?;
    t.browser.wait_for_text(&format!("#rule-{a} button.toggle"), "Switch on").await?;
    let got = api(&t.app, reqwest::Method::GET, &format!("/api/v1/admin/rules/{a}"), None).await?;
    ensure!(got["enabled"] == json!(false) && got["name"] == "First", "{got}");
    Ok(())
}

async fn a_quick_reply_made_on_screen_is_listed_and_a_422_shows_next_to_its_field(t: &mut BrowserTest) -> Result<()> {
    t.sign_in().await?;
    t.browser.goto("/admin/quick-replies").await?;
    t.browser.fill("#shortcut-new", "Opening Hours").await?;
    t.browser.fill("#text-new", "Hi {{contact.first_name|there}}, we open {{next_open}}.").await?;
    // The live preview fills the variables for a sample contact.
    t.browser.wait_for_text("#qr-preview-new", "Hi Ana, we open").await?;
    t.browser.wait_for_text("#qr-preview-new", "Hi there, we open").await?;
    t.browser.click("#new-qr-title + form button[type=submit]").await?;
    // The API's 422 names `shortcut`: its message is right after that field.
    let error = t.browser.wait_for("#shortcut-new + .field-error").await?;
    let message = error.text().await?;
    ensure!(message.contains("is not a shortcut"), "{message}");
    let invalid =
        t.browser.eval("return document.querySelector('#shortcut-new').getAttribute('aria-invalid');").await?;
    ensure!(invalid == json!("true"), "the field is marked invalid");
    ensure!(api(&t.app, reqwest::Method::GET, "/api/v1/admin/quick-replies", None).await?["items"] == json!([]));
    // Corrected, it is created and listed.
    t.browser.fill("#shortcut-new", "hours").await?;
    t.browser.click("#new-qr-title + form button[type=submit]").await?;
    t.browser.wait_for_text("#quick-replies", "/hours").await?;
    t.browser.wait_for_text("#notice", "Quick reply created.").await?;
    let list = api(&t.app, reqwest::Method::GET, "/api/v1/admin/quick-replies", None).await?;
    ensure!(list["items"][0]["shortcut"] == "hours", "{list}");
    ensure!(list["items"][0].get("media").is_none(), "no media was chosen: {list}");
    // Search finds it; another word does not.
    t.browser.fill("#qr-search", "open").await?;
    t.browser.keys("\u{e007}").await?;
    t.browser.wait_for_path("the search", |p| p == "/admin/quick-replies?q=open").await?;
    t.browser.wait_for_text("#quick-replies", "/hours").await?;
    Ok(())
}

async fn every_matcher_and_action_survives_an_edit_on_screen(t: &mut BrowserTest) -> Result<()> {
    let app = &t.app;
    let post = reqwest::Method::POST;
    let label = api(app, post.clone(), "/api/v1/labels", Some(json!({"name": "VIP", "colour": "#aa3300"}))).await?;
    let team = api(app, post.clone(), "/api/v1/teams", Some(json!({"name": "Sales"}))).await?;
    let me = api(app, reqwest::Method::GET, "/api/v1/agents/me", None).await?;
    let qr = json!({"shortcut": "hours", "text": "9 to 5"});
    let qr = api(app, post.clone(), "/api/v1/admin/quick-replies", Some(qr)).await?;
    let body = json!({
        "name": "Everything",
        "enabled": true,
        "matcher": {"type": "regex", "pattern": "^pre(c|z)io"},
        "actions": [
            {"type": "send_quick_reply", "quick_reply": qr["id"]},
            {"type": "send_buttons", "body": "Which?", "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]},
            {"type": "send_list", "body": "Pick", "button": "Options", "sections": [
                {"title": "One", "rows": [{"id": "r1", "title": "Row 1", "description": "first"}]},
                {"title": "Two", "rows": [{"id": "r2", "title": "Row 2"}]}]},
            {"type": "add_labels", "labels": [label["id"]]},
            {"type": "assign", "agent": me["id"]},
            {"type": "assign_team", "team": team["id"]},
            {"type": "send_text", "text": "Bye {{contact.name}}"}
        ],
        "stop": false,
        "cooldown_minutes": 15
    });
    let created = api(app, post, "/api/v1/admin/rules", Some(body)).await?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    t.sign_in().await?;
    t.browser.goto(&format!("/admin/rules/{id}")).await?;
    t.browser.click("#rule-form button[type=submit]").await?;
    t.browser.wait_for_path("the list of rules", |p| p == "/admin/rules").await?;
    let saved = api(&t.app, reqwest::Method::GET, &format!("/api/v1/admin/rules/{id}"), None).await?;
    ensure!(saved == created, "saved unchanged:\n{saved}\nwas\n{created}");
    // Both screens fit a phone's width.
    t.browser.phone_width().await?;
    for path in [format!("/admin/rules/{id}"), "/admin/rules".to_owned()] {
        t.browser.goto(&path).await?;
        t.browser.wait_for("#main form").await?;
        let fits = t.browser.eval("return document.documentElement.scrollWidth <= window.innerWidth;").await?;
        ensure!(fits == json!(true), "{path}: no sideways scrolling at phone width");
    }
    t.browser.desktop_width().await?;
    // Changing the matcher's type shows its own field and sends only it.
    t.browser.goto(&format!("/admin/rules/{id}")).await?;
    t.browser
        .eval(
            "const s = document.getElementById('matcher-type'); s.value = 'exact'; \
             s.dispatchEvent(new Event('change', {bubbles: true})); return true;",
        )
        .await?;
    t.browser.fill("#matcher-texts", "precio").await?;
    t.browser.click("#rule-form button[type=submit]").await?;
    t.browser.wait_for_path("the list of rules", |p| p == "/admin/rules").await?;
    let saved = api(&t.app, reqwest::Method::GET, &format!("/api/v1/admin/rules/{id}"), None).await?;
    ensure!(saved["matcher"] == json!({"type": "exact", "texts": ["precio"]}), "{saved}");
    Ok(())
}

browser_tests! {
    a_rule_made_on_screen_fires_in_the_try_it_box_and_answers_a_real_webhook,
    moving_a_rule_up_saves_the_order,
    a_quick_reply_made_on_screen_is_listed_and_a_422_shows_next_to_its_field,
    every_matcher_and_action_survives_an_edit_on_screen,
}
