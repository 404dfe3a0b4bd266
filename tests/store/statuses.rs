//! Status reports on outbound messages: forward only, out of order, before the message.

use std::sync::Arc;

use switchboard_domain::DeliveryState::{Delivered, Failed, Played, Queued, Read, Sent};
use switchboard_domain::{ConversationId, DeliveryState, Direction, MessageId};
use switchboard_store::{ChannelInfo, IngestBatch, MessageView, StatusOutcome, Store, StoreError};

use crate::fixtures::{apply_status, channel, failure, inbound_text, outbound, status, t, wamid};

conformance!(stories: [
    statuses_move_a_message_forward_only,
    read_may_come_without_delivered,
    played_counts_as_read,
    a_failure_records_code_title_and_details,
    a_failure_after_delivery_is_stale,
    a_status_before_its_message_is_applied_by_record_sent,
    statuses_before_the_message_are_applied_by_insert_outbound,
    a_failure_before_the_message_is_applied_with_its_error,
    statuses_belong_to_one_channel,
    outbound_messages_need_a_conversation_and_record_sent_a_message,
    a_status_parked_while_its_message_is_being_sent_is_not_lost,
    ingest_and_send_crossing_on_one_conversation_lose_nothing,
]);

async fn setup(store: &dyn Store) -> (ChannelInfo, ConversationId) {
    let ch = channel(store, "1001").await;
    let (conversation, _) = inbound_text(store, ch.id, "15550001", "wamid.in", t(0)).await;
    (ch, conversation)
}

async fn view(store: &dyn Store, id: MessageId) -> MessageView {
    store.message(id).await.unwrap().unwrap()
}

fn applied(id: MessageId, from: DeliveryState, to: DeliveryState) -> StatusOutcome {
    StatusOutcome::Applied { message_id: id, from, to }
}

async fn statuses_move_a_message_forward_only(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = outbound(&*store, conversation, Some("wamid.out"), Sent, t(10)).await;
    let m = view(&*store, id).await;
    assert_eq!((m.direction, m.state, m.sent_at, m.timestamp), (Direction::Outbound, Sent, Some(t(10)), t(10)));

    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.out", Delivered, t(11))).await,
        applied(id, Sent, Delivered)
    );
    assert_eq!(apply_status(&*store, ch.id, &status("wamid.out", Read, t(12))).await, applied(id, Delivered, Read));
    // Late and repeated reports change nothing.
    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.out", Delivered, t(13))).await,
        StatusOutcome::Stale { message_id: id }
    );
    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.out", Sent, t(9))).await,
        StatusOutcome::Stale { message_id: id }
    );
    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.out", Read, t(14))).await,
        StatusOutcome::Stale { message_id: id }
    );

    let m = view(&*store, id).await;
    assert_eq!(m.state, Read);
    assert_eq!((m.sent_at, m.delivered_at, m.read_at, m.failed_at), (Some(t(10)), Some(t(11)), Some(t(12)), None));
    assert_eq!(m.error, None);
}

async fn read_may_come_without_delivered(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = outbound(&*store, conversation, Some("wamid.out"), Sent, t(10)).await;
    assert_eq!(apply_status(&*store, ch.id, &status("wamid.out", Read, t(12))).await, applied(id, Sent, Read));
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.delivered_at, m.read_at), (Read, None, Some(t(12))));

    // The delivered report that was overtaken still records when it happened.
    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.out", Delivered, t(11))).await,
        StatusOutcome::Stale { message_id: id }
    );
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.delivered_at, m.read_at), (Read, Some(t(11)), Some(t(12))));
}

async fn played_counts_as_read(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = outbound(&*store, conversation, Some("wamid.voice"), Sent, t(10)).await;
    assert_eq!(apply_status(&*store, ch.id, &status("wamid.voice", Played, t(15))).await, applied(id, Sent, Played));
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.read_at), (Played, Some(t(15))));
    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.voice", Read, t(14))).await,
        StatusOutcome::Stale { message_id: id }
    );
    assert_eq!(view(&*store, id).await.read_at, Some(t(15)));
}

