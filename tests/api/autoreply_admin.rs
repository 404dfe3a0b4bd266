//! The auto-reply admin API: a channel's settings, quick replies, keyword rules and their
//! order, validation naming the field, and the preview.

use chrono::Utc;
use serde_json::{Value, json};
use switchboard_domain::{AgentName, AgentRole, Email, NewAgent, PhoneNumberId};
use switchboard_http::hash_token;
use switchboard_tests::{Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

/// Creates an agent (not an admin) and returns its token.
async fn agent_token(app: &TestApp) -> String {
    let token = format!("sbt_agent_{}", uuid::Uuid::new_v4().simple());
    let agent = NewAgent {
        name: AgentName::parse("Sam Agent").unwrap(),
        email: Email::parse(&format!("sam-{}@example.com", uuid::Uuid::new_v4().simple())).unwrap(),
        role: AgentRole::Agent,
    };
    app.store.create_agent(&agent, &hash_token(&token), Utc::now()).await.unwrap();
    token
}

/// The configured channel: (id, name).
async fn channel(app: &TestApp) -> (String, String) {
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    let ch = app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap();
    (ch.id.to_string(), ch.name)
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(&app.token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    call(app, reqwest::Method::PUT, path, Some(body)).await
}

async fn patch(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    call(app, reqwest::Method::PATCH, path, Some(body)).await
}

async fn delete(app: &TestApp, path: &str) -> reqwest::Response {
    call(app, reqwest::Method::DELETE, path, None).await
}

/// Asserts a 422 whose errors name a field starting with `field`.
async fn assert_field_error(res: reqwest::Response, field: &str) -> Value {
    assert_eq!(res.status(), 422, "expected a 422 naming {field}");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "validation_failed");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.iter().any(|f| f.starts_with(field)), "{field} not in {fields:?}: {problem}");
    problem
}

fn week(interval: Value) -> Value {
    json!({"mon": [interval], "tue": [interval], "wed": [interval], "thu": [interval], "fri": [interval], "sat": [interval], "sun": [interval]})
}

fn always_open() -> Value {
    json!({"time_zone": "America/New_York", "weekly": week(json!({"start": "00:00", "end": "24:00"}))})
}

fn never_open() -> Value {
    json!({"time_zone": "Europe/Berlin", "weekly": {}})
}

async fn admin_endpoints_need_an_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ch, _) = channel(&app).await;
    let agent = agent_token(&app).await;
    let rule = "0190b7a6-1f5e-7cc0-8000-000000000001";
    let cases = [
        (reqwest::Method::GET, format!("/api/v1/admin/channels/{ch}/auto-replies"), None),
        (reqwest::Method::PUT, format!("/api/v1/admin/channels/{ch}/auto-replies"), Some(json!({}))),
        (reqwest::Method::PATCH, format!("/api/v1/admin/channels/{ch}/auto-replies"), Some(json!({}))),
        (reqwest::Method::PUT, format!("/api/v1/admin/channels/{ch}/auto-replies/hours"), Some(always_open())),
        (reqwest::Method::DELETE, format!("/api/v1/admin/channels/{ch}/auto-replies/away"), None),
        (reqwest::Method::GET, "/api/v1/admin/quick-replies".to_owned(), None),
        (reqwest::Method::POST, "/api/v1/admin/quick-replies".to_owned(), Some(json!({"shortcut": "a", "text": "b"}))),
        (reqwest::Method::GET, "/api/v1/admin/rules".to_owned(), None),
        (reqwest::Method::PUT, "/api/v1/admin/rules/order".to_owned(), Some(json!({"order": []}))),
        (reqwest::Method::POST, "/api/v1/admin/rules/preview".to_owned(), Some(json!({}))),
        (reqwest::Method::DELETE, format!("/api/v1/admin/rules/{rule}"), None),
    ];
    for (method, path, body) in cases {
        let mut req = app.client.request(method.clone(), app.url(&path)).bearer_auth(&agent);
        if let Some(b) = &body {
            req = req.json(b);
        }
        assert_eq!(req.send().await.unwrap().status(), 403, "{method} {path} as an agent");
        let mut req = app.client.request(method.clone(), app.url(&path));
        if let Some(b) = &body {
            req = req.json(b);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{method} {path} without a token");
    }
    // Nothing was written.
    assert_eq!(app.store.auto_reply_config_version().await.unwrap(), 0);
    // Every agent lists quick replies.
    let res = app.client.get(app.url("/api/v1/quick-replies")).bearer_auth(&agent).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"items": []}));
    assert_eq!(app.client.get(app.url("/api/v1/quick-replies")).send().await.unwrap().status(), 401);
}

