//! `switchboard-loadgen sends`: the end-to-end send benchmark.
//!
//! 1. Opens `--conversations` conversations, one signed inbound webhook per new customer
//!    (timestamped now, so the 24-hour window is open), and waits until the API lists
//!    them all.
//! 2. Resets the mock Graph API (`mock-graph`).
//! 3. Queues `--messages` text replies round-robin over the conversations through
//!    `POST /api/v1/conversations/{id}/messages` with `--concurrency` requests in flight,
//!    measuring accepted replies per second and their latency. A conversation's next
//!    reply is queued only once its previous one was answered, so the order the server
//!    accepted them in is the order of their numbers.
//! 4. Polls the mock until it received every accepted reply (or `--timeout`), then
//!    reports the send rate measured at the mock, the total time, lost or duplicated
//!    sends per recipient, and sends that overtook an earlier one to the same recipient.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use futures_util::stream::{self, StreamExt as _};
use hdrhistogram::Histogram;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::duration::parse_duration;
use crate::http::{ClientKind, WebhookSender, classify};
use crate::mock_graph::Stats;
use crate::payload::{RunIdentity, WebhookBuilder};
use crate::stats::{LatencySummary, Outcome, new_histogram};
use crate::verify::{Api, Conversation, Fatal, Page};
use crate::webhooks::{parse_hex_u64, random_u64, unix_now};

const LIST_INTERVAL: Duration = Duration::from_millis(250);
const MOCK_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Webhooks in flight while opening conversations.
const SETUP_CONCURRENCY: usize = 32;

#[derive(Debug, Args)]
pub struct SendsArgs {
    /// Base URL of the server (webhooks and API).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// API bearer token (an agent's or admin's).
    #[arg(long, env = "SWITCHBOARD_API_TOKEN", hide_env_values = true)]
    pub token: String,

    /// Meta app secret used to sign the inbound webhooks.
    #[arg(long, env = "SWITCHBOARD_APP_SECRET", hide_env_values = true)]
    pub app_secret: String,

    /// phone_number_id put in the webhooks' metadata (the server's number).
    #[arg(long, env = "SWITCHBOARD_PHONE_NUMBER_ID", default_value = "100000000000001")]
    pub phone_number_id: String,

    /// WhatsApp Business Account id put in entry[].id.
    #[arg(long, default_value = "100000000000000")]
    pub waba_id: String,

    /// Base URL of `switchboard-loadgen mock-graph` (the server's graph.base_url).
    #[arg(long, default_value = "http://127.0.0.1:9900")]
    pub mock: String,

    /// Conversations (new customers) the replies are spread over, round-robin.
    #[arg(long, default_value_t = 200)]
    pub conversations: u64,

    /// Replies to queue in all.
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,

    /// Reply requests in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,

    /// How long to wait for the conversations to be listed, and, after the last reply
    /// was queued, for the mock to receive every send.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Per-request timeout (webhooks and replies).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Once every send arrived, wait this long for late duplicates before the last count.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub settle: Duration,

    /// Run id (hex) fixing this run's wa_ids and reply texts; random by default.
    #[arg(long, value_parser = parse_hex_u64)]
    pub run_id: Option<u64>,

