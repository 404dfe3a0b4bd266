//! The conversation page in a real browser: a reply whose mark moves to sent and delivered
//! without a reload, a quick reply filled in for the contact, the composer locked with the
//! template form once the window closed, a note with a mention, resolve-and-next, a
//! transfer to a team, an opted-out contact shown in the panel with the composer warning.
//!
//! The marks move through the console's live stream (`/live`), with no reload.

use anyhow::{Context, Result, ensure};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use switchboard_tests::TestApp;
use switchboard_tests::payloads::{contact, delivery, message, meta_bytes, status, text};

use crate::browser_tests;
use crate::harness::BrowserTest;

const FROM: &str = "16505550401";

/// Signs the browser in as an agent with a password set through an invitation link.
async fn sign_in_as_new_agent(t: &mut BrowserTest, name: &str, admin: bool) -> Result<Value> {
    let email = format!("{}@example.com", name.to_lowercase());
    let role = if admin { "admin" } else { "agent" };
    let res = t.app.post_json("/api/v1/agents", &json!({"name": name, "email": email, "role": role})).await;
    ensure!(res.status() == 201, "create agent: {}", res.status());
    let agent: Value = res.json().await?;
    let id = agent["agent"]["id"].as_str().context("id")?.to_owned();
    let res = t.app.post_json(&format!("/api/v1/agents/{id}/invitation"), &json!({})).await;
    let url = res.json::<Value>().await?["url"].as_str().context("invitation url")?.to_owned();
    let path = url.strip_prefix(&t.app.base).context("same host")?.to_owned();
    let password = format!("{name} has a long password");
    t.browser.goto(&path).await?;
    t.browser.fill("#password", &password).await?;
    t.browser.fill("#confirm", &password).await?;
    t.browser.click("form button[type=submit]").await?;
    t.browser.wait_for_path("the invitation to be used", |p| !p.starts_with("/invitation")).await?;
    t.browser.sign_in(&email, &password).await?;
    Ok(agent["agent"].clone())
}

async fn customer_writes(app: &mut TestApp, wa_id: &str, body: &str, minutes_ago: i64) -> Result<String> {
    let mut m = text(&format!("wamid.b.{wa_id}.{minutes_ago}"), wa_id, body);
    m["timestamp"] = json!((Utc::now() - Duration::minutes(minutes_ago)).timestamp().to_string());
    let res = app.post_webhook(meta_bytes(&delivery(vec![contact(wa_id, "Ana López")], vec![m], vec![]))).await;
    ensure!(res.status() == 200);
    app.ingest().await;
    let all = app.conversations().await;
    let c = all.iter().find(|c| c["contact"]["wa_id"] == wa_id && c["status"] != "resolved").context("conversation")?;
    Ok(c["id"].as_str().context("id")?.to_owned())
}

async fn a_reply_shows_its_mark_moving_to_sent_and_delivered(t: &mut BrowserTest) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", true).await?;
    let id = customer_writes(&mut t.app, FROM, "my bike is broken", 5).await?;
    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.wait_for_text("#thread", "my bike is broken").await?;
    t.browser.click("#composer-text").await?;
    t.browser.keys("We will fix it today\u{e007}").await?; // Enter sends.
    t.browser.wait_for_text("#thread li.out .mark-queued", "Queued").await?;
    ensure!(t.browser.eval("return document.getElementById('composer-text').value").await? == "", "field cleared");
    t.app.graph.answer_with_wamid(1, "wamid.out.b1").await;
    t.app.send().await;
    t.browser.wait_for("#thread li.out .mark-sent").await?;
    let ts = Utc::now().timestamp();
    let res =
        t.app.post_webhook(meta_bytes(&delivery(vec![], vec![], vec![status("wamid.out.b1", "delivered", ts)]))).await;
    ensure!(res.status() == 200);
    t.app.ingest().await;
    t.browser.wait_for("#thread li.out .mark-delivered").await?;
    Ok(())
}

