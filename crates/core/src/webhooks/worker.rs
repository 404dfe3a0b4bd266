//! The outgoing-webhook worker: fans recorded events out into messages and delivery
//! jobs, then delivers due jobs (Standard Webhooks headers, the retry schedule,
//! `Retry-After`, 410 disables, days of failures disable).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use switchboard_domain::{WebhookEventType, WebhookMessageId, address_allowed, retry_delay};
use switchboard_store::{
    EndpointHealth, NewWebhookMessage, Store, WebhookAttempt, WebhookFanout, WebhookJob, WebhookJobOutcome,
};
use tokio_util::sync::CancellationToken;

use super::payload;
use super::signature::signature_header;
use super::{WebhookOptions, open_secret};
use crate::auth::SecretKey;

/// How many characters of an answer the log keeps.
pub const RESPONSE_SNIPPET_CHARS: usize = 500;

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookReport {
    /// Events turned into messages.
    pub fanned_out: usize,
    /// Attempts made.
    pub attempted: usize,
    pub delivered: usize,
    pub failed_attempts: usize,
}

/// Resolves host names for deliveries and refuses addresses that are not public unless
/// allowed, so a name cannot point a delivery at the internal network (checked at every
/// connection, after resolution: no window for DNS rebinding).
struct GuardedResolver {
    allowed: Arc<[IpAddr]>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = Arc::clone(&self.allowed);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = addrs.into_iter().filter(|a| address_allowed(a.ip(), &allowed)).collect();
            if ok.is_empty() {
                return Err("the host resolves only to loopback, private or link-local addresses".into());
            }
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

pub struct WebhookWorker {
    store: Arc<dyn Store>,
    key: Arc<SecretKey>,
    client: reqwest::Client,
    opts: WebhookOptions,
}

impl WebhookWorker {
    pub fn new(store: Arc<dyn Store>, key: Arc<SecretKey>, opts: WebhookOptions) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { allowed: opts.allowed_private_addresses.clone().into() }))
            // A redirect could lead anywhere (and Standard Webhooks counts it as a failure).
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .timeout(opts.timeout)
            .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { store, key, client, opts })
    }

    /// Turns the events recorded since the last fan-out into messages and deliveries
    /// (one batch); returns how many events and contact changes it consumed. While no
    /// endpoint is enabled it reads no events and writes only to drop contact changes.
    pub async fn fan_out_once(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let batch = self.store.webhook_fanout_batch(self.opts.batch_size).await?;
        let consumed = batch.events.len() + batch.contact_changes.len();
        if consumed == 0 {
            return Ok(0);
        }
        let mut messages = Vec::new();
        if !batch.endpoints.is_empty() {
            // Only what some endpoint subscribes to is read and built.
            let wanted = |t: WebhookEventType| batch.endpoints.iter().any(|e| t.matches(&e.event_types));
            let events: Vec<_> =
                batch.events.iter().filter(|e| payload::event_type_of(e.kind).is_some_and(wanted)).collect();
            let changes: Vec<_> =
                batch.contact_changes.iter().filter(|c| wanted(payload::contact_change_type(c.kind))).collect();
            let rows = payload::Rows::fetch(self.store.as_ref(), &events, &changes).await?;
            let mut sources = Vec::with_capacity(events.len() + changes.len());
            for e in events {
                if let Some((t, body)) = payload::for_inbox_event(self.store.as_ref(), &rows, e).await? {
                    sources.push((t, body, *e.conversation_id.as_uuid()));
                }
            }
            for c in changes {
                if let Some((t, body)) = payload::for_contact_change(self.store.as_ref(), &rows, c).await? {
                    sources.push((t, body, *c.contact_id.as_uuid()));
                }
            }
            for (event_type, payload, key) in sources {
                let endpoints: Vec<_> =
                    batch.endpoints.iter().filter(|e| event_type.matches(&e.event_types)).map(|e| e.id).collect();
                messages.push(NewWebhookMessage {
                    id: WebhookMessageId::new(),
                    event_type,
                    payload,
                    order_key: Some(key),
                    endpoints,
                });
            }
        }
        let fanout = WebhookFanout {
            generation: batch.generation,
            cursor: batch.events.last().map_or(batch.cursor, |e| e.id),
            contact_changes: batch.contact_changes.iter().map(|c| c.id).collect(),
            messages,
            at: now,
        };
        if !self.store.commit_webhook_fanout(&fanout).await? {
            // Another instance fanned these out first.
            return Ok(0);
        }
        Ok(consumed)
    }

    /// Claims due deliveries (one batch) and makes their attempts: endpoints side by
    /// side; within an endpoint, those about one conversation (or contact) one after the
    /// other in order, the others side by side, up to `requests_per_endpoint` at once.
    pub async fn deliver_once(&self, now: DateTime<Utc>) -> anyhow::Result<WebhookReport> {
        let lease = now + chrono::Duration::from_std(self.opts.lease)?;
        let jobs = self.store.claim_webhook_deliveries(now, lease, self.opts.batch_size).await?;
        let mut endpoints: Vec<Vec<Vec<WebhookJob>>> = Vec::new();
        for job in jobs {
            let Some(lanes) = endpoints.iter_mut().find(|lanes| lanes[0][0].endpoint.id == job.endpoint.id) else {
                endpoints.push(vec![vec![job]]);
                continue;
            };
            match lanes.iter_mut().find(|lane| lane[0].order_key == job.order_key) {
                Some(lane) => lane.push(job),
                None => lanes.push(vec![job]),
            }
        }
        let reports: Vec<anyhow::Result<WebhookReport>> = futures_util::stream::iter(endpoints)
            .map(|lanes| async move {
                let done: Vec<anyhow::Result<Vec<WebhookAttempt>>> = futures_util::stream::iter(lanes)
                    .map(|lane| async move {
                        let mut attempts = Vec::with_capacity(lane.len());
                        for job in lane {
                            attempts.push(self.attempt(job, now).await?);
                        }
                        Ok(attempts)
                    })
                    .buffer_unordered(self.opts.requests_per_endpoint.max(1))
                    .collect()
                    .await;
                let mut attempts = Vec::new();
                for lane in done {
                    attempts.extend(lane?);
                }
                attempts.sort_by_key(|a| a.delivery_id);
                let mut r = WebhookReport { attempted: attempts.len(), ..WebhookReport::default() };
                r.delivered = attempts.iter().filter(|a| a.outcome == WebhookJobOutcome::Delivered).count();
                r.failed_attempts = r.attempted - r.delivered;
                // One transaction for the endpoint's log and outcomes: a commit (an
                // fsync) per batch, not per delivery. A crash before it leaves the jobs
                // leased; they are sent again when the lease runs out (at least once).
                self.store.record_webhook_attempts(&attempts).await?;
                Ok(r)
            })
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await;
        let mut total = WebhookReport::default();
        for r in reports {
            let r = r?;
            total.attempted += r.attempted;
            total.delivered += r.delivered;
            total.failed_attempts += r.failed_attempts;
        }
        Ok(total)
    }

    /// One attempt, to be recorded.
    async fn attempt(&self, job: WebhookJob, now: DateTime<Utc>) -> anyhow::Result<WebhookAttempt> {
        let webhook_id = job.message_id.webhook_id();
        let mut keys = vec![open_secret(&self.key, &job.endpoint.id, &job.endpoint.secret)?];
        if let Some((previous, until)) = &job.endpoint.previous_secret
            && *until > Utc::now()
        {
            keys.push(open_secret(&self.key, &job.endpoint.id, previous)?);
        }
        let timestamp = Utc::now().timestamp();
        let signature =
            signature_header(keys.iter().map(Vec::as_slice), &webhook_id, timestamp, job.payload.as_bytes());
        let started = Instant::now();
        let literal_refused =
            job.endpoint.url.ip().is_some_and(|ip| !address_allowed(ip, &self.opts.allowed_private_addresses));
        let result = if literal_refused {
            Err("the address is loopback, private or link-local".to_owned())
        } else {
            match self
                .client
                .post(job.endpoint.url.as_str())
                .header("content-type", "application/json")
                .header("webhook-id", &webhook_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(job.payload.clone())
                .send()
                .await
            {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let retry_after = res
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, Utc::now()));
                    let snippet = snippet(res).await;
                    Ok((status, retry_after, snippet))
                }
                Err(e) => Err(describe(&e)),
            }
        };
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status, response, error, delivered, gone, retry_after) = match result {
            Ok((status, retry_after, snippet)) => {
                let ok = (200..300).contains(&status);
                (Some(status), snippet, None, ok, status == 410, retry_after)
            }
            Err(e) => (None, None, Some(e), false, false, None),
        };
        let (outcome, health) = if delivered {
            (WebhookJobOutcome::Delivered, EndpointHealth::Healthy)
        } else if gone {
            (WebhookJobOutcome::Failed, EndpointHealth::Disable { reason: "the endpoint answered 410 Gone".to_owned() })
        } else {
            let outcome = match retry_delay(job.attempt) {
                Some(delay) => {
                    let delay = retry_after.unwrap_or(delay).min(MAX_RETRY_AFTER);
                    WebhookJobOutcome::Retry(now + chrono::Duration::from_std(delay)?)
                }
                None => WebhookJobOutcome::Failed,
            };
            let since = job.endpoint.failing_since.unwrap_or(now);
            let health = if now.signed_duration_since(since).to_std().unwrap_or_default() >= self.opts.disable_after {
                EndpointHealth::Disable {
                    reason: format!(
                        "every delivery failed since {} ({} days or more)",
                        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        self.opts.disable_after.as_secs() / 86_400
                    ),
                }
            } else {
                EndpointHealth::Failing { since: now }
            };
            (outcome, health)
        };
        if let EndpointHealth::Disable { reason } = &health {
            tracing::warn!(endpoint_id = %job.endpoint.id, %reason, "outgoing webhook endpoint disabled");
        }
        tracing::debug!(endpoint_id = %job.endpoint.id, webhook_id, attempt = job.attempt, ?status, delivered,
            "outgoing webhook attempt");
        Ok(WebhookAttempt {
            delivery_id: job.delivery_id,
            endpoint_id: job.endpoint.id,
            lease: job.lease,
            at: now,
            status,
            latency_ms,
            response,
            error,
            outcome,
            health,
        })
    }

    /// Fans out and delivers until nothing is left that is due at `now`.
    pub async fn run_until_idle(&self, now: DateTime<Utc>) -> anyhow::Result<WebhookReport> {
        let mut total = WebhookReport::default();
        loop {
            let fanned = self.fan_out_once(now).await?;
            let r = self.deliver_once(now).await?;
            total.fanned_out += fanned;
            total.attempted += r.attempted;
            total.delivered += r.delivered;
            total.failed_attempts += r.failed_attempts;
            if fanned == 0 && r.attempted == 0 {
                return Ok(total);
            }
        }
    }

    /// One fan-out and one delivery step; whether either had a full batch (more may
    /// be waiting).
    async fn round(&self, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let started = Instant::now();
        let fanned = self.fan_out_once(now).await?;
        let fan_out_took = started.elapsed();
        let r = self.deliver_once(now).await?;
        tracing::debug!(fanned, ?fan_out_took, attempted = r.attempted, took = ?started.elapsed(), "outgoing webhook round");
        let full = self.opts.batch_size as usize;
        Ok(fanned >= full || r.attempted >= full)
    }

    /// Runs until `stop`: woken by every commit that records inbox events (and at least
    /// every poll interval, for contact changes and retries that came due). Full rounds
    /// follow each other at once; after any other it lingers ([`WebhookOptions::linger`])
    /// before the next, so that under load a round carries a batch, not an event or two.
    pub async fn run_until_stopped(self, stop: CancellationToken) {
        let mut wakeups = match self.store.inbox_wakeups().await {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "outgoing webhooks: no wake-ups, polling only");
                None
            }
        };
        while !stop.is_cancelled() {
            match self.round(Utc::now()).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "outgoing webhook step failed");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = stop.cancelled() => break,
                    }
                }
            }
            let woken = async {
                match wakeups.as_mut() {
                    Some(w) => {
                        if w.wait().await.is_err() {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(self.opts.poll_interval) => {}
                () = stop.cancelled() => break,
            }
            if !self.opts.linger.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(self.opts.linger) => {}
                    () = stop.cancelled() => break,
                }
            }
        }
        tracing::debug!("outgoing webhook worker stopped");
    }
}

/// The longest `Retry-After` followed.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some(at.signed_duration_since(now).to_std().unwrap_or_default())
}

/// The answer's first characters (the body read up to a few KiB).
async fn snippet(mut res: reqwest::Response) -> Option<String> {
    let mut buf = Vec::new();
    while buf.len() < RESPONSE_SNIPPET_CHARS * 4 {
        match res.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    if buf.is_empty() {
        return None;
    }
    Some(String::from_utf8_lossy(&buf).chars().take(RESPONSE_SNIPPET_CHARS).collect())
}

/// Why a request failed, without the URL (it may carry the receiver's token).
fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-12-08T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Tue, 08 Dec 2026 10:01:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
