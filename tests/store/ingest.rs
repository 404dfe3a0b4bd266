//! Claiming events: arrival order, crash safety, one ingest transaction at a time, and
//! the things recorded on the side (channels, recorded changes).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchboard_domain::{EventId, PhoneNumberId};
use switchboard_store::{
    Appended, EventLogStats, INGEST_BATCH_BYTES, IngestBatch, NewEvent, RecordReason, RecordedChange, Store,
    StoredChange,
};
use switchboard_tests::TestDb;

use crate::fixtures::{apply, channel, contact, event, second_instance, t, text};

conformance!(
    stories: [
        pending_events_are_claimed_in_arrival_order_up_to_the_limit,
        a_batch_reads_a_bounded_amount_of_bodies,
        nothing_pending_claims_nothing,
        a_committed_batch_is_applied_and_a_dropped_one_is_not,
        ingest_transactions_of_one_instance_take_turns,
        changes_are_recorded_by_reason_oldest_first,
        unrouted_changes_are_listed_per_number_and_can_be_forgotten,
        channels_are_upserted_by_phone_number_id,
    ],
    with_db: [ingest_transactions_of_two_instances_never_overlap],
);

fn ids(appended: &[Appended]) -> Vec<EventId> {
    appended
        .iter()
        .map(|a| match a {
            Appended::New(id) | Appended::Duplicate(id) => *id,
        })
        .collect()
}

async fn pending_events_are_claimed_in_arrival_order_up_to_the_limit(store: Arc<dyn Store>) {
    let mut all = ids(&store.append_events(&[event("1", t(0)), event("2", t(0))]).await.unwrap());
    all.extend(ids(&store.append_events(&[event("3", t(1)), event("4", t(1)), event("5", t(2))]).await.unwrap()));

    let IngestBatch { mut tx, events: first } = store.begin_ingest(3).await.unwrap().unwrap();
    assert_eq!(first.iter().map(|e| e.id).collect::<Vec<_>>(), all[..3]);
    assert_eq!(first.iter().map(|e| &e.body[..]).collect::<Vec<_>>(), vec![&b"1"[..], b"2", b"3"]);
    assert_eq!(first[2].received_at, t(1));
    tx.mark_applied(&all[..3], t(10)).await.unwrap();
    tx.commit().await.unwrap();

    let IngestBatch { mut tx, events: rest } = store.begin_ingest(3).await.unwrap().unwrap();
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), all[3..]);
    tx.mark_applied(&all[3..], t(10)).await.unwrap();
    tx.commit().await.unwrap();

    assert!(store.begin_ingest(3).await.unwrap().is_none());
    assert_eq!(store.event_log_stats().await.unwrap(), EventLogStats { pending: 0, failed: 0, applied: 5 });
}

/// Large deliveries fill a batch's body budget before its count: of three bodies of 60 %
/// of the budget each, a batch takes two (the second starts within the budget), then the
/// third alone.
async fn a_batch_reads_a_bounded_amount_of_bodies(store: Arc<dyn Store>) {
    let size = usize::try_from(INGEST_BATCH_BYTES * 3 / 5).unwrap();
    let big = |c: u8| NewEvent { body_time: 0, body_sha256: [c; 32], body: vec![c; size].into(), received_at: t(0) };
    let all = ids(&store.append_events(&[big(b'a'), big(b'b'), big(b'c')]).await.unwrap());

    let IngestBatch { mut tx, events: first } = store.begin_ingest(100).await.unwrap().unwrap();
    assert_eq!(first.iter().map(|e| e.id).collect::<Vec<_>>(), all[..2]);
    assert_eq!(first[1].body.len(), size);
    tx.mark_applied(&all[..2], t(10)).await.unwrap();
    tx.commit().await.unwrap();

    let IngestBatch { mut tx, events: rest } = store.begin_ingest(100).await.unwrap().unwrap();
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), all[2..]);
    tx.mark_applied(&all[2..], t(10)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.begin_ingest(100).await.unwrap().is_none());
}