async fn a_channels_settings_are_written_whole_or_in_part_and_served_as_in_force(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ch, name) = channel(&app).await;
    let url = format!("/api/v1/admin/channels/{ch}/auto-replies");

    // Nothing configured yet: everything off, the business name is the channel's.
    let config = app.get_json(&url).await;
    assert_eq!(config["channel_id"], ch.as_str());
    assert_eq!(config["business_name"], name.as_str());
    assert!(config["greeting"].is_null() && config["away"].is_null() && config["hours"].is_null());
    assert_eq!(config["limits"]["max_auto_replies_per_contact_per_hour"], 10);
    let v0 = config["version"].as_i64().unwrap();

    let settings = json!({
        "business_name": "Acme Bikes",
        "locale": "es",
        "hours": never_open(),
        "greeting": {"text": "¡Hola {{contact.first_name|}}! Bienvenido a {{business.name}}.", "recipients": {"type": "new_contacts"}},
        "away": {"text": "Cerrado. Volvemos {{next_open}}.", "schedule": {"type": "outside_business_hours"}},
        "limits": {"max_auto_replies_per_contact_per_hour": 4}
    });
    let res = put(&app, &url, settings.clone()).await;
    assert_eq!(res.status(), 200);
    let config: Value = res.json().await.unwrap();
    assert_eq!(config["business_name"], "Acme Bikes");
    assert_eq!(config["locale"], "es");
    assert_eq!(config["greeting"]["after_days_of_silence"], 14, "defaults filled in");
    assert_eq!(config["away"]["skip_if_agent_replied_within_minutes"], 5);
    assert_eq!(config["limits"]["max_auto_replies_per_contact_per_hour"], 4);
    assert_eq!(config["version"].as_i64().unwrap(), v0 + 1);
    assert_eq!(app.get_json(&url).await, config, "GET returns what is in force");

    // What a GET returns can be PUT back as it is.
    let res = put(&app, &url, config.clone()).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // But quick replies and rules are not edited here.
    let mut edited = config.clone();
    edited["rules"] = json!([{"matcher": {"type": "exact", "texts": ["hi"]}, "actions": []}]);
    assert_field_error(put(&app, &url, edited).await, "rules").await;

    // A PATCH changes what it names; null clears.
    let res = patch(&app, &url, json!({"business_name": "Acme", "greeting": null})).await;
    assert_eq!(res.status(), 200);
    let config: Value = res.json().await.unwrap();
    assert_eq!(config["business_name"], "Acme");
    assert!(config["greeting"].is_null());
    assert_eq!(config["away"]["text"], "Cerrado. Volvemos {{next_open}}.");
    assert_field_error(patch(&app, &url, json!({"colour": "red"})).await, "colour").await;

    // One setting at a time.
    let res = put(&app, &format!("{url}/hours"), always_open()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(&format!("{url}/hours")).await["time_zone"], "America/New_York");
    assert_eq!(app.get(&format!("{url}/greeting")).await.status(), 404);
    let res = put(&app, &format!("{url}/greeting"), json!({"text": "Hi!", "after_days_of_silence": 3})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(&format!("{url}/greeting")).await["after_days_of_silence"], 3);
    assert_eq!(delete(&app, &format!("{url}/greeting")).await.status(), 204);
    assert_eq!(app.get(&format!("{url}/greeting")).await.status(), 404);
    assert_eq!(app.get(&format!("{url}/weather")).await.status(), 404);

    // An unknown channel is not found.
    let ghost = "/api/v1/admin/channels/0190b7a6-1f5e-7cc0-8000-000000000000/auto-replies";
    assert_eq!(app.get(ghost).await.status(), 404);
    assert_eq!(put(&app, ghost, json!({})).await.status(), 404);
    assert_eq!(app.get("/api/v1/admin/channels/nope/auto-replies").await.status(), 404);
}

