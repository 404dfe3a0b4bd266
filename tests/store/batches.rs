//! Set-wise ingest: a round of customers' messages stored together, their auto-reply
//! facts read together, their auto-replies queued together, each exactly as one at a time.

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use switchboard_domain::autoreply::{RuleFiring, RuleRef};
use switchboard_domain::inbound::{InboundContact, InboundMessage};
use switchboard_domain::{ChannelId, ConversationId, EventId, MessageContent};
use switchboard_store::{
    ConversationQuery, InboundOutcome, Lease, MessageQuery, NewAutoReply, NewInbound, NewOutbound, SendOutcome,
    SendResult, Store, StoreError,
};

use crate::fixtures::{apply, begin, channel, contact, finish, t, text, wamid};

conformance!(stories: [
    a_round_stores_new_and_known_contacts_and_skips_known_wamids,
    facts_of_a_round_come_back_in_order,
    auto_replies_of_a_round_are_queued_in_order_with_their_log,
    a_round_of_auto_replies_to_a_missing_conversation_is_refused,
    a_round_larger_than_one_statement_stores_every_message_in_order,
    auto_reply_jobs_are_leased_at_insert_only_at_the_head_of_their_conversation,
]);

/// `messages` from `senders`, in one round, each with a 24-hour window.
fn round<'a>(
    channel: ChannelId,
    event: EventId,
    messages: &'a [InboundMessage],
    senders: impl IntoIterator<Item = &'a InboundContact>,
) -> Vec<NewInbound<'a>> {
    messages
        .iter()
        .zip(senders)
        .map(|(m, c)| NewInbound {
            event_id: event,
            channel,
            contact: c,
            message: m,
            received_at: m.timestamp,
            window_closes_at: Some(m.timestamp + Duration::hours(24)),
        })
        .collect()
}

/// A conversation for each `(wa_id, wamid)`: its contact's first message, stored alone.
/// An auto-reply from the rule `rule` names.
fn auto<'a>(message: NewOutbound<'a>, rule: &str) -> NewAutoReply<'a> {
    NewAutoReply { message, rule: RuleRef::parse(rule).unwrap() }
}

async fn conversations_of(store: &dyn Store, ch: ChannelId, senders: &[(&str, &str)]) -> Vec<ConversationId> {
    let mut conversations = Vec::with_capacity(senders.len());
    for (wa_id, wamid) in senders {
        let c = contact(wa_id, None);
        let m = text(wamid, &c, t(10), "hi");
        let InboundOutcome::Stored { conversation_id, .. } =
            apply(store, ch, &c, &m, Some(t(10) + Duration::hours(24))).await
        else {
            panic!("stored")
        };
        conversations.push(conversation_id);
    }
    conversations
}

/// The texts of a conversation's messages, oldest first.
async fn texts(store: &dyn Store, conversation: ConversationId) -> Vec<Option<String>> {
    store.list_messages(conversation, &messages_query()).await.unwrap().items.into_iter().map(|m| m.text).collect()
}

fn messages_query() -> MessageQuery {
    MessageQuery { limit: 100, after: None }
}

