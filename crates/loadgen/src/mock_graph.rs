//! `switchboard-loadgen mock-graph`: a fast stand-in for Meta's Graph API send endpoint,
//! for benchmarks.
//!
//! `POST …/{version}/{phone_number_id}/messages` answers like Meta (a fresh
//! `wamid.MOCK.<n>` each, `{"success":true}` for a mark-as-read), optionally late or with
//! a fraction of 500s. Every send is counted and kept in a bounded ring, and each
//! recipient's texts of the form `load <run> <n>` are checked for order (`n` must grow).
//! `GET /stats`, `POST /reset` and `GET /recent` expose what was received.
//! With `--status-webhook`, each accepted send is followed, like Meta does, by a signed
//! `sent` status webhook to the server, carrying the send's `biz_opaque_callback_data`.
//!
//! Everything recorded sits behind one mutex, taken once per request: uncontended on the
//! default single thread, and a few hundred nanoseconds against a request's ~10 µs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::duration::parse_duration;

/// Seconds of history in `per_second`.
pub const PER_SECOND_WINDOW: usize = 60;
/// Bodies larger than this are refused (Meta's sends are a few kB at most).
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, Args)]
pub struct MockGraphArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed on stderr).
    #[arg(long, default_value = "127.0.0.1:9900")]
    pub listen: String,

    /// Wait this long before answering each request, e.g. 0ms, 50ms, 1s.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub latency: Duration,

    /// Fraction of sends answered 500 with Meta's error 131000 (retryable), 0.0 to 1.0.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub fail_rate: f64,

    /// Most recent requests kept for `GET /recent`.
    #[arg(long, default_value_t = 100_000)]
    pub keep: usize,

    /// Post Meta's `sent` status webhook for every accepted send to this server (base
    /// URL; the status goes to <URL>/webhooks/whatsapp). Repeat for several servers:
    /// statuses go round-robin, and one not answered 200 is tried on the next URL.
    #[arg(long = "status-webhook", value_name = "URL")]
    pub status_webhooks: Vec<String>,

    /// With --status-webhook: how long after answering a send its status is posted.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub status_delay: Duration,

    /// With --status-webhook: how long a status not answered 200 is retried before it
    /// is given up (counted as `statuses_given_up`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub status_retry_for: Duration,

    /// With --status-webhook: the Meta app secret the statuses are signed with.
    #[arg(long, env = "SWITCHBOARD_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,

    /// No per-second lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("not a number: {e}"))?;
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err("must be between 0.0 and 1.0".to_owned()) }
}

/// `GET /stats`. The `sends` benchmark reads it back with the same type.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    /// Sends answered 200 (mark-as-read and typing indicators not included).
    pub received: u64,
    /// Every POST to a `/messages` path, whatever the answer.
    pub requests: u64,
    /// Sends answered 500 because of `--fail-rate`.
    pub failed: u64,
    /// Mark-as-read (and typing-indicator) requests, answered `{"success":true}`.
    pub read: u64,
    /// Requests answered 400 (not JSON, or no `to`).
    pub invalid: u64,
    /// Texts `load <run> <n>` whose `n` was lower than the last one seen for that `to`.
    pub out_of_order: u64,
    /// Texts `load <run> <n>` whose `n` equalled the last one seen for that `to`.
    pub repeated: u64,
    /// Distinct recipients among the received sends.
    pub recipients: u64,
    /// Unix time (µs) of the first and last received send since the last reset.
    pub first_at_us: Option<u64>,
    pub last_at_us: Option<u64>,
    /// Unix time (µs) of the last reset (or start) and of this answer.
    pub since_us: u64,
    pub now_us: u64,
    /// Unix second of `per_second[0]`.
    pub per_second_start: u64,
    /// Received sends per second for the last 60 seconds, oldest first; the last entry
    /// is the current, unfinished second.
    pub per_second: Vec<u64>,
    /// With `?by_to=1`: received sends per `to` (a leading `+` dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_to: Option<BTreeMap<String, u64>>,
    /// With `?by_to=1`: `out_of_order` per `to`, non-zero entries only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_order_by_to: Option<BTreeMap<String, u64>>,
    /// With `--status-webhook`: status webhooks answered 200.
    #[serde(default)]
    pub statuses_posted: u64,
    /// With `--status-webhook`: status posts not answered 200 (each tried again on the
    /// next URL).
    #[serde(default)]
    pub statuses_refused: u64,
    /// With `--status-webhook`: statuses never answered 200 within `--status-retry-for`.
    #[serde(default)]
    pub statuses_given_up: u64,
}