async fn invalid_settings_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ch, _) = channel(&app).await;
    let url = format!("/api/v1/admin/channels/{ch}/auto-replies");
    let v0 = app.store.auto_reply_config_version().await.unwrap();

    // Values that cannot be parsed, named where they are.
    let bad_time = json!({"time_zone": "Europe/Berlin", "weekly": {"mon": [{"start": "09:00", "end": "25:00"}]}});
    assert_field_error(put(&app, &format!("{url}/hours"), bad_time).await, "weekly.mon[0].end").await;
    assert_field_error(
        put(&app, &format!("{url}/hours"), json!({"time_zone": "Mars/Olympus", "weekly": {}})).await,
        "time_zone",
    )
    .await;
    // Values the domain refuses.
    let overlap = json!({"time_zone": "Europe/Berlin", "weekly": {"mon": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]}});
    assert_field_error(put(&app, &format!("{url}/hours"), overlap).await, "weekly.mon").await;
    assert_field_error(put(&app, &format!("{url}/greeting"), json!({"text": "Hi {{contact.email}}"})).await, "text")
        .await;
    assert_field_error(
        put(&app, &url, json!({"greeting": {"text": "Hello {{contact.name}", "after_days_of_silence": 14}})).await,
        "greeting.text",
    )
    .await;
    // Away outside business hours needs hours.
    let away = json!({"text": "We are closed", "schedule": {"type": "outside_business_hours"}});
    assert_field_error(put(&app, &url, json!({"away": away})).await, "away").await;
    assert_eq!(app.store.auto_reply_config_version().await.unwrap(), v0, "nothing was written");

    // Removing the hours an away message needs breaks the configuration: 409.
    assert_eq!(put(&app, &url, json!({"hours": never_open(), "away": away})).await.status(), 200);
    let res = delete(&app, &format!("{url}/hours")).await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "breaks_configuration");
    assert!(problem["detail"].as_str().unwrap().contains("away"), "{problem}");
    assert!(app.get_json(&url).await["hours"].is_object());
}

