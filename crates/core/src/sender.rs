//! The sender: takes jobs from the outbox and delivers them through the Graph API (or
//! the sandbox), respecting Meta's limits, retrying what can be retried and recording
//! why what cannot be sent failed.
//!
//! Guarantees and their limits:
//! - A job is leased while it is being sent; a sender that dies loses its lease and the
//!   job is claimed again when the lease expires.
//! - One conversation's messages go out in the order they were queued: the claim only
//!   offers the oldest unsent job of each conversation, and a job waiting to be retried
//!   holds back the ones behind it.
//! - Every request carries the message's id in `biz_opaque_callback_data`, which Meta
//!   echoes in the message's status webhooks. A send whose outcome was never recorded
//!   (the process died after the request was written) is recognised by its status and
//!   recorded from it, by whichever instance applies the status; a job whose lease ran
//!   out waits `reconcile_grace` more before another sender claims it, for that status.
//!   Only if Meta accepted the message and sent no status within the lease and the grace
//!   is it sent again: delivery stays at least once, never at most once.
//! - A sender holding a job whose lease ran out (it waited too long for the throughput
//!   limiter) does not send it; an outcome carries its claim's lease, and a late one is
//!   ignored if the job was claimed again meanwhile.
//! - Outcomes are committed as they come, the ones that finished while the previous
//!   commit ran together in one transaction. An outcome that cannot be recorded (a
//!   poison result: Meta answered with a wamid another message has) is isolated: the
//!   group is recorded one by one, and the job of the one that fails is marked failed
//!   with the reason, so it costs that message, not the others.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use switchboard_cloudapi::{ErrorClass, GraphClient, GraphError, SendResponse, TransportKind, tag_request};
use switchboard_domain::message::StatusError;
use switchboard_domain::{PhoneNumberId, WaId, Wamid};
use switchboard_store::{Lease, OutboxJob, SendOutcome, SendResult, Store, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::channels::ChannelDirectory;
use crate::wake::Wake;

/// The code recorded on a message (and its outbox job) withheld because its contact
/// opted out: not Meta's (theirs are positive).
pub const OPTED_OUT_ERROR_CODE: i64 = -2;

/// Why a message queued before its contact opted out was not sent.
fn opted_out_error() -> StatusError {
    StatusError {
        code: OPTED_OUT_ERROR_CODE,
        title: "Not sent: the contact opted out".into(),
        details: Some(
            "opted_out: automatic messages and templates are not sent to a contact who opted out; \
             it was queued before they did."
                .into(),
        ),
        href: None,
    }
}

/// Where messages go: Meta's Graph API, or the local sandbox.
#[async_trait]
pub trait Transport: Send + Sync {
    async fn send(&self, from: &PhoneNumberId, request: &Value) -> Result<SendResponse, GraphError>;
}

#[async_trait]
impl Transport for GraphClient {
    async fn send(&self, from: &PhoneNumberId, request: &Value) -> Result<SendResponse, GraphError> {
        self.send_json(from, request).await
    }
}

/// Answers like Meta without sending anything, so Switchboard can be tried with no Meta
/// account (`whatsapp.sandbox`, or no access token). The message is recorded as sent,
/// with a `wamid.sandbox.…` id, in its conversation like any other.
#[derive(Default)]
pub struct Sandbox;

#[async_trait]
impl Transport for Sandbox {
    async fn send(&self, from: &PhoneNumberId, request: &Value) -> Result<SendResponse, GraphError> {
        let wamid =
            Wamid::parse(&format!("wamid.sandbox.{}", uuid_like())).map_err(|e| GraphError::Decode(e.to_string()))?;
        let wa_id = request.get("to").and_then(Value::as_str).and_then(|t| WaId::parse(t).ok());
        tracing::info!(phone_number_id = %from, %wamid, "sandbox: message recorded, not sent to WhatsApp");
        Ok(SendResponse { wamid, wa_id })
    }
}

fn uuid_like() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Clone, Copy, Debug)]
pub struct SenderOptions {
    /// Jobs claimed per step.
    pub batch_size: u32,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// How long a claimed job is leased: its sender does not start sending it later.
    pub lease: Duration,
    /// How much longer another sender waits before claiming a job whose lease ran out
    /// (its sender may have died after Meta accepted it): the time its status webhook
    /// has to arrive and complete it. Also the least wait before retrying a request
    /// that may have reached Meta (it timed out).
    pub reconcile_grace: Duration,
    /// Attempts before a job becomes a dead letter.
    pub max_attempts: u32,
    /// Age after which a job that still fails becomes a dead letter.
    pub max_age: Duration,
    /// First retry delay; doubles each attempt (with jitter) up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Messages per second per business number; 0 = no limit.
    pub throughput_per_second: u32,
    /// Messages per minute to one recipient from one number (Meta's pair rate).
    pub pair_per_minute: u32,
    /// How long a channel pauses after a configuration error (expired token…).
    pub pause_on_config_error: Duration,
    /// How often to look for due jobs when not woken.
    pub poll_interval: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            batch_size: 128,
            concurrency: 64,
            lease: Duration::from_secs(60),
            reconcile_grace: Duration::from_secs(30),
            max_attempts: 10,
            max_age: Duration::from_secs(24 * 3600),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(300),
            throughput_per_second: 80,
            pair_per_minute: 10,
            pause_on_config_error: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Why a channel's sending is paused, for `/readyz` and the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    pub reason: String,
    pub code: Option<i64>,
    pub until: DateTime<Utc>,
}

