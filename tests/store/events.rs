//! The event log: group commit, dedupe by the delivery key (body time, body hash), stats,
//! purging bodies, deleting old rows, and the migration to that key.

use std::collections::HashSet;
use std::sync::Arc;

use switchboard_domain::EventId;
use switchboard_store::{Appended, EventLogStats, IngestBatch, Store, StoreError};
use switchboard_tests::{Backend, TestDb};

use crate::fixtures::{event, exec, migrate_up_to, query_i64, t, try_exec};

conformance!(
    stories: [
        a_first_delivery_is_new_and_a_retry_is_a_duplicate,
        duplicates_within_one_batch_are_stored_once,
        event_ids_follow_arrival_order,
        a_batch_larger_than_the_parameter_limit_is_appended_whole,
        concurrent_appends_agree_on_every_event,
        bodies_are_purged_only_from_applied_events,
        failed_events_are_counted_and_not_claimed,
        marking_an_unknown_event_failed_is_not_found,
    ],
    with_db: [
        deliveries_count_every_copy,
        batches_of_every_size_count_each_copy_once,
        deliveries_stored_before_the_time_ordered_key_are_still_recognised,
        old_deliveries_are_deleted_once_meta_cannot_redeliver_them,
        housekeeping_drops_bodies_then_rows,
    ],
);

fn id(a: Appended) -> EventId {
    match a {
        Appended::New(id) | Appended::Duplicate(id) => id,
    }
}

async fn a_first_delivery_is_new_and_a_retry_is_a_duplicate(store: Arc<dyn Store>) {
    assert!(store.append_events(&[]).await.unwrap().is_empty());
    let first = store.append_events(&[event("a", t(0))]).await.unwrap();
    let Appended::New(a) = first[0] else { panic!("expected New, got {first:?}") };

    let retry = store.append_events(&[event("a", t(5))]).await.unwrap();
    assert_eq!(retry, vec![Appended::Duplicate(a)]);
    assert_eq!(store.event_log_stats().await.unwrap(), EventLogStats { pending: 1, failed: 0, applied: 0 });
}

async fn duplicates_within_one_batch_are_stored_once(store: Arc<dyn Store>) {
    let got =
        store.append_events(&[event("a", t(0)), event("b", t(0)), event("a", t(0)), event("a", t(1))]).await.unwrap();
    let (Appended::New(a), Appended::New(b)) = (got[0], got[1]) else { panic!("{got:?}") };
    assert_ne!(a, b);
    assert_eq!(got[2..], [Appended::Duplicate(a), Appended::Duplicate(a)]);

    // Across batches, new bodies next to known ones.
    let got = store.append_events(&[event("b", t(2)), event("c", t(2)), event("c", t(2))]).await.unwrap();
    assert_eq!(got[0], Appended::Duplicate(b));
    let Appended::New(c) = got[1] else { panic!("{got:?}") };
    assert_eq!(got[2], Appended::Duplicate(c));
    assert_eq!(store.event_log_stats().await.unwrap().pending, 3);

    // Stored once each, with their first body.
    let IngestBatch { tx, events: pending } = store.begin_ingest(10).await.unwrap().unwrap();
    assert_eq!(pending.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a, b, c]);
    assert_eq!(pending.iter().map(|e| &e.body[..]).collect::<Vec<_>>(), vec![&b"a"[..], b"b", b"c"]);
    assert_eq!(pending[0].received_at, t(0));
    drop(tx);
}

async fn deliveries_count_every_copy(db: &TestDb, store: Arc<dyn Store>) {
    let got = store.append_events(&[event("a", t(0)), event("a", t(0)), event("b", t(0))]).await.unwrap();
    let a = id(got[0]).get();
    let b = id(got[2]).get();
    store.append_events(&[event("a", t(1))]).await.unwrap();
    store.append_events(&[event("a", t(2)), event("a", t(2))]).await.unwrap();
    assert_eq!(query_i64(db, &format!("SELECT deliveries FROM webhook_events WHERE id = {a}")).await, 5);
    assert_eq!(query_i64(db, &format!("SELECT deliveries FROM webhook_events WHERE id = {b}")).await, 1);
}

