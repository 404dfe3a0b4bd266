//! Outgoing webhooks (Standard Webhooks): every delivery is verified with the
//! specification's reference Rust library (`standardwebhooks`), not our signer.

use chrono::Utc;
use serde_json::{Value, json};
use standardwebhooks::Webhook;
use switchboard_tests::payloads::text_delivery;
use switchboard_tests::{AppOptions, Backend, TestApp, both_backends, spawn_app, spawn_app_with};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const FROM: &str = "447700900001";

async fn create_endpoint(app: &TestApp, body: Value) -> Value {
    let res = app.post_json("/api/v1/admin/webhooks", &body).await;
    assert_eq!(res.status(), 201, "create endpoint");
    res.json().await.unwrap()
}

/// A receiver answering `status` to everything.
async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(status)).mount(&server).await;
    server
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn body_json(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn header<'a>(r: &'a Request, name: &str) -> &'a str {
    r.headers.get(name).unwrap().to_str().unwrap()
}

/// A customer writes once; the ingest worker applies it.
async fn customer_writes(app: &mut TestApp, wamid: &str, text: &str) {
    let body = serde_json::to_vec(&text_delivery(wamid, FROM, text)).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
}

async fn deliveries_are_signed_per_the_specification(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = receiver(204).await;
    let endpoint = create_endpoint(&app, json!({"url": format!("{}/hooks", server.uri()), "description": "CRM"})).await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(endpoint["event_types"].as_array().unwrap().is_empty());
    // The secret is shown once.
    let id = endpoint["id"].as_str().unwrap();
    let again = app.get_json(&format!("/api/v1/admin/webhooks/{id}")).await;
    assert!(again.get("secret").is_none(), "{again}");

    customer_writes(&mut app, "wamid.out.1", "Where is my order?").await;
    let report = app.webhook_worker("127.0.0.1").run_until_idle(Utc::now()).await.unwrap();
    assert_eq!(report.delivered, report.attempted);

    let requests = received(&server).await;
    let verifier = Webhook::new(&secret).unwrap();
    let mut types = Vec::new();
    for r in &requests {
        verifier.verify(&r.body, &r.headers).expect("the reference library verifies the signature");
        assert!(header(r, "webhook-id").starts_with("msg_"));
        let b = body_json(r);
        assert_eq!(b["version"], 1);
        types.push(b["type"].as_str().unwrap().to_owned());
        if b["type"] == "message.created" {
            assert_eq!(b["data"]["message"]["text"], "Where is my order?");
            assert_eq!(b["data"]["message"]["direction"], "inbound");
            assert_eq!(b["data"]["contact"]["wa_id"], FROM);
            assert_eq!(b["data"]["conversation"]["status"], "open");
        }
    }
    types.sort();
    assert_eq!(types, ["contact.created", "conversation.created", "message.created"], "one event each, no duplicate");
    // A changed body does not verify.
    let mut tampered = requests[0].body.clone();
    tampered.push(b' ');
    assert!(verifier.verify(&tampered, &requests[0].headers).is_err());

    // The same message redelivered by Meta is a duplicate: no new event.
    customer_writes(&mut app, "wamid.out.1", "Where is my order?").await;
    app.webhook_worker("127.0.0.1").run_until_idle(Utc::now()).await.unwrap();
    assert_eq!(received(&server).await.len(), 3);

    // The delivery log.
    let log = app.get_json(&format!("/api/v1/admin/webhooks/{id}/attempts")).await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|a| a["status"] == 204 && a["delivery_state"] == "delivered"), "{log}");
}

async fn event_filters_choose_what_an_endpoint_gets(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = receiver(200).await;
    create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    let res = app
        .post_json("/api/v1/admin/webhooks", &json!({"url": server.uri(), "event_types": ["message.exploded"]}))
        .await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "event_types[0]", "{problem}");

    customer_writes(&mut app, "wamid.filter.1", "hello").await;
    app.webhook_worker("127.0.0.1").run_until_idle(Utc::now()).await.unwrap();
    let types: Vec<Value> = received(&server).await.iter().map(|r| body_json(r)["type"].clone()).collect();
    assert_eq!(types, [json!("message.created")]);
}