    /// Print the summary as one JSON object on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,

    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The end-of-run report; `--json` prints exactly this.
#[derive(Debug, Serialize)]
pub struct SendsSummary {
    pub url: String,
    pub mock: String,
    pub run_id: String,
    pub wa_id_prefix: String,
    pub conversations: u64,
    pub messages: u64,
    pub concurrency: usize,
    pub interrupted: bool,
    pub setup: SetupReport,
    pub queue: QueueReport,
    pub delivery: DeliveryReport,
}

#[derive(Debug, Serialize)]
pub struct SetupReport {
    /// Posting the inbound webhooks.
    pub webhooks_s: f64,
    /// From the first webhook until the API listed every conversation.
    pub conversations_listed_s: f64,
}

#[derive(Debug, Serialize)]
pub struct QueueReport {
    /// Replies answered 202.
    pub accepted: u64,
    /// Other answers, by status code.
    pub rejected: BTreeMap<u16, u64>,
    /// No answer (connect, timeout, other).
    pub errors: BTreeMap<&'static str, u64>,
    /// The first rejection or error, for diagnosis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// From the first request to the last 202.
    pub elapsed_s: f64,
    pub accepted_per_s: f64,
    /// Latency of the 202s.
    pub latency_ms: LatencySummary,
}

#[derive(Debug, Serialize)]
pub struct DeliveryReport {
    /// `--messages`: what the mock must receive.
    pub expected: u64,
    /// Sends the mock received for this run's customers.
    pub received: u64,
    /// `received == expected`, and no recipient got more or fewer than was accepted
    /// for it.
    pub exact: bool,
    /// Accepted replies the mock never received (summed per recipient).
    pub missing: u64,
    /// Sends received beyond what was accepted (summed per recipient): duplicates.
    pub duplicates: u64,
    /// Sends received after a later reply to the same recipient.
    pub out_of_order: u64,
    /// Sends the mock received for anyone else since the reset (another run's retries…).
    pub foreign: u64,
    /// 500s the mock injected (`--fail-rate`); the server is expected to retry them.
    pub injected_failures: u64,
    /// Mark-as-read requests the mock received.
    pub read: u64,
    /// Received sends per second from the first to the last one received.
    pub sends_per_s: f64,
    /// The median of the per-second series, first and last (partial) seconds left out.
    pub steady_median_per_s: Option<f64>,
    /// From the first to the last send received.
    pub first_to_last_s: f64,
    /// From the first reply queued to the last send received.
    pub total_s: f64,
    /// The mock did not receive everything before `--timeout`.
    pub timed_out: bool,
    /// Sends received per second, from the first second with any to the last.
    pub per_second: Vec<u64>,
}

impl SendsSummary {
    /// 0 everything delivered once and in order; 1 not; 2 nothing was accepted at all.
    pub fn exit_code(&self) -> i32 {
        let d = &self.delivery;
        if self.queue.accepted == 0 {
            2
        } else if !d.exact || d.out_of_order > 0 || d.duplicates > 0 || d.missing > 0 {
            1
        } else {
            0
        }
    }

    pub fn print_human(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let q = &self.queue;
        let d = &self.delivery;
        writeln!(out, "switchboard-loadgen sends -> {} (mock Graph API {})", self.url, self.mock)?;
        writeln!(
            out,
            "  run:         id {} (wa_ids {}…), {} conversations, {} messages, concurrency {}{}",
            self.run_id,
            self.wa_id_prefix,
            self.conversations,
            self.messages,
            self.concurrency,
            if self.interrupted { " (interrupted)" } else { "" }
        )?;
        writeln!(
            out,
            "  setup:       {} webhooks in {:.2}s, all conversations listed after {:.2}s",
            self.conversations, self.setup.webhooks_s, self.setup.conversations_listed_s
        )?;
        let rejected: u64 = q.rejected.values().sum();
        let errors: u64 = q.errors.values().sum();
        writeln!(
            out,
            "  queue:       {} accepted (202), {rejected} rejected, {errors} errors in {:.2}s -> {:.0} replies/s",
            q.accepted, q.elapsed_s, q.accepted_per_s
        )?;
        if !q.rejected.is_empty() || !q.errors.is_empty() {
            let codes: Vec<String> = q
                .rejected
                .iter()
                .map(|(code, n)| format!("{code}: {n}"))
                .chain(q.errors.iter().map(|(kind, n)| format!("{kind}: {n}")))
                .collect();
            writeln!(out, "               {}; first: {}", codes.join(", "), q.first_error.as_deref().unwrap_or("-"))?;
        }
        let l = &q.latency_ms;
        writeln!(
            out,
            "  latency:     p50 {:.2}ms  p90 {:.2}ms  p99 {:.2}ms  p99.9 {:.2}ms  max {:.2}ms  (mean {:.2}ms)",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms
        )?;
        writeln!(
            out,
            "  delivered:   {} — {} received of {} expected, {} missing, {} duplicates, {} out of order{}",
            if self.exit_code() == 0 { "OK" } else { "FAILED" },
            d.received,
            d.expected,
            d.missing,
            d.duplicates,
            d.out_of_order,
            if d.timed_out { " (timed out)" } else { "" }
        )?;
        if d.foreign > 0 || d.injected_failures > 0 || d.read > 0 {
            writeln!(
                out,
                "               the mock also saw {} other sends, {} mark-as-read; it injected {} failures",
                d.foreign, d.read, d.injected_failures
            )?;
        }
        writeln!(
            out,
            "  send rate:   {:.0} sends/s at the mock over {:.2}s; steady-state median {}",
            d.sends_per_s,
            d.first_to_last_s,
            d.steady_median_per_s.map_or_else(|| "- (under 3 s)".to_owned(), |m| format!("{m:.0}/s"))
        )?;
        writeln!(out, "  total:       {:.2}s from the first reply queued to the last send received", d.total_s)?;
        Ok(())
    }
}

fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// `to` as the mock saw it, made comparable with a wa_id.
fn normalise_to(to: &str) -> &str {
    to.strip_prefix('+').unwrap_or(to)
}

/// The median of the per-second series without its first and last seconds (which are
/// usually partial); `None` with fewer than three seconds.
pub fn steady_median(per_second: &[u64]) -> Option<f64> {
    if per_second.len() < 3 {
        return None;
    }
    let mut interior = per_second[1..per_second.len() - 1].to_vec();
    interior.sort_unstable();
    let mid = interior.len() / 2;
    Some(if interior.len() % 2 == 1 { interior[mid] as f64 } else { (interior[mid - 1] + interior[mid]) as f64 / 2.0 })
}

/// Each recipient's received count against what was accepted for it:
/// `(received, missing, duplicates)`.
pub fn compare_counts(accepted: &[u64], received: &[u64]) -> (u64, u64, u64) {
    let mut total = 0;
    let mut missing = 0;
    let mut duplicates = 0;
    for (&a, &r) in accepted.iter().zip(received) {
        total += r;
        missing += a.saturating_sub(r);
        duplicates += r.saturating_sub(a);
    }
    (total, missing, duplicates)
}

/// The mock's control endpoints.
struct MockClient {
    client: reqwest::Client,
    base: Url,
}

impl MockClient {
    fn new(base: &str) -> Result<Self> {
        let base = Url::parse(base).with_context(|| format!("invalid --mock URL {base:?}"))?;
        Ok(Self { client: reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build()?, base })
    }