async fn nothing_pending_claims_nothing(store: Arc<dyn Store>) {
    assert!(store.begin_ingest(10).await.unwrap().is_none());
    // An empty claim holds nothing: writes go on.
    store.append_events(&[event("a", t(0))]).await.unwrap();
    assert!(store.begin_ingest(10).await.unwrap().is_some());
}

async fn a_committed_batch_is_applied_and_a_dropped_one_is_not(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let e = ids(&store.append_events(&[event("delivery", t(0))]).await.unwrap())[0];
    let ana = contact("15550001", Some("Ana"));
    let msg = text("wamid.crash", &ana, t(1), "hi");

    // A worker applies the event, then "crashes" before committing.
    let IngestBatch { mut tx, events } = store.begin_ingest(10).await.unwrap().unwrap();
    assert_eq!(events[0].id, e);
    let outcome = tx
        .apply_inbound(&switchboard_store::NewInbound {
            event_id: e,
            channel: ch.id,
            contact: &ana,
            message: &msg,
            received_at: t(1),
            window_closes_at: None,
        })
        .await
        .unwrap();
    assert!(matches!(outcome, switchboard_store::InboundOutcome::Stored { .. }));
    tx.mark_applied(&[e], t(2)).await.unwrap();
    drop(tx);

    // Nothing of it happened.
    let q = switchboard_store::ConversationQuery { status: None, limit: 10, after: None };
    assert!(store.list_conversations(&q).await.unwrap().items.is_empty());
    assert_eq!(store.event_log_stats().await.unwrap().pending, 1);

    // The next worker gets the same event and commits.
    let IngestBatch { mut tx, events: again } = store.begin_ingest(10).await.unwrap().unwrap();
    assert_eq!(again.iter().map(|e| e.id).collect::<Vec<_>>(), vec![e]);
    tx.apply_inbound(&switchboard_store::NewInbound {
        event_id: e,
        channel: ch.id,
        contact: &ana,
        message: &msg,
        received_at: t(1),
        window_closes_at: None,
    })
    .await
    .unwrap();
    tx.mark_applied(&[e], t(3)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.list_conversations(&q).await.unwrap().items.len(), 1);
    assert_eq!(store.event_log_stats().await.unwrap(), EventLogStats { pending: 0, failed: 0, applied: 1 });
}

