//! A restart in the middle of a stream loses nothing and applies nothing twice.

use switchboard_store::IngestBatch;
use switchboard_tests::payloads::text_delivery;
use switchboard_tests::{AppOptions, Backend, both_backends, spawn_app, start_on};

fn body(i: usize) -> Vec<u8> {
    serde_json::to_vec(&text_delivery(&format!("wamid.r{i}"), &format!("1650555{:04}", i % 10), &format!("m{i}")))
        .unwrap()
}

async fn a_restart_mid_stream_loses_nothing_and_duplicates_nothing(backend: Backend) {
    // Built once: Meta's retries resend identical bytes.
    let bodies: Vec<Vec<u8>> = (0..40).map(body).collect();
    let mut app = spawn_app(backend).await;
    for b in &bodies[..30] {
        assert_eq!(app.post_webhook(b.clone()).await.status(), 200);
    }
    // Half applied, half still pending when the process stops.
    let mut applied = 0;
    while applied < 15 {
        let r = app.ingest_once().await;
        applied += r.applied;
    }
    let db = app.stop().await;

    let mut app = start_on(db, AppOptions::default()).await;
    // Meta retries some deliveries it already got a 200 for, and sends the rest.
    for b in &bodies[10..] {
        assert_eq!(app.post_webhook(b.clone()).await.status(), 200);
    }
    app.ingest().await;
    let mut wamids: Vec<String> =
        app.all_messages().await.iter().map(|m| m["wamid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(wamids.len(), 40);
    wamids.sort();
    wamids.dedup();
    assert_eq!(wamids.len(), 40);
    let stats = app.store.event_log_stats().await.unwrap();
    assert_eq!((stats.pending, stats.applied, stats.failed), (0, 40, 0));
}

async fn a_batch_rolled_back_mid_way_is_applied_again_exactly_once(backend: Backend) {
    let mut app = spawn_app(backend).await;
    for i in 0..10 {
        app.post_webhook(body(i)).await;
    }
    // Claim a batch, apply nothing, and "crash" (drop the transaction).
    {
        let IngestBatch { tx, events } = app.store.begin_ingest(10).await.unwrap().unwrap();
        assert_eq!(events.len(), 10);
        drop(tx);
    }
    app.ingest().await;
    assert_eq!(app.all_messages().await.len(), 10);
}

both_backends!(
    a_restart_mid_stream_loses_nothing_and_duplicates_nothing,
    a_batch_rolled_back_mid_way_is_applied_again_exactly_once
);