    async fn stats(&self, by_to: bool) -> Result<Stats> {
        let url = self.base.join(if by_to { "stats?by_to=1" } else { "stats" })?;
        let response = self.client.get(url.clone()).send().await.with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("GET {url}: {status}");
        }
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).with_context(|| format!("GET {url}: not mock-graph's stats"))
    }

    async fn reset(&self) -> Result<()> {
        let url = self.base.join("reset")?;
        let response = self.client.post(url.clone()).send().await.with_context(|| format!("POST {url}"))?;
        if !response.status().is_success() {
            bail!("POST {url}: {}", response.status());
        }
        Ok(())
    }
}

pub async fn run(args: SendsArgs) -> Result<SendsSummary> {
    if args.conversations == 0 {
        bail!("--conversations must be at least 1");
    }
    if args.messages == 0 {
        bail!("--messages must be at least 1");
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let run_id = args.run_id.unwrap_or_else(random_u64);
    let identity = RunIdentity::new(run_id, args.conversations)?;
    let builder =
        WebhookBuilder::new(identity.clone(), args.app_secret.as_bytes(), &args.phone_number_id, &args.waba_id, 1)?;
    let mock = MockClient::new(&args.mock)?;
    mock.stats(false).await.with_context(|| {
        format!("the mock Graph API at {} does not answer; is `switchboard-loadgen mock-graph` running?", args.mock)
    })?;
    let api = Api::new(&args.url, &args.token)?;

    let stop = CancellationToken::new();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: stopping, waiting for requests in flight (again to quit)");
                stop.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    }

    // (a) One inbound message per new customer opens their conversation.
    let setup_start = Instant::now();
    if !args.quiet {
        eprintln!(
            "run {run_id:016x}: opening {} conversations through {}/webhooks/whatsapp",
            args.conversations,
            args.url.trim_end_matches('/')
        );
    }
    open_conversations(&args, &builder).await?;
    let webhooks_s = setup_start.elapsed().as_secs_f64();
    let conversation_ids = wait_for_conversations(&api, &identity, args.timeout, &stop, args.quiet).await?;
    let conversations_listed_s = setup_start.elapsed().as_secs_f64();

    // (b)
    mock.reset().await?;

    // (c) Queue the replies.
    let base = Url::parse(&args.url).with_context(|| format!("invalid --url {:?}", args.url))?;
    let urls = conversation_ids
        .iter()
        .map(|id| base.join(&format!("api/v1/conversations/{id}/messages")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut auth =
        HeaderValue::try_from(format!("Bearer {}", args.token)).context("the API token is not a valid header value")?;
    auth.set_sensitive(true);
    let queue = Arc::new(Queue {
        client: reqwest::Client::builder()
            .http1_only()
            .no_proxy()
            .tcp_nodelay(true)
            .timeout(args.request_timeout)
            .pool_max_idle_per_host(args.concurrency)
            .build()?,
        urls,
        auth,
        run: format!("{run_id:016x}"),
        total: args.messages,
        next: AtomicU64::new(0),
        answered: (0..args.conversations).map(|_| watch::channel(0).0).collect(),
        rec: Mutex::new(QueueRec::new(args.conversations)?),
        stop: stop.clone(),
    });
    let live = Arc::new(Live::default());
    let queue_start = Instant::now();
    let queue_start_us = unix_micros();
    let poller = tokio::spawn(poll_mock(MockClient::new(&args.mock)?, live.clone()));
    let progress = (!args.quiet).then(|| tokio::spawn(progress(queue.clone(), live.clone(), queue_start)));
    if !args.quiet {
        eprintln!(
            "queueing {} replies over {} conversations, {} in flight",
            args.messages, args.conversations, args.concurrency
        );
    }
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let queue = queue.clone();
        workers.spawn(async move { queue.work().await });
    }
    while let Some(joined) = workers.join_next().await {
        joined?;
    }
    let queue_end = Instant::now();
    let (queue_report, accepted_by_conv) = queue.report(queue_start);
    let accepted = queue_report.accepted;

    // (d) Wait for the mock to receive every accepted reply.
    let ours = |stats: &Stats| -> Vec<u64> {
        let by_to: HashMap<&str, u64> = stats.by_to.iter().flatten().fold(HashMap::new(), |mut m, (to, &n)| {
            *m.entry(normalise_to(to)).or_default() += n;
            m
        });
        (0..args.conversations).map(|c| by_to.get(identity.wa_id(c).as_str()).copied().unwrap_or(0)).collect()
    };
    let deadline = queue_end + args.timeout;
    let mut timed_out = false;
    if !stop.is_cancelled() && accepted > 0 {
        loop {
            let received = live.mock_received.load(Ordering::Relaxed);
            if received >= accepted {
                match mock.stats(true).await {
                    Ok(s) if ours(&s).iter().sum::<u64>() >= accepted => break,
                    Ok(_) => {}
                    Err(e) if !args.quiet => eprintln!("mock: {e:#}"),
                    Err(_) => {}
                }
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(MOCK_POLL_INTERVAL) => {}
                () = stop.cancelled() => break,
            }
        }
        if !timed_out && !stop.is_cancelled() && !args.settle.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(args.settle) => {}
                () = stop.cancelled() => {}
            }
        }
    }
    poller.abort();
    if let Some(p) = progress {
        p.abort();
    }
    let last = mock.stats(true).await.context("the final look at the mock's stats")?;
    live.merge(&last);

    let received_by_conv = ours(&last);
    let (received, missing, duplicates) = compare_counts(&accepted_by_conv, &received_by_conv);
    let out_of_order: u64 = last
        .out_of_order_by_to
        .iter()
        .flatten()
        .filter(|(to, _)| identity.owns_wa_id(normalise_to(to)))
        .map(|(_, &n)| n)
        .sum();
    let (first_to_last_s, sends_per_s) = match (last.first_at_us, last.last_at_us) {
        (Some(first), Some(end)) if end > first && last.received > 1 => {
            let span = (end - first) as f64 / 1e6;
            (span, (last.received - 1) as f64 / span)
        }
        _ => (0.0, 0.0),
    };
    let total_s = last.last_at_us.map_or(0.0, |end| end.saturating_sub(queue_start_us) as f64 / 1e6);
    let per_second = live.series();

    Ok(SendsSummary {
        url: args.url.clone(),
        mock: args.mock.clone(),
        run_id: format!("{run_id:016x}"),
        wa_id_prefix: identity.wa_prefix().to_owned(),
        conversations: args.conversations,
        messages: args.messages,
        concurrency: args.concurrency,
        interrupted: stop.is_cancelled(),
        setup: SetupReport { webhooks_s, conversations_listed_s },
        queue: queue_report,
        delivery: DeliveryReport {
            expected: args.messages,
            received,
            exact: received == args.messages && missing == 0 && duplicates == 0,
            missing,
            duplicates,
            out_of_order,
            foreign: last.received.saturating_sub(received),
            injected_failures: last.failed,
            read: last.read,
            sends_per_s,
            steady_median_per_s: steady_median(&per_second),
            first_to_last_s,
            total_s,
            timed_out,
            per_second,
        },
    })
}