async fn a_round_stores_new_and_known_contacts_and_skips_known_wamids(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ana = contact("15550001", Some("Ana"));
    let first = text("wamid.R1", &ana, t(10), "first");
    let InboundOutcome::Stored { conversation_id: ana_conversation, contact_id: ana_id, .. } =
        apply(&*store, ch.id, &ana, &first, Some(t(10) + Duration::hours(24))).await
    else {
        panic!("stored")
    };
    let bea = contact("15550002", Some("Bea"));
    let cid = contact("15550003", None);
    let ana2 = contact("15550001", Some("Ana Renamed"));
    // Bea repeats a wamid already stored (another contact's): a duplicate, nothing changes.
    let messages = [
        text("wamid.R2", &ana2, t(20), "second"),
        text("wamid.R3", &bea, t(21), "bea"),
        text("wamid.R1", &cid, t(22), "repeated"),
    ];
    let senders = [&ana2, &bea, &cid];
    let (mut tx, events) = begin(&*store).await;
    let batch = round(ch.id, events[0], &messages, senders);
    let outcomes = tx.apply_inbound_batch(&batch).await.unwrap();
    finish(tx, &events).await;
    assert_eq!(outcomes.len(), 3);
    let InboundOutcome::Stored { conversation_id, contact_id, new_contact, new_conversation, .. } = outcomes[0] else {
        panic!("Ana's second message is stored: {outcomes:?}")
    };
    assert_eq!((conversation_id, contact_id, new_contact, new_conversation), (ana_conversation, ana_id, false, false));
    let InboundOutcome::Stored { conversation_id: bea_conversation, new_contact, new_conversation, .. } = outcomes[1]
    else {
        panic!("Bea's message is stored: {outcomes:?}")
    };
    assert!(new_contact && new_conversation);
    assert_ne!(bea_conversation, ana_conversation);
    assert_eq!(outcomes[2], InboundOutcome::Duplicate);

    // The contact moved to the latest name; the conversation counts both messages.
    let conv = store.conversation(ana_conversation).await.unwrap().unwrap();
    assert_eq!(conv.message_count, 2);
    assert_eq!(conv.contact.profile_name.as_deref(), Some("Ana Renamed"));
    assert_eq!(conv.last_inbound_at, Some(t(20)));
    assert_eq!(texts(&*store, ana_conversation).await, [Some("first".to_owned()), Some("second".to_owned())]);
    // The duplicate's sender was not created.
    let all =
        store.list_conversations(&ConversationQuery { status: None, limit: 10, after: None }).await.unwrap().items;
    assert_eq!(all.len(), 2);
}

async fn facts_of_a_round_come_back_in_order(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (ana, bea) = (contact("15550001", Some("Ana")), contact("15550002", Some("Bea")));
    let mut ids = Vec::new();
    for (c, wamid, at) in [(&ana, "wamid.F1", t(10)), (&bea, "wamid.F2", t(20)), (&ana, "wamid.F3", t(30))] {
        let m = text(wamid, c, at, "hi");
        let InboundOutcome::Stored { conversation_id, contact_id, message_id, .. } =
            apply(&*store, ch.id, c, &m, Some(at + Duration::hours(24))).await
        else {
            panic!("stored")
        };
        ids.push((conversation_id, contact_id, message_id));
    }
    let (mut tx, events) = begin(&*store).await;
    let content = MessageContent::Text { body: "Welcome".into() };
    let request =
        json!({"messaging_product": "whatsapp", "to": "15550002", "type": "text", "text": {"body": "Welcome"}});
    let reply = NewOutbound {
        conversation_id: ids[1].0,
        content: &content,
        request: &request,
        sent_by: None,
        idempotency_key: None,
        at: t(25),
    };
    tx.enqueue_auto_replies(&[auto(reply, "greeting")]).await.unwrap();
    // Ana's latest message, then Bea's: each row its own history.
    let facts = tx.auto_reply_facts_batch(&[ids[2], ids[1]], t(40)).await.unwrap();
    finish(tx, &events).await;
    assert_eq!(facts.len(), 2);
    assert_eq!(facts[0].contact_last_activity, Some(t(10)));
    assert!(facts[0].rules_last_fired.is_empty());
    assert_eq!(facts[0].auto_replies_last_hour, 0);
    assert_eq!(facts[1].contact_last_activity, None);
    assert_eq!(facts[1].rules_last_fired, [RuleFiring { rule: RuleRef::Greeting, at: t(25) }]);
    assert_eq!(facts[1].auto_replies_last_hour, 1);
}

