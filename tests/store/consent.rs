//! Consent: a contact's state and history, changes recorded once, the settings.

use std::sync::Arc;

use switchboard_domain::consent::{ConsentSettings, ConsentSettingsInput, ConsentSource, ConsentState};
use switchboard_domain::{AgentRole, ContactId};
use switchboard_store::{ConsentChange, NewConsent, Store, StoreError};

use crate::fixtures::{channel, t};
use crate::views::{agent, conversation};

conformance!(stories: [
    consent_changes_are_recorded_once_in_order,
    consent_settings_round_trip_and_default_to_none,
]);

fn change(contact: ContactId, state: ConsentState, source: ConsentSource, secs: i64) -> NewConsent<'static> {
    NewConsent { contact, state, source, message_id: None, agent_id: None, note: None, at: t(secs) }
}

async fn consent_changes_are_recorded_once_in_order(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let a = channel(s, "106540352242922").await.id;
    let by = agent(s, 1, AgentRole::Agent).await;
    let c = conversation(s, a, "16505550001", "José", "hola", t(1)).await;
    let contact = s.conversation(c).await.unwrap().unwrap().contact.id;
    assert!(s.consent_history(contact).await.unwrap().is_empty());
    assert_eq!(s.contact(contact).await.unwrap().unwrap().opted_out_at, None);

    let out = NewConsent {
        agent_id: Some(by),
        note: Some("asked by phone"),
        ..change(contact, ConsentState::OptedOut, ConsentSource::Agent, 10)
    };
    assert_eq!(s.record_consent(&out).await.unwrap(), ConsentChange::Changed);
    let again = change(contact, ConsentState::OptedOut, ConsentSource::Api, 11);
    assert_eq!(s.record_consent(&again).await.unwrap(), ConsentChange::Unchanged);
    let shown = s.contact(contact).await.unwrap().unwrap();
    assert_eq!((shown.opted_out_at, shown.opted_out_source), (Some(t(10)), Some(ConsentSource::Agent)));
    let view = s.conversation(c).await.unwrap().unwrap();
    assert_eq!(view.contact.opted_out_at, Some(t(10)), "conversations carry the state");

    let back = change(contact, ConsentState::OptedIn, ConsentSource::Import, 20);
    assert_eq!(s.record_consent(&back).await.unwrap(), ConsentChange::Changed);
    let shown = s.contact(contact).await.unwrap().unwrap();
    assert_eq!((shown.opted_out_at, shown.opted_out_source), (None, None));
    let history = s.consent_history(contact).await.unwrap();
    let entries: Vec<_> = history.iter().map(|e| (e.state, e.source, e.at)).collect();
    assert_eq!(
        entries,
        [(ConsentState::OptedOut, ConsentSource::Agent, t(10)), (ConsentState::OptedIn, ConsentSource::Import, t(20))]
    );
    assert_eq!(history[0].agent_id, Some(by));
    assert_eq!(history[0].note.as_deref(), Some("asked by phone"));

    let nobody = ContactId::new();
    assert!(matches!(s.consent_history(nobody).await, Err(StoreError::NotFound)));
    let lost = change(nobody, ConsentState::OptedOut, ConsentSource::Api, 30);
    assert!(matches!(s.record_consent(&lost).await, Err(StoreError::NotFound)));
}

async fn consent_settings_round_trip_and_default_to_none(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(s.consent_settings().await.unwrap(), None);
    let settings = ConsentSettings::parse(ConsentSettingsInput {
        opt_out_keywords: Some(vec!["HALT".into(), "ARRÊT".into()]),
        opt_in_keywords: Some(vec![]),
        opt_out_confirmation: Some("Done: no more messages.".into()),
        opt_in_confirmation: None,
    })
    .unwrap();
    let before = s.auto_reply_config_version().await.unwrap();
    s.put_consent_settings(&settings, t(1)).await.unwrap();
    assert_eq!(s.consent_settings().await.unwrap(), Some(settings.clone()));
    assert!(s.auto_reply_config_version().await.unwrap() > before, "the ingest workers reload");
    s.put_consent_settings(&ConsentSettings::default(), t(2)).await.unwrap();
    assert_eq!(s.consent_settings().await.unwrap(), Some(ConsentSettings::default()));
}
