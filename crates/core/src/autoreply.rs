//! Auto-replies, decided and queued inside the ingest transaction that stores the
//! customer's message (DESIGN.md §6).
//!
//! Each channel's configuration is compiled once ([`CompiledConfig`]) and kept until the
//! configuration's version moves (any admin write, on any instance sharing the database;
//! checked once per ingest batch with one small query). For each stored inbound message
//! the store answers what the engine needs to know about the conversation's history in
//! one indexed statement; the pure engine decides; its replies are written to the outbox
//! in the same transaction, so a crash either stores the message AND its auto-replies or
//! neither, and a redelivered message (a known wamid) is never answered twice.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchboard_cloudapi::{OutboundBody, OutboundMessage};
use switchboard_domain::autoreply::{AutoReplyConfig, CompiledConfig, Effect, Evaluation, Facts, Locale, RuleRef};
use switchboard_domain::consent::{ConsentKeywords, ConsentSettings};
use switchboard_domain::csat::CsatSettings;
use switchboard_domain::inbound::{InboundContact, InboundMessage};
use switchboard_domain::{
    ChannelId, ContactId, ConversationId, MessageContent, MessageId, PhoneNumberId, WaId, window,
};
use switchboard_store::{AutoReplyFacts, IngestTx, Lease, NewAutoReply, NewOutbound, OutboxJob, Store, StoreError};

use crate::assignment::assign_to_team;
use crate::sender::Handoff;

/// Compiled configurations by channel, valid for one configuration version.
#[derive(Default)]
pub(crate) struct AutoReplier {
    version: Option<i64>,
    /// `None`: the channel has nothing switched on (or its configuration is invalid).
    channels: HashMap<ChannelId, Option<Arc<CompiledConfig>>>,
    /// The channels' survey settings (`None`: off), reloaded with the configuration.
    csat: HashMap<ChannelId, Option<Arc<CsatSettings>>>,
    /// The consent settings and their keywords, reloaded with the configuration.
    consent: Option<Arc<(ConsentSettings, ConsentKeywords)>>,
}

/// The message just stored, and where.
pub(crate) struct Stored<'a> {
    pub channel: ChannelId,
    pub phone_number_id: &'a PhoneNumberId,
    pub conversation: ConversationId,
    pub contact_id: ContactId,
    pub message_id: MessageId,
    pub new_contact: bool,
    pub contact: &'a InboundContact,
    pub message: &'a InboundMessage,
    /// When the customer sent it (rules are evaluated at that time).
    pub sent_at: DateTime<Utc>,
}

/// What the auto-replies of one message did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub replies: usize,
    pub suppressed: usize,
}

impl AutoReplier {
    /// Forgets every compiled configuration if the configuration changed since the last
    /// call. Once per batch.
    /// `true` when it changed (channels enabled or disabled move the version too).
    pub async fn refresh(&mut self, store: &dyn Store) -> Result<bool, StoreError> {
        let version = store.auto_reply_config_version().await?;
        if self.version != Some(version) {
            self.channels.clear();
            self.csat.clear();
            self.consent = None;
            self.version = Some(version);
            return Ok(true);
        }
        Ok(false)
    }

    /// The consent settings in force and their keywords.
    pub async fn consent(&mut self, store: &dyn Store) -> Result<Arc<(ConsentSettings, ConsentKeywords)>, StoreError> {
        if let Some(c) = &self.consent {
            return Ok(Arc::clone(c));
        }
        let settings = crate::consent::settings(store).await?;
        let keywords = settings.matcher();
        let c = Arc::new((settings, keywords));
        self.consent = Some(Arc::clone(&c));
        Ok(c)
    }

