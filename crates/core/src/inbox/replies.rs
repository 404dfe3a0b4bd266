//! An agent's reply: a message, or the messages of a quick reply, checked against the
//! customer-service window and Meta's limits, queued in the outbox, and the sender woken.
//!
//! A quick reply is named (`Compose::QuickReply`) or is a text that is exactly
//! `/shortcut`; it is expanded with its variables filled in (`{{agent.name}}` is the
//! sending agent; the contact's recorded language, else the channel's) and sent as text,
//! media or buttons. An unknown one is invalid, naming the field it came from
//! (`quick_reply` or `text`); it is never sent as typed. A quick reply of an audio file
//! and a text sends two messages; the answer is the first.

use chrono::Utc;
use switchboard_cloudapi::{OutboundBody, OutboundMessage};
use switchboard_domain::autoreply::{
    AgentSend, AutoReplyConfig, CompiledConfig, Locale, QuickReplyError, QuickReplyRef, ReplyBody, Shortcut,
};
use switchboard_domain::message::MessageContent;
use switchboard_domain::{ConversationId, JobId, MessageId, Wamid, window};
use switchboard_store::{Agent, ConversationView, MessageView, NewOutbound, OutboxState, StoreError};

use super::{Inbox, InboxError, Invalid};

/// A message to send: the Graph API body, what agents will see, and the message it
/// quotes.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub body: OutboundBody,
    pub content: MessageContent,
    pub reply_to: Option<MessageId>,
}

/// What an agent sends.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // One per request, moved once: not worth a box.
pub enum Compose {
    /// A message; a text that is exactly `/shortcut` sends that quick reply.
    Message(Outgoing),
    /// A quick reply, by shortcut or id (the field `quick_reply`).
    QuickReply { reference: QuickReplyRef, reply_to: Option<MessageId> },
}

/// A reply checked against the window and Meta's limits, ready to queue.
struct Prepared {
    content: MessageContent,
    request: serde_json::Value,
}