async fn a_customers_image_shows_in_the_thread_through_the_session(t: &mut BrowserTest) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", true).await?;
    let image =
        message("wamid.b.img", FROM, "image", json!({"id": "4455", "mime_type": "image/jpeg", "caption": "the wheel"}));
    let res = t.app.post_webhook(meta_bytes(&delivery(vec![contact(FROM, "Ana")], vec![image], vec![]))).await;
    ensure!(res.status() == 200);
    t.app.ingest().await;
    t.app.graph.media("4455", b"\xff\xd8 a photo", "image/jpeg", 1).await;
    let id = t.app.conversations().await[0]["id"].as_str().context("id")?.to_owned();
    t.browser.goto(&format!("/c/{id}")).await?;
    let img = t.browser.wait_for("#thread li.in .media-image img").await?;
    let src = img.attr("src").await?.context("src")?;
    // The file is served to the signed-in browser (its session cookie, no token).
    let status = t.browser.eval(&format!("return fetch({src:?}).then(r => r.status);")).await?;
    ensure!(status == 200, "GET {src}: {status}");
    Ok(())
}

async fn a_file_is_uploaded_to_meta_and_shows_in_the_thread(t: &mut BrowserTest) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", true).await?;
    t.app.graph.accept_uploads("7788").await;
    let id = customer_writes(&mut t.app, FROM, "send me the invoice", 5).await?;
    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.wait_for_text("#thread", "send me the invoice").await?;
    // Too big for an image: refused with Meta's limit, nothing uploaded.
    let dir = std::env::temp_dir().join(format!("sb-attach-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let big = dir.join("photo.png");
    std::fs::write(&big, vec![0u8; 5 * 1024 * 1024 + 1])?;
    t.browser.client().find(fantoccini::Locator::Css("#attach-file")).await?.send_keys(&big.to_string_lossy()).await?;
    t.browser.click("[data-attach-send]").await?;
    t.browser.wait_for_text("#flash", "larger than").await?;
    ensure!(t.app.graph.uploads().await.is_empty(), "nothing uploaded");
    // A PDF goes: uploaded to Meta, then shown in the thread as a document.
    let pdf = dir.join("invoice.pdf");
    std::fs::write(&pdf, b"%PDF-1.4 invoice")?;
    t.browser.client().find(fantoccini::Locator::Css("#attach-file")).await?.send_keys(&pdf.to_string_lossy()).await?;
    t.browser.fill("#attach-caption", "Your invoice").await?;
    t.browser.click("[data-attach-send]").await?;
    t.browser.wait_for_text("#thread li.out", "invoice.pdf").await?;
    std::fs::remove_dir_all(&dir)?;
    ensure!(t.app.graph.uploads().await.len() == 1, "uploaded once");
    t.app.send().await;
    let sent = t.app.graph.sent().await;
    ensure!(sent.last().is_some_and(|m| m["document"]["id"] == "7788"), "sent by the id Meta gave: {sent:?}");
    Ok(())
}

async fn a_quick_reply_is_filled_in_for_the_contact(t: &mut BrowserTest) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", true).await?;
    let qr = json!({"shortcut": "bye", "text": "Bye {{contact.first_name}}, {{agent.name}} here."});
    ensure!(t.app.post_json("/api/v1/admin/quick-replies", &qr).await.status() == 201);
    let id = customer_writes(&mut t.app, FROM, "thanks!", 5).await?;
    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.click("#composer-text").await?;
    t.browser.keys("/by").await?;
    t.browser.wait_for("#quick-replies:not([hidden])").await?;
    t.browser.keys("\u{e004}").await?; // Tab chooses.
    t.browser.wait_for_text("#qr-preview", "Bye Ana, Sam here.").await?;
    t.browser.keys("\u{e007}").await?;
    t.browser.wait_for_text("#thread li.out", "Bye Ana, Sam here.").await?;
    Ok(())
}

async fn the_composer_is_locked_with_the_template_form_once_the_window_closed(t: &mut BrowserTest) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", true).await?;
    let id = customer_writes(&mut t.app, FROM, "hello?", 30 * 60).await?;
    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.wait_for("#composer-text[disabled]").await?;
    t.browser.wait_for_text("#window-state", "window closed").await?;
    t.browser.wait_for("#template-form:not([hidden])").await?;
    t.browser.fill("#template-name", "order_update").await?;
    t.browser.fill("#template-parameters", "Ana").await?;
    t.browser.click("#template-form button[type=submit]").await?;
    t.browser.wait_for_text("#thread li.out", "order_update").await?;
    Ok(())
}