async fn a_failed_delivery_is_retried_on_schedule_with_the_same_id(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).with_priority(2).mount(&server).await;
    let endpoint = create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    let id = endpoint["id"].as_str().unwrap();
    customer_writes(&mut app, "wamid.retry.1", "hello").await;

    let worker = app.webhook_worker("127.0.0.1");
    let now = Utc::now();
    let r = worker.run_until_idle(now).await.unwrap();
    assert_eq!((r.attempted, r.delivered), (1, 0), "the first attempt is immediate and fails");
    let r = worker.run_until_idle(now + chrono::Duration::seconds(4)).await.unwrap();
    assert_eq!(r.attempted, 0, "not before 5 s");
    let r = worker.run_until_idle(now + chrono::Duration::seconds(6)).await.unwrap();
    assert_eq!((r.attempted, r.delivered), (1, 1));

    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(header(&requests[0], "webhook-id"), header(&requests[1], "webhook-id"), "a stable webhook-id");
    assert_eq!(requests[0].body, requests[1].body);

    let log = app.get_json(&format!("/api/v1/admin/webhooks/{id}/attempts")).await;
    let statuses: Vec<Value> = log["items"].as_array().unwrap().iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, [json!(200), json!(500)], "newest first");
    assert_eq!(log["items"][1]["response"], "boom");
    // A page at a time: the cursor leads to the older attempt, the last page has none.
    let page = app.get_json(&format!("/api/v1/admin/webhooks/{id}/attempts?limit=1")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["status"], 200);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let page = app.get_json(&format!("/api/v1/admin/webhooks/{id}/attempts?limit=1&cursor={cursor}")).await;
    assert_eq!(page["items"][0]["status"], 500);
    assert!(page["next_cursor"].is_null(), "{page}");
    let page = app.get_json(&format!("/api/v1/admin/webhooks/{id}/deliveries?limit=1")).await;
    assert_eq!((page["items"].as_array().unwrap().len(), &page["next_cursor"]), (1, &Value::Null), "{page}");
    for log in ["attempts", "deliveries"] {
        let res = app.get(&format!("/api/v1/admin/webhooks/{id}/{log}?cursor=abc")).await;
        assert_eq!(res.status(), 422, "{log}");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "cursor", "{log}: {p}");
        let res = app.get(&format!("/api/v1/admin/webhooks/{}/{log}", uuid::Uuid::now_v7())).await;
        assert_eq!(res.status(), 404, "{log} of no endpoint");
    }
    let endpoint = app.get_json(&format!("/api/v1/admin/webhooks/{id}")).await;
    assert!(endpoint["failing_since"].is_null(), "a success ends the failure streak");
}

/// Housekeeping deletes messages every endpoint has settled, with their delivery log,
/// after the retention; one still being retried stays.
async fn settled_messages_are_deleted_after_the_retention(backend: Backend) {
    use switchboard_core::{Housekeeper, HousekeepingOptions};
    let mut app = spawn_app(backend).await;
    let (ok, failing) = (receiver(204).await, receiver(500).await);
    let delivered = create_endpoint(&app, json!({"url": ok.uri(), "event_types": ["message.created"]})).await;
    let retried = create_endpoint(&app, json!({"url": failing.uri(), "event_types": ["conversation.created"]})).await;
    customer_writes(&mut app, "wamid.purge.1", "hello").await;
    let r = app.webhook_worker("127.0.0.1").run_until_idle(Utc::now()).await.unwrap();
    assert_eq!((r.attempted, r.delivered), (2, 1));
    let log = |e: &Value, what: &str| format!("/api/v1/admin/webhooks/{}/{what}", e["id"].as_str().unwrap());
    let count = |v: Value| v["items"].as_array().unwrap().len();

    let opts = HousekeepingOptions {
        webhook_log_retention: std::time::Duration::from_secs(30 * 86_400),
        ..Default::default()
    };
    let housekeeper = Housekeeper::new(std::sync::Arc::clone(&app.store), opts);
    let report = housekeeper.run_once(Utc::now() + chrono::Duration::days(29)).await.unwrap();
    assert_eq!(report.webhook_messages_deleted, 0, "not before the retention");
    let report = housekeeper.run_once(Utc::now() + chrono::Duration::days(31)).await.unwrap();
    assert_eq!(report.webhook_messages_deleted, 1, "the delivered one; the one being retried stays");
    assert_eq!(count(app.get_json(&log(&delivered, "deliveries")).await), 0);
    assert_eq!(count(app.get_json(&log(&delivered, "attempts")).await), 0);
    let pending = app.get_json(&log(&retried, "deliveries")).await;
    assert_eq!((count(pending.clone()), pending["items"][0]["state"].as_str()), (1, Some("pending")));
    assert_eq!(count(app.get_json(&log(&retried, "attempts")).await), 1);
}

