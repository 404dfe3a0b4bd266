//! The ingest worker: applies stored webhook deliveries to contacts, conversations and
//! messages.
//!
//! A batch of pending events is claimed and applied inside ONE store transaction that
//! also marks them applied: a crash at any point either applies an event entirely or
//! leaves it pending to be applied again, and redelivered messages are recognised by
//! their wamid. If anything in a batch fails for a reason other than the database being
//! unavailable, the batch is rolled back and its events are applied one by one, so a
//! single poisonous event is marked failed (and kept) instead of blocking the log.
//!
//! Inside the transaction the batch's customers' messages are stored set-wise, a few
//! statements per round of messages rather than per message (see `store_inbound`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;
use switchboard_cloudapi::tagged_message;
use switchboard_cloudapi::webhook::parse_delivery;
use switchboard_domain::csat::SurveyAnswer;
use switchboard_domain::inbound::{Change, InboundContact, InboundMessage, MessagesChange, StatusValue};
use switchboard_domain::link::{PhoneNumber, RefFormat};
use switchboard_domain::message::MessageContent;
use switchboard_domain::{ChannelId, EventId, PhoneNumberId, window};
use switchboard_store::{
    CsatAnswerIn, CsatCommentIn, InboundOutcome, IngestBatch, IngestTx, NewEvent, NewInbound, OutboxJob, PendingEvent,
    RecordReason, RecordedChange, Store, StoreError, TemplateUpdate, UnroutedChange, inbound_rounds,
};
use tokio_util::sync::CancellationToken;

use crate::attribution::attribute_first_message;
use crate::autoreply::{AutoReplier, Stored};
use crate::csat::{Tap, record_answer};
use crate::sender::{Handoff, release};
use crate::templates::template_update;
use crate::wake::Wake;

#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Most events applied in one transaction.
    pub batch_size: u32,
    /// How often to look for events when not woken (other instances' deliveries).
    pub poll_interval: Duration,
    /// How click-to-chat links write their reference code (`links.ref_format`).
    pub ref_format: RefFormat,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self { batch_size: 256, poll_interval: Duration::from_secs(1), ref_format: RefFormat::default() }
    }
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub applied: usize,
    pub failed: usize,
    pub messages: usize,
    pub duplicates: usize,
    pub statuses: usize,
    /// Auto-replies queued in the outbox.
    pub auto_replies: usize,
}

impl IngestReport {
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.applied == 0 && self.failed == 0
    }

    fn record_metrics(&self) {
        metrics::counter!("switchboard_ingest_events_total", "result" => "applied").increment(self.applied as u64);
        metrics::counter!("switchboard_ingest_events_total", "result" => "failed").increment(self.failed as u64);
        metrics::counter!("switchboard_ingest_messages_total", "result" => "stored").increment(self.messages as u64);
        metrics::counter!("switchboard_ingest_messages_total", "result" => "duplicate")
            .increment(self.duplicates as u64);
        metrics::counter!("switchboard_ingest_statuses_total").increment(self.statuses as u64);
    }

    fn add(&mut self, other: Self) {
        self.applied += other.applied;
        self.failed += other.failed;
        self.messages += other.messages;
        self.duplicates += other.duplicates;
        self.statuses += other.statuses;
        self.auto_replies += other.auto_replies;
    }
}

/// `switchboard_ingest_lag_seconds`: from each applied event's acknowledgement (when it
/// was stored) to its commit.
fn record_lag(events: &[PendingEvent]) {
    let now = Utc::now();
    let lag = metrics::histogram!("switchboard_ingest_lag_seconds");
    for e in events {
        lag.record((now - e.received_at).as_seconds_f64().max(0.0));
    }
}

/// Puts deliveries that arrived for `phone_number_id` before it had a channel back into
/// the event log, one delivery per kept change, so the ingest worker applies them now.
/// Each becomes a delivery with deterministic bytes: if the process dies between the
/// append and forgetting the kept changes, the next run appends the same bytes again and
/// the event log recognises them; redelivered messages are recognised by their wamid.
pub async fn replay_unrouted(store: &dyn Store, phone_number_id: &PhoneNumberId) -> Result<usize, StoreError> {
    let mut replayed = 0;
    loop {
        let changes = store.unrouted_changes(phone_number_id, 256).await?;
        if changes.is_empty() {
            return Ok(replayed);
        }
        let now = Utc::now();
        let events: Vec<NewEvent> = changes
            .iter()
            .map(|UnroutedChange { value, .. }| {
                let envelope = serde_json::json!({
                    "object": "whatsapp_business_account",
                    "entry": [{"id": "", "changes": [{"field": "messages", "value": value}]}],
                });
                let body = Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default());
                crate::intake::new_event(body, now)
            })
            .collect();
        store.append_events(&events).await?;
        let ids: Vec<i64> = changes.iter().map(|c| c.id).collect();
        store.delete_recorded_changes(&ids).await?;
        replayed += ids.len();
    }
}