/// One request, as kept for `GET /recent`.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub at_us: u64,
    pub status: u16,
    pub to: Box<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Box<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wamid: Option<String>,
}

/// What a `load <run> <n>` text meant for its recipient's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first numbered text for this recipient (or for this run).
    First,
    InOrder,
    /// Lower than the last number seen.
    OutOfOrder,
    /// The same number again.
    Repeated,
    /// Not a `load <run> <n>` text (or no text): counted, not ordered.
    Untracked,
}

#[derive(Debug, Default)]
struct Recipient {
    received: u64,
    out_of_order: u64,
    /// The run and number of the last numbered text.
    last: Option<(Box<str>, u64)>,
}

/// Per-recipient counts and order checking: one map entry per `to`.
#[derive(Debug, Default)]
pub struct OrderTracker {
    recipients: HashMap<Box<str>, Recipient>,
    out_of_order: u64,
    repeated: u64,
}

/// `load <run> <n>` → `(run, n)`.
pub fn parse_load_text(text: &str) -> Option<(&str, u64)> {
    let mut parts = text.split_ascii_whitespace();
    if parts.next()? != "load" {
        return None;
    }
    let run = parts.next()?;
    let n = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((run, n))
}

impl OrderTracker {
    /// Counts one received send to `to` and checks its text's place in the order.
    /// `+1555…` and `1555…` are the same recipient (Meta normalises `to` the same way).
    pub fn observe(&mut self, to: &str, text: Option<&str>) -> Seen {
        let to = to.strip_prefix('+').unwrap_or(to);
        let recipient = match self.recipients.get_mut(to) {
            Some(r) => r,
            None => self.recipients.entry(to.into()).or_default(),
        };
        recipient.received += 1;
        let Some((run, n)) = text.and_then(parse_load_text) else {
            return Seen::Untracked;
        };
        let seen = match &mut recipient.last {
            Some((last_run, last_n)) if **last_run == *run => {
                let seen = match n.cmp(last_n) {
                    std::cmp::Ordering::Greater => Seen::InOrder,
                    std::cmp::Ordering::Equal => Seen::Repeated,
                    std::cmp::Ordering::Less => Seen::OutOfOrder,
                };
                // Keep the highest number: one late message counts once, not again for
                // each of its successors.
                *last_n = (*last_n).max(n);
                seen
            }
            last => {
                *last = Some((run.into(), n));
                Seen::First
            }
        };
        match seen {
            Seen::OutOfOrder => {
                recipient.out_of_order += 1;
                self.out_of_order += 1;
            }
            Seen::Repeated => self.repeated += 1,
            _ => {}
        }
        seen
    }

    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    pub fn repeated(&self) -> u64 {
        self.repeated
    }

    pub fn recipients(&self) -> u64 {
        self.recipients.len() as u64
    }

    pub fn by_to(&self) -> BTreeMap<String, u64> {
        self.recipients.iter().map(|(to, r)| (to.to_string(), r.received)).collect()
    }

    pub fn out_of_order_by_to(&self) -> BTreeMap<String, u64> {
        self.recipients
            .iter()
            .filter(|(_, r)| r.out_of_order > 0)
            .map(|(to, r)| (to.to_string(), r.out_of_order))
            .collect()
    }
}

/// Counts per Unix second for the last [`PER_SECOND_WINDOW`] seconds.
#[derive(Debug)]
struct PerSecond {
    /// `(second, count)`, indexed by `second % PER_SECOND_WINDOW`.
    slots: [(u64, u64); PER_SECOND_WINDOW],
}

impl Default for PerSecond {
    fn default() -> Self {
        Self { slots: [(0, 0); PER_SECOND_WINDOW] }
    }
}

