//! The outbox: enqueueing with idempotency keys, claiming with leases, one conversation
//! in order, outcomes, dead letters and requeueing.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use switchboard_domain::DeliveryState::{Delivered, Failed, Queued, Read, Sent};
use switchboard_domain::{
    AgentId, AgentName, AgentRole, ConversationId, Direction, Email, JobId, MessageContent, MessageId, NewAgent,
    PhoneNumberId, StatusError, TokenHash, WaId,
};
use switchboard_store::{
    ChannelInfo, Enqueued, NewOutbound, OutboxJob, OutboxState, SendOutcome, SendResult, StatusOutcome, Store,
    StoreError,
};
use switchboard_tests::TestDb;

use crate::fixtures::{apply_status, begin, channel, finish, inbound_text, second_instance, status, t, wamid};

conformance!(
    stories: [
        a_queued_message_is_claimed_and_sent_and_gets_the_statuses_that_came_first,
        an_idempotency_key_returns_the_first_message,
        concurrent_requests_with_one_key_create_one_message,
        one_conversation_is_sent_in_order,
        an_expired_lease_is_claimed_again,
        outcomes_after_a_lost_lease_are_handled_sanely,
        an_expired_lease_waits_the_grace_before_another_claim,
        a_late_outcome_never_undoes_a_later_claim,
        a_status_naming_an_unrecorded_send_completes_it,
        a_status_naming_a_message_is_trusted_only_for_a_send_not_recorded,
        a_wamid_another_message_has_fails_only_its_own_outcome,
        a_refused_message_fails_and_retries_used_up_make_a_dead_letter,
        dead_and_failed_jobs_can_be_requeued,
        every_dead_or_failed_job_is_requeued_at_once,
        a_requeued_job_waits_for_the_one_in_flight,
        unknown_conversations_and_jobs_are_not_found,
    ],
    with_db: [concurrent_claimers_never_share_a_job_or_a_conversation],
);

const LEASE: i64 = 60;

async fn setup(store: &dyn Store) -> (ChannelInfo, ConversationId) {
    let ch = channel(store, "1001").await;
    let (conversation, _) = inbound_text(store, ch.id, "15550001", "wamid.in", t(0)).await;
    (ch, conversation)
}

fn request(to: &str, body: &str) -> serde_json::Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
    })
}

async fn enqueue_as(
    store: &dyn Store,
    conversation: ConversationId,
    body: &str,
    sent_by: Option<AgentId>,
    key: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Enqueued, StoreError> {
    let content = MessageContent::Text { body: body.to_owned() };
    let request = request("15550001", body);
    store
        .enqueue_outbound(&NewOutbound {
            conversation_id: conversation,
            content: &content,
            request: &request,
            sent_by,
            idempotency_key: key,
            at,
        })
        .await
}

async fn enqueue(store: &dyn Store, conversation: ConversationId, body: &str, at: DateTime<Utc>) -> MessageId {
    let e = enqueue_as(store, conversation, body, None, None, at).await.unwrap();
    assert!(e.created);
    e.message_id
}

async fn claim(store: &dyn Store, now: DateTime<Utc>) -> Vec<OutboxJob> {
    store.claim_outbox(100, now, now + chrono::Duration::seconds(LEASE)).await.unwrap()
}

fn messages(jobs: &[OutboxJob]) -> Vec<MessageId> {
    jobs.iter().map(|j| j.message_id).collect()
}

fn result(job: &OutboxJob, outcome: SendOutcome) -> SendResult {
    SendResult::of(job, outcome)
}

fn sent(job: &OutboxJob, id: &str) -> SendResult {
    result(job, SendOutcome::Sent { wamid: wamid(id) })
}

fn retry(job: &OutboxJob, run_at: DateTime<Utc>) -> SendResult {
    result(job, SendOutcome::Retry { run_at, error: "Graph API unavailable (HTTP 503)".into() })
}

fn refusal(code: i64) -> StatusError {
    StatusError {
        code,
        title: "Message undeliverable".into(),
        details: Some("The recipient is not on WhatsApp".into()),
        href: None,
    }
}

async fn agent(store: &dyn Store, email: &str, token: u8) -> AgentId {
    store
        .create_agent(
            &NewAgent {
                name: AgentName::parse("Ana Pérez").unwrap(),
                email: Email::parse(email).unwrap(),
                role: AgentRole::Agent,
            },
            &TokenHash::from_bytes([token; 32]),
            t(0),
        )
        .await
        .unwrap()
        .id
}

async fn view(store: &dyn Store, id: MessageId) -> switchboard_store::MessageView {
    store.message(id).await.unwrap().unwrap()
}

async fn a_queued_message_is_claimed_and_sent_and_gets_the_statuses_that_came_first(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = enqueue(&*store, conversation, "Thanks, on it", t(10)).await;

    let m = view(&*store, id).await;
    assert_eq!((m.direction, m.state, m.wamid.clone(), m.sent_by), (Direction::Outbound, Queued, None, None));
    assert_eq!((m.timestamp, m.created_at, m.sent_at), (t(10), t(10), None));
    assert_eq!(m.content, MessageContent::Text { body: "Thanks, on it".into() });
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!((c.message_count, c.last_message_at), (2, t(10)));

    let ready = store.list_outbox(OutboxState::Ready, 10).await.unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!((ready[0].message_id, ready[0].conversation_id, ready[0].state), (id, conversation, OutboxState::Ready));
    assert_eq!((ready[0].attempts, ready[0].run_at, ready[0].created_at), (0, t(10), t(10)));
    assert_eq!(ready[0].last_error, None);

    // Not due before it was queued.
    assert!(claim(&*store, t(9)).await.is_empty());

    // Meta's "delivered" may overtake the send call's response.
    assert_eq!(apply_status(&*store, ch.id, &status("wamid.s1", Delivered, t(13))).await, StatusOutcome::Pending);

    let jobs = claim(&*store, t(11)).await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.id, ready[0].id);
    assert_eq!((job.message_id, job.conversation_id, job.channel_id), (id, conversation, ch.id));
    assert_eq!(job.phone_number_id, PhoneNumberId::parse("1001").unwrap());
    assert_eq!(job.to, WaId::parse("15550001").unwrap());
    assert_eq!(job.request, request("15550001", "Thanks, on it"));
    assert_eq!((job.attempts, job.created_at), (1, t(10)));

    // Leased: nobody else gets it.
    assert!(claim(&*store, t(12)).await.is_empty());

    store.complete_outbox(&[sent(job, "wamid.s1")], t(12)).await.unwrap();
    let m = view(&*store, id).await;
    assert_eq!(m.wamid, Some(wamid("wamid.s1")));
    assert_eq!((m.state, m.sent_at, m.delivered_at), (Delivered, Some(t(12)), Some(t(13))));
    assert!(store.list_outbox(OutboxState::Ready, 10).await.unwrap().is_empty());
    assert!(claim(&*store, t(1000)).await.is_empty());

    // From now on the message is known by its wamid.
    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.s1", Read, t(14))).await,
        StatusOutcome::Applied { message_id: id, from: Delivered, to: Read }
    );
}

