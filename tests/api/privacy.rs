//! Privacy: erasing one contact, looked for afterwards in the database files (SQLite: the
//! database and its write-ahead log, byte for byte; PostgreSQL: every row of every table,
//! and every bytea column) and the media directory; and retention by age, dry run first.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use switchboard_core::{HousekeepingOptions, MediaCacheLimits, Privacy, RetentionPace};
use switchboard_domain::ContactId;
use switchboard_store::{RetentionPolicy, ScrubLimits};
use switchboard_tests::payloads::{contact, delivery, message, text};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::agents::{call, new_agent};

both_backends!(
    an_erased_contact_is_nowhere_in_the_database_or_the_media_directory,
    an_interrupted_erasure_continues,
    erasure_is_for_admins_and_names_a_contact,
    retention_removes_old_content_after_a_dry_run,
    retention_policies_are_validated,
    retention_steps_keep_to_their_message_budget,
    erasing_a_contact_with_many_messages,
);

const NUMBER: &str = "447700900461";
const NAME: &str = "Zebulon Quartermaine";
const PHRASE: &str = "marmalade-octopus-5519";
const MEDIA_ID: &str = "3141592653589793";
const OTHER: &str = "447700900999";

fn image(wamid: &str, from: &str, media_id: &str, caption: &str) -> Value {
    message(
        wamid,
        from,
        "image",
        json!({"caption": caption, "mime_type": "image/jpeg", "sha256": "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=",
               "id": media_id}),
    )
}

async fn deliver(app: &mut TestApp, body: &Value) {
    assert_eq!(app.post_webhook(serde_json::to_vec(body).unwrap()).await.status(), 200);
    app.ingest().await;
}

/// (conversation id, contact id) of the conversation with this number.
async fn conversation_of(app: &TestApp, wa_id: &str) -> (String, String) {
    let c = app
        .conversations()
        .await
        .into_iter()
        .find(|c| c["contact"]["wa_id"] == wa_id)
        .unwrap_or_else(|| panic!("no conversation with {wa_id}"));
    (c["id"].as_str().unwrap().to_owned(), c["contact"]["id"].as_str().unwrap().to_owned())
}