impl PerSecond {
    fn add(&mut self, second: u64) {
        let slot = &mut self.slots[(second % PER_SECOND_WINDOW as u64) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += 1;
    }

    /// `(first second, counts)` for the window ending with `now`.
    fn window(&self, now: u64) -> (u64, Vec<u64>) {
        let start = now.saturating_sub(PER_SECOND_WINDOW as u64 - 1);
        let counts = (start..=now)
            .map(|s| {
                let slot = self.slots[(s % PER_SECOND_WINDOW as u64) as usize];
                if slot.0 == s { slot.1 } else { 0 }
            })
            .collect();
        (start, counts)
    }
}

#[derive(Debug, Default)]
struct State {
    since_us: u64,
    requests: u64,
    received: u64,
    failed: u64,
    read: u64,
    invalid: u64,
    first_at_us: Option<u64>,
    last_at_us: Option<u64>,
    per_second: PerSecond,
    order: OrderTracker,
    recent: VecDeque<Record>,
    statuses_posted: u64,
    statuses_refused: u64,
    statuses_given_up: u64,
}

impl State {
    fn new(now_us: u64) -> Self {
        Self { since_us: now_us, ..Self::default() }
    }

    fn stats(&self, now_us: u64, by_to: bool) -> Stats {
        let (per_second_start, per_second) = self.per_second.window(now_us / 1_000_000);
        Stats {
            received: self.received,
            requests: self.requests,
            failed: self.failed,
            read: self.read,
            invalid: self.invalid,
            out_of_order: self.order.out_of_order(),
            repeated: self.order.repeated(),
            recipients: self.order.recipients(),
            first_at_us: self.first_at_us,
            last_at_us: self.last_at_us,
            since_us: self.since_us,
            now_us,
            per_second_start,
            per_second,
            by_to: by_to.then(|| self.order.by_to()),
            out_of_order_by_to: by_to.then(|| self.order.out_of_order_by_to()),
            statuses_posted: self.statuses_posted,
            statuses_refused: self.statuses_refused,
            statuses_given_up: self.statuses_given_up,
        }
    }
}

/// The mock's state and settings, shared by every connection.
pub struct Mock {
    latency: Duration,
    fail_rate: f64,
    keep: usize,
    /// The next wamid number; starts at the Unix time in µs so numbers never repeat
    /// across restarts (the server keeps wamids unique).
    next_wamid: AtomicU64,
    state: Mutex<State>,
    statuses: Option<StatusWebhooks>,
}

/// Where and how `sent` statuses are posted (`--status-webhook`).
pub struct StatusWebhooks {
    /// `<URL>/webhooks/whatsapp` for each `--status-webhook`.
    urls: Vec<reqwest::Url>,
    delay: Duration,
    retry_for: Duration,
    mac: Hmac<Sha256>,
    /// Round-robin position: the URL the next status tries first.
    next: AtomicUsize,
    client: reqwest::Client,
}

impl StatusWebhooks {
    pub fn new(base_urls: &[String], app_secret: &str, delay: Duration, retry_for: Duration) -> Result<Self> {
        if base_urls.is_empty() {
            bail!("--status-webhook needs at least one URL");
        }
        let urls = base_urls
            .iter()
            .map(|u| {
                reqwest::Url::parse(u)
                    .and_then(|u| u.join("/webhooks/whatsapp"))
                    .with_context(|| format!("invalid --status-webhook {u:?}"))
            })
            .collect::<Result<_>>()?;
        let mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
            .map_err(|e| anyhow::anyhow!("app secret unusable as an HMAC key: {e}"))?;
        let client = reqwest::Client::builder()
            .http1_only()
            .no_proxy()
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { urls, delay, retry_for, mac, next: AtomicUsize::new(0), client })
    }

    fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// A send answered 200, as its status webhook reports it.
#[derive(Debug)]
struct Accepted {
    to: String,
    wamid: String,
    callback_data: Option<String>,
}

/// Meta's `sent` status webhook for `sent`, from the number `phone_number_id`.
fn status_body(phone_number_id: &str, sent: &Accepted, unix_secs: u64) -> Vec<u8> {
    let mut status = serde_json::json!({
        "id": sent.wamid,
        "status": "sent",
        "timestamp": unix_secs.to_string(),
        "recipient_id": sent.to.strip_prefix('+').unwrap_or(&sent.to),
    });
    if let Some(data) = &sent.callback_data {
        status["biz_opaque_callback_data"] = data.as_str().into();
    }
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "100000000000000", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100", "phone_number_id": phone_number_id},
            "statuses": [status],
        }}]}],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// What a send request asked for; unknown fields are skipped.
