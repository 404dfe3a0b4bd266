//! The channel forms in a real browser: an admin adds a channel with its own access token
//! on `/admin/channels`, lands on its edit screen, sees the API's refusal next to the
//! field, renames it, synchronises its templates from (mock) Meta and sees them listed,
//! and goes back to the configured token; the API shows each change, and no page ever
//! carries the token.

use anyhow::{Context as _, Result, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_tests::TestApp;

use crate::browser_tests;
use crate::harness::BrowserTest;

browser_tests!(a_channel_added_and_edited_on_its_forms_is_what_the_api_shows_and_never_shows_its_token,);

const TOKEN: &str = "EAAG-own-token-4f9c2b7e1d";
const WABA: &str = "102290129340777";

async fn api(app: &TestApp, method: Method, path: &str) -> Result<(u16, Value)> {
    let res = app.client.request(method, app.url(path)).bearer_auth(&app.token).send().await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The page's HTML as the server sends it.
async fn served(app: &TestApp, path: &str) -> Result<String> {
    let res = app.client.get(app.url(path)).bearer_auth(&app.token).send().await?;
    ensure!(res.status() == 200, "{path}: {}", res.status());
    Ok(res.text().await?)
}

/// The page's HTML as the browser has it now (with the fields' current values).
async fn live_html(t: &BrowserTest) -> Result<String> {
    let script = "return document.documentElement.outerHTML + \
                  [...document.querySelectorAll('input')].map((i) => i.value).join('\\n');";
    Ok(t.browser.eval(script).await?.as_str().context("the page's HTML")?.to_owned())
}

async fn a_channel_added_and_edited_on_its_forms_is_what_the_api_shows_and_never_shows_its_token(
    t: &mut BrowserTest,
) -> Result<()> {
    t.sign_in().await?;
    t.browser.goto("/admin/channels").await?;
    t.browser.wait_for("#add-channel-form").await?;
    t.browser.fill("#new-ch-number-id", "109876543210").await?;
    t.browser.fill("#new-ch-name", "Support Spain").await?;
    t.browser.fill("#new-ch-display", "+34 600 000 001").await?;
    t.browser.fill("#new-ch-waba", WABA).await?;
    t.browser.fill("#new-ch-token", TOKEN).await?;
    t.browser.click("#add-channel-form button[type=submit]").await?;

    // The new channel's edit screen.
    let path = t.browser.wait_for_path("the edit screen", |p| p.ends_with("/edit")).await?;
    t.browser.wait_for_text("#notice", "Channel added.").await?;
    let id = path.trim_start_matches("/admin/channels/").trim_end_matches("/edit").to_owned();
    let (status, channel) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}")).await?;
    ensure!(status == 200, "{status} {channel}");
    ensure!(channel["name"] == json!("Support Spain") && channel["phone_number_id"] == json!("109876543210"));
    ensure!(channel["display_phone_number"] == json!("34600000001"), "{channel}");
    ensure!(channel["waba_id"] == json!(WABA) && channel["enabled"] == json!(true), "{channel}");
    ensure!(channel["has_access_token"] == json!(true) && channel["has_app_secret"] == json!(false), "{channel}");
    ensure!(t.browser.eval("return document.querySelector('#ch-token').value;").await? == json!(""));
    ensure!(!live_html(t).await?.contains(TOKEN), "the edit screen carries the token");

    // A blank name: the API's refusal, next to the field; nothing saved.
    t.browser.fill("#ch-name", "   ").await?;
    t.browser.click("#channel-form button[type=submit]").await?;
    t.browser.wait_for("#ch-name + .field-error").await?;
    let (_, unchanged) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}")).await?;
    ensure!(unchanged["name"] == json!("Support Spain"), "{unchanged}");

    // Renamed, with a throughput tier; the token field left empty keeps the token.
    t.browser.fill("#ch-name", "Soporte España").await?;
    t.browser.fill("#ch-throughput", "80").await?;
    t.browser.click("#channel-form button[type=submit]").await?;
    t.browser.wait_for_text("#notice", "Channel saved.").await?;
    let (_, renamed) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}")).await?;
    ensure!(renamed["name"] == json!("Soporte España"), "{renamed}");
    ensure!(renamed["throughput_per_second"] == json!(80), "{renamed}");
    ensure!(renamed["has_access_token"] == json!(true), "{renamed}");
    ensure!(t.browser.eval("return document.querySelector('#ch-name').value;").await? == json!("Soporte España"));

    // Its templates, synchronised from Meta on the button, are listed.
    let templates = vec![
        json!({"id": "2001", "name": "order_update", "language": "es", "status": "APPROVED", "category": "UTILITY",
               "components": [{"type": "BODY", "text": "Hola {{1}}"}]}),
        json!({"id": "2002", "name": "promo", "language": "es", "status": "REJECTED", "category": "MARKETING",
               "components": [{"type": "BODY", "text": "Oferta"}]}),
    ];
    t.app.graph.templates(WABA, templates, 10).await;
    t.browser.wait_for("#no-templates").await?;
    t.browser.click("#sync-templates").await?;
    t.browser.wait_for_text("#notice", "Templates synchronised.").await?;
    let rows = t.browser.text("#channel-templates tbody").await?;
    ensure!(rows.contains("order_update") && rows.contains("UTILITY") && rows.contains("APPROVED"), "{rows}");
    ensure!(rows.contains("promo") && rows.contains("REJECTED") && rows.contains("MARKETING"), "{rows}");

    // Neither the list nor the edit screen, as served, carries the token.
    for path in ["/admin/channels".to_owned(), format!("/admin/channels/{id}/edit")] {
        let html = served(&t.app, &path).await?;
        ensure!(!html.contains(TOKEN), "{path} carries the token");
        ensure!(html.contains("Soporte España"), "{path}");
    }

    // Back to the configured token.
    t.browser.eval("window.confirm = () => true; return true;").await?;
    t.browser.click("#clear-token").await?;
    t.browser.wait_for_text("#notice", "configured access token").await?;
    let (_, cleared) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}")).await?;
    ensure!(cleared["has_access_token"] == json!(false) && cleared["name"] == json!("Soporte España"), "{cleared}");
    t.browser.wait_for_gone("#clear-token").await?;
    Ok(())
}