async fn retry_after_is_honoured(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).with_priority(2).mount(&server).await;
    create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    customer_writes(&mut app, "wamid.later.1", "hello").await;
    let worker = app.webhook_worker("127.0.0.1");
    let now = Utc::now();
    assert_eq!(worker.run_until_idle(now).await.unwrap().attempted, 1);
    assert_eq!(worker.run_until_idle(now + chrono::Duration::seconds(60)).await.unwrap().attempted, 0);
    assert_eq!(worker.run_until_idle(now + chrono::Duration::seconds(121)).await.unwrap().delivered, 1);
}

async fn a_410_disables_the_endpoint(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = receiver(410).await;
    let endpoint = create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    let id = endpoint["id"].as_str().unwrap();
    customer_writes(&mut app, "wamid.gone.1", "hello").await;
    let worker = app.webhook_worker("127.0.0.1");
    worker.run_until_idle(Utc::now()).await.unwrap();
    let endpoint = app.get_json(&format!("/api/v1/admin/webhooks/{id}")).await;
    assert_eq!(endpoint["enabled"], false);
    assert!(endpoint["disabled_reason"].as_str().unwrap().contains("410"), "{endpoint}");

    // Nothing more goes to it, even later.
    customer_writes(&mut app, "wamid.gone.2", "again").await;
    worker.run_until_idle(Utc::now() + chrono::Duration::hours(11)).await.unwrap();
    assert_eq!(received(&server).await.len(), 1);
    let deliveries = app.get_json(&format!("/api/v1/admin/webhooks/{id}/deliveries")).await;
    assert_eq!(deliveries["items"][0]["state"], "failed", "{deliveries}");

    // An admin enables it again.
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/admin/webhooks/{id}")))
        .bearer_auth(&app.token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let endpoint: Value = res.json().await.unwrap();
    assert!(endpoint["disabled_reason"].is_null());
}

async fn an_endpoint_failing_for_days_is_disabled_with_a_reason(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = receiver(503).await;
    let endpoint = create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    let id = endpoint["id"].as_str().unwrap();
    customer_writes(&mut app, "wamid.days.1", "hello").await;
    let worker = app.webhook_worker("127.0.0.1");
    let start = Utc::now();
    worker.run_until_idle(start).await.unwrap();
    let e = app.get_json(&format!("/api/v1/admin/webhooks/{id}")).await;
    assert!(!e["failing_since"].is_null());
    assert_eq!(e["enabled"], true);
    // A new event five days later still fails: the endpoint is disabled.
    customer_writes(&mut app, "wamid.days.2", "hello?").await;
    worker.run_until_idle(start + chrono::Duration::days(5) + chrono::Duration::minutes(1)).await.unwrap();
    let e = app.get_json(&format!("/api/v1/admin/webhooks/{id}")).await;
    assert_eq!(e["enabled"], false, "{e}");
    assert!(e["disabled_reason"].as_str().unwrap().contains("failed since"), "{e}");
}

async fn no_delivery_to_private_addresses_by_default(backend: Backend) {
    let env = vec![("SWITCHBOARD__OUTGOING_WEBHOOKS__ALLOWED_PRIVATE_ADDRESSES", String::new())];
    let mut app = spawn_app_with(backend, AppOptions { env, ..AppOptions::default() }).await;
    let server = receiver(200).await;
    for url in [server.uri(), "http://169.254.169.254/latest/meta-data".to_owned(), "http://[::1]:9/".to_owned()] {
        let res = app.post_json("/api/v1/admin/webhooks", &json!({"url": url})).await;
        assert_eq!(res.status(), 422, "{url}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "url");
    }
    // A host name that resolves to loopback is refused when delivering.
    let port = server.address().port();
    let endpoint = create_endpoint(&app, json!({"url": format!("http://localhost:{port}/")})).await;
    let id = endpoint["id"].as_str().unwrap();
    customer_writes(&mut app, "wamid.ssrf.1", "hello").await;
    let r = app.webhook_worker("").run_until_idle(Utc::now()).await.unwrap();
    assert!(r.attempted > 0);
    assert_eq!(r.delivered, 0);
    assert!(received(&server).await.is_empty(), "nothing reached the loopback receiver");
    let log = app.get_json(&format!("/api/v1/admin/webhooks/{id}/attempts")).await;
    let error = log["items"][0]["error"].as_str().unwrap();
    assert!(error.contains("private"), "{error}");
    assert!(log["items"][0]["status"].is_null());
}

/// Changes the conversation's status on a connection of its own, then rolls back.
async fn rolled_back_status_change(app: &TestApp, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("UPDATE conversations SET status = 'pending'").execute(&mut *tx).await.unwrap();
            tx.rollback().await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("UPDATE conversations SET status = 'pending'").execute(&mut *tx).await.unwrap();
            // The deferred event triggers run at commit: make them run, then roll back.
            sqlx::query("SET CONSTRAINTS ALL IMMEDIATE").execute(&mut *tx).await.unwrap();
            tx.rollback().await.unwrap();
            pool.close().await;
        }
    }
}

