//! `switchboard-loadgen console`: the console's targets (issue #17).
//!
//! 1. **Pages.** GETs each `--page` (the inbox `/`, a filtered view, a conversation…)
//!    `--requests` times, one at a time after `--warmup` unmeasured ones, with the
//!    session cookie (`--cookie`) or bearer token (`--token`), redirects not followed, and
//!    reports p50/p95/p99/max of the whole response (headers and body) as the client sees
//!    it over loopback: an upper bound of the server's time.
//! 2. **Live.** Opens `--streams` event streams on `--events` (the console's live endpoint;
//!    `/api/v1/events` by default), then posts `--messages` signed inbound webhooks at a
//!    steady `--rate`, each from a new customer, and reports the time from each webhook's
//!    acknowledgement (its 200) to its arrival on each stream, p50/p95/p99/max.
//!
//! Which webhook a frame is about: a frame that names the customer (`Load <n>`, or the
//! run's wa_id) is matched by it, the first such frame per stream and webhook counting (an
//! HTML fragment of the console); otherwise inbound `message_created` events (the JSON
//! API stream) or `inbound` events (the console's `/live`) are matched in order to the
//! acknowledgements in order, which is exact
//! while webhooks do not overlap (the rate leaves room between them) and otherwise off
//! by at most the spread of one group commit's acknowledgements.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderValue};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::duration::parse_duration;
use crate::http::{ClientKind, WebhookSender};
use crate::payload::{RunIdentity, WebhookBuilder};
use crate::stats::{Outcome, new_histogram};
use crate::webhooks::{parse_hex_u64, random_u64, unix_now};

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base: String,

    /// API bearer token (pages and streams), e.g. seed-console's ADMIN_TOKEN.
    #[arg(long, env = "SWITCHBOARD_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// A `Cookie:` header value (`name=value`) for a console session, instead of or
    /// beside the token.
    #[arg(long, hide_env_values = true)]
    pub cookie: Option<String>,

    /// A page to measure (path and query); repeat for several. None: skip the pages.
    #[arg(long = "page")]
    pub pages: Vec<String>,

    /// Measured requests per page.
    #[arg(long, default_value_t = 200)]
    pub requests: u64,

    /// Unmeasured requests per page first (caches, connections).
    #[arg(long, default_value_t = 10)]
    pub warmup: u64,

    /// The live endpoint (path) the streams open. Empty: skip the live part.
    #[arg(long, default_value = "/api/v1/events")]
    pub events: String,

    /// Event streams to open.
    #[arg(long, default_value_t = 200)]
    pub streams: usize,

    /// Inbound webhooks to post.
    #[arg(long, default_value_t = 200)]
    pub messages: u64,

    /// Webhooks per second (a steady schedule, not waiting for the streams).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,

    /// How long after the last post to wait for stragglers.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub tail: Duration,

    /// Meta app secret to sign the webhooks with.
    #[arg(long, env = "SWITCHBOARD_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,

    /// phone_number_id of the webhooks' channel.
    #[arg(long, env = "SWITCHBOARD_PHONE_NUMBER_ID", default_value = "100000000000001")]
    pub phone_number_id: String,

    /// Run id (hex) fixing this run's wa_ids; random by default.
    #[arg(long, value_parser = parse_hex_u64)]
    pub run_id: Option<u64>,

    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if h.is_empty() {
            return Self { count: 0, p50_ms: 0.0, p95_ms: 0.0, p99_ms: 0.0, max_ms: 0.0 };
        }
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }

    fn row(&self, name: &str) -> String {
        format!(
            "  {name:<40} n={:<6} p50 {:>8.2} ms  p95 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
            self.count, self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms
        )
    }
}

#[derive(Debug, Serialize)]
pub struct PageSummary {
    pub path: String,
    pub latency: Percentiles,
    /// Status codes other than 200, with their counts.
    pub not_ok: HashMap<u16, u64>,
    pub errors: u64,
    /// Bytes of the last response's body.
    pub bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct LiveSummary {
    pub events: String,
    pub streams: usize,
    pub messages: u64,
    pub rate: f64,
    /// Acknowledgement → arrival on a stream, over every (stream, webhook).
    pub delivery: Percentiles,
    /// POST → 200.
    pub ack: Percentiles,
    /// (stream, webhook) pairs that never arrived within the tail.
    pub missing: u64,
    /// Pairs matched by the customer named in the frame (the rest by order).
    pub matched_by_name: u64,
}

#[derive(Debug, Serialize)]
pub struct ConsoleSummary {
    pub base: String,
    pub pages: Vec<PageSummary>,
    pub live: Option<LiveSummary>,
}

impl ConsoleSummary {
    pub fn print_human(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        if !self.pages.is_empty() {
            writeln!(out, "console pages ({}), client-side over loopback:", self.base)?;
            for p in &self.pages {
                writeln!(out, "{}  {} B", p.latency.row(&p.path), p.bytes)?;
                if !p.not_ok.is_empty() || p.errors > 0 {
                    writeln!(out, "    not 200: {:?}, errors: {}", p.not_ok, p.errors)?;
                }
            }
        }
        if let Some(l) = &self.live {
            writeln!(
                out,
                "live updates: {} streams on {}, {} webhooks at {}/s",
                l.streams, l.events, l.messages, l.rate
            )?;
            writeln!(out, "{}", l.delivery.row("acknowledged -> on the stream"))?;
            writeln!(out, "{}", l.ack.row("webhook POST -> 200"))?;
            writeln!(out, "  missing: {}; matched by customer name: {}", l.missing, l.matched_by_name)?;
        }
        Ok(())
    }

