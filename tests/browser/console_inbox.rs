//! The inbox in a real browser: a new customer message appears in the open inbox
//! without a reload, claim next (the `n` key and the button), availability from the
//! header, and an agent outside a team sees none of its conversations.
//! Agents sign in through the form, with a password set from an invitation link.

use anyhow::{Context as _, Result, ensure};
use serde_json::{Value, json};
use switchboard_tests::TestApp;
use switchboard_tests::payloads::text_delivery;

use crate::browser_tests;
use crate::harness::BrowserTest;

/// A customer writes; the ingest worker runs.
async fn customer_writes(app: &mut TestApp, wamid: &str, from: &str, text: &str) -> Result<()> {
    let body = serde_json::to_vec(&text_delivery(wamid, from, text))?;
    ensure!(app.post_webhook(body).await.status() == 200);
    app.ingest().await;
    Ok(())
}

async fn api(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(&app.token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await?;
    ensure!(res.status().is_success(), "{path}: {}", res.status());
    Ok(if res.status() == 204 { Value::Null } else { res.json().await? })
}

async fn a_new_inbound_message_appears_in_the_open_inbox_without_reload(t: &mut BrowserTest) -> Result<()> {
    customer_writes(&mut t.app, "wamid.b.in1", "16505550701", "first customer").await?;
    t.sign_in().await?;
    t.browser.goto("/?view=all").await?;
    t.browser.wait_for_text("#rows", "first customer").await?;
    t.browser.wait_for("#views [data-view-count]").await?;
    t.browser.eval("window.__stillHere = true; return true;").await?;
    // Let the page's stream connect before the message arrives.
    t.browser.wait_for_live().await?;
    customer_writes(&mut t.app, "wamid.b.in2", "16505550702", "a brand new question").await?;
    t.browser.wait_for_text("#rows > li.row", "a brand new question").await?;
    t.browser.wait_for_text("#views a[aria-current] .count", "2").await.context("the count follows")?;
    ensure!(t.browser.eval("return window.__stillHere === true;").await? == json!(true), "the page was reloaded");
    Ok(())
}

async fn claim_next_opens_the_oldest_waiting_and_says_when_there_is_none(t: &mut BrowserTest) -> Result<()> {
    customer_writes(&mut t.app, "wamid.b.cl1", "16505550711", "oldest").await?;
    customer_writes(&mut t.app, "wamid.b.cl2", "16505550712", "newer").await?;
    let first = t.app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == "16505550711");
    let first = first.context("the first conversation")?["id"].as_str().unwrap_or_default().to_owned();
    t.sign_in().await?;
    t.browser.goto("/?view=unassigned").await?;
    t.browser.wait_for_text("#rows", "oldest").await?;
    // `n`, outside any field.
    t.browser.eval("document.activeElement && document.activeElement.blur(); return true;").await?;
    t.browser.keys("n").await?;
    t.browser.wait_for_path("the claimed conversation", |p| p == format!("/c/{first}")).await?;
    let c = api(&t.app, reqwest::Method::GET, &format!("/api/v1/conversations/{first}"), None).await?;
    ensure!(c["assignee_id"].is_string(), "claimed: {c}");
    // The button claims the other; then nothing is left.
    t.browser.goto("/").await?;
    t.browser.click("#claim-next").await?;
    t.browser.wait_for_path("the second claim", |p| p.starts_with("/c/") && !p.ends_with(&first)).await?;
    t.browser.goto("/").await?;
    t.browser.click("#claim-next").await?;
    t.browser.wait_for_text("#flash", "Nothing to claim").await?;
    ensure!(t.browser.path().await? == "/", "stays on the inbox");
    Ok(())
}

async fn availability_is_set_from_the_header(t: &mut BrowserTest) -> Result<()> {
    t.sign_in().await?;
    t.browser.goto("/").await?;
    t.browser.wait_for("#availability select").await?;
    t.browser
        .eval(
            "const s = document.querySelector('#availability select'); s.value = 'away'; \
             s.dispatchEvent(new Event('change', {bubbles: true})); return true;",
        )
        .await?;
    t.browser
        .wait_until("the agent to be away", async || {
            let me = api(&t.app, reqwest::Method::GET, "/api/v1/agents/me", None).await?;
            Ok((me["availability"] == "away").then_some(()))
        })
        .await?;
    t.browser.goto("/").await?;
    let shown = t.browser.eval("return document.querySelector('#availability select').value;").await?;
    ensure!(shown == json!("away"), "the header shows {shown}");
    Ok(())
}

