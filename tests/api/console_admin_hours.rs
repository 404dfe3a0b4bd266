//! The admins' channel screens (`/admin/channels`): business hours, greeting and away
//! message. Pages render the configuration the API holds, their forms call the API, and
//! the previews answer what the engine would: the open/closed line for split, overnight
//! and holiday hours, and the greeting or away message a sample contact would get.
//! (Agents' 403 on every one of these routes: `console_admin.rs`, from `ROUTES`.)

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::agents::call;

both_backends!(
    the_channels_page_shows_each_channel_with_its_open_line_and_its_screens,
    the_hours_page_shows_the_saved_hours_in_an_editor_that_saves_through_the_api,
    the_hours_preview_answers_the_engines_line_for_split_overnight_and_holiday_hours,
    the_hours_preview_names_what_the_api_would_refuse,
    the_greeting_and_away_pages_show_every_saved_option,
    the_greeting_and_away_previews_render_what_the_engine_would_send,
    the_channel_edit_page_shows_its_settings_and_templates_but_never_its_credentials,
);

async fn channel_id(app: &TestApp) -> String {
    let list = app.get_json("/api/v1/channels").await;
    list["items"][0]["id"].as_str().unwrap().to_owned()
}

async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let res = call(app, method, path, Some(&app.token), body).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn page(app: &TestApp, path: &str) -> String {
    let res = app.client.get(app.url(path)).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let html = res.text().await.unwrap();
    assert!(!html.contains(" style="), "{path}: no inline style");
    html
}

/// Posts a preview body; the status and the HTML fragment.
async fn preview(app: &TestApp, path: &str, body: Value) -> (u16, String) {
    let res = app.client.post(app.url(path)).bearer_auth(&app.token).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Berlin: Monday split 09:00–12:30 and 13:30–18:00, Tuesday to Thursday 09:00–18:00,
/// Friday overnight 22:00–02:00; closed on Christmas (a Friday in 2026).
fn berlin() -> Value {
    let day = json!([{"start": "09:00", "end": "18:00"}]);
    json!({
        "time_zone": "Europe/Berlin",
        "weekly": {
            "mon": [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}],
            "tue": day, "wed": day, "thu": day,
            "fri": [{"start": "22:00", "end": "02:00"}],
            "sat": [], "sun": []
        },
        "overrides": [
            {"date": "2026-12-25", "label": "Christmas"},
            {"date": "2026-08-01", "until": "2026-08-15", "label": "Summer <break>"}
        ]
    })
}

