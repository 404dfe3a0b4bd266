//! `switchboard-loadgen webhooks`: drive `POST /webhooks/whatsapp` and measure acknowledgements.
//!
//! Two ways to load the server:
//! - closed loop (`--concurrency N`): N requests in flight, each sent as soon as the last
//!   one was answered; shows the server's throughput ceiling.
//! - open loop (`--rate R`): R requests per second on a fixed schedule, however the server
//!   copes. Latency runs from each request's *intended* send time, so a stalled server
//!   is charged for the requests it kept waiting (no coordinated omission).

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::duration::parse_duration;
use crate::http::{ClientKind, WebhookSender};
use crate::payload::{RunIdentity, WebhookBuilder};
use crate::replies::{FirstSends, RepliesReport, UnixClock};
use crate::stats::{Counts, LatencySummary, Outcome, Recorder};
use crate::verify::{self, VerifyReport};

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// Base URL of the server; webhooks go to <URL>/webhooks/whatsapp.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// Meta app secret used to sign bodies (X-Hub-Signature-256).
    #[arg(long, env = "SWITCHBOARD_APP_SECRET", hide_env_values = true)]
    pub app_secret: String,

    /// phone_number_id put in every webhook's metadata.
    #[arg(long, env = "SWITCHBOARD_PHONE_NUMBER_ID", default_value = "100000000000001")]
    pub phone_number_id: String,

    /// WhatsApp Business Account id put in entry[].id.
    #[arg(long, default_value = "100000000000000")]
    pub waba_id: String,

    /// Closed loop: keep N requests in flight (default 32 unless --rate is given).
    #[arg(long, conflicts_with = "rate")]
    pub concurrency: Option<usize>,

    /// Open loop: send R requests per second on a fixed schedule.
    #[arg(long)]
    pub rate: Option<f64>,

    /// Open loop: the most requests in flight at once; past it sends wait (and their
    /// latency, counted from the intended send time, grows).
    #[arg(long, default_value_t = 1024, requires = "rate")]
    pub max_in_flight: usize,

    /// How long to measure, e.g. 10s, 1m, 1m30s, 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Load sent before measuring starts; not counted in the results (but verified).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Text messages carried by each webhook (Meta batches up to 1000 updates).
    #[arg(long, default_value_t = 1)]
    pub messages_per_webhook: u64,

    /// Distinct customers (wa_ids) the messages come from, round-robin.
    #[arg(long, default_value_t = 1000)]
    pub contacts: u64,

    /// HTTP client: `auto` uses a lean hyper client for http:// and reqwest for https://.
    #[arg(long, value_enum, default_value_t = ClientKind::Auto)]
    pub client: ClientKind,

    /// Per-request timeout.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Run id (hex) fixing this run's wa_ids and wamids; random by default.
    #[arg(long, value_parser = parse_hex_u64)]
    pub run_id: Option<u64>,

    /// After the run, check through the API that every acknowledged message was stored once.
    #[arg(long, requires = "token")]
    pub verify: bool,

    /// API bearer token for --verify.
    #[arg(long, env = "SWITCHBOARD_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Base URL of the API for --verify (defaults to --url).
    #[arg(long)]
    pub api_url: Option<String>,

    /// How long --verify keeps polling for missing messages.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub verify_timeout: Duration,

    /// Also measure inbound → auto-reply latency: the base URL of the `mock-graph` the
    /// server sends to. Each contact's first measured message is matched with the first
    /// reply the mock received for that contact (use `--contacts` ≥ messages sent).
    #[arg(long, value_name = "URL")]
    pub replies_from: Option<String>,

    /// With `--replies-from`: how long to wait after the run for the replies.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub replies_timeout: Duration,

    /// Print the summary as one JSON object on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,

    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

pub(crate) fn parse_hex_u64(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("not hex: {e}"))
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Closed { concurrency: usize },
    Open { rate: f64, max_in_flight: usize },
}

