//! The queue view at scale: seeds 100,000 conversations and 1,000,000 messages
//! (`SWITCHBOARD_SCALE_CONVERSATIONS`, ten messages each) with SQL and measures the
//! views through the store, then over HTTP (the queue view and claim-next, one request
//! at a time and fifty agents at once). Ignored by default (minutes of seeding); run with
//!
//! ```text
//! cargo test --release -p switchboard-tests --test store -- --ignored --nocapture views_scale
//! ```
//!
//! Distribution: 60% resolved, 20% open and unassigned (the queue), 10% open and
//! assigned, 5% pending, 5% snoozed; two channels, one routed to a team the measuring
//! agent belongs to, one to no team.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, SqliteConnection};
use switchboard_domain::{AgentName, AgentRole, ConversationStatus, Email, NewAgent};
use switchboard_http::hash_token;
use switchboard_store::{AssigneeFilter, Store, TeamName, ViewQuery, ViewSort, Visibility};
use switchboard_tests::{AppOptions, Backend, TestDb, start_on};

use crate::fixtures::{channel, exec, query_i64, t, uuid_literal};
use crate::views::agent;

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "seeds a million messages; run explicitly"]
    async fn views_scale() {
        super::run(switchboard_tests::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "seeds a million messages; run explicitly"]
    async fn views_scale() {
        super::run(switchboard_tests::Backend::Postgres).await;
    }
}