async fn an_idempotency_key_returns_the_first_message(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let ana = agent(&*store, "ana@example.com", 1).await;
    let bo = agent(&*store, "bo@example.com", 2).await;

    let first = enqueue_as(&*store, conversation, "Hi", Some(ana), Some("k-1"), t(10)).await.unwrap();
    assert!(first.created);
    assert_eq!(view(&*store, first.message_id).await.sent_by, Some(ana));
    // The same key again, even with another body: the first message, nothing new.
    let again = enqueue_as(&*store, conversation, "Hi!", Some(ana), Some("k-1"), t(11)).await.unwrap();
    assert_eq!(again, Enqueued { message_id: first.message_id, created: false });
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!((c.message_count, c.last_message_at), (2, t(10)));
    assert_eq!(store.list_outbox(OutboxState::Ready, 10).await.unwrap().len(), 1);

    // Keys are scoped to the agent; other keys and no key make new messages.
    let other_agent = enqueue_as(&*store, conversation, "Hi", Some(bo), Some("k-1"), t(12)).await.unwrap();
    let other_key = enqueue_as(&*store, conversation, "Hi", Some(ana), Some("k-2"), t(13)).await.unwrap();
    let no_key_1 = enqueue_as(&*store, conversation, "Hi", Some(ana), None, t(14)).await.unwrap();
    let no_key_2 = enqueue_as(&*store, conversation, "Hi", Some(ana), None, t(15)).await.unwrap();
    // Without an agent a key has no scope: it is not kept, and deduplicates nothing.
    let no_agent_1 = enqueue_as(&*store, conversation, "Hi", None, Some("k-1"), t(16)).await.unwrap();
    let no_agent_2 = enqueue_as(&*store, conversation, "Hi", None, Some("k-1"), t(17)).await.unwrap();
    let made = [first, other_agent, other_key, no_key_1, no_key_2, no_agent_1, no_agent_2];
    assert!(made.iter().all(|e| e.created));
    let ids: HashSet<MessageId> = made.iter().map(|e| e.message_id).collect();
    assert_eq!(ids.len(), made.len());
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!((c.message_count, c.last_message_at), (8, t(17)));
    assert_eq!(store.list_outbox(OutboxState::Ready, 100).await.unwrap().len(), 7);
}

async fn concurrent_requests_with_one_key_create_one_message(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (a, _) = inbound_text(&*store, ch.id, "15550001", "wamid.a", t(0)).await;
    let (b, _) = inbound_text(&*store, ch.id, "15550002", "wamid.b", t(0)).await;
    let ana = agent(&*store, "ana@example.com", 1).await;

    // The same key from eight requests at once (a client retrying eagerly), on two
    // conversations, so that they do not all queue on one conversation's lock.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let conversation = if i % 2 == 0 { a } else { b };
                enqueue_as(&*store, conversation, "Hi", Some(ana), Some("k-1"), t(10 + i)).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|e| e.created).count(), 1);
    let id = outcomes[0].message_id;
    assert!(outcomes.iter().all(|e| e.message_id == id));

    let ready = store.list_outbox(OutboxState::Ready, 100).await.unwrap();
    assert_eq!(messages_of(&ready), vec![id]);
    let counts = (
        store.conversation(a).await.unwrap().unwrap().message_count,
        store.conversation(b).await.unwrap().unwrap().message_count,
    );
    assert_eq!(counts.0 + counts.1, 3);
}