    /// The channel's survey settings, if its survey is on.
    pub async fn csat(
        &mut self,
        store: &dyn Store,
        channel: ChannelId,
    ) -> Result<Option<Arc<CsatSettings>>, StoreError> {
        if let Some(c) = self.csat.get(&channel) {
            return Ok(c.clone());
        }
        let settings = match store.csat_settings(channel).await {
            Ok(s) => s.filter(CsatSettings::enabled).map(Arc::new),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        self.csat.insert(channel, settings.clone());
        Ok(settings)
    }

    async fn config(
        &mut self,
        store: &dyn Store,
        channel: ChannelId,
    ) -> Result<Option<Arc<CompiledConfig>>, StoreError> {
        if let Some(c) = self.channels.get(&channel) {
            return Ok(c.clone());
        }
        let config = store.auto_reply_config(channel).await?;
        let compiled = if is_active(&config) {
            match CompiledConfig::new(&config) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    // Admin writes are validated; this is a configuration written by an
                    // older version or by hand. Answer nothing rather than something wrong.
                    tracing::error!(%channel, error = %e, "auto-reply configuration is invalid; auto-replies are off for this channel until it is fixed");
                    None
                }
            }
        } else {
            None
        };
        self.channels.insert(channel, compiled.clone());
        Ok(compiled)
    }

    /// Decides and queues the auto-replies (and labels, assignment) for the messages of
    /// one round (at most one per contact), in `tx`: their facts in one statement, their
    /// replies queued together. With a `handoff`, the jobs it has room for are leased at
    /// insert and pushed to `handed`, to be given to the sender once `tx` commits.
    pub async fn respond<'a>(
        &mut self,
        store: &dyn Store,
        tx: &mut dyn IngestTx,
        batch: &[Stored<'a>],
        now: DateTime<Utc>,
        handoff: Option<&Handoff>,
        handed: &mut Vec<OutboxJob>,
    ) -> Result<Outcome, StoreError> {
        let mut judged = Vec::with_capacity(batch.len());
        for m in batch {
            let Some(config) = self.config(store, m.channel).await? else { continue };
            // A message read back long after it was sent (ingest was down) may be past its
            // customer-service window: no free-form reply can be sent any more.
            if window::is_open(Some(window::closes_at(m.sent_at, false)), now) {
                judged.push((m, config));
            }
        }
        let mut outcome = Outcome::default();
        if judged.is_empty() {
            return Ok(outcome);
        }
        // A contact first seen in this very message has no history: nothing to read.
        let of: Vec<_> = judged
            .iter()
            .filter(|(m, _)| !m.new_contact)
            .map(|(m, _)| (m.conversation, m.contact_id, m.message_id))
            .collect();
        let mut histories = tx.auto_reply_facts_batch(&of, now).await?.into_iter();
        // The replies of the whole round, queued together once every rule was judged.
        let mut replies: Vec<Reply<'a>> = Vec::new();
        for (m, config) in &judged {
            let history = if m.new_contact {
                AutoReplyFacts::default()
            } else {
                histories.next().ok_or_else(|| StoreError::Other(anyhow::anyhow!("no facts for a message")))?
            };
            let facts = Facts {
                contact_wa_id: m.contact.wa_id.clone(),
                contact_name: m.contact.profile_name.clone(),
                // A language agents recorded on the contact; one we cannot format in falls
                // back to the channel's.
                contact_locale: Locale::recorded(history.contact_language.as_deref()),
                is_new_contact: m.new_contact,
                last_contact_activity: history.contact_last_activity,
                last_agent_reply: history.last_agent_message,
                assigned_agent_name: None,
                rule_fired: history.rules_last_fired,
                auto_replies_last_hour: history.auto_replies_last_hour,
            };
            let evaluation = config.evaluate(&facts, m.message, m.sent_at);
            act(tx, m, &evaluation, history.contact_opted_out, now, &mut replies, &mut outcome).await?;
        }
        if replies.is_empty() {
            return Ok(outcome);
        }
        let lease = handoff.map_or(Lease::NONE, |h| h.lease(now, handed.len()));
        let new: Vec<NewAutoReply<'_>> = replies
            .iter()
            .map(|r| NewAutoReply {
                message: NewOutbound {
                    conversation_id: r.conversation,
                    content: &r.content,
                    request: &r.request,
                    sent_by: None,
                    idempotency_key: None,
                    at: now,
                },
                rule: r.rule,
            })
            .collect();
        let queued = tx.enqueue_auto_replies_leasing(&new, lease).await?;
        drop(new);
        outcome.replies += queued.len();
        for (r, q) in replies.into_iter().zip(queued) {
            metrics::counter!("switchboard_auto_replies_total", "rule" => kind(r.rule)).increment(1);
            tracing::debug!(conversation_id = %r.conversation, message_id = %q.message_id, rule = %r.rule, leased = q.leased_job.is_some(), "auto-reply queued");
            if let Some(id) = q.leased_job {
                handed.push(OutboxJob {
                    id,
                    message_id: q.message_id,
                    conversation_id: r.conversation,
                    channel_id: r.channel,
                    phone_number_id: r.phone_number_id.clone(),
                    to: r.to.clone(),
                    request: r.request,
                    attempts: 1,
                    created_at: now,
                    leased_until: lease.until,
                    withheld: false,
                });
            }
        }
        Ok(outcome)
    }
}