/// The end-of-run report; `--json` prints exactly this.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub mode: &'static str,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    pub run_id: String,
    pub wa_id_prefix: String,
    pub contacts: u64,
    pub messages_per_webhook: u64,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// From the end of warm-up to the last measured answer (the drain included).
    pub elapsed_s: f64,
    pub interrupted: bool,
    pub sent: u64,
    pub acknowledged: u64,
    /// Non-200 answers by status code.
    pub other_status: std::collections::BTreeMap<u16, u64>,
    pub errors: u64,
    pub errors_by_kind: std::collections::BTreeMap<&'static str, u64>,
    pub sent_per_s: f64,
    pub acked_webhooks_per_s: f64,
    pub acked_messages_per_s: f64,
    /// Acknowledgement latency of the measured 200s.
    pub latency_ms: LatencySummary,
    /// Open loop: how late requests started against their schedule. Large values mean
    /// the tool itself (CPU) or the --max-in-flight cap held sends back; the delay is
    /// included in `latency_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_lag_ms: Option<LatencySummary>,
    /// Open loop: measured requests that waited for a free slot (--max-in-flight).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_waits: Option<u64>,
    /// Open loop: requests scheduled in the measured window but never started because
    /// the window ended first. Not zero means the latency figures flatter the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsent: Option<u64>,
    pub warmup: WarmupCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replies: Option<RepliesReport>,
}

#[derive(Debug, Serialize)]
pub struct WarmupCounts {
    pub sent: u64,
    pub acknowledged: u64,
}

impl Summary {
    /// The process exit code: 1 if verification failed, 2 if nothing was acknowledged.
    pub fn exit_code(&self) -> i32 {
        if self.verify.as_ref().is_some_and(|v| !v.ok()) || self.replies.as_ref().is_some_and(|r| !r.ok()) {
            1
        } else if self.acknowledged + self.warmup.acknowledged == 0 {
            2
        } else {
            0
        }
    }

    pub fn print_human(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let load = match (self.concurrency, self.target_rate) {
            (Some(c), _) => format!("closed loop, concurrency {c}"),
            (_, Some(r)) => format!("open loop, {r} req/s, max in flight {}", self.max_in_flight.unwrap_or(0)),
            _ => self.mode.to_owned(),
        };
        writeln!(out, "switchboard-loadgen webhooks -> {}", self.url)?;
        writeln!(
            out,
            "  load:        {load}; {} message(s)/webhook, {} contacts",
            self.messages_per_webhook, self.contacts
        )?;
        writeln!(
            out,
            "  run:         id {} (wa_ids {}…), warm-up {:.1}s, measured {:.2}s{}",
            self.run_id,
            self.wa_id_prefix,
            self.warmup_s,
            self.elapsed_s,
            if self.interrupted { " (interrupted)" } else { "" }
        )?;
        writeln!(
            out,
            "  requests:    {} sent, {} acknowledged (200), {} errors",
            self.sent, self.acknowledged, self.errors
        )?;
        if !self.other_status.is_empty() {
            let codes: Vec<String> = self.other_status.iter().map(|(code, n)| format!("{code}: {n}")).collect();
            writeln!(out, "  other codes: {}", codes.join(", "))?;
        }
        if !self.errors_by_kind.is_empty() {
            let kinds: Vec<String> = self.errors_by_kind.iter().map(|(kind, n)| format!("{kind}: {n}")).collect();
            writeln!(out, "  errors:      {}", kinds.join(", "))?;
        }
        writeln!(
            out,
            "  throughput:  {:.0} webhooks/s acknowledged, {:.0} messages/s ({:.0} sent/s)",
            self.acked_webhooks_per_s, self.acked_messages_per_s, self.sent_per_s
        )?;
        let l = &self.latency_ms;
        writeln!(
            out,
            "  ack latency: p50 {:.2}ms  p90 {:.2}ms  p99 {:.2}ms  p99.9 {:.2}ms  max {:.2}ms  (mean {:.2}ms)",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms
        )?;
        if let (Some(lag), Some(waits)) = (&self.start_lag_ms, self.slot_waits) {
            writeln!(
                out,
                "  schedule:    start lag p50 {:.2}ms  p99 {:.2}ms  max {:.2}ms; {waits} sends waited for a free slot; {} unsent",
                lag.p50_ms,
                lag.p99_ms,
                lag.max_ms,
                self.unsent.unwrap_or(0)
            )?;
        }
        if let Some(v) = &self.verify {
            writeln!(
                out,
                "  verify:      {} — {} expected, {} stored once, {} missing, {} duplicated (pass {}, {:.1}s){}",
                if v.ok() { "OK" } else { "FAILED" },
                v.expected,
                v.stored_once,
                v.missing,
                v.duplicated,
                v.passes,
                v.elapsed_s,
                v.error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
            )?;
        }
        if let Some(r) = &self.replies {
            r.print_human(out)?;
        }
        Ok(())
    }
}