async fn an_event_rolled_back_is_never_delivered(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = receiver(200).await;
    create_endpoint(&app, json!({"url": server.uri(), "event_types": ["conversation.status_changed"]})).await;
    customer_writes(&mut app, "wamid.rb.1", "hello").await;
    let conversation = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    rolled_back_status_change(&app, backend).await;
    let res =
        app.post_json(&format!("/api/v1/conversations/{conversation}/status"), &json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
    app.webhook_worker("127.0.0.1").run_until_idle(Utc::now()).await.unwrap();
    let bodies: Vec<Value> = received(&server).await.iter().map(body_json).collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["data"]["status"], "resolved");
    assert_eq!(bodies[0]["data"]["previous_status"], "open", "the rolled-back pending never happened");
}

async fn events_committed_while_the_worker_was_down_are_delivered(backend: Backend) {
    // The crash case: events committed, no worker ran (the process died before
    // delivering). A new worker, started later, delivers them.
    let mut app = spawn_app(backend).await;
    let server = receiver(200).await;
    create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    customer_writes(&mut app, "wamid.crash.1", "one").await;
    // Fanned out but never attempted: a claim whose worker died holds a lease.
    let dead = app.webhook_worker("127.0.0.1");
    dead.fan_out_once(Utc::now()).await.unwrap();
    let leased = app.store.claim_webhook_deliveries(Utc::now(), Utc::now() + chrono::Duration::seconds(60), 10).await;
    assert_eq!(leased.unwrap().len(), 1);
    customer_writes(&mut app, "wamid.crash.2", "two").await;
    let fresh = app.webhook_worker("127.0.0.1");
    let r = fresh.run_until_idle(Utc::now()).await.unwrap();
    assert_eq!(r.delivered, 1, "the second at once");
    let r = fresh.run_until_idle(Utc::now() + chrono::Duration::seconds(61)).await.unwrap();
    assert_eq!(r.delivered, 1, "the first once its lease ran out");
    let texts: Vec<Value> =
        received(&server).await.iter().map(|r| body_json(r)["data"]["message"]["text"].clone()).collect();
    assert_eq!(texts, [json!("two"), json!("one")]);
}

