//! The reports page in a real browser: reached from the header, today's figures and
//! charts, the grouping chosen on screen, the CSV downloaded with the session,
//! and no sideways scrolling at phone width.

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use switchboard_tests::payloads::text_delivery;

use crate::browser_tests;
use crate::harness::BrowserTest;

browser_tests!(the_reports_page_shows_todays_figures_groups_and_the_csv);

async fn the_reports_page_shows_todays_figures_groups_and_the_csv(t: &mut BrowserTest) -> Result<()> {
    // A customer writes and the admin answers: one conversation started today, answered.
    let body = serde_json::to_vec(&text_delivery("wamid.report.b1", "16505550801", "Where is my order?"))?;
    ensure!(t.app.post_webhook(body).await.status() == 200);
    t.app.ingest().await;
    let conversation = t.app.conversations().await[0]["id"].as_str().unwrap_or_default().to_owned();
    let res = t
        .app
        .client
        .post(t.app.url(&format!("/api/v1/conversations/{conversation}/messages")))
        .bearer_auth(&t.app.token)
        .json(&json!({"type": "text", "text": "On its way"}))
        .send()
        .await?;
    ensure!(res.status() == 202, "reply: {}", res.status());
    t.app.send().await;

    t.sign_in().await?;
    let b = &t.browser;
    b.click("header a[href='/reports']").await?;
    b.wait_for_path("the reports page", |p| p == "/reports").await?;
    b.wait_for_text("#started", "1").await?;
    ensure!(b.text("#replies").await? == "1.0", "replies per conversation");
    ensure!(b.text("#first-response-median").await? != "—", "today's first response is timed");
    ensure!(b.eval("return document.querySelectorAll('svg.chart rect').length > 0;").await? == json!(true), "bars");

    // Grouped by agent, chosen on screen: the admin's row.
    b.client().find(fantoccini::Locator::Css("#group_by")).await?.select_by_value("agent").await?;
    b.click(".report-form button[type=submit]").await?;
    b.wait_for_path("the grouped report", |p| p.contains("group_by=agent")).await?;
    let admin: Value = t.app.get_json("/api/v1/agents/me").await;
    b.wait_for_text("#report-groups tbody", admin["name"].as_str().unwrap_or_default()).await?;

    // The CSV, with the session's cookie: a header and the conversation.
    let csv = b
        .eval(
            "return fetch(document.querySelector('#csv').href)\
               .then(r => r.text().then(t => r.status + ' ' + r.headers.get('content-type') + '\\n' + t));",
        )
        .await?;
    let csv = csv.as_str().unwrap_or_default();
    ensure!(csv.starts_with("200 text/csv; charset=utf-8\nconversation_id,"), "{csv}");
    ensure!(csv.contains(&conversation), "{csv}");

    // At phone width nothing scrolls sideways (the tables scroll in their own box).
    b.phone_width().await?;
    b.goto("/reports?group_by=agent").await?;
    b.wait_for("#summary").await?;
    let fits = b.eval("return document.documentElement.scrollWidth <= window.innerWidth;").await?;
    ensure!(fits == json!(true), "no sideways scrolling at phone width");
    b.desktop_width().await?;
    Ok(())
}
