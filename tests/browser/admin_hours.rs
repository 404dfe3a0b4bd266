//! The channel screens in a real browser: split and overnight hours and a holiday,
//! entered in the editor, give the engine's open/closed line (previewed, then saved); a
//! greeting and an away message configured on their screens answer a real webhook, in
//! order, at the mock Graph API; the API's refusal is shown next to its field; and the
//! satisfaction survey set on its screen is what a resolved conversation's customer gets.

use anyhow::{Context as _, Result, ensure};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::autoreply::{Lang, format_when};
use switchboard_domain::hours::BusinessHours;
use switchboard_tests::TestApp;
use switchboard_tests::payloads::text_delivery;

use crate::browser_tests;
use crate::harness::BrowserTest;

browser_tests!(
    split_and_overnight_hours_and_a_holiday_show_the_engines_open_closed_line,
    a_greeting_and_an_away_message_set_on_their_screens_answer_a_webhook_in_order,
    a_refused_field_shows_the_apis_message_next_to_it,
    the_satisfaction_survey_set_on_its_screen_goes_out_when_a_conversation_is_resolved,
);

async fn api(app: &TestApp, method: Method, path: &str) -> Result<(u16, Value)> {
    let res = app.client.request(method, app.url(path)).bearer_auth(&app.token).send().await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn channel_id(app: &TestApp) -> Result<String> {
    let (_, list) = api(app, Method::GET, "/api/v1/channels").await?;
    Ok(list["items"][0]["id"].as_str().context("a channel")?.to_owned())
}

/// The line the screens show for `h` at `now`, from the engine's functions.
fn line(h: &BusinessHours, now: DateTime<Utc>) -> String {
    let p = h.period_at(now);
    let when = |t| format_when(h, t, now, Lang::En).unwrap_or_default();
    let reason = h
        .local_time(now)
        .and_then(|l| h.override_on(l.date()))
        .filter(|o| !p.open && o.hours.is_empty())
        .and_then(|o| o.label.clone())
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    match (p.open, p.until) {
        (true, Some(t)) => format!("Now: open, closes {}", when(t)),
        (true, None) => "Now: open, around the clock".to_owned(),
        (false, Some(t)) => format!("Now: closed{reason}, opens {}", when(t)),
        (false, None) => format!("Now: closed{reason}, and it does not open within the next three years"),
    }
}

/// Types `value` into the field matching `css` and lets the page hear it.
async fn set(t: &BrowserTest, css: &str, value: &str) -> Result<()> {
    t.browser.fill(css, value).await
}

/// Sets a date field (its picker is not typed into the same way in every locale).
async fn set_date(t: &BrowserTest, css: &str, date: &str) -> Result<()> {
    t.browser.wait_for(css).await?;
    let script = format!(
        "const el = document.querySelector({css:?}); el.value = {date:?}; \
         el.dispatchEvent(new Event('input', {{bubbles: true}})); return el.value;"
    );
    ensure!(t.browser.eval(&script).await? == json!(date), "the date was not set");
    Ok(())
}

async fn split_and_overnight_hours_and_a_holiday_show_the_engines_open_closed_line(t: &mut BrowserTest) -> Result<()> {
    let id = channel_id(&t.app).await?;
    t.sign_in().await?;
    t.browser.goto("/admin/channels").await?;
    t.browser.wait_for_text(&format!("#channel-{id}"), "No business hours set.").await?;
    t.browser.click(&format!("#channel-{id} a[href$='/hours']")).await?;
    t.browser.wait_for("#hours-form").await?;

    // The expected hours: the editor starts from Monday to Friday 09:00–17:00.
    let zone = "America/New_York";
    let mut expected = json!({
        "time_zone": zone,
        "weekly": {
            "mon": [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}],
            "tue": [{"start": "09:00", "end": "17:00"}],
            "wed": [{"start": "09:00", "end": "17:00"}],
            "thu": [{"start": "09:00", "end": "17:00"}],
            "fri": [{"start": "09:00", "end": "17:00"}, {"start": "22:00", "end": "02:00"}],
            "sat": [], "sun": []
        },
        "overrides": []
    });
    let today = serde_json::from_value::<BusinessHours>(expected.clone())?
        .local_time(Utc::now())
        .context("local time")?
        .date()
        .to_string();
    expected["overrides"] = json!([{"date": today, "label": "Founders Day"}]);
    let hours: BusinessHours = serde_json::from_value(expected)?;

    set(t, "#h-tz", zone).await?;
    // A split Monday.
    set(t, "#h-mon .interval input[name=end]", "12:30").await?;
    t.browser.click("#h-mon > button[data-add]").await?;
    set(t, "#h-mon .interval:last-of-type input[name=start]", "13:30").await?;
    set(t, "#h-mon .interval:last-of-type input[name=end]", "18:00").await?;
    // Friday night, into Saturday.
    t.browser.click("#h-fri > button[data-add]").await?;
    set(t, "#h-fri .interval:last-of-type input[name=start]", "22:00").await?;
    set(t, "#h-fri .interval:last-of-type input[name=end]", "02:00").await?;
    // A holiday today.
    t.browser.click("#h-overrides > button[data-add]").await?;
    set(t, "#h-overrides .override:last-of-type input[name=label]", "Founders Day").await?;
    set_date(t, "#h-overrides .override:last-of-type input[name=date]", &today).await?;

    // The draft's line, as the engine computes it (now, whenever the test runs).
    let seen = t
        .browser
        .wait_until("the draft's line", async || {
            let shown = t.browser.eval(
                "const l = document.querySelector('#hours-preview .hours-line'); return l ? l.textContent : null;",
            );
            let shown = shown.await?;
            let want = line(&hours, Utc::now());
            Ok((shown == json!(want)).then_some(want))
        })
        .await
        .context("the preview shows the engine's line")?;
    ensure!(seen.contains("Founders Day") || seen.starts_with("Now: open"), "a holiday today: {seen}");
    t.browser.wait_for_text("#hours-preview .upcoming", "Opens").await?;

    t.browser.click("#hours-form button[type=submit]").await?;
    t.browser.wait_for_text("#notice", "Business hours saved.").await?;
    t.browser
        .wait_until("the saved line", async || {
            let shown = t.browser.text("#hours-saved-line").await?;
            Ok((shown == line(&hours, Utc::now())).then_some(()))
        })
        .await?;
    let (status, saved) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}/auto-replies/hours")).await?;
    ensure!(status == 200, "saved: {status}");
    ensure!(serde_json::from_value::<BusinessHours>(saved.clone())? == hours, "saved as entered: {saved}");
    // At a phone's width the editor fits without scrolling sideways.
    t.browser.phone_width().await?;
    t.browser.wait_for("#h-mon .interval").await?;
    let overflow = t.browser.eval("return document.documentElement.scrollWidth - window.innerWidth;").await?;
    ensure!(overflow.as_i64().is_some_and(|o| o <= 0), "scrolls sideways by {overflow}px");
    t.browser.desktop_width().await?;
    // The channels list shows the same line.
    t.browser.goto("/admin/channels").await?;
    let shown = t.browser.text(&format!("#channel-{id} .hours-line")).await?;
    ensure!(shown == line(&hours, Utc::now()), "{shown}");
    Ok(())
}