#[derive(Debug, Deserialize)]
struct SendRequest {
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    text: Option<TextPart>,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TextPart {
    #[serde(default)]
    body: Option<String>,
}

impl Mock {
    pub fn new(latency: Duration, fail_rate: f64, keep: usize) -> Self {
        let now = unix_micros();
        Self {
            latency,
            fail_rate,
            keep,
            next_wamid: AtomicU64::new(now),
            state: Mutex::new(State::new(now)),
            statuses: None,
        }
    }

    /// Follows every accepted send with its `sent` status webhook.
    #[must_use]
    pub fn with_statuses(mut self, statuses: StatusWebhooks) -> Self {
        self.statuses = Some(statuses);
        self
    }

    /// Posts `sent`'s status after the configured delay, round-robin over the URLs; a
    /// post not answered 200 goes to the next URL (after a pause once every URL was
    /// tried), as Meta retries until `--status-retry-for` runs out.
    async fn post_status(self: Arc<Self>, phone_number_id: String, sent: Accepted) {
        let Some(statuses) = &self.statuses else { return };
        tokio::time::sleep(statuses.delay).await;
        let body = Bytes::from(status_body(&phone_number_id, &sent, unix_micros() / 1_000_000));
        let signature = statuses.sign(&body);
        let deadline = tokio::time::Instant::now() + statuses.retry_for;
        let first = statuses.next.fetch_add(1, Ordering::Relaxed);
        for attempt in 0.. {
            let url = &statuses.urls[(first + attempt) % statuses.urls.len()];
            let answer = statuses
                .client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header("x-hub-signature-256", &signature)
                .body(body.clone())
                .send()
                .await;
            if answer.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                self.state().statuses_posted += 1;
                return;
            }
            self.state().statuses_refused += 1;
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            if (attempt + 1) % statuses.urls.len() == 0 {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        self.state().statuses_given_up += 1;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn stats(&self, by_to: bool) -> Stats {
        let now = unix_micros();
        self.state().stats(now, by_to)
    }

    pub fn reset(&self) {
        let now = unix_micros();
        *self.state() = State::new(now);
    }

    /// The most recent `limit` requests, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<Record> {
        let state = self.state();
        let skip = state.recent.len().saturating_sub(limit);
        state.recent.iter().skip(skip).cloned().collect()
    }

    fn keep(&self, state: &mut State, record: Record) {
        if self.keep == 0 {
            return;
        }
        if state.recent.len() >= self.keep {
            state.recent.pop_front();
        }
        state.recent.push_back(record);
    }

    /// Whether send number `n` gets a 500: a fixed pseudo-random pick per number.
    fn fails(&self, n: u64) -> bool {
        self.fail_rate > 0.0 && ((splitmix64(n) >> 11) as f64 / (1u64 << 53) as f64) < self.fail_rate
    }

    /// Handles one `/messages` body received at `at_us`.
    #[cfg(test)]
    fn on_message(&self, body: &[u8], at_us: u64) -> (StatusCode, String) {
        let (status, body, _) = self.accept(body, at_us);
        (status, body)
    }

    /// Handles one `/messages` body received at `at_us`; a send answered 200 also
    /// comes back as `Accepted`.
    fn accept(&self, body: &[u8], at_us: u64) -> (StatusCode, String, Option<Accepted>) {
        let request: SendRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                let mut state = self.state();
                state.requests += 1;
                state.invalid += 1;
                return (StatusCode::BAD_REQUEST, meta_error(100, &format!("Invalid parameter: {e}")), None);
            }
        };
        if request.status.is_some() {
            let mut state = self.state();
            state.requests += 1;
            state.read += 1;
            return (StatusCode::OK, r#"{"success":true}"#.to_owned(), None);
        }
        let to = match request.to {
            Some(to) if !to.is_empty() => to,
            _ => {
                let mut state = self.state();
                state.requests += 1;
                state.invalid += 1;
                return (StatusCode::BAD_REQUEST, meta_error(100, "The parameter to is required."), None);
            }
        };
        let text = request.text.and_then(|t| t.body);
        let n = self.next_wamid.fetch_add(1, Ordering::Relaxed);
        let failed = self.fails(n);
        let mut state = self.state();
        state.requests += 1;
        if failed {
            state.failed += 1;
            self.keep(
                &mut state,
                Record {
                    at_us,
                    status: 500,
                    to: to.into_boxed_str(),
                    text: text.map(String::into_boxed_str),
                    wamid: None,
                },
            );
            drop(state);
            return (StatusCode::INTERNAL_SERVER_ERROR, meta_error(131_000, "Something went wrong"), None);
        }
        state.received += 1;
        state.first_at_us.get_or_insert(at_us);
        state.last_at_us = Some(at_us);
        state.per_second.add(at_us / 1_000_000);
        state.order.observe(&to, text.as_deref());
        let response = send_response(&to, n);
        let wamid = format!("wamid.MOCK.{n}");
        let accepted = self.statuses.is_some().then(|| Accepted {
            to: to.clone(),
            wamid: wamid.clone(),
            callback_data: request.biz_opaque_callback_data,
        });
        self.keep(
            &mut state,
            Record {
                at_us,
                status: 200,
                to: to.into_boxed_str(),
                text: text.map(String::into_boxed_str),
                wamid: Some(wamid),
            },
        );
        (StatusCode::OK, response, accepted)
    }
}

/// Meta's answer to a send: the recipient as given and normalised, and the new wamid.
pub fn send_response(to: &str, wamid_n: u64) -> String {
    let input = json_string(to);
    let wa_id = json_string(to.strip_prefix('+').unwrap_or(to));
    format!(
        r#"{{"messaging_product":"whatsapp","contacts":[{{"input":{input},"wa_id":{wa_id}}}],"messages":[{{"id":"wamid.MOCK.{wamid_n}"}}]}}"#
    )
}

/// A Graph API error body, `{"error":{"message":"(#code) title",…}}`.
pub fn meta_error(code: u32, title: &str) -> String {
    let message = json_string(&format!("(#{code}) {title}"));
    format!(
        r#"{{"error":{{"message":{message},"type":"OAuthException","code":{code},"error_data":{{"messaging_product":"whatsapp","details":"mock-graph"}},"fbtrace_id":"MOCK"}}}}"#
    )
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Whether `path` ends in `/{version}/{phone_number_id}/messages` (any prefix allowed,
/// as the server's Graph base URL may carry a path).
fn is_messages_path(path: &str) -> bool {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    segments.next() == Some("messages")
        && segments.next().is_some_and(|id| !id.is_empty())
        && segments.next().is_some_and(|v| v.starts_with('v'))
}

/// The `{phone_number_id}` of a `…/{version}/{phone_number_id}/messages` path.
fn phone_number_id_of(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').nth(1).unwrap_or_default()
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn flag(query: &str, name: &str) -> bool {
    matches!(query_param(query, name), Some("" | "1" | "true" | "yes"))
}

fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)).unwrap_or(0)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn json_response<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => respond(StatusCode::OK, body),
        Err(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, meta_error(1, &e.to_string())),
    }
}