/// A customer's message of the batch being applied.
struct Inbound<'a> {
    event: &'a PendingEvent,
    channel: ChannelId,
    phone_number_id: &'a PhoneNumberId,
    /// As `value.contacts[]` describes the sender, or just their wa_id.
    contact: Cow<'a, InboundContact>,
    message: &'a InboundMessage,
    /// When the customer sent it (Meta's timestamp, never ahead of its arrival).
    sent_at: DateTime<Utc>,
    window_closes_at: Option<DateTime<Utc>>,
}

/// What the worker keeps of a channel.
#[derive(Clone, Copy)]
struct KnownChannel {
    id: ChannelId,
    /// A disabled channel's messages are stored but not auto-replied.
    enabled: bool,
    /// Whether its display number is known (else it is learned from webhooks).
    has_display_number: bool,
}

pub struct IngestWorker {
    store: Arc<dyn Store>,
    opts: IngestOptions,
    channels: HashMap<PhoneNumberId, KnownChannel>,
    /// Display numbers learned from webhooks' metadata in the open batch, written once it
    /// commits.
    learned: Vec<(PhoneNumberId, PhoneNumber)>,
    /// Template webhooks' changes in the open batch, applied once it commits.
    template_updates: Vec<TemplateUpdate>,
    auto_replier: AutoReplier,
    /// Wakes the sender after a batch that queued auto-replies it did not hand over, and
    /// the assigner after a batch that stored messages (new waiting conversations); the
    /// worker itself is woken through it when deliveries are appended.
    wake: Wake,
    /// The local sender, given the auto-replies' jobs leased at insert.
    handoff: Option<Handoff>,
    /// The jobs leased by the open transaction, given once it commits.
    handed: Vec<OutboxJob>,
}

impl IngestWorker {
    #[must_use]
    pub fn new(store: Arc<dyn Store>, opts: IngestOptions) -> Self {
        Self {
            store,
            opts,
            channels: HashMap::new(),
            learned: Vec::new(),
            template_updates: Vec::new(),
            auto_replier: AutoReplier::default(),
            wake: Wake::default(),
            handoff: None,
            handed: Vec::new(),
        }
    }

    /// Queues auto-reply jobs leased to the sender at the other end of `handoff` (that
    /// sender must run in this process), and gives them to it once committed.
    #[must_use]
    pub fn with_handoff(mut self, handoff: Handoff) -> Self {
        self.handoff = Some(handoff);
        self
    }

    /// Wakes the sender and the assigner through `wake` (by default a handle no worker
    /// listens to), and is woken through it when deliveries are appended.
    #[must_use]
    pub fn with_wake(mut self, wake: Wake) -> Self {
        self.wake = wake;
        self
    }

    async fn committed(&mut self, report: &IngestReport) {
        if report.messages > 0 {
            self.wake.assigner();
        }
        let mut handed = self.handed.len();
        if let Some(handoff) = &self.handoff
            && handed > 0
        {
            // The sender has stopped (shutdown): any sender may claim them now.
            let left = handoff.give(std::mem::take(&mut self.handed));
            handed -= left.len();
            release(self.store.as_ref(), &left).await;
        }
        if report.auto_replies > handed {
            self.wake.outbox();
        }
    }

