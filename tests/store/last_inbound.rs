//! The newest inbound message of a conversation (what mark-read acknowledges).

use std::sync::Arc;

use switchboard_domain::{ConversationId, DeliveryState, Direction};
use switchboard_store::Store;

use crate::fixtures::{apply, channel, contact, inbound_text, outbound, t, text};

conformance!(stories: [
    the_newest_inbound_message_is_found_not_outbound_ones,
    no_inbound_message_means_none,
]);

async fn the_newest_inbound_message_is_found_not_outbound_ones(store: Arc<dyn Store>) {
    let ch = channel(&*store, "1001").await;
    let (conv, first) = inbound_text(&*store, ch.id, "15550001", "wamid.in.1", t(10)).await;
    assert_eq!(store.last_inbound(conv).await.unwrap().unwrap().id, first);

    let ana = contact("15550001", Some("Ana"));
    apply(&*store, ch.id, &ana, &text("wamid.in.2", &ana, t(20), "still there?"), None).await;
    // Newer outbound messages do not count.
    outbound(&*store, conv, Some("wamid.out.1"), DeliveryState::Sent, t(30)).await;
    outbound(&*store, conv, None, DeliveryState::Queued, t(40)).await;

    let last = store.last_inbound(conv).await.unwrap().unwrap();
    assert_eq!(last.conversation_id, conv);
    assert_eq!(last.direction, Direction::Inbound);
    assert_eq!(last.wamid.as_ref().map(|w| w.as_str()), Some("wamid.in.2"));
    assert_ne!(last.id, first);

    // Another customer's conversation is separate.
    let (other, other_msg) = inbound_text(&*store, ch.id, "15550002", "wamid.in.3", t(50)).await;
    assert_eq!(store.last_inbound(other).await.unwrap().unwrap().id, other_msg);
    let again = store.last_inbound(conv).await.unwrap().unwrap();
    assert_eq!(again.wamid.as_ref().map(|w| w.as_str()), Some("wamid.in.2"));
}

async fn no_inbound_message_means_none(store: Arc<dyn Store>) {
    assert!(store.last_inbound(ConversationId::new()).await.unwrap().is_none());
}
