//! Sends that may have reached Meta before a crash are reconciled from their status
//! webhooks, not repeated; a send whose outcome cannot be recorded costs only itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use switchboard_cloudapi::{GraphClient, GraphConfig, tag_request};
use switchboard_core::{Sender, SenderOptions};
use switchboard_domain::{DeliveryState, MessageId, Wamid};
use switchboard_store::{OutboxJob, OutboxState};
use switchboard_tests::payloads::{delivery, text_delivery};
use switchboard_tests::{AppOptions, Backend, TestApp, both_backends, spawn_app, start_on};

/// The crashed sender's lease, and the grace the survivor gives it.
const LEASE: Duration = Duration::from_secs(1);
const GRACE: Duration = Duration::from_secs(3);

/// A conversation with `from` and an agent's reply queued in it; returns the reply's id.
async fn queued_reply(app: &mut TestApp, from: &str) -> MessageId {
    let body = serde_json::to_vec(&text_delivery(&format!("wamid.in.{from}"), from, "hello")).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let conv = app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == from).unwrap();
    let res = app
        .post_json(
            &format!("/api/v1/conversations/{}/messages", conv["id"].as_str().unwrap()),
            &json!({"type": "text", "text": "Welcome!"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let queued: Value = res.json().await.unwrap();
    queued["id"].as_str().unwrap().parse().unwrap()
}

/// A sender claims the job and posts it to the Graph API, then dies before recording
/// Meta's answer.
async fn send_and_crash(app: &TestApp) -> OutboxJob {
    let now = Utc::now();
    let mut jobs = app.store.claim_outbox(10, now, now + chrono::Duration::from_std(LEASE).unwrap()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = jobs.remove(0);
    let mut request = job.request.clone();
    tag_request(&mut request, job.message_id);
    app.graph_client().send_json(&job.phone_number_id, &request).await.unwrap();
    job
}

/// The sender of the instance that survived (or was restarted).
fn survivor(app: &TestApp) -> Sender {
    app.sender_with(SenderOptions { reconcile_grace: GRACE, ..SenderOptions::default() })
}

async fn wait_for_statuses(app: &TestApp, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.graph.statuses_posted() < n {
        assert!(Instant::now() < deadline, "the mock posted no status");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sends(app: &TestApp) -> Vec<Value> {
    app.graph.sent().await.into_iter().filter(|m| m.get("status").is_none()).collect()
}

async fn a_send_whose_status_arrives_within_the_grace_is_not_repeated(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = queued_reply(&mut app, "16505550001").await;
    app.graph.post_statuses(app.url("/webhooks/whatsapp"), LEASE + Duration::from_millis(500));
    let started = Instant::now();
    send_and_crash(&app).await;

    // The lease has run out, the status has not come yet: the survivor waits.
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let survivor = survivor(&app);
    assert_eq!(survivor.run_once().await.unwrap().claimed, 0, "within the grace");

    // The status, naming the message only by its callback data, records the send.
    wait_for_statuses(&app, 1).await;
    app.ingest().await;
    let m = app.store.message(id).await.unwrap().unwrap();
    assert_eq!((m.state, m.wamid), (DeliveryState::Sent, Some(Wamid::parse("wamid.mock.0").unwrap())));

    // After the grace there is nothing left to send: Meta got it once.
    tokio::time::sleep((LEASE + GRACE + Duration::from_millis(100)).saturating_sub(started.elapsed())).await;
    assert_eq!(survivor.run_until_idle().await.unwrap().claimed, 0);
    assert_eq!(sends(&app).await.len(), 1);
    assert!(app.store.list_outbox(OutboxState::Ready, 10).await.unwrap().is_empty());
}

async fn a_send_with_no_status_is_sent_again_after_the_grace(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = queued_reply(&mut app, "16505550001").await;
    let started = Instant::now();
    send_and_crash(&app).await;

    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let survivor = survivor(&app);
    assert_eq!(survivor.run_once().await.unwrap().claimed, 0, "within the grace");
    tokio::time::sleep((LEASE + GRACE + Duration::from_millis(100)).saturating_sub(started.elapsed())).await;

    // Meta said nothing: at least once wins, the message goes out again.
    let report = survivor.run_until_idle().await.unwrap();
    assert_eq!((report.claimed, report.sent), (1, 1));
    let sent = sends(&app).await;
    assert_eq!(sent.len(), 2);
    // Both attempts named the message, for Meta to echo.
    for s in &sent {
        assert_eq!(s["biz_opaque_callback_data"], format!("sb:{id}"));
    }
    let m = app.store.message(id).await.unwrap().unwrap();
    assert_eq!((m.state, m.wamid), (DeliveryState::Sent, Some(Wamid::parse("wamid.mock.1").unwrap())));
}

/// One instance, killed after Meta accepted the message and restarted: the status that
/// reaches the new process records the send; its sender does not repeat it.
async fn a_restarted_instance_records_the_send_from_its_status(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = queued_reply(&mut app, "16505550001").await;
    send_and_crash(&app).await;
    let db = app.stop().await;

    let mut app = start_on(db, AppOptions::default()).await;
    let status = json!({
        "id": "wamid.mock.0", "status": "sent", "timestamp": Utc::now().timestamp().to_string(),
        "recipient_id": "16505550001", "biz_opaque_callback_data": format!("sb:{id}"),
    });
    let body = serde_json::to_vec(&delivery(vec![], vec![], vec![status])).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let m = app.store.message(id).await.unwrap().unwrap();
    assert_eq!((m.state, m.wamid), (DeliveryState::Sent, Some(Wamid::parse("wamid.mock.0").unwrap())));
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let restarted = app.sender_with(SenderOptions { reconcile_grace: Duration::ZERO, ..SenderOptions::default() });
    assert_eq!(restarted.run_until_idle().await.unwrap().claimed, 0);
    assert!(sends(&app).await.is_empty(), "the restarted instance sent nothing");
}

/// A request that never left (the connection was refused) cannot have reached Meta: the
/// job is released and sent at once by the next claim, with no grace.
async fn a_send_that_never_left_is_retried_without_waiting(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = queued_reply(&mut app, "16505550001").await;
    let unreachable = GraphClient::new(GraphConfig::new("http://127.0.0.1:9", "v25.0", "token".into())).unwrap();
    let opts = SenderOptions {
        throughput_per_second: 0,
        pair_per_minute: 0,
        backoff_base: Duration::ZERO,
        reconcile_grace: GRACE,
        ..SenderOptions::default()
    };
    let cut_off = Sender::new(Arc::clone(&app.store), Arc::new(unreachable), Arc::default(), opts);
    let report = cut_off.run_once().await.unwrap();
    assert_eq!((report.claimed, report.retried), (1, 1));

    let report = survivor(&app).run_once().await.unwrap();
    assert_eq!((report.claimed, report.sent), (1, 1), "claimed again at once");
    assert_eq!(sends(&app).await.len(), 1);
    assert_eq!(app.store.message(id).await.unwrap().unwrap().state, DeliveryState::Sent);
}

/// Meta answers two sends with one wamid: the second cannot be recorded. It alone is
/// marked failed, with the reason, and is not sent again; the others are recorded.
async fn a_send_that_cannot_be_recorded_costs_only_itself(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for from in ["16505550001", "16505550002", "16505550003"] {
        ids.push(queued_reply(&mut app, from).await);
    }
    app.graph.answer_with_wamid(2, "wamid.twice").await;
    let report = app.send().await;
    assert_eq!((report.claimed, report.sent), (3, 3));

    let mut states = Vec::new();
    for id in &ids {
        let m = app.store.message(*id).await.unwrap().unwrap();
        states.push((m.state, m.wamid.map(|w| w.as_str().to_owned()), m.error.map(|e| e.title)));
    }
    let recorded = states.iter().filter(|s| s.0 == DeliveryState::Sent).count();
    let failed: Vec<_> = states.iter().filter(|s| s.0 == DeliveryState::Failed).collect();
    assert_eq!((recorded, failed.len()), (2, 1), "{states:?}");
    assert_eq!((&failed[0].1, failed[0].2.as_deref()), (&None, Some("The send could not be recorded")));
    let jobs = app.store.list_outbox(OutboxState::Failed, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].last_error.as_deref().unwrap().contains("wamid.twice"), "{:?}", jobs[0].last_error);

    // Nothing is left to send, and nothing was sent twice.
    assert_eq!(app.send().await.claimed, 0);
    assert_eq!(sends(&app).await.len(), 3);
}

both_backends!(
    a_send_whose_status_arrives_within_the_grace_is_not_repeated,
    a_send_with_no_status_is_sent_again_after_the_grace,
    a_restarted_instance_records_the_send_from_its_status,
    a_send_that_never_left_is_retried_without_waiting,
    a_send_that_cannot_be_recorded_costs_only_itself,
);
