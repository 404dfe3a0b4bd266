//! Inbox events (live updates): recorded by the database for every writer, in order,
//! purged by age, and a wake-up after each commit.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::{Connection, PgConnection};
use switchboard_domain::DeliveryState::{Delivered, Sent};
use switchboard_store::{InboxEventKind, Store};
use switchboard_tests::{Backend, TestDb};

use crate::fixtures::{apply_status, channel, inbound_text, outbound, status, t, uuid_literal};
use crate::labels::label;

conformance!(
    stories: [every_writer_records_its_changes_in_order, a_wake_up_follows_each_commit],
    with_db: [ids_become_visible_in_commit_order],
);

async fn every_writer_records_its_changes_in_order(store: Arc<dyn Store>) {
    assert_eq!(store.last_inbox_event_id().await.unwrap(), 0);
    let ch = channel(&*store, "111").await;
    let (conv, inbound) = inbound_text(&*store, ch.id, "15550001", "wamid.i1", t(1)).await;
    let reply = outbound(&*store, conv, Some("wamid.o1"), Sent, t(2)).await;
    apply_status(&*store, ch.id, &status("wamid.o1", Delivered, t(3))).await;
    let vip = label(&*store, "vip").await;
    store.add_conversation_labels(conv, &[vip.id], None, t(4)).await.unwrap();
    assert!(store.remove_conversation_label(conv, vip.id).await.unwrap());

    let events = store.inbox_events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    use InboxEventKind::*;
    assert_eq!(kinds, [ConversationCreated, MessageCreated, MessageCreated, MessageStatus, LabelAdded, LabelRemoved]);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert!(events.iter().all(|e| e.conversation_id == conv && e.channel_id == ch.id && e.team_id.is_none()));
    assert_eq!(events[1].message_id, Some(inbound));
    assert_eq!(events[1].data["direction"], "inbound");
    assert_eq!(events[2].message_id, Some(reply));
    assert_eq!(events[2].data["state"], "sent");
    assert_eq!((&events[3].data["previous_state"], &events[3].data["state"]), (&"sent".into(), &"delivered".into()));
    assert_eq!(events[4].label_id, Some(vip.id));
    assert_eq!(events[0].data["status"], "open");
    let last = events[5].id;
    assert_eq!(store.last_inbox_event_id().await.unwrap(), last);

    // Paging: strictly after, at most `limit`.
    let page = store.inbox_events_after(events[1].id, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [events[2].id, events[3].id]);
    assert!(store.inbox_events_after(last, 10).await.unwrap().is_empty());

    // Retention: nothing is older than an hour ago; everything is older than tomorrow.
    assert_eq!(store.purge_inbox_events(Utc::now() - chrono::Duration::hours(1), 100).await.unwrap(), 0);
    assert_eq!(store.purge_inbox_events(Utc::now() + chrono::Duration::days(1), 4).await.unwrap(), 4);
    assert_eq!(store.purge_inbox_events(Utc::now() + chrono::Duration::days(1), 100).await.unwrap(), 2);
    assert!(store.inbox_events_after(0, 100).await.unwrap().is_empty());
    // Ids are never reused after a purge.
    store.add_conversation_labels(conv, &[vip.id], None, t(5)).await.unwrap();
    assert!(store.inbox_events_after(0, 100).await.unwrap()[0].id > last);
}

async fn a_wake_up_follows_each_commit(store: Arc<dyn Store>) {
    let ch = channel(&*store, "111").await;
    let (conv, _) = inbound_text(&*store, ch.id, "15550001", "wamid.i1", t(1)).await;
    let vip = label(&*store, "vip").await;
    let before = store.last_inbox_event_id().await.unwrap();
    let mut wakeups = store.inbox_wakeups().await.unwrap();
    let writer = Arc::clone(&store);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.add_conversation_labels(conv, &[vip.id], None, t(2)).await.unwrap();
    });
    // Woken after the commit: the event is there to read.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        tokio::time::timeout_at(deadline, wakeups.wait()).await.expect("woken within 5 s").unwrap();
        let new = store.inbox_events_after(before, 10).await.unwrap();
        if let Some(e) = new.first() {
            assert_eq!(e.kind, InboxEventKind::LabelAdded);
            break;
        }
    }
}

/// Two transactions that record events: the one that commits first gets the lower id,
/// whichever wrote first, so a reader never sees an id before a lower one that commits
/// later (which it would then skip for good). SQLite has one writer: nothing to race.
async fn ids_become_visible_in_commit_order(db: &TestDb, store: Arc<dyn Store>) {
    if db.backend == Backend::Sqlite {
        return;
    }
    let ch = channel(&*store, "111").await;
    let (c1, _) = inbound_text(&*store, ch.id, "15550001", "wamid.i1", t(1)).await;
    let (c2, _) = inbound_text(&*store, ch.id, "15550002", "wamid.i2", t(1)).await;
    let vip = label(&*store, "vip").await;
    let before = store.last_inbox_event_id().await.unwrap();
    let insert = |c: uuid::Uuid| {
        format!(
            "INSERT INTO conversation_labels (conversation_id, label_id, added_at) VALUES ({}, {}, now())",
            uuid_literal(db, &c),
            uuid_literal(db, vip.id.as_uuid())
        )
    };
    let mut first = PgConnection::connect(&db.url).await.unwrap();
    let mut second = PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut first).await.unwrap();
    sqlx::query(&insert(*c1.as_uuid())).execute(&mut first).await.unwrap();
    sqlx::query("BEGIN").execute(&mut second).await.unwrap();
    sqlx::query(&insert(*c2.as_uuid())).execute(&mut second).await.unwrap();
    sqlx::query("COMMIT").execute(&mut second).await.unwrap();
    // The first is still open: a reader sees the second's event only.
    let seen = store.inbox_events_after(before, 10).await.unwrap();
    assert_eq!(seen.iter().map(|e| e.conversation_id).collect::<Vec<_>>(), [c2]);
    sqlx::query("COMMIT").execute(&mut first).await.unwrap();
    let after = store.inbox_events_after(seen[0].id, 10).await.unwrap();
    assert_eq!(after.iter().map(|e| e.conversation_id).collect::<Vec<_>>(), [c1]);
    first.close().await.unwrap();
    second.close().await.unwrap();
}
