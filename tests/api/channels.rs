//! `GET /api/v1/channels` and channels managed through `/api/v1/admin/channels`.

use serde_json::{Value, json};
use switchboard_domain::ChannelId;
use switchboard_tests::payloads::{contact, delivery_for, message, meta_bytes, text};
use switchboard_tests::{ACCESS_TOKEN, Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

async fn the_configured_number_is_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    let list: Value = app.get_json("/api/v1/channels").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["phone_number_id"], PHONE_NUMBER_ID);
    assert!(items[0]["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());

    let anonymous = app.client.get(app.url("/api/v1/channels")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

// ---------------------------------------------------------------------------------------
// Channels managed through the API.

const NUMBER_B: &str = "106540352242999";
const TOKEN_B: &str = "EAAB-channel-b-token-0123456789";
const SECRET_B: &str = "channel-b-app-secret-9876543210";

async fn patch_json(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client.patch(app.url(path)).bearer_auth(&app.token).json(body).send().await.unwrap()
}

/// Adds channel B with its own token and app secret.
async fn add_channel_b(app: &TestApp) -> Value {
    let res = app
        .post_json(
            "/api/v1/admin/channels",
            &json!({"phone_number_id": NUMBER_B, "name": "Sales", "waba_id": "102290129340398",
                    "access_token": TOKEN_B, "app_secret": SECRET_B, "throughput_per_second": 200}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(!text.contains(TOKEN_B) && !text.contains(SECRET_B), "a credential in the answer: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn channels_are_added_edited_and_disabled_with_write_only_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = add_channel_b(&app).await;
    assert_eq!(created["phone_number_id"], NUMBER_B);
    assert_eq!(created["name"], "Sales");
    assert_eq!(created["waba_id"], "102290129340398");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["has_access_token"], true);
    assert_eq!(created["has_app_secret"], true);
    assert_eq!(created["throughput_per_second"], 200);
    assert_eq!(created["display_phone_number"], Value::Null);
    let id = created["id"].as_str().unwrap().to_owned();

    // Sealed at rest: the stored bytes are not the token.
    let record = app.store.channel_record(ChannelId::from_uuid(id.parse().unwrap())).await.unwrap().unwrap();
    let sealed = record.access_token.unwrap();
    assert!(!sealed.sealed.windows(TOKEN_B.len()).any(|w| w == TOKEN_B.as_bytes()));

    // Listed for agents (without settings) and admins (without credentials).
    let list = app.get("/api/v1/channels").await.text().await.unwrap();
    assert!(list.contains(NUMBER_B) && !list.contains(TOKEN_B) && !list.contains(SECRET_B), "{list}");
    let admin_list = app.get("/api/v1/admin/channels").await.text().await.unwrap();
    assert!(admin_list.contains(NUMBER_B) && !admin_list.contains(TOKEN_B) && !admin_list.contains(SECRET_B));
    let items: Value = serde_json::from_str(&admin_list).unwrap();
    assert_eq!(items["items"].as_array().unwrap().len(), 2, "the configured channel and B");

    // Edit, then disable.
    let res = patch_json(
        &app,
        &format!("/api/v1/admin/channels/{id}"),
        &json!({"name": "Sales EU", "display_phone_number": "+44 7700 900123", "throughput_per_second": null,
                "access_token": null}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["name"], "Sales EU");
    assert_eq!(edited["display_phone_number"], "447700900123");
    assert_eq!(edited["throughput_per_second"], Value::Null);
    assert_eq!(edited["has_access_token"], false, "back to the configured token");
    assert_eq!(edited["has_app_secret"], true, "untouched");
    let res = patch_json(&app, &format!("/api/v1/admin/channels/{id}"), &json!({"enabled": false})).await;
    assert_eq!(res.status(), 200);
    let got = app.get_json(&format!("/api/v1/admin/channels/{id}")).await;
    assert_eq!(got["enabled"], false);
    assert_eq!(got["name"], "Sales EU");

    // The same number twice; invalid fields, each named.
    let again = app.post_json("/api/v1/admin/channels", &json!({"phone_number_id": NUMBER_B, "name": "Again"})).await;
    assert_eq!(again.status(), 409);
    let bad = app
        .post_json(
            "/api/v1/admin/channels",
            &json!({"phone_number_id": "12x", "name": " ", "waba_id": "w", "access_token": "has space",
                    "throughput_per_second": 5000, "display_phone_number": "12"}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.unwrap();
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["phone_number_id", "name", "waba_id", "access_token", "throughput_per_second", "display_phone_number"] {
        assert!(fields.contains(&f), "{f} not named in {problem}");
    }
    let unknown =
        patch_json(&app, &format!("/api/v1/admin/channels/{}", uuid::Uuid::now_v7()), &json!({"enabled": true})).await;
    assert_eq!(unknown.status(), 404);
}

/// A customer writes to `number`; the delivery is signed with `secret`.
fn inbound(number: &str, wamid: &str, from: &str) -> Vec<u8> {
    meta_bytes(&delivery_for(number, vec![contact(from, "Kim")], vec![text(wamid, from, "hello")], vec![]))
}

async fn each_channel_sends_with_its_own_token_and_is_signed_with_its_own_secret(backend: Backend) {
    let mut app = spawn_app(backend).await;
    add_channel_b(&app).await;

    // Channel B's app secret signs its webhooks; the configured one still works; another does not.
    let body_b = inbound(NUMBER_B, "wamid.b1", "16505550001");
    let sig_b = switchboard_cloudapi::signature::sign(SECRET_B.as_bytes(), &body_b);
    assert_eq!(app.post_webhook_with(body_b, Some(&sig_b)).await.status(), 200);
    assert_eq!(app.post_webhook(inbound(PHONE_NUMBER_ID, "wamid.a1", "16505550002")).await.status(), 200);
    let forged = inbound(NUMBER_B, "wamid.b2", "16505550003");
    let sig = switchboard_cloudapi::signature::sign(b"someone-else", &forged);
    assert_eq!(app.post_webhook_with(forged, Some(&sig)).await.status(), 401);
    app.ingest().await;

    // A reply in each conversation goes out with its channel's token.
    let conversations = app.conversations().await;
    assert_eq!(conversations.len(), 2);
    for c in &conversations {
        let res = app
            .post_json(
                &format!("/api/v1/conversations/{}/messages", c["id"].as_str().unwrap()),
                &json!({"type": "text", "text": "Thanks!"}),
            )
            .await;
        assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    }
    app.send().await;
    assert_eq!(app.graph.authorizations_from(NUMBER_B).await, [format!("Bearer {TOKEN_B}")]);
    assert_eq!(app.graph.authorizations_from(PHONE_NUMBER_ID).await, [format!("Bearer {ACCESS_TOKEN}")]);
}

/// Everything said to Meta about a conversation of channel B goes with B's token: its
/// customer's file downloaded (through the API and into a contact export), an agent's
/// file uploaded, and the read mark. The mock answers these only with B's token.
async fn a_second_channels_media_uploads_and_read_marks_use_its_own_token(backend: Backend) {
    let mut app = spawn_app(backend).await;
    add_channel_b(&app).await;
    let from = "16505550011";
    let image = |wamid: &str, id: &str| message(wamid, from, "image", json!({"id": id, "mime_type": "image/jpeg"}));
    let body = meta_bytes(&delivery_for(
        NUMBER_B,
        vec![contact(from, "Kim")],
        vec![text("wamid.b.t", from, "my photos"), image("wamid.b.i1", "5501"), image("wamid.b.i2", "5502")],
        vec![],
    ));
    let sig = switchboard_cloudapi::signature::sign(SECRET_B.as_bytes(), &body);
    assert_eq!(app.post_webhook_with(body, Some(&sig)).await.status(), 200);
    app.ingest().await;
    let conversation = app.conversations().await.remove(0);
    let id = conversation["id"].as_str().unwrap().to_owned();
    let contact_id = conversation["contact"]["id"].as_str().unwrap().to_owned();
    let images: Vec<String> = app
        .messages(&id)
        .await
        .iter()
        .filter(|m| m["type"] == "image")
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(images.len(), 2);

    // A customer's file, through the API; another, fetched by the contact's export.
    app.graph.media_with_token(TOKEN_B, "5501", b"\xff\xd8 one", "image/jpeg", 1).await;
    app.graph.media_with_token(TOKEN_B, "5502", b"\xff\xd8 two", "image/jpeg", 1).await;
    let res = app.get(&format!("/api/v1/messages/{}/media", images[0])).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"\xff\xd8 one");
    let res = app.get(&format!("/api/v1/contacts/{contact_id}/export")).await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names: Vec<String> = archive.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("media/")).count(), 2, "both files in the export: {names:?}");

    // An agent's file, uploaded to Meta from B's number.
    app.graph.accept_uploads_with_token(TOKEN_B, "7788").await;
    let res = app
        .client
        .post(app.url(&format!("/api/v1/conversations/{id}/attachments?filename=invoice.pdf")))
        .bearer_auth(&app.token)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4 invoice".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());

    // The read mark.
    let res = app.post_json(&format!("/api/v1/conversations/{id}/read"), &json!({})).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());

    app.graph.verify().await;
    let calls = app.graph.authorizations().await;
    let expected = [
        ("GET", "/5501"),
        ("GET", "/files/5501"),
        ("GET", "/5502"),
        ("GET", "/files/5502"),
        ("POST", "/106540352242999/media"),
        ("POST", "/106540352242999/messages"),
    ];
    for (m, p) in expected {
        assert!(calls.iter().any(|(method, path, _)| method == m && path.ends_with(p)), "no {m} {p} in {calls:?}");
    }
    for (method, path, auth) in &calls {
        assert_eq!(auth, &format!("Bearer {TOKEN_B}"), "{method} {path} with another token");
    }
    let read = app.graph.sent().await;
    assert!(read.iter().any(|b| b["status"] == "read" && b["message_id"] == "wamid.b.i2"), "{read:?}");
}

async fn the_display_number_is_learned_from_webhooks_when_unset(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let created = add_channel_b(&app).await;
    let id = created["id"].as_str().unwrap();
    let mut delivery = delivery_for(
        NUMBER_B,
        vec![contact("16505550001", "Kim")],
        vec![text("wamid.d1", "16505550001", "hi")],
        vec![],
    );
    delivery["entry"][0]["changes"][0]["value"]["metadata"]["display_phone_number"] = json!("447700900123");
    assert_eq!(app.post_webhook(meta_bytes(&delivery)).await.status(), 200);
    app.ingest().await;
    let got = app.get_json(&format!("/api/v1/admin/channels/{id}")).await;
    assert_eq!(got["display_phone_number"], "447700900123");

    // A number set by an admin is kept.
    patch_json(&app, &format!("/api/v1/admin/channels/{id}"), &json!({"display_phone_number": "+14155550123"})).await;
    delivery["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = json!("wamid.d2");
    assert_eq!(app.post_webhook(meta_bytes(&delivery)).await.status(), 200);
    app.ingest().await;
    let got = app.get_json(&format!("/api/v1/admin/channels/{id}")).await;
    assert_eq!(got["display_phone_number"], "14155550123");
}

both_backends!(
    the_configured_number_is_listed,
    channels_are_added_edited_and_disabled_with_write_only_credentials,
    each_channel_sends_with_its_own_token_and_is_signed_with_its_own_secret,
    a_second_channels_media_uploads_and_read_marks_use_its_own_token,
    the_display_number_is_learned_from_webhooks_when_unset,
);
