//! The console's privacy actions in a real browser: a channel's retention policy set on
//! its screen (the API's refusal next to the field, then the dry run's counts, as the
//! preview API gives them), and a contact erased from the conversation's panel after the
//! confirmation dialog.

use anyhow::{Context as _, Result, ensure};
use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use switchboard_tests::payloads::{contact, delivery, message, meta_bytes, text};
use switchboard_tests::{Backend, TestApp};

use crate::browser_tests;
use crate::harness::BrowserTest;

browser_tests!(
    a_retention_policy_set_on_its_screen_shows_what_would_go_now,
    an_admin_erases_a_contact_from_the_conversation_panel,
);

const FROM: &str = "16505550901";

async fn api(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(&app.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The customer writes a text and sends a photo, `days_ago`; returns the conversation.
async fn customer_writes(app: &mut TestApp, days_ago: i64) -> Result<String> {
    let ts = (Utc::now() - Duration::days(days_ago)).timestamp().to_string();
    let mut t = text("wamid.p.1", FROM, "my address is 1 Main St");
    t["timestamp"] = json!(ts);
    let mut photo = message(
        "wamid.p.2",
        FROM,
        "image",
        json!({"id": "8080", "mime_type": "image/jpeg", "caption": "my passport",
               "sha256": "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI="}),
    );
    photo["timestamp"] = json!(ts);
    let res = app.post_webhook(meta_bytes(&delivery(vec![contact(FROM, "Ana López")], vec![t, photo], vec![]))).await;
    ensure!(res.status() == 200, "webhook: {}", res.status());
    app.ingest().await;
    let all = app.conversations().await;
    let c = all.iter().find(|c| c["contact"]["wa_id"] == FROM).context("the conversation")?;
    Ok(c["id"].as_str().context("id")?.to_owned())
}

/// Moves a conversation's resolution `days` into the past.
async fn resolved_days_ago(app: &TestApp, conversation: &str, days: i64) -> Result<()> {
    let id: uuid::Uuid = conversation.parse()?;
    match app.db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.db.url).await?;
            sqlx::query("UPDATE conversations SET resolved_at = resolved_at - ?1 WHERE id = ?2")
                .bind(days * 86_400_000)
                .bind(id)
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.db.url).await?;
            sqlx::query("UPDATE conversations SET resolved_at = resolved_at - $1::interval WHERE id = $2")
                .bind(format!("{days} days"))
                .bind(id)
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
    }
    Ok(())
}

async fn a_retention_policy_set_on_its_screen_shows_what_would_go_now(t: &mut BrowserTest) -> Result<()> {
    // A conversation resolved 40 days ago, its messages as old.
    let conversation = customer_writes(&mut t.app, 40).await?;
    let (status, _) = api(
        &t.app,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/status"),
        Some(json!({"status": "resolved"})),
    )
    .await?;
    ensure!(status == 200, "resolve: {status}");
    resolved_days_ago(&t.app, &conversation, 40).await?;
    let (_, list) = api(&t.app, Method::GET, "/api/v1/channels", None).await?;
    let id = list["items"][0]["id"].as_str().context("a channel")?.to_owned();

    t.sign_in().await?;
    t.browser.goto("/admin/channels").await?;
    t.browser.wait_for_text(&format!("#channel-{id}"), "Retention (everything kept)").await?;
    t.browser.click(&format!("#channel-{id} a[href$='/retention']")).await?;
    t.browser.wait_for("#retention-form").await?;
    t.browser.wait_for_text("#retention-nothing", "Nothing is ever removed").await?;

    // Zero days: the API's refusal, next to the field; nothing saved.
    t.browser.fill("#retention-conversations", "0").await?;
    t.browser.click("#retention-form button[type=submit]").await?;
    t.browser.wait_for_text("#retention-conversations + .field-error", "1 to 36500").await?;
    let (_, saved) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}/retention"), None).await?;
    ensure!(saved["conversations_days"].is_null(), "nothing saved: {saved}");

    // 30 and 90 days: saved, and the dry run on the page says what would go now.
    t.browser.fill("#retention-conversations", "30").await?;
    t.browser.fill("#retention-media", "90").await?;
    t.browser.click("#retention-form button[type=submit]").await?;
    t.browser.wait_for_text("#notice", "Retention saved.").await?;
    let (_, saved) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}/retention"), None).await?;
    ensure!(saved == json!({"channel_id": id, "conversations_days": 30, "media_days": 90}), "{saved}");
    t.browser.wait_for_text(".retention-line", "conversations 30 days after resolution, media 90 days").await?;
    let (_, preview) = api(&t.app, Method::GET, "/api/v1/admin/retention/preview", None).await?;
    let p = &preview["channels"][0];
    ensure!(p["conversations"] == 1 && p["messages"] == 2, "the API's dry run: {preview}");
    for (css, field) in [
        ("#retention-conversations-count", "conversations"),
        ("#retention-messages-count", "messages"),
        ("#retention-media-count", "media"),
    ] {
        let shown = t.browser.text(css).await?;
        ensure!(*shown == *p[field].to_string(), "{css}: {shown:?}, the API says {}", p[field]);
    }
    // Looking removed nothing.
    ensure!(t.app.messages(&conversation).await.iter().any(|m| m["text"] == "my address is 1 Main St"));

    // Emptied: kept forever again.
    t.browser.fill("#retention-conversations", "").await?;
    t.browser.fill("#retention-media", "").await?;
    t.browser.click("#retention-form button[type=submit]").await?;
    t.browser.wait_for_text("#retention-nothing", "Nothing is ever removed").await?;
    let (_, saved) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}/retention"), None).await?;
    ensure!(saved["conversations_days"].is_null() && saved["media_days"].is_null(), "{saved}");
    Ok(())
}

async fn an_admin_erases_a_contact_from_the_conversation_panel(t: &mut BrowserTest) -> Result<()> {
    let conversation = customer_writes(&mut t.app, 0).await?;
    let (_, c) = api(&t.app, Method::GET, &format!("/api/v1/conversations/{conversation}"), None).await?;
    let contact_id = c["contact"]["id"].as_str().context("contact id")?.to_owned();
    t.sign_in().await?;
    t.browser.goto(&format!("/c/{conversation}")).await?;
    t.browser.wait_for_text("#contact", &format!("+{FROM}")).await?;
    t.browser.click("#contact-erase summary").await?;
    t.browser.wait_for_text("#contact-erase", "cannot be undone").await?;
    t.browser.click("#contact-erase-button").await?;
    t.browser.client().accept_alert().await?;
    // The page is loaded again and shows the contact erased.
    t.browser.wait_for_text("#contact-erased", "Erased.").await?;
    ensure!(!t.browser.text("#contact").await?.contains(FROM), "the number is gone from the panel");
    let (_, erased) = api(&t.app, Method::GET, &format!("/api/v1/contacts/{contact_id}"), None).await?;
    ensure!(erased["wa_id"] != FROM && erased["profile_name"].is_null() && erased["name"].is_null(), "{erased}");
    ensure!(t.app.messages(&conversation).await.iter().all(|m| m["text"].is_null()), "the messages' content is gone");
    Ok(())
}
