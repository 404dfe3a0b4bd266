//! `switchboard-loadgen seed-console`: fills a migrated database (SQLite file or
//! PostgreSQL) with an inbox to measure the console against, in bulk SQL, in minutes.
//!
//! What it writes (deterministic for a given `--seed`):
//! - 3 teams, each with one channel (phone_number_id `100000000000001`..`3`; the first is
//!   the one the other benchmarks post webhooks to);
//! - `--agents` agents, the first an admin (in no team), the others agents spread over the
//!   teams (every fifth in two), all online, each with an API token (printed);
//! - 8 labels on about 30% of the conversations;
//! - `--conversations` conversations, one contact each, spread over 90 days and the three
//!   channels: 40% open, 15% pending, 5% snoozed, 40% resolved; two thirds of the
//!   unresolved ones assigned to an agent of the channel's team;
//! - `--messages` text messages in all, in turns (inbound first), with delivery marks;
//!   the first conversation has `--thread` of them (the long thread to measure).
//!
//! - KPI facts as the server records them: a greeting (an automatic message, logged in
//!   `auto_replies`) first in every fourth conversation whose second message is ours; the
//!   first response (from the customer's first message, or the greeting, to the first
//!   message a person sent, by the replier), the resolution time of resolved ones, and
//!   the messages people sent (`person_replies`); business seconds count 08:00–20:00 UTC
//!   (the seeded channels keep no hours: a fixed window stands in for them);
//! - CSAT surveys on 60% of the resolved conversations, queued at the resolution (the
//!   third channel's on a 3-point scale, the others' on 5), half of them answered five
//!   minutes later with a score drawn from the scale.
//!
//! Then it fixes each conversation's count, clears `waiting_since` on resolved ones, and
//! (SQLite) fills the search index as the server's indexer would, so that the server
//! starts with nothing left to index; (PostgreSQL) `ANALYZE`s.
//!
//! It sets what the migrations' triggers would (`waiting_since`), so on PostgreSQL it
//! loads with them off when it may (`session_replication_role = replica`, a superuser's);
//! the seeded history then has no `inbox_events`, which only live streams replay. The
//! database must be migrated (`switchboard migrate`) and empty.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use uuid::{NoContext, Timestamp, Uuid};

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The migrated, empty database: `sqlite://path` or `postgres://…`.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL", hide_env_values = true)]
    pub db: String,

    /// Conversations to create (one contact each).
    #[arg(long, default_value_t = 100_000)]
    pub conversations: u64,

    /// Messages to create in all.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,

    /// Agents to create (the first is an admin).
    #[arg(long, default_value_t = 20)]
    pub agents: u64,

    /// Messages in the first conversation (the long thread).
    #[arg(long, default_value_t = 1_000)]
    pub thread: u64,

    /// Seed of the pseudo-random spread.
    #[arg(long, default_value_t = 17)]
    pub seed: u64,

    /// Moves the whole inbox this many days into the past and resolves every conversation
    /// (the long thread included): nothing is newer than `N` days, as a retention policy
    /// of fewer days would find it. 0 (the default): an inbox up to now, in its usual mix
    /// of statuses.
    #[arg(long, default_value_t = 0)]
    pub age_days: u32,
}

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// Seconds of `[from, to)` (epoch ms) inside 08:00–20:00 UTC: the seed's business hours.
fn business_seconds(from: i64, to: i64) -> i64 {
    let mut total = 0;
    let mut day = from.div_euclid(DAY_MS) * DAY_MS;
    while day < to {
        let (open, close) = (day + 8 * HOUR_MS, day + 20 * HOUR_MS);
        total += (close.min(to) - open.max(from)).max(0);
        day += DAY_MS;
    }
    total / 1000
}
const TEAMS: [&str; 3] = ["Sales", "Support", "Billing"];
const LABELS: [(&str, &str); 8] = [
    ("vip", "#b8860b"),
    ("refund", "#c0392b"),
    ("order", "#2e86c1"),
    ("delivery", "#117a65"),
    ("complaint", "#922b21"),
    ("lead", "#6c3483"),
    ("spam", "#566573"),
    ("follow-up", "#ca6f1e"),
];
const INBOUND: [&str; 8] = [
    "Hi, is my order on its way?",
    "Can I change the delivery address please",
    "The item arrived damaged, what can I do?",
    "Do you have this in a larger size?",
    "Thanks a lot!",
    "What are your opening hours on Saturday?",
    "I was charged twice for order",
    "Can someone call me back?",
];
const OUTBOUND: [&str; 6] = [
    "Hello! Let me check that for you.",
    "Your order is with the courier and should arrive tomorrow.",
    "I'm sorry to hear that; could you send a photo?",
    "Done, I've updated it for you.",
    "You're welcome, have a nice day!",
    "We're open 9:00 to 17:00 on Saturdays.",
];