    pub fn exit_code(&self) -> i32 {
        let pages_bad = self.pages.iter().any(|p| !p.not_ok.is_empty() || p.errors > 0);
        let live_bad = self.live.as_ref().is_some_and(|l| l.missing > 0);
        i32::from(pages_bad || live_bad)
    }
}

pub async fn run(args: ConsoleArgs) -> Result<ConsoleSummary> {
    let base = reqwest::Url::parse(&args.base).with_context(|| format!("invalid --base {:?}", args.base))?;
    let mut headers = HeaderMap::new();
    if let Some(token) = &args.token {
        headers.insert(AUTHORIZATION, HeaderValue::try_from(format!("Bearer {token}")).context("--token")?);
    }
    if let Some(cookie) = &args.cookie {
        headers.insert(COOKIE, HeaderValue::try_from(cookie.as_str()).context("--cookie")?);
    }
    let client = reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()?;

    let mut pages = Vec::new();
    for path in &args.pages {
        pages.push(measure_page(&client, &base, path, args.warmup, args.requests).await?);
    }
    let live = if args.events.is_empty() || args.streams == 0 || args.messages == 0 {
        None
    } else {
        Some(live(&client, &base, &args).await?)
    };
    Ok(ConsoleSummary { base: args.base, pages, live })
}

async fn measure_page(
    client: &reqwest::Client,
    base: &reqwest::Url,
    path: &str,
    warmup: u64,
    requests: u64,
) -> Result<PageSummary> {
    let url = base.join(path).with_context(|| format!("--page {path:?}"))?;
    let mut h = new_histogram()?;
    let (mut not_ok, mut errors, mut bytes) = (HashMap::new(), 0, 0);
    for i in 0..warmup + requests {
        let started = Instant::now();
        let res = client.get(url.clone()).send().await;
        let outcome = match res {
            Ok(res) => {
                let status = res.status().as_u16();
                match res.bytes().await {
                    Ok(body) => {
                        bytes = body.len();
                        Ok(status)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        if i < warmup {
            continue;
        }
        match outcome {
            Ok(200) => record(&mut h, took),
            Ok(status) => *not_ok.entry(status).or_insert(0) += 1,
            Err(_) => errors += 1,
        }
    }
    Ok(PageSummary { path: path.to_owned(), latency: Percentiles::of(&h), not_ok, errors, bytes })
}

/// One frame about one webhook arrived on one stream.
enum Arrival {
    /// The frame named the webhook's customer.
    Named { stream: usize, seq: u64, at: Instant },
    /// The stream's next inbound `message_created` event.
    InOrder { stream: usize, at: Instant },
}

async fn live(client: &reqwest::Client, base: &reqwest::Url, args: &ConsoleArgs) -> Result<LiveSummary> {
    let Some(secret) = &args.app_secret else { bail!("the live part needs --app-secret (or SWITCHBOARD_APP_SECRET)") };
    if !args.rate.is_finite() || args.rate <= 0.0 {
        bail!("--rate must be positive");
    }
    let run_id = args.run_id.unwrap_or_else(random_u64);
    let identity = RunIdentity::new(run_id, args.messages)?;
    let builder =
        WebhookBuilder::new(identity.clone(), secret.as_bytes(), &args.phone_number_id, "100000000000000", 1)?;
    let sender = Arc::new(WebhookSender::new(&args.base, Duration::from_secs(30), ClientKind::Auto)?);
    let events_url = base.join(&args.events).with_context(|| format!("--events {:?}", args.events))?;

    let (tx, mut rx) = mpsc::unbounded_channel::<Arrival>();
    let mut readers = Vec::with_capacity(args.streams);
    for stream in 0..args.streams {
        let res = client
            .get(events_url.clone())
            .header("accept", "text/event-stream")
            .send()
            .await
            .with_context(|| format!("opening stream {stream}"))?;
        if res.status() != 200 {
            bail!("opening stream {stream} on {events_url}: {}", res.status());
        }
        readers.push(tokio::spawn(read_stream(stream, res, identity.clone(), tx.clone())));
    }
    drop(tx);
    eprintln!("{} streams open on {events_url}", args.streams);

    // Post on a steady schedule; each post in its own task so a slow one delays none.
    let acks: Arc<Mutex<Vec<(u64, Instant, Duration)>>> = Arc::default();
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let start = tokio::time::Instant::now();
    let mut posts = Vec::with_capacity(usize::try_from(args.messages)?);
    let mut arrivals = Vec::new();
    for seq in 0..args.messages {
        let due = start + period.mul_f64(seq as f64);
        // Take arrivals while waiting, so the channel does not grow.
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(due) => break,
                a = rx.recv() => match a {
                    Some(a) => arrivals.push(a),
                    None => bail!("every stream ended"),
                },
            }
        }
        let webhook = builder.build(seq, unix_now());
        let sender = Arc::clone(&sender);
        let acks = Arc::clone(&acks);
        posts.push(tokio::spawn(async move {
            let posted = Instant::now();
            let outcome = sender.send(webhook).await;
            let at = Instant::now();
            if outcome == Outcome::Status(200) {
                acks.lock().unwrap_or_else(PoisonError::into_inner).push((seq, at, at - posted));
            }
            outcome
        }));
    }
    let mut failed = 0;
    for p in posts {
        if p.await.map_or(true, |o| o != Outcome::Status(200)) {
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!("{failed} webhooks were not acknowledged");
    }
    let expected = args.streams as u64 * args.messages;
    let deadline = tokio::time::Instant::now() + args.tail;
    while (arrivals.len() as u64) < expected {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(a)) => arrivals.push(a),
            Ok(None) | Err(_) => break,
        }
    }
    for r in readers {
        r.abort();
    }

    // Match.
    let mut acks = std::mem::take(&mut *acks.lock().unwrap_or_else(PoisonError::into_inner));
    acks.sort_by_key(|a| a.1);
    let ack_of: HashMap<u64, Instant> = acks.iter().map(|a| (a.0, a.1)).collect();
    let mut ack_h = new_histogram()?;
    for a in &acks {
        record(&mut ack_h, a.2);
    }
    let mut delivery = new_histogram()?;
    let mut seen = std::collections::HashSet::new();
    let mut in_order = vec![0usize; args.streams];
    let mut matched_by_name = 0;
    for a in arrivals {
        let (stream, seq, at) = match a {
            Arrival::Named { stream, seq, at } => {
                matched_by_name += 1;
                (stream, seq, at)
            }
            Arrival::InOrder { stream, at } => {
                let k = in_order[stream];
                in_order[stream] += 1;
                let Some(&(seq, _, _)) = acks.get(k) else { continue };
                (stream, seq, at)
            }
        };
        if !seen.insert((stream, seq)) {
            continue;
        }
        if let Some(acked) = ack_of.get(&seq) {
            record(&mut delivery, at.saturating_duration_since(*acked));
        }
    }
    let received = seen.len() as u64;
    Ok(LiveSummary {
        events: args.events.clone(),
        streams: args.streams,
        messages: args.messages,
        rate: args.rate,
        delivery: Percentiles::of(&delivery),
        ack: Percentiles::of(&ack_h),
        missing: expected.saturating_sub(received),
        matched_by_name,
    })
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let _ = h.record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
}

/// Reads one stream, reporting each frame about one of this run's webhooks.
async fn read_stream(stream: usize, mut res: reqwest::Response, id: RunIdentity, tx: mpsc::UnboundedSender<Arrival>) {
    let mut buf = String::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        let at = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let arrival = match named(&frame, &id) {
                Some(seq) => Some(Arrival::Named { stream, seq, at }),
                None => {
                    // The API's stream: an inbound `message_created`; the console's (`/live`):
                    // its `inbound` event, one per customer message.
                    let created = frame.lines().any(|l| l == "event: message_created");
                    let api_inbound = created && frame.contains(r#""direction":"inbound""#);
                    let console_inbound = frame.lines().any(|l| l == "event: inbound");
                    (api_inbound || console_inbound).then_some(Arrival::InOrder { stream, at })
                }
            };
            if let Some(a) = arrival
                && tx.send(a).is_err()
            {
                return;
            }
        }
    }
}

/// The webhook a frame names: its customer's wa_id or profile name (`Load <n>`).
fn named(frame: &str, id: &RunIdentity) -> Option<u64> {
    if let Some(at) = frame.find(id.wa_prefix()) {
        let digits: String = frame[at..].chars().take_while(char::is_ascii_digit).collect();
        if let Some(contact) = id.contact_of_wa_id(&digits) {
            return Some(contact);
        }
    }
    let mut rest = frame;
    while let Some(at) = rest.find("Load ") {
        rest = &rest[at + 5..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<u64>()
            && n < id.contacts()
        {
            return Some(n);
        }
    }
    None
}

pub fn print(summary: &ConsoleSummary, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, summary)?;
        writeln!(out)?;
    } else {
        summary.print_human(&mut out)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_matched_by_the_customer_they_name() {
        let id = RunIdentity::new(0xabc, 500).unwrap();
        let wa = id.wa_id(42);
        assert_eq!(named(&format!("event: inbox\ndata: <li>{wa}</li>\n\n"), &id), Some(42));
        assert_eq!(named("data: <b>Load 7</b> wrote\n\n", &id), Some(7));
        assert_eq!(named("data: <b>Load 700</b>\n\n", &id), None, "not one of this run's 500");
        assert_eq!(named("event: message_created\ndata: {\"direction\":\"inbound\"}\n\n", &id), None);
    }
}
