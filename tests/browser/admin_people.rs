//! The admin screens for agents, links and the outbox in a real browser: an admin invites
//! an agent on screen and the agent signs in with the link shown; an admin creates a
//! click-to-chat link and downloads its QR code; an admin retries a dead letter.

use anyhow::{Context as _, Result, ensure};
use serde_json::{Value, json};
use switchboard_tests::payloads::text_delivery;

use crate::browser_tests;
use crate::harness::{BrowserTest, PASSWORD};

browser_tests!(
    an_admin_invites_an_agent_on_screen_who_signs_in_with_the_link,
    an_admin_creates_a_link_and_downloads_its_qr_code,
    an_admin_retries_a_dead_letter,
);

async fn an_admin_invites_an_agent_on_screen_who_signs_in_with_the_link(t: &mut BrowserTest) -> Result<()> {
    t.sign_in().await?;
    t.browser.goto("/admin/agents").await?;
    t.browser.fill("#new-name", "Nadia Haddad").await?;
    t.browser.fill("#new-email", "nadia@example.com").await?;
    t.browser.fill("#new-capacity", "4").await?;
    t.browser.click("#invite-title ~ form button[type=submit]").await?;
    // The link is shown once, with a copy button, and the new agent is listed.
    t.browser.wait_for("#invitation:not([hidden])").await?;
    let url = t
        .browser
        .wait_until("the invitation link", async || {
            let v = t.browser.eval("return document.getElementById('invitation-url').value;").await?;
            Ok(v.as_str().filter(|s| s.contains("/invitation/")).map(str::to_owned))
        })
        .await?;
    t.browser.wait_for_text(".record-name", "Nadia Haddad").await?;
    let notice = t.browser.text("#notice").await?;
    ensure!(notice.contains("Agent invited"), "the notice says what happened: {notice:?}");
    let agents: Value = t.app.get_json("/api/v1/agents").await;
    let nadia = agents["items"].as_array().unwrap().iter().find(|a| a["email"] == "nadia@example.com").cloned();
    let nadia = nadia.context("the agent was created")?;
    ensure!(nadia["capacity"] == 4 && nadia["role"] == "agent", "{nadia}");

    // The agent opens the link (in a browser signed out), sets a password and signs in.
    t.browser.click("form[action='/sign-out'] button[type=submit]").await?;
    t.browser.wait_for_path("signing out", |p| p.starts_with("/sign-in")).await?;
    let path = url.strip_prefix(t.browser.base()).with_context(|| format!("{url} is not on this server"))?;
    t.browser.goto(path).await?;
    t.browser.fill("#password", PASSWORD).await?;
    t.browser.fill("#confirm", PASSWORD).await?;
    t.browser.click("form button[type=submit]").await?;
    t.browser.wait_for_path("the password to be set", |p| p.starts_with("/sign-in")).await?;
    t.browser.sign_in("nadia@example.com", PASSWORD).await?;
    t.browser.wait_for("#rows").await?;
    let who = t.browser.text(".top .who").await?;
    ensure!(who.contains("Nadia Haddad"), "signed in as the new agent: {who:?}");
    // An agent, not an admin: the settings are refused.
    t.browser.goto("/admin/agents").await?;
    t.browser.wait_for_text("main", "not allowed").await?;
    Ok(())
}