/// Channel pauses, shared between the sender and the HTTP layer.
#[derive(Default)]
pub struct SendHealth {
    paused: Mutex<HashMap<PhoneNumberId, Pause>>,
}

impl SendHealth {
    /// Channels paused at `now`.
    #[must_use]
    pub fn paused(&self, now: DateTime<Utc>) -> Vec<(PhoneNumberId, Pause)> {
        self.paused
            .lock()
            .map(|m| m.iter().filter(|(_, p)| p.until > now).map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn pause(&self, id: &PhoneNumberId, pause: Pause) {
        if let Ok(mut m) = self.paused.lock() {
            m.insert(id.clone(), pause);
        }
    }

    fn resume(&self, id: &PhoneNumberId) {
        if let Ok(mut m) = self.paused.lock() {
            m.remove(id);
        }
    }

    fn pause_of(&self, id: &PhoneNumberId, now: DateTime<Utc>) -> Option<Pause> {
        self.paused.lock().ok().and_then(|m| m.get(id).filter(|p| p.until > now).cloned())
    }
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

impl SendReport {
    fn count(&mut self, results: &[SendResult]) {
        for r in results {
            match r.outcome {
                SendOutcome::Sent { .. } => self.sent += 1,
                SendOutcome::Retry { .. } => self.retried += 1,
                SendOutcome::Failed { .. } => self.failed += 1,
            }
        }
    }
}

pub struct Sender {
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    health: Arc<SendHealth>,
    opts: SenderOptions,
    throughput: Option<DefaultKeyedRateLimiter<PhoneNumberId>>,
    pair: Option<DefaultKeyedRateLimiter<(PhoneNumberId, WaId)>>,
    /// The channels' own throughput tiers (when set, they replace `throughput`).
    channels: Option<Arc<ChannelDirectory>>,
    tiers: Mutex<HashMap<PhoneNumberId, (u32, Arc<DefaultDirectRateLimiter>)>>,
}

/// A limiter of `n` messages a second with a tenth of a second of burst: smooth, and
/// within a few percent of the rate over any window longer than a second.
fn per_second(n: NonZeroU32) -> Quota {
    let burst = NonZeroU32::new((n.get() / 10).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(n).allow_burst(burst)
}

impl Sender {
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        transport: Arc<dyn Transport>,
        health: Arc<SendHealth>,
        opts: SenderOptions,
    ) -> Self {
        let throughput = NonZeroU32::new(opts.throughput_per_second).map(|n| RateLimiter::keyed(per_second(n)));
        let pair = NonZeroU32::new(opts.pair_per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self { store, transport, health, opts, throughput, pair, channels: None, tiers: Mutex::new(HashMap::new()) }
    }

    /// Limits each channel that has a throughput tier to it (instead of
    /// `throughput_per_second`).
    #[must_use]
    pub fn with_channels(mut self, channels: Arc<ChannelDirectory>) -> Self {
        self.channels = Some(channels);
        self
    }

    /// The limiter of a channel's own tier, if it has one.
    fn tier(&self, id: &PhoneNumberId) -> Option<Arc<DefaultDirectRateLimiter>> {
        let n = self.channels.as_ref()?.entry(id)?.throughput_per_second.and_then(NonZeroU32::new)?;
        let mut tiers = self.tiers.lock().ok()?;
        match tiers.get(id) {
            Some((rate, limiter)) if *rate == n.get() => Some(Arc::clone(limiter)),
            _ => {
                let limiter = Arc::new(RateLimiter::direct(per_second(n)));
                tiers.insert(id.clone(), (n.get(), Arc::clone(&limiter)));
                Some(limiter)
            }
        }
    }

    /// Claims due jobs, sends them (up to `concurrency` at once) and records the outcomes.
    pub async fn run_once(&self) -> Result<SendReport, StoreError> {
        let now = Utc::now();
        let lease = now + to_chrono(self.opts.lease);
        let grace = to_chrono(self.opts.reconcile_grace);
        let jobs = self.store.claim_outbox_reconciling(self.claim_size(), now, lease, grace).await?;
        self.deliver(jobs).await
    }

    /// A hand-off for this sender's options: the ingest worker leases at most a batch
    /// ahead of it, so a handed job is sent well within its lease.
    #[must_use]
    pub fn handoff(&self) -> (Handoff, Handed) {
        let (tx, rx) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let handoff = Handoff {
            jobs: tx,
            waiting: Arc::clone(&waiting),
            capacity: self.claim_size() as usize,
            lease: self.opts.lease,
        };
        (handoff, Handed { jobs: rx, waiting, lease: self.opts.lease })
    }

    /// Sends leased jobs (up to `concurrency` at once) and records the outcomes as they
    /// come: those that finish while a commit runs go into the next one. Fails (after
    /// sending them all) if an outcome could not be recorded for want of the database.
    async fn deliver(&self, jobs: Vec<OutboxJob>) -> Result<SendReport, StoreError> {
        if jobs.is_empty() {
            return Ok(SendReport::default());
        }
        let mut report = SendReport { claimed: jobs.len(), ..SendReport::default() };
        let mut sends = futures_util::stream::iter(jobs)
            .map(|job| self.send_one(job))
            .buffer_unordered(self.opts.concurrency.max(1));
        let mut sending = true;
        let mut done: Vec<SendResult> = Vec::new();
        let mut recording: Option<BoxFuture<'_, Result<(), StoreError>>> = None;
        let mut failure = None;
        loop {
            if recording.is_none() && !done.is_empty() {
                let results = std::mem::take(&mut done);
                report.count(&results);
                recording = Some(Box::pin(self.record(results)));
            }
            let recorded = match (sending, recording.as_mut()) {
                (false, None) => break,
                (true, None) => None,
                (false, Some(commit)) => Some(commit.await),
                (true, Some(commit)) => tokio::select! {
                    r = commit => Some(r),
                    next = sends.next() => {
                        match next {
                            Some(result) => done.push(result),
                            None => sending = false,
                        }
                        continue;
                    }
                },
            };
            match recorded {
                Some(r) => {
                    recording = None;
                    if let Err(e) = r {
                        failure.get_or_insert(e);
                    }
                }
                None => match sends.next().await {
                    Some(result) => done.push(result),
                    None => sending = false,
                },
            }
        }
        metrics::counter!("switchboard_sends_total", "outcome" => "sent").increment(report.sent as u64);
        metrics::counter!("switchboard_sends_total", "outcome" => "retry").increment(report.retried as u64);
        metrics::counter!("switchboard_sends_total", "outcome" => "failed").increment(report.failed as u64);
        if let Some(l) = &self.pair {
            l.retain_recent();
        }
        failure.map_or(Ok(report), Err)
    }

    /// Records outcomes in one transaction; if that fails for anything but the database
    /// being unavailable, one by one, so that a poison result costs only its own
    /// message ([`quarantine`](Self::quarantine)). Unrecorded outcomes are not lost:
    /// their leases run out, and a send Meta accepted is recorded from its status.
    async fn record(&self, results: Vec<SendResult>) -> Result<(), StoreError> {
        let at = Utc::now();
        match self.store.complete_outbox(&results, at).await {
            Ok(()) => return Ok(()),
            Err(e @ StoreError::Unavailable(_)) => return Err(e),
            Err(e) if results.len() > 1 => {
                tracing::warn!(error = %e, outcomes = results.len(), "recording send outcomes failed; recording them one by one");
            }
            Err(_) => {}
        }
        for r in &results {
            match self.store.complete_outbox(std::slice::from_ref(r), at).await {
                Ok(()) => {}
                Err(e @ StoreError::Unavailable(_)) => return Err(e),
                Err(e) => match self.quarantine(r, &e).await {
                    Ok(()) => {}
                    Err(e @ StoreError::Unavailable(_)) => return Err(e),
                    // Nothing else stops for it: its lease and the grace run out.
                    Err(e) => {
                        tracing::error!(job = r.job_id.get(), error = %e, "the job cannot be marked failed either")
                    }
                },
            }
        }
        Ok(())
    }

    /// An outcome that cannot be recorded: its job fails for good (an admin can requeue
    /// it), with the reason on the job and the message, so that it is neither retried
    /// blindly nor holds up anything else; alerts through the log and
    /// `switchboard_sends_unrecorded_total`.
    async fn quarantine(&self, r: &SendResult, e: &StoreError) -> Result<(), StoreError> {
        tracing::error!(job = r.job_id.get(), message_id = %r.message_id, error = %e, source = ?std::error::Error::source(e),
            "a send outcome cannot be recorded; its job is marked failed");
        metrics::counter!("switchboard_sends_unrecorded_total").increment(1);
        let details = match &r.outcome {
            SendOutcome::Sent { wamid } => {
                format!(
                    "WhatsApp accepted the message as {wamid}, but recording that failed ({e}); it is not sent again."
                )
            }
            SendOutcome::Retry { .. } | SendOutcome::Failed { .. } => format!("Recording the send failed ({e})."),
        };
        let error = StatusError {
            code: -1,
            title: "The send could not be recorded".into(),
            details: Some(details),
            href: None,
        };
        let failed = SendResult { outcome: SendOutcome::Failed { error, dead: false }, ..r.clone() };
        self.store.complete_outbox(std::slice::from_ref(&failed), Utc::now()).await
    }

    /// How many jobs to claim: never more than the throughput limit lets us send within
    /// half a lease, so a claimed job is not leased out again while it waits its turn.
    fn claim_size(&self) -> u32 {
        match self.opts.throughput_per_second {
            0 => self.opts.batch_size,
            rate => {
                let half_lease = u32::try_from(self.opts.lease.as_secs() / 2).unwrap_or(u32::MAX).max(1);
                self.opts.batch_size.min(rate.saturating_mul(half_lease)).max(1)
            }
        }
    }

    /// Steps until nothing is due. For tests and the benchmark.
    pub async fn run_until_idle(&self) -> Result<SendReport, StoreError> {
        let mut total = SendReport::default();
        loop {
            let r = self.run_once().await?;
            if r.claimed == 0 {
                return Ok(total);
            }
            total.claimed += r.claimed;
            total.sent += r.sent;
            total.retried += r.retried;
            total.failed += r.failed;
        }
    }

    /// Runs until `cancel`: sends the jobs `handed` over as soon as they come, and claims
    /// when woken through `wake` ([`Wake::outbox`]), after a claim that found jobs, and every poll interval.
    /// When both have work they take turns, so neither starves the other.
    pub async fn run_until_stopped(self, wake: Wake, mut handed: Option<Handed>, cancel: CancellationToken) {
        let limit = self.claim_size() as usize;
        let mut backoff = Duration::from_millis(100);
        let mut batch = Vec::with_capacity(limit);
        let mut claim = true;
        let mut claimed_at = tokio::time::Instant::now();
        let mut claim_next = false;
        loop {
            if cancel.is_cancelled() {
                break;
            }
            if let Some(h) = &mut handed {
                h.take(&mut batch, limit);
            }
            if !claim {
                claim = claimed_at.elapsed() >= self.opts.poll_interval || wake.outbox_woken().now_or_never().is_some();
            }
            let step = if claim && (batch.is_empty() || claim_next) {
                claimed_at = tokio::time::Instant::now();
                claim_next = false;
                self.run_once().await.inspect(|r| claim = r.claimed > 0)
            } else if !batch.is_empty() {
                claim_next = true;
                self.deliver(std::mem::take(&mut batch)).await
            } else {
                tokio::select! {
                    open = wait_handed(handed.as_mut(), &mut batch, limit) => if !open { handed = None },
                    () = wake.outbox_woken() => claim = true,
                    () = tokio::time::sleep_until(claimed_at + self.opts.poll_interval) => claim = true,
                    () = cancel.cancelled() => break,
                }
                continue;
            };
            match step {
                Ok(_) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::error!(error = %e, source = ?std::error::Error::source(&e), retry_in = ?backoff, "sender failed");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = cancel.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    claim = true;
                }
            }
        }
        if let Some(mut h) = handed {
            batch.extend(h.close());
        }
        release(self.store.as_ref(), &batch).await;
        tracing::debug!("sender stopped");
    }

    async fn send_one(&self, mut job: OutboxJob) -> SendResult {
        let outcome = self.attempt(&mut job).await;
        SendResult::of(&job, outcome)
    }

    async fn attempt(&self, job: &mut OutboxJob) -> SendOutcome {
        if job.withheld {
            tracing::info!(message_id = %job.message_id, "not sent: the contact opted out");
            metrics::counter!("switchboard_sends_withheld_total").increment(1);
            return SendOutcome::Failed { error: opted_out_error(), dead: false };
        }
        let now = Utc::now();
        if let Some(p) = self.health.pause_of(&job.phone_number_id, now) {
            return SendOutcome::Retry { run_at: p.until, error: format!("sending paused: {}", p.reason) };
        }
        if let Some(pair) = &self.pair
            && let Err(not_until) = pair.check_key(&(job.phone_number_id.clone(), job.to.clone()))
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return SendOutcome::Retry {
                run_at: now + to_chrono(wait),
                error: "pair rate limit: waiting before the next message to this customer".into(),
            };
        }
        if let Some(tier) = self.tier(&job.phone_number_id) {
            tier.until_ready().await;
        } else if let Some(t) = &self.throughput {
            t.until_key_ready(&job.phone_number_id).await;
        }
        let now = Utc::now();
        if now >= job.leased_until {
            // Another sender may claim it once the grace runs out too: not sent here.
            tracing::warn!(message_id = %job.message_id, "lease ran out before sending; released");
            return SendOutcome::Retry { run_at: now, error: "not sent before its lease ran out".into() };
        }
        tag_request(&mut job.request, job.message_id);
        match self.transport.send(&job.phone_number_id, &job.request).await {
            Ok(res) => {
                tracing::debug!(message_id = %job.message_id, wamid = %res.wamid, "sent");
                metrics::histogram!("switchboard_send_latency_seconds")
                    .record((Utc::now() - job.created_at).as_seconds_f64().max(0.0));
                self.health.resume(&job.phone_number_id);
                SendOutcome::Sent { wamid: res.wamid }
            }
            Err(e) => self.on_error(job, &e, Utc::now()),
        }
    }

    fn on_error(&self, job: &OutboxJob, e: &GraphError, now: DateTime<Utc>) -> SendOutcome {
        let status = status_error(e);
        match e.class() {
            ErrorClass::Permanent => {
                tracing::warn!(message_id = %job.message_id, code = status.code, "message refused: {}", status.title);
                SendOutcome::Failed { error: status, dead: false }
            }
            ErrorClass::FixConfiguration => {
                let until = now + to_chrono(self.opts.pause_on_config_error);
                tracing::error!(phone_number_id = %job.phone_number_id, code = status.code, "sending paused until {until}: {}", status.title);
                self.health
                    .pause(&job.phone_number_id, Pause { reason: e.explanation(), code: Some(status.code), until });
                SendOutcome::Retry { run_at: until, error: e.explanation() }
            }
            ErrorClass::RetryLater { after } => {
                let age = (now - job.created_at).to_std().unwrap_or_default();
                if job.attempts >= self.opts.max_attempts || age >= self.opts.max_age {
                    tracing::warn!(message_id = %job.message_id, attempts = job.attempts, "retries used up; dead letter");
                    return SendOutcome::Failed { error: status, dead: true };
                }
                let mut delay =
                    backoff(self.opts.backoff_base, self.opts.backoff_cap, job.attempts).max(after.unwrap_or_default());
                if may_have_reached_meta(e) {
                    // Its status, if Meta took it, completes the job meanwhile.
                    delay = delay.max(self.opts.reconcile_grace);
                }
                tracing::info!(message_id = %job.message_id, attempts = job.attempts, retry_in = ?delay, "send failed; will retry");
                SendOutcome::Retry { run_at: now + to_chrono(delay), error: e.explanation() }
            }
        }
    }
}

/// The ingest worker's end of a hand-off: auto-reply jobs it queued already leased to
/// this process's sender (`IngestTx::enqueue_auto_replies_leasing`), given to the sender
/// once committed, so that they are sent without being claimed. A job the sender never
/// reports on (the process died) is claimed by any sender once its lease runs out.
#[derive(Clone, Debug)]
pub struct Handoff {
    jobs: mpsc::UnboundedSender<OutboxJob>,
    /// Jobs given and not yet taken by the sender.
    waiting: Arc<AtomicUsize>,
    /// Most jobs waiting at once: a sender's batch.
    capacity: usize,
    lease: Duration,
}

impl Handoff {
    /// What may be leased at `now`, with `pending` jobs leased already and not yet given.
    #[must_use]
    pub fn lease(&self, now: DateTime<Utc>, pending: usize) -> Lease {
        let waiting = self.waiting.load(Ordering::Acquire) + pending;
        // Whole milliseconds, as both stores keep it: the lease is the claim's token.
        let until = now + to_chrono(self.lease);
        let until = DateTime::from_timestamp_millis(until.timestamp_millis()).unwrap_or(until);
        Lease { until, at_most: self.capacity.saturating_sub(waiting) }
    }

    /// Gives committed, leased jobs to the sender. Answers those it could not take: the
    /// sender has stopped (release them, see [`release`]).
    #[must_use]
    pub fn give(&self, jobs: Vec<OutboxJob>) -> Vec<OutboxJob> {
        self.waiting.fetch_add(jobs.len(), Ordering::AcqRel);
        let mut left = Vec::new();
        for job in jobs {
            if let Err(mpsc::error::SendError(job)) = self.jobs.send(job) {
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                left.push(job);
            }
        }
        left
    }
}

/// The sender's end of a [`Handoff`].
#[derive(Debug)]
pub struct Handed {
    jobs: mpsc::UnboundedReceiver<OutboxJob>,
    waiting: Arc<AtomicUsize>,
    lease: Duration,
}

impl Handed {
    /// Takes what is waiting into `batch`, up to `limit` jobs, without waiting.
    fn take(&mut self, batch: &mut Vec<OutboxJob>, limit: usize) {
        while batch.len() < limit {
            let Ok(job) = self.jobs.try_recv() else { break };
            self.keep(job, batch);
        }
    }

    /// Waits for jobs, then takes them as [`take`](Self::take) does. False once every
    /// [`Handoff`] is gone.
    async fn recv(&mut self, batch: &mut Vec<OutboxJob>, limit: usize) -> bool {
        let Some(job) = self.jobs.recv().await else { return false };
        self.keep(job, batch);
        self.take(batch, limit);
        true
    }

    /// Stops taking jobs and answers those given and not taken yet.
    fn close(&mut self) -> Vec<OutboxJob> {
        self.jobs.close();
        let mut left = Vec::new();
        while let Ok(job) = self.jobs.try_recv() {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            left.push(job);
        }
        left
    }

    /// Keeps a taken job, unless it waited past half its lease (never, unless the
    /// process stalled): the claim takes it once the lease runs out, rather than risking
    /// a second send by another sender while this one still holds it.
    fn keep(&self, job: OutboxJob, batch: &mut Vec<OutboxJob>) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if Utc::now() - job.created_at > to_chrono(self.lease / 2) {
            tracing::warn!(message_id = %job.message_id, "a handed job waited too long; it is sent once its lease runs out");
            return;
        }
        batch.push(job);
    }
}

/// Gives leased jobs that were not sent back to the claim at once (the sender stopped
/// before sending them), rather than leaving them until their lease runs out. A failure
/// is logged: the leases then run out.
pub(crate) async fn release(store: &dyn Store, jobs: &[OutboxJob]) {
    if jobs.is_empty() {
        return;
    }
    let now = Utc::now();
    let results: Vec<SendResult> = jobs
        .iter()
        .map(|job| {
            SendResult::of(job, SendOutcome::Retry { run_at: now, error: "not sent before the sender stopped".into() })
        })
        .collect();
    match store.complete_outbox(&results, now).await {
        Ok(()) => tracing::info!(jobs = jobs.len(), "released jobs the sender did not send before stopping"),
        Err(e) => {
            tracing::warn!(error = %e, jobs = jobs.len(), "could not release unsent jobs; they are sent once their lease runs out");
        }
    }
}

async fn wait_handed(handed: Option<&mut Handed>, batch: &mut Vec<OutboxJob>, limit: usize) -> bool {
    match handed {
        Some(h) => h.recv(batch, limit).await,
        None => std::future::pending().await,
    }
}

/// Whether a failed request may still have reached Meta, and the message been sent: it
/// timed out or broke off once connected. Meta's own error answers, and failing to
/// connect, mean it was not sent.
fn may_have_reached_meta(e: &GraphError) -> bool {
    matches!(e, GraphError::Transport { kind: TransportKind::Timeout | TransportKind::Other, .. })
}

/// Meta's error as agents see it on the message.
fn status_error(e: &GraphError) -> StatusError {
    match e {
        GraphError::Api { code, title, details, .. } => StatusError {
            code: code.unwrap_or(-1),
            title: if title.is_empty() { e.explanation() } else { title.clone() },
            // The plain explanation for agents, with Meta's own details when it gave any.
            details: Some(match details {
                Some(d) if !d.is_empty() => format!("{} ({d})", e.explanation()),
                _ => e.explanation(),
            }),
            href: None,
        },
        _ => StatusError { code: -1, title: e.explanation(), details: None, href: None },
    }
}

/// Exponential backoff with ±20 % jitter: `base · 2^(attempt-1)`, capped.
#[must_use]
pub fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(cap);
    let jitter = 0.8 + 0.4 * rand::random::<f64>();
    exp.mul_f64(jitter).min(cap)
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(300);
        for attempt in 1..30 {
            let d = backoff(base, cap, attempt);
            assert!(d <= cap);
            let nominal = base.saturating_mul(1u32 << (attempt - 1).min(20)).min(cap);
            assert!(d >= nominal.mul_f64(0.79), "{attempt}: {d:?} vs {nominal:?}");
        }
        assert!(backoff(base, cap, 1) < Duration::from_secs(3));
    }
}