/// Once the window closed, the picker is open: choosing a template shows exactly its
/// inputs, pre-filled from the contact; an empty one is refused next to it; filled in, the
/// template goes to Meta with the values.
async fn a_template_is_picked_filled_in_and_sent_once_the_window_closed(t: &mut BrowserTest) -> Result<()> {
    open_template_picker(t, "order_named:en_US").await?;
    let first = t.browser.wait_for("#template-fields input[name='parameters[0]']").await?;
    ensure!(first.prop("value").await?.as_deref() == Some("Ana"), "the first name is filled in");
    t.browser.wait_for_text("#template-fields", "Filled in from the contact's first name.").await?;
    // Sent with a value missing (the browser's own check switched off): said at the input.
    t.browser
        .eval("document.querySelectorAll('#template-fields [required]').forEach((i) => i.removeAttribute('required'));")
        .await?;
    t.browser.fill("#template-fields input[name='header']", "A-1").await?;
    t.browser.fill("#template-fields input[name='parameters[1]']", "A-1").await?;
    t.browser.fill("#template-fields input[name='url_buttons[0]']", "A-1").await?;
    t.browser.click("#template-form button[type=submit]").await?;
    t.browser.wait_for_text("[data-error-for='parameters[2]']", "must not be empty").await?;
    t.browser.wait_for("#template-fields input[name='parameters[2]'][aria-invalid='true']").await?;
    ensure!(t.app.graph.sent().await.is_empty(), "nothing sent");
    // Filled in: sent, and the picker starts again.
    t.browser.fill("#template-fields input[name='parameters[2]']", "Monday").await?;
    t.browser.click("#template-form button[type=submit]").await?;
    t.browser.wait_for_text("#thread li.out", "order_named").await?;
    t.browser.wait_for_gone("#template-fields input").await?;
    t.app.send().await;
    let sent = t.app.graph.sent().await;
    let template = &sent.last().context("a template was sent")?["template"];
    ensure!(template["name"] == "order_named", "{template}");
    let body =
        template["components"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "body")).context("a body")?;
    ensure!(body["parameters"][2]["text"] == "Monday" && body["parameters"][0]["text"] == "Ana", "{body}");
    Ok(())
}

/// A template with an image header asks for the image's link and sends it as the
/// header's image parameter (the kind comes from the synced definition).
async fn a_template_with_an_image_header_sends_the_linked_image(t: &mut BrowserTest) -> Result<()> {
    open_template_picker(t, "promo:en_US").await?;
    t.browser.wait_for_text("#template-preview", "[image]").await?;
    t.browser.fill("#template-fields input[name='header_media']", "https://example.com/sale.jpg").await?;
    t.browser.click("#template-form button[type=submit]").await?;
    t.browser.wait_for_text("#thread li.out", "promo").await?;
    t.app.send().await;
    let sent = t.app.graph.sent().await;
    let template = &sent.last().context("a template was sent")?["template"];
    let header =
        template["components"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "header")).context("a header")?;
    ensure!(header["parameters"][0]["image"]["link"] == "https://example.com/sale.jpg", "{header}");
    Ok(())
}

/// Signs in an agent, syncs the sample templates, has a customer write 30 minutes ago (the
/// window closed), opens the conversation and chooses `choice` ("name:language") in the
/// template picker.
async fn open_template_picker(t: &mut BrowserTest, choice: &str) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", true).await?;
    t.app.sync_templates("102290129340398", switchboard_tests::payloads::sample_templates()).await;
    let id = customer_writes(&mut t.app, FROM, "hello?", 30 * 60).await?;
    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.wait_for("#template-box[open].prominent").await?;
    t.browser
        .eval(&format!(
            "const s = document.getElementById('template-choice'); s.value = '{choice}'; \
             s.dispatchEvent(new Event('change', {{bubbles: true}}));"
        ))
        .await?;
    Ok(())
}

