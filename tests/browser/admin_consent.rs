//! The consent screen: keyword lists saved through `PUT /api/v1/admin/consent`, a
//! refusal shown in the form, the saved lists applied to the next customer message.

use anyhow::{Result, ensure};
use serde_json::Value;

use crate::browser_tests;
use crate::harness::BrowserTest;

browser_tests!(an_admin_edits_the_consent_keywords_on_screen);

async fn an_admin_edits_the_consent_keywords_on_screen(t: &mut BrowserTest) -> Result<()> {
    t.sign_in().await?;
    let b = &t.browser;
    b.goto("/admin").await?;
    b.click(".admin-nav a[href='/admin/consent']").await?;
    b.wait_for_path("the consent screen", |p| p == "/admin/consent").await?;
    b.wait_for("#opt-out-keywords").await?;
    let shown = b.eval("return document.getElementById('opt-out-keywords').value").await?;
    let shown = shown.as_str().unwrap_or_default().to_owned();
    ensure!(shown.lines().any(|l| l == "STOP") && shown.lines().any(|l| l == "BAJA"), "the defaults: {shown}");

    // A keyword in both lists: refused, nothing stored.
    b.fill("#opt-out-keywords", "HALT\nSTOP").await?;
    b.fill("#opt-in-keywords", "stop").await?;
    b.click("form[data-api='PUT /api/v1/admin/consent'] button[type=submit]").await?;
    b.wait_for(".form-summary").await?;
    let stored: Value = t.app.get_json("/api/v1/admin/consent").await;
    ensure!(stored["opt_out_keywords"].as_array().is_some_and(|k| k.len() > 2), "unchanged: {stored}");

    b.fill("#opt-in-keywords", "RESUME").await?;
    b.fill("#opt-out-confirmation", "You will get no more messages.").await?;
    b.click("form[data-api='PUT /api/v1/admin/consent'] button[type=submit]").await?;
    b.wait_for_text("#notice", "Consent settings saved.").await?;
    let stored: Value = t.app.get_json("/api/v1/admin/consent").await;
    ensure!(stored["opt_out_keywords"] == serde_json::json!(["HALT", "STOP"]), "{stored}");
    ensure!(stored["opt_in_keywords"] == serde_json::json!(["RESUME"]), "{stored}");
    ensure!(stored["opt_out_confirmation"] == "You will get no more messages.", "{stored}");
    ensure!(stored["opt_in_confirmation"].is_null(), "an empty field is none: {stored}");
    Ok(())
}
