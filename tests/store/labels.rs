//! Labels, and labels on conversations.

use std::sync::Arc;

use switchboard_domain::label::{LabelColour, LabelName};
use switchboard_domain::{AgentName, AgentRole, ConversationId, Email, LabelId, NewAgent, TokenHash};
use switchboard_store::{Label, LabelPatch, NewLabel, Store, StoreError};

use crate::fixtures::{begin, channel, finish, inbound_text, t};

conformance!(
    stories: [
        labels_are_created_listed_updated_and_deleted,
        label_names_are_unique_in_any_case,
        labels_go_on_and_off_conversations,
        the_ingest_transaction_adds_labels_ignoring_unknown_ones,
    ],
);

pub async fn label(store: &dyn Store, name: &str) -> Label {
    store
        .create_label(&NewLabel {
            name: LabelName::parse(name).unwrap(),
            colour: LabelColour::default(),
            description: None,
            at: t(0),
        })
        .await
        .unwrap()
}

async fn labels_are_created_listed_updated_and_deleted(store: Arc<dyn Store>) {
    let vip = store
        .create_label(&NewLabel {
            name: LabelName::parse("VIP").unwrap(),
            colour: LabelColour::parse("#FF0000").unwrap(),
            description: Some("Big customers".into()),
            at: t(5),
        })
        .await
        .unwrap();
    assert_eq!(vip.name.as_str(), "VIP");
    assert_eq!(vip.colour.as_str(), "#ff0000");
    assert_eq!(vip.description.as_deref(), Some("Big customers"));
    assert_eq!(vip.created_at, t(5));
    let billing = label(&*store, "billing").await;
    let names: Vec<String> = store.labels().await.unwrap().iter().map(|l| l.name.to_string()).collect();
    assert_eq!(names, ["billing", "VIP"], "by name, case-insensitively");
    assert_eq!(store.label(vip.id).await.unwrap(), Some(vip.clone()));
    assert_eq!(store.label(LabelId::new()).await.unwrap(), None);

    // Only the fields given change; the description can be cleared.
    let renamed = store
        .update_label(vip.id, &LabelPatch { name: Some(LabelName::parse("Gold").unwrap()), ..LabelPatch::default() })
        .await
        .unwrap();
    assert_eq!((renamed.name.as_str(), renamed.colour.as_str()), ("Gold", "#ff0000"));
    assert_eq!(renamed.description.as_deref(), Some("Big customers"));
    let cleared = store
        .update_label(
            vip.id,
            &LabelPatch { colour: Some(LabelColour::parse("#00ff00").unwrap()), description: Some(None), name: None },
        )
        .await
        .unwrap();
    assert_eq!((cleared.name.as_str(), cleared.colour.as_str(), cleared.description), ("Gold", "#00ff00", None));
    let err = store.update_label(LabelId::new(), &LabelPatch::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    store.delete_label(billing.id).await.unwrap();
    assert!(matches!(store.delete_label(billing.id).await.unwrap_err(), StoreError::NotFound));
    assert_eq!(store.labels().await.unwrap().len(), 1);
}

async fn label_names_are_unique_in_any_case(store: Arc<dyn Store>) {
    let a = label(&*store, "Été").await;
    let b = label(&*store, "winter").await;
    for name in ["été", "ÉTÉ", " Été "] {
        let err = store
            .create_label(&NewLabel {
                name: LabelName::parse(name).unwrap(),
                colour: LabelColour::default(),
                description: None,
                at: t(0),
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { what: "label name" }), "{name}: {err:?}");
    }
    let err = store
        .update_label(b.id, &LabelPatch { name: Some(LabelName::parse("ÉtÉ").unwrap()), ..LabelPatch::default() })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { what: "label name" }), "{err:?}");
    // A label may change the case of its own name.
    let same = store
        .update_label(a.id, &LabelPatch { name: Some(LabelName::parse("ÉTÉ").unwrap()), ..LabelPatch::default() })
        .await
        .unwrap();
    assert_eq!(same.name.as_str(), "ÉTÉ");
}

async fn labels_go_on_and_off_conversations(store: Arc<dyn Store>) {
    let ch = channel(&*store, "2001").await;
    let (c1, _) = inbound_text(&*store, ch.id, "15550001", "wamid.l1", t(1)).await;
    let (c2, _) = inbound_text(&*store, ch.id, "15550002", "wamid.l2", t(2)).await;
    let vip = label(&*store, "vip").await;
    let billing = label(&*store, "Billing").await;

    let agent = store
        .create_agent(
            &NewAgent {
                name: AgentName::parse("Ana").unwrap(),
                email: Email::parse("ana@example.com").unwrap(),
                role: AgentRole::Agent,
            },
            &TokenHash::from_bytes([7; 32]),
            t(0),
        )
        .await
        .unwrap();
    store.add_conversation_labels(c1, &[vip.id, billing.id, vip.id], Some(agent.id), t(10)).await.unwrap();
    // Adding again keeps who added it and when.
    store.add_conversation_labels(c1, &[vip.id], None, t(20)).await.unwrap();
    let on = store.conversation_labels(c1).await.unwrap();
    assert_eq!(on.iter().map(|a| a.label.name.as_str()).collect::<Vec<_>>(), ["Billing", "vip"]);
    assert!(on.iter().all(|a| a.added_at == t(10) && a.added_by == Some(agent.id)), "{on:?}");

    // An unknown label or conversation changes nothing.
    let err = store.add_conversation_labels(c2, &[vip.id, LabelId::new()], None, t(30)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert!(store.conversation_labels(c2).await.unwrap().is_empty());
    let err = store.add_conversation_labels(ConversationId::new(), &[vip.id], None, t(30)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    store.add_conversation_labels(c2, &[billing.id], None, t(40)).await.unwrap();
    let map = store.labels_of_conversations(&[c1, c2, ConversationId::new()]).await.unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!(map[&c1].len(), 2);
    assert_eq!(map[&c2].iter().map(|l| l.id).collect::<Vec<_>>(), [billing.id]);
    assert!(store.labels_of_conversations(&[]).await.unwrap().is_empty());

    assert!(store.remove_conversation_label(c1, vip.id).await.unwrap());
    assert!(!store.remove_conversation_label(c1, vip.id).await.unwrap());
    // Deleting a label takes it off every conversation.
    store.delete_label(billing.id).await.unwrap();
    assert!(store.conversation_labels(c1).await.unwrap().is_empty());
    assert!(store.conversation_labels(c2).await.unwrap().is_empty());
}

async fn the_ingest_transaction_adds_labels_ignoring_unknown_ones(store: Arc<dyn Store>) {
    let ch = channel(&*store, "2002").await;
    let (c, _) = inbound_text(&*store, ch.id, "15550003", "wamid.l3", t(1)).await;
    let vip = label(&*store, "vip").await;
    let (mut tx, events) = begin(&*store).await;
    tx.add_labels(c, &[vip.id, LabelId::new(), vip.id], t(5)).await.unwrap();
    tx.add_labels(c, &[], t(6)).await.unwrap();
    finish(tx, &events).await;
    let on = store.conversation_labels(c).await.unwrap();
    assert_eq!(on.len(), 1);
    assert_eq!((on[0].label.id, on[0].added_by, on[0].added_at), (vip.id, None, t(5)));

    // Rolled back with its transaction.
    let other = label(&*store, "other").await;
    let (mut tx, _) = begin(&*store).await;
    tx.add_labels(c, &[other.id], t(7)).await.unwrap();
    drop(tx);
    assert_eq!(store.conversation_labels(c).await.unwrap().len(), 1);
}