fn messages_of(entries: &[switchboard_store::OutboxEntry]) -> Vec<MessageId> {
    entries.iter().map(|e| e.message_id).collect()
}

async fn one_conversation_is_sent_in_order(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (a, _) = inbound_text(&*store, ch.id, "15550001", "wamid.a", t(0)).await;
    let (b, _) = inbound_text(&*store, ch.id, "15550002", "wamid.b", t(0)).await;
    let a1 = enqueue(&*store, a, "first", t(10)).await;
    let a2 = enqueue(&*store, a, "second", t(11)).await;
    let b1 = enqueue(&*store, b, "other", t(12)).await;

    // Only the oldest job of each conversation is offered.
    let jobs = claim(&*store, t(20)).await;
    assert_eq!(messages(&jobs), vec![a1, b1]);
    assert_eq!(jobs[1].to, WaId::parse("15550002").unwrap());

    // a1 waits for a retry: it still holds a2 back.
    store.complete_outbox(&[retry(&jobs[0], t(100)), sent(&jobs[1], "wamid.b1")], t(21)).await.unwrap();
    assert!(claim(&*store, t(30)).await.is_empty());
    let ready = store.list_outbox(OutboxState::Ready, 10).await.unwrap();
    assert_eq!(messages_of(&ready), vec![a1, a2]);
    assert_eq!(
        (ready[0].attempts, ready[0].run_at, ready[0].last_error.as_deref()),
        (1, t(100), Some("Graph API unavailable (HTTP 503)"))
    );
    assert_eq!(view(&*store, a1).await.state, Queued);

    // Its retry comes first; a2 only once a1 is sent.
    let jobs = claim(&*store, t(100)).await;
    assert_eq!(messages(&jobs), vec![a1]);
    assert_eq!(jobs[0].attempts, 2);
    assert!(claim(&*store, t(101)).await.is_empty());
    store.complete_outbox(&[sent(&jobs[0], "wamid.a1")], t(101)).await.unwrap();
    let jobs = claim(&*store, t(102)).await;
    assert_eq!(messages(&jobs), vec![a2]);
    assert_eq!(jobs[0].attempts, 1);
    store.complete_outbox(&[sent(&jobs[0], "wamid.a2")], t(103)).await.unwrap();
    for (id, w) in [(a1, "wamid.a1"), (a2, "wamid.a2"), (b1, "wamid.b1")] {
        let m = view(&*store, id).await;
        assert_eq!((m.state, m.wamid), (Sent, Some(wamid(w))));
    }

    // The limit counts conversations' heads, oldest first.
    let c1 = enqueue(&*store, b, "x", t(200)).await;
    let _c2 = enqueue(&*store, a, "y", t(201)).await;
    let jobs = store.claim_outbox(1, t(300), t(400)).await.unwrap();
    assert_eq!(messages(&jobs), vec![c1]);
    assert!(store.claim_outbox(0, t(300), t(400)).await.unwrap().is_empty());
}

async fn an_expired_lease_is_claimed_again(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let id = enqueue(&*store, conversation, "Hi", t(10)).await;
    let follower = enqueue(&*store, conversation, "Are you there?", t(11)).await;

    let jobs = store.claim_outbox(10, t(20), t(30)).await.unwrap();
    assert_eq!((messages(&jobs), jobs[0].attempts), (vec![id], 1));
    // Leased until t(30) (inclusive), and its follower waits.
    assert!(store.claim_outbox(10, t(30), t(90)).await.unwrap().is_empty());

    // The sender died: after its lease, the job is claimed again, counting the attempt.
    let jobs = store.claim_outbox(10, t(31), t(90)).await.unwrap();
    assert_eq!((messages(&jobs), jobs[0].attempts), (vec![id], 2));

    // A lease that ends before `now` leases nothing.
    let jobs = store.claim_outbox(10, t(100), t(99)).await.unwrap();
    assert_eq!((messages(&jobs), jobs[0].attempts), (vec![id], 3));
    let jobs = store.claim_outbox(10, t(100), t(99)).await.unwrap();
    assert_eq!((messages(&jobs), jobs[0].attempts), (vec![id], 4));

    let ready = store.list_outbox(OutboxState::Ready, 10).await.unwrap();
    assert_eq!(messages_of(&ready), vec![id, follower]);
    assert_eq!((ready[0].attempts, ready[1].attempts), (4, 0));
}