async fn auto_replies_of_a_round_are_queued_in_order_with_their_log(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let conversations = conversations_of(&*store, ch.id, &[("15550001", "wamid.Q1"), ("15550002", "wamid.Q2")]).await;
    let contents: Vec<MessageContent> =
        ["greeting A", "greeting B", "away A"].map(|b| MessageContent::Text { body: b.into() }).to_vec();
    let requests: Vec<serde_json::Value> = contents.iter().map(|c| json!({"sent": c.text()})).collect();
    let targets = [conversations[0], conversations[1], conversations[0]];
    let rules = ["greeting", "greeting", "away"];
    let replies: Vec<NewAutoReply<'_>> = (0..3)
        .map(|i| {
            let m = NewOutbound {
                conversation_id: targets[i],
                content: &contents[i],
                request: &requests[i],
                sent_by: None,
                idempotency_key: None,
                at: t(11),
            };
            auto(m, rules[i])
        })
        .collect();
    let (mut tx, events) = begin(&*store).await;
    let ids = tx.enqueue_auto_replies(&replies).await.unwrap();
    finish(tx, &events).await;
    assert_eq!(ids.len(), 3);

    // Jobs go out in the order they were queued, one conversation's one at a time.
    let jobs = store.claim_outbox(10, t(12), t(60)).await.unwrap();
    let claimed: Vec<_> = jobs.iter().map(|j| (j.message_id, j.request["sent"].as_str().unwrap())).collect();
    assert_eq!(claimed, [(ids[0], "greeting A"), (ids[1], "greeting B")]);
    let a = store.conversation(conversations[0]).await.unwrap().unwrap();
    assert_eq!((a.message_count, a.last_message_at), (3, t(11)));
    let texts: Vec<(Option<String>, Option<String>)> = store
        .list_messages(conversations[0], &messages_query())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| (m.text, m.auto_rule))
        .collect();
    assert_eq!(
        texts,
        [
            (Some("hi".to_owned()), None),
            (Some("greeting A".to_owned()), Some("greeting".to_owned())),
            (Some("away A".to_owned()), Some("away".to_owned())),
        ]
    );
}

async fn a_round_of_auto_replies_to_a_missing_conversation_is_refused(store: Arc<dyn Store>) {
    let content = MessageContent::Text { body: "hello".into() };
    let request = json!({});
    let reply = NewOutbound {
        conversation_id: ConversationId::new(),
        content: &content,
        request: &request,
        sent_by: None,
        idempotency_key: None,
        at: t(1),
    };
    let (mut tx, _) = begin(&*store).await;
    assert!(matches!(tx.enqueue_auto_replies(&[auto(reply, "greeting")]).await, Err(StoreError::NotFound)));
}