async fn the_channels_page_shows_each_channel_with_its_open_line_and_its_screens(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = channel_id(&app).await;
    let html = page(&app, "/admin/channels").await;
    assert!(html.contains("No business hours set."), "{html}");
    assert!(html.contains(&format!("href=\"/admin/channels/{id}/hours\"")));
    assert!(html.contains(&format!("href=\"/admin/channels/{id}/greeting\"")));
    assert!(html.contains(&format!("href=\"/admin/channels/{id}/away\"")));
    assert!(html.contains("(not set)"));
    assert!(html.contains("href=\"/admin/channels\" aria-current=\"page\""), "the navigation marks the screen");

    // Open around the clock, a greeting that is off.
    let all_day = json!([{"start": "00:00", "end": "24:00"}]);
    let days = json!({"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day, "fri": all_day, "sat": all_day, "sun": all_day});
    let base = format!("/api/v1/admin/channels/{id}/auto-replies");
    admin(&app, Method::PUT, &format!("{base}/hours"), Some(json!({"time_zone": "Asia/Kolkata", "weekly": days})))
        .await;
    admin(&app, Method::PUT, &format!("{base}/greeting"), Some(json!({"enabled": false, "text": "Hi"}))).await;
    let html = page(&app, "/admin/channels").await;
    assert!(html.contains("Now: open, around the clock"), "{html}");
    assert!(html.contains("data-open=\"true\""));
    assert!(html.contains("(off)") && html.contains("(not set)"), "greeting off, away not set");
    assert!(html.contains("Display number not known yet") && html.contains("the configured access token"));
    assert!(!html.contains("channel-disabled"));
    // Disabled, with a display number and its own token.
    let patch = json!({"enabled": false, "display_phone_number": "+447700900123", "access_token": "EAAown"});
    admin(&app, Method::PATCH, &format!("/api/v1/admin/channels/{id}"), Some(patch)).await;
    let html = page(&app, "/admin/channels").await;
    assert!(html.contains("channel-disabled") && html.contains("+447700900123"), "{html}");
    assert!(html.contains("its own access token") && !html.contains("EAAown"));
    // The overview lists the screen.
    assert!(page(&app, "/admin").await.contains("Channels &#38; hours"));
}

async fn the_hours_page_shows_the_saved_hours_in_an_editor_that_saves_through_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = channel_id(&app).await;
    let path = format!("/admin/channels/{id}/hours");
    // Nothing saved: a starting point, said to be unsaved.
    let html = page(&app, &path).await;
    assert!(html.contains("No business hours are saved"), "{html}");
    assert!(html.contains("value=\"UTC\""));
    assert!(!html.contains("Remove hours"), "nothing to remove");

    admin(&app, Method::PUT, &format!("/api/v1/admin/channels/{id}/auto-replies/hours"), Some(berlin())).await;
    let html = page(&app, &path).await;
    assert!(html.contains(&format!("data-api=\"PUT /api/v1/admin/channels/{id}/auto-replies/hours\"")));
    assert!(html.contains(&format!("data-api=\"DELETE /api/v1/admin/channels/{id}/auto-replies/hours\"")));
    assert!(html.contains(&format!("data-preview=\"/admin/channels/{id}/hours/preview\"")));
    assert!(html.contains("name=\"time_zone\" list=\"time-zones\" value=\"Europe/Berlin\""), "{html}");
    assert!(html.contains("<option value=\"America/Sao_Paulo\">"), "the zone picker lists IANA names");
    // The week: one list per day, the split Monday and the overnight Friday.
    for key in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        assert!(html.contains(&format!("data-list=\"{key}\"")), "{key}");
    }
    for v in ["12:30", "13:30", "22:00", "02:00"] {
        assert!(html.contains(&format!("value=\"{v}\"")), "{v}");
    }
    // The holidays, the range and its escaped name.
    assert!(html.contains("value=\"2026-12-25\"") && html.contains("value=\"Christmas\""));
    assert!(html.contains("value=\"2026-08-15\""));
    assert!(html.contains("Summer &#60;break&#62;") && !html.contains("Summer <break>"));
    // The saved hours' line, now.
    assert!(html.contains("id=\"hours-saved-line\""));
    assert!(html.contains("Now: open, closes") || html.contains("Now: closed"), "{html}");
}

async fn the_hours_preview_answers_the_engines_line_for_split_overnight_and_holiday_hours(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = channel_id(&app).await;
    let cases = [
        // Monday 11:00 in Berlin (UTC+1): the first half of a split day.
        ("2026-11-23T10:00:00Z", "Now: open, closes today at 12:30", true),
        // Monday 12:45: the lunch break.
        ("2026-11-23T11:45:00Z", "Now: closed, opens today at 13:30", false),
        // Friday 23:00: the overnight interval, closing on Saturday.
        ("2026-11-27T22:00:00Z", "Now: open, closes tomorrow at 02:00", true),
        // Saturday 01:30: its tail.
        ("2026-11-28T00:30:00Z", "Now: open, closes today at 02:00", true),
        // Saturday 03:00: closed for the weekend.
        ("2026-11-28T02:00:00Z", "Now: closed, opens Monday at 09:00", false),
        // Christmas, a Friday: closed all day, its overnight interval too.
        ("2026-12-25T11:00:00Z", "Now: closed (Christmas), opens Monday at 09:00", false),
        ("2026-12-25T22:30:00Z", "Now: closed (Christmas), opens Monday at 09:00", false),
        // Inside the summer break (a range).
        ("2026-08-04T10:00:00Z", "Now: closed (Summer &#60;break&#62;), opens Monday 17 August at 09:00", false),
    ];
    for (at, line, open) in cases {
        let (status, html) = preview(&app, &format!("/admin/channels/{id}/hours/preview?at={at}"), berlin()).await;
        assert_eq!(status, 200, "{at}: {html}");
        assert!(html.contains(line), "{at}: expected {line:?} in {html}");
        assert!(html.contains(&format!("data-open=\"{open}\"")), "{at}");
    }
    // What comes next, in local time: Friday night's close on Saturday, then Monday.
    let (_, html) =
        preview(&app, &format!("/admin/channels/{id}/hours/preview?at=2026-11-27T22:00:00Z"), berlin()).await;
    assert!(html.contains("It is Friday 27 November 2026, 23:00 in Europe/Berlin."), "{html}");
    assert!(html.contains("Closes Sat 28 Nov, 02:00"), "{html}");
    assert!(html.contains("Opens Mon 30 Nov, 09:00"), "{html}");
    assert!(html.contains("Closes Mon 30 Nov, 12:30"), "{html}");
    // A draft is previewed, never saved.
    let res =
        call(&app, Method::GET, &format!("/api/v1/admin/channels/{id}/auto-replies/hours"), Some(&app.token), None)
            .await;
    assert_eq!(res.status(), 404, "nothing saved");
    // Without `at`: now, in a sentence.
    let (status, html) = preview(&app, &format!("/admin/channels/{id}/hours/preview"), berlin()).await;
    assert_eq!(status, 200);
    assert!(html.contains("Now: open, closes") || html.contains("Now: closed"), "{html}");
}

