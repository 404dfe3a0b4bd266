//! The bodies endpoints receive (version 1). Every body is
//! `{"type", "timestamp", "version": 1, "data": {…}}` (the Standard Webhooks shape);
//! `data` carries ids and what a CRM needs to act without calling back: the message with
//! its text, the conversation, the contact. The fields by type are documented in
//! docs/webhooks.md.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use switchboard_domain::{ContactId, ConversationId, MessageId, WebhookEventType};
use switchboard_store::{
    Contact, ContactChange, ContactChangeKind, ContactView, ConversationView, InboxEvent, InboxEventKind, MessageView,
    Store,
};

/// The payloads' version: raised when a field changes meaning or goes away (new fields
/// may be added within a version).
pub const PAYLOAD_VERSION: u32 = 1;

/// The event type an inbox event is sent as (`None`: not sent: notes, team changes).
#[must_use]
pub fn event_type_of(kind: InboxEventKind) -> Option<WebhookEventType> {
    Some(match kind {
        InboxEventKind::MessageCreated => WebhookEventType::MessageCreated,
        InboxEventKind::MessageStatus => WebhookEventType::MessageStatusChanged,
        InboxEventKind::ConversationCreated => WebhookEventType::ConversationCreated,
        InboxEventKind::ConversationStatus => WebhookEventType::ConversationStatusChanged,
        InboxEventKind::AssignmentChanged => WebhookEventType::ConversationAssigned,
        InboxEventKind::LabelAdded => WebhookEventType::ConversationLabelled,
        InboxEventKind::LabelRemoved => WebhookEventType::ConversationUnlabelled,
        InboxEventKind::CsatAnswered => WebhookEventType::CsatAnswered,
        InboxEventKind::NoteCreated
        | InboxEventKind::TeamChanged
        | InboxEventKind::SlaWarning
        | InboxEventKind::SlaBreached => return None,
    })
}

/// The event type a contact change is sent as.
#[must_use]
pub fn contact_change_type(kind: ContactChangeKind) -> WebhookEventType {
    match kind {
        ContactChangeKind::Created => WebhookEventType::ContactCreated,
        ContactChangeKind::Updated => WebhookEventType::ContactUpdated,
        ContactChangeKind::ConsentChanged(_) => WebhookEventType::ContactConsentChanged,
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn envelope(t: WebhookEventType, at: DateTime<Utc>, data: Value) -> String {
    json!({ "type": t.as_str(), "timestamp": time(at), "version": PAYLOAD_VERSION, "data": data }).to_string()
}

fn contact_json(c: &ContactView) -> Value {
    json!({
        "id": c.id,
        "wa_id": c.wa_id.as_str(),
        "profile_name": c.profile_name,
        "name": c.name,
        "username": c.username,
    })
}

fn conversation_json(c: &ConversationView) -> Value {
    json!({
        "id": c.id,
        "channel_id": c.channel_id,
        "phone_number_id": c.phone_number_id.as_str(),
        "contact_id": c.contact.id,
        "status": c.status.as_str(),
        "assignee_id": c.assignee_id,
        "team_id": c.team_id,
        "created_at": time(c.created_at),
        "window_closes_at": c.window_closes_at.map(time),
    })
}

fn data_field<'a>(e: &'a InboxEvent, key: &str) -> &'a Value {
    e.data.get(key).unwrap_or(&Value::Null)
}

/// What a batch's bodies read, fetched set-wise (one statement per kind of row for the
/// whole batch, not one per event) before they are built.
pub struct Rows {
    conversations: HashMap<ConversationId, ConversationView>,
    messages: HashMap<MessageId, MessageView>,
    contacts: HashMap<ContactId, Contact>,
}

impl Rows {
    /// Reads the conversations and messages `events` describe and the contacts of
    /// `changes`.
    pub async fn fetch(store: &dyn Store, events: &[&InboxEvent], changes: &[&ContactChange]) -> anyhow::Result<Self> {
        let mut conversations: Vec<ConversationId> = events.iter().map(|e| e.conversation_id).collect();
        conversations.sort_unstable();
        conversations.dedup();
        let messages: Vec<MessageId> = events
            .iter()
            .filter(|e| matches!(e.kind, InboxEventKind::MessageCreated | InboxEventKind::MessageStatus))
            .filter_map(|e| e.message_id)
            .collect();
        let mut contacts: Vec<ContactId> = changes.iter().map(|c| c.contact_id).collect();
        contacts.sort_unstable();
        contacts.dedup();
        Ok(Self {
            conversations: if conversations.is_empty() {
                HashMap::new()
            } else {
                store.conversations_by_ids(&conversations).await?
            },
            messages: if messages.is_empty() { HashMap::new() } else { store.messages_by_ids(&messages).await? },
            contacts: if contacts.is_empty() { HashMap::new() } else { store.contacts_by_ids(&contacts).await? },
        })
    }
}