/// The customer sent STOP: the contact panel says so, the composer warns, and a reply in
/// the open window still goes.
async fn an_opted_out_contact_shows_in_the_panel_and_the_composer_warns(t: &mut BrowserTest) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", false).await?;
    let id = customer_writes(&mut t.app, FROM, "hello", 5).await?;
    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.wait_for_text("#consent", "Opted in").await?;
    ensure!(t.browser.eval("return document.getElementById('opted-out') === null").await? == true, "no warning yet");
    customer_writes(&mut t.app, FROM, "STOP", 1).await?;
    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.wait_for_text("#consent", "Opted out").await?;
    t.browser.wait_for_text("#consent", "by keyword").await?;
    t.browser.wait_for_text("#opted-out", "opted out").await?;
    t.browser.click("#composer-text").await?;
    t.browser.keys("Understood, no more offers\u{e007}").await?;
    t.browser.wait_for_text("#thread li.out .mark-queued", "Queued").await?;
    Ok(())
}

async fn a_note_mentions_an_agent(t: &mut BrowserTest) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", true).await?;
    let res = t.app.post_json("/api/v1/agents", &json!({"name": "Kim", "email": "kim@example.com"})).await;
    ensure!(res.status() == 201);
    let id = customer_writes(&mut t.app, FROM, "call me", 5).await?;
    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.wait_for("#thread").await?;
    t.browser.keys("p").await?;
    t.browser.wait_for("#composer.note-mode").await?;
    t.browser.keys("please call her @Ki").await?;
    t.browser.wait_for("#mentions:not([hidden])").await?;
    t.browser.keys("\u{e004}\u{e007}").await?;
    t.browser.wait_for_text("#thread li.note", "@kim@example.com").await?;
    let notes = t.app.get_json(&format!("/api/v1/conversations/{id}/notes")).await;
    ensure!(notes["items"][0]["mentions"].as_array().is_some_and(|m| m.len() == 1), "{notes}");

    // Sam, in the inbox, is mentioned by a colleague: the Mentions count and list follow
    // live; opening the conversation sees the mention, and back in the inbox it is gone.
    t.browser.goto("/").await?;
    wait_for_mentions_count(t, "0").await?;
    t.browser.wait_for_live().await?;
    let res = t
        .app
        .post_json(&format!("/api/v1/conversations/{id}/notes"), &json!({"text": "@sam@example.com she called back"}))
        .await;
    ensure!(res.status() == 201, "note: {}", res.status());
    wait_for_mentions_count(t, "1").await?;
    t.browser.click("#nav-views-4").await?;
    t.browser.wait_for_text(&format!("#rows li.row[data-id='{id}']"), "mentioned you").await?;
    t.browser.wait_for_text("#rows .mentioned", "she called back").await?;
    t.browser.click(&format!("#row-{id}")).await?;
    t.browser.wait_for_path("the conversation", |p| p.starts_with(&format!("/c/{id}"))).await?;
    t.browser.wait_for_text("#thread li.note", "she called back").await?;
    // Back: the inbox is read again (htmx keeps no snapshots), so the list and count are current.
    t.browser.eval("history.back();").await?;
    t.browser.wait_for_text("#rows", "No mentions you have not seen.").await?;
    wait_for_mentions_count(t, "0").await?;
    let unseen = t.app.get_json("/api/v1/conversations/counts").await;
    ensure!(unseen["mentions"] == 0, "the admin was not mentioned: {unseen}");
    Ok(())
}

/// Waits until the nav's Mentions count reads `n`.
async fn wait_for_mentions_count(t: &BrowserTest, n: &str) -> Result<()> {
    t.browser
        .wait_until(&format!("a Mentions count of {n}"), async || {
            let v = t
                .browser
                .eval("const a = document.getElementById('nav-views-4'); const c = a && a.querySelector('.count'); return a && a.textContent.startsWith('Mentions') && c ? c.textContent : null;")
                .await?;
            Ok((v.as_str() == Some(n)).then_some(()))
        })
        .await
}

async fn resolve_and_next_opens_the_next_waiting_conversation(t: &mut BrowserTest) -> Result<()> {
    sign_in_as_new_agent(t, "Sam", false).await?;
    let first = customer_writes(&mut t.app, FROM, "first", 10).await?;
    let second = customer_writes(&mut t.app, "16505550402", "second", 5).await?;
    t.browser.goto(&format!("/c/{first}?view=mine")).await?;
    t.browser.wait_for("#panel").await?;
    t.browser.keys("c").await?;
    t.browser.wait_for_text("#conv-assignee", "Sam").await?;
    t.browser.keys("E").await?;
    t.browser.wait_for_path("the next conversation", |p| p.starts_with(&format!("/c/{second}"))).await?;
    ensure!(t.app.get_json(&format!("/api/v1/conversations/{first}")).await["status"] == "resolved");
    Ok(())
}