async fn the_hours_preview_names_what_the_api_would_refuse(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = channel_id(&app).await;
    let url = format!("/admin/channels/{id}/hours/preview");
    let mut overlap = berlin();
    overlap["weekly"]["mon"] = json!([{"start": "09:00", "end": "12:30"}, {"start": "12:00", "end": "18:00"}]);
    overlap["overrides"][0]["until"] = json!("2026-12-20");
    let (status, html) = preview(&app, &url, overlap.clone()).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("<code>weekly.mon[1]</code>") && html.contains("overlaps"), "{html}");
    assert!(html.contains("<code>overrides[0].until</code>"), "{html}");
    // The API refuses the same fields.
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/admin/channels/{id}/auto-replies/hours"),
        Some(&app.token),
        Some(overlap),
    )
    .await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"weekly.mon[1]") && fields.contains(&"overrides[0].until"), "{problem}");

    let mut bad = berlin();
    bad["weekly"]["tue"] = json!([{"start": "25:00", "end": "18:00"}]);
    let (status, html) = preview(&app, &url, bad).await;
    assert_eq!(status, 422);
    assert!(html.contains("<code>weekly.tue[0].start</code>"), "{html}");
    let (status, html) = preview(&app, &url, json!({"time_zone": "Mars/Olympus"})).await;
    assert_eq!(status, 422);
    assert!(html.contains("<code>time_zone</code>") && html.contains("IANA"), "{html}");
    // A bad `at`, an unknown channel.
    let (status, html) = preview(&app, &format!("{url}?at=yesterday"), berlin()).await;
    assert_eq!(status, 422);
    assert!(html.contains("data-field=\"at\""), "{html}");
    let (status, _) = preview(&app, &format!("/admin/channels/{}/hours/preview", uuid::Uuid::new_v4()), berlin()).await;
    assert_eq!(status, 404);
    let res =
        app.client.get(app.url(&format!("/admin/channels/{}/hours", uuid::Uuid::new_v4()))).bearer_auth(&app.token);
    assert_eq!(res.send().await.unwrap().status(), 404);
}

async fn the_greeting_and_away_pages_show_every_saved_option(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = channel_id(&app).await;
    let base = format!("/api/v1/admin/channels/{id}/auto-replies");
    // Nothing saved: starting points, said to be unsaved.
    let html = page(&app, &format!("/admin/channels/{id}/greeting")).await;
    assert!(html.contains("No greeting is saved yet"), "{html}");
    assert!(html.contains("&#123;&#123;contact.first_name&#125;&#125;"), "the variables are explained");
    assert!(!html.contains("Delete greeting"));
    let html = page(&app, &format!("/admin/channels/{id}/away")).await;
    assert!(html.contains("No away message is saved yet"));
    assert!(html.contains("<option value=\"always\" selected>"), "without hours, the suggestion is always: {html}");

    admin(&app, Method::PUT, &format!("{base}/hours"), Some(berlin())).await;
    admin(
        &app,
        Method::PUT,
        &format!("{base}/greeting"),
        Some(json!({
            "enabled": true,
            "text": "Hello {{contact.first_name}} & welcome!",
            "after_days_of_silence": 30,
            "recipients": {"type": "all_except", "wa_ids": ["4915112345678", "34600000000"]},
            "only_within_business_hours": true
        })),
    )
    .await;
    admin(
        &app,
        Method::PUT,
        &format!("{base}/away"),
        Some(json!({
            "enabled": false,
            "text": "Away until {{next_open}}.",
            "schedule": {"type": "custom", "hours": {"time_zone": "America/Sao_Paulo", "weekly": {"sat": [{"start": "20:00", "end": "06:00"}]}}},
            "recipients": {"type": "new_contacts"},
            "cooldown": {"once_per_period": false, "min_interval_minutes": 45},
            "skip_if_agent_replied_within_minutes": 12
        })),
    )
    .await;

    let html = page(&app, &format!("/admin/channels/{id}/greeting")).await;
    assert!(html.contains(&format!("data-api=\"PUT {base}/greeting\"")));
    assert!(html.contains(&format!("data-api=\"DELETE {base}/greeting\"")));
    assert!(html.contains(&format!("data-preview=\"/admin/channels/{id}/greeting/preview\"")));
    assert!(html.contains("name=\"enabled\" checked"));
    assert!(html.contains("Hello {{contact.first_name}} &#38; welcome!"), "{html}");
    assert!(html.contains("value=\"30\""));
    assert!(html.contains("<option value=\"all_except\" selected>"));
    assert!(html.contains("4915112345678\n34600000000"), "one number a line");
    assert!(html.contains("name=\"only_within_business_hours\" checked"));

    let html = page(&app, &format!("/admin/channels/{id}/away")).await;
    assert!(html.contains(&format!("data-api=\"PUT {base}/away\"")));
    assert!(html.contains(&format!("data-api=\"DELETE {base}/away\"")));
    assert!(!html.contains("name=\"enabled\" checked"), "off");
    assert!(html.contains("<option value=\"custom\" selected>"));
    assert!(html.contains("value=\"America/Sao_Paulo\""), "the custom schedule's zone");
    assert!(html.contains("value=\"20:00\"") && html.contains("value=\"06:00\""));
    assert!(html.contains("<option value=\"new_contacts\" selected>"));
    assert!(!html.contains("name=\"once_per_period\" checked"));
    assert!(html.contains(
        "name=\"min_interval_minutes\" type=\"number\" data-type=\"number\" min=\"0\" max=\"525600\" value=\"45\""
    ));
    assert!(html.contains("value=\"12\""));
}