async fn outcomes_after_a_lost_lease_are_handled_sanely(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let id = enqueue(&*store, conversation, "Hi", t(10)).await;

    // Sender A's lease runs out; sender B claims the job again and sends it.
    let a = store.claim_outbox(10, t(20), t(30)).await.unwrap();
    let b = store.claim_outbox(10, t(40), t(100)).await.unwrap();
    assert_eq!((a[0].id, b[0].attempts), (b[0].id, 2));
    store.complete_outbox(&[sent(&b[0], "wamid.b")], t(41)).await.unwrap();
    // A reports late: a retry, a failure, or a second send change nothing.
    store.complete_outbox(&[retry(&a[0], t(50))], t(42)).await.unwrap();
    store
        .complete_outbox(&[result(&a[0], SendOutcome::Failed { error: refusal(131_026), dead: false })], t(42))
        .await
        .unwrap();
    store.complete_outbox(&[sent(&a[0], "wamid.a")], t(43)).await.unwrap();
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.wamid, m.sent_at, m.error), (Sent, Some(wamid("wamid.b")), Some(t(41)), None));
    for state in [OutboxState::Ready, OutboxState::Dead, OutboxState::Failed] {
        assert!(store.list_outbox(state, 10).await.unwrap().is_empty());
    }

    // A sent message wins over a failure reported by a sender whose lease was lost:
    // the job is gone (nothing to requeue); the message keeps its failure, forward
    // only, but records the wamid.
    let id = enqueue(&*store, conversation, "Hello?", t(60)).await;
    let a = store.claim_outbox(10, t(60), t(70)).await.unwrap();
    let b = store.claim_outbox(10, t(80), t(140)).await.unwrap();
    store
        .complete_outbox(&[result(&b[0], SendOutcome::Failed { error: refusal(131_026), dead: false })], t(81))
        .await
        .unwrap();
    assert_eq!(view(&*store, id).await.state, Failed);
    store.complete_outbox(&[sent(&a[0], "wamid.late")], t(82)).await.unwrap();
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.wamid, m.sent_at), (Failed, Some(wamid("wamid.late")), Some(t(82))));
    assert!(store.list_outbox(OutboxState::Failed, 10).await.unwrap().is_empty());
}

async fn a_refused_message_fails_and_retries_used_up_make_a_dead_letter(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (a, _) = inbound_text(&*store, ch.id, "15550001", "wamid.a", t(0)).await;
    let (b, _) = inbound_text(&*store, ch.id, "15550002", "wamid.b", t(0)).await;
    let refused = enqueue(&*store, a, "one", t(10)).await;
    let behind = enqueue(&*store, a, "two", t(11)).await;
    let exhausted = enqueue(&*store, b, "three", t(12)).await;

    let jobs = claim(&*store, t(20)).await;
    assert_eq!(messages(&jobs), vec![refused, exhausted]);
    store
        .complete_outbox(
            &[
                result(&jobs[0], SendOutcome::Failed { error: refusal(131_026), dead: false }),
                result(
                    &jobs[1],
                    SendOutcome::Failed {
                        error: StatusError {
                            code: 131_000,
                            title: "Something went wrong".into(),
                            details: None,
                            href: None,
                        },
                        dead: true,
                    },
                ),
            ],
            t(21),
        )
        .await
        .unwrap();

    let m = view(&*store, refused).await;
    assert_eq!((m.state, m.failed_at, m.sent_at), (Failed, Some(t(21)), None));
    let e = m.error.unwrap();
    assert_eq!(
        (e.code, e.title.as_str(), e.details.as_deref()),
        (131_026, "Message undeliverable", Some("The recipient is not on WhatsApp"))
    );
    let m = view(&*store, exhausted).await;
    assert_eq!((m.state, m.error.map(|e| e.code)), (Failed, Some(131_000)));

    let failed = store.list_outbox(OutboxState::Failed, 10).await.unwrap();
    assert_eq!(messages_of(&failed), vec![refused]);
    assert_eq!(
        (failed[0].state, failed[0].attempts, failed[0].last_error.as_deref()),
        (OutboxState::Failed, 1, Some("Message undeliverable (131026): The recipient is not on WhatsApp"))
    );
    let dead = store.list_outbox(OutboxState::Dead, 10).await.unwrap();
    assert_eq!(messages_of(&dead), vec![exhausted]);
    assert_eq!(dead[0].last_error.as_deref(), Some("Something went wrong (131000)"));

    // A job that will not be sent holds nothing back.
    let jobs = claim(&*store, t(22)).await;
    assert_eq!(messages(&jobs), vec![behind]);
    // Failed jobs are not claimed again.
    store.complete_outbox(&[sent(&jobs[0], "wamid.two")], t(23)).await.unwrap();
    assert!(claim(&*store, t(10_000)).await.is_empty());
}