async fn a_greeting_and_an_away_message_set_on_their_screens_answer_a_webhook_in_order(
    t: &mut BrowserTest,
) -> Result<()> {
    let id = channel_id(&t.app).await?;
    t.sign_in().await?;

    t.browser.goto(&format!("/admin/channels/{id}/greeting")).await?;
    set(t, "#g-text", "Hello {{contact.first_name}}, welcome!").await?;
    // The preview renders it for its sample contact, Ana María López.
    t.browser.wait_for_text("#greeting-preview .reply-bubble", "Hello Ana, welcome!").await?;
    t.browser.wait_for_text("#greeting-preview .verdict", "Would be sent now.").await?;
    t.browser.click("#greeting-form button[type=submit]").await?;
    t.browser.wait_for_text("#notice", "Greeting saved.").await?;

    t.browser.goto(&format!("/admin/channels/{id}/away")).await?;
    t.browser.wait_for("#a-schedule").await?.select_by_value("always").await?;
    set(t, "#a-text", "We are away this week, {{contact.first_name}}.").await?;
    t.browser.wait_for_text("#away-preview .reply-bubble", "We are away this week, Ana.").await?;
    // Numbers only for "all except": the part shows with its choice.
    ensure!(
        t.browser.eval("return document.querySelector('#a-wa-ids').closest('[data-show-when]').hidden;").await?
            == json!(true)
    );
    t.browser.wait_for("#a-rtype").await?.select_by_value("all_except").await?;
    ensure!(
        t.browser.eval("return document.querySelector('#a-wa-ids').closest('[data-show-when]').hidden;").await?
            == json!(false)
    );
    set(t, "#a-wa-ids", "34600000000").await?;
    t.browser.click("#away-form button[type=submit]").await?;
    t.browser.wait_for_text("#notice", "Away message saved.").await?;

    let (_, config) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}/auto-replies")).await?;
    ensure!(config["away"]["schedule"] == json!({"type": "always"}), "{config}");
    ensure!(config["away"]["recipients"] == json!({"type": "all_except", "wa_ids": ["34600000000"]}), "{config}");
    ensure!(config["greeting"]["recipients"] == json!({"type": "everyone"}), "{config}");

    // A customer writes: the greeting, then the away message, reach WhatsApp in order.
    let body = serde_json::to_vec(&text_delivery("wamid.b.hours1", "16505550801", "hello?"))?;
    ensure!(t.app.post_webhook(body).await.status() == 200);
    let report = t.app.ingest().await;
    ensure!(report.auto_replies == 2, "{report:?}");
    let sent = t.app.send().await;
    ensure!(sent.sent == 2, "{sent:?}");
    let texts: Vec<String> =
        t.app.graph.sent().await.iter().map(|m| m["text"]["body"].as_str().unwrap_or_default().to_owned()).collect();
    ensure!(texts == ["Hello Ana, welcome!", "We are away this week, Ana."], "{texts:?}");
    Ok(())
}