async fn replay_sends_one_message_or_a_range_again(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = receiver(200).await;
    let endpoint = create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    let id = endpoint["id"].as_str().unwrap();
    let before = Utc::now() - chrono::Duration::seconds(1);
    customer_writes(&mut app, "wamid.replay.1", "one").await;
    customer_writes(&mut app, "wamid.replay.2", "two").await;
    let worker = app.webhook_worker("127.0.0.1");
    worker.run_until_idle(Utc::now()).await.unwrap();
    let first = received(&server).await;
    assert_eq!(first.len(), 2);
    let webhook_id = header(&first[0], "webhook-id").to_owned();

    let path = format!("/api/v1/admin/webhooks/{id}/replay");
    let res = app.post_json(&path, &json!({"webhook_id": webhook_id})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["queued"], 1);
    worker.run_until_idle(Utc::now()).await.unwrap();
    let all = received(&server).await;
    assert_eq!(all.len(), 3);
    assert_eq!(header(&all[2], "webhook-id"), webhook_id, "the same message, the same id");
    assert_eq!(all[2].body, first[0].body);

    let until = Utc::now() + chrono::Duration::seconds(1);
    let res = app.post_json(&path, &json!({"since": before.to_rfc3339(), "until": until.to_rfc3339()})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["queued"], 2);
    worker.run_until_idle(Utc::now()).await.unwrap();
    assert_eq!(received(&server).await.len(), 5);

    for bad in [json!({}), json!({"webhook_id": "nope"}), json!({"since": "yesterday", "until": "today"})] {
        let res = app.post_json(&path, &bad).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
}

async fn a_rotated_secret_signs_beside_the_old_one(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = receiver(200).await;
    let endpoint = create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    let id = endpoint["id"].as_str().unwrap();
    let old = endpoint["secret"].as_str().unwrap().to_owned();
    let res = app.post_json(&format!("/api/v1/admin/webhooks/{id}/rotate-secret"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert!(!rotated["previous_secret_expires_at"].is_null());
    customer_writes(&mut app, "wamid.rotate.1", "hello").await;
    app.webhook_worker("127.0.0.1").run_until_idle(Utc::now()).await.unwrap();
    let r = &received(&server).await[0];
    assert_eq!(header(r, "webhook-signature").split(' ').count(), 2);
    Webhook::new(&old).unwrap().verify(&r.body, &r.headers).expect("the old secret still verifies");
    Webhook::new(&new).unwrap().verify(&r.body, &r.headers).expect("the new secret verifies");
}

async fn endpoints_are_admin_only_and_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.post_json("/api/v1/admin/webhooks", &json!({"url": "ftp://example.com/"})).await;
    assert_eq!(res.status(), 422);
    let res = app.post_json("/api/v1/admin/webhooks", &json!({"url": "https://crm.example.com/h", "x": 1})).await;
    assert_eq!(res.status(), 400);
    let created = create_endpoint(&app, json!({"url": "https://crm.example.com/h"})).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.get_json("/api/v1/admin/webhooks").await["items"].as_array().unwrap().len(), 1);
    let res = app.client.delete(app.url(&format!("/api/v1/admin/webhooks/{id}"))).bearer_auth(&app.token).send().await;
    assert_eq!(res.unwrap().status(), 204);
    assert_eq!(app.get(&format!("/api/v1/admin/webhooks/{id}")).await.status(), 404);
}

/// One number from the database, on a connection of its own.
async fn count(app: &TestApp, backend: Backend, sql: &str) -> i64 {
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }
}

async fn set_enabled(app: &TestApp, id: &str, enabled: bool) -> u16 {
    let res = app.client.patch(app.url(&format!("/api/v1/admin/webhooks/{id}"))).bearer_auth(&app.token);
    res.json(&json!({ "enabled": enabled })).send().await.unwrap().status().as_u16()
}