async fn ok(res: reqwest::Response, what: &str) -> Value {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// A customer who wrote text and a photo (fetched into the cache), got a reply that was
/// delivered, has a note, a name and an attribute; and another customer.
async fn customer(app: &mut TestApp) -> (String, String) {
    let mut photo = format!("JPEG {PHRASE} ").into_bytes();
    photo.extend(std::iter::repeat_n(0x5a, 5000));
    app.graph.media(MEDIA_ID, &photo, "image/jpeg", 1).await;
    let body = delivery(
        vec![contact(NUMBER, NAME)],
        vec![
            text("wamid.erase.1", NUMBER, &format!("my code is {PHRASE}, call me on +{NUMBER}")),
            image("wamid.erase.2", NUMBER, MEDIA_ID, &format!("{PHRASE} receipt")),
        ],
        vec![],
    );
    deliver(app, &body).await;
    deliver(app, &delivery(vec![contact(OTHER, "Olive Other")], vec![text("wamid.other.1", OTHER, "keep me")], vec![]))
        .await;
    let (conversation, contact_id) = conversation_of(app, NUMBER).await;
    let messages = app.messages(&conversation).await;
    let photo_id = messages.iter().find(|m| m["type"] == "image").unwrap()["id"].as_str().unwrap().to_owned();
    let res = app.get(&format!("/api/v1/messages/{photo_id}/media")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), photo.as_slice());
    // The cache entry is renamed into place as the download ends.
    for _ in 0..100 {
        if app.media_dir.0.join(MEDIA_ID).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(app.media_dir.0.join(MEDIA_ID).exists(), "the photo is cached");

    ok(
        app.post_json(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &json!({"type": "text", "text": format!("Hello {NAME}, about {PHRASE}")}),
        )
        .await,
        "reply",
    )
    .await;
    app.send().await;
    let reply = app.messages(&conversation).await.into_iter().find(|m| m["direction"] == "outbound").unwrap();
    let wamid = reply["wamid"].as_str().expect("the reply was sent").to_owned();
    let ts = Utc::now().timestamp().to_string();
    let status = json!({"id": wamid, "status": "delivered", "timestamp": ts, "recipient_id": NUMBER});
    deliver(app, &delivery(vec![], vec![], vec![status])).await;

    ok(
        app.post_json(
            &format!("/api/v1/conversations/{conversation}/notes"),
            &json!({"text": format!("{NAME} asked about {PHRASE}")}),
        )
        .await,
        "note",
    )
    .await;
    ok(
        call(
            app,
            Method::PATCH,
            &format!("/api/v1/contacts/{contact_id}"),
            Some(&app.token),
            Some(json!({"name": NAME, "attributes": {"code": PHRASE}})),
        )
        .await,
        "contact",
    )
    .await;
    // A consent change recorded by hand, its note naming them.
    ok(
        app.post_json(
            &format!("/api/v1/contacts/{contact_id}/consent"),
            &json!({"state": "opted_out", "source": "agent", "note": format!("{NAME} asked by phone, {PHRASE}")}),
        )
        .await,
        "consent",
    )
    .await;
    ok(
        app.post_json(&format!("/api/v1/conversations/{conversation}/status"), &json!({"status": "resolved"})).await,
        "resolve",
    )
    .await;
    (conversation, contact_id)
}

/// Where each needle occurs: database files or rows, and media files.
async fn occurrences(app: &TestApp, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    match app.db.backend {
        Backend::Sqlite => {
            let file = app.db.url.trim_start_matches("sqlite://").to_owned();
            for path in [file.clone(), format!("{file}-wal")] {
                let Ok(bytes) = std::fs::read(&path) else { continue };
                for n in needles {
                    if contains(&bytes, n.as_bytes()) {
                        found.push(format!("{n} in {path}"));
                    }
                }
            }
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            assert!(tables.iter().any(|t| t == "messages"), "{tables:?}");
            for t in &tables {
                for n in needles {
                    let hits: i64 =
                        sqlx::query_scalar(&format!(r#"SELECT COUNT(*) FROM "{t}" x WHERE x::text LIKE $1"#))
                            .bind(format!("%{n}%"))
                            .fetch_one(&mut conn)
                            .await
                            .unwrap();
                    if hits > 0 {
                        found.push(format!("{n} in table {t}"));
                    }
                }
            }
            let bytea = sqlx::query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND data_type = 'bytea'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for row in bytea {
                let (t, c): (String, String) = (row.get(0), row.get(1));
                for n in needles {
                    let hits: i64 = sqlx::query_scalar(&format!(
                        r#"SELECT COUNT(*) FROM "{t}" WHERE position($1::bytea IN "{c}") > 0"#
                    ))
                    .bind(n.as_bytes())
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                    if hits > 0 {
                        found.push(format!("{n} in {t}.{c}"));
                    }
                }
            }
            let _ = conn.close().await;
        }
    }
    found.extend(in_media_dir(&app.media_dir.0, needles));
    found
}

fn in_media_dir(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        for n in needles {
            if name.contains(n) || contains(&bytes, n.as_bytes()) {
                found.push(format!("{n} in media file {name}"));
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// (first response, resolution) seconds of each conversation, and their number.
async fn kpis(app: &TestApp) -> Vec<(Option<i64>, Option<i64>)> {
    let mut out = Vec::new();
    for c in app.conversations().await {
        let kpi = app.store.conversation_kpis(c["id"].as_str().unwrap().parse().unwrap()).await.unwrap();
        out.push(
            kpi.map_or((None, None), |k| (k.first_response.map(|f| f.took.seconds), k.resolution.map(|r| r.seconds))),
        );
    }
    out.sort();
    out
}

async fn an_erased_contact_is_nowhere_in_the_database_or_the_media_directory(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (conversation, contact_id) = customer(&mut app).await;
    let needles = [NUMBER, NAME, PHRASE];
    assert!(!occurrences(&app, &needles).await.is_empty(), "the test looks where the data is");
    let before_kpis = kpis(&app).await;
    let before_messages = app.messages(&conversation).await.len();

    let job = ok(app.post_json(&format!("/api/v1/contacts/{contact_id}/erase"), &json!({})).await, "erase").await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["contact_id"], contact_id.as_str());
    assert!(job["messages"].as_i64().unwrap() >= 3, "{job}");
    assert!(job["events"].as_i64().unwrap() >= 2, "the inbound delivery and the status: {job}");
    let again = app.get_json(&format!("/api/v1/erasures/{}", job["id"].as_str().unwrap())).await;
    assert_eq!(again["state"], "done");

    let found = occurrences(&app, &needles).await;
    assert!(found.is_empty(), "still found: {found:?}");
    assert!(!app.media_dir.0.join(MEDIA_ID).exists());

    // What reports count stays; the content does not.
    assert_eq!(app.conversations().await.len(), 2);
    assert_eq!(kpis(&app).await, before_kpis);
    let messages = app.messages(&conversation).await;
    assert_eq!(messages.len(), before_messages);
    for m in &messages {
        assert!(m["text"].is_null(), "{m}");
        assert!(m["wamid"].is_null(), "{m}");
    }
    let erased = app.get_json(&format!("/api/v1/contacts/{contact_id}")).await;
    assert!(erased["name"].is_null() && erased["profile_name"].is_null(), "{erased}");
    assert_eq!(erased["attributes"], json!({}));
    assert_ne!(erased["wa_id"], NUMBER);
    // The other customer is untouched.
    let (other, _) = conversation_of(&app, OTHER).await;
    assert_eq!(app.messages(&other).await[0]["text"], "keep me");

    // Idempotent.
    let job2 = ok(app.post_json(&format!("/api/v1/contacts/{contact_id}/erase"), &json!({})).await, "again").await;
    assert_eq!(job2["state"], "done");
    assert!(occurrences(&app, &needles).await.is_empty());

    // A later message from the number starts a fresh contact.
    deliver(
        &mut app,
        &delivery(vec![contact(NUMBER, "Zeb")], vec![text("wamid.erase.9", NUMBER, "hello again")], vec![]),
    )
    .await;
    let (fresh_conversation, fresh_contact) = conversation_of(&app, NUMBER).await;
    assert_ne!(fresh_contact, contact_id);
    assert_ne!(fresh_conversation, conversation);
    assert_eq!(app.conversations().await.len(), 3);
}

async fn an_interrupted_erasure_continues(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (conversation, contact_id) = customer(&mut app).await;
    let contact = ContactId::from_uuid(contact_id.parse().unwrap());
    // A crash after the first batch of one message.
    let job = app.store.begin_erasure(contact, None, Utc::now()).await.unwrap().unwrap();
    let one = ScrubLimits { messages: 1, events: 1, conversations: 1, retention_messages: 1 };
    let privacy = Privacy::new(app.store.as_ref(), Some(&app.media_dir.0)).with_limits(one);
    let media = app.store.erasure_media(job.id, one).await.unwrap();
    assert!(media.is_empty(), "the first message is the text");
    let mid = app.store.erasure_step(job.id, one, Utc::now()).await.unwrap();
    assert_eq!(mid.messages, 1);
    assert!(!mid.is_done());
    // The same contact's erasure, asked again meanwhile, is the same job.
    let same = app.store.begin_erasure(contact, None, Utc::now()).await.unwrap().unwrap();
    assert_eq!(same.id, job.id);
    // A running job is left alone until it looks abandoned.
    assert_eq!(privacy.resume_erasures(Utc::now()).await.unwrap(), 0);
    let later = Utc::now() + chrono::Duration::minutes(5);
    assert_eq!(privacy.resume_erasures(later).await.unwrap(), 1);
    let done = app.store.erasure(job.id).await.unwrap().unwrap();
    assert!(done.is_done());
    assert!(done.messages >= 3, "{done:?}");
    assert!(app.store.unfinished_erasures().await.unwrap().is_empty());
    let found = occurrences(&app, &[NUMBER, NAME, PHRASE]).await;
    assert!(found.is_empty(), "still found: {found:?}");
    for m in app.messages(&conversation).await {
        assert!(m["text"].is_null(), "{m}");
    }
}

async fn erasure_is_for_admins_and_names_a_contact(backend: Backend) {
    let mut app = spawn_app(backend).await;
    deliver(&mut app, &delivery(vec![contact(OTHER, "Olive")], vec![text("wamid.a.1", OTHER, "hi")], vec![])).await;
    let (_, contact_id) = conversation_of(&app, OTHER).await;
    let (_, agent_token) = new_agent(&app, "Agnes").await;
    let path = format!("/api/v1/contacts/{contact_id}/erase");
    let res = call(&app, Method::POST, &path, Some(&agent_token), None).await;
    assert_eq!(res.status(), 403);
    let res = call(&app, Method::POST, &path, None, None).await;
    assert_eq!(res.status(), 401);
    let missing = format!("/api/v1/contacts/{}/erase", uuid::Uuid::now_v7());
    assert_eq!(app.post_json(&missing, &json!({})).await.status(), 404);
    assert_eq!(app.get(&format!("/api/v1/erasures/{}", uuid::Uuid::now_v7())).await.status(), 404);
    assert_eq!(app.get("/api/v1/erasures/not-an-id").await.status(), 404);
    // Nothing was erased.
    let (conversation, _) = conversation_of(&app, OTHER).await;
    assert_eq!(app.messages(&conversation).await[0]["text"], "hi");
}

/// Moves a conversation's resolution, and its messages, `days` into the past.
async fn age(app: &TestApp, conversation: &str, days: i64) {
    let id: uuid::Uuid = conversation.parse().unwrap();
    match app.db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
            let ms = days * 86_400_000;
            sqlx::query("UPDATE conversations SET resolved_at = resolved_at - ?1 WHERE id = ?2")
                .bind(ms)
                .bind(id)
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("UPDATE messages SET timestamp = timestamp - ?1 WHERE conversation_id = ?2")
                .bind(ms)
                .bind(id)
                .execute(&mut conn)
                .await
                .unwrap();
            let _ = conn.close().await;
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
            let interval = format!("{days} days");
            sqlx::query("UPDATE conversations SET resolved_at = resolved_at - $1::interval WHERE id = $2")
                .bind(&interval)
                .bind(id)
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("UPDATE messages SET timestamp = timestamp - $1::interval WHERE conversation_id = $2")
                .bind(&interval)
                .bind(id)
                .execute(&mut conn)
                .await
                .unwrap();
            let _ = conn.close().await;
        }
    }
}

async fn retention_removes_old_content_after_a_dry_run(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (old, _) = customer(&mut app).await;
    age(&app, &old, 40).await;
    // A recent photo in an open conversation, and an old one.
    app.graph.media("2718281828", b"recent photo bytes", "image/jpeg", 1).await;
    deliver(
        &mut app,
        &delivery(vec![contact(OTHER, "Olive")], vec![image("wamid.other.2", OTHER, "2718281828", "new")], vec![]),
    )
    .await;
    let (open, _) = conversation_of(&app, OTHER).await;
    let photo = |messages: Vec<Value>| messages.into_iter().find(|m| m["type"] == "image").unwrap();
    let recent = photo(app.messages(&open).await);
    let res = app.get(&format!("/api/v1/messages/{}/media", recent["id"].as_str().unwrap())).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"recent photo bytes");
    let before_kpis = kpis(&app).await;
    let channel = app.conversations().await[0]["channel_id"].as_str().unwrap().to_owned();

    let policy = app.get_json(&format!("/api/v1/admin/channels/{channel}/retention")).await;
    assert_eq!(policy, json!({"channel_id": channel, "conversations_days": null, "media_days": null}));
    assert_eq!(app.get_json("/api/v1/admin/retention/preview").await["channels"], json!([]));
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/admin/channels/{channel}/retention"),
        Some(&app.token),
        Some(json!({"conversations_days": 30, "media_days": 90})),
    )
    .await;
    let policy = ok(res, "put").await;
    assert_eq!(policy["conversations_days"], 30);
    assert_eq!(app.get_json(&format!("/api/v1/admin/channels/{channel}/retention")).await, policy);

    // The dry run says what would go, and removes nothing.
    let old_messages = app.messages(&old).await.len();
    let preview = app.get_json("/api/v1/admin/retention/preview").await;
    let expect = json!([{"channel_id": channel, "conversations_days": 30, "media_days": 90,
        "conversations": 1, "messages": old_messages, "media": 1}]);
    assert_eq!(preview["channels"], expect, "{preview}");
    assert_eq!(app.get_json("/api/v1/admin/retention/preview").await["channels"], expect);
    assert!(app.messages(&old).await.iter().any(|m| !m["text"].is_null()));

    // The housekeeping pass applies it, in batches of one.
    let opts = HousekeepingOptions {
        media: Some((app.media_dir.0.clone(), MediaCacheLimits::default())),
        retention_pace: RetentionPace::UNPACED,
        ..HousekeepingOptions::default()
    };
    let report =
        switchboard_core::Housekeeper::new(std::sync::Arc::clone(&app.store), opts).run_once(Utc::now()).await.unwrap();
    assert_eq!(report.retention.conversations, 1);
    assert_eq!(report.retention.messages, i64::try_from(old_messages).unwrap());
    let preview = app.get_json("/api/v1/admin/retention/preview").await;
    assert_eq!(preview["channels"][0]["conversations"], 0, "{preview}");
    assert_eq!(preview["channels"][0]["messages"], 0);
    assert_eq!(preview["channels"][0]["media"], 0);

    // The old conversation is still counted, with its KPIs, but its content is gone.
    assert_eq!(app.conversations().await.len(), 2);
    assert_eq!(kpis(&app).await, before_kpis);
    let messages = app.messages(&old).await;
    assert_eq!(messages.len(), old_messages);
    assert!(messages.iter().all(|m| m["text"].is_null()), "{messages:?}");
    assert!(app.get_json(&format!("/api/v1/conversations/{old}/notes")).await["items"].as_array().unwrap().is_empty());
    assert!(!app.media_dir.0.join(MEDIA_ID).exists(), "the old photo's file is gone");
    // The recent conversation is untouched.
    assert_eq!(photo(app.messages(&open).await)["text"], "new");

    // Media past media_days goes on its own, conversation or not.
    age(&app, &open, 100).await;
    let preview = app.get_json("/api/v1/admin/retention/preview").await;
    assert_eq!(preview["channels"][0]["media"], 1, "{preview}");
    let privacy = Privacy::new(app.store.as_ref(), Some(&app.media_dir.0));
    let removed = privacy
        .retention_pass(Utc::now(), RetentionPace::UNPACED, &tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(removed.media, 1);
    let recent = photo(app.messages(&open).await);
    let res = app.get(&format!("/api/v1/messages/{}/media", recent["id"].as_str().unwrap())).await;
    assert_eq!(res.status(), 404);
    assert_eq!(recent["text"], "new", "only the file goes");
    assert!(!app.media_dir.0.join("2718281828").exists());
}

/// A retention step anonymises at most `retention_messages` messages, the oldest
/// conversations first: a longer conversation takes several steps, each going on where the
/// last stopped (its cursor is stored, so a restart goes on there too), and counts once,
/// at the step that finishes it.
async fn retention_steps_keep_to_their_message_budget(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (first, _) = customer(&mut app).await;
    let (second, _) = conversation_of(&app, OTHER).await;
    ok(
        app.post_json(&format!("/api/v1/conversations/{second}/status"), &json!({"status": "resolved"})).await,
        "resolve",
    )
    .await;
    age(&app, &first, 40).await;
    age(&app, &second, 40).await;
    let (first_messages, second_messages) = (app.messages(&first).await.len(), app.messages(&second).await.len());
    assert!(first_messages > 2 && second_messages == 1, "{first_messages} {second_messages}");
    let channel = app.conversations().await[0]["channel_id"].as_str().unwrap().parse().unwrap();
    let channel = switchboard_domain::ChannelId::from_uuid(channel);
    let policy = RetentionPolicy { conversations_days: Some(30), media_days: None };
    let budget = |n: usize| ScrubLimits { retention_messages: u32::try_from(n).unwrap(), ..ScrubLimits::default() };

    // Two messages of the oldest: it is not finished, nor is the pass.
    let step = app.store.retention_step(channel, policy, budget(2), Utc::now()).await.unwrap();
    assert_eq!((step.counts.conversations, step.counts.messages), (0, 2));
    assert!(!step.finished);
    assert!(app.messages(&second).await.iter().all(|m| !m["text"].is_null()), "not yet");
    // The dry run counts only what is left.
    let preview = app.store.retention_preview(channel, policy, Utc::now()).await.unwrap();
    assert_eq!(
        (preview.conversations, preview.messages),
        (2, i64::try_from(first_messages + second_messages - 2).unwrap())
    );
    // The rest of it, then the next, a message at a time.
    let mut steps = vec![];
    loop {
        let step = app.store.retention_step(channel, policy, budget(1), Utc::now()).await.unwrap();
        steps.push((step.counts.conversations, step.counts.messages));
        if step.finished {
            break;
        }
        assert!(steps.len() <= first_messages + second_messages, "{steps:?}");
    }
    assert!(steps.iter().all(|&(_, m)| m <= 1), "{steps:?}");
    let total: (i64, i64) = steps.iter().fold((0, 0), |(c, m), &(sc, sm)| (c + sc, m + sm));
    assert_eq!(total, (2, i64::try_from(first_messages + second_messages - 2).unwrap()), "{steps:?}");
    assert!(app.messages(&first).await.iter().all(|m| m["text"].is_null()));
    assert!(app.messages(&second).await.iter().all(|m| m["text"].is_null()));
    // Nothing is left: another step does nothing.
    let step = app.store.retention_step(channel, policy, budget(1), Utc::now()).await.unwrap();
    assert_eq!((step.counts.conversations, step.counts.messages, step.finished), (0, 0, true));
}

async fn retention_policies_are_validated(backend: Backend) {
    let mut app = spawn_app(backend).await;
    deliver(&mut app, &delivery(vec![contact(OTHER, "Olive")], vec![text("wamid.r.1", OTHER, "hi")], vec![])).await;
    let channel = app.conversations().await[0]["channel_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/channels/{channel}/retention");
    for (body, field) in [
        (json!({"conversations_days": 0}), "conversations_days"),
        (json!({"media_days": -3}), "media_days"),
        (json!({"media_days": 40000}), "media_days"),
    ] {
        let res = call(&app, Method::PUT, &path, Some(&app.token), Some(body.clone())).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, 422, "{body}: {text}");
        assert!(text.contains(field), "{body}: {text}");
    }
    for body in [json!({"conversations_days": "ten"}), json!({"other": 1}), json!([])] {
        let res = call(&app, Method::PUT, &path, Some(&app.token), Some(body.clone())).await;
        assert!(res.status().is_client_error(), "{body}: {}", res.status());
    }
    let missing = format!("/api/v1/admin/channels/{}/retention", uuid::Uuid::now_v7());
    assert_eq!(app.get(&missing).await.status(), 404);
    let res = call(&app, Method::PUT, &missing, Some(&app.token), Some(json!({"media_days": 5}))).await;
    assert_eq!(res.status(), 404);
    let (_, agent_token) = new_agent(&app, "Agnes").await;
    let res = call(&app, Method::GET, "/api/v1/admin/retention/preview", Some(&agent_token), None).await;
    assert_eq!(res.status(), 403);
    // Nothing was set.
    assert_eq!(app.get_json(&path).await["conversations_days"], Value::Null);
}

/// A contact with many messages (`ERASURE_BENCH_MESSAGES`, 2,000 by default; the target in
/// docs/BENCHMARKS.md is 10,000 in under 2 s) is erased through the API; prints the time.
async fn erasing_a_contact_with_many_messages(backend: Backend) {
    let n: usize = std::env::var("ERASURE_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let mut app = spawn_app(backend).await;
    let mut sent = 0;
    while sent < n {
        let batch: Vec<Value> = (sent..n.min(sent + 200))
            .map(|i| text(&format!("wamid.bench.{i}"), NUMBER, &format!("{PHRASE} number {i}")))
            .collect();
        sent += batch.len();
        assert_eq!(
            app.post_webhook(serde_json::to_vec(&delivery(vec![contact(NUMBER, NAME)], batch, vec![])).unwrap())
                .await
                .status(),
            200
        );
    }
    app.ingest().await;
    let (conversation, contact_id) = conversation_of(&app, NUMBER).await;
    let started = std::time::Instant::now();
    let job = ok(app.post_json(&format!("/api/v1/contacts/{contact_id}/erase"), &json!({})).await, "erase").await;
    let took = started.elapsed();
    eprintln!("{backend:?}: erased a contact with {n} messages in {} ms", took.as_millis());
    assert_eq!(job["messages"], i64::try_from(n).unwrap());
    assert!(took < Duration::from_secs(30), "{took:?}");
    let found = occurrences(&app, &[NUMBER, NAME, PHRASE]).await;
    assert!(found.is_empty(), "still found: {found:?}");
    assert_eq!(app.messages(&conversation).await.len(), n);
}