/// 600 contacts in one round: more rows than one statement binds on SQLite (256), so the
/// round runs as several statements; every message is stored once, outcomes in order.
async fn a_round_larger_than_one_statement_stores_every_message_in_order(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let contacts: Vec<_> = (0..600).map(|i| contact(&format!("1555100{i:04}"), Some("C"))).collect();
    let messages: Vec<_> = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| text(&format!("wamid.L{i}"), c, t(10), &format!("hello {i}")))
        .collect();
    let (mut tx, events) = begin(&*store).await;
    let batch = round(ch.id, events[0], &messages, &contacts);
    let outcomes = tx.apply_inbound_batch(&batch).await.unwrap();
    assert_eq!(outcomes.len(), 600);
    let stored: Vec<_> = outcomes
        .iter()
        .enumerate()
        .map(|(i, outcome)| match *outcome {
            InboundOutcome::Stored { conversation_id, contact_id, message_id, new_contact: true, .. } => {
                (conversation_id, contact_id, message_id)
            }
            _ => panic!("message {i} is stored for a new contact: {outcome:?}"),
        })
        .collect();
    // Their facts and their replies, each in as many statements as the store needs.
    let facts = tx.auto_reply_facts_batch(&stored, t(11)).await.unwrap();
    assert_eq!(facts.len(), 600);
    assert!(facts.iter().all(|f| f.contact_last_activity.is_none() && f.auto_replies_last_hour == 0));
    let contents: Vec<MessageContent> =
        (0..600).map(|i| MessageContent::Text { body: format!("welcome {i}") }).collect();
    let requests: Vec<serde_json::Value> = (0..600).map(|i| json!({"n": i})).collect();
    let replies: Vec<NewAutoReply<'_>> = (0..600)
        .map(|i| {
            let m = NewOutbound {
                conversation_id: stored[i].0,
                content: &contents[i],
                request: &requests[i],
                sent_by: None,
                idempotency_key: None,
                at: t(11),
            };
            auto(m, "greeting")
        })
        .collect();
    // The first 500 jobs leased at insert: their ids come back across statements.
    let queued = tx.enqueue_auto_replies_leasing(&replies, Lease { until: t(60), at_most: 500 }).await.unwrap();
    finish(tx, &events).await;
    assert_eq!(queued.len(), 600);
    let reply_ids: Vec<_> = queued.iter().map(|q| q.message_id).collect();
    for (i, (conversation, _, _)) in stored.iter().enumerate() {
        assert_eq!(
            texts(&*store, *conversation).await,
            [Some(format!("hello {i}")), Some(format!("welcome {i}"))],
            "conversation {i}"
        );
    }
    // The jobs come out in the order they were queued: the 100 not leased at once, the
    // others when their lease runs out, each with the id it was leased as.
    let jobs = store.claim_outbox(1_000, t(12), t(70)).await.unwrap();
    let order: Vec<_> = jobs.iter().map(|j| j.request["n"].as_i64().unwrap()).collect();
    assert_eq!(order, (500..600).collect::<Vec<i64>>());
    assert!(jobs.iter().zip(&reply_ids[500..]).all(|(j, id)| j.message_id == *id));
    let jobs = store.claim_outbox(1_000, t(61), t(120)).await.unwrap();
    let order: Vec<_> = jobs.iter().map(|j| j.request["n"].as_i64().unwrap()).collect();
    assert_eq!(order, (0..500).collect::<Vec<i64>>());
    assert!(jobs.iter().zip(&queued).all(|(j, q)| j.message_id == q.message_id && Some(j.id) == q.leased_job));
}

#[test]
fn rounds_keep_each_contacts_order_and_never_repeat_a_contact_or_wamid() {
    let ch = switchboard_domain::ChannelId::new();
    let (a, b, c) = (contact("1", None), contact("2", None), contact("3", None));
    let messages = [
        (text("w1", &a, t(1), "a1"), &a),
        (text("w2", &b, t(2), "b1"), &b),
        (text("w3", &a, t(3), "a2"), &a),
        (text("w4", &c, t(4), "c1"), &c),
        (text("w1", &a, t(5), "a1 again"), &a),
        // Another sender repeating b's wamid waits for the round after it.
        (text("w2", &c, t(6), "odd"), &c),
    ];
    let batch: Vec<NewInbound<'_>> = messages
        .iter()
        .map(|(m, c)| NewInbound {
            event_id: switchboard_domain::EventId::new(1),
            channel: ch,
            contact: c,
            message: m,
            received_at: m.timestamp,
            window_closes_at: None,
        })
        .collect();
    assert_eq!(switchboard_store::inbound_rounds(&batch), [vec![0, 1, 3], vec![2, 5], vec![4]]);
    assert!(switchboard_store::inbound_rounds(&[]).is_empty());
}

