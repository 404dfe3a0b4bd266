//! Auto-replies: the ingest transaction's facts, queued auto-replies with their log, a
//! rule's assignment; the configuration admins write, its version, quick replies and
//! keyword rules.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use switchboard_domain::RuleId;
use switchboard_domain::autoreply::{
    AutoReplyConfig, Away, Greeting, KeywordRule, Limits, Locale, QuickReply, RuleFiring, RuleRef, Shortcut,
};
use switchboard_domain::hours::BusinessHours;
use switchboard_domain::message::Choice;
use switchboard_domain::{
    AgentId, AgentName, AgentRole, ContactId, ConversationId, DeliveryState, Email, MessageContent, MessageId,
    NewAgent, TokenHash,
};
use switchboard_store::{
    AutoReplyFacts, ChannelAutoReplies, ChannelAutoRepliesPatch, InboundOutcome, IngestTx, NewInbound, NewOutbound,
    Store, StoreError, StoredRule,
};
use switchboard_tests::TestDb;

use crate::fixtures::{begin, channel, contact, exec, finish, query_i64, t, text, uuid_literal};

conformance!(
    stories: [
        a_first_message_has_no_history,
        facts_see_earlier_messages_agents_and_auto_replies,
        facts_count_a_contacts_auto_replies_across_conversations,
        an_auto_reply_is_a_queued_message_with_its_job_and_its_log_entry,
        an_auto_reply_rolled_back_leaves_nothing,
        a_channels_settings_round_trip_and_change_one_at_a_time,
        every_write_bumps_the_version_and_failed_ones_do_not,
        quick_replies_have_unique_shortcuts,
        rules_keep_their_order_and_their_channel,
    ],
    with_db: [a_rule_assigns_only_to_an_active_agent],
);

/// Stores a customer's text in an ingest transaction that stays open.
async fn inbound(
    tx: &mut Box<dyn IngestTx>,
    event: switchboard_domain::EventId,
    channel: switchboard_domain::ChannelId,
    wa_id: &str,
    wamid: &str,
    at: DateTime<Utc>,
) -> (ConversationId, ContactId, MessageId) {
    let c = contact(wa_id, Some("Ana"));
    let m = text(wamid, &c, at, "hello");
    let outcome = tx
        .apply_inbound(&NewInbound {
            event_id: event,
            channel,
            contact: &c,
            message: &m,
            received_at: at,
            window_closes_at: Some(at + Duration::hours(24)),
        })
        .await
        .unwrap();
    match outcome {
        InboundOutcome::Stored { conversation_id, contact_id, message_id, .. } => {
            (conversation_id, contact_id, message_id)
        }
        InboundOutcome::Duplicate => panic!("{wamid} was already stored"),
    }
}