async fn event_ids_follow_arrival_order(store: Arc<dyn Store>) {
    let first: Vec<EventId> = store
        .append_events(&[event("z", t(0)), event("y", t(0)), event("x", t(0))])
        .await
        .unwrap()
        .into_iter()
        .map(id)
        .collect();
    assert!(first.windows(2).all(|w| w[0] < w[1]), "{first:?}");
    let later = id(store.append_events(&[event("w", t(1))]).await.unwrap()[0]);
    assert!(later > first[2]);
}

async fn a_batch_larger_than_the_parameter_limit_is_appended_whole(store: Arc<dyn Store>) {
    // 9,000 distinct bodies would need 36,000 parameters in one SQLite statement.
    let mut batch: Vec<_> = (0..9_000).map(|i| event(&format!("body {i}"), t(0))).collect();
    batch.extend((0..500).map(|i| event(&format!("body {}", i * 7), t(0))));
    let got = store.append_events(&batch).await.unwrap();
    assert_eq!(got.len(), 9_500);
    let new: Vec<EventId> = got[..9_000]
        .iter()
        .map(|a| match a {
            Appended::New(id) => *id,
            Appended::Duplicate(_) => panic!("a first occurrence came back as a duplicate"),
        })
        .collect();
    assert!(new.windows(2).all(|w| w[0] < w[1]), "ids follow the batch order");
    for (i, a) in got[9_000..].iter().enumerate() {
        assert_eq!(*a, Appended::Duplicate(new[i * 7]));
    }
    assert_eq!(store.event_log_stats().await.unwrap().pending, 9_000);
}

async fn concurrent_appends_agree_on_every_event(store: Arc<dyn Store>) {
    // 16 tasks, 40 batches each; every body is sent by two different tasks.
    const TASKS: usize = 16;
    const BATCHES: usize = 40;
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for batch in 0..BATCHES {
                let bodies: Vec<String> = (0..3).map(|k| format!("body {}-{batch}-{k}", (task + k) % TASKS)).collect();
                let events: Vec<_> = bodies.iter().map(|b| event(b, t(0))).collect();
                let got = store.append_events(&events).await.unwrap();
                out.extend(bodies.into_iter().zip(got));
            }
            out
        }));
    }
    let mut by_body: std::collections::HashMap<String, Vec<Appended>> = std::collections::HashMap::new();
    for h in handles {
        for (body, a) in h.await.unwrap() {
            by_body.entry(body).or_default().push(a);
        }
    }
    let mut ids = HashSet::new();
    for (body, outcomes) in &by_body {
        let new = outcomes.iter().filter(|a| matches!(a, Appended::New(_))).count();
        assert_eq!(new, 1, "{body}: {outcomes:?}");
        let first = id(outcomes[0]);
        assert!(outcomes.iter().all(|a| id(*a) == first), "{body}: {outcomes:?}");
        assert!(ids.insert(first), "two bodies share an id");
    }
    assert_eq!(store.event_log_stats().await.unwrap().pending, by_body.len() as i64);
}

async fn bodies_are_purged_only_from_applied_events(store: Arc<dyn Store>) {
    let got = store.append_events(&[event("old applied", t(0)), event("old pending", t(0))]).await.unwrap();
    let (applied, pending) = (id(got[0]), id(got[1]));
    let recent = id(store.append_events(&[event("recent applied", t(100))]).await.unwrap()[0]);
    let IngestBatch { mut tx, events: _ } = store.begin_ingest(10).await.unwrap().unwrap();
    tx.mark_applied(&[applied, recent], t(200)).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.purge_event_bodies(t(50)).await.unwrap(), 1);
    assert_eq!(store.purge_event_bodies(t(50)).await.unwrap(), 0, "already purged");

    // The pending body is intact; the purged event's hash still catches a late retry.
    let IngestBatch { tx, events } = store.begin_ingest(10).await.unwrap().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].id, &events[0].body[..]), (pending, &b"old pending"[..]));
    drop(tx);
    assert_eq!(store.append_events(&[event("old applied", t(300))]).await.unwrap(), vec![Appended::Duplicate(applied)]);
    assert_eq!(store.event_log_stats().await.unwrap(), EventLogStats { pending: 1, failed: 0, applied: 2 });
}