/// What was created, printed for the benchmark scripts.
pub struct Seeded {
    pub agents: Vec<SeededAgent>,
    pub thread: Uuid,
    pub label: String,
    pub conversations: u64,
    pub messages: u64,
    pub elapsed: Duration,
}

pub struct SeededAgent {
    pub email: String,
    pub role: &'static str,
    pub token: String,
}

impl Seeded {
    pub fn print(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "seeded {} conversations and {} messages in {:.1} s",
            self.conversations,
            self.messages,
            self.elapsed.as_secs_f64()
        )?;
        for a in &self.agents {
            writeln!(out, "agent {} {} {}", a.email, a.role, a.token)?;
        }
        if let Some(admin) = self.agents.first() {
            writeln!(out, "ADMIN_TOKEN={}", admin.token)?;
        }
        if let Some(agent) = self.agents.get(1) {
            writeln!(out, "AGENT_TOKEN={}", agent.token)?;
        }
        writeln!(out, "THREAD={}", self.thread)?;
        writeln!(out, "LABEL={}", self.label)
    }
}

/// A bound value; timestamps are epoch milliseconds, written per dialect.
#[derive(Clone, Debug)]
enum Val {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Id(Uuid),
    OptId(Option<Uuid>),
    Bytes(Vec<u8>),
    Ts(i64),
    OptTs(Option<i64>),
    Json(String),
}

enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl Db {
    async fn connect(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .context("--db")?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            Ok(Self::Sqlite(SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).context("--db")?;
            // Bulk load without the per-row triggers (they log inbox events and track
            // waiting_since, which the seed sets itself): 3-4 times faster. Needs a
            // superuser; anyone else seeds with the triggers on.
            let fast = opts.clone().options([("session_replication_role", "replica")]);
            match PgPoolOptions::new().max_connections(2).connect_with(fast).await {
                Ok(pool) => Ok(Self::Pg(pool)),
                Err(e) => {
                    eprintln!("seed: triggers stay on (session_replication_role: {e})");
                    Ok(Self::Pg(PgPoolOptions::new().max_connections(2).connect_with(opts).await?))
                }
            }
        } else {
            bail!("--db must be a sqlite:// or postgres:// URL")
        }
    }

    /// A timestamp placeholder for the `n`th bind (`?` on SQLite, whose numbered
    /// placeholders cost a linear search per bind).
    fn ph(&self, n: usize, v: &Val) -> String {
        match (self, v) {
            (Self::Sqlite(_), _) => "?".to_owned(),
            (Self::Pg(_), Val::Ts(_) | Val::OptTs(_)) => format!("to_timestamp(${n}::float8 / 1000)"),
            (Self::Pg(_), Val::Json(_)) => format!("${n}::jsonb"),
            (Self::Pg(_), _) => format!("${n}"),
        }
    }

    async fn scalar_i64(&self, sql: &str) -> Result<i64> {
        Ok(match self {
            Self::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
            Self::Pg(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
        })
    }

    async fn exec(&self, sql: &str) -> Result<()> {
        match self {
            Self::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop)?,
            Self::Pg(p) => sqlx::query(sql).execute(p).await.map(drop)?,
        }
        Ok(())
    }

    /// Inserts `rows` into `table`, many rows per statement.
    async fn insert(&self, table: &str, columns: &[&str], rows: &[Vec<Val>]) -> Result<()> {
        let per_statement = (30_000 / columns.len()).min(2_000);
        for chunk in rows.chunks(per_statement) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
            let mut n = 0;
            for (i, row) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 { "(" } else { ", (" });
                for (j, v) in row.iter().enumerate() {
                    n += 1;
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&self.ph(n, v));
                }
                sql.push(')');
            }
            self.run(&sql, chunk).await.with_context(|| format!("insert into {table}"))?;
        }
        Ok(())
    }

    async fn run(&self, sql: &str, rows: &[Vec<Val>]) -> Result<()> {
        match self {
            Self::Sqlite(p) => {
                let mut q = sqlx::query(sql);
                for v in rows.iter().flatten() {
                    q = match v.clone() {
                        Val::Int(i) | Val::Ts(i) => q.bind(i),
                        Val::Text(s) | Val::Json(s) => q.bind(s),
                        Val::OptText(s) => q.bind(s),
                        Val::Id(u) => q.bind(u),
                        Val::OptId(u) => q.bind(u),
                        Val::Bytes(b) => q.bind(b),
                        Val::OptTs(t) | Val::OptInt(t) => q.bind(t),
                    };
                }
                q.execute(p).await?;
            }
            Self::Pg(p) => {
                let mut q = sqlx::query(sql);
                for v in rows.iter().flatten() {
                    q = match v.clone() {
                        Val::Int(i) | Val::Ts(i) => q.bind(i),
                        Val::Text(s) | Val::Json(s) => q.bind(s),
                        Val::OptText(s) => q.bind(s),
                        Val::Id(u) => q.bind(u),
                        Val::OptId(u) => q.bind(u),
                        Val::Bytes(b) => q.bind(b),
                        Val::OptTs(t) | Val::OptInt(t) => q.bind(t),
                    };
                }
                q.execute(p).await?;
            }
        }
        Ok(())
    }
}