    /// Applies one batch of pending events. An empty report means nothing was pending.
    pub async fn run_once(&mut self) -> Result<IngestReport, StoreError> {
        if self.auto_replier.refresh(self.store.as_ref()).await? {
            // Channels enabled or disabled move the same version.
            self.channels.clear();
        }
        self.handed.clear();
        // Left by a batch that was then applied event by event.
        self.apply_after_commit().await;
        let Some(IngestBatch { mut tx, events }) = self.store.begin_ingest(self.opts.batch_size).await? else {
            return Ok(IngestReport::default());
        };
        let now = Utc::now();
        let mut report = match self.apply_events(tx.as_mut(), &events, now).await {
            Ok(r) => r,
            Err(e @ StoreError::Unavailable(_)) => return Err(e),
            Err(e) => {
                drop(tx);
                tracing::warn!(error = %e, batch = events.len(), first_event_id = ?events.first().map(|e| e.id), "batch failed; applying its events one by one");
                return self.apply_alone(events.len()).await;
            }
        };
        let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
        tx.mark_applied(&ids, now).await?;
        tx.commit().await?;
        self.apply_after_commit().await;
        report.applied = events.len();
        record_lag(&events);
        self.committed(&report).await;
        report.record_metrics();
        Ok(report)
    }

    /// Applies until nothing is pending. For tests and for draining at shutdown.
    pub async fn run_until_idle(&mut self) -> Result<IngestReport, StoreError> {
        let mut total = IngestReport::default();
        loop {
            let r = self.run_once().await?;
            if r.is_empty() {
                return Ok(total);
            }
            total.add(r);
        }
    }