/// Starts `second.begin_ingest` while `first` holds an ingest transaction and checks it
/// waits until `first` commits, then sees only what `first` did not apply.
async fn assert_turns(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    let all = ids(&first.append_events(&[event("1", t(0)), event("2", t(0)), event("3", t(0))]).await.unwrap());
    let IngestBatch { mut tx, events: claimed } = first.begin_ingest(2).await.unwrap().unwrap();
    assert_eq!(claimed.iter().map(|e| e.id).collect::<Vec<_>>(), all[..2]);

    let waiting = tokio::spawn(async move {
        let IngestBatch { mut tx, events: claimed } = second.begin_ingest(10).await.unwrap().unwrap();
        let got: Vec<EventId> = claimed.iter().map(|e| e.id).collect();
        tx.mark_applied(&got, t(2)).await.unwrap();
        tx.commit().await.unwrap();
        got
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a second ingest transaction started while the first was open");

    tx.mark_applied(&all[..2], t(1)).await.unwrap();
    tx.commit().await.unwrap();
    let second_got = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap();
    assert_eq!(second_got, all[2..]);
    assert_eq!(first.event_log_stats().await.unwrap().applied, 3);
}

async fn ingest_transactions_of_one_instance_take_turns(store: Arc<dyn Store>) {
    assert_turns(Arc::clone(&store), store).await;
}

async fn ingest_transactions_of_two_instances_never_overlap(db: &TestDb, store: Arc<dyn Store>) {
    // On PostgreSQL this is the advisory lock; on SQLite, the database's single writer.
    let other = second_instance(db).await;
    assert_turns(store, Arc::clone(&other)).await;
    other.close().await;
}

async fn changes_are_recorded_by_reason_oldest_first(store: Arc<dyn Store>) {
    let (mut tx, events) = crate::fixtures::begin(&*store).await;
    let e = events[0];
    let template = json!({"event": "APPROVED", "message_template_name": "welcome"});
    let stray = json!({"metadata": {"phone_number_id": "999"}, "messages": []});
    let quality = json!({"event": "FLAGGED"});
    for (reason, field, pnid, value) in [
        (RecordReason::Field, "message_template_status_update", None, &template),
        (RecordReason::NoChannel, "messages", Some("999"), &stray),
        (RecordReason::Field, "phone_number_quality_update", None, &quality),
    ] {
        tx.record_change(&RecordedChange {
            event_id: e,
            reason,
            field,
            phone_number_id: pnid,
            waba_id: Some("102290129340398"),
            value,
            at: t(5),
        })
        .await
        .unwrap();
    }
    crate::fixtures::finish(tx, &events).await;

    let fields = store.recorded_changes(RecordReason::Field, 10).await.unwrap();
    assert_eq!(
        fields,
        vec![
            StoredChange { event_id: e, field: "message_template_status_update".to_owned(), value: template.clone() },
            StoredChange { event_id: e, field: "phone_number_quality_update".to_owned(), value: quality },
        ]
    );
    assert_eq!(store.recorded_changes(RecordReason::Field, 1).await.unwrap().len(), 1);
    assert_eq!(
        store.recorded_changes(RecordReason::NoChannel, 10).await.unwrap(),
        vec![StoredChange { event_id: e, field: "messages".to_owned(), value: stray }]
    );
    assert!(store.recorded_changes(RecordReason::Malformed, 10).await.unwrap().is_empty());
}

async fn unrouted_changes_are_listed_per_number_and_can_be_forgotten(store: Arc<dyn Store>) {
    let (mut tx, events) = crate::fixtures::begin(&*store).await;
    let e = events[0];
    let values: Vec<_> = (0..3).map(|i| json!({"metadata": {"phone_number_id": "999"}, "n": i})).collect();
    let other = json!({"metadata": {"phone_number_id": "777"}});
    for (pnid, value) in [("999", &values[0]), ("777", &other), ("999", &values[1]), ("999", &values[2])] {
        tx.record_change(&RecordedChange {
            event_id: e,
            reason: RecordReason::NoChannel,
            field: "messages",
            phone_number_id: Some(pnid),
            waba_id: None,
            value,
            at: t(5),
        })
        .await
        .unwrap();
    }
    crate::fixtures::finish(tx, &events).await;

    let nine = PhoneNumberId::parse("999").unwrap();
    let kept = store.unrouted_changes(&nine, 10).await.unwrap();
    assert_eq!(kept.iter().map(|c| c.value.clone()).collect::<Vec<_>>(), values, "oldest first, only this number");
    assert_eq!(store.unrouted_changes(&nine, 2).await.unwrap().len(), 2);
    store.delete_recorded_changes(&[kept[0].id, kept[1].id]).await.unwrap();
    store.delete_recorded_changes(&[]).await.unwrap();
    let left = store.unrouted_changes(&nine, 10).await.unwrap();
    assert_eq!(left, vec![kept[2].clone()]);
    assert_eq!(store.unrouted_changes(&PhoneNumberId::parse("777").unwrap(), 10).await.unwrap().len(), 1);
}

async fn channels_are_upserted_by_phone_number_id(store: Arc<dyn Store>) {
    assert!(store.channels().await.unwrap().is_empty());
    let pnid = PhoneNumberId::parse("106540352242922").unwrap();
    let a = store.upsert_channel(&pnid, "Sales", t(0)).await.unwrap();
    assert_eq!((a.phone_number_id.as_str(), a.name.as_str()), ("106540352242922", "Sales"));
    let renamed = store.upsert_channel(&pnid, "Support", t(1)).await.unwrap();
    assert_eq!(renamed.id, a.id);
    assert_eq!(renamed.name, "Support");
    let b = store.upsert_channel(&PhoneNumberId::parse("2002").unwrap(), "Billing", t(2)).await.unwrap();
    assert_ne!(b.id, a.id);
    assert_eq!(store.channels().await.unwrap(), vec![renamed, b]);

    // And a channel is usable right away.
    let ana = contact("15550001", None);
    apply(&*store, a.id, &ana, &text("wamid.1", &ana, t(3), "hi"), None).await;
}
