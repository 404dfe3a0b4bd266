//! `switchboard-loadgen webhook-receiver`: a fast receiver of Switchboard's outgoing
//! webhooks (Standard Webhooks), for benchmarks.
//!
//! Every POST is answered with the configured status (200 by default). With a secret
//! (`--secret` or `PUT /secret`), each request's signature is verified with the
//! specification's reference library (`standardwebhooks`), not the server's signer;
//! a request that does not verify is answered 401 and counted. Deliveries are counted,
//! duplicates found by `webhook-id`, and each delivery's latency is its receipt time
//! minus the body's `timestamp` (when the change was recorded, to the millisecond, in
//! the change's own transaction: so the latency is an upper bound of commit → receipt).
//! `GET /stats`, `POST /reset` (counts only) and `PUT /secret` (the body is the new
//! `whsec_…`; counts are reset too).
//!
//! Everything recorded sits behind one mutex, taken once per request.

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::Args;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use standardwebhooks::Webhook;
use tokio::net::TcpListener;

use crate::stats::{LatencySummary, new_histogram};

/// Bodies larger than this are refused (Switchboard's payloads are a few kB).
const MAX_BODY: usize = 1 << 20;
/// Seconds of history in `per_second`.
const PER_SECOND_WINDOW: u64 = 60;

#[derive(Debug, Args)]
pub struct WebhookReceiverArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed on stderr).
    #[arg(long, default_value = "127.0.0.1:9910")]
    pub listen: String,

    /// The endpoint's secret (`whsec_…`): every request's signature is verified with it.
    /// Unset: nothing is verified until `PUT /secret`.
    #[arg(long, env = "SWITCHBOARD_RECEIVER_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// The status every delivery is answered with (a failure status makes the server
    /// retry; 410 disables the endpoint).
    #[arg(long, default_value_t = 200)]
    pub status: u16,

    /// No per-second lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `GET /stats`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stats {
    /// Every POST, whatever the answer.
    pub requests: u64,
    /// Deliveries answered with the configured status (signature verified when a secret
    /// is set).
    pub received: u64,
    /// Deliveries whose `webhook-id` was seen before (a retry or a replay).
    pub duplicates: u64,
    /// Distinct `webhook-id`s received.
    pub unique: u64,
    /// Requests whose signature did not verify (answered 401), or without the headers.
    pub bad_signature: u64,
    /// Whether signatures are being verified (a secret is set).
    pub verifying: bool,
    /// Received deliveries by the body's `type`.
    pub by_type: BTreeMap<String, u64>,
    /// Receipt − the body's `timestamp`, over the received deliveries that carried one.
    pub latency: Option<LatencySummary>,
    /// Unix time (µs) of the first and last received delivery since the last reset.
    pub first_at_us: Option<u64>,
    pub last_at_us: Option<u64>,
    /// Unix time (µs) of the last reset (or start) and of this answer.
    pub since_us: u64,
    pub now_us: u64,
    /// Unix second of `per_second[0]`.
    pub per_second_start: u64,
    /// Received deliveries per second for the last 60 seconds, oldest first; the last
    /// entry is the current, unfinished second.
    pub per_second: Vec<u64>,
}

struct State {
    since_us: u64,
    requests: u64,
    received: u64,
    duplicates: u64,
    bad_signature: u64,
    ids: HashSet<Box<str>>,
    by_type: BTreeMap<String, u64>,
    latency: Histogram<u64>,
    first_at_us: Option<u64>,
    last_at_us: Option<u64>,
    /// `(second, count)`, indexed by `second % PER_SECOND_WINDOW`.
    per_second: Vec<(u64, u64)>,
}

impl State {
    fn new(now_us: u64) -> Result<Self> {
        Ok(Self {
            since_us: now_us,
            requests: 0,
            received: 0,
            duplicates: 0,
            bad_signature: 0,
            ids: HashSet::new(),
            by_type: BTreeMap::new(),
            latency: new_histogram()?,
            first_at_us: None,
            last_at_us: None,
            per_second: vec![(0, 0); PER_SECOND_WINDOW as usize],
        })
    }

