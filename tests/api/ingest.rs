//! From stored delivery to contacts, conversations and messages.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use switchboard_domain::message::MessageContent;
use switchboard_domain::{ConversationId, DeliveryState, Wamid};
use switchboard_store::{NewOutboundMessage, RecordReason};
use switchboard_tests::payloads::{
    contact, delivery, delivery_for, failed_status, message, status, text, text_delivery,
};
use switchboard_tests::{AppOptions, Backend, TestApp, both_backends, spawn_app, start_on};

const FROM: &str = "16505551234";

fn by_wamid<'a>(messages: &'a [Value], wamid: &str) -> &'a Value {
    messages.iter().find(|m| m["wamid"] == wamid).unwrap_or_else(|| panic!("{wamid} missing"))
}

async fn every_message_type_is_stored_with_its_content(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let messages = vec![
        text("wamid.text", FROM, "Hello"),
        message(
            "wamid.image",
            FROM,
            "image",
            json!({"caption": "a photo", "mime_type": "image/jpeg", "sha256": "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=", "id": "1479537139650973"}),
        ),
        message(
            "wamid.voice",
            FROM,
            "audio",
            json!({"mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "id": "111", "voice": true}),
        ),
        message(
            "wamid.video",
            FROM,
            "video",
            json!({"mime_type": "video/mp4", "sha256": "abc", "id": "222", "caption": "clip"}),
        ),
        message(
            "wamid.doc",
            FROM,
            "document",
            json!({"filename": "invoice.pdf", "mime_type": "application/pdf", "sha256": "abc", "id": "333"}),
        ),
        message(
            "wamid.sticker",
            FROM,
            "sticker",
            json!({"mime_type": "image/webp", "sha256": "abc", "id": "444", "animated": false}),
        ),
        message(
            "wamid.location",
            FROM,
            "location",
            json!({"latitude": 38.9, "longitude": -77.03, "name": "Office", "address": "1 Main St"}),
        ),
        message(
            "wamid.contacts",
            FROM,
            "contacts",
            json!([{"name": {"formatted_name": "Bo"}, "phones": [{"phone": "+1 555 0101", "type": "CELL"}]}]),
        ),
        message(
            "wamid.button_reply",
            FROM,
            "interactive",
            json!({"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}),
        ),
        message(
            "wamid.list_reply",
            FROM,
            "interactive",
            json!({"type": "list_reply", "list_reply": {"id": "r1", "title": "Row 1", "description": "first"}}),
        ),
        message(
            "wamid.flow",
            FROM,
            "interactive",
            json!({"type": "nfm_reply", "nfm_reply": {"response_json": "{\"a\":1}", "body": "Sent", "name": "flow"}}),
        ),
        {
            let mut m = message("wamid.button", FROM, "button", json!({"payload": "STOP", "text": "Stop promotions"}));
            m["context"] = json!({"from": "15550100", "id": "wamid.template"});
            m
        },
        message("wamid.reaction", FROM, "reaction", json!({"message_id": "wamid.text", "emoji": "\u{1F44D}"})),
        message("wamid.unreact", FROM, "reaction", json!({"message_id": "wamid.text", "emoji": ""})),
        message(
            "wamid.order",
            FROM,
            "order",
            json!({"catalog_id": "cat", "text": "my order", "product_items": [{"product_retailer_id": "sku1", "quantity": 2, "item_price": 9.5, "currency": "USD"}]}),
        ),
        message(
            "wamid.system",
            FROM,
            "system",
            json!({"body": "User changed number", "type": "user_changed_number", "wa_id": "16505550000"}),
        ),
        message("wamid.welcome", FROM, "request_welcome", Value::Null),
        {
            let mut m = message("wamid.unsupported", FROM, "unsupported", Value::Null);
            m["errors"] = json!([{"code": 131051, "title": "Message type unknown", "message": "Message type unknown", "error_data": {"details": "Message type is currently not supported."}}]);
            m
        },
        message("wamid.hologram", FROM, "hologram", json!({"depth": 3})),
        {
            let mut m = text("wamid.forwarded", FROM, "fwd");
            m["context"] = json!({"forwarded": true, "frequently_forwarded": true});
            m
        },
        {
            let mut m = text("wamid.reply", FROM, "answering");
            m["context"] = json!({"from": "15550100", "id": "wamid.text"});
            m
        },
        {
            let mut m = text("wamid.ad", FROM, "from the ad");
            m["referral"] = json!({"source_url": "https://fb.me/x", "source_id": "ad-1", "source_type": "ad", "headline": "Sale", "body": "50% off", "media_type": "image", "image_url": "https://x/y.jpg", "ctwa_clid": "clid-1"});
            m
        },
    ];
    let n = messages.len();
    let body = serde_json::to_vec(&delivery(vec![contact(FROM, "Ana")], messages, vec![])).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    let report = app.ingest().await;
    assert_eq!(report.messages, n);

    let conversations = app.conversations().await;
    assert_eq!(conversations.len(), 1, "one contact, one conversation");
    assert_eq!(conversations[0]["contact"]["wa_id"], FROM);
    assert_eq!(conversations[0]["contact"]["name"], "Ana");
    assert_eq!(conversations[0]["message_count"], n);
    let all = app.all_messages().await;
    assert_eq!(all.len(), n);
    for m in &all {
        assert_eq!(m["direction"], "inbound");
        assert_eq!(m["status"], "received");
    }
    let get = |w: &str| by_wamid(&all, w);
    assert_eq!(get("wamid.text")["type"], "text");
    assert_eq!(get("wamid.text")["text"], "Hello");
    assert_eq!(get("wamid.image")["content"]["id"], "1479537139650973");
    assert_eq!(get("wamid.image")["text"], "a photo");
    assert_eq!(get("wamid.voice")["content"]["voice"], true);
    assert_eq!(get("wamid.video")["type"], "video");
    assert_eq!(get("wamid.doc")["content"]["filename"], "invoice.pdf");
    assert_eq!(get("wamid.sticker")["type"], "sticker");
    assert_eq!(get("wamid.location")["content"]["latitude"], 38.9);
    assert_eq!(get("wamid.contacts")["content"]["contacts"][0]["name"]["formatted_name"], "Bo");
    assert_eq!(get("wamid.button_reply")["content"]["kind"], "button_reply");
    assert_eq!(get("wamid.button_reply")["text"], "Yes");
    assert_eq!(get("wamid.list_reply")["content"]["description"], "first");
    assert_eq!(get("wamid.flow")["content"]["response_json"], "{\"a\":1}");
    assert_eq!(get("wamid.button")["content"]["payload"], "STOP");
    assert_eq!(get("wamid.button")["context"]["message_id"], "wamid.template");
    assert_eq!(get("wamid.reaction")["content"]["emoji"], "\u{1F44D}");
    assert_eq!(get("wamid.reaction")["content"]["message_id"], "wamid.text");
    assert!(get("wamid.unreact")["content"].get("emoji").is_none(), "an empty emoji removes the reaction");
    assert_eq!(get("wamid.order")["content"]["product_items"][0]["quantity"], 2);
    assert_eq!(get("wamid.system")["content"]["kind"], "user_changed_number");
    assert_eq!(get("wamid.welcome")["type"], "request_welcome");
    assert_eq!(get("wamid.unsupported")["errors"][0]["code"], 131051);
    assert_eq!(get("wamid.hologram")["type"], "unknown");
    assert_eq!(get("wamid.hologram")["content"]["original_type"], "hologram");
    assert_eq!(get("wamid.forwarded")["context"]["frequently_forwarded"], true);
    assert_eq!(get("wamid.reply")["context"]["message_id"], "wamid.text");
    assert_eq!(get("wamid.ad")["referral"]["ctwa_clid"], "clid-1");

    // The raw item of an unknown type is kept.
    let unknown = get("wamid.hologram")["id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.message(unknown).await.unwrap().unwrap();
    assert!(matches!(stored.content, MessageContent::Unknown { .. }));
}

async fn one_delivery_may_carry_many_entries_changes_and_messages(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let change = |from: &str, start: usize| {
        let value = &delivery(
            vec![contact(from, from)],
            (start..start + 25).map(|i| text(&format!("wamid.b{i}"), from, &format!("m{i}"))).collect(),
            vec![],
        )["entry"][0]["changes"][0];
        value.clone()
    };
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [change("16505550001", 0), change("16505550002", 25)]},
            {"id": "2", "changes": [change("16505550003", 50), {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}]},
        ]
    });
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    let report = app.ingest().await;
    assert_eq!(report.messages, 75);
    let conversations = app.conversations().await;
    assert_eq!(conversations.len(), 3);
    let all = app.all_messages().await;
    assert_eq!(all.len(), 75);
    let recorded = app.store.recorded_changes(RecordReason::Field, 10).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].field, "account_update");

    // Within a conversation, messages keep arrival order.
    let first = conversations.iter().find(|c| c["contact"]["wa_id"] == "16505550001").unwrap();
    let texts: Vec<_> = app
        .messages(first["id"].as_str().unwrap())
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, (0..25).map(|i| format!("m{i}")).collect::<Vec<_>>());
}

