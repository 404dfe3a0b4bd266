//! Live updates: one hub per process reads new inbox events once and fans them out to
//! every connected stream (`GET /api/v1/events`).
//!
//! ```text
//! triggers (same transaction as the change) ──▶ inbox_events
//!        │ wake-up: SQLite — the write connection handed back (this process);
//!        │          PostgreSQL — NOTIFY on commit (every instance LISTENs)
//!        ▼
//! hub task: reads the events after the last it saw (pages), broadcasts each once
//!        ▼ tokio broadcast (bounded)
//! subscriptions: replay from the database after their resume point, then the
//!        broadcast; skip what they already sent; a subscriber that lags behind the
//!        broadcast falls back to replaying from the database
//! ```
//!
//! **No gap, no duplicate.** Event ids become visible in increasing order (see the
//! migrations), so "everything after N" is complete. A subscription subscribes to the
//! broadcast *before* it reads the database: an event it did not find in its replay was
//! committed later, so the hub broadcasts it after the subscription started listening.
//! It tracks the last id it handled and skips anything at or below it (the seam).
//!
//! **Permissions** are checked in memory for every event: events carry the channel's
//! team and the conversation's assignee as of the change; the subscription knows the
//! agent's role and teams. The rule is the queue's: admins see everything; agents the
//! conversations assigned to them and those of channels routed to one of their teams or
//! to no team (the team a conversation was transferred to counts instead of its
//! channel's). An agent also sees the assignment change that took a conversation away
//! from them, and the transfer that took it away from their team.
//!
//! **Access ends the stream.** A stream is opened with a token; every
//! [`ACCESS_RECHECK`] (on a timer, so quiet streams too, and before an event when the
//! last check is older) it looks the token up again and reloads the agent's role and
//! teams. It ends when the token was revoked, the agent deactivated, or the agent lost a
//! team or the admin role (so they may no longer see what they were sent); the client
//! reconnects, if it still may, and fetches what it shows afresh. Teams gained only widen
//! the filter.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use switchboard_domain::{AgentId, AgentRole, TokenHash};

/// What a stream was opened with, looked up again at every re-check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An API token's hash.
    Token(TokenHash),
    /// A console session's token hash: the stream ends with the session (revoked,
    /// signed out, or past its absolute expiry).
    Session(TokenHash),
}
use switchboard_store::{InboxEvent, InboxEventKind, InboxWakeups, Store, StoreError, TeamId};
use tokio::sync::broadcast;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Events read from the database per query.
const PAGE: u32 = 500;

/// How often a stream re-checks its token, its agent and their teams: a revoked token, a
/// deactivated agent or a lost team ends the stream within this (plus a query).
pub const ACCESS_RECHECK: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// A comment line is sent on a stream that has been quiet this long.
    pub keep_alive: Duration,
    /// The hub looks for new events at least this often, even when not woken (a safety
    /// net: wake-ups are immediate on both backends).
    pub poll_interval: Duration,
    /// Events buffered for subscribers; one that falls further behind replays from the
    /// database.
    pub buffer: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self { keep_alive: Duration::from_secs(15), poll_interval: Duration::from_secs(1), buffer: 4096 }
    }
}

/// The process's live-updates hub. Cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    tx: broadcast::Sender<Arc<InboxEvent>>,
    opts: LiveOptions,
    /// Cancelled on shutdown: the hub task and every stream end.
    stop: CancellationToken,
    /// Where the hub is in the feed. Held while the hub reads and broadcasts, and while a
    /// subscription starts listening.
    position: tokio::sync::Mutex<Position>,
}

struct Position {
    /// The last event broadcast (or skipped for want of listeners).
    last: i64,
    /// Nobody was listening at the last wake-up, so the hub did not read: `last` may be
    /// behind, and the next subscription moves it to the newest event first.
    stale: bool,
}

impl LiveHub {
    /// Starts the hub task on `tracker`. It and every stream end when `stop` is
    /// cancelled (or [`shutdown`](Self::shutdown) is called).
    #[must_use]
    pub fn start(store: Arc<dyn Store>, opts: LiveOptions, tracker: &TaskTracker, stop: CancellationToken) -> Self {
        let (tx, _) = broadcast::channel(opts.buffer.max(16));
        let position = tokio::sync::Mutex::new(Position { last: 0, stale: true });
        let hub = Self { inner: Arc::new(Inner { store, tx, opts, stop, position }) };
        tracker.spawn(run(Arc::clone(&hub.inner)));
        hub
    }

    /// Ends the hub and every stream (graceful shutdown waits for open responses, so
    /// this comes first).
    pub fn shutdown(&self) {
        self.inner.stop.cancel();
    }

    /// Streams connected right now.
    #[must_use]
    pub fn subscribers(&self) -> usize {
        self.inner.tx.receiver_count()
    }

    #[must_use]
    pub fn options(&self) -> &LiveOptions {
        &self.inner.opts
    }

