//! `switchboard-loadgen sse`: live-update fan-out latency.
//!
//! 1. Opens `--clients` event streams (`GET /api/v1/events`) with one token.
//! 2. Posts `--messages` signed inbound webhooks, one at a time, each from a new customer;
//!    after each post, waits until every stream has received that message's
//!    `message_created` event (or `--timeout`), then pauses `--pause`.
//! 3. Reports, per stream and message, the time from the start of the POST to the
//!    event's arrival (webhook acknowledgement, ingest, commit, the hub, the fan-out),
//!    as p50/p99/max over all of them, and the acknowledgement latency alone.
//!
//! The server must run its ingest worker (the default) and accept the signing secret.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::duration::parse_duration;
use crate::http::{ClientKind, WebhookSender};
use crate::payload::{RunIdentity, WebhookBuilder};
use crate::stats::{LatencySummary, Outcome, new_histogram};
use crate::webhooks::{parse_hex_u64, random_u64, unix_now};

#[derive(Debug, Args)]
pub struct SseArgs {
    /// Base URL of the server (webhooks and API).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// API bearer token the streams use (an admin's sees every event).
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

    /// Event streams to open.
    #[arg(long, default_value_t = 200)]
    pub clients: usize,

    /// Inbound messages to post, one at a time.
    #[arg(long, default_value_t = 100)]
    pub messages: u64,

    /// Pause between one message reaching every stream and the next post.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    pub pause: Duration,

    /// How long one message may take to reach every stream.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Run id (hex) fixing this run's wa_ids; random by default.
    #[arg(long, value_parser = parse_hex_u64)]
    pub run_id: Option<u64>,

    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct SseSummary {
    pub url: String,
    pub clients: usize,
    pub messages: u64,
    /// POST start → event received, over every (stream, message).
    pub delivery: LatencySummary,
    /// POST start → 200.
    pub ack: LatencySummary,
    /// Messages that did not reach every stream in time.
    pub timed_out: u64,
}

impl SseSummary {
    pub fn print_human(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        writeln!(out, "sse fan-out: {} streams, {} inbound messages ({})", self.clients, self.messages, self.url)?;
        let row = |name: &str, s: &LatencySummary| {
            format!(
                "  {name:<9} n={:<7} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
                s.count, s.p50_ms, s.p99_ms, s.max_ms
            )
        };
        writeln!(out, "{}", row("delivery", &self.delivery))?;
        writeln!(out, "{}", row("ack", &self.ack))?;
        writeln!(out, "  timed out: {}", self.timed_out)
    }

    pub fn exit_code(&self) -> i32 {
        i32::from(self.timed_out > 0)
    }
}

/// An inbound `message_created` event arrived on a stream.
struct Receipt {
    at: Instant,
}

pub async fn run(args: SseArgs) -> Result<SseSummary> {
    if args.clients == 0 || args.messages == 0 {
        bail!("--clients and --messages must be at least 1");
    }
    let run_id = args.run_id.unwrap_or_else(random_u64);
    let identity = RunIdentity::new(run_id, args.messages)?;
    let builder = WebhookBuilder::new(identity, args.app_secret.as_bytes(), &args.phone_number_id, &args.waba_id, 1)?;
    let sender = WebhookSender::new(&args.url, Duration::from_secs(30), ClientKind::Auto)?;
    let base = reqwest::Url::parse(&args.url).with_context(|| format!("invalid --url {:?}", args.url))?;
    let events_url = base.join("/api/v1/events")?;
    let auth = HeaderValue::try_from(format!("Bearer {}", args.token)).context("--token is not a header value")?;
    let client = reqwest::Client::builder().http1_only().no_proxy().tcp_nodelay(true).build()?;

    let (tx, mut rx) = mpsc::unbounded_channel::<Receipt>();
    let mut streams = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let res = client
            .get(events_url.clone())
            .header(AUTHORIZATION, auth.clone())
            .send()
            .await
            .with_context(|| format!("opening stream {i}"))?;
        if !res.status().is_success() {
            bail!("opening stream {i}: {}", res.status());
        }
        streams.push(tokio::spawn(read_stream(res, tx.clone())));
    }
    drop(tx);
    eprintln!("{} streams open", args.clients);

    let mut delivery = new_histogram()?;
    let mut ack = new_histogram()?;
    let mut timed_out = 0;
    for seq in 0..args.messages {
        let webhook = builder.build(seq, unix_now());
        let started = Instant::now();
        match sender.send(webhook).await {
            Outcome::Status(200) => record(&mut ack, started.elapsed()),
            other => bail!("webhook {seq} was not acknowledged: {other:?}"),
        }
        let deadline = tokio::time::Instant::now() + args.timeout;
        let mut received = 0;
        while received < args.clients {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => {
                    record(&mut delivery, r.at.saturating_duration_since(started));
                    received += 1;
                }
                Ok(None) => bail!("every stream ended"),
                Err(_) => {
                    timed_out += 1;
                    eprintln!("message {seq}: {received}/{} streams within {:?}", args.clients, args.timeout);
                    break;
                }
            }
        }
        tokio::time::sleep(args.pause).await;
    }
    for s in streams {
        s.abort();
    }
    Ok(SseSummary {
        url: args.url,
        clients: args.clients,
        messages: args.messages,
        delivery: LatencySummary::from_histogram(&delivery),
        ack: LatencySummary::from_histogram(&ack),
        timed_out,
    })
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let _ = h.record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
}

/// Reads one stream, reporting each inbound `message_created` event.
async fn read_stream(mut res: reqwest::Response, tx: mpsc::UnboundedSender<Receipt>) {
    let mut buf = String::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        let at = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let created = frame.lines().any(|l| l == "event: message_created");
            if created && frame.contains(r#""direction":"inbound""#) && tx.send(Receipt { at }).is_err() {
                return;
            }
        }
    }
}

pub fn print(summary: &SseSummary, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, summary)?;
        writeln!(out)?;
    } else {
        summary.print_human(&mut out)?;
    }
    Ok(())
}