async fn an_admin_creates_a_link_and_downloads_its_qr_code(t: &mut BrowserTest) -> Result<()> {
    t.sign_in().await?;
    t.browser.goto("/admin/links").await?;
    t.browser.fill("#new-phone", "+44 7700 900123").await?;
    t.browser.fill("#new-text", "Hi! I saw your poster").await?;
    t.browser.fill("#new-slug", "Poster 1").await?;
    t.browser.click("#new-link-title ~ form button[type=submit]").await?;
    // A slug the API refuses: its message next to the field, nothing created.
    t.browser.wait_for("#new-slug[aria-invalid=true]").await?;
    t.browser.wait_for(".field-error").await?;
    let links: Value = t.app.get_json("/api/v1/links").await;
    ensure!(links["items"].as_array().is_some_and(Vec::is_empty), "nothing half-saved: {links}");
    t.browser.fill("#new-slug", "poster-1").await?;
    t.browser.click("#new-link-title ~ form button[type=submit]").await?;
    let path = t.browser.wait_for_path("the link's page", |p| p.starts_with("/admin/links/")).await?;
    t.browser.wait_for_text("h1", "/l/poster-1").await?;
    let short: Value = t.browser.eval("return document.getElementById('short-url').value;").await?;
    ensure!(short == json!(format!("{}/l/poster-1", t.browser.base())), "{short}");
    let wa_me = t.browser.eval("return document.getElementById('wa-me-url').value;").await?;
    let wa_me = wa_me.as_str().context("the wa.me URL")?.to_owned();
    ensure!(wa_me.starts_with("https://wa.me/447700900123?text=Hi"), "{wa_me}");
    // The QR code is shown (the image loaded) …
    t.browser
        .wait_until("the QR code image to load", async || {
            let v = t
                .browser
                .eval("const i = document.querySelector('.qr img'); return i.complete && i.naturalWidth;")
                .await?;
            Ok(v.as_u64().filter(|w| *w > 0))
        })
        .await?;
    // … and its download links give the images, as the browser fetches them.
    for (id, kind) in [("qr-svg", "image/svg+xml"), ("qr-png", "image/png")] {
        let got = t
            .browser
            .eval(&format!(
                "const a = document.getElementById('{id}'); return fetch(a.href).then(async r => \
                 [r.status, r.headers.get('content-type'), (await r.blob()).size, a.getAttribute('download')]);"
            ))
            .await?;
        ensure!(got[0] == 200 && got[1] == kind && got[2].as_u64().unwrap_or(0) > 100, "{id}: {got}");
        ensure!(got[3].as_str().is_some_and(|d| d.starts_with("poster-1-qr.")), "{id}: {got}");
    }
    let href = t.browser.eval("return document.getElementById('qr-png').getAttribute('href');").await?;
    let png = t.app.client.get(t.app.url(href.as_str().context("the PNG's link")?)).send().await?.bytes().await?;
    let img = image::load_from_memory(&png)?.to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    ensure!(grids.len() == 1, "one QR code in the PNG");
    let (_, content) = grids[0].decode()?;
    ensure!(content == wa_me, "the QR code opens the link: {content}");
    // The chart is on the page (no clicks yet).
    t.browser.wait_for("svg.chart rect.bar-clicks").await?;
    ensure!(t.browser.text(".totals").await?.starts_with("0 clicks"));
    ensure!(path.len() > "/admin/links/".len());
    Ok(())
}

async fn an_admin_retries_a_dead_letter(t: &mut BrowserTest) -> Result<()> {
    let app = &mut t.app;
    let body = serde_json::to_vec(&text_delivery("wamid.b.dead1", "16505550777", "hello?"))?;
    ensure!(app.post_webhook(body).await.status() == 200);
    app.ingest().await;
    let conv = app.conversations().await[0]["id"].as_str().context("the conversation")?.to_owned();
    app.graph.fail_next(3, 500, json!({})).await;
    let res = app
        .post_json(&format!("/api/v1/conversations/{conv}/messages"), &json!({"type": "text", "text": "we are here"}))
        .await;
    ensure!(res.status() == 202);
    ensure!(app.send().await.failed == 1, "a dead letter");
    let dead = app.get_json("/api/v1/admin/outbox?state=dead").await;
    let id = dead["items"][0]["id"].as_i64().context("the dead letter")?;

    t.sign_in().await?;
    t.browser.goto("/admin/outbox").await?;
    t.browser.wait_for_text(&format!("#outbox-{id}"), "we are here").await?;
    t.browser.wait_for_text(&format!("#outbox-{id}"), "3 attempts").await?;
    t.browser.click(&format!("#outbox-{id} button[data-api]")).await?;
    t.browser.wait_for_gone(&format!("#outbox-{id}")).await?;
    t.browser.wait_for_text("#notice", "queued again").await?;
    ensure!(t.app.send().await.sent == 1, "sent once retried");
    let messages = t.app.messages(&conv).await;
    ensure!(messages.iter().any(|m| m["text"] == "we are here" && m["status"] == "sent"));
    Ok(())
}