/// Stores a customer's text and reads the facts, in one ingest transaction.
async fn inbound_with_facts(
    store: &dyn Store,
    channel: switchboard_domain::ChannelId,
    wa_id: &str,
    wamid: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ((ConversationId, ContactId, MessageId), AutoReplyFacts) {
    let (mut tx, events) = begin(store).await;
    let ids = inbound(&mut tx, events[0], channel, wa_id, wamid, at).await;
    let facts = tx.auto_reply_facts(ids.0, ids.1, ids.2, now).await.unwrap();
    finish(tx, &events).await;
    (ids, facts)
}

fn request(body: &str) -> serde_json::Value {
    json!({"messaging_product": "whatsapp", "to": "15550001", "type": "text", "text": {"body": body}})
}

/// Queues an auto-reply from `rule` in an ingest transaction of its own.
async fn auto_reply(store: &dyn Store, conversation: ConversationId, rule: &str, at: DateTime<Utc>) -> MessageId {
    let (mut tx, events) = begin(store).await;
    let content = MessageContent::Text { body: format!("sent by {rule}") };
    let request = request("auto");
    let id = tx
        .enqueue_auto_reply(
            &NewOutbound {
                conversation_id: conversation,
                content: &content,
                request: &request,
                sent_by: None,
                idempotency_key: None,
                at,
            },
            RuleRef::parse(rule).unwrap(),
        )
        .await
        .unwrap();
    finish(tx, &events).await;
    id
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

async fn agent_reply(store: &dyn Store, conversation: ConversationId, agent: AgentId, at: DateTime<Utc>) {
    let content = MessageContent::Text { body: "an agent's answer".into() };
    let request = request("agent");
    store
        .enqueue_outbound(&NewOutbound {
            conversation_id: conversation,
            content: &content,
            request: &request,
            sent_by: Some(agent),
            idempotency_key: None,
            at,
        })
        .await
        .unwrap();
}

async fn a_first_message_has_no_history(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (_, facts) = inbound_with_facts(&*store, ch.id, "15550001", "wamid.1", t(0), t(1)).await;
    assert_eq!(facts, AutoReplyFacts::default());
}

async fn facts_see_earlier_messages_agents_and_auto_replies(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ((conversation, _, _), _) = inbound_with_facts(&*store, ch.id, "15550001", "wamid.1", t(0), t(0)).await;
    auto_reply(&*store, conversation, "greeting", t(1)).await;
    auto_reply(&*store, conversation, "away", t(2)).await;
    auto_reply(&*store, conversation, "greeting", t(5)).await;
    let ana = agent(&*store, "ana@example.com", 1).await;
    agent_reply(&*store, conversation, ana, t(10)).await;
    // An auto-reply after the agent's message: activity, but not an agent's.
    auto_reply(&*store, conversation, "away", t(20)).await;

    let ((again, _, _), facts) = inbound_with_facts(&*store, ch.id, "15550001", "wamid.2", t(100), t(100)).await;
    assert_eq!(again, conversation);
    assert_eq!(facts.contact_last_activity, Some(t(20)), "the latest message before this one");
    assert_eq!(facts.last_agent_message, Some(t(10)));
    let mut fired = facts.rules_last_fired.clone();
    fired.sort_by_key(|f| f.rule);
    assert_eq!(
        fired,
        vec![RuleFiring { rule: RuleRef::Greeting, at: t(5) }, RuleFiring { rule: RuleRef::Away, at: t(20) }]
    );
    assert_eq!(facts.last_fired(RuleRef::Greeting), Some(t(5)));
    assert_eq!(facts.last_fired(RuleRef::Keyword(RuleId::new())), None);
    assert_eq!(facts.auto_replies_last_hour, 4);

    // An hour later, the early ones no longer count; the inbound messages never do.
    let ((_, _, _), facts) = inbound_with_facts(&*store, ch.id, "15550001", "wamid.3", t(3_603), t(3_603)).await;
    assert_eq!(facts.contact_last_activity, Some(t(100)));
    assert_eq!(facts.auto_replies_last_hour, 2, "the auto-replies at t(5) and t(20)");
}

async fn facts_count_a_contacts_auto_replies_across_conversations(store: Arc<dyn Store>) {
    let sales = channel(&*store, "1001").await;
    let support = channel(&*store, "1002").await;
    let ((first, _, _), _) = inbound_with_facts(&*store, sales.id, "15550001", "wamid.1", t(0), t(0)).await;
    auto_reply(&*store, first, "greeting", t(1)).await;
    // Someone else's auto-replies do not count.
    let ((other, _, _), _) = inbound_with_facts(&*store, sales.id, "15550002", "wamid.2", t(2), t(2)).await;
    auto_reply(&*store, other, "greeting", t(3)).await;

    // The same contact on another number: a new conversation with its own rules, but the
    // contact's activity and hourly count span both.
    let ((second, _, _), facts) = inbound_with_facts(&*store, support.id, "15550001", "wamid.3", t(60), t(60)).await;
    assert_ne!(second, first);
    assert_eq!(facts.contact_last_activity, Some(t(1)));
    assert_eq!(facts.last_agent_message, None);
    assert!(facts.rules_last_fired.is_empty());
    assert_eq!(facts.auto_replies_last_hour, 1);
}

async fn an_auto_reply_is_a_queued_message_with_its_job_and_its_log_entry(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ((conversation, _, _), _) = inbound_with_facts(&*store, ch.id, "15550001", "wamid.1", t(0), t(0)).await;
    let id = auto_reply(&*store, conversation, "keyword:0190b7a6-1f5e-7cc0-8000-000000000001", t(1)).await;

    let m = store.message(id).await.unwrap().unwrap();
    assert_eq!(m.state, DeliveryState::Queued);
    assert_eq!(m.sent_by, None);
    assert_eq!(m.auto_rule.as_deref(), Some("keyword:0190b7a6-1f5e-7cc0-8000-000000000001"));
    assert_eq!(m.content, MessageContent::Text { body: "sent by keyword:0190b7a6-1f5e-7cc0-8000-000000000001".into() });
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!((c.message_count, c.last_message_at), (2, t(1)));

    let jobs = store.claim_outbox(10, t(2), t(62)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].message_id, id);
    assert_eq!(jobs[0].request, request("auto"));
}

async fn an_auto_reply_rolled_back_leaves_nothing(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (mut tx, events) = begin(&*store).await;
    let (conversation, contact, message) = inbound(&mut tx, events[0], ch.id, "15550001", "wamid.1", t(0)).await;
    let content = MessageContent::Text { body: "Hello!".into() };
    let request = request("Hello!");
    let id = tx
        .enqueue_auto_reply(
            &NewOutbound {
                conversation_id: conversation,
                content: &content,
                request: &request,
                sent_by: None,
                idempotency_key: None,
                at: t(0),
            },
            RuleRef::Greeting,
        )
        .await
        .unwrap();
    // Seen inside the transaction…
    let facts = tx.auto_reply_facts(conversation, contact, message, t(0)).await.unwrap();
    assert_eq!(facts.auto_replies_last_hour, 1);
    drop(tx);
    // …and gone with it: the message, its job and its log entry.
    assert!(store.message(id).await.unwrap().is_none());
    assert!(store.claim_outbox(10, t(2), t(62)).await.unwrap().is_empty());
    let (mut tx, events) = begin(&*store).await;
    let (conversation, contact, message) = inbound(&mut tx, events[0], ch.id, "15550001", "wamid.1", t(0)).await;
    assert_eq!(tx.auto_reply_facts(conversation, contact, message, t(0)).await.unwrap(), AutoReplyFacts::default());
    finish(tx, &events).await;

    // An auto-reply needs a conversation.
    let (mut tx, _) = begin(&*store).await;
    let missing = tx
        .enqueue_auto_reply(
            &NewOutbound {
                conversation_id: ConversationId::new(),
                content: &content,
                request: &request,
                sent_by: None,
                idempotency_key: None,
                at: t(0),
            },
            RuleRef::Greeting,
        )
        .await;
    assert!(matches!(missing, Err(switchboard_store::StoreError::NotFound)), "{missing:?}");
}

async fn a_rule_assigns_only_to_an_active_agent(db: &TestDb, store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ((conversation, _, _), _) = inbound_with_facts(&*store, ch.id, "15550001", "wamid.1", t(0), t(0)).await;
    let ana = agent(&*store, "ana@example.com", 1).await;
    let bob = agent(&*store, "bob@example.com", 2).await;
    exec(db, &format!("UPDATE agents SET active = FALSE WHERE id = {}", uuid_literal(db, bob.as_uuid()))).await;

    let (mut tx, events) = begin(&*store).await;
    assert!(!tx.assign_conversation(conversation, bob, t(50)).await.unwrap(), "inactive");
    assert!(!tx.assign_conversation(conversation, AgentId::new(), t(50)).await.unwrap(), "unknown agent");
    assert!(!tx.assign_conversation(ConversationId::new(), ana, t(50)).await.unwrap(), "unknown conversation");
    assert_eq!(store.conversation(conversation).await.unwrap().unwrap().assignee_id, None);
    assert!(tx.assign_conversation(conversation, ana, t(50)).await.unwrap());
    finish(tx, &events).await;
    assert_eq!(store.conversation(conversation).await.unwrap().unwrap().assignee_id, Some(ana));
    assert_eq!(
        query_i64(
            db,
            &format!("SELECT COUNT(*) FROM conversations WHERE assignee_id = {}", uuid_literal(db, ana.as_uuid()))
        )
        .await,
        1
    );
}

// ---------------------------------------------------------------------------------------
// The configuration admins write

fn hours() -> BusinessHours {
    serde_json::from_value(json!({
        "time_zone": "Europe/Berlin",
        "weekly": {"mon": [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}], "fri": [{"start": "22:00", "end": "02:00"}]},
        "overrides": [{"date": "2026-12-25", "label": "Christmas"}]
    }))
    .unwrap()
}