async fn failed_events_are_counted_and_not_claimed(store: Arc<dyn Store>) {
    let got = store.append_events(&[event("poison", t(0)), event("fine", t(0))]).await.unwrap();
    store.mark_event_failed(id(got[0]), "cannot parse", t(1)).await.unwrap();
    let IngestBatch { tx, events } = store.begin_ingest(10).await.unwrap().unwrap();
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id(got[1])]);
    drop(tx);
    assert_eq!(store.event_log_stats().await.unwrap(), EventLogStats { pending: 1, failed: 1, applied: 0 });
    // A retry of a failed delivery is still a duplicate: it is not tried again.
    assert_eq!(store.append_events(&[event("poison", t(2))]).await.unwrap(), vec![Appended::Duplicate(id(got[0]))]);
}

async fn marking_an_unknown_event_failed_is_not_found(store: Arc<dyn Store>) {
    let err = store.mark_event_failed(EventId::new(424_242), "x", t(0)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn batches_of_every_size_count_each_copy_once(db: &TestDb, store: Arc<dyn Store>) {
    // Batch sizes around the statement shapes of the SQLite backend (1..=32, multiples of
    // 32, 1024 rows a statement), with the last distinct body already known or new.
    let known = id(store.append_events(&[event("known", t(0))]).await.unwrap()[0]);
    let sizes = [2_usize, 31, 33, 64, 65, 1_025, 1_100];
    for n in sizes {
        let mut batch: Vec<_> = (1..n).map(|i| event(&format!("{n}-a-{i}"), t(0))).collect();
        batch.push(event("known", t(0)));
        let got = store.append_events(&batch).await.unwrap();
        assert!(got[..n - 1].iter().all(|a| matches!(a, Appended::New(_))), "size {n}");
        assert_eq!(got[n - 1], Appended::Duplicate(known), "size {n}");

        let mut batch: Vec<_> = (1..n).map(|i| event(&format!("{n}-b-{i}"), t(0))).collect();
        batch.push(event(&format!("{n}-tail"), t(0)));
        batch.push(event(&format!("{n}-tail"), t(0)));
        let got = store.append_events(&batch).await.unwrap();
        let Appended::New(tail) = got[n - 1] else { panic!("size {n}: {:?}", got[n - 1]) };
        assert_eq!(got[n], Appended::Duplicate(tail), "size {n}");
        assert_eq!(query_i64(db, &format!("SELECT deliveries FROM webhook_events WHERE id = {}", tail.get())).await, 2);
    }
    let known_deliveries =
        query_i64(db, &format!("SELECT deliveries FROM webhook_events WHERE id = {}", known.get())).await;
    assert_eq!(known_deliveries, 1 + sizes.len() as i64);
    let distinct = 1 + sizes.iter().map(|n| 2 * (n - 1) + 1).sum::<usize>();
    assert_eq!(store.event_log_stats().await.unwrap().pending, distinct as i64);
}

/// The migration to the `(body_time, body_sha256)` key (20261124000012) keeps every row,
/// id and reference, and computes `body_time` as the intake does: Meta's retry of a
/// delivery stored before it is still a duplicate.
async fn deliveries_stored_before_the_time_ordered_key_are_still_recognised(db: &TestDb, _: Arc<dyn Store>) {
    let old = TestDb::new(db.backend).await;
    migrate_up_to(&old, 20261124000011).await;
    let bodies = [
        r#"{"entry":[{"changes":[{"value":{"messages":[{"id":"wamid.1","timestamp":"1700000001"}]}}]}]}"#,
        // Characters of several bytes before the timestamp.
        r#"{"entry":[{"changes":[{"value":{"contacts":[{"profile":{"name":"J\u00fcrgen ☃ 日本"}}],"statuses":[{"timestamp":"1700000002"}]}}]}]}"#,
        r#"{"entry":[{"changes":[{"value":{"x":{"timestamp":"12.5"}}}]}]}"#,
        r#"{"entry":[],"timestamp":"soon"}"#,
        r#"{"entry":[]}"#,
    ];
    for (i, body) in bodies.iter().enumerate() {
        let e = event(body, t(0));
        let (hash, body) = (hex::encode(e.body_sha256), hex::encode(&e.body));
        exec(&old, &match old.backend {
            Backend::Sqlite => format!(
                "INSERT INTO webhook_events (id, body_sha256, body, received_at) VALUES ({}, X'{hash}', X'{body}', 0)",
                i + 1
            ),
            Backend::Postgres => format!(
                "INSERT INTO webhook_events (id, body_sha256, body, received_at) OVERRIDING SYSTEM VALUE \
                 VALUES ({}, '\\x{hash}', '\\x{body}', now())",
                i + 1
            ),
        })
        .await;
    }
    let now = if old.backend == Backend::Sqlite { "0" } else { "now()" };
    let change = |event: i64| {
        format!(
            "INSERT INTO recorded_changes (event_id, reason, field, value, created_at) \
             VALUES ({event}, 'other_field', 'f', '{{}}', {now})"
        )
    };
    exec(&old, &change(2)).await;
    // Ids are never reused, even the newest one's once it is deleted.
    exec(&old, &change(3)).await;
    exec(&old, "DELETE FROM recorded_changes WHERE id = 2").await;

    let store = old.store().await;
    let retries: Vec<_> = bodies.iter().map(|b| event(b, t(60))).collect();
    let got = store.append_events(&retries).await.unwrap();
    assert_eq!(got, (1..=5).map(|i| Appended::Duplicate(EventId::new(i))).collect::<Vec<_>>());
    for (i, e) in retries.iter().enumerate() {
        let sql = format!("SELECT body_time FROM webhook_events WHERE id = {}", i + 1);
        assert_eq!(query_i64(&old, &sql).await, e.body_time, "{}", bodies[i]);
    }
    assert_eq!(retries.iter().map(|e| e.body_time).collect::<Vec<_>>(), [1_700_000_001, 1_700_000_002, 12, 0, 0]);
    // New deliveries and changes follow the old ids.
    let got = store.append_events(&[event(r#"{"timestamp":"1700000003"}"#, t(61))]).await.unwrap();
    let [Appended::New(new)] = got[..] else { panic!("{got:?}") };
    assert!(new.get() > 5, "{new:?}");
    exec(&old, &change(new.get())).await;
    assert_eq!(query_i64(&old, "SELECT MAX(id) FROM recorded_changes").await, 3);
    // The first change still refers to its event, and references are still enforced.
    assert_eq!(
        query_i64(
            &old,
            "SELECT e.id FROM recorded_changes r JOIN webhook_events e ON e.id = r.event_id WHERE r.id = 1"
        )
        .await,
        2
    );
    assert!(try_exec(&old, &change(999)).await.is_err());
    store.close().await;
}

/// Applied deliveries whose key time and arrival are both past the horizon are deleted,
/// in slices (more rows than a slice on either backend); pending and failed ones, and
/// those a recorded change refers to, stay. A delivery without a time in its body (key
/// time 0) stays until it is old by its arrival, and so does one that arrived late.
async fn old_deliveries_are_deleted_once_meta_cannot_redeliver_them(db: &TestDb, store: Arc<dyn Store>) {
    const DAY: i64 = 86_400;
    let body = |secs: i64, n: &str| {
        format!(
            r#"{{"entry":[{{"changes":[{{"value":{{"statuses":[{{"timestamp":"{}","n":"{n}"}}]}}}}]}}]}}"#,
            t(secs).timestamp()
        )
    };
    let old: Vec<_> = (0..6_000).map(|i| event(&body(-10 * DAY + i, &format!("old {i}")), t(-10 * DAY + i))).collect();
    store.append_events(&old).await.unwrap();
    let kept = [
        event(&body(-10 * DAY, "pending"), t(-10 * DAY)),
        event(&body(-10 * DAY, "failed"), t(-10 * DAY)),
        event(&body(-10 * DAY, "recorded"), t(-10 * DAY)),
        event(&body(-DAY, "recent"), t(-DAY)),
        event(r#"{"entry":[],"n":"no time, recent"}"#, t(-DAY)),
        event(&body(-10 * DAY, "arrived late"), t(0)),
    ];
    let no_time_old = event(r#"{"entry":[],"n":"no time, old"}"#, t(-10 * DAY));
    let got = store.append_events(&[&kept[..], &[no_time_old]].concat()).await.unwrap();
    let ids: Vec<i64> = got.iter().map(|a| id(*a).get()).collect();
    exec(db, "UPDATE webhook_events SET state = 'applied'").await;
    exec(db, &format!("UPDATE webhook_events SET state = 'pending' WHERE id = {}", ids[0])).await;
    store.mark_event_failed(EventId::new(ids[1]), "cannot parse", t(1)).await.unwrap();
    let now = if db.backend == Backend::Sqlite { "0" } else { "now()" };
    exec(
        db,
        &format!(
            "INSERT INTO recorded_changes (event_id, reason, field, value, created_at) \
             VALUES ({}, 'field', 'account_update', '{{}}', {now})",
            ids[2]
        ),
    )
    .await;

    assert_eq!(store.delete_old_events(t(-8 * DAY)).await.unwrap(), 6_001);
    assert_eq!(store.delete_old_events(t(-8 * DAY)).await.unwrap(), 0, "nothing left to delete");
    assert_eq!(stored(db, &ids, "true").await, [true, true, true, true, true, true, false]);
    assert_eq!(store.event_log_stats().await.unwrap(), EventLogStats { pending: 1, failed: 1, applied: 4 });

    // Retries within the horizon are still recognised.
    assert_eq!(
        store.append_events(&[event(&body(-DAY, "recent"), t(1))]).await.unwrap(),
        vec![Appended::Duplicate(EventId::new(ids[3]))]
    );
    // A delivery past the horizon that arrives anyway is stored again, as new (the ingest
    // recognises its messages by wamid), and stays until it is old by its arrival too.
    let again = store.append_events(&[event(&body(-10 * DAY, "old 7"), t(2))]).await.unwrap();
    let [Appended::New(again)] = again[..] else { panic!("{again:?}") };
    assert!(again.get() > ids[6]);
    exec(db, &format!("UPDATE webhook_events SET state = 'applied' WHERE id = {}", again.get())).await;
    assert_eq!(store.delete_old_events(t(-8 * DAY)).await.unwrap(), 0);
    assert_eq!(store.delete_old_events(t(3)).await.unwrap(), 4, "all but the pending, failed and recorded ones");
}

/// Housekeeping at its defaults: bodies go after 7 days, rows after 10.
async fn housekeeping_drops_bodies_then_rows(db: &TestDb, store: Arc<dyn Store>) {
    use switchboard_core::{Housekeeper, HousekeepingOptions};
    let now = chrono::Utc::now();
    let day = chrono::Duration::days(1);
    let at = |days: i32| now - day * days;
    let body = |days: i32| format!(r#"{{"statuses":[{{"timestamp":"{}"}}]}}"#, at(days).timestamp());
    let got =
        store.append_events(&[event(&body(2), at(2)), event(&body(8), at(8)), event(&body(11), at(11))]).await.unwrap();
    let ids: Vec<i64> = got.iter().map(|a| id(*a).get()).collect();
    exec(db, "UPDATE webhook_events SET state = 'applied'").await;

    let report = Housekeeper::new(Arc::clone(&store), HousekeepingOptions::default()).run_once(now).await.unwrap();
    assert_eq!((report.bodies_purged, report.events_deleted), (2, 1));
    assert_eq!(stored(db, &ids, "body IS NOT NULL").await, [true, false, false]);
    assert_eq!(store.event_log_stats().await.unwrap().applied, 2);
    // A retry of the 8-day-old delivery is still recognised.
    assert_eq!(
        store.append_events(&[event(&body(8), now)]).await.unwrap(),
        vec![Appended::Duplicate(EventId::new(ids[1]))]
    );
}

/// Whether each event is stored, and `condition` holds for it.
async fn stored(db: &TestDb, ids: &[i64], condition: &str) -> Vec<bool> {
    let mut out = Vec::new();
    for id in ids {
        let sql = format!("SELECT COUNT(*) FROM webhook_events WHERE id = {id} AND {condition}");
        out.push(query_i64(db, &sql).await == 1);
    }
    out
}