async fn dead_and_failed_jobs_can_be_requeued(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (a, _) = inbound_text(&*store, ch.id, "15550001", "wamid.a", t(0)).await;
    let (b, _) = inbound_text(&*store, ch.id, "15550002", "wamid.b", t(0)).await;
    let dead = enqueue(&*store, a, "one", t(10)).await;
    let refused = enqueue(&*store, b, "two", t(11)).await;
    claim(&*store, t(20)).await;
    // Both leases ran out once.
    let jobs = claim(&*store, t(20 + LEASE + 1)).await;
    assert_eq!(messages(&jobs), vec![dead, refused]);
    assert_eq!((jobs[0].attempts, jobs[1].attempts), (2, 2));
    store
        .complete_outbox(
            &[
                result(&jobs[0], SendOutcome::Failed { error: refusal(131_000), dead: true }),
                result(&jobs[1], SendOutcome::Failed { error: refusal(131_026), dead: false }),
            ],
            t(90),
        )
        .await
        .unwrap();
    let dead_job = store.list_outbox(OutboxState::Dead, 10).await.unwrap()[0].id;
    let failed_job = store.list_outbox(OutboxState::Failed, 10).await.unwrap()[0].id;

    store.requeue_outbox(dead_job, t(100)).await.unwrap();
    let ready = store.list_outbox(OutboxState::Ready, 10).await.unwrap();
    assert_eq!(messages_of(&ready), vec![dead]);
    assert_eq!(
        (ready[0].id, ready[0].state, ready[0].attempts, ready[0].run_at),
        (dead_job, OutboxState::Ready, 0, t(100))
    );
    assert_eq!(ready[0].created_at, t(100), "a requeued job starts afresh");
    assert_eq!(
        ready[0].last_error.as_deref(),
        Some("Message undeliverable (131000): The recipient is not on WhatsApp")
    );
    let m = view(&*store, dead).await;
    assert_eq!((m.state, m.failed_at, m.error), (Queued, None, None));
    assert!(store.list_outbox(OutboxState::Dead, 10).await.unwrap().is_empty());

    // Only dead or failed jobs can be requeued.
    let err = store.requeue_outbox(dead_job, t(101)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    store.requeue_outbox(failed_job, t(102)).await.unwrap();
    assert_eq!(view(&*store, refused).await.state, Queued);

    // Requeued jobs are claimed from their run_at, with a fresh attempt count, and sent.
    assert!(claim(&*store, t(99)).await.is_empty());
    let jobs = claim(&*store, t(102)).await;
    assert_eq!(messages(&jobs), vec![dead, refused]);
    assert_eq!((jobs[0].attempts, jobs[0].created_at), (1, t(100)));
    store.complete_outbox(&[sent(&jobs[0], "wamid.one"), sent(&jobs[1], "wamid.two")], t(103)).await.unwrap();
    let m = view(&*store, dead).await;
    assert_eq!((m.state, m.sent_at, m.error), (Sent, Some(t(103)), None));
}

async fn every_dead_or_failed_job_is_requeued_at_once(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (a, _) = inbound_text(&*store, ch.id, "15550001", "wamid.a", t(0)).await;
    let (b, _) = inbound_text(&*store, ch.id, "15550002", "wamid.b", t(0)).await;
    let (c, _) = inbound_text(&*store, ch.id, "15550003", "wamid.c", t(0)).await;
    let dead = enqueue(&*store, a, "one", t(10)).await;
    let refused = enqueue(&*store, b, "two", t(11)).await;
    let waiting = enqueue(&*store, c, "three", t(12)).await;
    let jobs = claim(&*store, t(20)).await;
    assert_eq!(messages(&jobs), vec![dead, refused, waiting]);
    store
        .complete_outbox(
            &[
                result(&jobs[0], SendOutcome::Failed { error: refusal(131_000), dead: true }),
                result(&jobs[1], SendOutcome::Failed { error: refusal(131_026), dead: false }),
                retry(&jobs[2], t(500)),
            ],
            t(21),
        )
        .await
        .unwrap();

    // One kind: only the refused one; the job waiting for its retry is not touched.
    assert_eq!(store.requeue_all_outbox(Some(OutboxState::Failed), t(30)).await.unwrap(), 1);
    assert_eq!(view(&*store, refused).await.state, Queued);
    assert_eq!(view(&*store, dead).await.state, Failed);
    assert_eq!(messages_of(&store.list_outbox(OutboxState::Dead, 10).await.unwrap()), vec![dead]);
    // `Ready` names no unsent job: nothing.
    assert_eq!(store.requeue_all_outbox(Some(OutboxState::Ready), t(31)).await.unwrap(), 0);
    // Both kinds: the rest, afresh.
    assert_eq!(store.requeue_all_outbox(None, t(40)).await.unwrap(), 1);
    let ready = store.list_outbox(OutboxState::Ready, 10).await.unwrap();
    assert_eq!(messages_of(&ready), vec![dead, refused, waiting]);
    let of = |m: MessageId| ready.iter().find(|e| e.message_id == m).unwrap().clone();
    assert_eq!((of(dead).attempts, of(dead).run_at, of(dead).created_at), (0, t(40), t(40)));
    assert_eq!((of(refused).attempts, of(refused).run_at), (0, t(30)));
    assert_eq!((of(waiting).attempts, of(waiting).run_at), (1, t(500)), "a retry still waiting is left alone");
    let m = view(&*store, dead).await;
    assert_eq!((m.state, m.failed_at, m.error), (Queued, None, None));
    assert_eq!(store.requeue_all_outbox(None, t(41)).await.unwrap(), 0, "nothing left");
    // They are claimed and sent like any other job.
    let jobs = claim(&*store, t(41)).await;
    assert_eq!(messages(&jobs), vec![dead, refused]);
    store.complete_outbox(&[sent(&jobs[0], "wamid.one"), sent(&jobs[1], "wamid.two")], t(42)).await.unwrap();
    assert_eq!(view(&*store, refused).await.state, Sent);
}

async fn a_requeued_job_waits_for_the_one_in_flight(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let first = enqueue(&*store, conversation, "one", t(10)).await;
    let second = enqueue(&*store, conversation, "two", t(11)).await;
    let jobs = claim(&*store, t(20)).await;
    store
        .complete_outbox(&[result(&jobs[0], SendOutcome::Failed { error: refusal(131_000), dead: true })], t(21))
        .await
        .unwrap();
    let jobs = claim(&*store, t(22)).await;
    assert_eq!(messages(&jobs), vec![second]);

    // The older job is back while the younger one is being sent: a conversation never
    // has two jobs in flight, so it waits.
    let dead = store.list_outbox(OutboxState::Dead, 10).await.unwrap();
    store.requeue_outbox(dead[0].id, t(23)).await.unwrap();
    assert!(claim(&*store, t(24)).await.is_empty());
    store.complete_outbox(&[sent(&jobs[0], "wamid.two")], t(25)).await.unwrap();
    assert_eq!(messages(&claim(&*store, t(26)).await), vec![first]);
}

async fn unknown_conversations_and_jobs_are_not_found(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let ana = agent(&*store, "ana@example.com", 1).await;
    let err = enqueue_as(&*store, ConversationId::new(), "Hi", Some(ana), Some("k"), t(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    // Nothing was kept: the key is still free.
    let e = enqueue_as(&*store, conversation, "Hi", Some(ana), Some("k"), t(2)).await.unwrap();
    assert!(e.created);

    let err = store.requeue_outbox(JobId::new(987_654), t(3)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    // Outcomes for jobs that do not exist (any more) are ignored.
    store
        .complete_outbox(
            &[SendResult {
                job_id: JobId::new(987_654),
                message_id: e.message_id,
                leased_until: t(4),
                outcome: SendOutcome::Sent { wamid: wamid("wamid.ghost") },
            }],
            t(4),
        )
        .await
        .unwrap();
    store.complete_outbox(&[], t(4)).await.unwrap();
    let m = view(&*store, e.message_id).await;
    assert_eq!((m.state, m.wamid), (Queued, None));
    assert_eq!(claim(&*store, t(5)).await.len(), 1);
}

async fn concurrent_claimers_never_share_a_job_or_a_conversation(db: &TestDb, store: Arc<dyn Store>) {
    const CONVERSATIONS: usize = 50;
    const PER_CONVERSATION: usize = 4;
    const JOBS: usize = CONVERSATIONS * PER_CONVERSATION;
    let ch = channel(&*store, "1001").await;
    let mut conversations = Vec::new();
    for i in 0..CONVERSATIONS {
        let (c, _) = inbound_text(&*store, ch.id, &format!("1555{i:04}"), &format!("wamid.in{i}"), t(0)).await;
        conversations.push(c);
    }
    // In pairs: consecutive jobs of one conversation, so that a claim that ignored the
    // order would take both at once.
    let mut queued: HashMap<ConversationId, Vec<MessageId>> = HashMap::new();
    let mut n = 0;
    for _ in 0..PER_CONVERSATION / 2 {
        for c in &conversations {
            for _ in 0..2 {
                n += 1;
                let id = enqueue(&*store, *c, "Hi", t(n)).await;
                queued.entry(*c).or_default().push(id);
            }
        }
    }

    // Eight senders on two instances, sharing nothing but the database.
    let other = second_instance(db).await;
    let in_flight: Arc<Mutex<HashSet<ConversationId>>> = Arc::default();
    let claimed: Arc<Mutex<Vec<(ConversationId, JobId, MessageId)>>> = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..8)
        .map(|n| {
            let store = Arc::clone(if n % 2 == 0 { &store } else { &other });
            let (in_flight, claimed, done) = (Arc::clone(&in_flight), Arc::clone(&claimed), Arc::clone(&done));
            tokio::spawn(async move {
                while done.load(Ordering::SeqCst) < JOBS {
                    let jobs = store.claim_outbox(7, t(10_000), t(20_000)).await.unwrap();
                    if jobs.is_empty() {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    for job in &jobs {
                        assert_eq!(job.attempts, 1, "job {} was claimed twice", job.id);
                        assert!(
                            in_flight.lock().unwrap().insert(job.conversation_id),
                            "two jobs of {:?} in flight at once",
                            job.conversation_id
                        );
                        claimed.lock().unwrap().push((job.conversation_id, job.id, job.message_id));
                    }
                    // "Sending".
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    let results: Vec<SendResult> =
                        jobs.iter().map(|j| sent(j, &format!("wamid.out{}", j.id))).collect();
                    // Out of flight just before the outcome commits: the next job of the
                    // conversation cannot be claimed before that.
                    for job in &jobs {
                        in_flight.lock().unwrap().remove(&job.conversation_id);
                    }
                    store.complete_outbox(&results, t(10_001)).await.unwrap();
                    done.fetch_add(jobs.len(), Ordering::SeqCst);
                }
            })
        })
        .collect();
    for s in senders {
        tokio::time::timeout(Duration::from_secs(120), s).await.expect("the senders finish").unwrap();
    }

    let claimed = claimed.lock().unwrap().clone();
    assert_eq!(claimed.len(), JOBS);
    let ids: HashSet<JobId> = claimed.iter().map(|(_, id, _)| *id).collect();
    assert_eq!(ids.len(), JOBS, "every job claimed exactly once");
    // Each conversation's messages went out in the order they were queued.
    let mut sent_order: HashMap<ConversationId, Vec<MessageId>> = HashMap::new();
    for (c, _, m) in &claimed {
        sent_order.entry(*c).or_default().push(*m);
    }
    assert_eq!(sent_order, queued);
    for ids in queued.values() {
        for id in ids {
            assert_eq!(store.message(*id).await.unwrap().unwrap().state, Sent);
        }
    }
    assert!(store.list_outbox(OutboxState::Ready, 10).await.unwrap().is_empty());
    other.close().await;
}

/// Applies `report` as a status webhook whose callback data names `sent_as`.
async fn apply_status_of(
    store: &dyn Store,
    channel: switchboard_domain::ChannelId,
    report: &switchboard_domain::inbound::StatusReport,
    sent_as: MessageId,
) -> StatusOutcome {
    let (mut tx, events) = begin(store).await;
    let outcome = tx.apply_status(channel, report, Some(sent_as), report.timestamp).await.unwrap();
    finish(tx, &events).await;
    outcome
}

fn grace(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

/// A job whose lease ran out may have reached Meta: it is claimed again only a grace
/// period later, and holds its conversation back meanwhile. A job released by its sender
/// (a retry: it was not sent) is claimed at its time, with no grace.
async fn an_expired_lease_waits_the_grace_before_another_claim(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let id = enqueue(&*store, conversation, "Hi", t(10)).await;
    let follower = enqueue(&*store, conversation, "Are you there?", t(11)).await;

    let jobs = store.claim_outbox_reconciling(10, t(20), t(30), grace(30)).await.unwrap();
    assert_eq!((messages(&jobs), jobs[0].leased_until), (vec![id], t(30)));
    // The lease ran out at t(30); the grace lasts until t(60), inclusive.
    assert!(store.claim_outbox_reconciling(10, t(31), t(91), grace(30)).await.unwrap().is_empty());
    assert!(store.claim_outbox_reconciling(10, t(60), t(120), grace(30)).await.unwrap().is_empty());
    let jobs = store.claim_outbox_reconciling(10, t(61), t(121), grace(30)).await.unwrap();
    assert_eq!((messages(&jobs), jobs[0].attempts, jobs[0].leased_until), (vec![id], 2, t(121)));

    // Released by its sender (not sent): claimed again at its time, no grace.
    store.complete_outbox(&[retry(&jobs[0], t(62))], t(61)).await.unwrap();
    let jobs = store.claim_outbox_reconciling(10, t(62), t(122), grace(30)).await.unwrap();
    assert_eq!((messages(&jobs), jobs[0].attempts), (vec![id], 3));
    store.complete_outbox(&[sent(&jobs[0], "wamid.hi")], t(63)).await.unwrap();
    let jobs = store.claim_outbox_reconciling(10, t(63), t(123), grace(30)).await.unwrap();
    assert_eq!(messages(&jobs), vec![follower]);
}

/// The lease is the claim's token: a sender that lost its lease reports too late to
/// change what the next claim holds.
async fn a_late_outcome_never_undoes_a_later_claim(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let id = enqueue(&*store, conversation, "Hi", t(10)).await;
    let follower = enqueue(&*store, conversation, "Still there?", t(11)).await;
    let a = store.claim_outbox(10, t(20), t(30)).await.unwrap();
    let b = store.claim_outbox(10, t(31), t(91)).await.unwrap();
    assert_eq!((a[0].id, a[0].leased_until, b[0].leased_until), (b[0].id, t(30), t(91)));

    // A's retry would release B's job (a third sender would send it while B does), and
    // A's failure would fail it: neither applies.
    store.complete_outbox(&[retry(&a[0], t(32))], t(32)).await.unwrap();
    store
        .complete_outbox(&[result(&a[0], SendOutcome::Failed { error: refusal(131_026), dead: false })], t(32))
        .await
        .unwrap();
    assert!(store.claim_outbox(10, t(33), t(93)).await.unwrap().is_empty(), "still B's, and its follower waits");
    assert_eq!(view(&*store, id).await.state, Queued);
    let ready = store.list_outbox(OutboxState::Ready, 10).await.unwrap();
    assert_eq!((messages_of(&ready), ready[0].last_error.as_deref()), (vec![id, follower], None));

    // B's own outcome applies.
    store.complete_outbox(&[retry(&b[0], t(40))], t(34)).await.unwrap();
    let jobs = store.claim_outbox(10, t(40), t(100)).await.unwrap();
    assert_eq!((messages(&jobs), jobs[0].attempts), (vec![id], 3));
}

/// The sender died after Meta accepted the message: its status webhook, naming the
/// message in the callback data, records the send (the wamid, `sent`, then the report)
/// and completes the job, which is then never claimed again.
async fn a_status_naming_an_unrecorded_send_completes_it(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = enqueue(&*store, conversation, "Hi", t(10)).await;
    let follower = enqueue(&*store, conversation, "Anything else?", t(11)).await;
    let job = store.claim_outbox_reconciling(10, t(20), t(30), grace(30)).await.unwrap().remove(0);

    assert_eq!(
        apply_status_of(&*store, ch.id, &status("wamid.lost", Sent, t(21)), id).await,
        StatusOutcome::Applied { message_id: id, from: Queued, to: Sent }
    );
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.wamid, m.sent_at), (Sent, Some(wamid("wamid.lost")), Some(t(21))));
    // Its job is done: the follower goes next, at once, not after the lease and grace.
    let jobs = store.claim_outbox_reconciling(10, t(22), t(82), grace(30)).await.unwrap();
    assert_eq!(messages(&jobs), vec![follower]);
    // Later reports find the message by its wamid.
    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.lost", Read, t(23))).await,
        StatusOutcome::Applied { message_id: id, from: Sent, to: Read }
    );
    // The sender's own outcome, late (it was only slow), changes nothing.
    store.complete_outbox(&[sent(&job, "wamid.lost")], t(24)).await.unwrap();
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.wamid), (Read, Some(wamid("wamid.lost"))));

    // A first report that is `delivered` (the `sent` one lost) records the send too.
    store.complete_outbox(&[sent(&jobs[0], "wamid.f")], t(25)).await.unwrap();
    let third = enqueue(&*store, conversation, "Bye", t(26)).await;
    store.claim_outbox(10, t(26), t(86)).await.unwrap();
    assert_eq!(
        apply_status_of(&*store, ch.id, &status("wamid.bye", Delivered, t(27)), third).await,
        StatusOutcome::Applied { message_id: third, from: Queued, to: Delivered }
    );
    let m = view(&*store, third).await;
    assert_eq!((m.state, m.wamid, m.sent_at), (Delivered, Some(wamid("wamid.bye")), Some(t(27))));
    assert!(store.list_outbox(OutboxState::Ready, 10).await.unwrap().is_empty());
}