/// Shared by every task of the run.
struct Ctx {
    builder: WebhookBuilder,
    sender: WebhookSender,
    recorder: Mutex<Recorder>,
    next_seq: AtomicU64,
    measure_start: Instant,
    end: Instant,
    /// Cancelled by Ctrl-C.
    stop: CancellationToken,
    /// `--replies-from`: each contact's first acknowledged measured message.
    first_sends: Option<(UnixClock, FirstSends)>,
}

impl Ctx {
    fn recorder(&self) -> MutexGuard<'_, Recorder> {
        // A panic while holding the lock cannot leave the counters inconsistent enough to
        // matter, so a poisoned lock is used as it is.
        self.recorder.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn should_stop(&self, now: Instant) -> bool {
        now >= self.end || self.stop.is_cancelled()
    }

    /// Builds, signs and sends webhook `seq`; latency counts from `started`, which in
    /// the open loop is the intended send time (`scheduled`).
    async fn send_one(&self, seq: u64, started: Instant, scheduled: bool) {
        let measured = started >= self.measure_start;
        let lag = scheduled.then(|| started.elapsed());
        let webhook = self.builder.build(seq, unix_now());
        self.recorder().on_sent(measured, lag);
        let outcome = self.sender.send(webhook).await;
        let done = Instant::now();
        if let (true, Outcome::Status(200), Some((clock, sends))) = (measured, outcome, &self.first_sends) {
            let at = clock.unix_us(started);
            for message in self.builder.messages_of(seq) {
                sends.record(self.builder.identity().contact_of(message), at);
            }
        }
        self.recorder().on_done(seq, outcome, done - started, measured, done);
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub async fn run(args: WebhooksArgs) -> Result<Summary> {
    let mode = match (args.rate, args.concurrency) {
        (Some(rate), _) => {
            if !(rate.is_finite() && rate > 0.0) {
                bail!("--rate must be a positive number");
            }
            if args.max_in_flight == 0 {
                bail!("--max-in-flight must be at least 1");
            }
            Mode::Open { rate, max_in_flight: args.max_in_flight }
        }
        (None, concurrency) => {
            let concurrency = concurrency.unwrap_or(32);
            if concurrency == 0 {
                bail!("--concurrency must be at least 1");
            }
            Mode::Closed { concurrency }
        }
    };
    if args.duration.is_zero() {
        bail!("--duration must be longer than zero");
    }
    if args.verify && args.token.is_none() {
        bail!("--verify needs --token or SWITCHBOARD_API_TOKEN");
    }

    let run_id = args.run_id.unwrap_or_else(random_u64);
    let identity = RunIdentity::new(run_id, args.contacts)?;
    let builder = WebhookBuilder::new(
        identity.clone(),
        args.app_secret.as_bytes(),
        &args.phone_number_id,
        &args.waba_id,
        args.messages_per_webhook,
    )?;
    let sender = WebhookSender::new(&args.url, args.timeout, args.client)?;

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

    let start = Instant::now();
    let measure_start = start + args.warmup;
    let ctx = Arc::new(Ctx {
        builder,
        sender,
        recorder: Mutex::new(Recorder::new()?),
        next_seq: AtomicU64::new(0),
        measure_start,
        end: measure_start + args.duration,
        stop: stop.clone(),
        first_sends: args.replies_from.is_some().then(|| (UnixClock::new(start), FirstSends::default())),
    });

    if !args.quiet {
        eprintln!(
            "sending to {} for {:.1}s (+{:.1}s warm-up), run id {run_id:016x}",
            ctx.sender.url(),
            args.duration.as_secs_f64(),
            args.warmup.as_secs_f64()
        );
    }
    let progress = (!args.quiet).then(|| tokio::spawn(progress(ctx.clone(), start)));

    match mode {
        Mode::Closed { concurrency } => closed_loop(&ctx, concurrency).await?,
        Mode::Open { rate, max_in_flight } => open_loop(&ctx, start, rate, max_in_flight).await?,
    }
    if let Some(p) = progress {
        p.abort();
    }
    let interrupted = stop.is_cancelled();

    let (measured, warmup, latency, start_lag, slot_waits, last, acked_seqs) = {
        let mut r = ctx.recorder();
        (
            r.measured.clone(),
            r.warmup.clone(),
            r.latency(),
            r.start_lag(),
            r.slot_waits,
            r.last_completion(),
            r.take_acked_seqs(),
        )
    };
    let elapsed_s = last.map(|t| t.saturating_duration_since(measure_start).as_secs_f64()).unwrap_or(0.0);
    let per_s = |n: u64| {
        if elapsed_s > 0.0 { n as f64 / elapsed_s } else { 0.0 }
    };

    let verify = if args.verify && !interrupted {
        let api_url = args.api_url.as_deref().unwrap_or(&args.url);
        let token = args.token.as_deref().unwrap_or_default();
        let messages: Vec<u64> = acked_seqs.iter().flat_map(|&seq| ctx.builder.messages_of(seq)).collect();
        if !args.quiet {
            eprintln!(
                "verifying {} acknowledged messages through {api_url} (timeout {:.0}s)",
                messages.len(),
                args.verify_timeout.as_secs_f64()
            );
        }
        Some(verify::verify(api_url, token, &identity, &messages, args.verify_timeout, &stop, !args.quiet).await?)
    } else {
        None
    };

    let replies = match (&args.replies_from, &ctx.first_sends) {
        (Some(mock), Some((_, sends))) if !interrupted => {
            if !args.quiet {
                eprintln!(
                    "waiting for the auto-replies at {mock} (timeout {:.0}s)",
                    args.replies_timeout.as_secs_f64()
                );
            }
            Some(crate::replies::collect(mock, &identity, sends, args.replies_timeout, &stop).await?)
        }
        _ => None,
    };

    let Counts { sent, acknowledged, other_status, errors, errors_by_kind } = measured;
    let (concurrency, target_rate, max_in_flight) = match mode {
        Mode::Closed { concurrency } => (Some(concurrency), None, None),
        Mode::Open { rate, max_in_flight } => (None, Some(rate), Some(max_in_flight)),
    };
    Ok(Summary {
        mode: if concurrency.is_some() { "closed" } else { "open" },
        url: ctx.sender.url(),
        concurrency,
        target_rate,
        max_in_flight,
        run_id: format!("{run_id:016x}"),
        wa_id_prefix: identity.wa_prefix().to_owned(),
        contacts: identity.contacts(),
        messages_per_webhook: args.messages_per_webhook,
        warmup_s: args.warmup.as_secs_f64(),
        duration_s: args.duration.as_secs_f64(),
        elapsed_s,
        interrupted,
        sent,
        acknowledged,
        other_status,
        errors,
        errors_by_kind,
        sent_per_s: per_s(sent),
        acked_webhooks_per_s: per_s(acknowledged),
        acked_messages_per_s: per_s(acknowledged * args.messages_per_webhook),
        latency_ms: latency,
        start_lag_ms: target_rate.is_some().then_some(start_lag),
        slot_waits: target_rate.is_some().then_some(slot_waits),
        unsent: target_rate.map(|rate| {
            // Webhooks whose intended time falls in [end of warm-up, end).
            let w = args.warmup.as_secs_f64();
            let scheduled = ((rate * (w + args.duration.as_secs_f64())).ceil() - (rate * w).ceil()) as u64;
            if interrupted { 0 } else { scheduled.saturating_sub(sent) }
        }),
        warmup: WarmupCounts { sent: warmup.sent, acknowledged: warmup.acknowledged },
        verify,
        replies,
    })
}

async fn closed_loop(ctx: &Arc<Ctx>, concurrency: usize) -> Result<()> {
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let ctx = ctx.clone();
        workers.spawn(async move {
            loop {
                let started = Instant::now();
                if ctx.should_stop(started) {
                    break;
                }
                let seq = ctx.next_seq.fetch_add(1, Ordering::Relaxed);
                ctx.send_one(seq, started, false).await;
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined?;
    }
    Ok(())
}

/// Sends on schedule until the schedule or the real clock reaches the end. A client
/// too slow for the rate, or a server holding every slot, leaves the rest of the
/// schedule unsent (reported as `unsent`) rather than stretching the run.
async fn open_loop(ctx: &Arc<Ctx>, start: Instant, rate: f64, max_in_flight: usize) -> Result<()> {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let mut seq: u64 = 0;
    loop {
        let intended = start + Duration::from_secs_f64(seq as f64 / rate);
        let now = Instant::now();
        if ctx.should_stop(intended) || now >= ctx.end {
            break;
        }
        if intended > now {
            tokio::select! {
                () = tokio::time::sleep_until(intended.into()) => {}
                () = ctx.stop.cancelled() => break,
            }
        } else if seq.is_multiple_of(64) {
            // Behind schedule: let the requests already spawned make progress.
            tokio::task::yield_now().await;
        }
        // Waiting for a slot does not move `intended`: the wait shows in the latency.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if intended >= ctx.measure_start {
                    ctx.recorder().slot_waits += 1;
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot?,
                    () = tokio::time::sleep_until(ctx.end.into()) => break,
                    () = ctx.stop.cancelled() => break,
                }
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            ctx.send_one(seq, intended, true).await;
            drop(slot);
        });
        seq += 1;
    }
    // Drain: every slot back means every request answered (or timed out).
    let all = u32::try_from(max_in_flight)?;
    drop(slots.acquire_many(all).await?);
    Ok(())
}

/// One line per second on stderr while the run lasts.
async fn progress(ctx: Arc<Ctx>, start: Instant) {
    let mut ticker = tokio::time::interval_at((start + Duration::from_secs(1)).into(), Duration::from_secs(1));
    let mut last = start;
    loop {
        let now = ticker.tick().await.into_std();
        let interval = ctx.recorder().take_interval();
        let secs = now.saturating_duration_since(last).as_secs_f64().max(1e-3);
        last = now;
        let c = &interval.counts;
        let non_200: u64 = c.other_status.values().sum();
        let phase = if now <= ctx.measure_start {
            " [warm-up]"
        } else if now > ctx.end {
            " [draining]"
        } else {
            ""
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "{:>5.0}s  sent {:>7.0}/s  acked {:>7.0}/s  in flight {:>5}  non-200 {:>4}  errors {:>4}  p50 {:>7.2}ms  p99 {:>7.2}ms{phase}",
            now.saturating_duration_since(start).as_secs_f64(),
            c.sent as f64 / secs,
            c.acknowledged as f64 / secs,
            interval.in_flight,
            non_200,
            c.errors,
            interval.latency.p50_ms,
            interval.latency.p99_ms,
        );
    }
}

/// A run id that differs between runs, without a random-number crate: the standard
/// library's randomly keyed hasher over the clock and the process id.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.write_u32(std::process::id());
    h.finish()
}