fn greeting(text: &str) -> Greeting {
    serde_json::from_value(json!({"text": text, "after_days_of_silence": 7, "recipients": {"type": "new_contacts"}}))
        .unwrap()
}

fn away() -> Away {
    serde_json::from_value(
        json!({"text": "We are closed; back {{next_open}}.", "schedule": {"type": "outside_business_hours"}}),
    )
    .unwrap()
}

fn quick_reply(shortcut: &str, text: &str) -> QuickReply {
    serde_json::from_value(json!({"shortcut": shortcut, "text": text})).unwrap()
}

fn rule(name: &str, word: &str) -> KeywordRule {
    serde_json::from_value(json!({
        "name": name,
        "matcher": {"type": "contains_word", "words": [word]},
        "actions": [{"type": "send_text", "text": format!("about {word}")}],
        "cooldown_minutes": 30
    }))
    .unwrap()
}

async fn a_channels_settings_round_trip_and_change_one_at_a_time(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    assert_eq!(store.channel_auto_replies(ch.id).await.unwrap(), ChannelAutoReplies::default());
    // Nothing configured: everything off, the business name is the channel's.
    let config = store.auto_reply_config(ch.id).await.unwrap();
    assert_eq!(config, AutoReplyConfig { business_name: "Support".into(), ..AutoReplyConfig::default() });

    let (h, g) = (hours(), greeting("Hi {{contact.first_name}}!"));
    store
        .patch_channel_auto_replies(
            ch.id,
            &ChannelAutoRepliesPatch { hours: Some(Some(&h)), greeting: Some(Some(&g)), ..Default::default() },
            t(1),
        )
        .await
        .unwrap();
    let stored = store.channel_auto_replies(ch.id).await.unwrap();
    assert_eq!(stored, ChannelAutoReplies { hours: Some(h.clone()), greeting: Some(g.clone()), ..Default::default() });

    // One setting at a time leaves the others alone.
    let (a, limits, locale) =
        (away(), Limits { max_auto_replies_per_contact_per_hour: 3 }, Locale::parse("es").unwrap());
    store
        .patch_channel_auto_replies(
            ch.id,
            &ChannelAutoRepliesPatch {
                business_name: Some(Some("Acme Bikes")),
                away: Some(Some(&a)),
                limits: Some(Some(&limits)),
                locale: Some(Some(&locale)),
                ..Default::default()
            },
            t(2),
        )
        .await
        .unwrap();
    store
        .patch_channel_auto_replies(
            ch.id,
            &ChannelAutoRepliesPatch { greeting: Some(None), ..Default::default() },
            t(3),
        )
        .await
        .unwrap();
    let expected = ChannelAutoReplies {
        business_name: Some("Acme Bikes".into()),
        locale: Some(locale.clone()),
        hours: Some(h.clone()),
        greeting: None,
        away: Some(a.clone()),
        limits: Some(limits),
    };
    assert_eq!(store.channel_auto_replies(ch.id).await.unwrap(), expected);
    let config = store.auto_reply_config(ch.id).await.unwrap();
    assert_eq!(
        config,
        AutoReplyConfig {
            business_name: "Acme Bikes".into(),
            locale,
            hours: Some(h),
            greeting: None,
            away: Some(a),
            quick_replies: Vec::new(),
            rules: Vec::new(),
            limits,
        }
    );

    // Replacing everything, then clearing everything.
    store
        .patch_channel_auto_replies(ch.id, &ChannelAutoRepliesPatch::replace_all(&ChannelAutoReplies::default()), t(4))
        .await
        .unwrap();
    assert_eq!(store.channel_auto_replies(ch.id).await.unwrap(), ChannelAutoReplies::default());

    // Another channel is untouched, an unknown one is not found.
    let other = channel(&*store, "1002").await;
    assert_eq!(store.channel_auto_replies(other.id).await.unwrap(), ChannelAutoReplies::default());
    let unknown = switchboard_domain::ChannelId::new();
    assert!(matches!(store.channel_auto_replies(unknown).await, Err(StoreError::NotFound)));
    assert!(matches!(store.auto_reply_config(unknown).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.patch_channel_auto_replies(unknown, &ChannelAutoRepliesPatch::default(), t(5)).await,
        Err(StoreError::NotFound)
    ));
}

