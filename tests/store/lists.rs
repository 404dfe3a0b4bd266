//! Listing conversations and messages, page by page.

use std::sync::Arc;

use switchboard_domain::{ConversationId, ConversationStatus, MessageId};
use switchboard_store::{ConversationQuery, MessageQuery, Store, StoreError};
use switchboard_tests::TestDb;

use crate::fixtures::{channel, contact, exec, inbound_text, outbound, t, text, uuid_literal};

conformance!(
    stories: [
        conversations_are_listed_by_latest_activity_page_by_page,
        messages_are_listed_oldest_first_page_by_page,
        the_newest_messages_come_first_in_pages_going_back,
        unknown_ids_are_absent,
    ],
    with_db: [conversations_can_be_filtered_by_status],
);

async fn all_conversations(
    store: &dyn Store,
    status: Option<ConversationStatus>,
    limit: u32,
) -> Vec<Vec<ConversationId>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_conversations(&ConversationQuery { status, limit, after }).await.unwrap();
        pages.push(page.items.iter().map(|c| c.id).collect());
        match page.next {
            Some(next) => after = Some(next),
            None => return pages,
        }
    }
}

async fn conversations_are_listed_by_latest_activity_page_by_page(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    // Seven conversations; two pairs share their last activity time exactly.
    let times = [50, 10, 30, 30, 70, 10, 60];
    let mut made = Vec::new();
    for (i, secs) in times.iter().enumerate() {
        let (c, _) = inbound_text(&*store, ch.id, &format!("1555000{i}"), &format!("wamid.{i}"), t(*secs)).await;
        made.push((t(*secs), c));
    }
    // Newest first; ties by id, descending.
    made.sort_by(|a, b| b.cmp(a));
    let expected: Vec<ConversationId> = made.iter().map(|(_, c)| *c).collect();

    let pages = all_conversations(&*store, None, 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    assert_eq!(pages.concat(), expected);

    // A last page that is exactly full has no next cursor.
    let pages = all_conversations(&*store, None, 7).await;
    assert_eq!(pages, vec![expected.clone()]);
    // Limits are clamped to 1..=500.
    assert_eq!(all_conversations(&*store, None, 0).await.len(), 7);
    assert_eq!(all_conversations(&*store, None, 10_000).await, vec![expected.clone()]);

    // The view carries the contact and the channel.
    let page = store.list_conversations(&ConversationQuery { status: None, limit: 1, after: None }).await.unwrap();
    let top = &page.items[0];
    assert_eq!((top.contact.wa_id.as_str(), top.phone_number_id.as_str()), ("15550004", "1001"));
    assert_eq!(top.last_message_at, t(70));

    // New activity moves a conversation to the top.
    let ana = contact("15550001", None);
    crate::fixtures::apply(&*store, ch.id, &ana, &text("wamid.new", &ana, t(100), "again"), None).await;
    let first = store.list_conversations(&ConversationQuery { status: None, limit: 1, after: None }).await.unwrap();
    assert_eq!(first.items[0].contact.wa_id.as_str(), "15550001");
}

async fn conversations_can_be_filtered_by_status(db: &TestDb, store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (c, _) = inbound_text(&*store, ch.id, &format!("1555000{i}"), &format!("wamid.{i}"), t(i)).await;
        ids.push(c);
    }
    for c in [ids[1], ids[3]] {
        exec(db, &format!("UPDATE conversations SET status = 'resolved' WHERE id = {}", uuid_literal(db, c.as_uuid())))
            .await;
    }
    let open = all_conversations(&*store, Some(ConversationStatus::Open), 2).await.concat();
    assert_eq!(open, vec![ids[4], ids[2], ids[0]]);
    let resolved = all_conversations(&*store, Some(ConversationStatus::Resolved), 1).await.concat();
    assert_eq!(resolved, vec![ids[3], ids[1]]);
    assert!(all_conversations(&*store, Some(ConversationStatus::Snoozed), 5).await.concat().is_empty());
    assert_eq!(all_conversations(&*store, None, 2).await.concat().len(), 5);
}

async fn messages_are_listed_oldest_first_page_by_page(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (conversation, first) = inbound_text(&*store, ch.id, "15550001", "wamid.0", t(0)).await;
    let mut expected: Vec<MessageId> = vec![first];
    let ana = contact("15550001", None);
    for i in 1..5 {
        let outcome =
            crate::fixtures::apply(&*store, ch.id, &ana, &text(&format!("wamid.{i}"), &ana, t(i), "more"), None).await;
        let switchboard_store::InboundOutcome::Stored { message_id, .. } = outcome else { panic!() };
        expected.push(message_id);
    }
    expected.push(outbound(&*store, conversation, None, switchboard_domain::DeliveryState::Queued, t(9)).await);

    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_messages(conversation, &MessageQuery { limit: 2, after }).await.unwrap();
        pages.push(page.items.iter().map(|m| m.id).collect::<Vec<_>>());
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2]);
    assert_eq!(pages.concat(), expected);

    // Past the end: an empty page of an existing conversation.
    let last = switchboard_store::MessageCursor { id: expected[5] };
    let page = store.list_messages(conversation, &MessageQuery { limit: 2, after: Some(last) }).await.unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
}

async fn the_newest_messages_come_first_in_pages_going_back(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (conversation, first) = inbound_text(&*store, ch.id, "15550001", "wamid.0", t(0)).await;
    let mut expected: Vec<MessageId> = vec![first];
    let ana = contact("15550001", None);
    for i in 1..5 {
        let outcome =
            crate::fixtures::apply(&*store, ch.id, &ana, &text(&format!("wamid.{i}"), &ana, t(i), "more"), None).await;
        let switchboard_store::InboundOutcome::Stored { message_id, .. } = outcome else { panic!() };
        expected.push(message_id);
    }
    // The last page first, each oldest first; then the pages before it.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = store.messages_before(conversation, before, 2).await.unwrap();
        pages.push(page.items.iter().map(|m| m.id).collect::<Vec<_>>());
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, vec![expected[3..].to_vec(), expected[1..3].to_vec(), expected[..1].to_vec()]);
    // Before the first: an empty page of an existing conversation.
    let page =
        store.messages_before(conversation, Some(switchboard_store::MessageCursor { id: first }), 2).await.unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
    let err = store.messages_before(ConversationId::new(), None, 2).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn unknown_ids_are_absent(store: Arc<dyn Store>) {
    assert_eq!(store.conversation(ConversationId::new()).await.unwrap(), None);
    assert_eq!(store.message(MessageId::new()).await.unwrap(), None);
    let err = store.list_messages(ConversationId::new(), &MessageQuery { limit: 10, after: None }).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}
