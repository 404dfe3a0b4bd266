//! The SLA screens in a real browser: an admin sets a channel's targets on its screen
//! (minutes and hours), a warning the API refuses shows its message next to the field,
//! the API then returns the policy, and the targets are removed after a confirmation; a
//! team's screen, reached from the teams page, saves a resolution target typed in hours
//! with decimals.

use anyhow::{Context as _, Result, ensure};
use serde_json::{Value, json};

use crate::browser_tests;
use crate::harness::BrowserTest;

browser_tests!(
    a_channels_sla_targets_set_on_its_screen_are_what_the_api_returns,
    a_teams_sla_targets_set_on_its_screen_are_what_the_api_returns,
);

async fn channel_id(t: &BrowserTest) -> Result<String> {
    let list: Value = t.app.get_json("/api/v1/channels").await;
    Ok(list["items"][0]["id"].as_str().context("a channel")?.to_owned())
}

async fn select(t: &BrowserTest, css: &str, value: &str) -> Result<()> {
    t.browser.wait_for(css).await?.select_by_value(value).await?;
    Ok(())
}

async fn a_channels_sla_targets_set_on_its_screen_are_what_the_api_returns(t: &mut BrowserTest) -> Result<()> {
    let id = channel_id(t).await?;
    let api = format!("/api/v1/admin/channels/{id}/sla");
    t.sign_in().await?;
    t.browser.goto("/admin/channels").await?;
    t.browser.wait_for_text(&format!("#channel-{id} .sla-line"), "no targets").await?;
    t.browser.click(&format!("#channel-{id} a[href$='/sla']")).await?;
    t.browser.wait_for("#sla-form").await?;
    t.browser.wait_for_text("main", "A team's targets win over its channel's").await?;
    t.browser.wait_for_text(".sla-saved", "No targets are set").await?;

    // First response in 30 minutes, resolution in 8 hours, a warning of 2 hours: longer
    // than the first-response target, so the API refuses it, next to the warning field.
    t.browser.fill("#sla-first", "30").await?;
    select(t, "#sla-first-unit", "1").await?;
    t.browser.fill("#sla-resolution", "8").await?;
    select(t, "#sla-resolution-unit", "60").await?;
    t.browser.fill("#sla-warning", "2").await?;
    select(t, "#sla-warning-unit", "60").await?;
    t.browser.click("#sla-form button[type=submit]").await?;
    let error = t.browser.wait_for_text("#sla-warning + .field-error", "less than").await?;
    let message = error.text().await?;
    ensure!(message.contains("first_response_minutes (30)"), "the API's message: {message:?}");
    let nothing: Value = t.app.get_json(&api).await;
    ensure!(nothing["policy"].is_null(), "nothing saved: {nothing}");

    // Ten minutes' warning is saved, in minutes.
    t.browser.fill("#sla-warning", "10").await?;
    select(t, "#sla-warning-unit", "1").await?;
    t.browser.click("#sla-form button[type=submit]").await?;
    t.browser.wait_for_text("#notice", "SLA targets saved.").await?;
    let saved: Value = t.app.get_json(&api).await;
    ensure!(
        saved["policy"] == json!({"first_response_minutes": 30, "resolution_minutes": 480, "warning_minutes": 10}),
        "{saved}"
    );
    // The screen shows what is saved, whole hours in hours.
    t.browser
        .wait_for_text(
            ".sla-saved",
            "first response within 30 min, resolution within 8 h (business time); warned 10 min before",
        )
        .await?;
    let shown = t
        .browser
        .eval("return ['#sla-first', '#sla-first-unit', '#sla-resolution', '#sla-resolution-unit'].map((s) => document.querySelector(s).value);")
        .await?;
    ensure!(shown == json!(["30", "1", "8", "60"]), "the form shows the saved targets: {shown}");
    t.browser.goto("/admin/channels").await?;
    t.browser.wait_for_text(&format!("#channel-{id} .sla-line"), "resolution within 8 h").await?;

    // Removed after the confirmation dialog.
    t.browser.click(&format!("#channel-{id} a[href$='/sla']")).await?;
    t.browser.click("#sla-form button.danger").await?;
    t.browser.client().accept_alert().await?;
    t.browser.wait_for_text("#notice", "SLA targets removed.").await?;
    let removed: Value = t.app.get_json(&api).await;
    ensure!(removed["policy"].is_null(), "removed: {removed}");
    t.browser.wait_for_text(".sla-saved", "No targets are set").await?;
    Ok(())
}

async fn a_teams_sla_targets_set_on_its_screen_are_what_the_api_returns(t: &mut BrowserTest) -> Result<()> {
    let res = t.app.post_json("/api/v1/teams", &json!({"name": "Billing"})).await;
    ensure!(res.status().is_success(), "team: {}", res.status());
    let team: Value = res.json().await?;
    let team = team["id"].as_str().context("the team's id")?.to_owned();
    let api = format!("/api/v1/admin/teams/{team}/sla");
    t.sign_in().await?;
    t.browser.goto("/admin/teams").await?;
    t.browser.click(&format!("#team-{team} summary")).await?;
    t.browser.wait_for_text(&format!("#team-{team} .team-sla"), "No targets").await?;
    t.browser.click(&format!("#team-{team} a[href$='/sla']")).await?;
    t.browser.wait_for("#sla-form").await?;
    t.browser.wait_for_text(".crumbs", "Billing").await?;

    // No target at all is refused, on the first field.
    t.browser.click("#sla-form button[type=submit]").await?;
    t.browser.wait_for_text("#sla-first + .field-error", "resolution_minutes").await?;
    ensure!(t.browser.eval("return document.querySelector('#sla-form button.danger');").await?.is_null());

    // Resolution within an hour and a half, no first-response target, no warning.
    t.browser.fill("#sla-resolution", "1.5").await?;
    select(t, "#sla-resolution-unit", "60").await?;
    t.browser.click("#sla-form button[type=submit]").await?;
    t.browser.wait_for_text("#notice", "SLA targets saved.").await?;
    let saved: Value = t.app.get_json(&api).await;
    ensure!(
        saved["policy"] == json!({"first_response_minutes": null, "resolution_minutes": 90, "warning_minutes": 0}),
        "{saved}"
    );
    // 90 minutes are not whole hours: shown in minutes.
    t.browser.wait_for_text(".sla-saved", "resolution within 90 min (business time)").await?;
    let shown = t
        .browser
        .eval("return ['#sla-resolution', '#sla-resolution-unit'].map((s) => document.querySelector(s).value);")
        .await?;
    ensure!(shown == json!(["90", "1"]), "{shown}");
    t.browser.goto("/admin/teams").await?;
    t.browser.click(&format!("#team-{team} summary")).await?;
    t.browser.wait_for_text(&format!("#team-{team} .team-sla"), "resolution within 90 min").await?;
    Ok(())
}
