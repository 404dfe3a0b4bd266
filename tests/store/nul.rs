//! NUL characters (U+0000), which PostgreSQL cannot store in TEXT or JSONB, are dropped
//! from what comes from outside, on both backends alike, rather than failing the write.

use std::sync::Arc;

use serde_json::json;
use switchboard_domain::DeliveryState::Failed;
use switchboard_domain::{MessageContent, StatusError};
use switchboard_store::{
    InboundOutcome, NewOutbound, OutboxState, RecordReason, RecordedChange, SendOutcome, SendResult, StatusOutcome,
    Store, StoredChange,
};

use crate::fixtures::{apply, begin, channel, contact, failure, finish, t, text, wamid};

conformance!(stories: [nul_characters_are_dropped_not_refused]);

async fn nul_characters_are_dropped_not_refused(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;

    // A customer's message.
    let ana = contact("15550001", Some("A\u{0}na"));
    let mut inbound = text("wamid.nul", &ana, t(0), "hel\u{0}lo");
    inbound.raw = json!({"id": "wamid.nul", "text": {"body": "hel\u{0}lo"}, "k\u{0}": ["\u{0}"]});
    let InboundOutcome::Stored { message_id, conversation_id, .. } = apply(&*store, ch.id, &ana, &inbound, None).await
    else {
        panic!("stored")
    };
    let m = store.message(message_id).await.unwrap().unwrap();
    assert_eq!(m.content, MessageContent::Text { body: "hello".into() });
    let c = store.conversation(conversation_id).await.unwrap().unwrap();
    assert_eq!(c.contact.profile_name.as_deref(), Some("Ana"));

    // A change kept raw, and a failure report for a wamid not known yet.
    let (mut tx, events) = begin(&*store).await;
    tx.record_change(&RecordedChange {
        event_id: events[0],
        reason: RecordReason::Field,
        field: "account\u{0}_update",
        phone_number_id: None,
        waba_id: Some("12\u{0}3"),
        value: &json!({"note": "a\u{0}b"}),
        at: t(1),
    })
    .await
    .unwrap();
    let mut report = failure("wamid.out1", t(12), 131_026, "Un\u{0}deliverable");
    report.errors[0].details = Some("de\u{0}tails".into());
    assert_eq!(tx.apply_status(ch.id, &report, None, t(12)).await.unwrap(), StatusOutcome::Pending);
    finish(tx, &events).await;
    assert_eq!(
        store.recorded_changes(RecordReason::Field, 10).await.unwrap(),
        vec![StoredChange { event_id: events[0], field: "account_update".to_owned(), value: json!({"note": "ab"}) }]
    );

    // Outbound messages: content, request, outcomes.
    let enqueue = |body: &'static str| {
        let store = Arc::clone(&store);
        async move {
            let content = MessageContent::Text { body: body.into() };
            let request = json!({"to": "15550001", "text": {"body": body}});
            store
                .enqueue_outbound(&NewOutbound {
                    conversation_id,
                    content: &content,
                    request: &request,
                    sent_by: None,
                    idempotency_key: None,
                    at: t(10),
                })
                .await
                .unwrap()
                .message_id
        }
    };
    let first = enqueue("one\u{0}").await;
    let second = enqueue("t\u{0}wo").await;
    assert_eq!(store.message(second).await.unwrap().unwrap().content, MessageContent::Text { body: "two".into() });
    let jobs = store.claim_outbox(10, t(11), t(20)).await.unwrap();
    assert_eq!(jobs[0].request, json!({"to": "15550001", "text": {"body": "one"}}));
    store
        .complete_outbox(
            &[SendResult {
                job_id: jobs[0].id,
                message_id: first,
                leased_until: jobs[0].leased_until,
                outcome: SendOutcome::Sent { wamid: wamid("wamid.out1") },
            }],
            t(11),
        )
        .await
        .unwrap();
    // The parked failure reached the message, its texts cleaned.
    let m = store.message(first).await.unwrap().unwrap();
    let e = m.error.unwrap();
    assert_eq!((m.state, e.title.as_str(), e.details.as_deref()), (Failed, "Undeliverable", Some("details")));

    let jobs = store.claim_outbox(10, t(12), t(20)).await.unwrap();
    assert_eq!(jobs[0].message_id, second);
    store
        .complete_outbox(
            &[SendResult {
                job_id: jobs[0].id,
                message_id: second,
                leased_until: jobs[0].leased_until,
                outcome: SendOutcome::Retry { run_at: t(13), error: "bu\u{0}sy".into() },
            }],
            t(12),
        )
        .await
        .unwrap();
    let ready = store.list_outbox(OutboxState::Ready, 10).await.unwrap();
    assert_eq!(ready[0].last_error.as_deref(), Some("busy"));
    let jobs = store.claim_outbox(10, t(13), t(20)).await.unwrap();
    store
        .complete_outbox(
            &[SendResult {
                job_id: jobs[0].id,
                message_id: second,
                leased_until: jobs[0].leased_until,
                outcome: SendOutcome::Failed {
                    error: StatusError { code: 1, title: "No\u{0}pe".into(), details: None, href: None },
                    dead: true,
                },
            }],
            t(13),
        )
        .await
        .unwrap();
    let dead = store.list_outbox(OutboxState::Dead, 10).await.unwrap();
    assert_eq!(dead[0].last_error.as_deref(), Some("Nope (1)"));
    let m = store.message(second).await.unwrap().unwrap();
    assert_eq!(m.error.map(|e| e.title), Some("Nope".into()));
}
