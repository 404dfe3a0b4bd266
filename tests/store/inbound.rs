//! Applying inbound messages: contacts, conversations, messages, activity times.

use std::sync::Arc;

use chrono::Duration;
use switchboard_domain::message::{Media, MessageContext, Referral, StatusError};
use switchboard_domain::{ConversationStatus, DeliveryState, Direction, MessageContent};
use switchboard_store::{InboundOutcome, MessageQuery, Store};
use switchboard_tests::TestDb;

use crate::fixtures::{apply, channel, contact, exec, message, t, text, uuid_literal};

conformance!(
    stories: [
        a_first_message_creates_the_contact_and_a_conversation,
        the_next_message_reuses_the_open_conversation,
        a_redelivered_message_changes_nothing,
        activity_and_window_only_move_forward,
        a_contact_has_one_conversation_per_channel,
        rich_content_round_trips,
    ],
    with_db: [a_resolved_conversation_is_never_reused, a_pending_or_snoozed_conversation_reopens],
);

fn stored(o: InboundOutcome) -> (switchboard_domain::ConversationId, switchboard_domain::ContactId, bool, bool) {
    match o {
        InboundOutcome::Stored { conversation_id, contact_id, new_contact, new_conversation, .. } => {
            (conversation_id, contact_id, new_contact, new_conversation)
        }
        InboundOutcome::Duplicate => panic!("expected the message to be stored"),
    }
}

async fn a_first_message_creates_the_contact_and_a_conversation(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ana = contact("15550001", Some("Ana"));
    let msg = text("wamid.A1", &ana, t(10), "Hello, is my order shipped?");
    let outcome = apply(&*store, ch.id, &ana, &msg, Some(t(10) + Duration::hours(24))).await;
    let InboundOutcome::Stored { message_id, conversation_id, contact_id, new_contact, new_conversation } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(new_contact && new_conversation);

    let c = store.conversation(conversation_id).await.unwrap().unwrap();
    assert_eq!(c.channel_id, ch.id);
    assert_eq!(c.phone_number_id.as_str(), "1001");
    assert_eq!(c.contact.id, contact_id);
    assert_eq!(c.contact.wa_id.as_str(), "15550001");
    assert_eq!(c.contact.profile_name.as_deref(), Some("Ana"));
    assert_eq!(c.status, ConversationStatus::Open);
    assert_eq!(c.assignee_id, None);
    assert_eq!(c.message_count, 1);
    assert_eq!(c.last_message_at, t(10));
    assert_eq!(c.last_inbound_at, Some(t(10)));
    assert_eq!(c.window_closes_at, Some(t(10) + Duration::hours(24)));
    assert_eq!(c.created_at, t(10));
    assert_eq!(c.resolved_at, None);

    let m = store.message(message_id).await.unwrap().unwrap();
    assert_eq!(m.conversation_id, conversation_id);
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.wamid.as_ref().map(|w| w.as_str()), Some("wamid.A1"));
    assert_eq!(m.content, msg.content);
    assert_eq!(m.state, DeliveryState::Received);
    assert_eq!(m.timestamp, t(10));
    assert_eq!((m.context.clone(), m.referral.clone(), m.errors.clone()), (None, None, vec![]));
    assert_eq!((m.sent_at, m.error.clone(), m.sent_by), (None, None, None));
}