/// Callback data is trusted only to record a send that was never recorded: a message
/// that has a wamid already (the same message sent twice), one on another channel, or an
/// inbound one keeps what it has, and the report is parked as for any unknown wamid.
async fn a_status_naming_a_message_is_trusted_only_for_a_send_not_recorded(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (conversation, inbound_id) = inbound_text(&*store, ch.id, "15550001", "wamid.in", t(0)).await;
    let other = channel(&*store, "2002").await;
    let id = enqueue(&*store, conversation, "Hi", t(10)).await;
    let job = store.claim_outbox(10, t(20), t(80)).await.unwrap().remove(0);

    assert_eq!(apply_status_of(&*store, other.id, &status("wamid.x", Sent, t(21)), id).await, StatusOutcome::Pending);
    assert_eq!(
        apply_status_of(&*store, ch.id, &status("wamid.y", Sent, t(21)), inbound_id).await,
        StatusOutcome::Pending
    );
    assert_eq!(view(&*store, id).await.state, Queued);
    assert_eq!(store.list_outbox(OutboxState::Ready, 10).await.unwrap().len(), 1);

    store.complete_outbox(&[sent(&job, "wamid.first")], t(22)).await.unwrap();
    assert_eq!(
        apply_status_of(&*store, ch.id, &status("wamid.second", Delivered, t(23)), id).await,
        StatusOutcome::Pending
    );
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.wamid), (Sent, Some(wamid("wamid.first"))));
}