/// splitmix64: a small, fast, deterministic spread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

/// A UUIDv7 for `ms` (the application's ids are time-ordered).
fn id_at(ms: i64, rng: &mut Rng) -> Uuid {
    let secs = u64::try_from(ms.div_euclid(1000)).unwrap_or(0);
    let nanos = u32::try_from(ms.rem_euclid(1000)).unwrap_or(0) * 1_000_000;
    let mut id = *Uuid::new_v7(Timestamp::from_unix(NoContext, secs, nanos)).as_bytes();
    // Random bits from our generator, so a run is reproducible apart from nothing.
    id[8..].copy_from_slice(&rng.next().to_be_bytes());
    id[8] = (id[8] & 0x3f) | 0x80;
    Uuid::from_bytes(id)
}

fn new_token(rng: &mut Rng) -> String {
    let mut token = String::from("sbt_");
    for _ in 0..4 {
        let _ = write!(token, "{:016x}", rng.next() ^ random_bits());
    }
    token
}

/// Bits from the clock, so tokens differ between runs even with the same seed.
fn random_bits() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)
}

struct Conversation {
    id: Uuid,
    channel: usize,
    status: &'static str,
    assignee: Option<usize>,
    created: i64,
    messages: u64,
}

#[allow(clippy::too_many_lines)]
pub async fn run(args: SeedArgs) -> Result<Seeded> {
    if args.conversations == 0 || args.agents == 0 {
        bail!("--conversations and --agents must be at least 1");
    }
    if args.messages < args.conversations + args.thread {
        bail!("--messages must be at least --conversations + --thread (one message per conversation)");
    }
    let started = Instant::now();
    let db = Db::connect(&args.db).await?;
    let migrated = db.scalar_i64("SELECT COUNT(*) FROM _sqlx_migrations").await.ok().unwrap_or(0);
    if migrated == 0 {
        bail!("{} is not migrated: run `switchboard migrate` on it first", redact(&args.db));
    }
    if db.scalar_i64("SELECT COUNT(*) FROM conversations").await? > 0 {
        bail!("the database already has conversations: seed an empty one");
    }
    let mut rng = Rng(args.seed);
    // The seed's "now": the clock, or `--age-days` before it.
    let now =
        i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())? - i64::from(args.age_days) * DAY_MS;
    let t0 = now - 91 * DAY_MS;

    // Teams, channels, agents, tokens, labels.
    let teams: Vec<Uuid> = TEAMS.iter().map(|_| id_at(t0, &mut rng)).collect();
    db.insert(
        "teams",
        &["id", "name", "name_key", "created_at"],
        &TEAMS
            .iter()
            .zip(&teams)
            .map(|(name, id)| {
                vec![Val::Id(*id), Val::Text((*name).into()), Val::Text(name.to_lowercase()), Val::Ts(t0)]
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    let channels: Vec<Uuid> = TEAMS.iter().map(|_| id_at(t0, &mut rng)).collect();
    db.insert(
        "channels",
        &["id", "phone_number_id", "name", "created_at", "display_phone_number", "team_id"],
        &channels
            .iter()
            .enumerate()
            .map(|(i, id)| {
                vec![
                    Val::Id(*id),
                    Val::Text(format!("10000000000000{}", i + 1)),
                    Val::Text(format!("{} line", TEAMS[i])),
                    Val::Ts(t0),
                    Val::OptText(Some(format!("+1 555 010 000{}", i + 1))),
                    Val::OptId(Some(teams[i])),
                ]
            })
            .collect::<Vec<_>>(),
    )
    .await?;

    let mut agents = Vec::new();
    let mut agent_rows = Vec::new();
    let mut token_rows = Vec::new();
    let mut member_rows = Vec::new();
    // members[team] = agents of that team.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); TEAMS.len()];
    let mut agent_ids = Vec::new();
    for i in 0..args.agents {
        let i = usize::try_from(i)?;
        let id = id_at(t0, &mut rng);
        agent_ids.push(id);
        let (role, email) = if i == 0 {
            ("admin", "bench-admin@example.com".to_owned())
        } else {
            ("agent", format!("bench-agent{i}@example.com"))
        };
        agent_rows.push(vec![
            Val::Id(id),
            Val::Text(if i == 0 { "Bench Admin".into() } else { format!("Agent {i}") }),
            Val::Text(email.clone()),
            Val::Text(role.into()),
            Val::Ts(t0),
            Val::Text("online".into()),
        ]);
        let token = new_token(&mut rng);
        token_rows.push(vec![
            Val::Id(id_at(t0, &mut rng)),
            Val::Id(id),
            Val::Bytes(Sha256::digest(token.as_bytes()).to_vec()),
            Val::Ts(t0),
            Val::OptText(Some("seed-console".into())),
        ]);
        if i > 0 {
            let mut teams_of = vec![(i - 1) % TEAMS.len()];
            if i % 5 == 0 {
                teams_of.push(i % TEAMS.len());
            }
            teams_of.dedup();
            for t in teams_of {
                members[t].push(i);
                member_rows.push(vec![Val::Id(teams[t]), Val::Id(id), Val::Ts(t0)]);
            }
        }
        agents.push(SeededAgent { email, role, token });
    }
    db.insert("agents", &["id", "name", "email", "role", "created_at", "availability"], &agent_rows).await?;
    db.insert("api_tokens", &["id", "agent_id", "token_sha256", "created_at", "name"], &token_rows).await?;
    db.insert("team_members", &["team_id", "agent_id", "added_at"], &member_rows).await?;
    let labels: Vec<Uuid> = LABELS.iter().map(|_| id_at(t0, &mut rng)).collect();
    db.insert(
        "labels",
        &["id", "name", "name_key", "colour", "created_at"],
        &LABELS
            .iter()
            .zip(&labels)
            .map(|((name, colour), id)| {
                vec![
                    Val::Id(*id),
                    Val::Text((*name).into()),
                    Val::Text((*name).into()),
                    Val::Text((*colour).into()),
                    Val::Ts(t0),
                ]
            })
            .collect::<Vec<_>>(),
    )
    .await?;

    // The conversations' shape: channel, status, assignee, start, length.
    let n = args.conversations;
    let rest = args.messages - args.thread;
    let others = n.saturating_sub(1);
    let avg = rest.checked_div(others).unwrap_or(0);
    let mut left = rest;
    let mut convs = Vec::with_capacity(usize::try_from(n)?);
    for i in 0..n {
        let count = if i == 0 {
            args.thread
        } else if i == n - 1 {
            left
        } else {
            // Between 1 and 2·avg−1 (mean avg), leaving at least one for each one after.
            let c = 1 + rng.below((2 * avg).saturating_sub(1).max(1));
            let c = c.min(left.saturating_sub(n - 1 - i));
            left -= c;
            c.max(1)
        };
        let channel = usize::try_from(i % 3)?;
        let status = if args.age_days > 0 {
            "resolved"
        } else if i == 0 {
            "open"
        } else {
            match i % 20 {
                0..=7 => "open",
                8..=10 => "pending",
                11 => "snoozed",
                _ => "resolved",
            }
        };
        let team = &members[channel];
        let assignee =
            if team.is_empty() || (status != "resolved" && rng.below(3) == 0) { None } else { Some(*rng.pick(team)) };
        // Long threads start long ago; the rest spread over 90 days, ending by now.
        let span = i64::try_from(count)? * 30 * MINUTE_MS;
        let created = if i == 0 {
            now - i64::try_from(count)? * MINUTE_MS - MINUTE_MS
        } else {
            let latest = now - span - MINUTE_MS;
            latest - i64::try_from(rng.below(u64::try_from(90 * DAY_MS)?))?
        };
        convs.push(Conversation { id: id_at(created, &mut rng), channel, status, assignee, created, messages: count });
    }

    // Contacts and conversations (message_count fixed after the messages).
    let mut contact_rows = Vec::with_capacity(convs.len());
    let mut contacts = Vec::with_capacity(convs.len());
    let mut conv_rows = Vec::with_capacity(convs.len());
    let mut label_rows = Vec::new();
    // Per conversation, its messages: (inbound, time, sent by a rule).
    let mut thread_messages: Vec<Vec<(bool, i64, bool)>> = Vec::with_capacity(convs.len());
    for (i, c) in convs.iter().enumerate() {
        // The turns: inbound first, then alternating with some runs.
        let mut times = Vec::with_capacity(usize::try_from(c.messages)?);
        let mut t = c.created;
        let mut inbound = true;
        for k in 0..c.messages {
            if k > 0 {
                t += if i == 0 { MINUTE_MS } else { i64::try_from(1 + rng.below(29))? * MINUTE_MS };
                inbound = if inbound { rng.below(10) < 3 } else { rng.below(10) < 7 };
            }
            // Every fourth conversation greets: its second message, if ours, is a rule's.
            let auto = k == 1 && !inbound && i % 4 == 1;
            times.push((inbound, t, auto));
        }
        let last = times.last().map_or(c.created, |m| m.1);
        let replier = agent_ids[c.assignee.or_else(|| members[c.channel].first().copied()).unwrap_or(0)];
        // KPI facts, as the reply and the resolution would record them.
        let first_in = times.iter().find(|m| m.0).map(|m| m.1);
        let first_reply = times.iter().find(|m| !m.0 && !m.2).map(|m| m.1);
        let first_response = match (first_in, first_reply) {
            (Some(i), Some(r)) if r >= i => {
                let from = times.iter().filter(|m| m.2 && m.1 <= r).map(|m| m.1).max().map_or(i, |a| a.max(i));
                Some((r, (r - from) / 1000, business_seconds(from, r)))
            }
            _ => None,
        };
        let replies = times.iter().filter(|m| !m.0 && !m.2).count();
        // Waiting since the first inbound message after the last agent's reply (every
        // outbound message here is an agent's), as the triggers would track it.
        let waiting = times.iter().fold(None, |w, &(inbound, t, _)| if inbound { w.or(Some(t)) } else { None });
        let last_in = times.iter().rev().find(|m| m.0).map(|m| m.1);
        let contact = id_at(c.created, &mut rng);
        contacts.push(contact);
        contact_rows.push(vec![
            Val::Id(contact),
            Val::Text(format!("1555{:08}", i)),
            Val::OptText(Some(format!("Customer {i}"))),
            Val::Ts(c.created),
            Val::Ts(c.created),
        ]);
        let resolved = c.status == "resolved";
        let resolved_at = resolved.then_some(last + 10 * MINUTE_MS);
        let scale: i64 = if c.channel == 2 { 3 } else { 5 };
        let surveyed = resolved_at.filter(|_| rng.below(10) < 6);
        let score = surveyed
            .filter(|_| rng.below(2) == 0)
            .map(|_| 1 + i64::try_from(rng.below(3 + 2 * u64::from(scale == 5))).unwrap_or(0));
        conv_rows.push(vec![
            Val::Id(c.id),
            Val::Id(channels[c.channel]),
            Val::Id(contact),
            Val::Text(c.status.into()),
            Val::OptId(c.assignee.map(|a| agent_ids[a])),
            Val::OptTs(last_in.map(|t| t + DAY_MS)),
            Val::OptTs(last_in),
            Val::Ts(last),
            Val::Int(0),
            Val::Ts(c.created),
            Val::OptTs(resolved_at),
            Val::OptTs(
                (c.status == "snoozed").then(|| now + i64::try_from(1 + (i as u64 % 48)).unwrap_or(1) * 3_600_000),
            ),
            Val::OptId(if resolved { c.assignee.map(|a| agent_ids[a]) } else { None }),
            Val::OptTs(if resolved { None } else { waiting }),
            Val::OptTs(first_response.map(|f| f.0)),
            Val::OptId(first_response.map(|_| replier)),
            Val::OptInt(first_response.map(|f| f.1)),
            Val::OptInt(first_response.map(|f| f.2)),
            Val::OptInt(resolved_at.map(|r| (r - c.created) / 1000)),
            Val::OptInt(resolved_at.map(|r| business_seconds(c.created, r))),
            Val::Int(i64::try_from(replies)?),
            Val::OptTs(surveyed),
            Val::OptTs(surveyed.map(|t| t + 7 * DAY_MS)),
            Val::OptInt(surveyed.map(|_| scale)),
            Val::OptInt(score),
            Val::OptTs(score.and(surveyed).map(|t| t + 5 * MINUTE_MS)),
        ]);
        if rng.below(10) < 3 {
            let a = usize::try_from(rng.below(labels.len() as u64))?;
            label_rows.push(vec![Val::Id(c.id), Val::Id(labels[a]), Val::Ts(c.created)]);
            if rng.below(3) == 0 {
                let b = (a + 1 + usize::try_from(rng.below(labels.len() as u64 - 1))?) % labels.len();
                label_rows.push(vec![Val::Id(c.id), Val::Id(labels[b]), Val::Ts(c.created)]);
            }
        }
        thread_messages.push(times);
    }
    db.insert("contacts", &["id", "wa_id", "profile_name", "created_at", "updated_at"], &contact_rows).await?;
    drop(contact_rows);
    db.insert(
        "conversations",
        &[
            "id",
            "channel_id",
            "contact_id",
            "status",
            "assignee_id",
            "window_closes_at",
            "last_inbound_at",
            "last_message_at",
            "message_count",
            "created_at",
            "resolved_at",
            "snoozed_until",
            "resolved_by",
            "waiting_since",
            "first_response_at",
            "first_response_by",
            "first_response_seconds",
            "first_response_business_seconds",
            "resolution_seconds",
            "resolution_business_seconds",
            "person_replies",
            "csat_queued_at",
            "csat_expires_at",
            "csat_scale",
            "csat_score",
            "csat_rated_at",
        ],
        &conv_rows,
    )
    .await?;
    drop(conv_rows);
    db.insert("conversation_labels", &["conversation_id", "label_id", "added_at"], &label_rows).await?;
    eprintln!("seed: {} conversations in {:.1} s", convs.len(), started.elapsed().as_secs_f64());

    // Messages, a conversation at a time in time order (the triggers track waiting_since).
    let columns = [
        "id",
        "conversation_id",
        "channel_id",
        "direction",
        "wamid",
        "kind",
        "text",
        "content",
        "state",
        "sent_by",
        "timestamp",
        "created_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "auto_rule",
    ];
    let mut batch = Vec::with_capacity(20_000);
    // The greetings' log rows (PostgreSQL; SQLite's trigger writes them on insert).
    let mut auto_rows = Vec::new();
    let mut written = 0u64;
    for (i, (c, times)) in convs.iter().zip(&thread_messages).enumerate() {
        let replier = c.assignee.or_else(|| members[c.channel].first().copied()).unwrap_or(0);
        for (k, &(inbound, t, auto)) in times.iter().enumerate() {
            let text = if auto {
                "Hi! Thanks for writing; an agent will be with you shortly.".to_owned()
            } else if inbound {
                format!("{} #{i}", rng.pick(&INBOUND))
            } else {
                (*rng.pick(&OUTBOUND)).to_owned()
            };
            let id = id_at(t, &mut rng);
            if auto && matches!(db, Db::Pg(_)) {
                auto_rows.push(vec![
                    Val::Id(c.id),
                    Val::Id(contacts[i]),
                    Val::Text("greeting".into()),
                    Val::Id(id),
                    Val::Ts(t),
                ]);
            }
            let content = serde_json::json!({ "type": "text", "body": text }).to_string();
            let old = now - t > DAY_MS;
            batch.push(vec![
                Val::Id(id),
                Val::Id(c.id),
                Val::Id(channels[c.channel]),
                Val::Text(if inbound { "inbound" } else { "outbound" }.into()),
                Val::OptText(Some(format!("wamid.seed.{i}.{k}"))),
                Val::Text("text".into()),
                Val::OptText(Some(text)),
                Val::Json(content),
                Val::Text(
                    if inbound {
                        "received"
                    } else if old {
                        "read"
                    } else {
                        "delivered"
                    }
                    .into(),
                ),
                Val::OptId((!inbound && !auto).then(|| agent_ids[replier])),
                Val::Ts(t),
                Val::Ts(t),
                Val::OptTs((!inbound).then_some(t + 1_000)),
                Val::OptTs((!inbound).then_some(t + 2_000)),
                Val::OptTs((!inbound && old).then_some(t + 60_000)),
                Val::OptText(auto.then(|| "greeting".to_owned())),
            ]);
        }
        if batch.len() >= 20_000 {
            db.insert("messages", &columns, &batch).await?;
            written += batch.len() as u64;
            batch.clear();
            if written % 200_000 < 20_000 {
                eprintln!("seed: {written} messages in {:.1} s", started.elapsed().as_secs_f64());
            }
        }
    }
    db.insert("messages", &columns, &batch).await?;
    written += batch.len() as u64;
    db.insert("auto_replies", &["conversation_id", "contact_id", "rule", "message_id", "sent_at"], &auto_rows).await?;
    eprintln!("seed: {written} messages in {:.1} s", started.elapsed().as_secs_f64());

    db.exec(
        "UPDATE conversations SET message_count = \
           (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = conversations.id)",
    )
    .await?;
    db.exec("UPDATE conversations SET waiting_since = NULL WHERE status = 'resolved'").await?;
    match &db {
        Db::Sqlite(_) => {
            // What the server's search indexer would do first thing, done here at once.
            db.exec(
                "INSERT INTO messages_fts (rowid, text) SELECT rowid, text FROM messages \
                 WHERE rowid > (SELECT indexed_to FROM search_progress WHERE name = 'messages') \
                   AND text IS NOT NULL AND auto_rule IS NULL ORDER BY rowid",
            )
            .await?;
            db.exec(
                "INSERT INTO contacts_fts (rowid, wa_id, profile_name, name) \
                 SELECT rowid, wa_id, profile_name, name FROM contacts \
                 WHERE rowid > (SELECT indexed_to FROM search_progress WHERE name = 'contacts') ORDER BY rowid",
            )
            .await?;
            db.exec(
                "UPDATE search_progress SET indexed_to = \
                   CASE name WHEN 'messages' THEN (SELECT COALESCE(MAX(rowid), 0) FROM messages) \
                             ELSE (SELECT COALESCE(MAX(rowid), 0) FROM contacts) END",
            )
            .await?;
            db.exec("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        // VACUUM too: the reports' index-only scans need the visibility map.
        Db::Pg(_) => db.exec("VACUUM ANALYZE").await?,
    }
    Ok(Seeded {
        agents,
        thread: convs[0].id,
        label: labels[0].to_string(),
        conversations: n,
        messages: written,
        elapsed: started.elapsed(),
    })
}

/// The URL without a password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}