async fn without_endpoints_nothing_is_written_and_nothing_sent_later(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = receiver(200).await;
    customer_writes(&mut app, "wamid.idle.1", "before any endpoint").await;
    assert_eq!(count(&app, backend, "SELECT COUNT(*) FROM contact_changes").await, 0, "no endpoint: no contact change");
    let worker = app.webhook_worker("127.0.0.1");
    let cursor = "SELECT CAST(inbox_event_id + 1000 * generation AS BIGINT) FROM webhook_fanout WHERE id = 1";
    let before = count(&app, backend, cursor).await;
    assert_eq!(worker.run_until_idle(Utc::now()).await.unwrap(), switchboard_core::webhooks::WebhookReport::default());
    assert_eq!(count(&app, backend, cursor).await, before, "an idle fan-out writes nothing");
    // A claim that finds nothing due wakes nobody (on SQLite, a write transaction would).
    let mut wakeups = app.store.inbox_wakeups().await.unwrap();
    let none = app.store.claim_webhook_deliveries(Utc::now(), Utc::now() + chrono::Duration::seconds(60), 10).await;
    assert!(none.unwrap().is_empty());
    assert!(tokio::time::timeout(std::time::Duration::from_millis(200), wakeups.wait()).await.is_err());

    // The first endpoint starts from now: the earlier events are not sent.
    let endpoint = create_endpoint(&app, json!({"url": server.uri()})).await;
    customer_writes(&mut app, "wamid.idle.2", "after").await;
    worker.run_until_idle(Utc::now()).await.unwrap();
    let texts: Vec<Value> = received(&server)
        .await
        .iter()
        .map(body_json)
        .filter(|b| b["type"] == "message.created")
        .map(|b| b["data"]["message"]["text"].clone())
        .collect();
    assert_eq!(texts, [json!("after")]);
    assert_eq!(received(&server).await.len(), 1, "no contact.created for a contact from before");

    // Disabled, it gets nothing; enabled again, it starts from then.
    let id = endpoint["id"].as_str().unwrap();
    assert_eq!(set_enabled(&app, id, false).await, 200);
    customer_writes(&mut app, "wamid.idle.3", "while disabled").await;
    worker.run_until_idle(Utc::now()).await.unwrap();
    assert_eq!(set_enabled(&app, id, true).await, 200);
    worker.run_until_idle(Utc::now()).await.unwrap();
    customer_writes(&mut app, "wamid.idle.4", "enabled again").await;
    worker.run_until_idle(Utc::now()).await.unwrap();
    let texts: Vec<Value> =
        received(&server).await.iter().map(body_json).map(|b| b["data"]["message"]["text"].clone()).collect();
    assert_eq!(texts, [json!("after"), json!("enabled again")]);
}

async fn one_conversation_arrives_in_order_while_others_go_side_by_side(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let server = MockServer::start().await;
    // Slow answers, so that requests in flight overlap.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_millis(30)))
        .mount(&server)
        .await;
    create_endpoint(&app, json!({"url": server.uri(), "event_types": ["message.created"]})).await;
    let contacts = ["447700900011", "447700900012", "447700900013", "447700900014"];
    let mut deliveries = Vec::new();
    for round in 0..5 {
        for (c, from) in contacts.iter().enumerate() {
            let text = format!("{from} #{round}");
            deliveries.push(text_delivery(&format!("wamid.order.{c}.{round}"), from, &text));
        }
    }
    for d in &deliveries {
        assert_eq!(app.post_webhook(serde_json::to_vec(d).unwrap()).await.status(), 200);
    }
    app.ingest().await;
    let r = app.webhook_worker("127.0.0.1").run_until_idle(Utc::now()).await.unwrap();
    assert_eq!((r.attempted, r.delivered), (20, 20));
    let texts: Vec<String> = received(&server)
        .await
        .iter()
        .map(|r| body_json(r)["data"]["message"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.len(), 20, "each once");
    for from in contacts {
        let mine: Vec<&String> = texts.iter().filter(|t| t.starts_with(from)).collect();
        let expected: Vec<String> = (0..5).map(|round| format!("{from} #{round}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "one conversation's events in order");
    }
}

both_backends!(
    without_endpoints_nothing_is_written_and_nothing_sent_later,
    one_conversation_arrives_in_order_while_others_go_side_by_side,
    settled_messages_are_deleted_after_the_retention,
    deliveries_are_signed_per_the_specification,
    event_filters_choose_what_an_endpoint_gets,
    a_failed_delivery_is_retried_on_schedule_with_the_same_id,
    retry_after_is_honoured,
    a_410_disables_the_endpoint,
    an_endpoint_failing_for_days_is_disabled_with_a_reason,
    no_delivery_to_private_addresses_by_default,
    an_event_rolled_back_is_never_delivered,
    events_committed_while_the_worker_was_down_are_delivered,
    replay_sends_one_message_or_a_range_again,
    a_rotated_secret_signs_beside_the_old_one,
    endpoints_are_admin_only_and_validated,
);