async fn handle(mock: &Arc<Mock>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let at_us = unix_micros();
    let query = req.uri().query().unwrap_or("");
    let response = match (req.method(), req.uri().path()) {
        (&Method::POST, path) if is_messages_path(path) => {
            let phone_number_id = phone_number_id_of(path).to_owned();
            let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return respond(StatusCode::BAD_REQUEST, meta_error(100, "The body could not be read."));
                }
            };
            let (status, body, accepted) = mock.accept(&body, at_us);
            if let Some(accepted) = accepted {
                tokio::spawn(mock.clone().post_status(phone_number_id, accepted));
            }
            respond(status, body)
        }
        (&Method::GET, "/stats") => json_response(&mock.stats(flag(query, "by_to"))),
        (&Method::GET, "/recent") => {
            let limit = query_param(query, "limit").and_then(|l| l.parse().ok()).unwrap_or(100);
            json_response(&mock.recent(limit))
        }
        (&Method::POST, "/reset") => {
            mock.reset();
            respond(StatusCode::OK, r#"{"reset":true}"#)
        }
        (&Method::GET, "/" | "/healthz") => respond(StatusCode::OK, r#"{"mock":"graph"}"#),
        _ => respond(
            StatusCode::BAD_REQUEST,
            meta_error(100, "Unsupported request - mock-graph serves POST …/messages only"),
        ),
    };
    if !mock.latency.is_zero() {
        tokio::time::sleep(mock.latency).await;
    }
    response
}

