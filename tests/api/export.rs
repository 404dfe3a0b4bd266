//! Exporting one contact's data (`GET /api/v1/contacts/{id}/export`): a ZIP with
//! `contact.json` and their media files, read back here with the `zip` crate.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::PhoneNumberId;
use switchboard_tests::payloads::{contact, delivery, message, status, text};
use switchboard_tests::{AppOptions, Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app, spawn_app_with};

use crate::agents::{call, new_agent};

both_backends!(
    an_export_holds_every_message_media_file_note_label_survey_and_attribution,
    only_admins_export_and_unknown_contacts_are_404,
);

const FROM: &str = "16505550177";
const OTHER: &str = "16505550199";
const IMAGE_ID: &str = "3037543291543636";
const DOC_ID: &str = "3037543291543637";
const GONE_ID: &str = "3037543291543638";

async fn post(app: &mut TestApp, from: &str, items: Vec<Value>, statuses: Vec<Value>) {
    let body = delivery(vec![contact(from, "Ana Export")], items, statuses);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await;
}

fn media(wamid: &str, kind: &str, id: &str, mime: &str, filename: Option<&str>) -> Value {
    let mut body = json!({"mime_type": mime, "sha256": "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=", "id": id});
    if let Some(name) = filename {
        body["filename"] = json!(name);
    }
    message(wamid, FROM, kind, body)
}

/// Bytes that are not text, larger than one read chunk.
fn file_bytes(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 7 + i / 251 + seed) % 256).unwrap()).collect()
}