/// Posts one signed inbound text per customer; anything but 200 stops the run.
async fn open_conversations(args: &SendsArgs, builder: &WebhookBuilder) -> Result<()> {
    let sender = WebhookSender::new(&args.url, args.request_timeout, ClientKind::Auto)?;
    let sender = &sender;
    let outcomes: Vec<(u64, Outcome)> = stream::iter(0..args.conversations)
        .map(|contact| async move {
            // Message number `contact` comes from contact `contact`, timestamped now.
            let webhook = builder.build(contact, unix_now());
            (contact, sender.send(webhook).await)
        })
        .buffer_unordered(SETUP_CONCURRENCY.min(args.concurrency))
        .collect()
        .await;
    let failed: Vec<&(u64, Outcome)> = outcomes.iter().filter(|(_, o)| *o != Outcome::Status(200)).collect();
    if let Some((contact, outcome)) = failed.first() {
        bail!(
            "{} of {} webhooks were not acknowledged (contact {contact}: {outcome:?}); check --url, --app-secret and --phone-number-id",
            failed.len(),
            outcomes.len()
        );
    }
    Ok(())
}

/// Pages through the conversation list until every customer of the run has one;
/// returns the conversation ids by contact index.
async fn wait_for_conversations(
    api: &Api,
    identity: &RunIdentity,
    timeout: Duration,
    stop: &CancellationToken,
    quiet: bool,
) -> Result<Vec<String>> {
    let contacts = usize::try_from(identity.contacts())?;
    let mut ids: Vec<Option<String>> = vec![None; contacts];
    let mut found = 0;
    let deadline = Instant::now() + timeout;
    loop {
        match list_pass(api, identity, &mut ids, &mut found).await {
            Ok(()) => {}
            Err(e) if e.is::<Fatal>() => return Err(e),
            Err(e) if !quiet => eprintln!("listing conversations: {e:#}"),
            Err(_) => {}
        }
        if found == contacts {
            return Ok(ids.into_iter().flatten().collect());
        }
        if Instant::now() + LIST_INTERVAL > deadline {
            bail!(
                "only {found} of {contacts} conversations were listed by GET /api/v1/conversations within {:.0}s",
                timeout.as_secs_f64()
            );
        }
        if stop.is_cancelled() {
            bail!("interrupted while waiting for the conversations");
        }
        tokio::time::sleep(LIST_INTERVAL).await;
    }
}