    /// Runs until `cancel`: woken through its [`Wake`] when deliveries are appended, else
    /// every poll interval.
    pub async fn run_until_stopped(mut self, cancel: CancellationToken) {
        let wake = self.wake.clone();
        let mut backoff = Duration::from_millis(100);
        loop {
            if cancel.is_cancelled() {
                break;
            }
            match self.run_once().await {
                Ok(r) if !r.is_empty() => {
                    backoff = Duration::from_millis(100);
                    continue;
                }
                Ok(_) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::error!(error = %e, source = ?std::error::Error::source(&e), retry_in = ?backoff, "ingest failed");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = cancel.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
            tokio::select! {
                () = wake.ingest_woken() => {}
                () = tokio::time::sleep(self.opts.poll_interval) => {}
                () = cancel.cancelled() => break,
            }
        }
        tracing::debug!("ingest worker stopped");
    }

    /// After a failed batch: the first `n` pending events, each in its own transaction.
    async fn apply_alone(&mut self, n: usize) -> Result<IngestReport, StoreError> {
        let mut report = IngestReport::default();
        for _ in 0..n {
            self.handed.clear();
            let Some(IngestBatch { mut tx, events }) = self.store.begin_ingest(1).await? else { break };
            let Some(event) = events.first() else { break };
            let now = Utc::now();
            match self.apply_events(tx.as_mut(), &events, now).await {
                Ok(r) => {
                    tx.mark_applied(&[event.id], now).await?;
                    tx.commit().await?;
                    record_lag(&events);
                    self.committed(&r).await;
                    report.add(r);
                    report.applied += 1;
                }
                Err(e @ StoreError::Unavailable(_)) => return Err(e),
                Err(e) => {
                    drop(tx);
                    tracing::error!(error = %e, source = ?std::error::Error::source(&e), event_id = %event.id, "event cannot be applied; marked failed");
                    self.store.mark_event_failed(event.id, &e.to_string(), now).await?;
                    report.failed += 1;
                }
            }
        }
        report.record_metrics();
        Ok(report)
    }

    /// Applies `events` in `tx`: what is recorded or a status at once, in order; the
    /// customers' messages of all of them together at the end, set-wise
    /// ([`Self::store_inbound`]).
    async fn apply_events(
        &mut self,
        tx: &mut dyn IngestTx,
        events: &[PendingEvent],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        let mut report = IngestReport::default();
        // Meta's times, believed only up to the arrival (a missing or implausible one is the arrival).
        let parsed: Vec<_> = events
            .iter()
            .map(|e| {
                parse_delivery(&e.body).map(|mut changes| {
                    changes.iter_mut().for_each(|c| c.settle_times(e.received_at));
                    changes
                })
            })
            .collect();
        let mut inbound = Vec::new();
        for (event, changes) in events.iter().zip(&parsed) {
            let changes = match changes {
                Ok(changes) => changes,
                Err(e) => {
                    // Signed by Meta but not a delivery we understand: keep it, do not retry.
                    tracing::warn!(event_id = %event.id, error = %e, "webhook body is not a WhatsApp delivery; recorded raw");
                    let value = serde_json::from_slice(&event.body).unwrap_or(serde_json::Value::Null);
                    let rec = RecordedChange {
                        event_id: event.id,
                        reason: RecordReason::Malformed,
                        field: "",
                        phone_number_id: None,
                        waba_id: None,
                        value: &value,
                        at: now,
                    };
                    tx.record_change(&rec).await?;
                    continue;
                }
            };
            for change in changes {
                match change {
                    Change::Other(o) => {
                        tracing::info!(event_id = %event.id, field = %o.field, "recorded webhook field");
                        if let Some(update) = template_update(&o.field, o.waba_id.as_deref(), &o.value) {
                            self.template_updates.push(update);
                        }
                        let rec = RecordedChange {
                            event_id: event.id,
                            reason: RecordReason::Field,
                            field: &o.field,
                            phone_number_id: None,
                            waba_id: o.waba_id.as_deref(),
                            value: &o.value,
                            at: now,
                        };
                        tx.record_change(&rec).await?;
                    }
                    Change::Messages(m) => {
                        self.apply_messages(tx, event, m, now, &mut report, &mut inbound).await?;
                    }
                }
            }
        }
        self.store_inbound(tx, &inbound, now, &mut report).await?;
        Ok(report)
    }

    /// Applies a `messages` change's statuses and records what cannot be applied; its
    /// customers' messages join `inbound`, to be stored with the rest of the batch.
    async fn apply_messages<'a>(
        &mut self,
        tx: &mut dyn IngestTx,
        event: &'a PendingEvent,
        m: &'a MessagesChange,
        now: DateTime<Utc>,
        report: &mut IngestReport,
        inbound: &mut Vec<Inbound<'a>>,
    ) -> Result<(), StoreError> {
        let record = |reason, value| RecordedChange {
            event_id: event.id,
            reason,
            field: "messages",
            phone_number_id: Some(m.phone_number_id.as_str()),
            waba_id: None,
            value,
            at: now,
        };
        let Some(KnownChannel { id: channel, .. }) = self.channel(&m.phone_number_id).await? else {
            tracing::warn!(event_id = %event.id, phone_number_id = %m.phone_number_id, "delivery for a phone number with no channel; recorded, not applied");
            return tx.record_change(&record(RecordReason::NoChannel, &m.raw)).await;
        };
        self.learn_display_number(m);
        if !m.errors.is_empty() {
            tracing::warn!(event_id = %event.id, phone_number_id = %m.phone_number_id, codes = ?m.errors.iter().map(|e| e.code).collect::<Vec<_>>(), "Meta reported errors on a change");
            tx.record_change(&record(RecordReason::ChangeErrors, &m.raw)).await?;
        }
        for item in &m.malformed {
            tx.record_change(&record(RecordReason::Malformed, item)).await?;
        }
        for msg in &m.messages {
            let Some(from) = &msg.from else {
                tx.record_change(&record(RecordReason::NoSender, &msg.raw)).await?;
                continue;
            };
            let contact = match m.contacts.iter().find(|c| &c.wa_id == from) {
                Some(c) => Cow::Borrowed(c),
                None => Cow::Owned(InboundContact {
                    wa_id: from.clone(),
                    profile_name: None,
                    user_id: msg.from_user_id.clone(),
                    parent_user_id: None,
                    username: None,
                }),
            };
            // Settled above: never ahead of the arrival, never implausibly early.
            let sent_at = msg.timestamp;
            let window_closes_at = match msg.content {
                MessageContent::System { .. } => None,
                _ => Some(window::closes_at(sent_at, msg.referral.as_ref().is_some_and(|r| r.is_ad()))),
            };
            inbound.push(Inbound {
                event,
                channel,
                phone_number_id: &m.phone_number_id,
                contact,
                message: msg,
                sent_at,
                window_closes_at,
            });
        }
        for status in &m.statuses {
            if let StatusValue::Unknown(value) = &status.state {
                tracing::info!(event_id = %event.id, wamid = %status.wamid, status = %value, "recorded unknown status");
                tx.record_change(&record(RecordReason::UnknownStatus, &status.raw)).await?;
                continue;
            }
            // Our message id, which the sender put in the send's callback data: how a
            // send whose outcome was never recorded is recognised.
            let sent_as = status.raw.get("biz_opaque_callback_data").and_then(Value::as_str).and_then(tagged_message);
            tx.apply_status(channel, status, sent_as, event.received_at).await?;
            report.statuses += 1;
        }
        Ok(())
    }