async fn a_failure_records_code_title_and_details(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = outbound(&*store, conversation, Some("wamid.out"), Sent, t(10)).await;
    let report = failure("wamid.out", t(11), 131_047, "Re-engagement message");
    assert_eq!(apply_status(&*store, ch.id, &report).await, applied(id, Sent, Failed));
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.failed_at), (Failed, Some(t(11))));
    let e = m.error.unwrap();
    assert_eq!(
        (e.code, e.title.as_str(), e.details.as_deref()),
        (131_047, "Re-engagement message", Some("details of 131047"))
    );

    // A failed message stays failed.
    assert_eq!(
        apply_status(&*store, ch.id, &status("wamid.out", Delivered, t(12))).await,
        StatusOutcome::Stale { message_id: id }
    );
    assert_eq!(view(&*store, id).await.state, Failed);
}

async fn a_failure_after_delivery_is_stale(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = outbound(&*store, conversation, Some("wamid.out"), Sent, t(10)).await;
    apply_status(&*store, ch.id, &status("wamid.out", Delivered, t(11))).await;
    let report = failure("wamid.out", t(12), 131_026, "Message undeliverable");
    assert_eq!(apply_status(&*store, ch.id, &report).await, StatusOutcome::Stale { message_id: id });
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.failed_at, m.error), (Delivered, Some(t(12)), None));
}

async fn a_status_before_its_message_is_applied_by_record_sent(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = outbound(&*store, conversation, None, Queued, t(10)).await;
    assert_eq!(view(&*store, id).await.state, Queued);

    // Meta's "delivered" overtakes the send call's response.
    assert_eq!(apply_status(&*store, ch.id, &status("wamid.fast", Delivered, t(12))).await, StatusOutcome::Pending);
    assert_eq!(apply_status(&*store, ch.id, &status("wamid.fast", Delivered, t(12))).await, StatusOutcome::Pending);
    store.record_sent(id, &wamid("wamid.fast"), t(11)).await.unwrap();

    let m = view(&*store, id).await;
    assert_eq!(m.wamid, Some(wamid("wamid.fast")));
    assert_eq!((m.state, m.sent_at, m.delivered_at), (Delivered, Some(t(11)), Some(t(12))));

    // The parked report is gone: the message is known from now on.
    assert_eq!(apply_status(&*store, ch.id, &status("wamid.fast", Read, t(13))).await, applied(id, Delivered, Read));
    // Recording the send again changes nothing.
    store.record_sent(id, &wamid("wamid.fast"), t(20)).await.unwrap();
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.sent_at), (Read, Some(t(11))));
}

async fn statuses_before_the_message_are_applied_by_insert_outbound(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    for (state, at) in [(Read, t(13)), (Delivered, t(12)), (Sent, t(11))] {
        assert_eq!(apply_status(&*store, ch.id, &status("wamid.x", state, at)).await, StatusOutcome::Pending);
    }
    let id = outbound(&*store, conversation, Some("wamid.x"), Sent, t(10)).await;
    let m = view(&*store, id).await;
    assert_eq!(m.state, Read);
    assert_eq!((m.sent_at, m.delivered_at, m.read_at), (Some(t(10)), Some(t(12)), Some(t(13))));
}

async fn a_failure_before_the_message_is_applied_with_its_error(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = outbound(&*store, conversation, None, Queued, t(10)).await;
    let report = failure("wamid.f", t(12), 131_049, "Healthy ecosystem engagement");
    assert_eq!(apply_status(&*store, ch.id, &report).await, StatusOutcome::Pending);
    store.record_sent(id, &wamid("wamid.f"), t(11)).await.unwrap();
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.sent_at, m.failed_at), (Failed, Some(t(11)), Some(t(12))));
    assert_eq!(m.error.map(|e| e.code), Some(131_049));
}

async fn statuses_belong_to_one_channel(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let other = channel(&*store, "2002").await;
    let id = outbound(&*store, conversation, Some("wamid.out"), Sent, t(10)).await;
    assert_eq!(apply_status(&*store, other.id, &status("wamid.out", Read, t(11))).await, StatusOutcome::Pending);
    assert_eq!(view(&*store, id).await.state, Sent);
}