async fn the_next_message_reuses_the_open_conversation(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ana = contact("15550001", Some("Ana"));
    let (conversation, contact_id, ..) =
        stored(apply(&*store, ch.id, &ana, &text("wamid.1", &ana, t(10), "hi"), None).await);

    // The profile moves to the latest non-empty values.
    let renamed = switchboard_domain::inbound::InboundContact {
        profile_name: Some("Ana María".into()),
        user_id: Some("US.13491208655302741918".into()),
        ..ana.clone()
    };
    let (c2, k2, new_contact, new_conversation) =
        stored(apply(&*store, ch.id, &renamed, &text("wamid.2", &renamed, t(20), "again"), None).await);
    assert_eq!((c2, k2, new_contact, new_conversation), (conversation, contact_id, false, false));

    let anonymous = contact("15550001", None);
    stored(apply(&*store, ch.id, &anonymous, &text("wamid.3", &anonymous, t(30), "third"), None).await);

    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!(c.message_count, 3);
    assert_eq!(c.contact.profile_name.as_deref(), Some("Ana María"));
    assert_eq!(c.contact.user_id.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(c.last_message_at, t(30));
}

async fn a_redelivered_message_changes_nothing(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ana = contact("15550001", Some("Ana"));
    let msg = text("wamid.same", &ana, t(10), "hi");
    let (conversation, ..) = stored(apply(&*store, ch.id, &ana, &msg, Some(t(100))).await);
    let before = store.conversation(conversation).await.unwrap().unwrap();

    // Meta redelivers it later, with a different profile name and a later window.
    let renamed = contact("15550001", Some("Someone else"));
    let again = text("wamid.same", &renamed, t(50), "hi");
    assert_eq!(apply(&*store, ch.id, &renamed, &again, Some(t(500))).await, InboundOutcome::Duplicate);

    assert_eq!(store.conversation(conversation).await.unwrap().unwrap(), before);
    let page = store.list_messages(conversation, &MessageQuery { limit: 10, after: None }).await.unwrap();
    assert_eq!(page.items.len(), 1);
}

async fn activity_and_window_only_move_forward(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ana = contact("15550001", None);
    let (conversation, ..) = stored(
        apply(&*store, ch.id, &ana, &text("wamid.late", &ana, t(1000), "second"), Some(t(1000) + Duration::hours(24)))
            .await,
    );

    // An older message arrives after a newer one: nothing moves back.
    apply(&*store, ch.id, &ana, &text("wamid.early", &ana, t(400), "first"), Some(t(400) + Duration::hours(24))).await;
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!((c.last_message_at, c.last_inbound_at), (t(1000), Some(t(1000))));
    assert_eq!(c.window_closes_at, Some(t(1000) + Duration::hours(24)));
    assert_eq!(c.message_count, 2);

    // A message that opens no window moves activity but leaves the window alone.
    let notice = message(
        "wamid.sys",
        &ana,
        t(2000),
        MessageContent::System {
            kind: "user_changed_number".into(),
            body: Some("changed".into()),
            new_wa_id: None,
            user_id: None,
        },
    );
    apply(&*store, ch.id, &ana, &notice, None).await;
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!((c.last_message_at, c.last_inbound_at), (t(2000), Some(t(2000))));
    assert_eq!(c.window_closes_at, Some(t(1000) + Duration::hours(24)));

    // A later window (an ad's 72 hours) replaces it.
    apply(&*store, ch.id, &ana, &text("wamid.ad", &ana, t(1500), "from the ad"), Some(t(1500) + Duration::hours(72)))
        .await;
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!(c.window_closes_at, Some(t(1500) + Duration::hours(72)));
    assert_eq!(c.last_message_at, t(2000));
}

async fn a_contact_has_one_conversation_per_channel(store: Arc<dyn Store>) {
    let sales = channel(&*store, "1001").await;
    let support = channel(&*store, "2002").await;
    let ana = contact("15550001", Some("Ana"));
    let (a, contact_a, new_contact, _) =
        stored(apply(&*store, sales.id, &ana, &text("wamid.x", &ana, t(1), "hi"), None).await);
    assert!(new_contact);
    // The same wamid on another channel is another message.
    let (b, contact_b, new_contact, new_conversation) =
        stored(apply(&*store, support.id, &ana, &text("wamid.x", &ana, t(2), "hi"), None).await);
    assert_ne!(a, b);
    assert_eq!(contact_a, contact_b, "a contact is global across channels");
    assert!(!new_contact && new_conversation);
}

async fn rich_content_round_trips(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ana = contact("15550001", None);
    let mut msg = message(
        "wamid.img",
        &ana,
        t(5),
        MessageContent::Image(Media {
            id: Some("1479537139650973".into()),
            mime_type: Some("image/jpeg".into()),
            sha256: Some("HgFzw3s0vN7bW7cFa4yH4xZbq3DXO6Yg5RZ8u6XQ1V8=".into()),
            caption: Some("the broken part — শুভ".into()),
            ..Media::default()
        }),
    );
    msg.context = Some(MessageContext {
        message_id: Some("wamid.earlier".into()),
        from: Some("15550100".into()),
        forwarded: true,
        ..MessageContext::default()
    });
    msg.referral = Some(Referral {
        source_url: Some("https://fb.me/abc".into()),
        source_type: Some("ad".into()),
        ctwa_clid: Some("ARAkLkA8rmlFeiCktEJQ".into()),
        ..Referral::default()
    });
    msg.errors = vec![StatusError { code: 131_051, title: "Message type unknown".into(), details: None, href: None }];
    let (conversation, ..) = stored(apply(&*store, ch.id, &ana, &msg, None).await);

    let page = store.list_messages(conversation, &MessageQuery { limit: 10, after: None }).await.unwrap();
    let m = &page.items[0];
    assert_eq!(m.content, msg.content);
    assert_eq!(m.context, msg.context);
    assert_eq!(m.referral, msg.referral);
    assert_eq!(m.errors, msg.errors);
}

async fn set_status(db: &TestDb, conversation: switchboard_domain::ConversationId, status: &str) {
    let id = uuid_literal(db, conversation.as_uuid());
    exec(db, &format!("UPDATE conversations SET status = '{status}' WHERE id = {id}")).await;
}

async fn a_resolved_conversation_is_never_reused(db: &TestDb, store: Arc<dyn Store>) {
    // No port resolves a conversation yet: the story sets the status with SQL.
    let ch = channel(&*store, "1001").await;
    let ana = contact("15550001", Some("Ana"));
    let (first, contact_id, ..) = stored(apply(&*store, ch.id, &ana, &text("wamid.1", &ana, t(10), "hi"), None).await);
    set_status(db, first, "resolved").await;

    let (second, k, new_contact, new_conversation) =
        stored(apply(&*store, ch.id, &ana, &text("wamid.2", &ana, t(20), "me again"), None).await);
    assert_ne!(second, first);
    assert_eq!((k, new_contact, new_conversation), (contact_id, false, true));
    assert_eq!(store.conversation(first).await.unwrap().unwrap().status, ConversationStatus::Resolved);
    assert_eq!(store.conversation(first).await.unwrap().unwrap().message_count, 1);
    let c = store.conversation(second).await.unwrap().unwrap();
    assert_eq!((c.status, c.message_count, c.created_at), (ConversationStatus::Open, 1, t(20)));

    // And the new one is reused from then on.
    let (third, .., new_conversation) =
        stored(apply(&*store, ch.id, &ana, &text("wamid.3", &ana, t(30), "?"), None).await);
    assert_eq!((third, new_conversation), (second, false));
}

async fn a_pending_or_snoozed_conversation_reopens(db: &TestDb, store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let ana = contact("15550001", None);
    let (conversation, ..) = stored(apply(&*store, ch.id, &ana, &text("wamid.1", &ana, t(10), "hi"), None).await);
    for (i, status) in ["pending", "snoozed"].into_iter().enumerate() {
        set_status(db, conversation, status).await;
        let wamid = format!("wamid.re{i}");
        let (again, .., new_conversation) =
            stored(apply(&*store, ch.id, &ana, &text(&wamid, &ana, t(20 + i as i64), "?"), None).await);
        assert_eq!((again, new_conversation), (conversation, false));
        assert_eq!(
            store.conversation(conversation).await.unwrap().unwrap().status,
            ConversationStatus::Open,
            "{status}"
        );
    }
}