impl Inbox<'_> {
    /// Queues what `agent` composed in `conversation`, keyed by `idempotency_key` (a
    /// request repeated with the same key queues nothing new and answers the message
    /// queued the first time), and wakes the sender. Answers the (first) message queued.
    pub async fn reply(
        &self,
        agent: &Agent,
        conversation: ConversationId,
        compose: Compose,
        idempotency_key: Option<&str>,
    ) -> Result<MessageView, InboxError> {
        let conversation =
            self.store.conversation(conversation).await?.ok_or(InboxError::NotFound { what: "conversation" })?;
        // A quick reply, by name or as a text that is exactly `/shortcut`.
        let (reference, field, reply_to) = match compose {
            Compose::QuickReply { reference, reply_to } => (reference, "quick_reply", reply_to),
            Compose::Message(m) => match shortcut(&m.body) {
                Some(shortcut) => (QuickReplyRef::Shortcut(shortcut), "text", m.reply_to),
                None => {
                    let prepared = self.prepare(&conversation, m).await?;
                    return self.enqueue(agent, &conversation, prepared, idempotency_key).await;
                }
            },
        };
        let replies = self.expand_quick_reply(agent, &conversation, &reference, field).await?;
        // Everything is checked before anything is queued. The first message quotes
        // `reply_to`; a second one (the text after an audio) gets the key with a suffix,
        // so a retried request returns both again.
        let mut prepared = Vec::with_capacity(replies.len());
        for (i, reply) in replies.iter().enumerate() {
            let quoted = if i == 0 { reply_to } else { None };
            let m = Outgoing { body: OutboundBody::from(reply), content: reply.to_content(), reply_to: quoted };
            prepared.push(self.prepare(&conversation, m).await?);
        }
        let mut first = None;
        for (i, p) in prepared.into_iter().enumerate() {
            let key = idempotency_key.map(|k| if i == 0 { k.to_owned() } else { format!("{k}#{i}") });
            let message = self.enqueue(agent, &conversation, p, key.as_deref()).await?;
            first.get_or_insert(message);
        }
        tracing::info!(conversation_id = %conversation.id, agent_id = %agent.id, messages = replies.len(), "quick reply expanded");
        first.ok_or_else(|| InboxError::invalid(field, "the quick reply has nothing to send"))
    }

    /// What quick reply `reference` would send in `conversation` if `agent` sent it now:
    /// the messages [`Inbox::reply`] would queue, variables filled in for this contact
    /// (the console shows it before sending). Unknown: invalid, naming `quick_reply`.
    pub async fn preview_quick_reply(
        &self,
        agent: &Agent,
        conversation: ConversationId,
        reference: &QuickReplyRef,
    ) -> Result<Vec<MessageContent>, InboxError> {
        let conversation =
            self.store.conversation(conversation).await?.ok_or(InboxError::NotFound { what: "conversation" })?;
        let replies = self.expand_quick_reply(agent, &conversation, reference, "quick_reply").await?;
        Ok(replies.iter().map(ReplyBody::to_content).collect())
    }

    /// The messages quick reply `reference` sends in this conversation, variables filled
    /// in (`{{agent.name}}` is the sending agent). Unknown: invalid, naming `field`.
    async fn expand_quick_reply(
        &self,
        agent: &Agent,
        conversation: &ConversationView,
        reference: &QuickReplyRef,
        field: &str,
    ) -> Result<Vec<ReplyBody>, InboxError> {
        let in_force = self.store.auto_reply_config(conversation.channel_id).await?;
        let unknown =
            || InboxError::invalid(field, format!("no quick reply {reference}; list them at /api/v1/quick-replies"));
        let qr = in_force.quick_replies.into_iter().find(|q| reference.names(q)).ok_or_else(unknown)?;
        // Only what this quick reply needs: compiling is then cheap, and a problem
        // elsewhere in the configuration does not stop agents.
        let config = AutoReplyConfig {
            business_name: in_force.business_name,
            locale: in_force.locale,
            hours: in_force.hours,
            quick_replies: vec![qr],
            ..AutoReplyConfig::default()
        };
        let compiled = CompiledConfig::new(&config).map_err(|e| InboxError::InvalidConfiguration(e.to_string()))?;
        let contact = self.store.contact(conversation.contact.id).await?;
        let locale = contact.as_ref().and_then(|c| Locale::of_contact(&c.attributes));
        let ctx = AgentSend {
            contact_name: conversation.contact.profile_name.as_deref(),
            contact_locale: locale.as_ref(),
            agent_name: Some(agent.name.as_str()),
            now: Utc::now(),
        };
        compiled.expand_quick_reply(reference, &ctx).map_err(|_: QuickReplyError| unknown())
    }

    /// Checks the window and Meta's limits.
    async fn prepare(&self, conversation: &ConversationView, mut m: Outgoing) -> Result<Prepared, InboxError> {
        let is_template = matches!(m.body, OutboundBody::Template { .. });
        if is_template && let Some(since) = conversation.contact.opted_out_at {
            return Err(InboxError::OptedOut { since });
        }
        if !is_template && !window::is_open(conversation.window_closes_at, Utc::now()) {
            return Err(InboxError::WindowClosed { closed_at: conversation.window_closes_at });
        }
        if let OutboundBody::Template { name, language, components } = &mut m.body {
            let errors =
                crate::templates::check_template_send(self.store, conversation.channel_id, name, language, components)
                    .await?;
            if !errors.is_empty() {
                return Err(InboxError::Invalid(errors));
            }
        }
        let reply_to = match m.reply_to {
            None => None,
            Some(mid) => Some(self.replied_wamid(conversation.id, mid).await?),
        };
        let msg = OutboundMessage {
            to: conversation.contact.wa_id.clone(),
            reply_to,
            body: m.body,
            biz_opaque_callback_data: None,
        };
        msg.validate().map_err(|errors| {
            InboxError::Invalid(errors.into_iter().map(|e| Invalid::new(e.field.clone(), e.message.clone())).collect())
        })?;
        Ok(Prepared { content: m.content, request: msg.to_json() })
    }

    /// Queues a prepared reply in the outbox, wakes the sender, and answers the message.
    async fn enqueue(
        &self,
        agent: &Agent,
        conversation: &ConversationView,
        p: Prepared,
        key: Option<&str>,
    ) -> Result<MessageView, InboxError> {
        let id = conversation.id;
        let enqueued = self
            .store
            .enqueue_outbound(&NewOutbound {
                conversation_id: id,
                content: &p.content,
                request: &p.request,
                sent_by: Some(agent.id),
                idempotency_key: key,
                at: Utc::now(),
            })
            .await
            .map_err(InboxError::not_found("conversation"))?;
        if enqueued.created {
            self.wake.outbox();
            tracing::info!(conversation_id = %id, message_id = %enqueued.message_id, agent_id = %agent.id, "reply queued");
        }
        self.store.message(enqueued.message_id).await?.ok_or(InboxError::NotFound { what: "message" })
    }

    /// The wamid of the message being replied to, which must be in this conversation.
    async fn replied_wamid(&self, conversation: ConversationId, id: MessageId) -> Result<Wamid, InboxError> {
        match self.store.message(id).await? {
            Some(m) if m.conversation_id == conversation => m.wamid.ok_or_else(|| {
                InboxError::invalid("reply_to", "that message has not been sent yet, so it cannot be quoted")
            }),
            _ => Err(InboxError::invalid("reply_to", "no such message in this conversation")),
        }
    }

    /// Requeues a dead or failed send for another attempt and wakes the sender.
    pub async fn requeue_outbox(&self, id: JobId) -> Result<(), InboxError> {
        self.store.requeue_outbox(id, Utc::now()).await.map_err(|e| match e {
            StoreError::NotFound => InboxError::NotFound { what: "dead or failed outbox entry" },
            e => e.into(),
        })?;
        self.wake.outbox();
        Ok(())
    }

    /// Requeues every dead or failed send (`state`: only those) and wakes the sender;
    /// how many.
    pub async fn requeue_all_outbox(&self, state: Option<OutboxState>) -> Result<u64, InboxError> {
        let n = self.store.requeue_all_outbox(state, Utc::now()).await?;
        if n > 0 {
            self.wake.outbox();
        }
        Ok(n)
    }
}

/// The quick reply a text names by being exactly `/shortcut`.
fn shortcut(body: &OutboundBody) -> Option<Shortcut> {
    match body {
        OutboundBody::Text { body, .. } => Shortcut::from_command(body),
        _ => None,
    }
}