/// The body for an inbox event (its conversation and message among `rows`); `None` when
/// its type is not sent or what it describes is gone (a contact erased since).
pub async fn for_inbox_event(
    store: &dyn Store,
    rows: &Rows,
    e: &InboxEvent,
) -> anyhow::Result<Option<(WebhookEventType, String)>> {
    let Some(t) = event_type_of(e.kind) else { return Ok(None) };
    let Some(conversation) = rows.conversations.get(&e.conversation_id) else { return Ok(None) };
    let mut data = Map::new();
    data.insert("conversation".into(), conversation_json(conversation));
    data.insert("contact".into(), contact_json(&conversation.contact));
    match e.kind {
        InboxEventKind::MessageCreated | InboxEventKind::MessageStatus => {
            let Some(m) = e.message_id.and_then(|id| rows.messages.get(&id)) else { return Ok(None) };
            let mut message = json!({
                "id": m.id,
                "conversation_id": m.conversation_id,
                "direction": m.direction.as_str(),
                "wamid": m.wamid.as_ref().map(|w| w.as_str().to_owned()),
                "timestamp": time(m.timestamp),
                "sent_by": m.sent_by,
                "auto_rule": m.auto_rule,
            });
            if e.kind == InboxEventKind::MessageCreated {
                message["type"] = data_field(e, "type").clone();
                message["state"] = data_field(e, "state").clone();
                message["text"] = json!(m.text);
            } else {
                message["state"] = data_field(e, "state").clone();
                message["previous_state"] = data_field(e, "previous_state").clone();
                message["error_code"] = data_field(e, "error_code").clone();
                message["error"] = json!(m.error.as_ref().map(|err| json!({ "code": err.code, "title": err.title })));
            }
            data.insert("message".into(), message);
        }
        InboxEventKind::ConversationStatus => {
            data.insert("status".into(), data_field(e, "status").clone());
            data.insert("previous_status".into(), data_field(e, "previous_status").clone());
        }
        InboxEventKind::AssignmentChanged => {
            data.insert("assignee_id".into(), json!(e.assignee_id));
            data.insert("previous_assignee_id".into(), json!(e.agent_id));
        }
        InboxEventKind::LabelAdded | InboxEventKind::LabelRemoved => {
            let Some(id) = e.label_id else { return Ok(None) };
            let name = store.label(id).await?.map(|l| l.name.as_str().to_owned());
            data.insert("label".into(), json!({ "id": id, "name": name }));
            if e.kind == InboxEventKind::LabelAdded {
                data.insert("added_by".into(), json!(e.agent_id));
            }
        }
        InboxEventKind::CsatAnswered => {
            // The answer as it is now (a later tap may have changed it since); the
            // event's own score says what this change was.
            let Some(csat) = store.conversation_csat(e.conversation_id).await? else { return Ok(None) };
            data.insert(
                "csat".into(),
                json!({
                    "scale": csat.scale.points(),
                    "score": data_field(e, "score"),
                    "previous_score": data_field(e, "previous_score"),
                    "rated_at": csat.rated_at.map(time),
                    "comment": csat.comment,
                    "commented_at": csat.commented_at.map(time),
                }),
            );
        }
        _ => {}
    }
    Ok(Some((t, envelope(t, e.at, Value::Object(data)))))
}

/// The body for a contact change (its contact among `rows`); `None` when the contact is
/// gone (erased).
pub async fn for_contact_change(
    store: &dyn Store,
    rows: &Rows,
    c: &ContactChange,
) -> anyhow::Result<Option<(WebhookEventType, String)>> {
    let t = contact_change_type(c.kind);
    let Some(contact) = rows.contacts.get(&c.contact_id) else { return Ok(None) };
    let mut data = json!({
        "contact": {
            "id": contact.id,
            "wa_id": contact.wa_id.as_str(),
            "profile_name": contact.profile_name,
            "name": contact.name,
            "attributes": contact.attributes,
            "opted_out_at": contact.opted_out_at.map(time),
            "opted_out_source": contact.opted_out_source.map(|s| s.as_str()),
            "created_at": time(contact.created_at),
            "updated_at": time(contact.updated_at),
        }
    });
    if let ContactChangeKind::ConsentChanged(state) = c.kind {
        // The change itself (the contact may have changed again since): the history's
        // entry recorded with it.
        let history = store.consent_history(c.contact_id).await?;
        let Some(e) = history.iter().rev().find(|e| e.at <= c.at && e.state == state) else { return Ok(None) };
        data["consent"] = json!({
            "state": e.state.as_str(),
            "source": e.source.as_str(),
            "message_id": e.message_id,
            "agent_id": e.agent_id,
            "at": time(e.at),
        });
    }
    Ok(Some((t, envelope(t, c.at, data))))
}