async fn outbound_messages_need_a_conversation_and_record_sent_a_message(store: Arc<dyn Store>) {
    let (_, conversation) = setup(&*store).await;
    let missing = ConversationId::new();
    let err = store
        .insert_outbound(&switchboard_store::NewOutboundMessage {
            conversation_id: missing,
            content: switchboard_domain::MessageContent::Text { body: "x".into() },
            state: Queued,
            wamid: None,
            sent_by: None,
            at: t(1),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = store.record_sent(MessageId::new(), &wamid("wamid.nope"), t(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    // An outbound message counts as activity of its conversation.
    outbound(&*store, conversation, None, Queued, t(50)).await;
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!((c.message_count, c.last_message_at, c.last_inbound_at), (2, t(50), Some(t(0))));
}

async fn a_status_parked_while_its_message_is_being_sent_is_not_lost(store: Arc<dyn Store>) {
    let (ch, conversation) = setup(&*store).await;
    let id = outbound(&*store, conversation, None, Queued, t(10)).await;

    // The ingest worker parks a report for a wamid it does not know yet...
    let (mut tx, events) = crate::fixtures::begin(&*store).await;
    let report = status("wamid.race", Delivered, t(12));
    assert_eq!(tx.apply_status(ch.id, &report, None, t(12)).await.unwrap(), StatusOutcome::Pending);

    // ...while the sender records that wamid. Whichever commits first, the report must
    // reach the message.
    let sender = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.record_sent(id, &wamid("wamid.race"), t(11)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    crate::fixtures::finish(tx, &events).await;
    tokio::time::timeout(std::time::Duration::from_secs(10), sender).await.unwrap().unwrap().unwrap();

    let m = view(&*store, id).await;
    assert_eq!((m.state, m.sent_at, m.delivered_at), (Delivered, Some(t(11)), Some(t(12))));
}

async fn ingest_and_send_crossing_on_one_conversation_lose_nothing(store: Arc<dyn Store>) {
    // The ingest batch writes to a conversation, the sender records an outbound message
    // on it with wamid W, then the batch parks a status for W. On PostgreSQL the two
    // transactions deadlock; one is aborted and retried. Nothing may be lost either way.
    let (ch, conversation) = setup(&*store).await;
    let ana = crate::fixtures::contact("15550001", Some("Ana"));
    let (mut tx, events) = crate::fixtures::begin(&*store).await;
    let inbound = crate::fixtures::text("wamid.in2", &ana, t(5), "any news?");
    let new_inbound = |event_id| switchboard_store::NewInbound {
        event_id,
        channel: ch.id,
        contact: &ana,
        message: &inbound,
        received_at: t(5),
        window_closes_at: None,
    };
    tx.apply_inbound(&new_inbound(events[0])).await.unwrap();

    let sender = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { outbound(&*store, conversation, Some("wamid.cross"), Sent, t(10)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let report = status("wamid.cross", Delivered, t(12));
    match tx.apply_status(ch.id, &report, None, t(12)).await {
        Ok(StatusOutcome::Pending) => crate::fixtures::finish(tx, &events).await,
        Ok(other) => panic!("the message cannot be visible yet: {other:?}"),
        Err(StoreError::Unavailable(_)) => {
            // This batch lost: it is claimed and applied again.
            drop(tx);
            let IngestBatch { mut tx, events: pending } = store.begin_ingest(100).await.unwrap().unwrap();
            let events: Vec<_> = pending.iter().map(|e| e.id).collect();
            tx.apply_inbound(&new_inbound(events[0])).await.unwrap();
            tx.apply_status(ch.id, &report, None, t(12)).await.unwrap();
            crate::fixtures::finish(tx, &events).await;
        }
        Err(e) => panic!("{e:?}"),
    }
    let id = tokio::time::timeout(std::time::Duration::from_secs(20), sender).await.unwrap().unwrap();
    let m = view(&*store, id).await;
    assert_eq!((m.state, m.delivered_at), (Delivered, Some(t(12))));
    let c = store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!(c.message_count, 3);
}