async fn quick_replies_are_managed_with_unique_shortcuts(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ch, _) = channel(&app).await;
    // Quick replies are shared by every channel: {{next_open}} needs no hours (a channel
    // without them says "soon"), and removing a channel's hours breaks nothing.
    let res = app
        .post_json("/api/v1/admin/quick-replies", &json!({"shortcut": "hours", "text": "We open {{next_open}}."}))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let hours: Value = res.json().await.unwrap();
    let id = hours["id"].as_str().unwrap().to_owned();
    assert_eq!(hours["shortcut"], "hours");
    assert_eq!(put(&app, &format!("/api/v1/admin/channels/{ch}/auto-replies/hours"), never_open()).await.status(), 200);
    assert_eq!(delete(&app, &format!("/api/v1/admin/channels/{ch}/auto-replies/hours")).await.status(), 204);
    let with_media = json!({
        "shortcut": "menu", "text": "Our menu, {{contact.first_name|friend}}",
        "media": {"kind": "image", "link": "https://example.com/menu.png"},
        "buttons": [{"id": "order", "title": "Order now"}]
    });
    assert_eq!(app.post_json("/api/v1/admin/quick-replies", &with_media).await.status(), 201);

    // A shortcut is unique.
    let res = app.post_json("/api/v1/admin/quick-replies", &json!({"shortcut": "hours", "text": "again"})).await;
    assert_eq!(res.status(), 409);
    // Bad ones are refused naming the field.
    for (body, field) in [
        (json!({"shortcut": "Opening Hours", "text": "x"}), "shortcut"),
        (json!({"shortcut": "x", "text": "Hi {{customer.name}}"}), "text"),
        (json!({"shortcut": "x"}), "body"),
        (
            json!({"shortcut": "x", "text": "x", "buttons": [{"id": "a", "title": "A title far too long for Meta"}]}),
            "buttons",
        ),
    ] {
        assert_field_error(app.post_json("/api/v1/admin/quick-replies", &body).await, field).await;
    }

    let list = app.get_json("/api/v1/admin/quick-replies").await;
    let shortcuts: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|q| q["shortcut"].as_str().unwrap()).collect();
    assert_eq!(shortcuts, ["hours", "menu"]);
    assert_eq!(app.get_json(&format!("/api/v1/admin/quick-replies/{id}")).await, hours);

    // Update: the id is the URL's.
    let res =
        put(&app, &format!("/api/v1/admin/quick-replies/{id}"), json!({"shortcut": "opening", "text": "9 to 5"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(&format!("/api/v1/admin/quick-replies/{id}")).await["shortcut"], "opening");
    let res = put(&app, &format!("/api/v1/admin/quick-replies/{id}"), json!({"shortcut": "menu", "text": "x"})).await;
    assert_eq!(res.status(), 409, "shortcut taken");
    let other = "0190b7a6-1f5e-7cc0-8000-000000000009";
    assert_field_error(
        put(&app, &format!("/api/v1/admin/quick-replies/{id}"), json!({"id": other, "shortcut": "y", "text": "x"}))
            .await,
        "id",
    )
    .await;
    assert_eq!(
        put(&app, &format!("/api/v1/admin/quick-replies/{other}"), json!({"shortcut": "y", "text": "x"}))
            .await
            .status(),
        404
    );

    // A quick reply a rule sends cannot go (nor lose its shortcut).
    let rule = json!({"matcher": {"type": "contains_word", "words": ["hours"]}, "actions": [{"type": "send_quick_reply", "quick_reply": "opening"}]});
    assert_eq!(app.post_json("/api/v1/admin/rules", &rule).await.status(), 201);
    assert_eq!(delete(&app, &format!("/api/v1/admin/quick-replies/{id}")).await.status(), 409);
    assert_eq!(
        put(&app, &format!("/api/v1/admin/quick-replies/{id}"), json!({"shortcut": "times", "text": "x"}))
            .await
            .status(),
        409
    );
    let rules = app.get_json("/api/v1/admin/rules").await;
    let rule_id = rules["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(delete(&app, &format!("/api/v1/admin/rules/{rule_id}")).await.status(), 204);
    assert_eq!(delete(&app, &format!("/api/v1/admin/quick-replies/{id}")).await.status(), 204);
    assert_eq!(app.get(&format!("/api/v1/admin/quick-replies/{id}")).await.status(), 404);
    assert_eq!(delete(&app, &format!("/api/v1/admin/quick-replies/{id}")).await.status(), 404);
}

async fn rules_are_managed_and_kept_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ch, _) = channel(&app).await;
    let rule = |name: &str, word: &str| json!({"name": name, "matcher": {"type": "contains_word", "words": [word]}, "actions": [{"type": "send_text", "text": format!("About {word}")}]});
    let mut ids = Vec::new();
    for (name, word) in [("Prices", "price"), ("Hours", "open"), ("Returns", "refund")] {
        let res = app.post_json("/api/v1/admin/rules", &rule(name, word)).await;
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.unwrap();
        assert!(created["channel_id"].is_null());
        assert_eq!(created["stop"], true, "defaults filled in");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let names = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(&app.get_json("/api/v1/admin/rules").await), ["Prices", "Hours", "Returns"]);

    let res = put(&app, "/api/v1/admin/rules/order", json!({"order": [ids[2], ids[0], ids[1]]})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(names(&res.json().await.unwrap()), ["Returns", "Prices", "Hours"]);
    assert_eq!(names(&app.get_json("/api/v1/admin/rules").await), ["Returns", "Prices", "Hours"]);
    // The channel's configuration has them in that order.
    let config = app.get_json(&format!("/api/v1/admin/channels/{ch}/auto-replies")).await;
    let in_force: Vec<&str> = config["rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(in_force, ["Returns", "Prices", "Hours"]);

    // An order names every rule once.
    assert_field_error(put(&app, "/api/v1/admin/rules/order", json!({"order": [ids[0], ids[1]]})).await, "order").await;
    assert_field_error(
        put(&app, "/api/v1/admin/rules/order", json!({"order": [ids[0], ids[0], ids[1]]})).await,
        "order[1]",
    )
    .await;
    assert_field_error(
        put(
            &app,
            "/api/v1/admin/rules/order",
            json!({"order": [ids[0], ids[1], "0190b7a6-1f5e-7cc0-8000-000000000000"]}),
        )
        .await,
        "order[2]",
    )
    .await;

    // Bad rules are refused naming the field.
    for (body, field) in [
        (json!({"matcher": {"type": "regex", "pattern": "(unclosed"}, "actions": []}), "matcher.pattern"),
        (json!({"matcher": {"type": "sounds_like", "words": ["x"]}, "actions": []}), "matcher"),
        (
            json!({"matcher": {"type": "exact", "texts": ["hi"]}, "actions": [{"type": "send_quick_reply", "quick_reply": "ghost"}]}),
            "actions[0].quick_reply",
        ),
        (
            json!({"matcher": {"type": "exact", "texts": ["hi"]}, "actions": [{"type": "send_text", "text": "{{nope}}"}]}),
            "actions[0].text",
        ),
        (
            json!({"channel_id": "0190b7a6-1f5e-7cc0-8000-000000000000", "matcher": {"type": "exact", "texts": ["hi"]}, "actions": []}),
            "channel_id",
        ),
    ] {
        assert_field_error(app.post_json("/api/v1/admin/rules", &body).await, field).await;
    }

    // Update in place, limited to the channel; then delete.
    let mut hours = rule("Opening hours", "open");
    hours["channel_id"] = json!(ch);
    hours["cooldown_minutes"] = json!(60);
    let res = put(&app, &format!("/api/v1/admin/rules/{}", ids[1]), hours).await;
    assert_eq!(res.status(), 200);
    let got = app.get_json(&format!("/api/v1/admin/rules/{}", ids[1])).await;
    assert_eq!(
        (got["name"].as_str(), got["channel_id"].as_str(), got["cooldown_minutes"].as_i64()),
        (Some("Opening hours"), Some(ch.as_str()), Some(60))
    );
    assert_eq!(names(&app.get_json("/api/v1/admin/rules").await), ["Returns", "Prices", "Opening hours"]);
    assert_eq!(delete(&app, &format!("/api/v1/admin/rules/{}", ids[0])).await.status(), 204);
    assert_eq!(app.get(&format!("/api/v1/admin/rules/{}", ids[0])).await.status(), 404);
    assert_eq!(delete(&app, &format!("/api/v1/admin/rules/{}", ids[0])).await.status(), 404);
    assert_eq!(names(&app.get_json("/api/v1/admin/rules").await), ["Returns", "Opening hours"]);
}

async fn the_preview_explains_what_would_fire_and_sends_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ch, _) = channel(&app).await;
    let url = format!("/api/v1/admin/channels/{ch}/auto-replies");
    let settings = json!({
        "business_name": "Acme Bikes",
        "hours": never_open(),
        "greeting": {"text": "Hello {{contact.first_name}}, welcome to {{business.name}}!"},
        "away": {"text": "We are closed.", "schedule": {"type": "outside_business_hours"}}
    });
    assert_eq!(put(&app, &url, settings).await.status(), 200);
    let res = app
        .post_json(
            "/api/v1/admin/rules",
            &json!({"name": "Prices", "matcher": {"type": "contains_word", "words": ["price"]},
                    "actions": [{"type": "send_buttons", "body": "Which bike, {{contact.first_name}}?",
                                 "buttons": [{"id": "city", "title": "City"}, {"id": "mtb", "title": "Mountain"}]}]}),
        )
        .await;
    let rule_id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let keyword = format!("keyword:{rule_id}");

    // A new contact asking about prices: greeting, then away, then the rule.
    let sample = json!({
        "channel_id": ch,
        "at": "2026-11-24T10:00:00Z",
        "message": {"type": "text", "text": "What is the PRICE?"},
        "contact": {"wa_id": "4915112345678", "name": "Ana María López"}
    });
    let res = app.post_json("/api/v1/admin/rules/preview", &sample).await;
    assert_eq!(res.status(), 200);
    let preview: Value = res.json().await.unwrap();
    assert_eq!(preview["fired"], json!(["greeting", "away", keyword]));
    let replies = preview["replies"].as_array().unwrap();
    assert_eq!(replies[0]["reply"], json!({"type": "text", "body": "Hello Ana, welcome to Acme Bikes!"}));
    assert_eq!(replies[1]["reply"]["body"], "We are closed.");
    assert_eq!(replies[2]["reply"]["type"], "buttons");
    assert_eq!(replies[2]["reply"]["body"], "Which bike, Ana?");
    assert_eq!(replies[2]["content"]["type"], "interactive_message");
    let rule_trace = preview["trace"].as_array().unwrap().iter().find(|t| t["rule"] == keyword.as_str()).unwrap();
    assert_eq!(rule_trace["name"], "Prices");
    assert_eq!(rule_trace["outcome"], "fired");

    // A contact seen yesterday, who got the away message an hour ago, tapping nothing we know.
    let sample = json!({
        "channel_id": ch,
        "at": "2026-11-24T10:00:00Z",
        "message": {"type": "button_reply", "id": "something-else"},
        "contact": {"wa_id": "4915112345678", "last_seen_at": "2026-11-23T10:00:00Z"},
        "conversation": {"rule_fired": [{"rule": "away", "at": "2026-11-24T09:00:00Z"}]}
    });
    let preview: Value = app.post_json("/api/v1/admin/rules/preview", &sample).await.json().await.unwrap();
    assert_eq!(preview["fired"], json!([]));
    assert!(preview["replies"].as_array().unwrap().is_empty());
    let outcome = |rule: &str| {
        preview["trace"].as_array().unwrap().iter().find(|t| t["rule"] == rule).unwrap()["outcome"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(outcome("greeting"), "not_due");
    assert_eq!(outcome("away"), "already_sent_this_period");
    assert_eq!(outcome(&keyword), "no_match");
    assert!(preview["trace"][0]["explanation_text"].is_string());

    // Reactions are never answered.
    let sample = json!({"channel_id": ch, "message": {"type": "reaction"}, "contact": {"wa_id": "4915112345678"}});
    let preview: Value = app.post_json("/api/v1/admin/rules/preview", &sample).await.json().await.unwrap();
    assert_eq!(preview["fired"], json!([]));

    // Bad samples name the field.
    for (body, field) in [
        (json!({"channel_id": ch, "message": {"type": "text"}, "contact": {"wa_id": "4915112345678"}}), "message.text"),
        (json!({"channel_id": ch, "message": {"type": "fax"}, "contact": {"wa_id": "4915112345678"}}), "message.type"),
        (
            json!({"channel_id": ch, "message": {"type": "text", "text": "x"}, "contact": {"wa_id": "not a number"}}),
            "contact.wa_id",
        ),
        (
            json!({"channel_id": "0190b7a6-1f5e-7cc0-8000-000000000000", "message": {"type": "text", "text": "x"}, "contact": {"wa_id": "4915112345678"}}),
            "channel_id",
        ),
        (json!({"message": {"type": "text", "text": "x"}, "contact": {"wa_id": "4915112345678"}}), "body"),
    ] {
        assert_field_error(app.post_json("/api/v1/admin/rules/preview", &body).await, field).await;
    }

    // Nothing was sent or stored.
    assert_eq!(app.send().await.claimed, 0);
    assert!(app.conversations().await.is_empty());
}

/// Issue 22 (found by fuzzing): times near chrono's limits, far-away overrides and
/// fallbacks with braces get 422 naming the field, never a panic or a stalled worker.
async fn fuzzed_inputs_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ch, _) = channel(&app).await;
    let url = format!("/api/v1/admin/channels/{ch}/auto-replies");
    let settings = json!({
        "hours": never_open(),
        "greeting": {"text": "Hello!"},
        "away": {"text": "Back {{next_open}}.", "schedule": {"type": "outside_business_hours"}}
    });
    assert_eq!(put(&app, &url, settings).await.status(), 200);
    let far = "+262142-12-31T00:00:00Z";
    let sample = |extra: Value| {
        let mut s =
            json!({"channel_id": ch, "message": {"type": "text", "text": "hi"}, "contact": {"wa_id": "4915112345678"}});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    };
    for (body, field) in [
        (sample(json!({"at": far})), "at"),
        (sample(json!({"at": "-0001-01-01T00:00:00Z"})), "at"),
        (
            sample(
                json!({"conversation": {"rule_fired": [{"rule": "greeting", "at": "2026-11-24T09:00:00Z"}, {"rule": "away", "at": far}]}}),
            ),
            "conversation.rule_fired[1].at",
        ),
        (sample(json!({"contact": {"wa_id": "4915112345678", "last_seen_at": far}})), "contact.last_seen_at"),
        (sample(json!({"conversation": {"last_agent_reply_at": far}})), "conversation.last_agent_reply_at"),
    ] {
        assert_field_error(app.post_json("/api/v1/admin/rules/preview", &body).await, field).await;
    }
    // The last supported instant still answers.
    let res = app.post_json("/api/v1/admin/rules/preview", &sample(json!({"at": "9999-12-31T23:59:59Z"}))).await;
    assert_eq!(res.status(), 200);

    // Overrides far away in time are refused, so they cannot make evaluation slow.
    let overrides: Vec<Value> = (0..20).map(|i| json!({"date": format!("-200000-01-{:02}", i + 1)})).collect();
    let hours = json!({"time_zone": "Europe/Berlin", "weekly": {}, "overrides": overrides});
    assert_field_error(put(&app, &format!("{url}/hours"), hours).await, "overrides[0].date").await;
    let hours = json!({"time_zone": "Europe/Berlin", "weekly": {}, "overrides": [{"date": "2026-12-24", "until": "+10000-01-01"}]});
    assert_field_error(put(&app, &format!("{url}/hours"), hours).await, "overrides[0].until").await;

    // A fallback is plain text: a nested variable would be sent raw.
    assert_field_error(
        put(&app, &format!("{url}/greeting"), json!({"text": "Hi {{contact.name|{{contact.email}}}}!"})).await,
        "text",
    )
    .await;
}

both_backends!(
    admin_endpoints_need_an_admin,
    a_channels_settings_are_written_whole_or_in_part_and_served_as_in_force,
    invalid_settings_are_refused_naming_the_field,
    quick_replies_are_managed_with_unique_shortcuts,
    rules_are_managed_and_kept_in_order,
    the_preview_explains_what_would_fire_and_sends_nothing,
    fuzzed_inputs_are_refused_naming_the_field,
);