/// One walk through the list; stops early once everything was found (the run's
/// conversations are the newest, so usually on the first page).
async fn list_pass(api: &Api, identity: &RunIdentity, ids: &mut [Option<String>], found: &mut usize) -> Result<()> {
    let mut cursor: Option<String> = None;
    loop {
        let page: Page<Conversation> = api.page("api/v1/conversations", cursor.as_deref()).await?;
        for c in &page.items {
            let Some(index) = c.wa_id().and_then(|w| identity.contact_of_wa_id(w)) else {
                continue;
            };
            let slot = &mut ids[usize::try_from(index)?];
            if slot.is_none() {
                *found += 1;
            }
            *slot = Some(c.id.clone());
        }
        if *found == ids.len() {
            return Ok(());
        }
        match page.next_cursor {
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                bail!("GET /api/v1/conversations returned the same cursor twice");
            }
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

/// Shared by the reply workers.
struct Queue {
    client: reqwest::Client,
    /// `…/api/v1/conversations/{id}/messages`, by contact index.
    urls: Vec<Url>,
    auth: HeaderValue,
    run: String,
    total: u64,
    next: AtomicU64,
    /// Replies answered so far, per conversation: reply `k` of a conversation waits
    /// for `k` answers, so a conversation never has two replies in flight.
    answered: Vec<watch::Sender<u64>>,
    rec: Mutex<QueueRec>,
    stop: CancellationToken,
}

struct QueueRec {
    latency: Histogram<u64>,
    interval_latency: Histogram<u64>,
    accepted: u64,
    accepted_by_conv: Vec<u64>,
    rejected: BTreeMap<u16, u64>,
    errors: BTreeMap<&'static str, u64>,
    first_error: Option<String>,
    last_accept: Option<Instant>,
}

impl QueueRec {
    fn new(conversations: u64) -> Result<Self> {
        Ok(Self {
            latency: new_histogram()?,
            interval_latency: new_histogram()?,
            accepted: 0,
            accepted_by_conv: vec![0; usize::try_from(conversations)?],
            rejected: BTreeMap::new(),
            errors: BTreeMap::new(),
            first_error: None,
            last_accept: None,
        })
    }
}

impl Queue {
    fn rec(&self) -> MutexGuard<'_, QueueRec> {
        self.rec.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn work(&self) {
        let conversations = self.urls.len() as u64;
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            if n >= self.total {
                return;
            }
            let conv = usize::try_from(n % conversations).unwrap_or(0);
            let nth = n / conversations;
            let mut answered = self.answered[conv].subscribe();
            if answered.wait_for(|&done| done >= nth).await.is_err() {
                return;
            }
            self.send(n, conv).await;
            self.answered[conv].send_modify(|done| *done += 1);
        }
    }

    async fn send(&self, n: u64, conv: usize) {
        let body = format!(r#"{{"type":"text","text":"load {} {n}"}}"#, self.run);
        let started = Instant::now();
        let result = self
            .client
            .post(self.urls[conv].clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await;
        let outcome = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(_) if status == 202 => Ok(()),
                    Ok(bytes) => Err(Failure::Status(
                        status,
                        format!("{status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)])),
                    )),
                    Err(e) => Err(Failure::Error(classify(&e).as_str(), format!("{e}"))),
                }
            }
            Err(e) => Err(Failure::Error(classify(&e).as_str(), format!("{e}"))),
        };
        let done = Instant::now();
        let mut rec = self.rec();
        match outcome {
            Ok(()) => {
                let micros = u64::try_from((done - started).as_micros()).unwrap_or(u64::MAX).max(1);
                rec.latency.saturating_record(micros);
                rec.interval_latency.saturating_record(micros);
                rec.accepted += 1;
                rec.accepted_by_conv[conv] += 1;
                rec.last_accept = Some(done);
            }
            Err(Failure::Status(status, text)) => {
                *rec.rejected.entry(status).or_default() += 1;
                rec.first_error.get_or_insert(text);
            }
            Err(Failure::Error(kind, text)) => {
                *rec.errors.entry(kind).or_default() += 1;
                rec.first_error.get_or_insert(text);
            }
        }
    }

    fn report(&self, start: Instant) -> (QueueReport, Vec<u64>) {
        let rec = self.rec();
        let elapsed_s = rec.last_accept.map_or(0.0, |t| t.saturating_duration_since(start).as_secs_f64());
        (
            QueueReport {
                accepted: rec.accepted,
                rejected: rec.rejected.clone(),
                errors: rec.errors.clone(),
                first_error: rec.first_error.clone(),
                elapsed_s,
                accepted_per_s: if elapsed_s > 0.0 { rec.accepted as f64 / elapsed_s } else { 0.0 },
                latency_ms: LatencySummary::from_histogram(&rec.latency),
            },
            rec.accepted_by_conv.clone(),
        )
    }
}

/// Why a reply was not accepted, with a line for the report.
enum Failure {
    Status(u16, String),
    Error(&'static str, String),
}

/// What the mock poller saw, for progress lines and the per-second series.
#[derive(Default)]
struct Live {
    mock_received: AtomicU64,
    /// Received sends by Unix second.
    per_second: Mutex<BTreeMap<u64, u64>>,
}

impl Live {
    fn merge(&self, stats: &Stats) {
        self.mock_received.store(stats.received, Ordering::Relaxed);
        let mut series = self.per_second.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (second, &count) in (stats.per_second_start..).zip(&stats.per_second) {
            // Seconds before the last reset read 0 and never overwrite a count.
            if count > 0 || series.contains_key(&second) {
                series.insert(second, count);
            }
        }
    }

    /// From the first second with a send to the last, gaps as 0.
    fn series(&self) -> Vec<u64> {
        let series = self.per_second.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (Some((&first, _)), Some((&last, _))) =
            (series.iter().find(|&(_, &c)| c > 0), series.iter().rev().find(|&(_, &c)| c > 0))
        else {
            return Vec::new();
        };
        (first..=last).map(|s| series.get(&s).copied().unwrap_or(0)).collect()
    }
}

async fn poll_mock(mock: MockClient, live: Arc<Live>) {
    loop {
        if let Ok(stats) = mock.stats(false).await {
            live.merge(&stats);
        }
        tokio::time::sleep(MOCK_POLL_INTERVAL).await;
    }
}

/// One line a second on stderr: replies accepted and sends received at the mock.
async fn progress(queue: Arc<Queue>, live: Arc<Live>, start: Instant) {
    let mut ticker = tokio::time::interval_at((start + Duration::from_secs(1)).into(), Duration::from_secs(1));
    let mut last_accepted = 0;
    let mut last_received = 0;
    loop {
        ticker.tick().await;
        let (accepted, failed, p50, p99) = {
            let mut rec = queue.rec();
            let l = LatencySummary::from_histogram(&rec.interval_latency);
            rec.interval_latency.reset();
            (rec.accepted, rec.rejected.values().sum::<u64>() + rec.errors.values().sum::<u64>(), l.p50_ms, l.p99_ms)
        };
        let received = live.mock_received.load(Ordering::Relaxed);
        let sent_per_s = received.saturating_sub(last_received);
        let elapsed = start.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        let _ = if accepted + failed >= queue.total && accepted == last_accepted {
            writeln!(
                err,
                "{elapsed:>5.0}s  all queued ({accepted} accepted, {failed} failed)  sent {sent_per_s:>6}/s ({received})",
            )
        } else {
            writeln!(
                err,
                "{elapsed:>5.0}s  queued {:>6}/s ({accepted}/{}, {failed} failed)  p50 {p50:>6.2}ms  p99 {p99:>7.2}ms  sent {sent_per_s:>6}/s ({received})",
                accepted - last_accepted,
                queue.total,
            )
        };
        last_accepted = accepted;
        last_received = received;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn steady_median_leaves_out_the_partial_ends() {
        assert_eq!(steady_median(&[]), None);
        assert_eq!(steady_median(&[5, 100]), None);
        assert_eq!(steady_median(&[5, 100, 7]), Some(100.0));
        assert_eq!(steady_median(&[1, 80, 90, 70, 2]), Some(80.0));
        assert_eq!(steady_median(&[1, 80, 90, 2]), Some(85.0));
    }

    #[test]
    fn counts_are_compared_per_recipient() {
        // A loss in one conversation and a duplicate in another do not cancel out.
        assert_eq!(compare_counts(&[3, 3, 3], &[3, 2, 4]), (9, 1, 1));
        assert_eq!(compare_counts(&[2, 2], &[2, 2]), (4, 0, 0));
        assert_eq!(compare_counts(&[2, 2], &[0, 0]), (0, 4, 0));
    }

    #[test]
    fn the_series_spans_first_to_last_send_and_survives_the_window() {
        let live = Live::default();
        let stats =
            |start: u64, per_second: Vec<u64>| Stats { per_second_start: start, per_second, ..Stats::default() };
        live.merge(&stats(100, vec![0, 0, 5, 9]));
        // A later poll: 103 is complete now (10), 104 and 105 new, 106 is a gap.
        live.merge(&stats(101, vec![0, 5, 10, 0, 7, 0, 3]));
        assert_eq!(live.series(), vec![5, 10, 0, 7, 0, 3]);
        assert!(Live::default().series().is_empty());
    }

    #[test]
    fn mock_recipients_match_wa_ids_with_or_without_plus() {
        assert_eq!(normalise_to("+9991234"), "9991234");
        assert_eq!(normalise_to("9991234"), "9991234");
    }
}
