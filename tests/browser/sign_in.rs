//! Signing in: a password set from an invitation link, a wrong one refused with a clear
//! message and no session, the right one opening the inbox; signing out ends it.

use anyhow::{Result, ensure};

use crate::browser_tests;
use crate::harness::{BrowserTest, PASSWORD};

browser_tests!(a_wrong_password_is_refused_and_the_right_one_opens_the_inbox);

async fn a_wrong_password_is_refused_and_the_right_one_opens_the_inbox(t: &mut BrowserTest) -> Result<()> {
    // A page that needs a session sends the browser to sign in, and back after it.
    t.sign_in().await?;
    t.browser.click("form[action='/sign-out'] button[type=submit]").await?;
    t.browser.wait_for_path("signing out", |p| p.starts_with("/sign-in")).await?;
    t.browser.goto("/?view=mine").await?;
    t.browser.wait_for_path("the sign-in page", |p| p.starts_with("/sign-in")).await?;

    let me: serde_json::Value = t.app.get_json("/api/v1/agents/me").await;
    let email = me["email"].as_str().unwrap_or_default().to_owned();
    t.browser.submit_sign_in(&email, "not the password at all").await?;
    let alert = t.browser.wait_for("#error-message").await?.text().await?;
    ensure!(alert.to_lowercase().contains("password"), "the refusal says what was wrong: {alert:?}");
    ensure!(t.browser.path().await?.starts_with("/sign-in"), "still on the sign-in page");
    let cookies = t.browser.client().get_all_cookies().await?;
    ensure!(cookies.iter().all(|c| c.name() != "sb_session"), "no session after a wrong password");

    t.browser.sign_in(&email, PASSWORD).await?;
    t.browser.wait_for("#rows").await?;
    Ok(())
}