    fn count_second(&mut self, second: u64) {
        let slot = &mut self.per_second[(second % PER_SECOND_WINDOW) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += 1;
    }

    fn stats(&self, now_us: u64, verifying: bool) -> Stats {
        let now = now_us / 1_000_000;
        let start = now.saturating_sub(PER_SECOND_WINDOW - 1);
        let per_second = (start..=now)
            .map(|s| {
                let slot = self.per_second[(s % PER_SECOND_WINDOW) as usize];
                if slot.0 == s { slot.1 } else { 0 }
            })
            .collect();
        Stats {
            requests: self.requests,
            received: self.received,
            duplicates: self.duplicates,
            unique: self.ids.len() as u64,
            bad_signature: self.bad_signature,
            verifying,
            by_type: self.by_type.clone(),
            latency: (!self.latency.is_empty()).then(|| LatencySummary::from_histogram(&self.latency)),
            first_at_us: self.first_at_us,
            last_at_us: self.last_at_us,
            since_us: self.since_us,
            now_us,
            per_second_start: start,
            per_second,
        }
    }
}

/// What the receiver reads from a body; the rest is skipped.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

pub struct Receiver {
    status: StatusCode,
    verifier: Mutex<Option<Arc<Webhook>>>,
    state: Mutex<State>,
}

impl Receiver {
    pub fn new(status: StatusCode, secret: Option<&str>) -> Result<Self> {
        let verifier = secret.map(verifier).transpose()?;
        Ok(Self { status, verifier: Mutex::new(verifier), state: Mutex::new(State::new(unix_micros())?) })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn verifier(&self) -> Option<Arc<Webhook>> {
        self.verifier.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn stats(&self) -> Stats {
        let verifying = self.verifier().is_some();
        self.state().stats(unix_micros(), verifying)
    }

    pub fn reset(&self) -> Result<()> {
        *self.state() = State::new(unix_micros())?;
        Ok(())
    }

    pub fn set_secret(&self, secret: &str) -> Result<()> {
        let v = verifier(secret)?;
        *self.verifier.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(v);
        self.reset()
    }

    /// Handles one delivery received at `at_us`; the status to answer.
    fn accept(&self, headers: &hyper::HeaderMap, body: &[u8], at_us: u64) -> StatusCode {
        let verified = self.verifier().is_none_or(|v| v.verify(body, headers).is_ok());
        let id = headers.get("webhook-id").and_then(|v| v.to_str().ok());
        let envelope: Option<Envelope> = serde_json::from_slice(body).ok();
        let recorded_us = envelope.as_ref().and_then(|e| e.timestamp.as_deref()).and_then(rfc3339_micros);
        let mut state = self.state();
        state.requests += 1;
        let Some(id) = id.filter(|_| verified) else {
            state.bad_signature += 1;
            return StatusCode::UNAUTHORIZED;
        };
        if !self.status.is_success() {
            return self.status;
        }
        state.received += 1;
        if !state.ids.insert(id.into()) {
            state.duplicates += 1;
        }
        let kind = envelope.and_then(|e| e.kind).unwrap_or_default();
        match state.by_type.get_mut(&kind) {
            Some(n) => *n += 1,
            None => {
                state.by_type.insert(kind, 1);
            }
        }
        if let Some(recorded) = recorded_us {
            // A clock read before the recorded millisecond ended counts as 1 µs.
            let _ = state.latency.record(at_us.saturating_sub(recorded).max(1));
        }
        state.first_at_us.get_or_insert(at_us);
        state.last_at_us = Some(at_us);
        state.count_second(at_us / 1_000_000);
        self.status
    }
}

fn verifier(secret: &str) -> Result<Arc<Webhook>> {
    Ok(Arc::new(Webhook::new(secret.trim()).map_err(|e| anyhow::anyhow!("unusable webhook secret: {e}"))?))
}

/// `2026-12-08T08:00:00.123Z` (any offset, any fraction) → Unix µs.
fn rfc3339_micros(s: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    u64::try_from(t.timestamp_micros()).ok()
}

fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)).unwrap_or(0)
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

async fn handle(receiver: &Receiver, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let at_us = unix_micros();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return respond(StatusCode::BAD_REQUEST, r#"{"error":"the body could not be read"}"#),
    };
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/stats") => match serde_json::to_vec(&receiver.stats()) {
            Ok(b) => respond(StatusCode::OK, b),
            Err(e) => {
                respond(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({"error": e.to_string()}).to_string())
            }
        },
        (&Method::POST, "/reset") => match receiver.reset() {
            Ok(()) => respond(StatusCode::OK, r#"{"reset":true}"#),
            Err(e) => {
                respond(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({"error": e.to_string()}).to_string())
            }
        },
        (&Method::PUT, "/secret") => match receiver.set_secret(&String::from_utf8_lossy(&body)) {
            Ok(()) => respond(StatusCode::OK, r#"{"verifying":true}"#),
            Err(e) => respond(StatusCode::BAD_REQUEST, serde_json::json!({"error": e.to_string()}).to_string()),
        },
        (&Method::GET, "/" | "/healthz") => respond(StatusCode::OK, r#"{"mock":"webhook-receiver"}"#),
        (&Method::POST, _) => {
            let status = receiver.accept(&parts.headers, &body, at_us);
            respond(status, "{}")
        }
        _ => respond(StatusCode::METHOD_NOT_ALLOWED, r#"{"error":"POST a delivery, or GET /stats"}"#),
    }
}

/// Serves until the listener fails or the runtime ends.
pub async fn serve(listener: TcpListener, receiver: Arc<Receiver>) {
    crate::mock_graph::serve_http1(
        "webhook-receiver",
        listener,
        receiver,
        |r, req| async move { handle(&r, req).await },
    )
    .await;
}

pub async fn run(args: WebhookReceiverArgs) -> Result<()> {
    let status = StatusCode::from_u16(args.status).context("--status is not an HTTP status")?;
    let listener =
        TcpListener::bind(&args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let receiver = Arc::new(Receiver::new(status, args.secret.as_deref())?);
    eprintln!(
        "webhook-receiver listening on http://{addr} (answers {status}, {}); GET /stats, POST /reset, PUT /secret",
        if args.secret.is_some() { "verifying signatures" } else { "not verifying until PUT /secret" }
    );
    let progress = (!args.quiet).then(|| tokio::spawn(progress(receiver.clone())));
    tokio::select! {
        () = serve(listener, receiver.clone()) => {}
        signal = tokio::signal::ctrl_c() => signal.context("cannot wait for Ctrl-C")?,
        () = terminated() => {}
    }
    if let Some(p) = progress {
        p.abort();
    }
    let s = receiver.stats();
    eprintln!(
        "webhook-receiver: {} received ({} duplicates), {} bad signatures since the last reset",
        s.received, s.duplicates, s.bad_signature
    );
    Ok(())
}

/// Resolves on SIGTERM (`kill`), so a scripted stop still prints the totals.
#[cfg(unix)]
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut sigterm) => {
            sigterm.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}

/// One line a second on stderr while deliveries arrive.
async fn progress(receiver: Arc<Receiver>) {
    let start = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut last = 0u64;
    let mut was_busy = false;
    loop {
        ticker.tick().await;
        let now = receiver.state().received;
        let d = if now >= last { now - last } else { now };
        last = now;
        let busy = d > 0;
        if busy || was_busy {
            let _ =
                writeln!(std::io::stderr().lock(), "{:>5}s  received {d:>6}/s  total {now}", start.elapsed().as_secs());
        }
        was_busy = busy;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn signed(id: &str, body: &str) -> hyper::HeaderMap {
        let wh = Webhook::new(SECRET).unwrap();
        let ts = i64::try_from(unix_micros() / 1_000_000).unwrap();
        let sig = wh.sign(id, ts, body.as_bytes()).unwrap();
        let mut h = hyper::HeaderMap::new();
        h.insert("webhook-id", id.parse().unwrap());
        h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        h.insert("webhook-signature", sig.parse().unwrap());
        h
    }

    #[test]
    fn counts_duplicates_latency_and_bad_signatures() {
        let r = Receiver::new(StatusCode::OK, Some(SECRET)).unwrap();
        let body = r#"{"type":"message.created","timestamp":"2026-12-08T08:00:00.123Z","version":1,"data":{}}"#;
        let recorded = rfc3339_micros("2026-12-08T08:00:00.123Z").unwrap();
        assert_eq!(r.accept(&signed("msg_1", body), body.as_bytes(), recorded + 5_000), StatusCode::OK);
        assert_eq!(r.accept(&signed("msg_1", body), body.as_bytes(), recorded + 7_000), StatusCode::OK);
        let tampered = body.replace("created", "updated");
        assert_eq!(r.accept(&signed("msg_2", body), tampered.as_bytes(), recorded), StatusCode::UNAUTHORIZED);
        let s = r.stats();
        assert_eq!((s.requests, s.received, s.duplicates, s.unique, s.bad_signature), (3, 2, 1, 1, 1));
        assert_eq!(s.by_type.get("message.created"), Some(&2));
        let l = s.latency.unwrap();
        assert_eq!(l.count, 2);
        assert!((l.p50_ms - 5.0).abs() < 0.1 && (l.max_ms - 7.0).abs() < 0.1, "{l:?}");
    }

    #[test]
    fn reads_rfc3339_to_the_microsecond() {
        assert_eq!(rfc3339_micros("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(rfc3339_micros("soon"), None);
    }
}
