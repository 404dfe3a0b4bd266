//! The reports page in a real browser: reached from the header, today's figures and
//! charts (a CSAT answer tapped in WhatsApp among them), the grouping chosen on screen,
//! both CSVs downloaded with the session,
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

    // A CSAT survey on resolve, answered with a tap in WhatsApp.
    let pnid = switchboard_domain::PhoneNumberId::parse(switchboard_tests::PHONE_NUMBER_ID)?;
    let channel = t.app.store.channels().await?.into_iter().find(|c| c.phone_number_id == pnid).map(|c| c.id);
    let channel = channel.ok_or_else(|| anyhow::anyhow!("the test's channel"))?;
    let res = t
        .app
        .client
        .put(t.app.url(&format!("/api/v1/admin/channels/{channel}/csat")))
        .bearer_auth(&t.app.token)
        .json(&json!({"enabled": true, "question": "How did we do?"}))
        .send()
        .await?;
    ensure!(res.status() == 200, "CSAT settings: {}", res.status());
    let res = t
        .app
        .client
        .post(t.app.url(&format!("/api/v1/conversations/{conversation}/status")))
        .bearer_auth(&t.app.token)
        .json(&json!({"status": "resolved"}))
        .send()
        .await?;
    ensure!(res.status() == 200, "resolve: {}", res.status());
    t.app.send().await;
    let tap = switchboard_tests::payloads::message(
        "wamid.report.b2",
        "16505550801",
        "interactive",
        json!({"type": "list_reply", "list_reply": {"id": format!("csat:{conversation}:5"), "title": "Excellent"}}),
    );
    let body = switchboard_tests::payloads::delivery(
        vec![switchboard_tests::payloads::contact("16505550801", "Ana")],
        vec![tap],
        vec![],
    );
    ensure!(t.app.post_webhook(serde_json::to_vec(&body)?).await.status() == 200);
    t.app.ingest().await;

    t.sign_in().await?;
    let b = &t.browser;
    b.click("header a[href='/reports']").await?;
    b.wait_for_path("the reports page", |p| p == "/reports").await?;
    b.wait_for_text("#started", "1").await?;
    ensure!(b.text("#replies").await? == "1.0", "replies per conversation");
    ensure!(b.text("#first-response-median").await? != "—", "today's first response is timed");
    ensure!(b.eval("return document.querySelectorAll('svg.chart rect').length > 0;").await? == json!(true), "bars");
    ensure!(b.text("#csat-average").await? == "5.0 / 5", "the CSAT average");
    ensure!(b.text("#csat-rate").await? == "100 % (1 of 1)", "the CSAT response rate");
    let bars = b.eval("return document.querySelectorAll('#csat-chart rect.bar-csat').length;").await?;
    ensure!(bars == json!(5), "a bar per score: {bars}");

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
    // The CSAT export, likewise: the answer.
    let csv = b
        .eval(
            "return fetch(document.querySelector('#csat-csv').href)\
               .then(r => r.text().then(t => r.status + '\\n' + t));",
        )
        .await?;
    let csv = csv.as_str().unwrap_or_default();
    ensure!(csv.starts_with("200\nconversation_id,") && csv.contains(&conversation), "{csv}");

    // At phone width nothing scrolls sideways (the tables scroll in their own box).
    b.phone_width().await?;
    b.goto("/reports?group_by=agent").await?;
    b.wait_for("#summary").await?;
    let fits = b.eval("return document.documentElement.scrollWidth <= window.innerWidth;").await?;
    ensure!(fits == json!(true), "no sideways scrolling at phone width");
    b.desktop_width().await?;
    Ok(())
}