async fn a_redelivered_message_in_a_different_batch_is_applied_once(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let a = delivery(
        vec![contact(FROM, "Ana")],
        vec![text("wamid.x1", FROM, "one"), text("wamid.x2", FROM, "two")],
        vec![],
    );
    let b = delivery(
        vec![contact(FROM, "Ana")],
        vec![text("wamid.x2", FROM, "two"), text("wamid.x3", FROM, "three")],
        vec![],
    );
    assert_eq!(app.post_webhook(serde_json::to_vec(&a).unwrap()).await.status(), 200);
    assert_eq!(app.post_webhook(serde_json::to_vec(&b).unwrap()).await.status(), 200);
    let report = app.ingest().await;
    assert_eq!((report.messages, report.duplicates), (3, 1));
    assert_eq!(app.all_messages().await.len(), 3);
}

async fn the_open_conversation_is_reused_and_the_window_moves_forward(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let at = |ts: i64, wamid: &str| {
        let mut m = text(wamid, FROM, wamid);
        m["timestamp"] = json!(ts.to_string());
        delivery(vec![contact(FROM, "Ana")], vec![m], vec![])
    };
    let now = Utc::now().timestamp();
    app.post_webhook(serde_json::to_vec(&at(now - 60, "wamid.w1")).unwrap()).await;
    app.post_webhook(serde_json::to_vec(&at(now - 10, "wamid.w2")).unwrap()).await;
    // Older news arriving late must not move the window back.
    app.post_webhook(serde_json::to_vec(&at(now - 3600, "wamid.w0")).unwrap()).await;
    app.ingest().await;
    let conversations = app.conversations().await;
    assert_eq!(conversations.len(), 1);
    let c = &conversations[0];
    let closes: DateTime<Utc> = c["window_closes_at"].as_str().unwrap().parse().unwrap();
    let expected = DateTime::from_timestamp(now - 10, 0).unwrap() + Duration::hours(24);
    assert_eq!(closes, expected);
    assert_eq!(c["window_open"], true);
    assert_eq!(c["status"], "open");
    let last: DateTime<Utc> = c["last_inbound_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(last, DateTime::from_timestamp(now - 10, 0).unwrap());
}

async fn an_ad_referral_opens_a_72_hour_window(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let now = Utc::now().timestamp();
    let mut m = text("wamid.ad72", FROM, "hi from the ad");
    m["timestamp"] = json!(now.to_string());
    m["referral"] = json!({"source_type": "ad", "source_id": "1", "ctwa_clid": "c"});
    app.post_webhook(serde_json::to_vec(&delivery(vec![contact(FROM, "Ana")], vec![m], vec![])).unwrap()).await;
    app.ingest().await;
    let c = &app.conversations().await[0];
    let closes: DateTime<Utc> = c["window_closes_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(closes, DateTime::from_timestamp(now, 0).unwrap() + Duration::hours(72));
}

/// Records an outbound message in the only conversation and returns its id.
async fn outbound(app: &mut TestApp, wamid: Option<&str>) -> switchboard_domain::MessageId {
    app.post_webhook(serde_json::to_vec(&text_delivery("wamid.in", FROM, "hi")).unwrap()).await;
    app.ingest().await;
    let conv: ConversationId = app.conversations().await[0]["id"].as_str().unwrap().parse().unwrap();
    app.store
        .insert_outbound(&NewOutboundMessage {
            conversation_id: conv,
            content: MessageContent::Text { body: "Hello from support".into() },
            state: if wamid.is_some() { DeliveryState::Sent } else { DeliveryState::Queued },
            wamid: wamid.map(|w| Wamid::parse(w).unwrap()),
            sent_by: None,
            at: Utc::now(),
        })
        .await
        .unwrap()
}

async fn statuses_move_an_outbound_message_forward_only(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = outbound(&mut app, Some("wamid.out")).await;
    let post = |statuses: Vec<Value>| serde_json::to_vec(&delivery(vec![], vec![], statuses)).unwrap();
    app.post_webhook(post(vec![status("wamid.out", "read", 1_767_225_700)])).await;
    app.ingest().await;
    // Delivered arrives after read: recorded, but the state does not go back.
    app.post_webhook(post(vec![status("wamid.out", "delivered", 1_767_225_650)])).await;
    app.ingest().await;
    let m = app.store.message(id).await.unwrap().unwrap();
    assert_eq!(m.state, DeliveryState::Read);
    assert!(m.read_at.is_some() && m.delivered_at.is_some());
    // A failure after read does not count.
    app.post_webhook(post(vec![failed_status("wamid.out", 131047, "Re-engagement message", 1_767_225_800)])).await;
    app.ingest().await;
    assert_eq!(app.store.message(id).await.unwrap().unwrap().state, DeliveryState::Read);
}

async fn a_failure_records_metas_code_and_title(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = outbound(&mut app, Some("wamid.fail")).await;
    let body =
        delivery(vec![], vec![], vec![failed_status("wamid.fail", 131026, "Message undeliverable", 1_767_225_700)]);
    app.post_webhook(serde_json::to_vec(&body).unwrap()).await;
    app.ingest().await;
    let conv = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    let messages = app.messages(&conv).await;
    let m = messages.iter().find(|m| m["id"] == id.to_string()).unwrap();
    assert_eq!(m["status"], "failed");
    assert_eq!(m["error"]["code"], 131026);
    assert_eq!(m["error"]["title"], "Message undeliverable");
    assert!(m["failed_at"].is_string());
}

async fn a_status_before_its_message_is_kept_and_applied_later(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let statuses =
        vec![status("wamid.early", "sent", 1_767_225_600), status("wamid.early", "delivered", 1_767_225_610)];
    app.post_webhook(serde_json::to_vec(&delivery(vec![], vec![], statuses)).unwrap()).await;
    let report = app.ingest().await;
    assert_eq!(report.statuses, 2);
    // The message appears only now (e.g. the sender records Meta's answer after the webhook).
    let id = outbound(&mut app, None).await;
    app.store.record_sent(id, &Wamid::parse("wamid.early").unwrap(), Utc::now()).await.unwrap();
    let m = app.store.message(id).await.unwrap().unwrap();
    assert_eq!(m.state, DeliveryState::Delivered);
    assert!(m.delivered_at.is_some());
}

async fn deliveries_for_an_unknown_number_are_kept_and_reported(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let body = delivery_for("999999999", vec![contact(FROM, "Ana")], vec![text("wamid.stray", FROM, "hi")], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await;
    assert!(app.conversations().await.is_empty());
    let kept = app.store.recorded_changes(RecordReason::NoChannel, 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].value["messages"][0]["id"], "wamid.stray");
    let stats = app.store.event_log_stats().await.unwrap();
    assert_eq!((stats.pending, stats.applied, stats.failed), (0, 1, 0));
}

async fn kept_deliveries_are_applied_once_their_number_gets_a_channel(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let stray = delivery_for(
        "999999999",
        vec![contact(FROM, "Ana")],
        vec![text("wamid.early1", FROM, "hi"), text("wamid.early2", FROM, "anyone?")],
        vec![],
    );
    app.post_webhook(serde_json::to_vec(&stray).unwrap()).await;
    app.ingest().await;
    assert!(app.conversations().await.is_empty());
    let db = app.stop().await;

    // The admin configures the number; at start-up the kept deliveries are replayed.
    let opts = AppOptions { env: vec![("SWITCHBOARD_PHONE_NUMBER_ID", "999999999".into())], ..AppOptions::default() };
    let mut app = start_on(db, opts).await;
    app.ingest().await;
    assert!(app.store.recorded_changes(RecordReason::NoChannel, 10).await.unwrap().is_empty());
    let messages = app.all_messages().await;
    let mut wamids: Vec<_> = messages.iter().map(|m| m["wamid"].as_str().unwrap().to_owned()).collect();
    wamids.sort();
    assert_eq!(wamids, ["wamid.early1", "wamid.early2"]);
    assert_eq!(app.conversations().await[0]["phone_number_id"], "999999999");
    // A second restart replays nothing more.
    let db = app.stop().await;
    let mut app = start_on(
        db,
        AppOptions { env: vec![("SWITCHBOARD_PHONE_NUMBER_ID", "999999999".into())], ..AppOptions::default() },
    )
    .await;
    app.ingest().await;
    assert_eq!(app.all_messages().await.len(), 2);
}

async fn other_fields_and_malformed_items_are_recorded_not_dropped(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let template = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "time": 1_767_225_600, "changes": [
        {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 123, "message_template_name": "hello", "message_template_language": "en_US", "reason": "NONE"}}
    ]}]});
    app.post_webhook(serde_json::to_vec(&template).unwrap()).await;
    let mut broken =
        delivery(vec![], vec![json!({"from": FROM, "type": "interactive", "timestamp": "1767225600"})], vec![]);
    broken["entry"][0]["changes"][0]["value"]["errors"] =
        json!([{"code": 131000, "title": "Unsupported webhook payload"}]);
    app.post_webhook(serde_json::to_vec(&broken).unwrap()).await;
    app.post_webhook(serde_json::to_vec(&json!({"hello": "world"})).unwrap()).await;
    app.ingest().await;
    let fields = app.store.recorded_changes(RecordReason::Field, 10).await.unwrap();
    assert_eq!(fields[0].field, "message_template_status_update");
    assert_eq!(app.store.recorded_changes(RecordReason::Malformed, 10).await.unwrap().len(), 2);
    assert_eq!(app.store.recorded_changes(RecordReason::ChangeErrors, 10).await.unwrap().len(), 1);
    let stats = app.store.event_log_stats().await.unwrap();
    assert_eq!((stats.pending, stats.applied, stats.failed), (0, 3, 0));
}