    /// Opens a stream for the agent holding `token`: the events after `last_event_id` (a
    /// reconnecting client's resume point), or from now on if `None`. `NotFound` if the
    /// token is not an active agent's.
    pub async fn subscribe(&self, token: Credential, last_event_id: Option<i64>) -> Result<Subscription, StoreError> {
        // First listen, then look: see the module documentation. Under the hub's lock,
        // so the hub is not between reading and broadcasting; if it skipped events while
        // nobody listened, it moves to the newest event first: those before it were
        // committed before this subscription reads the database.
        let rx = {
            let mut position = self.inner.position.lock().await;
            if position.stale {
                position.last = position.last.max(self.inner.store.last_inbox_event_id().await?);
                position.stale = false;
            }
            self.inner.tx.subscribe()
        };
        let viewer = Viewer::load(self.inner.store.as_ref(), token).await?.ok_or(StoreError::NotFound)?;
        let cursor = match last_event_id {
            Some(id) => id,
            None => self.inner.store.last_inbox_event_id().await?,
        };
        let period = self.inner.opts.keep_alive.max(Duration::from_millis(10));
        let mut keep_alive = tokio::time::interval_at(Instant::now() + period, period);
        keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut recheck = tokio::time::interval_at(Instant::now() + ACCESS_RECHECK, ACCESS_RECHECK);
        recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
        metrics::gauge!("switchboard_live_streams").increment(1.0);
        Ok(Subscription {
            inner: Arc::clone(&self.inner),
            rx,
            cursor,
            replaying: last_event_id.is_some(),
            pending: VecDeque::new(),
            viewer,
            keep_alive,
            recheck,
        })
    }
}

/// What a stream sends next.
#[derive(Debug)]
pub enum LiveItem {
    Event(Arc<InboxEvent>),
    /// Nothing for [`LiveOptions::keep_alive`].
    KeepAlive,
}

/// One connected stream.
pub struct Subscription {
    inner: Arc<Inner>,
    rx: broadcast::Receiver<Arc<InboxEvent>>,
    /// The last event handled (sent or withheld).
    cursor: i64,
    /// Reading from the database (a resume, or after lagging) before the broadcast.
    replaying: bool,
    /// Read from the database, not handled yet.
    pending: VecDeque<Arc<InboxEvent>>,
    viewer: Viewer,
    keep_alive: Interval,
    /// Ticks every [`ACCESS_RECHECK`].
    recheck: Interval,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        metrics::gauge!("switchboard_live_streams").decrement(1.0);
    }
}

impl Subscription {
    /// The next thing to send. `None`: the stream is over (shutdown, or access ended: see
    /// the module documentation). An error (the database failed during a replay) also
    /// ends it; the client reconnects with its `Last-Event-ID`.
    pub async fn next(&mut self) -> Option<Result<LiveItem, StoreError>> {
        loop {
            if self.inner.stop.is_cancelled() {
                return None;
            }
            if let Some(ev) = self.pending.pop_front() {
                match self.admit(ev).await {
                    Ok(Some(item)) => return Some(Ok(item)),
                    Ok(None) => continue,
                    Err(Stop::Ended) => return None,
                    Err(Stop::Failed(e)) => return Some(Err(e)),
                }
            }
            if self.replaying {
                let page = match self.inner.store.inbox_events_after(self.cursor, PAGE).await {
                    Ok(page) => page,
                    Err(e) => return Some(Err(e)),
                };
                if page.len() < PAGE as usize {
                    self.replaying = false;
                }
                if let Some(last) = page.last() {
                    self.cursor = last.id;
                }
                self.pending.extend(page.into_iter().map(Arc::new));
                continue;
            }
            tokio::select! {
                biased;
                () = self.inner.stop.cancelled() => return None,
                r = self.rx.recv() => match r {
                    Ok(ev) if ev.id > self.cursor => {
                        self.cursor = ev.id;
                        self.pending.push_back(ev);
                    }
                    // Already sent from the replay (the seam).
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "live stream lagged behind; replaying from the database");
                        self.replaying = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.keep_alive.tick() => return Some(Ok(LiveItem::KeepAlive)),
                _ = self.recheck.tick() => match self.recheck_access().await {
                    Ok(()) => {}
                    Err(Stop::Ended) => return None,
                    Err(Stop::Failed(e)) => return Some(Err(e)),
                },
            }
        }
    }

    /// Looks the token up again and reloads the viewer; `Ended` if access ended or
    /// narrowed.
    async fn recheck_access(&mut self) -> Result<(), Stop> {
        self.recheck.reset();
        let Some(v) = Viewer::load(self.inner.store.as_ref(), self.viewer.token).await.map_err(Stop::Failed)? else {
            tracing::debug!(agent_id = %self.viewer.agent, "live stream ended: token revoked or agent deactivated");
            return Err(Stop::Ended);
        };
        if !self.viewer.still_sees_everything_with(&v) {
            tracing::debug!(agent_id = %self.viewer.agent, "live stream ended: the agent may see less than before");
            return Err(Stop::Ended);
        }
        self.viewer = v;
        Ok(())
    }