/// Carries out what the rules decided for one message: labels, assignment and firings
/// at once, its replies into `replies`, to be queued with the rest of the round.
async fn act<'a>(
    tx: &mut dyn IngestTx,
    m: &Stored<'a>,
    evaluation: &Evaluation,
    opted_out: bool,
    now: DateTime<Utc>,
    replies: &mut Vec<Reply<'a>>,
    outcome: &mut Outcome,
) -> Result<(), StoreError> {
    for action in &evaluation.actions {
        match &action.effect {
            Effect::Reply { .. } if opted_out => {
                // Nothing automatic goes to a contact who opted out; labels and
                // assignment still apply.
                tracing::debug!(conversation_id = %m.conversation, rule = %action.rule, "auto-reply not sent: the contact opted out");
                outcome.suppressed += 1;
            }
            Effect::Reply { reply } => {
                let msg = OutboundMessage {
                    to: m.contact.wa_id.clone(),
                    reply_to: None,
                    body: OutboundBody::from(reply),
                    biz_opaque_callback_data: None,
                };
                if let Err(errors) = msg.validate() {
                    // The engine keeps replies within Meta's limits; never send one
                    // Meta would refuse.
                    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                    tracing::warn!(conversation_id = %m.conversation, rule = %action.rule, ?fields, "auto-reply not sent: it breaks Meta's limits");
                    outcome.suppressed += 1;
                    continue;
                }
                replies.push(Reply {
                    channel: m.channel,
                    phone_number_id: m.phone_number_id,
                    to: &m.contact.wa_id,
                    conversation: m.conversation,
                    content: reply.to_content(),
                    request: msg.to_json(),
                    rule: action.rule,
                });
            }
            Effect::AddLabels { labels } => tx.add_labels(m.conversation, labels, now).await?,
            Effect::Assign { agent } => {
                if !tx.assign_conversation(m.conversation, *agent, now).await? {
                    tracing::warn!(conversation_id = %m.conversation, agent_id = %agent, rule = %action.rule, "rule assigns to an agent who is missing or inactive; left unassigned");
                }
            }
            Effect::AssignTeam { team } => match assign_to_team(tx, m.conversation, *team, now).await? {
                Some(agent) => {
                    tracing::debug!(conversation_id = %m.conversation, team_id = %team, agent_id = %agent, rule = %action.rule, "assigned to a team member");
                }
                None => {
                    tracing::info!(conversation_id = %m.conversation, team_id = %team, rule = %action.rule, "no member of the team can take it now; it waits in the queue");
                }
            },
        }
    }
    // A rule that only labelled or assigned left no message behind: log its firing
    // so its cooldown holds next time.
    for rule in evaluation.fired() {
        if !evaluation.replies().any(|(r, _)| r == rule) {
            tx.record_rule_fired(m.conversation, rule, now).await?;
        }
    }
    Ok(())
}

/// An auto-reply decided, to be queued with the rest of its round.
struct Reply<'a> {
    channel: ChannelId,
    phone_number_id: &'a PhoneNumberId,
    to: &'a WaId,
    conversation: ConversationId,
    content: MessageContent,
    request: serde_json::Value,
    rule: RuleRef,
}

/// Whether anything in `config` could act: a channel with nothing switched on costs no
/// query per message.
fn is_active(config: &AutoReplyConfig) -> bool {
    config.greeting.as_ref().is_some_and(|g| g.enabled)
        || config.away.as_ref().is_some_and(|a| a.enabled)
        || config.rules.iter().any(|r| r.enabled)
}

const fn kind(rule: RuleRef) -> &'static str {
    match rule {
        RuleRef::Greeting => "greeting",
        RuleRef::Away => "away",
        RuleRef::Keyword(_) => "keyword",
        RuleRef::QuickReply(_) => "quick_reply",
        RuleRef::Csat => "csat",
        RuleRef::Consent => "consent",
    }
}