/// Issue 22.5 (found by fuzzing): Meta's timestamps are believed only up to the arrival;
/// implausible ones (chrono's extremes) become the arrival, so every time shown is RFC 3339.
async fn implausible_meta_timestamps_become_the_arrival_time(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let before = Utc::now() - Duration::seconds(1);
    let mut far = text("wamid.future", FROM, "from the future");
    far["timestamp"] = json!("8210266876799");
    let mut past = text("wamid.past", "4915112345678", "from the past");
    past["timestamp"] = json!("-8210266876799");
    let body = delivery(vec![contact(FROM, "Ana"), contact("4915112345678", "Ben")], vec![far, past], vec![]);
    app.post_webhook(serde_json::to_vec(&body).unwrap()).await;
    app.ingest().await;
    let id = outbound(&mut app, Some("wamid.out")).await;
    let post = |statuses: Vec<Value>| serde_json::to_vec(&delivery(vec![], vec![], statuses)).unwrap();
    app.post_webhook(post(vec![status("wamid.out", "delivered", 8_210_266_876_799)])).await;
    app.post_webhook(post(vec![status("wamid.out", "read", -8_210_266_876_799)])).await;
    app.ingest().await;
    let after = Utc::now() + Duration::seconds(1);
    let plausible = |v: &Value, what: &str| {
        let s = v.as_str().unwrap_or_else(|| panic!("{what} missing: {v}"));
        let t: DateTime<Utc> = DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{what} {s}: {e}")).into();
        assert!(before <= t && t <= after, "{what} = {s}");
    };
    let conversations = app.conversations().await;
    assert_eq!(conversations.len(), 2);
    for c in &conversations {
        for field in ["last_message_at", "last_inbound_at", "window_closes_at"] {
            if field == "window_closes_at" {
                let closes: DateTime<Utc> = c[field].as_str().unwrap().parse().unwrap();
                assert!(closes > before && closes <= after + Duration::hours(24), "{c}");
            } else {
                plausible(&c[field], field);
            }
        }
        if !c["waiting_since"].is_null() {
            plausible(&c["waiting_since"], "waiting_since");
        }
        for m in app.messages(c["id"].as_str().unwrap()).await {
            plausible(&m["timestamp"], "timestamp");
        }
    }
    let m = app.store.message(id).await.unwrap().unwrap();
    assert_eq!(m.state, DeliveryState::Read);
    for t in [m.delivered_at, m.read_at] {
        let t = t.expect("stamped");
        assert!(before <= t && t <= after, "{t}");
    }
}

both_backends!(
    every_message_type_is_stored_with_its_content,
    one_delivery_may_carry_many_entries_changes_and_messages,
    a_redelivered_message_in_a_different_batch_is_applied_once,
    the_open_conversation_is_reused_and_the_window_moves_forward,
    an_ad_referral_opens_a_72_hour_window,
    statuses_move_an_outbound_message_forward_only,
    a_failure_records_metas_code_and_title,
    a_status_before_its_message_is_kept_and_applied_later,
    deliveries_for_an_unknown_number_are_kept_and_reported,
    kept_deliveries_are_applied_once_their_number_gets_a_channel,
    other_fields_and_malformed_items_are_recorded_not_dropped,
    implausible_meta_timestamps_become_the_arrival_time,
);