async fn a_refused_field_shows_the_apis_message_next_to_it(t: &mut BrowserTest) -> Result<()> {
    let id = channel_id(&t.app).await?;
    t.sign_in().await?;
    t.browser.goto(&format!("/admin/channels/{id}/hours")).await?;
    // 12:00–13:00 overlaps the suggested 09:00–17:00 on Monday.
    t.browser.click("#h-mon > button[data-add]").await?;
    set(t, "#h-mon .interval:last-of-type input[name=start]", "12:00").await?;
    set(t, "#h-mon .interval:last-of-type input[name=end]", "13:00").await?;
    t.browser.wait_for_text("#hours-preview .preview-errors", "weekly.mon[1]").await?;
    t.browser.click("#hours-form button[type=submit]").await?;
    t.browser.wait_for_text("#h-mon .interval:last-of-type .field-error", "overlaps").await?;
    t.browser.wait_for_text("#hours-form .form-summary", "weekly.mon[1]").await?;
    let (status, _) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}/auto-replies/hours")).await?;
    ensure!(status == 404, "nothing saved: {status}");

    // A field's own message, on the field.
    t.browser.goto(&format!("/admin/channels/{id}/greeting")).await?;
    set(t, "#g-text", "Hi {{contact.email}}").await?;
    t.browser.click("#greeting-form button[type=submit]").await?;
    t.browser.wait_for_text("#g-text + .field-error", "unknown variable").await?;
    ensure!(
        t.browser.eval("return document.querySelector('#g-text').getAttribute('aria-invalid');").await?
            == json!("true")
    );
    let (status, _) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}/auto-replies/greeting")).await?;
    ensure!(status == 404, "nothing saved: {status}");
    Ok(())
}

async fn the_satisfaction_survey_set_on_its_screen_goes_out_when_a_conversation_is_resolved(
    t: &mut BrowserTest,
) -> Result<()> {
    let id = channel_id(&t.app).await?;
    t.sign_in().await?;
    t.browser.goto("/admin/channels").await?;
    t.browser.wait_for_text(&format!("#channel-{id}"), "Satisfaction survey (not set)").await?;
    t.browser.click(&format!("#channel-{id} a[href$='/csat']")).await?;
    t.browser.wait_for("#csat-form").await?;

    // Three points, in Spanish; the list's button only shows for the 1–5 scale.
    t.browser.click("#csat-form input[name=enabled]").await?;
    t.browser.wait_for("#csat-scale").await?.select_by_value("three_point").await?;
    ensure!(
        t.browser.eval("return document.querySelector('#csat-button').closest('[data-show-when]').hidden;").await?
            == json!(true)
    );
    set(t, "#csat-question", "¿Cómo te atendimos?").await?;
    // Two choices for three points: the API's refusal, on the field.
    set(t, "#csat-options", "Bien\nMal").await?;
    t.browser.click("#csat-form button[type=submit]").await?;
    t.browser.wait_for_text("#csat-options + .field-error", "3 points").await?;
    set(t, "#csat-options", "Muy bien\nRegular\nMal").await?;
    t.browser.click("#csat-form button[type=submit]").await?;
    t.browser.wait_for_text("#notice", "Survey saved.").await?;
    let (_, answer) = api(&t.app, Method::GET, &format!("/api/v1/admin/channels/{id}/csat")).await?;
    let saved = &answer["settings"];
    ensure!(saved["enabled"] == json!(true) && saved["scale"] == json!("three_point"), "{saved}");
    ensure!(saved["options"] == json!(["Muy bien", "Regular", "Mal"]), "{saved}");
    ensure!(saved["label"].is_null() && saved["template"].is_null(), "{saved}");

    // A customer writes; resolving the conversation sends the survey as three buttons.
    let body = serde_json::to_vec(&text_delivery("wamid.b.csat1", "16505550802", "hola"))?;
    ensure!(t.app.post_webhook(body).await.status() == 200);
    t.app.ingest().await;
    let conversation = t.app.conversations().await[0]["id"].as_str().context("a conversation")?.to_owned();
    let res =
        t.app.post_json(&format!("/api/v1/conversations/{conversation}/status"), &json!({"status": "resolved"})).await;
    ensure!(res.status().is_success(), "resolve: {}", res.status());
    t.app.send().await;
    let sent = t.app.graph.sent().await;
    let survey = sent.last().context("the survey")?;
    ensure!(survey["interactive"]["body"]["text"] == json!("¿Cómo te atendimos?"), "{survey}");
    let titles: Vec<&Value> = survey["interactive"]["action"]["buttons"]
        .as_array()
        .context("buttons")?
        .iter()
        .map(|b| &b["reply"]["title"])
        .collect();
    ensure!(titles == [&json!("Muy bien"), &json!("Regular"), &json!("Mal")], "{survey}");
    Ok(())
}