fn scale() -> i64 {
    std::env::var("SWITCHBOARD_SCALE_CONVERSATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

async fn seed(db: &TestDb, store: &dyn Store) -> switchboard_domain::AgentId {
    let n = scale();
    let me = agent(store, 1, AgentRole::Agent).await;
    let a = channel(store, "106540352242922").await.id;
    let b = channel(store, "106540352242923").await.id;
    let team = store.create_team(&TeamName::parse("Support").unwrap(), t(0)).await.unwrap().id;
    store.add_team_member(team, me, t(0)).await.unwrap();
    store.route_channel(b, Some(team)).await.unwrap();
    let other = agent(store, 2, AgentRole::Agent).await;
    let (a, b, other) =
        (uuid_literal(db, a.as_uuid()), uuid_literal(db, b.as_uuid()), uuid_literal(db, other.as_uuid()));
    let base = t(0).timestamp_millis();
    let started = Instant::now();
    match db.backend {
        Backend::Sqlite => {
            exec(
                db,
                &format!(
                    "INSERT INTO contacts (id, wa_id, profile_name, created_at, updated_at) \
                 WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n} - 1) \
                 SELECT randomblob(16), '1650' || printf('%07d', i), 'Customer ' || i, {base} + i, {base} + i FROM n"
                ),
            )
            .await;
            exec(
                db,
                &format!(
                    "INSERT INTO conversations (id, channel_id, contact_id, status, window_closes_at, last_inbound_at, \
                   last_message_at, message_count, created_at) \
                 SELECT randomblob(16), CASE WHEN rowid % 2 = 0 THEN {a} ELSE {b} END, id, 'open', \
                   created_at + 86400000, created_at, created_at + 60000, 10, created_at FROM contacts"
                ),
            )
            .await;
            exec(
                db,
                "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, text, content, state, \
                   timestamp, created_at) \
                 WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 9) \
                 SELECT randomblob(16), c.id, c.channel_id, CASE WHEN k.j % 2 = 0 THEN 'inbound' ELSE 'outbound' END, \
                   'text', 'message ' || k.j || ' about order ' || c.rowid, '{\"type\":\"text\"}', 'read', \
                   c.created_at + k.j * 6000, c.created_at + k.j * 6000 \
                 FROM conversations c CROSS JOIN k",
            )
            .await;
            exec(
                db,
                &format!(
                    "UPDATE conversations SET \
                   status = CASE WHEN rowid % 20 < 12 THEN 'resolved' WHEN rowid % 20 = 18 THEN 'pending' \
                     WHEN rowid % 20 = 19 THEN 'snoozed' ELSE 'open' END, \
                   assignee_id = CASE WHEN rowid % 20 IN (16, 17) THEN {other} END, \
                   waiting_since = CASE WHEN rowid % 20 BETWEEN 12 AND 15 THEN created_at END, \
                   snoozed_until = CASE WHEN rowid % 20 = 19 THEN {base} + 999999999 END, \
                   resolved_at = CASE WHEN rowid % 20 < 12 THEN created_at + 120000 END"
                ),
            )
            .await;
            // No ANALYZE: a deployment does not run it either, so the plans measured are
            // the ones SQLite picks without statistics.
        }
        Backend::Postgres => {
            let ts = |ms: &str| format!("to_timestamp(({ms})::double precision / 1000)");
            exec(
                db,
                &format!(
                    "INSERT INTO contacts (id, wa_id, profile_name, created_at, updated_at) \
                 SELECT gen_random_uuid(), '1650' || lpad(i::text, 7, '0'), 'Customer ' || i, {t0}, {t0} \
                 FROM generate_series(0, {n} - 1) AS i",
                    t0 = ts(&format!("{base} + i"))
                ),
            )
            .await;
            exec(db, &format!(
                "INSERT INTO conversations (id, channel_id, contact_id, status, window_closes_at, last_inbound_at, \
                   last_message_at, message_count, created_at) \
                 SELECT gen_random_uuid(), CASE WHEN (row_number() OVER (ORDER BY id)) % 2 = 0 THEN {a} ELSE {b} END, \
                   id, 'open', created_at + interval '1 day', created_at, created_at + interval '1 minute', 10, created_at \
                 FROM contacts"
            ))
            .await;
            exec(db, "ALTER TABLE conversations ADD COLUMN seq BIGSERIAL").await;
            exec(
                db,
                "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, text, content, state, \
                   timestamp, created_at) \
                 SELECT gen_random_uuid(), c.id, c.channel_id, CASE WHEN j % 2 = 0 THEN 'inbound' ELSE 'outbound' END, \
                   'text', 'message ' || j || ' about order ' || c.seq, '{\"type\":\"text\"}', 'read', \
                   c.created_at + j * interval '6 seconds', c.created_at + j * interval '6 seconds' \
                 FROM conversations c CROSS JOIN generate_series(0, 9) AS j",
            )
            .await;
            exec(
                db,
                &format!(
                    "UPDATE conversations SET \
                   status = CASE WHEN seq % 20 < 12 THEN 'resolved' WHEN seq % 20 = 18 THEN 'pending' \
                     WHEN seq % 20 = 19 THEN 'snoozed' ELSE 'open' END, \
                   assignee_id = CASE WHEN seq % 20 IN (16, 17) THEN {other} END, \
                   waiting_since = CASE WHEN seq % 20 BETWEEN 12 AND 15 THEN created_at END, \
                   snoozed_until = CASE WHEN seq % 20 = 19 THEN now() + interval '1 year' END, \
                   resolved_at = CASE WHEN seq % 20 < 12 THEN created_at + interval '2 minutes' END"
                ),
            )
            .await;
            exec(db, "ALTER TABLE conversations DROP COLUMN seq").await;
            exec(db, "VACUUM ANALYZE").await;
        }
    }
    let messages = query_i64(db, "SELECT COUNT(*) FROM messages").await;
    let queue = query_i64(
        db,
        "SELECT COUNT(*) FROM conversations WHERE status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL",
    )
    .await;
    println!(
        "{:?}: seeded {n} conversations, {messages} messages ({queue} in the queue) in {:.1?}",
        db.backend,
        started.elapsed()
    );
    me
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn measure(store: &dyn Store, label: &str, q: &ViewQuery, runs: usize) -> Duration {
    for _ in 0..20 {
        store.view_conversations(q).await.unwrap();
    }
    let mut times = Vec::with_capacity(runs);
    let mut items = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let page = store.view_conversations(q).await.unwrap();
        times.push(start.elapsed());
        items = page.items.len();
    }
    times.sort();
    let p99 = pct(&times, 0.99);
    println!("  {label:<48} {items:>3} rows  p50 {:>8.2?}  p99 {:>8.2?}", pct(&times, 0.5), p99);
    p99
}

/// The plan of the agent's queue view: the statement the store builds, written out.
async fn explain(db: &TestDb, me: switchboard_domain::AgentId) {
    let me = uuid_literal(db, me.as_uuid());
    let sql = format!(
        "SELECT c.id, ct.wa_id, ch.team_id, c.waiting_since FROM conversations c {indexed} \
         JOIN contacts ct ON ct.id = c.contact_id JOIN channels ch ON ch.id = c.channel_id \
         WHERE 1 = 1 AND c.status = 'open' AND c.assignee_id IS NULL \
           AND (c.assignee_id = {me} OR c.channel_id IN (SELECT vch.id FROM channels vch WHERE vch.team_id IS NULL \
             OR vch.team_id IN (SELECT vtm.team_id FROM team_members vtm WHERE vtm.agent_id = {me}))) \
           AND c.waiting_since IS NOT NULL ORDER BY c.waiting_since, c.id LIMIT 51",
        indexed = if db.backend == Backend::Sqlite { "INDEXED BY conversations_queue" } else { "" }
    );
    let lines: Vec<String> = match db.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}")).fetch_all(&mut conn).await.unwrap();
            rows.into_iter().map(|r| r.3).collect()
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}")).fetch_all(&mut conn).await.unwrap()
        }
    };
    println!("  plan of the agent's queue view:");
    for l in lines {
        println!("    {l}");
    }
}