async fn every_write_bumps_the_version_and_failed_ones_do_not(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let v0 = store.auto_reply_config_version().await.unwrap();
    let g = greeting("Hello");
    let v = store
        .patch_channel_auto_replies(
            ch.id,
            &ChannelAutoRepliesPatch { greeting: Some(Some(&g)), ..Default::default() },
            t(1),
        )
        .await
        .unwrap();
    assert_eq!(v, v0 + 1);
    assert_eq!(store.auto_reply_config_version().await.unwrap(), v0 + 1);

    let hours_qr = quick_reply("hours", "We open {{next_open}}");
    store.create_quick_reply(&hours_qr, t(2)).await.unwrap();
    store.update_quick_reply(&QuickReply { text: "Open 9 to 5".into(), ..hours_qr.clone() }, t(3)).await.unwrap();
    let r = rule("Prices", "price");
    store.create_keyword_rule(&StoredRule { channel: None, rule: r.clone() }, t(4)).await.unwrap();
    store.update_keyword_rule(&StoredRule { channel: Some(ch.id), rule: r.clone() }, t(5)).await.unwrap();
    store.reorder_keyword_rules(&[r.id], t(6)).await.unwrap();
    store.delete_keyword_rule(r.id, t(7)).await.unwrap();
    store.delete_quick_reply(hours_qr.id, t(8)).await.unwrap();
    assert_eq!(store.auto_reply_config_version().await.unwrap(), v0 + 8);

    // Refused writes change nothing.
    assert!(store.delete_quick_reply(hours_qr.id, t(9)).await.is_err());
    assert!(store.delete_keyword_rule(r.id, t(9)).await.is_err());
    assert!(store.update_keyword_rule(&StoredRule { channel: None, rule: r }, t(9)).await.is_err());
    assert!(store.reorder_keyword_rules(&[RuleId::new()], t(9)).await.is_err());
    assert_eq!(store.auto_reply_config_version().await.unwrap(), v0 + 8);
}