async fn contact_id(app: &TestApp, wa_id: &str) -> String {
    let page = app.get_json(&format!("/api/v1/contacts?q={wa_id}")).await;
    page["items"].as_array().unwrap().iter().find(|c| c["wa_id"] == wa_id).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn export(app: &TestApp, contact: &str) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
    let res = app.get(&format!("/api/v1/contacts/{contact}/export")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert_eq!(
        res.headers()["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"contact-{contact}.zip\"")
    );
    let bytes = res.bytes().await.unwrap().to_vec();
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap()
}

fn entry(archive: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    archive.by_name(name).unwrap_or_else(|e| panic!("{name}: {e}")).read_to_end(&mut out).unwrap();
    out
}

async fn an_export_holds_every_message_media_file_note_label_survey_and_attribution(backend: Backend) {
    let env = vec![("SWITCHBOARD__WHATSAPP__DISPLAY_PHONE_NUMBER", "+44 7700 900123".to_owned())];
    let mut app = spawn_app_with(backend, AppOptions { env, ..AppOptions::default() }).await;

    // A link the conversation comes from; it puts its label on the conversation.
    assert_eq!(app.post_json("/api/v1/labels", &json!({"name": "From the website"})).await.status(), 201);
    let res =
        app.post_json("/api/v1/links", &json!({"text": "Where is my order?", "labels": ["from the website"]})).await;
    assert_eq!(res.status(), 201);
    let link: Value = res.json().await.unwrap();
    let prefilled = link["prefilled_text"].as_str().unwrap().to_owned();
    post(&mut app, FROM, vec![text("wamid.x.0", FROM, &prefilled)], vec![]).await;

    // Files: two Meta still has (one of them a document with its name), one it no longer has.
    let image = file_bytes(150_000, 1);
    let doc = file_bytes(3_000, 2);
    app.graph.media(IMAGE_ID, &image, "image/jpeg", 1).await;
    app.graph.media(DOC_ID, &doc, "application/pdf", 1).await;
    app.graph.media_gone(GONE_ID).await;
    post(
        &mut app,
        FROM,
        vec![
            media("wamid.x.img", "image", IMAGE_ID, "image/jpeg", None),
            media("wamid.x.doc", "document", DOC_ID, "application/pdf", Some("invoice.pdf")),
            media("wamid.x.gone", "image", GONE_ID, "image/jpeg", None),
        ],
        vec![],
    )
    .await;
    // More messages than one page of the export's reads.
    for batch in 0..3 {
        let items =
            (0..200).map(|i| text(&format!("wamid.x.{batch}.{i}"), FROM, &format!("line {batch}/{i}"))).collect();
        post(&mut app, FROM, items, vec![]).await;
    }
    let conversation = app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == FROM).unwrap();
    let conversation = conversation["id"].as_str().unwrap().to_owned();
    // An agent opened the image: it is cached, and the export takes it from the cache
    // (Meta serves each file once); the document is fetched from Meta by the export.
    let listed = app.messages(&conversation).await;
    let img_id = listed.iter().find(|m| m["wamid"] == "wamid.x.img").unwrap()["id"].as_str().unwrap().to_owned();
    let res = app.get(&format!("/api/v1/messages/{img_id}/media")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), image.as_slice());

    // An agent's reply, delivered then read; a note.
    app.graph.answer_with_wamid(1, "wamid.reply.x").await;
    let res = app
        .post_json(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &json!({"type": "text", "text": "It ships tomorrow"}),
        )
        .await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    assert_eq!(app.send().await.sent, 1);
    let now = Utc::now().timestamp();
    post(&mut app, FROM, vec![], vec![status("wamid.reply.x", "delivered", now), status("wamid.reply.x", "read", now)])
        .await;
    let res = app
        .post_json(
            &format!("/api/v1/conversations/{conversation}/notes"),
            &json!({"text": "Customer is VIP, be quick"}),
        )
        .await;
    assert_eq!(res.status(), 201);

    // A satisfaction survey on resolution, answered 4.
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    let channel = app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id;
    let path = format!("/api/v1/admin/channels/{channel}/csat");
    let res =
        call(&app, Method::PUT, &path, Some(&app.token), Some(json!({"enabled": true, "question": "How did we do?"})))
            .await;
    assert_eq!(res.status(), 200);
    let res =
        app.post_json(&format!("/api/v1/conversations/{conversation}/status"), &json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.send().await.sent, 1);
    let tap = message(
        "wamid.x.tap",
        FROM,
        "interactive",
        json!({"type": "list_reply", "list_reply": {"id": format!("csat:{conversation}:4"), "title": "Good"}}),
    );
    post(&mut app, FROM, vec![tap], vec![]).await;

    // Someone else's conversation, which must not appear.
    let body =
        delivery(vec![contact(OTHER, "Bruno Other")], vec![text("wamid.o.1", OTHER, "other person's secret")], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await;

    let contact = contact_id(&app, FROM).await;
    let res = app
        .post_json(&format!("/api/v1/contacts/{contact}/consent"), &json!({"state": "opted_out", "source": "agent"}))
        .await;
    assert_eq!(res.status(), 201);
    let mut archive = export(&app, &contact).await;
    let doc_json: Value = serde_json::from_slice(&entry(&mut archive, "contact.json")).unwrap();
    let raw = String::from_utf8(entry(&mut archive, "contact.json")).unwrap();
    assert!(
        !raw.contains(OTHER) && !raw.contains("other person's secret") && !raw.contains("Bruno"),
        "another contact's data"
    );

    assert_eq!(doc_json["schema_version"], 1);
    assert_eq!(doc_json["contact"]["id"], contact.as_str());
    assert_eq!(doc_json["contact"]["wa_id"], FROM);
    assert_eq!(doc_json["contact"]["profile_name"], "Ana Export");
    assert_eq!(doc_json["consent"].as_array().unwrap().len(), 1, "{}", doc_json["consent"]);
    assert_eq!(
        (doc_json["consent"][0]["state"].as_str(), doc_json["consent"][0]["source"].as_str()),
        (Some("opted_out"), Some("agent"))
    );
    let conversations = doc_json["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1, "the survey answer opened nothing");
    let c = &conversations[0];
    assert_eq!(c["id"], conversation.as_str());
    assert_eq!(c["status"], "resolved");

    // Every message, in order, as the API lists them.
    let listed: Vec<String> =
        app.messages(&conversation).await.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    let exported: Vec<String> =
        c["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(exported, listed);
    assert_eq!(exported.len(), 1 + 3 + 600 + 1 + 1 + 1, "inbound, files, texts, reply, survey, tap");
    let by_wamid: HashMap<&str, &Value> =
        c["messages"].as_array().unwrap().iter().filter_map(|m| Some((m["wamid"].as_str()?, m))).collect();
    assert_eq!(by_wamid["wamid.x.0"]["content"]["body"], prefilled.as_str());
    assert_eq!(by_wamid["wamid.x.1.199"]["content"]["body"], "line 1/199");
    let reply = by_wamid["wamid.reply.x"];
    assert_eq!((&reply["direction"], &reply["state"]), (&json!("outbound"), &json!("read")), "{reply}");
    assert!(reply["delivered_at"].is_string() && reply["read_at"].is_string(), "{reply}");
    assert_eq!(reply["content"]["body"], "It ships tomorrow");

    // The files, byte for byte; the one Meta no longer has says so.
    let img = by_wamid["wamid.x.img"];
    let img_path = format!("media/{}.jpg", img["id"].as_str().unwrap());
    assert_eq!(img["media"]["file"], img_path.as_str(), "{img}");
    assert_eq!(entry(&mut archive, &img_path), image);
    let pdf = by_wamid["wamid.x.doc"];
    let pdf_path = format!("media/{}.pdf", pdf["id"].as_str().unwrap());
    assert_eq!(pdf["media"]["file"], pdf_path.as_str(), "{pdf}");
    assert_eq!(pdf["content"]["filename"], "invoice.pdf");
    assert_eq!(entry(&mut archive, &pdf_path), doc);
    let gone = by_wamid["wamid.x.gone"];
    assert_eq!(gone["media"]["file"], Value::Null, "{gone}");
    assert_eq!(gone["media"]["missing"], "expired_at_whatsapp", "{gone}");
    let names: BTreeSet<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(names, BTreeSet::from(["contact.json".to_owned(), img_path, pdf_path]));

    // Labels, notes, survey, attribution.
    assert_eq!(c["labels"][0]["name"], "From the website", "{}", c["labels"]);
    assert_eq!(c["notes"][0]["text"], "Customer is VIP, be quick");
    assert_eq!(c["csat"]["score"], 4, "{}", c["csat"]);
    assert_eq!(c["link_attribution"]["link_id"], link["id"], "{}", c["link_attribution"]);
    assert_eq!(c["link_attribution"]["how"]["via"], "ref");

    // Meta served each file once (the mock verifies the count).
    app.graph.verify().await;
}

async fn only_admins_export_and_unknown_contacts_are_404(backend: Backend) {
    let mut app = spawn_app(backend).await;
    post(&mut app, FROM, vec![text("wamid.y.1", FROM, "hello")], vec![]).await;
    let contact = contact_id(&app, FROM).await;
    // Bo sees the contact (the channel is routed to no team) but is no admin.
    let (_, agent) = new_agent(&app, "Bo").await;
    let path = format!("/api/v1/contacts/{contact}/export");
    let res = call(&app, Method::GET, &path, Some(&agent), None).await;
    assert_eq!(res.status(), 403);
    let res = call(&app, Method::GET, &path, None, None).await;
    assert_eq!(res.status(), 401);
    let res = app.get(&format!("/api/v1/contacts/{}/export", uuid::Uuid::now_v7())).await;
    assert_eq!(res.status(), 404);
    let res = app.get("/api/v1/contacts/not-an-id/export").await;
    assert_eq!(res.status(), 404);
    // An admin's export of the same contact works.
    let mut archive = export(&app, &contact).await;
    let doc: Value = serde_json::from_slice(&entry(&mut archive, "contact.json")).unwrap();
    assert_eq!(doc["conversations"][0]["messages"][0]["content"]["body"], "hello");
    assert_eq!(doc["conversations"][0]["messages"].as_array().unwrap().len(), 1);
}