/// Two sends answered with one wamid cannot both be recorded: recorded together they
/// fail together (the sender then records them one by one), and alone only the second
/// fails, leaving the first recorded.
async fn a_wamid_another_message_has_fails_only_its_own_outcome(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (a, _) = inbound_text(&*store, ch.id, "15550001", "wamid.in.a", t(0)).await;
    let (b, _) = inbound_text(&*store, ch.id, "15550002", "wamid.in.b", t(0)).await;
    let first = enqueue(&*store, a, "Hi A", t(10)).await;
    let second = enqueue(&*store, b, "Hi B", t(10)).await;
    let jobs = claim(&*store, t(20)).await;
    assert_eq!(messages(&jobs), vec![first, second]);

    let both = [sent(&jobs[0], "wamid.same"), sent(&jobs[1], "wamid.same")];
    let err = store.complete_outbox(&both, t(21)).await.unwrap_err();
    assert!(!matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(view(&*store, first).await.state, Queued, "the whole group rolled back");

    store.complete_outbox(&both[..1], t(21)).await.unwrap();
    let err = store.complete_outbox(&both[1..], t(21)).await.unwrap_err();
    assert!(!matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(view(&*store, first).await.wamid, Some(wamid("wamid.same")));
    assert_eq!(view(&*store, second).await.state, Queued);
}