    /// Stores the batch's customers' messages set-wise, in rounds ([`inbound_rounds`]):
    /// each round costs the store a few statements whatever its length, and a contact's
    /// second message is stored, attributed and answered only after its first, so it sees
    /// the first's conversation, activity and auto-replies exactly as if it came alone.
    async fn store_inbound(
        &mut self,
        tx: &mut dyn IngestTx,
        inbound: &[Inbound<'_>],
        now: DateTime<Utc>,
        report: &mut IngestReport,
    ) -> Result<(), StoreError> {
        let inbound = self.take_surveys(tx, inbound, now, report).await?;
        let news: Vec<NewInbound<'_>> = inbound
            .iter()
            .map(|i| NewInbound {
                event_id: i.event.id,
                channel: i.channel,
                contact: &i.contact,
                message: i.message,
                received_at: i.event.received_at,
                window_closes_at: i.window_closes_at,
            })
            .collect();
        let mut round_batch = Vec::with_capacity(news.len());
        let mut stored = Vec::with_capacity(news.len());
        let mut news_created = Vec::new();
        for round in inbound_rounds(&news) {
            round_batch.clear();
            round_batch.extend(round.iter().map(|&i| news[i]));
            let outcomes = tx.apply_inbound_batch(&round_batch).await?;
            stored.clear();
            for (&i, outcome) in round.iter().zip(outcomes) {
                let InboundOutcome::Stored { message_id, conversation_id, contact_id, new_contact, new_conversation } =
                    outcome
                else {
                    report.duplicates += 1;
                    continue;
                };
                let item = &inbound[i];
                let msg = item.message;
                report.messages += 1;
                let format = &self.opts.ref_format;
                attribute_first_message(tx, format, new_conversation, conversation_id, message_id, msg, now).await?;
                if new_conversation {
                    news_created.push(conversation_id);
                }
                tracing::debug!(event_id = %item.event.id, %message_id, %conversation_id, wamid = %msg.wamid, kind = msg.content.kind().as_str(), "stored inbound message");
                if self.channels.values().any(|c| c.id == item.channel && !c.enabled) {
                    // A disabled channel's messages are kept, not answered.
                    continue;
                }
                stored.push(Stored {
                    channel: item.channel,
                    phone_number_id: item.phone_number_id,
                    conversation: conversation_id,
                    contact_id,
                    message_id,
                    new_contact,
                    contact: &item.contact,
                    message: msg,
                    sent_at: item.sent_at,
                });
            }
            // The new conversations' SLA due times, before anything answers them.
            tx.start_sla(&news_created).await?;
            news_created.clear();
            if !stored.is_empty() {
                let consent = self.auto_replier.consent(self.store.as_ref()).await?;
                let (settings, keywords) = &*consent;
                report.auto_replies += crate::consent::take_keywords(tx, keywords, settings, &mut stored, now).await?;
            }
            let auto = self
                .auto_replier
                .respond(self.store.as_ref(), tx, &stored, now, self.handoff.as_ref(), &mut self.handed)
                .await?;
            report.auto_replies += auto.replies;
        }
        Ok(())
    }

    /// Takes the batch's answers to satisfaction surveys out of it: a tapped survey
    /// choice, and the text a survey's follow-up question waits for, are stored in the
    /// surveyed (resolved) conversation by [`crate::csat`] and go no further (no new
    /// conversation, no auto-reply). Answers the rest, in order. Costs nothing when no
    /// message is a tap on a choice of ours and no channel asks for comments; else one
    /// statement to find the comments awaited.
    async fn take_surveys<'b>(
        &mut self,
        tx: &mut dyn IngestTx,
        inbound: &'b [Inbound<'b>],
        now: DateTime<Utc>,
        report: &mut IngestReport,
    ) -> Result<Vec<&'b Inbound<'b>>, StoreError> {
        let taps = inbound.iter().any(|i| SurveyAnswer::of(&i.message.content).is_some());
        let mut texters = Vec::new();
        for i in inbound {
            if matches!(i.message.content, MessageContent::Text { .. }) {
                let asks = self.auto_replier.csat(self.store.as_ref(), i.channel).await?;
                if asks.is_some_and(|s| s.follow_up().is_some()) {
                    texters.push(&i.contact.wa_id);
                }
            }
        }
        let awaited = if texters.is_empty() { Vec::new() } else { tx.csat_comments_awaited(&texters, now).await? };
        if !taps && awaited.is_empty() {
            return Ok(inbound.iter().collect());
        }
        // A consent keyword is never a survey's comment: STOP opts out.
        let consent = self.auto_replier.consent(self.store.as_ref()).await?;
        let mut rest = Vec::with_capacity(inbound.len());
        for i in inbound {
            let msg = i.message;
            if let Some(answer) = SurveyAnswer::of(&msg.content) {
                let tap = Tap {
                    wa_id: &i.contact.wa_id,
                    input: CsatAnswerIn {
                        event_id: i.event.id,
                        channel: i.channel,
                        wa_id: &i.contact.wa_id,
                        message: msg,
                        received_at: i.event.received_at,
                        answer,
                    },
                };
                let settings = self.auto_replier.csat(self.store.as_ref(), i.channel).await?;
                if let Some(queued) = record_answer(self.store.as_ref(), tx, &tap, settings.as_deref(), now).await? {
                    report.messages += 1;
                    report.auto_replies += queued;
                    continue;
                }
            } else if matches!(msg.content, MessageContent::Text { .. })
                && awaited.iter().any(|(c, w)| *c == i.channel && *w == i.contact.wa_id)
                && consent.1.of(&msg.content).is_none()
            {
                let comment = CsatCommentIn {
                    event_id: i.event.id,
                    channel: i.channel,
                    wa_id: &i.contact.wa_id,
                    message: msg,
                    received_at: i.event.received_at,
                };
                if let Some(conversation) = tx.record_csat_comment(&comment).await? {
                    tracing::info!(%conversation, wamid = %msg.wamid, "satisfaction comment recorded");
                    report.messages += 1;
                    continue;
                }
            }
            rest.push(i);
        }
        Ok(rest)
    }

    async fn channel(&mut self, id: &PhoneNumberId) -> Result<Option<KnownChannel>, StoreError> {
        if let Some(c) = self.channels.get(id) {
            return Ok(Some(*c));
        }
        self.channels = self
            .store
            .channel_records()
            .await?
            .into_iter()
            .map(|c| {
                let known =
                    KnownChannel { id: c.id, enabled: c.enabled, has_display_number: c.display_phone_number.is_some() };
                (c.phone_number_id, known)
            })
            .collect();
        Ok(self.channels.get(id).copied())
    }

    /// Notes the display number of a webhook's `metadata` for a channel that has none.
    fn learn_display_number(&mut self, m: &MessagesChange) {
        let Some(known) = self.channels.get_mut(&m.phone_number_id) else { return };
        if known.has_display_number {
            return;
        }
        // Meta sends the digits with the country code, without `+`.
        let international = |d: &str| if d.trim_start().starts_with('+') { d.to_owned() } else { format!("+{d}") };
        let parsed = m.display_phone_number.as_deref().map(|d| PhoneNumber::parse(&international(d), None));
        let Some(Ok(phone)) = parsed else {
            return;
        };
        known.has_display_number = true;
        self.learned.push((m.phone_number_id.clone(), phone));
    }

    /// Applies what the batch just committed carried beside messages: template webhooks'
    /// changes, and display numbers learned (only where the channel still has none). A
    /// failure is logged: the next synchronisation or delivery corrects it.
    async fn apply_after_commit(&mut self) {
        let now = Utc::now();
        for update in std::mem::take(&mut self.template_updates) {
            match self.store.apply_template_update(&update, now).await {
                Ok(n) => {
                    tracing::info!(template_id = ?update.template_id, status = ?update.status, quality = ?update.quality, category = ?update.category, templates = n, "template webhook applied")
                }
                Err(e) => {
                    tracing::warn!(template_id = ?update.template_id, error = %e, "a template webhook could not be applied; the next synchronisation corrects it")
                }
            }
        }
        for (id, phone) in std::mem::take(&mut self.learned) {
            match self.store.learn_display_phone_number(&id, &phone).await {
                Ok(true) => tracing::info!(phone_number_id = %id, "channel's display number learned from a webhook"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(phone_number_id = %id, error = %e, "the display number could not be recorded");
                    self.channels.remove(&id);
                }
            }
        }
    }
}