async fn a_transfer_to_a_team_shows_and_one_away_leaves_the_agents_view(t: &mut BrowserTest) -> Result<()> {
    let sam = sign_in_as_new_agent(t, "Sam", false).await?;
    let sam_id = sam["id"].as_str().context("id")?.to_owned();
    let id = customer_writes(&mut t.app, FROM, "about my invoice", 5).await?;
    let channel = t.app.get_json(&format!("/api/v1/conversations/{id}")).await["channel_id"].clone();
    let mut teams = Vec::new();
    for name in ["Billing", "Support", "Sales"] {
        let res = t.app.post_json("/api/v1/teams", &json!({ "name": name })).await;
        ensure!(res.status() == 201, "create team: {}", res.status());
        teams.push(res.json::<Value>().await?["id"].as_str().context("team id")?.to_owned());
    }
    let (billing, support, sales) = (&teams[0], &teams[1], &teams[2]);
    for team in [billing, support] {
        let url = t.app.url(&format!("/api/v1/teams/{team}/members/{sam_id}"));
        let res = t.app.client.put(url).bearer_auth(&t.app.token).send().await?;
        ensure!(res.status() == 204, "join: {}", res.status());
    }
    let url = t.app.url(&format!("/api/v1/channels/{}/team", channel.as_str().context("channel")?));
    let res = t.app.client.put(url).bearer_auth(&t.app.token).json(&json!({ "team_id": billing })).send().await?;
    ensure!(res.status() == 200, "route the channel: {}", res.status());

    t.browser.goto(&format!("/c/{id}")).await?;
    t.browser.wait_for_text("#conv-team", "Billing").await?;
    t.browser.keys("c").await?;
    t.browser.wait_for_text("#conv-assignee", "Sam").await?;
    // To Support, which Sam is in: he keeps it, and the page says where it is now.
    t.browser.eval(&format!("document.getElementById('transfer-team').value = {support:?};")).await?;
    t.browser.click("#transfer-team + button").await?;
    t.browser.wait_for_text("#conv-team", "Support").await?;
    t.browser.wait_for_text("#panel .state", "(transferred)").await?;
    t.browser.wait_for_text("#conv-assignee", "Sam").await?;
    t.browser.click(".history-box summary").await?;
    t.browser.wait_for_text(".history-body", "Sam transferred it from Billing to Support").await?;
    // To Sales, which he is not in: back to the inbox, where it no longer shows.
    t.browser.eval(&format!("document.getElementById('transfer-team').value = {sales:?};")).await?;
    t.browser.click("#transfer-team + button").await?;
    t.browser.wait_for_path("the inbox", |p| p == "/" || p.starts_with("/?")).await?;
    t.browser.goto("/?view=all&status=all").await?;
    t.browser.wait_for_text("#rows", "No conversations here.").await?;
    let c = t.app.get_json(&format!("/api/v1/conversations/{id}")).await;
    ensure!(c["team_id"] == sales.as_str() && c["assignee_id"].is_null(), "{c}");
    let history = t.app.get_json(&format!("/api/v1/conversations/{id}/history")).await;
    ensure!(history.to_string().contains("\"reason\":\"team_changed\""), "{history}");
    Ok(())
}

browser_tests! {
    a_file_is_uploaded_to_meta_and_shows_in_the_thread,
    a_reply_shows_its_mark_moving_to_sent_and_delivered,
    a_customers_image_shows_in_the_thread_through_the_session,
    a_quick_reply_is_filled_in_for_the_contact,
    the_composer_is_locked_with_the_template_form_once_the_window_closed,
    a_template_is_picked_filled_in_and_sent_once_the_window_closed,
    a_template_with_an_image_header_sends_the_linked_image,
    a_note_mentions_an_agent,
    resolve_and_next_opens_the_next_waiting_conversation,
    a_transfer_to_a_team_shows_and_one_away_leaves_the_agents_view,
    an_opted_out_contact_shows_in_the_panel_and_the_composer_warns,
}