async fn quick_replies_have_unique_shortcuts(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let hours_qr = QuickReply {
        media: Some(serde_json::from_value(json!({"kind": "image", "link": "https://example.com/hours.png"})).unwrap()),
        buttons: vec![Choice { id: "book".into(), title: "Book".into() }],
        ..quick_reply("hours", "We open {{next_open}}")
    };
    let thanks = quick_reply("thanks", "Thank you, {{contact.first_name}}!");
    let address = quick_reply("address", "Main St 1");
    for qr in [&hours_qr, &thanks, &address] {
        store.create_quick_reply(qr, t(1)).await.unwrap();
    }
    assert_eq!(store.quick_replies().await.unwrap(), vec![address.clone(), hours_qr.clone(), thanks.clone()]);
    assert_eq!(store.quick_reply(hours_qr.id).await.unwrap(), Some(hours_qr.clone()));
    assert_eq!(store.quick_reply_by_shortcut(&hours_qr.shortcut).await.unwrap(), Some(hours_qr.clone()));
    assert_eq!(store.quick_reply_by_shortcut(&Shortcut::parse("nope").unwrap()).await.unwrap(), None);
    // Every channel's configuration has them all.
    assert_eq!(store.auto_reply_config(ch.id).await.unwrap().quick_replies.len(), 3);

    // A shortcut is taken once, across channels; so is an id.
    let again = quick_reply("hours", "Another text");
    assert!(matches!(
        store.create_quick_reply(&again, t(2)).await,
        Err(StoreError::Conflict { what: "quick reply shortcut" })
    ));
    assert!(matches!(
        store
            .create_quick_reply(&QuickReply { shortcut: Shortcut::parse("other").unwrap(), ..thanks.clone() }, t(2))
            .await,
        Err(StoreError::Conflict { what: "quick reply" })
    ));
    assert!(matches!(
        store.update_quick_reply(&QuickReply { shortcut: hours_qr.shortcut.clone(), ..thanks.clone() }, t(3)).await,
        Err(StoreError::Conflict { what: "quick reply shortcut" })
    ));
    // Renaming frees the old shortcut.
    let renamed = QuickReply { shortcut: Shortcut::parse("opening-hours").unwrap(), ..hours_qr.clone() };
    store.update_quick_reply(&renamed, t(4)).await.unwrap();
    store.create_quick_reply(&again, t(5)).await.unwrap();
    assert_eq!(store.quick_reply(hours_qr.id).await.unwrap(), Some(renamed));

    assert!(matches!(store.update_quick_reply(&quick_reply("ghost", "x"), t(6)).await, Err(StoreError::NotFound)));
    store.delete_quick_reply(thanks.id, t(7)).await.unwrap();
    assert!(matches!(store.delete_quick_reply(thanks.id, t(7)).await, Err(StoreError::NotFound)));
    assert_eq!(store.quick_reply(thanks.id).await.unwrap(), None);
    assert_eq!(store.quick_replies().await.unwrap().len(), 3);
}