async fn an_agent_outside_the_team_sees_none_of_its_conversations(t: &mut BrowserTest) -> Result<()> {
    customer_writes(&mut t.app, "wamid.b.tv1", "16505550721", "billing question").await?;
    let c = t.app.conversations().await.pop().context("a conversation")?;
    let channel = c["channel_id"].as_str().unwrap_or_default().to_owned();
    let team = api(&t.app, reqwest::Method::POST, "/api/v1/teams", Some(json!({"name": "Billing"}))).await?;
    let other = api(&t.app, reqwest::Method::POST, "/api/v1/teams", Some(json!({"name": "Sales"}))).await?;
    api(
        &t.app,
        reqwest::Method::PUT,
        &format!("/api/v1/channels/{channel}/team"),
        Some(json!({"team_id": team["id"]})),
    )
    .await?;
    let created = api(
        &t.app,
        reqwest::Method::POST,
        "/api/v1/agents",
        Some(json!({"name": "Otto", "email": "otto@example.com"})),
    )
    .await?;
    let (otto, token) = (created["agent"]["id"].as_str().unwrap_or_default(), created["token"]["token"].as_str());
    let token = token.context("the new agent's token")?.to_owned();
    api(
        &t.app,
        reqwest::Method::PUT,
        &format!("/api/v1/teams/{}/members/{otto}", other["id"].as_str().unwrap_or_default()),
        None,
    )
    .await?;
    t.sign_in_agent(&token).await?;
    t.browser.goto("/?view=all&status=all").await?;
    t.browser.wait_for_text("#rows", "No conversations here.").await?;
    t.browser.wait_for_text("#views a[aria-current] .count", "0").await?;
    t.browser.wait_for_text("#views", "Sales").await?;
    let nav = t.browser.text("#views").await?;
    ensure!(!nav.contains("Billing"), "the nav lists only the agent's teams: {nav}");
    // A new message in that team's conversation does not show either.
    customer_writes(&mut t.app, "wamid.b.tv2", "16505550721", "still billing").await?;
    t.browser.goto("/?view=unassigned").await?;
    t.browser.wait_for_text("#rows", "No conversations here.").await?;
    ensure!(!t.browser.text("#rows").await?.contains("billing"));
    Ok(())
}

async fn the_inbox_works_at_phone_width_with_the_keyboard(t: &mut BrowserTest) -> Result<()> {
    customer_writes(&mut t.app, "wamid.b.ph1", "16505550731", "one").await?;
    customer_writes(&mut t.app, "wamid.b.ph2", "16505550732", "two").await?;
    t.sign_in().await?;
    t.browser.phone_width().await?;
    t.browser.goto("/?view=all").await?;
    t.browser.wait_for_text("#rows", "two").await?;
    let overflow = t.browser.eval("return document.documentElement.scrollWidth <= window.innerWidth;").await?;
    ensure!(overflow == json!(true), "no sideways scrolling at phone width");
    t.browser.eval("document.activeElement && document.activeElement.blur(); return true;").await?;
    t.browser.keys("j").await?;
    let focused = t.browser.eval("return document.activeElement.closest('li.row') !== null;").await?;
    ensure!(focused == json!(true), "j focuses the first row");
    t.browser.keys("?").await?;
    let open = t.browser.eval("return document.getElementById('shortcuts').open;").await?;
    ensure!(open == json!(true), "? opens the shortcuts");
    Ok(())
}

browser_tests! {
    a_new_inbound_message_appears_in_the_open_inbox_without_reload,
    claim_next_opens_the_oldest_waiting_and_says_when_there_is_none,
    availability_is_set_from_the_header,
    an_agent_outside_the_team_sees_none_of_its_conversations,
    the_inbox_works_at_phone_width_with_the_keyboard,
}