/// With a lease, a job is inserted leased (as a claim would leave it) only where a claim
/// would offer it: the first reply of its conversation, when nothing else of the
/// conversation is ready, and no more than the lease allows. The claim skips leased jobs
/// until their lease runs out, and the jobs behind them until they are done.
async fn auto_reply_jobs_are_leased_at_insert_only_at_the_head_of_their_conversation(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let senders = [("15550001", "wamid.L1"), ("15550002", "wamid.L2"), ("15550003", "wamid.L3")];
    let conversations = conversations_of(&*store, ch.id, &senders).await;
    let [a, b, c] = [conversations[0], conversations[1], conversations[2]];
    let bodies = ["earlier C", "greeting A", "greeting B", "away A", "greeting C"];
    let contents: Vec<MessageContent> = bodies.map(|b| MessageContent::Text { body: b.into() }).to_vec();
    let requests: Vec<serde_json::Value> = contents.iter().map(|c| json!({"sent": c.text()})).collect();
    let reply = |i: usize, conversation_id| NewOutbound {
        conversation_id,
        content: &contents[i],
        request: &requests[i],
        sent_by: None,
        idempotency_key: None,
        at: t(11),
    };

    // C has a job ready already, queued without a lease.
    let (mut tx, events) = begin(&*store).await;
    let earlier = tx.enqueue_auto_replies(&[auto(reply(0, c), "greeting")]).await.unwrap();
    finish(tx, &events).await;

    let replies = [
        auto(reply(1, a), "greeting"),
        auto(reply(2, b), "greeting"),
        auto(reply(3, a), "away"),
        auto(reply(4, c), "keyword:0190b7a6-1f5e-7cc0-8000-000000000001"),
    ];
    let lease = Lease { until: t(60), at_most: 10 };
    assert_eq!(lease.candidates(&replies), [true, true, false, true]);
    let (mut tx, events) = begin(&*store).await;
    let queued = tx.enqueue_auto_replies_leasing(&replies, lease).await.unwrap();
    finish(tx, &events).await;
    let leased: Vec<bool> = queued.iter().map(|q| q.leased_job.is_some()).collect();
    assert_eq!(leased, [true, true, false, false], "only A's and B's first replies are at the head");

    // Leased jobs are not offered, nor what waits behind them; C's earlier job is.
    let jobs = store.claim_outbox(10, t(12), t(70)).await.unwrap();
    let claimed: Vec<_> = jobs.iter().map(|j| j.message_id).collect();
    assert_eq!(claimed, earlier);

    // A's greeting sent: its away is next. B's greeting is never reported on: once its
    // lease runs out, any sender claims it, as its second attempt.
    let greeting_a = queued[0].leased_job.unwrap();
    let sent = SendResult {
        job_id: greeting_a,
        message_id: queued[0].message_id,
        leased_until: t(60),
        outcome: SendOutcome::Sent { wamid: wamid("wamid.out.A") },
    };
    store.complete_outbox(&[sent], t(13)).await.unwrap();
    let jobs = store.claim_outbox(10, t(14), t(30)).await.unwrap();
    assert_eq!(jobs.iter().map(|j| j.message_id).collect::<Vec<_>>(), [queued[2].message_id]);
    let jobs = store.claim_outbox(10, t(61), t(120)).await.unwrap();
    let b_job = jobs.iter().find(|j| j.message_id == queued[1].message_id).expect("B's greeting, its lease over");
    assert_eq!(
        (b_job.id, b_job.attempts, b_job.request["sent"].as_str()),
        (queued[1].leased_job.unwrap(), 2, Some("greeting B"))
    );

    // No more than the lease allows.
    let heads = conversations_of(&*store, ch.id, &[("15550004", "wamid.L4"), ("15550005", "wamid.L5")]).await;
    let (mut tx, events) = begin(&*store).await;
    let queued = tx
        .enqueue_auto_replies_leasing(
            &[auto(reply(1, heads[0]), "greeting"), auto(reply(2, heads[1]), "greeting")],
            Lease { until: t(60), at_most: 1 },
        )
        .await
        .unwrap();
    finish(tx, &events).await;
    assert_eq!(queued.iter().filter(|q| q.leased_job.is_some()).count(), 1);
}
