//! The audit log's screen: an admin signs in, changes something on another screen, and
//! finds both in the log with who, where from and the before and after; filters by
//! action; loads the next page in place.

use anyhow::{Result, ensure};
use fantoccini::Locator;
use serde_json::json;

use crate::browser_tests;
use crate::harness::BrowserTest;

browser_tests!(an_admin_sees_their_sign_in_and_their_change_in_the_audit_log);

async fn an_admin_sees_their_sign_in_and_their_change_in_the_audit_log(t: &mut BrowserTest) -> Result<()> {
    t.sign_in().await?;
    let b = &t.browser;
    // A change on the labels screen (saved through the API).
    b.goto("/admin/labels").await?;
    b.fill("#new-name", "Urgent").await?;
    b.click("form[data-api='POST /api/v1/labels'] button[type=submit]").await?;
    b.wait_for_text("#notice", "Label created.").await?;

    b.click(".admin-nav a[href='/admin/audit']").await?;
    b.wait_for_path("the audit screen", |p| p == "/admin/audit").await?;
    let created = b.wait_for_text("tr.audit-entry", "label_created").await?;
    let row = created.text().await?;
    ensure!(row.contains("127.0.0.1"), "the address: {row}");
    ensure!(row.contains("label "), "the target: {row}");
    created.find(Locator::Css("summary")).await?.click().await?;
    let after = created.find(Locator::Css("pre")).await?.text().await?;
    ensure!(after.contains("\"name\": \"Urgent\""), "the after: {after}");
    b.wait_for_text("tr.audit-entry", "sign_in").await?;

    // Filtered to one action.
    b.client().find(Locator::Css("#audit-action")).await?.select_by_value("label_created").await?;
    b.click("form.audit-filters button[type=submit]").await?;
    let actions = b
        .wait_until("only label_created entries", async || {
            let mut out = Vec::new();
            for el in b.client().find_all(Locator::Css("code.audit-action")).await? {
                out.push(el.text().await?);
            }
            Ok((out.len() == 1).then_some(out))
        })
        .await?;
    ensure!(actions == ["label_created"], "only label_created: {actions:?}");

    // More than a page: "Load more" adds the older ones in place.
    for i in 0..60 {
        let res = t.app.post_json("/api/v1/labels", &json!({"name": format!("Bulk {i}")})).await;
        ensure!(res.status() == 201, "label {i}");
    }
    b.goto("/admin/audit?action=label_created").await?;
    b.wait_for("#audit-more a").await?;
    let before = b.client().find_all(Locator::Css("tr.audit-entry")).await?.len();
    ensure!(before == 50, "a page of 50: {before}");
    b.click("#audit-more a").await?;
    b.wait_until("every entry after loading more", async || {
        let n = b.client().find_all(Locator::Css("tr.audit-entry")).await?.len();
        Ok((n == 61).then_some(()))
    })
    .await?;
    b.wait_for_gone("#audit-more").await?;
    let path = b.path().await?;
    ensure!(path == "/admin/audit?action=label_created", "stayed on the page: {path}");
    Ok(())
}
