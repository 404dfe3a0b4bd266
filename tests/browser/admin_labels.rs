//! The admins' console shell, through its labels screen: the header's settings link,
//! a form saved through the API, the API's refusals shown next to the field and in the
//! form's summary, an edit and a delete confirmed in a dialog.

use anyhow::{Result, ensure};
use serde_json::Value;

use crate::browser_tests;
use crate::harness::BrowserTest;

browser_tests!(an_admin_creates_edits_and_deletes_a_label_on_screen);

async fn label_names(t: &BrowserTest) -> Vec<String> {
    let labels: Value = t.app.get_json("/api/v1/labels").await;
    labels["items"]
        .as_array()
        .map_or_else(Vec::new, |items| items.iter().filter_map(|l| l["name"].as_str().map(str::to_owned)).collect())
}

async fn an_admin_creates_edits_and_deletes_a_label_on_screen(t: &mut BrowserTest) -> Result<()> {
    t.sign_in().await?;
    let b = &t.browser;
    b.click("header a[href='/admin']").await?;
    b.wait_for_path("the settings", |p| p == "/admin").await?;
    b.click(".admin-nav a[href='/admin/labels']").await?;
    b.wait_for_path("the labels screen", |p| p == "/admin/labels").await?;

    // Created through the API, listed without leaving the page.
    b.fill("#new-name", "Urgent").await?;
    b.fill("#new-description", "Call back today").await?;
    b.click("form[data-api='POST /api/v1/labels'] button[type=submit]").await?;
    b.wait_for_text(".record-name", "Urgent").await?;
    b.wait_for_text("#notice", "Label created.").await?;
    ensure!(label_names(t).await == ["Urgent"], "stored: {:?}", label_names(t).await);

    // A name the API refuses: its message next to the field, the field marked invalid,
    // nothing stored.
    b.fill("#new-name", "   ").await?;
    b.click("form[data-api='POST /api/v1/labels'] button[type=submit]").await?;
    let error = b.wait_for("#new-name + .field-error").await?.text().await?;
    ensure!(!error.is_empty(), "a message next to the name");
    ensure!(
        b.wait_for("#new-name").await?.attr("aria-invalid").await?.as_deref() == Some("true"),
        "the name is marked invalid"
    );
    // A duplicate (regardless of case): the API's 409 in the form's summary.
    b.fill("#new-name", "urgent").await?;
    b.click("form[data-api='POST /api/v1/labels'] button[type=submit]").await?;
    b.wait_for_text(".form-summary", "exists").await?;
    ensure!(label_names(t).await == ["Urgent"], "nothing more stored: {:?}", label_names(t).await);

    // Edited in place.
    b.click(".record summary").await?;
    b.fill(".record input[name=name]", "Very urgent").await?;
    b.click(".record button[type=submit]").await?;
    b.wait_for_text(".record-name", "Very urgent").await?;
    ensure!(label_names(t).await == ["Very urgent"], "renamed: {:?}", label_names(t).await);

    // Deleted after the confirmation dialog.
    b.click(".record summary").await?;
    b.click(".record button.danger").await?;
    b.client().accept_alert().await?;
    b.wait_for_gone(".record").await?;
    ensure!(label_names(t).await.is_empty(), "deleted: {:?}", label_names(t).await);
    Ok(())
}
