//! `--verify`: read everything back through the agent API and check that each
//! acknowledged message was stored exactly once.
//!
//! Each pass pages through all conversations, keeps those whose contact is one of this
//! run's wa_ids, pages through their messages and counts this run's wamids. Passes
//! repeat (ingest is asynchronous) until nothing is missing or the timeout passes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::payload::RunIdentity;

const PAGE_LIMIT: &str = "500";
/// Conversations whose messages are fetched at once.
const FETCH_CONCURRENCY: usize = 8;
const PASS_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Acknowledged messages, each of which must be stored.
    pub expected: u64,
    /// Acknowledged messages found exactly once.
    pub stored_once: u64,
    /// Acknowledged messages not found.
    pub missing: u64,
    /// This run's wamids found more than once (acknowledged or not).
    pub duplicated: u64,
    /// This run's wamids found although never acknowledged (a timed-out request can
    /// still have been stored; not an error).
    pub unacknowledged_found: u64,
    /// Conversations of this run's contacts seen in the last pass.
    pub conversations: u64,
    pub passes: u32,
    pub elapsed_s: f64,
    /// The last API error, if a pass failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.error.is_none()
    }
}

#[derive(Deserialize)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Conversation {
    pub id: String,
    #[serde(default)]
    pub contact: Option<ContactRef>,
}

impl Conversation {
    pub fn wa_id(&self) -> Option<&str> {
        self.contact.as_ref().and_then(|c| c.wa_id.as_deref())
    }
}

#[derive(Deserialize)]
pub(crate) struct ContactRef {
    #[serde(default)]
    pub wa_id: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    wamid: Option<String>,
}

/// The agent API, as the load tool reads it.
pub(crate) struct Api {
    client: reqwest::Client,
    base: Url,
    auth: HeaderValue,
}

/// A failure worth giving up on at once (bad token, wrong URL) rather than retrying.
#[derive(Debug)]
pub(crate) struct Fatal(String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

impl Api {
    pub fn new(api_url: &str, token: &str) -> Result<Self> {
        let base = Url::parse(api_url).with_context(|| format!("invalid API URL {api_url:?}"))?;
        let mut auth =
            HeaderValue::try_from(format!("Bearer {token}")).context("the API token is not a valid header value")?;
        auth.set_sensitive(true);
        Ok(Self { client: reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build()?, base, auth })
    }

    pub async fn page<T: for<'de> Deserialize<'de>>(&self, path: &str, cursor: Option<&str>) -> Result<Page<T>> {
        let mut url = self.base.join(path)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", PAGE_LIMIT);
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        let response = self
            .client
            .get(url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
            && path == "api/v1/conversations"
        {
            let body = response.text().await.unwrap_or_default();
            return Err(Fatal(format!("GET {url}: {status}: {}", truncate(&body))).into());
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("GET {url}: {status}: {}", truncate(&body));
        }
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).with_context(|| format!("GET {url}: unexpected body"))
    }

    /// Follows `next_cursor` to the end.
    async fn all<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page: Page<T> = self.page(path, cursor.as_deref()).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                    bail!("GET {path}: the server returned the same cursor twice");
                }
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(300) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// What one pass saw: how often each of this run's message numbers was found.
struct Pass {
    seen: HashMap<u64, u32>,
    conversations: u64,
}

async fn pass(api: &Api, identity: &RunIdentity) -> Result<Pass> {
    let conversations: Vec<Conversation> = api.all("api/v1/conversations").await?;
    let ours: Vec<String> = conversations
        .into_iter()
        .filter(|c| c.wa_id().is_some_and(|wa_id| identity.owns_wa_id(wa_id)))
        .map(|c| c.id)
        .collect();
    let count = ours.len() as u64;
    let pages: Vec<Vec<Message>> = stream::iter(ours)
        .map(|id| async move { api.all(&format!("api/v1/conversations/{id}/messages")).await })
        .buffer_unordered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for message in pages.into_iter().flatten() {
        if let Some(n) = message.wamid.as_deref().and_then(|w| identity.message_of_wamid(w)) {
            *seen.entry(n).or_default() += 1;
        }
    }
    Ok(Pass { seen, conversations: count })
}

fn judge(expected: &[u64], pass: &Pass) -> (u64, u64, u64, u64) {
    let mut stored_once = 0;
    let mut missing = 0;
    for n in expected {
        match pass.seen.get(n) {
            None => missing += 1,
            Some(1) => stored_once += 1,
            Some(_) => {}
        }
    }
    let duplicated = pass.seen.values().filter(|&&c| c > 1).count() as u64;
    let expected_set: std::collections::HashSet<u64> = expected.iter().copied().collect();
    let unacknowledged = pass.seen.keys().filter(|n| !expected_set.contains(n)).count() as u64;
    (stored_once, missing, duplicated, unacknowledged)
}

/// Polls until every message number in `expected` is stored (or `timeout` passes).
pub async fn verify(
    api_url: &str,
    token: &str,
    identity: &RunIdentity,
    expected: &[u64],
    timeout: Duration,
    stop: &CancellationToken,
    progress: bool,
) -> Result<VerifyReport> {
    let api = Api::new(api_url, token)?;

    let started = Instant::now();
    let deadline = started + timeout;
    let mut passes = 0;
    let mut report = VerifyReport {
        expected: expected.len() as u64,
        stored_once: 0,
        missing: expected.len() as u64,
        duplicated: 0,
        unacknowledged_found: 0,
        conversations: 0,
        passes: 0,
        elapsed_s: 0.0,
        error: None,
    };
    loop {
        passes += 1;
        match pass(&api, identity).await {
            Ok(p) => {
                let (stored_once, missing, duplicated, unacknowledged) = judge(expected, &p);
                report.stored_once = stored_once;
                report.missing = missing;
                report.duplicated = duplicated;
                report.unacknowledged_found = unacknowledged;
                report.conversations = p.conversations;
                report.error = None;
                if progress {
                    eprintln!(
                        "verify pass {passes}: {} conversations, {stored_once} stored once, {missing} missing, {duplicated} duplicated",
                        p.conversations
                    );
                }
            }
            Err(e) if e.is::<Fatal>() => {
                report.error = Some(format!("{e:#}"));
                break;
            }
            Err(e) => {
                if progress {
                    eprintln!("verify pass {passes} failed: {e:#}");
                }
                report.error = Some(format!("{e:#}"));
            }
        }
        let done = report.error.is_none() && report.missing == 0;
        let now = Instant::now();
        if done || now + PASS_INTERVAL > deadline || stop.is_cancelled() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(PASS_INTERVAL) => {}
            () = stop.cancelled() => break,
        }
    }
    report.passes = passes;
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn judge_counts_once_missing_and_duplicates() {
        let mut seen = HashMap::new();
        seen.insert(0, 1);
        seen.insert(1, 2);
        seen.insert(9, 1); // found but never acknowledged
        let p = Pass { seen, conversations: 2 };
        assert_eq!(judge(&[0, 1, 2], &p), (1, 1, 1, 1));
    }
}