async fn run(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store: Arc<dyn Store> = db.store().await;
    let s = store.as_ref();
    let me = seed(&db, s).await;
    explain(&db, me).await;
    let now = chrono::Utc::now();
    for (who, viewer) in [("admin", Visibility::All), ("agent", Visibility::Agent(me))] {
        let queue = ViewQuery {
            statuses: vec![ConversationStatus::Open],
            assignee: Some(AssigneeFilter::Unassigned),
            sort: ViewSort::Waiting,
            ..ViewQuery::new(viewer, now)
        };
        measure(s, &format!("{who}: queue (open, unassigned, waiting)"), &queue, 300).await;
        // A page deep in the queue.
        let mut deep = queue.clone();
        for _ in 0..40 {
            deep.after = s.view_conversations(&deep).await.unwrap().next;
        }
        measure(s, &format!("{who}: queue, page 41"), &deep, 300).await;
        let open = ViewQuery { statuses: vec![ConversationStatus::Open], ..ViewQuery::new(viewer, now) };
        measure(s, &format!("{who}: open by last activity"), &open, 200).await;
        let mine = ViewQuery { assignee: Some(AssigneeFilter::Agent(me)), ..ViewQuery::new(viewer, now) };
        measure(s, &format!("{who}: mine"), &mine, 200).await;
        let search = ViewQuery { search: Some("order 4242".into()), ..ViewQuery::new(viewer, now) };
        measure(s, &format!("{who}: search 'order 4242'"), &search, 20).await;
        let start = Instant::now();
        let counts = s.view_counts(me, viewer).await.unwrap();
        println!("  {who}: counts {counts:?} in {:.2?}", start.elapsed());
    }
    store.close().await;
    over_http(db).await;
}

/// The same database behind the real application: the queue view and claim-next as an
/// agent's client sees them (authentication, the handler, JSON), one request at a time
/// and with fifty agents claiming at once.
async fn over_http(db: TestDb) {
    let app = start_on(db, AppOptions::default()).await;
    let queue = app.url("/api/v1/conversations?status=open&assignee=unassigned&sort=waiting");
    let get = || app.client.get(&queue).bearer_auth(&app.token).send();
    for _ in 0..20 {
        assert_eq!(get().await.unwrap().status(), 200);
    }
    let mut times = Vec::with_capacity(300);
    for _ in 0..300 {
        let start = Instant::now();
        let res = get().await.unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        times.push(start.elapsed());
    }
    report("HTTP: GET the queue (50 per page)", &mut times);

    let claim_url = app.url("/api/v1/queue/claim");
    let claim = |client: reqwest::Client, url: String, token: String| async move {
        let start = Instant::now();
        let res = client.post(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        start.elapsed()
    };
    let mut times = Vec::with_capacity(300);
    for _ in 0..300 {
        times.push(claim(app.client.clone(), claim_url.clone(), app.token.clone()).await);
    }
    report("HTTP: claim next, one at a time", &mut times);

    let mut tasks = Vec::new();
    for i in 0..50 {
        let token = format!("sbt_scale_{i}");
        let agent = NewAgent {
            name: AgentName::parse(&format!("Claimer {i}")).unwrap(),
            email: Email::parse(&format!("claimer{i}@example.com")).unwrap(),
            role: AgentRole::Agent,
        };
        app.store.create_agent(&agent, &hash_token(&token), chrono::Utc::now()).await.unwrap();
        let (client, url) = (app.client.clone(), claim_url.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(10);
            for _ in 0..10 {
                times.push(claim(client.clone(), url.clone(), token.clone()).await);
            }
            times
        }));
    }
    let mut times = Vec::with_capacity(500);
    for t in tasks {
        times.extend(t.await.unwrap());
    }
    report("HTTP: claim next, 50 agents at once", &mut times);
}

fn report(label: &str, times: &mut [Duration]) {
    times.sort();
    println!("  {label:<48} n={:<4} p50 {:>8.2?}  p99 {:>8.2?}", times.len(), pct(times, 0.5), pct(times, 0.99));
}
