//! The audit log's storage: entries read back as written, filters and the id cursor,
//! append-only (an UPDATE is refused by the database), a failed sign-in's entry written
//! with its rate-limit row, and the purge by age in slices.

use std::sync::Arc;

use serde_json::json;
use switchboard_domain::AgentRole;
use switchboard_store::{AuditAction, AuditQuery, AuditTarget, NewAuditEntry, NewSignInFailure, Store};
use switchboard_tests::TestDb;

use crate::agents_admin::{new_agent, token};
use crate::fixtures::{query_i64, t, try_exec};

conformance!(
    stories: [
        entries_read_back_as_written_newest_first_with_filters,
        a_failed_sign_in_is_recorded_with_its_rate_limit_row,
        the_purge_deletes_old_entries_in_slices,
    ],
    with_db: [an_entry_cannot_be_changed],
);

fn entry(at: i64, action: AuditAction) -> NewAuditEntry {
    NewAuditEntry {
        at: t(at),
        actor: None,
        client_addr: Some("192.0.2.1".into()),
        action,
        target: Some(AuditTarget::new("label", format!("l{at}"))),
        before: Some(json!({"name": "old"})),
        after: Some(json!({"name": "new", "n": at})),
    }
}

async fn entries_read_back_as_written_newest_first_with_filters(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Admin), &token(1), t(0)).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut e = entry(i, if i % 2 == 0 { AuditAction::LabelCreated } else { AuditAction::LabelDeleted });
        e.actor = (i == 3).then_some(ana.id);
        ids.push(store.record_audit(&e).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let all = store.audit_entries(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), ids.iter().rev().copied().collect::<Vec<_>>());
    let newest = &all[0];
    assert_eq!((newest.at, newest.actor, newest.action), (t(3), Some(ana.id), AuditAction::LabelDeleted));
    assert_eq!(newest.client_addr.as_deref(), Some("192.0.2.1"));
    assert_eq!((newest.target_type.as_deref(), newest.target_id.as_deref()), (Some("label"), Some("l3")));
    assert_eq!(newest.before, Some(json!({"name": "old"})));
    assert_eq!(newest.after, Some(json!({"name": "new", "n": 3})));

    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery { limit: 10, ..AuditQuery::default() };
        f(&mut q);
        q
    };
    let created = store.audit_entries(&q(|q| q.action = Some(AuditAction::LabelCreated))).await.unwrap();
    assert_eq!(created.iter().map(|e| e.at).collect::<Vec<_>>(), [t(2), t(0)]);
    let by = store.audit_entries(&AuditQuery { actor: Some(ana.id), limit: 10, ..AuditQuery::default() }).await;
    assert_eq!(by.unwrap().len(), 1);
    let target = store
        .audit_entries(&q(|q| {
            q.target_type = Some("label".into());
            q.target_id = Some("l1".into());
        }))
        .await
        .unwrap();
    assert_eq!(target.iter().map(|e| e.at).collect::<Vec<_>>(), [t(1)]);
    let window = store
        .audit_entries(&q(|q| {
            q.since = Some(t(1));
            q.until = Some(t(3));
        }))
        .await
        .unwrap();
    assert_eq!(window.iter().map(|e| e.at).collect::<Vec<_>>(), [t(2), t(1)]);
    // The cursor: entries older than the given id, at most `limit`.
    let page =
        store.audit_entries(&AuditQuery { before_id: Some(ids[2]), limit: 1, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[1]]);
}

async fn a_failed_sign_in_is_recorded_with_its_rate_limit_row(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    let f = NewSignInFailure { account: "ana@x.com", agent: Some(ana.id), client_addr: "198.51.100.4" };
    store.record_sign_in_failure(&f, t(5)).await.unwrap();
    let got = store.audit_entries(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(got.len(), 1);
    let e = &got[0];
    assert_eq!((e.action, e.at, e.actor), (AuditAction::SignInFailed, t(5), None));
    assert_eq!(e.client_addr.as_deref(), Some("198.51.100.4"));
    assert_eq!((e.target_type.as_deref(), e.target_id.clone()), (Some("agent"), Some(ana.id.to_string())));
    assert_eq!((e.before.clone(), e.after.clone()), (None, None), "the typed account is not kept");
}

async fn the_purge_deletes_old_entries_in_slices(store: Arc<dyn Store>) {
    for i in 0..7 {
        store.record_audit(&entry(i, AuditAction::SettingsChanged)).await.unwrap();
    }
    // Older than t(5): five entries, in slices of two.
    assert_eq!(store.purge_audit(t(5), 2).await.unwrap(), 2);
    assert_eq!(store.purge_audit(t(5), 2).await.unwrap(), 2);
    assert_eq!(store.purge_audit(t(5), 2).await.unwrap(), 1);
    assert_eq!(store.purge_audit(t(5), 2).await.unwrap(), 0);
    let left = store.audit_entries(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(left.iter().map(|e| e.at).collect::<Vec<_>>(), [t(6), t(5)]);
}

async fn an_entry_cannot_be_changed(db: &TestDb, store: Arc<dyn Store>) {
    store.record_audit(&entry(1, AuditAction::LabelCreated)).await.unwrap();
    let refused = try_exec(db, "UPDATE audit_log SET action = 'label_deleted'").await;
    assert!(refused.is_err(), "an UPDATE of the audit log must be refused");
    assert_eq!(query_i64(db, "SELECT COUNT(*) FROM audit_log WHERE action = 'label_created'").await, 1);
}