async fn rules_keep_their_order_and_their_channel(store: Arc<dyn Store>) {
    let sales = channel(&*store, "1001").await;
    let support = channel(&*store, "1002").await;
    let (a, b, c) = (rule("A", "alpha"), rule("B", "beta"), rule("C", "gamma"));
    let stored = |channel, r: &KeywordRule| StoredRule { channel, rule: r.clone() };
    store.create_keyword_rule(&stored(None, &a), t(1)).await.unwrap();
    store.create_keyword_rule(&stored(Some(support.id), &b), t(2)).await.unwrap();
    store.create_keyword_rule(&stored(None, &c), t(3)).await.unwrap();
    let ids = |rules: Vec<StoredRule>| rules.into_iter().map(|r| r.rule.id).collect::<Vec<_>>();
    assert_eq!(ids(store.keyword_rules().await.unwrap()), vec![a.id, b.id, c.id], "in the order created");
    assert_eq!(store.keyword_rule(b.id).await.unwrap(), Some(stored(Some(support.id), &b)));

    // A channel sees the rules for every channel and its own, in order.
    let names = |config: AutoReplyConfig| config.rules.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(names(store.auto_reply_config(sales.id).await.unwrap()), ["A", "C"]);
    assert_eq!(names(store.auto_reply_config(support.id).await.unwrap()), ["A", "B", "C"]);

    store.reorder_keyword_rules(&[c.id, a.id, b.id], t(4)).await.unwrap();
    assert_eq!(ids(store.keyword_rules().await.unwrap()), vec![c.id, a.id, b.id]);
    assert_eq!(names(store.auto_reply_config(support.id).await.unwrap()), ["C", "A", "B"]);

    // An order must name every rule once; otherwise nothing moves.
    for bad in [vec![c.id, a.id], vec![c.id, a.id, b.id, a.id], vec![c.id, a.id, RuleId::new()]] {
        assert!(store.reorder_keyword_rules(&bad, t(5)).await.is_err(), "{bad:?}");
    }
    assert_eq!(ids(store.keyword_rules().await.unwrap()), vec![c.id, a.id, b.id]);

    // An update keeps the place; a new rule goes last.
    let a2 = KeywordRule { name: "A2".into(), stop: false, ..a.clone() };
    store.update_keyword_rule(&stored(Some(sales.id), &a2), t(6)).await.unwrap();
    let d = rule("D", "delta");
    store.create_keyword_rule(&stored(None, &d), t(7)).await.unwrap();
    assert_eq!(ids(store.keyword_rules().await.unwrap()), vec![c.id, a.id, b.id, d.id]);
    assert_eq!(names(store.auto_reply_config(sales.id).await.unwrap()), ["C", "A2", "D"]);
    assert_eq!(names(store.auto_reply_config(support.id).await.unwrap()), ["C", "B", "D"]);

    store.delete_keyword_rule(c.id, t(8)).await.unwrap();
    assert_eq!(ids(store.keyword_rules().await.unwrap()), vec![a.id, b.id, d.id]);
    assert_eq!(store.keyword_rule(c.id).await.unwrap(), None);

    // Ids are unique; a rule's channel must exist.
    assert!(matches!(store.create_keyword_rule(&stored(None, &d), t(9)).await, Err(StoreError::Conflict { .. })));
    let ghost = switchboard_domain::ChannelId::new();
    assert!(matches!(
        store.create_keyword_rule(&stored(Some(ghost), &rule("E", "epsilon")), t(9)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(store.update_keyword_rule(&stored(Some(ghost), &d), t(9)).await, Err(StoreError::NotFound)));
}