/// Serves until the listener fails or the runtime ends.
pub async fn serve(listener: TcpListener, mock: Arc<Mock>) {
    serve_http1("mock-graph", listener, mock, |mock, req| async move { handle(&mock, req).await }).await;
}

/// Serves HTTP/1.1 on `listener` until it fails or the runtime ends, answering each request
/// with `handle(state, request)`; `name` prefixes the accept errors it reports.
pub async fn serve_http1<S, F, Fut>(name: &'static str, listener: TcpListener, state: Arc<S>, handle: F)
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, usually: let some connections close.
                eprintln!("{name}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let reply = handle(state.clone(), req);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

pub async fn run(args: MockGraphArgs) -> Result<()> {
    if args.latency > Duration::from_secs(600) {
        bail!("--latency is at most 10m");
    }
    let listener =
        TcpListener::bind(&args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut mock = Mock::new(args.latency, args.fail_rate, args.keep);
    if !args.status_webhooks.is_empty() {
        let Some(secret) = &args.app_secret else {
            bail!("--status-webhook needs --app-secret (or SWITCHBOARD_APP_SECRET)");
        };
        mock = mock.with_statuses(StatusWebhooks::new(
            &args.status_webhooks,
            secret,
            args.status_delay,
            args.status_retry_for,
        )?);
    }
    let mock = Arc::new(mock);
    eprintln!(
        "mock-graph listening on http://{addr} (latency {:?}, fail rate {}, {} status webhook URLs); GET /stats, POST /reset, GET /recent",
        args.latency,
        args.fail_rate,
        args.status_webhooks.len()
    );
    let progress = (!args.quiet).then(|| tokio::spawn(progress(mock.clone())));
    tokio::select! {
        () = serve(listener, mock.clone()) => {}
        signal = tokio::signal::ctrl_c() => signal.context("cannot wait for Ctrl-C")?,
        () = terminated() => {}
    }
    if let Some(p) = progress {
        p.abort();
    }
    let s = mock.stats(false);
    eprintln!(
        "mock-graph: {} received, {} failed (injected), {} read, {} invalid, {} out of order since the last reset",
        s.received, s.failed, s.read, s.invalid, s.out_of_order
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

/// One line a second on stderr while requests arrive.
async fn progress(mock: Arc<Mock>) {
    let start = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut last = (0u64, 0u64, 0u64, 0u64);
    let mut was_busy = false;
    loop {
        ticker.tick().await;
        let now = {
            let s = mock.state();
            (s.requests, s.received, s.failed, s.read)
        };
        // After a reset the counters start again from zero.
        let delta = |n: u64, l: u64| if n >= l { n - l } else { n };
        let d = (delta(now.0, last.0), delta(now.1, last.1), delta(now.2, last.2), delta(now.3, last.3));
        last = now;
        let busy = d.0 > 0;
        if busy || was_busy {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "{:>5}s  received {:>6}/s  failed {:>5}/s  read {:>5}/s  total received {}",
                start.elapsed().as_secs(),
                d.1,
                d.2,
                d.3,
                now.1
            );
        }
        was_busy = busy;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn send_response_has_meta_shape() {
        let v: Value = serde_json::from_str(&send_response("+16505551234", 42)).unwrap();
        assert_eq!(
            v,
            json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
                "messages": [{"id": "wamid.MOCK.42"}],
            })
        );
        // Anything odd in `to` is escaped, not spliced in.
        let v: Value = serde_json::from_str(&send_response("a\"b\\", 1)).unwrap();
        assert_eq!(v["contacts"][0]["input"], "a\"b\\");
    }

    #[test]
    fn meta_error_has_meta_shape() {
        let v: Value = serde_json::from_str(&meta_error(131_000, "Something \"went\" wrong")).unwrap();
        assert_eq!(v["error"]["code"], 131_000);
        assert_eq!(v["error"]["message"], "(#131000) Something \"went\" wrong");
        assert_eq!(v["error"]["type"], "OAuthException");
    }

    fn send(mock: &Mock, body: Value) -> (StatusCode, Value) {
        let (status, body) = mock.on_message(body.to_string().as_bytes(), unix_micros());
        (status, serde_json::from_str(&body).unwrap())
    }

    #[test]
    fn sends_reads_and_garbage_are_answered_and_counted() {
        let mock = Mock::new(Duration::ZERO, 0.0, 3);
        let text = |to: &str, body: &str| {
            json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": to, "type": "text", "text": {"preview_url": false, "body": body}})
        };
        let (status, a) = send(&mock, text("999001", "load r 1"));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(a["contacts"][0]["wa_id"], "999001");
        let (_, b) = send(&mock, text("999001", "load r 2"));
        let id = |v: &Value| v["messages"][0]["id"].as_str().unwrap().to_owned();
        assert_ne!(id(&a), id(&b));
        assert!(id(&a).starts_with("wamid.MOCK."));
        send(&mock, text("999002", "load r 3"));
        send(&mock, text("999001", "load r 0"));
        // A template has no text: counted, not ordered.
        send(&mock, json!({"to": "999003", "type": "template", "template": {"name": "x"}}));

        let (status, r) =
            send(&mock, json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}));
        assert_eq!((status, r), (StatusCode::OK, json!({"success": true})));
        let (status, e) = send(&mock, json!({"type": "text"}));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(e["error"]["code"], 100);
        let (status, _) = mock.on_message(b"not json", unix_micros());
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let s = mock.stats(true);
        assert_eq!(s.received, 5);
        assert_eq!(s.requests, 8);
        assert_eq!(s.read, 1);
        assert_eq!(s.invalid, 2);
        assert_eq!(s.failed, 0);
        assert_eq!(s.out_of_order, 1);
        assert_eq!(s.repeated, 0);
        assert_eq!(s.recipients, 3);
        let by_to = s.by_to.clone().unwrap();
        assert_eq!(by_to.get("999001"), Some(&3));
        assert_eq!(by_to.get("999003"), Some(&1));
        assert_eq!(s.out_of_order_by_to.clone().unwrap(), BTreeMap::from([("999001".to_owned(), 1)]));
        assert!(s.first_at_us.unwrap() <= s.last_at_us.unwrap());
        assert_eq!(s.per_second.len(), PER_SECOND_WINDOW);
        assert_eq!(s.per_second.iter().sum::<u64>(), 5);
        assert_eq!(s.per_second_start + PER_SECOND_WINDOW as u64 - 1, s.now_us / 1_000_000);

        // The ring keeps the last 3 sends, oldest first.
        let recent = mock.recent(10);
        assert_eq!(recent.len(), 3);
        assert_eq!(&*recent[0].to, "999002");
        assert_eq!(recent[2].text, None);

        mock.reset();
        let s = mock.stats(true);
        assert_eq!((s.received, s.requests, s.out_of_order), (0, 0, 0));
        assert_eq!(s.first_at_us, None);
        assert!(s.by_to.unwrap().is_empty());
        assert!(mock.recent(10).is_empty());
        // Wamids keep counting after a reset: the server stores them as unique.
        let (_, c) = send(&mock, text("999001", "load r 1"));
        assert_ne!(id(&c), id(&a));
        assert_ne!(id(&c), id(&b));
    }

    #[test]
    fn stats_json_has_the_documented_fields_and_round_trips() {
        let mock = Mock::new(Duration::ZERO, 0.0, 10);
        mock.on_message(br#"{"to":"1","type":"text","text":{"body":"hi"}}"#, unix_micros());
        let cheap = serde_json::to_value(mock.stats(false)).unwrap();
        assert_eq!(cheap["received"], 1);
        assert!(cheap["per_second"].is_array());
        assert!(cheap.get("by_to").is_none(), "by_to only on request: {cheap}");
        let full = mock.stats(true);
        let v = serde_json::to_value(&full).unwrap();
        assert_eq!(v["by_to"], json!({"1": 1}));
        assert_eq!(v["out_of_order_by_to"], json!({}));
        let back: Stats = serde_json::from_value(v).unwrap();
        assert_eq!(back, full);
    }

    #[test]
    fn fail_rate_fails_about_that_fraction() {
        let mock = Mock::new(Duration::ZERO, 0.25, 0);
        let mut failed = 0;
        for _ in 0..10_000 {
            let (status, _) = mock.on_message(br#"{"to":"1","text":{"body":"x"}}"#, 0);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                failed += 1;
            }
        }
        assert!((2_200..2_800).contains(&failed), "{failed}");
        let s = mock.stats(false);
        assert_eq!(s.failed, failed);
        assert_eq!(s.received + s.failed, 10_000);
        assert!(!Mock::new(Duration::ZERO, 0.0, 0).fails(7));
        assert!(Mock::new(Duration::ZERO, 1.0, 0).fails(7));
    }

    #[test]
    fn order_tracker_checks_each_recipient_separately() {
        let mut t = OrderTracker::default();
        assert_eq!(t.observe("a", Some("load r 0")), Seen::First);
        assert_eq!(t.observe("b", Some("load r 1")), Seen::First);
        assert_eq!(t.observe("a", Some("load r 2")), Seen::InOrder);
        // b's 1 is lower than a's 2, but they are different recipients.
        assert_eq!(t.observe("b", Some("load r 3")), Seen::InOrder);
        assert_eq!(t.observe("a", Some("load r 6")), Seen::InOrder);
        assert_eq!(t.observe("a", Some("load r 4")), Seen::OutOfOrder);
        // One late message counts once: 8 follows 6, the highest seen.
        assert_eq!(t.observe("a", Some("load r 8")), Seen::InOrder);
        assert_eq!(t.observe("a", Some("load r 8")), Seen::Repeated);
        assert_eq!(t.observe("a", Some("hello")), Seen::Untracked);
        assert_eq!(t.observe("a", None), Seen::Untracked);
        // The same number written with a plus.
        assert_eq!(t.observe("+a", Some("load r 9")), Seen::InOrder);
        // A new run starts a new sequence for the same recipient.
        assert_eq!(t.observe("a", Some("load s 1")), Seen::First);
        assert_eq!(t.observe("a", Some("load s 2")), Seen::InOrder);
        assert_eq!(t.out_of_order(), 1);
        assert_eq!(t.repeated(), 1);
        assert_eq!(t.recipients(), 2);
        assert_eq!(t.by_to(), BTreeMap::from([("a".into(), 11), ("b".into(), 2)]));
        assert_eq!(t.out_of_order_by_to(), BTreeMap::from([("a".into(), 1)]));
    }

    #[test]
    fn load_texts_parse_strictly() {
        assert_eq!(parse_load_text("load 00ab 17"), Some(("00ab", 17)));
        assert_eq!(parse_load_text("load  x   0 "), Some(("x", 0)));
        for bad in ["", "load", "load r", "load r x", "load r -1", "Load r 1", "load r 1 2", "hi r 1"] {
            assert_eq!(parse_load_text(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn messages_paths_and_query_flags() {
        assert!(is_messages_path("/v25.0/100000000000001/messages"));
        assert!(is_messages_path("/graph/v25.0/1/messages/"));
        assert!(!is_messages_path("/v25.0/messages"));
        assert!(!is_messages_path("/stats"));
        assert!(!is_messages_path("/v25.0/1/media"));
        assert_eq!(phone_number_id_of("/graph/v25.0/100000000000001/messages/"), "100000000000001");
        assert!(flag("by_to=1", "by_to"));
        assert!(flag("x=2&by_to", "by_to"));
        assert!(!flag("by_to=0", "by_to"));
        assert!(!flag("", "by_to"));
        assert_eq!(query_param("limit=5&a=b", "limit"), Some("5"));
    }

    #[test]
    fn per_second_window_forgets_old_seconds() {
        let mut p = PerSecond::default();
        p.add(1000);
        p.add(1000);
        p.add(1059);
        p.add(1060); // same slot as 1000: replaces it
        let (start, counts) = p.window(1060);
        assert_eq!(start, 1001);
        assert_eq!(counts.len(), PER_SECOND_WINDOW);
        assert_eq!(counts[58], 1); // 1059
        assert_eq!(counts[59], 1); // 1060
        assert_eq!(counts.iter().sum::<u64>(), 2);
        let (_, later) = p.window(1200);
        assert!(later.iter().all(|&c| c == 0));
    }
}