    /// The event as an item to send, if the agent may see it.
    async fn admit(&mut self, ev: Arc<InboxEvent>) -> Result<Option<LiveItem>, Stop> {
        if self.viewer.loaded.elapsed() >= ACCESS_RECHECK {
            self.recheck_access().await?;
        }
        if !self.viewer.may_see(&ev) {
            return Ok(None);
        }
        self.keep_alive.reset();
        Ok(Some(LiveItem::Event(ev)))
    }
}

enum Stop {
    Ended,
    Failed(StoreError),
}

/// Who is watching: enough to decide in memory whether they may see an event.
struct Viewer {
    /// What the stream was opened with.
    token: Credential,
    agent: AgentId,
    admin: bool,
    teams: HashSet<TeamId>,
    loaded: Instant,
}

impl Viewer {
    /// `None` if the token is revoked or unknown, or its agent deactivated.
    async fn load(store: &dyn Store, token: Credential) -> Result<Option<Self>, StoreError> {
        let now = Utc::now();
        let agent = match token {
            Credential::Token(hash) => store.agent_by_token(&hash, now).await?,
            Credential::Session(hash) => store
                .session_by_token(&hash)
                .await?
                .filter(|(s, _)| !s.second_factor_pending && s.expires_at > now)
                .map(|(_, a)| a),
        };
        let Some(a) = agent.filter(|a| a.active) else { return Ok(None) };
        let admin = a.role == AgentRole::Admin;
        let teams = if admin { HashSet::new() } else { store.agent_teams(a.id).await?.into_iter().collect() };
        Ok(Some(Self { token, agent: a.id, admin, teams, loaded: Instant::now() }))
    }

    /// Whether `now` (a reload of the same token) may still see all this viewer may.
    fn still_sees_everything_with(&self, now: &Self) -> bool {
        now.agent == self.agent && (now.admin || (!self.admin && self.teams.is_subset(&now.teams)))
    }

    /// The queue's visibility rule (crates/store/src/queue.rs), on the event's snapshot.
    fn may_see(&self, ev: &InboxEvent) -> bool {
        self.admin
            || ev.assignee_id == Some(self.agent)
            || (ev.kind == InboxEventKind::AssignmentChanged && ev.agent_id == Some(self.agent))
            || ev.team_id.is_none_or(|t| self.teams.contains(&t))
            || (ev.kind == InboxEventKind::TeamChanged && self.saw_before(ev))
    }

    /// Whether the viewer could see a transferred conversation by its previous team
    /// (they hear that it left).
    fn saw_before(&self, ev: &InboxEvent) -> bool {
        match ev.data.get("previous_team_id") {
            None | Some(serde_json::Value::Null) => true,
            Some(t) => serde_json::from_value::<TeamId>(t.clone()).is_ok_and(|t| self.teams.contains(&t)),
        }
    }
}

/// The hub task: looks for new events whenever woken (or every `poll_interval`) and
/// broadcasts them, until stopped.
async fn run(inner: Arc<Inner>) {
    let store = inner.store.as_ref();
    let mut wakeups: Option<Box<dyn InboxWakeups>> = None;
    loop {
        if wakeups.is_none() {
            match store.inbox_wakeups().await {
                Ok(w) => wakeups = Some(w),
                Err(e) => tracing::warn!(error = %e, "live updates: cannot listen for new events; polling"),
            }
        }
        if let Err(e) = pump(&inner).await {
            tracing::warn!(error = %e, "live updates: cannot read new events; retrying");
        }
        tokio::select! {
            () = inner.stop.cancelled() => break,
            r = wait(&mut wakeups) => {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "live updates: lost the wake-up listener");
                    wakeups = None;
                }
            }
            () = tokio::time::sleep(inner.opts.poll_interval) => {}
        }
    }
    tracing::debug!("live updates hub stopped");
}

async fn wait(wakeups: &mut Option<Box<dyn InboxWakeups>>) -> Result<(), StoreError> {
    match wakeups {
        Some(w) => w.wait().await,
        None => std::future::pending().await,
    }
}

/// Broadcasts every event after the hub's position, advancing it. With nobody
/// listening it reads nothing (a wake-up per commit costs no query) and marks the
/// position stale instead.
async fn pump(inner: &Inner) -> Result<(), StoreError> {
    let mut position = inner.position.lock().await;
    loop {
        if inner.tx.receiver_count() == 0 {
            position.stale = true;
            return Ok(());
        }
        if position.stale {
            // Not reached: the subscription that ended the quiet refreshed it.
            position.last = position.last.max(inner.store.last_inbox_event_id().await?);
            position.stale = false;
        }
        let page = inner.store.inbox_events_after(position.last, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for ev in page {
            position.last = ev.id;
            // No receiver left is fine.
            let _ = inner.tx.send(Arc::new(ev));
        }
        if !full {
            return Ok(());
        }
    }
}