async fn the_greeting_and_away_previews_render_what_the_engine_would_send(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = channel_id(&app).await;
    let base = format!("/api/v1/admin/channels/{id}/auto-replies");
    admin(&app, Method::PATCH, &base, Some(json!({"business_name": "Acme Bikes", "hours": berlin()}))).await;
    let greeting = format!("/admin/channels/{id}/greeting/preview");
    let away = format!("/admin/channels/{id}/away/preview");
    let monday_11 = "at=2026-11-23T10:00:00Z";
    let saturday_3 = "at=2026-11-28T02:00:00Z";

    let g = json!({"text": "Hello {{contact.first_name}}, welcome to {{business.name}}!"});
    let (status, html) = preview(&app, &format!("{greeting}?{monday_11}"), g.clone()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-sent=\"true\"") && html.contains("Would be sent now."), "{html}");
    assert!(html.contains("Hello Ana, welcome to Acme Bikes!"), "{html}");
    assert!(html.contains("Monday 23 November 2026, 11:00 in Europe/Berlin"), "{html}");
    // Only while open, on a Saturday night.
    let mut only_open = g.clone();
    only_open["only_within_business_hours"] = json!(true);
    let (_, html) = preview(&app, &format!("{greeting}?{saturday_3}"), only_open).await;
    assert!(html.contains("data-sent=\"false\""), "{html}");
    assert!(html.contains("only while open, and the channel is closed until Monday at 09:00"), "{html}");
    assert!(html.contains("Hello Ana, welcome to Acme Bikes!"), "the text it would send: {html}");
    // Off; not for this contact.
    let (_, html) = preview(&app, &greeting, json!({"enabled": false, "text": "Hi"})).await;
    assert!(html.contains("Switched off"), "{html}");
    let (_, html) =
        preview(&app, &greeting, json!({"text": "Hi", "recipients": {"type": "only", "wa_ids": ["34600000000"]}}))
            .await;
    assert!(html.contains("not among the recipients"), "{html}");
    // What the API would refuse, named as it names it.
    let (status, html) = preview(&app, &greeting, json!({"text": "Hi {{contact.email}}"})).await;
    assert_eq!(status, 422);
    assert!(html.contains("<code>text</code>") && html.contains("unknown variable"), "{html}");
    let (status, html) = preview(&app, &greeting, json!({"text": "Hi", "after_days_of_silence": 0})).await;
    assert_eq!(status, 422);
    assert!(html.contains("<code>after_days_of_silence</code>"), "{html}");
    let (status, html) =
        preview(&app, &greeting, json!({"text": "Hi", "recipients": {"type": "only", "wa_ids": ["nope"]}})).await;
    assert_eq!(status, 422);
    assert!(html.contains("<code>recipients") && html.contains("digits"), "{html}");

    // The away message outside business hours: sent on Saturday night with the next opening.
    let a = json!({"text": "We are closed. Back {{next_open}}.", "schedule": {"type": "outside_business_hours"}});
    let (status, html) = preview(&app, &format!("{away}?{saturday_3}"), a.clone()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Would be sent now.") && html.contains("We are closed. Back Monday at 09:00."), "{html}");
    // On Monday morning it is not away until the lunch break.
    let (_, html) = preview(&app, &format!("{away}?{monday_11}"), a).await;
    assert!(html.contains("Not sent now: the away time starts today at 12:30."), "{html}");
    // A custom schedule: its own zone and intervals are the away times.
    let custom = json!({
        "text": "Weekend team only.",
        "schedule": {"type": "custom", "hours": {"time_zone": "Europe/Berlin", "weekly": {"sat": [{"start": "00:00", "end": "24:00"}]}}},
        "recipients": {"type": "new_contacts"}
    });
    let (_, html) = preview(&app, &format!("{away}?{saturday_3}"), custom.clone()).await;
    assert!(html.contains("Would be sent now.") && html.contains("Weekend team only."), "{html}");
    let (_, html) = preview(&app, &format!("{away}?{monday_11}"), custom).await;
    assert!(html.contains("the away time starts Saturday at 00:00"), "{html}");
    let (status, html) = preview(
        &app,
        &away,
        json!({"text": "x", "schedule": {"type": "custom", "hours": {"time_zone": "UTC", "weekly": {"mon": [{"start": "10:00", "end": "10:00"}]}}}}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("<code>schedule.hours.weekly.mon[0].end</code>"), "{html}");
    // Nothing was saved by any preview.
    let config = admin(&app, Method::GET, &base, None).await;
    assert!(config["greeting"].is_null() && config["away"].is_null(), "{config}");
}

async fn the_channel_edit_page_shows_its_settings_and_templates_but_never_its_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = "EAAG-page-test-token-93b1";
    let secret = "app-secret-page-test-5c2e";
    let created = admin(
        &app,
        Method::POST,
        "/api/v1/admin/channels",
        Some(json!({"phone_number_id": "555000111", "name": "Returns <desk>", "display_phone_number": "+44 7700 900123",
                    "waba_id": "4455667788", "access_token": token, "app_secret": secret, "throughput_per_second": 250})),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    app.graph
        .templates(
            "4455667788",
            vec![json!({"id": "9", "name": "parcel_ready", "language": "en_GB", "status": "PENDING", "category": "UTILITY",
                        "components": [{"type": "BODY", "text": "Your parcel is ready"}]})],
            10,
        )
        .await;

    // The list offers the add form and each channel's edit screen.
    let list = page(&app, "/admin/channels").await;
    assert!(list.contains("data-api=\"POST /api/v1/admin/channels\""), "{list}");
    assert!(list.contains(&format!("href=\"/admin/channels/{id}/edit\"")), "{list}");
    assert!(!list.contains(token) && !list.contains(secret));

    let edit = format!("/admin/channels/{id}/edit");
    let html = page(&app, &edit).await;
    assert!(html.contains(&format!("data-api=\"PATCH /api/v1/admin/channels/{id}\"")), "{html}");
    assert!(html.contains("value=\"Returns &#60;desk&#62;\""), "the name, escaped: {html}");
    assert!(html.contains("value=\"+447700900123\""), "{html}");
    assert!(html.contains("value=\"4455667788\"") && html.contains("value=\"250\""), "{html}");
    assert!(html.contains("id=\"clear-token\"") && html.contains("id=\"clear-secret\""), "{html}");
    assert!(html.contains("No template is synchronised yet."), "{html}");
    assert!(!html.contains(token) && !html.contains(secret), "credentials are never rendered");

    // After a sync the templates are listed.
    admin(&app, Method::POST, &format!("/api/v1/admin/channels/{id}/templates/sync"), Some(json!({}))).await;
    let html = page(&app, &edit).await;
    for cell in ["parcel_ready", "en_GB", "PENDING", "UTILITY"] {
        assert!(html.contains(&format!("<td>{cell}</td>")), "{cell}: {html}");
    }

    // Without its own credentials there is nothing to clear; an unknown channel is a 404.
    admin(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/channels/{id}"),
        Some(json!({"access_token": null, "app_secret": null})),
    )
    .await;
    let html = page(&app, &edit).await;
    assert!(!html.contains("id=\"clear-token\"") && !html.contains("id=\"clear-secret\""), "{html}");
    let res = app.get(&format!("/admin/channels/{}/edit", uuid::Uuid::now_v7())).await;
    assert_eq!(res.status(), 404);
}
