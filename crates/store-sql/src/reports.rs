//! Reports (`switchboard_store::ReportStore`), the same in both dialects but for how a
//! column's values are listed in one text (`group_concat` or `string_agg`): the backend's
//! module provides `LIST_AGG`, the text before and after the listed expression.
//!
//! The backend's module also provides `HINTS`: what follows `conversations c` in the
//! resolved part and `conversation_labels cl` when grouped by label (an index to use, in
//! SQLite); `READ_SETUP`, the statements that open a report's read transaction;
//! `COMPACT_MARKS`, the statement that merges a slot's marks, if it keeps several; and
//! `SPANS_PER_STATEMENT`, the most spans (days or slots) one statement counts.
//!
//! A report's days are one statement: per day, the conversations started in it (range on
//! `conversations_started`, which covers every column read), those resolved in it
//! (`conversations_resolved`) and the automatic messages sent in it (`auto_replies_sent`),
//! each counted and, for durations, listed, and the CSAT surveys sent in it
//! (`conversations_csat`) counted per scale and score; per group when grouped.
//!
//! Past figures are cached per 15-minute slot and kind (`report_slots`, see its
//! migration): a slot's figures are computed by the same statement (its spans being the
//! slots), under a snapshot that also reads the slot's marks (`report_marks`, kept by
//! triggers), and stored as [`encode_counts`] writes them; they stay valid while the marks
//! do.

use std::fmt::Write as _;

use switchboard_store::{ReportCounts, ReportGrouping, ReportSpanCounts, Result, StoreError};

/// How a grouping groups: the expression of a conversation's group id and the joins that
/// expression needs per conversation (`labels_hint` after `conversation_labels cl`).
#[must_use]
pub fn grouping_sql(grouping: ReportGrouping, labels_hint: &str) -> (&'static str, String) {
    match grouping {
        ReportGrouping::Channel => ("c.channel_id", String::new()),
        ReportGrouping::Team => {
            ("COALESCE(c.team_id, ch.team_id)", " LEFT JOIN channels ch ON ch.id = c.channel_id".to_owned())
        }
        ReportGrouping::Agent => ("COALESCE(c.assignee_id, c.first_response_by)", String::new()),
        ReportGrouping::Label => {
            ("cl.label_id", format!(" LEFT JOIN conversation_labels cl{labels_hint} ON cl.conversation_id = c.id"))
        }
        ReportGrouping::Link => ("c.link_id", String::new()),
    }
}

/// The table and column of a grouping's names.
#[must_use]
pub const fn names_sql(grouping: ReportGrouping) -> (&'static str, &'static str) {
    match grouping {
        ReportGrouping::Channel => ("channels", "name"),
        ReportGrouping::Team => ("teams", "name"),
        ReportGrouping::Agent => ("agents", "name"),
        ReportGrouping::Label => ("labels", "name"),
        ReportGrouping::Link => ("links", "slug"),
    }
}

/// The `kind` of `report_slots` that caches `grouping`.
#[must_use]
pub const fn slot_kind(grouping: Option<ReportGrouping>) -> &'static str {
    match grouping {
        None => "all",
        Some(g) => g.as_str(),
    }
}

/// The cached slots of kind `$1` in `$2..$3` that are still valid: stored with the sums
/// of their slot's marks and of the epoch's (slot -1) that hold now. In slot order.
pub const VALID_SLOTS: &str = "FROM report_slots s \
     WHERE s.kind = $1 AND s.slot >= $2 AND s.slot < $3 \
       AND s.seq = COALESCE((SELECT SUM(m.seq) FROM report_marks m WHERE m.slot = s.slot), 0) \
       AND s.epoch = COALESCE((SELECT SUM(e.seq) FROM report_marks e WHERE e.slot = -1), 0) \
     ORDER BY s.slot";

/// The statement for `spans` spans: `d (i, s, e)`, the spans' indexes and bounds (`$2i+1`
/// and `$2i+2` for span `i`), each ranging over the conversations' indexes; rows
/// `(kind, span, [gid,] n, open, replies, met, breached, list, list)` with kind
/// - `s` (started): `n` of them, `open` of those not resolved now, the people's `replies`,
///   first response SLA targets `met` and `breached`, first response times listed;
/// - `r` (resolved): `n`, resolution SLA targets `met` and `breached`, resolution times;
/// - `c` (CSAT surveys sent): `n` per scale's points (`open`) and score (`replies`, 0:
///   unanswered);
/// - `a` (auto-replies sent): `n`;
///
/// and `$2spans+1` the agent when `agent`.
///
/// `hints` follow the resolved part's `conversations c` and the label grouping's
/// `conversation_labels cl` (SQLite's `INDEXED BY`: with an equality on `status`, its
/// planner would rather walk a status index through every resolved conversation than
/// range over `resolved_at`; without statistics, it builds an automatic index of every
/// label for the auto-replies part instead of using the primary key). `d` comes first (`CROSS
/// JOIN`: SQLite keeps that order), so each span is one range over an index and the rows
/// come span by span.
#[must_use]
pub fn days_sql(
    spans: usize,
    grouping: Option<ReportGrouping>,
    agent: bool,
    list_agg: [&str; 2],
    [resolved_hint, labels_hint]: [&str; 2],
) -> String {
    let (g, joins) = match grouping.map(|g| grouping_sql(g, labels_hint)) {
        Some((gid, joins)) => (format!("{gid} AS gid, "), joins),
        None => (String::new(), String::new()),
    };
    let by = if grouping.is_some() { " GROUP BY d.i, gid" } else { " GROUP BY d.i" };
    let mine = if agent {
        format!(" AND COALESCE(c.assignee_id, c.first_response_by) = ${}", 2 * spans + 1)
    } else {
        String::new()
    };
    let list = |col: &str| format!("{}{col}{}", list_agg[0], list_agg[1]);
    let sum = |cond: &str| format!("CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT)");
    let mut sql = String::with_capacity(2048 + spans * 24);
    sql.push_str("WITH d (i, s, e) AS (VALUES ");
    for i in 0..spans {
        let _ = write!(sql, "{}({i}, ${}, ${})", if i == 0 { "" } else { ", " }, 2 * i + 1, 2 * i + 2);
    }
    sql.push_str(") ");
    let _ = write!(
        sql,
        "SELECT 's' AS k, d.i AS di, {g}COUNT(*) AS n, {open} AS open, \
           CAST(COALESCE(SUM(c.person_replies), 0) AS BIGINT) AS replies, {met} AS met, {breached} AS breached, \
           {} AS l1, {} AS l2 \
         FROM d CROSS JOIN conversations c{joins} WHERE c.created_at >= d.s AND c.created_at < d.e{mine}{by}",
        list("c.first_response_seconds"),
        list("c.first_response_business_seconds"),
        open = sum("c.status <> 'resolved'"),
        met = sum("c.first_response_sla = 'met'"),
        breached = sum("c.first_response_sla = 'breached'"),
    );
    let _ = write!(
        sql,
        " UNION ALL SELECT 'r', d.i, {g}COUNT(*), 0, 0, {met}, {breached}, {}, {} \
         FROM d CROSS JOIN conversations c{resolved_hint}{joins} \
         WHERE c.status = 'resolved' AND c.resolved_at >= d.s AND c.resolved_at < d.e{mine}{by}",
        list("c.resolution_seconds"),
        list("c.resolution_business_seconds"),
        met = sum("c.resolution_sla = 'met'"),
        breached = sum("c.resolution_sla = 'breached'"),
    );
    let _ = write!(
        sql,
        " UNION ALL SELECT 'c', d.i, {g}COUNT(*), CAST(COALESCE(c.csat_scale, 0) AS BIGINT), \
           CAST(COALESCE(c.csat_score, 0) AS BIGINT), 0, 0, NULL, NULL \
         FROM d CROSS JOIN conversations c{joins} \
         WHERE c.csat_queued_at >= d.s AND c.csat_queued_at < d.e{mine}{by}, c.csat_scale, c.csat_score",
    );
    if grouping.is_none() && !agent {
        sql.push_str(
            " UNION ALL SELECT 'a', d.i, COUNT(*), 0, 0, 0, 0, NULL, NULL FROM d CROSS JOIN auto_replies ar \
             WHERE ar.message_id IS NOT NULL AND ar.sent_at >= d.s AND ar.sent_at < d.e GROUP BY d.i",
        );
    } else {
        let _ = write!(
            sql,
            " UNION ALL SELECT 'a', d.i, {g}COUNT(*), 0, 0, 0, 0, NULL, NULL FROM d CROSS JOIN auto_replies ar \
               CROSS JOIN conversations c{joins} \
             WHERE ar.message_id IS NOT NULL AND ar.sent_at >= d.s AND ar.sent_at < d.e \
               AND c.id = ar.conversation_id{mine}{by}",
        );
    }
    sql
}

/// The numbers of a listed column (`None`: nothing listed).
///
/// # Errors
/// A corrupt row if an item is not a number.
pub fn parse_list(list: Option<&str>) -> Result<Vec<i64>> {
    let Some(list) = list.filter(|l| !l.is_empty()) else { return Ok(Vec::new()) };
    list.split(',')
        .map(|n| n.trim().parse::<i64>().map_err(|_| StoreError::corrupt(format!("listed duration {n:?}"))))
        .collect()
}

/// The version of [`encode_counts`]' format (its first byte).
const FORMAT: u8 = 1;

/// A slot's figures as `report_slots.data` keeps them: the format's version, whether
/// grouped, then per group its id (a flag and 16 bytes) and its counts, every number a
/// LEB128 varint (durations zigzag-encoded). Compact, and read back without parsing text.
#[must_use]
pub fn encode_counts(counts: &ReportSpanCounts) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT);
    match counts {
        ReportSpanCounts::All(all) => {
            out.push(0);
            put_counts(&mut out, all);
        }
        ReportSpanCounts::Groups(groups) => {
            out.push(1);
            put(&mut out, groups.len() as u64);
            for (id, counts) in groups {
                match id {
                    Some(id) => {
                        out.push(1);
                        out.extend_from_slice(id.as_bytes());
                    }
                    None => out.push(0),
                }
                put_counts(&mut out, counts);
            }
        }
    }
    out
}

/// Reads what [`encode_counts`] wrote.
///
/// # Errors
/// A corrupt row if `data` is not that.
pub fn decode_counts(data: &[u8]) -> Result<ReportSpanCounts> {
    let mut r = Reader(data);
    if r.byte()? != FORMAT {
        return Err(StoreError::corrupt("cached report slot of an unknown format"));
    }
    let counts = if r.byte()? == 0 {
        ReportSpanCounts::All(r.counts()?)
    } else {
        let n = r.len()?;
        let mut groups = Vec::with_capacity(n);
        for _ in 0..n {
            let id = if r.byte()? == 0 { None } else { Some(uuid::Uuid::from_bytes(r.array()?)) };
            groups.push((id, r.counts()?));
        }
        ReportSpanCounts::Groups(groups)
    };
    if r.0.is_empty() { Ok(counts) } else { Err(StoreError::corrupt("cached report slot too long")) }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_list(out: &mut Vec<u8>, values: &[i64]) {
    put(out, values.len() as u64);
    for &v in values {
        put(out, ((v << 1) ^ (v >> 63)) as u64);
    }
}

fn put_counts(out: &mut Vec<u8>, c: &ReportCounts) {
    for n in [
        c.started,
        c.open,
        c.resolved,
        c.replies,
        c.auto_replies,
        c.sla.first_response_met,
        c.sla.first_response_breached,
        c.sla.resolution_met,
        c.sla.resolution_breached,
        c.csat_surveys,
    ] {
        put(out, n);
    }
    put(out, c.csat_answers.len() as u64);
    for (&(scale, score), &n) in &c.csat_answers {
        out.extend_from_slice(&[scale, score]);
        put(out, n);
    }
    for list in [&c.first_response, &c.first_response_business, &c.resolution, &c.resolution_business] {
        put_list(out, list);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let (&b, rest) = self.0.split_first().ok_or_else(|| StoreError::corrupt("cached report slot cut short"))?;
        self.0 = rest;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) =
            self.0.split_first_chunk::<N>().ok_or_else(|| StoreError::corrupt("cached report slot cut short"))?;
        self.0 = rest;
        Ok(*head)
    }

    fn num(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(StoreError::corrupt("cached report slot: a number too long"))
    }

    /// A count of items that follow, each at least a byte long.
    fn len(&mut self) -> Result<usize> {
        usize::try_from(self.num()?)
            .ok()
            .filter(|&n| n <= self.0.len())
            .ok_or_else(|| StoreError::corrupt("cached report slot: a count past its end"))
    }

    fn list(&mut self) -> Result<Vec<i64>> {
        let n = self.len()?;
        (0..n).map(|_| self.num().map(|z| ((z >> 1) as i64) ^ -((z & 1) as i64))).collect()
    }

    fn counts(&mut self) -> Result<ReportCounts> {
        let mut c = ReportCounts {
            started: self.num()?,
            open: self.num()?,
            resolved: self.num()?,
            replies: self.num()?,
            auto_replies: self.num()?,
            ..ReportCounts::default()
        };
        c.sla.first_response_met = self.num()?;
        c.sla.first_response_breached = self.num()?;
        c.sla.resolution_met = self.num()?;
        c.sla.resolution_breached = self.num()?;
        c.csat_surveys = self.num()?;
        for _ in 0..self.len()? {
            let [scale, score] = self.array()?;
            c.csat_answers.insert((scale, score), self.num()?);
        }
        c.first_response = self.list()?;
        c.first_response_business = self.list()?;
        c.resolution = self.list()?;
        c.resolution_business = self.list()?;
        Ok(c)
    }
}

/// Expands, in a backend's `reports` module (which defines `LIST_AGG`), to
/// `ReportStore` for `$store`.
#[macro_export]
macro_rules! report_store {
    ($store:ty, $db:ty) => {
        mod shared {
            use std::collections::{BTreeMap, HashMap};

            use chrono::{DateTime, Utc};
            use sqlx::QueryBuilder;
            use switchboard_domain::report::slot_start;

            use sqlx::Row as _;
            use switchboard_domain::{
                AgentId, ChannelId, ContactId, ConversationId, ConversationStatus, LinkId, TeamId,
            };
            use switchboard_store::{
                CsatAnswerRow, CsatCursor, ReportConversation, ReportCounts, ReportCsat, ReportCursor, ReportDays,
                ReportGrouping, ReportSpan, ReportSpanCounts, ReportStore, Result,
            };
            use uuid::Uuid;

            use $crate::reports::{days_sql, decode_counts, encode_counts, names_sql, parse_list, slot_kind, VALID_SLOTS};
            use $crate::{DbResultExt, Int, Ts, opt_time};

            fn sla_outcome(s: Option<String>) -> Result<Option<switchboard_domain::sla::SlaOutcome>> {
                s.map(|s| {
                    switchboard_domain::sla::SlaOutcome::parse(&s)
                        .ok_or_else(|| switchboard_store::StoreError::corrupt(format!("sla outcome {s:?}")))
                })
                .transpose()
            }

            fn count(n: i64) -> u64 {
                u64::try_from(n).unwrap_or(0)
            }

            /// The survey in columns `at..at + 5` (scale, queued, score, rated, comment).
            fn csat_of<R: sqlx::Row>(r: &R, at: usize) -> Result<Option<ReportCsat>>
            where
                usize: sqlx::ColumnIndex<R>,
                for<'r> Option<Int>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<Ts>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            {
                let scale: Option<Int> = r.try_get(at).db()?;
                let queued: Option<Ts> = r.try_get(at + 1).db()?;
                let (Some(Int(scale)), Some(Ts(surveyed_at))) = (scale, queued) else { return Ok(None) };
                let small = |v: i64| {
                    u8::try_from(v).map_err(|_| switchboard_store::StoreError::corrupt(format!("csat value {v}")))
                };
                let score: Option<Int> = r.try_get(at + 2).db()?;
                Ok(Some(ReportCsat {
                    scale: small(scale)?,
                    surveyed_at,
                    score: score.map(|s| small(s.0)).transpose()?,
                    answered_at: opt_time(r.try_get(at + 3).db()?),
                    comment: r.try_get(at + 4).db()?,
                }))
            }

            /// A read transaction on one snapshot, set up as the backend's `READ_SETUP` says.
            async fn read_tx(
                pool: &sqlx::Pool<$db>,
            ) -> Result<sqlx::Transaction<'static, $db>> {
                let mut tx = pool.begin().await.db()?;
                for statement in super::READ_SETUP {
                    sqlx::query(statement).execute(&mut *tx).await.db()?;
                }
                Ok(tx)
            }

            /// The counts of each of `spans` (`[start, end)`, at most
            /// the backend's `SPANS_PER_STATEMENT`), in order, in all or per group.
            async fn spans_counts(
                conn: &mut <$db as sqlx::Database>::Connection,
                spans: &[(DateTime<Utc>, DateTime<Utc>)],
                grouping: Option<ReportGrouping>,
                agent: Option<AgentId>,
            ) -> Result<Vec<ReportSpanCounts>> {
                let n = spans.len();
                let Some(&(_, last)) = spans.last() else { return Ok(Vec::new()) };
                // Padded with empty spans to a power of two: a few statements serve all sizes.
                let padded = n.next_power_of_two();
                let sql = days_sql(padded, grouping, agent.is_some(), super::LIST_AGG, super::HINTS);
                let mut q = sqlx::query(&sql);
                for i in 0..padded {
                    let (start, end) = spans.get(i).copied().unwrap_or((last, last));
                    q = q.bind(Ts(start)).bind(Ts(end));
                }
                if let Some(agent) = agent {
                    q = q.bind(*agent.as_uuid());
                }
                let rows = q.fetch_all(&mut *conn).await.db()?;
                let grouped = grouping.is_some();
                let mut all = vec![ReportCounts::default(); n];
                let mut groups: Vec<BTreeMap<Option<Uuid>, ReportCounts>> = vec![BTreeMap::new(); n];
                for row in rows {
                    let kind: String = row.try_get(0).db()?;
                    let Int(day) = row.try_get(1).db()?;
                    let day = usize::try_from(day)
                        .ok()
                        .filter(|d| *d < n)
                        .ok_or_else(|| switchboard_store::StoreError::corrupt(format!("report span {day}")))?;
                    let at = if grouped { 3 } else { 2 };
                    let counts = if grouped {
                        groups[day].entry(row.try_get(2).db()?).or_default()
                    } else {
                        &mut all[day]
                    };
                    let Int(n) = row.try_get(at).db()?;
                    let Int(open) = row.try_get(at + 1).db()?;
                    let Int(replies) = row.try_get(at + 2).db()?;
                    let Int(met) = row.try_get(at + 3).db()?;
                    let Int(breached) = row.try_get(at + 4).db()?;
                    match kind.as_str() {
                        "s" => {
                            let l1: Option<&str> = row.try_get(at + 5).db()?;
                            let l2: Option<&str> = row.try_get(at + 6).db()?;
                            counts.started += count(n);
                            counts.open += count(open);
                            counts.replies += count(replies);
                            counts.sla.first_response_met += count(met);
                            counts.sla.first_response_breached += count(breached);
                            counts.first_response.extend(parse_list(l1)?);
                            counts.first_response_business.extend(parse_list(l2)?);
                        }
                        "r" => {
                            let l1: Option<&str> = row.try_get(at + 5).db()?;
                            let l2: Option<&str> = row.try_get(at + 6).db()?;
                            counts.resolved += count(n);
                            counts.sla.resolution_met += count(met);
                            counts.sla.resolution_breached += count(breached);
                            counts.resolution.extend(parse_list(l1)?);
                            counts.resolution_business.extend(parse_list(l2)?);
                        }
                        "c" => {
                            let (scale, score) = (open, replies);
                            counts.csat_surveys += count(n);
                            if score > 0 {
                                let small = |v: i64| {
                                    u8::try_from(v).map_err(|_| {
                                        switchboard_store::StoreError::corrupt(format!("csat {scale}/{score}"))
                                    })
                                };
                                *counts.csat_answers.entry((small(scale)?, small(score)?)).or_default() += count(n);
                            }
                        }
                        _ => counts.auto_replies += count(n),
                    }
                }
                Ok(if grouped {
                    groups.into_iter().map(|g| ReportSpanCounts::Groups(g.into_iter().collect())).collect()
                } else {
                    all.into_iter().map(ReportSpanCounts::All).collect()
                })
            }

            #[$crate::reexport::async_trait]
            impl ReportStore for $store {
                async fn report_days(&self, days: &ReportDays) -> Result<Vec<ReportSpanCounts>> {
                    let spans: Vec<_> = days.bounds.windows(2).map(|w| (w[0], w[1])).collect();
                    if spans.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut tx = read_tx(self.pool()).await?;
                    let mut out = Vec::with_capacity(spans.len());
                    for chunk in spans.chunks(super::SPANS_PER_STATEMENT) {
                        out.extend(spans_counts(&mut tx, chunk, days.grouping, days.agent).await?);
                    }
                    tx.commit().await.db()?;
                    Ok(out)
                }

                async fn cached_report_slots(
                    &self,
                    grouping: Option<ReportGrouping>,
                    slots: std::ops::Range<i64>,
                ) -> Result<Vec<(i64, ReportSpanCounts)>> {
                    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(&format!("SELECT s.slot, s.data {VALID_SLOTS}"))
                        .bind(slot_kind(grouping))
                        .bind(slots.start)
                        .bind(slots.end)
                        .fetch_all(self.pool())
                        .await
                        .db()?;
                    rows.into_iter().map(|(slot, data)| Ok((slot, decode_counts(&data)?))).collect()
                }

                async fn valid_report_slots(
                    &self,
                    grouping: Option<ReportGrouping>,
                    slots: std::ops::Range<i64>,
                ) -> Result<Vec<i64>> {
                    sqlx::query_scalar(&format!("SELECT s.slot {VALID_SLOTS}"))
                        .bind(slot_kind(grouping))
                        .bind(slots.start)
                        .bind(slots.end)
                        .fetch_all(self.pool())
                        .await
                        .db()
                }

                async fn fill_report_slots(
                    &self,
                    grouping: Option<ReportGrouping>,
                    slots: &[i64],
                ) -> Result<Vec<ReportSpanCounts>> {
                    let (Some(&lo), Some(&hi)) = (slots.iter().min(), slots.iter().max()) else {
                        return Ok(Vec::new());
                    };
                    // The marks and the facts, read under one snapshot: a change committed
                    // after it moves a mark past the one stored with the figures.
                    let mut tx = read_tx(self.pool()).await?;
                    let marks: Vec<(i64, i64)> =
                        sqlx::query_as(
                            "SELECT slot, CAST(SUM(seq) AS BIGINT) FROM report_marks \
                             WHERE slot = -1 OR (slot >= $1 AND slot <= $2) GROUP BY slot",
                        )
                            .bind(lo)
                            .bind(hi)
                            .fetch_all(&mut *tx)
                            .await
                            .db()?;
                    let marks: HashMap<i64, i64> = marks.into_iter().collect();
                    let epoch = marks.get(&-1).copied().unwrap_or(0);
                    let spans: Vec<_> = slots.iter().map(|&s| (slot_start(s), slot_start(s + 1))).collect();
                    let mut out = Vec::with_capacity(slots.len());
                    for chunk in spans.chunks(super::SPANS_PER_STATEMENT) {
                        out.extend(spans_counts(&mut tx, chunk, grouping, None).await?);
                    }
                    tx.commit().await.db()?;
                    // Stored a chunk per statement, so the write gate is never held long.
                    let rows: Vec<(i64, i64, Vec<u8>)> = slots
                        .iter()
                        .zip(&out)
                        .map(|(&slot, counts)| (slot, marks.get(&slot).copied().unwrap_or(0), encode_counts(counts)))
                        .collect();
                    for chunk in $crate::ids::pow2_chunks(&rows) {
                        let mut qb = QueryBuilder::<$db>::new("INSERT INTO report_slots (kind, slot, seq, epoch, data) ");
                        qb.push_values(chunk, |mut b, (slot, seq, data)| {
                            b.push_bind(slot_kind(grouping)).push_bind(*slot).push_bind(*seq).push_bind(epoch).push_bind(data.as_slice());
                        });
                        qb.push(
                            " ON CONFLICT (kind, slot) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch, \
                             data = excluded.data",
                        );
                        let mut conn = self.write_conn().await?;
                        qb.build().execute(&mut *conn).await.db()?;
                    }
                    Ok(out)
                }

                async fn compact_report_marks(&self) -> Result<u64> {
                    let Some(sql) = super::COMPACT_MARKS else { return Ok(0) };
                    let mut conn = self.write_conn().await?;
                    Ok(sqlx::query(sql).execute(&mut *conn).await.db()?.rows_affected())
                }

                async fn first_conversation_at(&self) -> Result<Option<DateTime<Utc>>> {
                    let first: Option<Ts> =
                        sqlx::query_scalar("SELECT MIN(created_at) FROM conversations").fetch_one(self.pool()).await.db()?;
                    Ok(first.map(|t| t.0))
                }

                async fn report_group_names(&self, grouping: ReportGrouping, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
                    let (table, name) = names_sql(grouping);
                    let mut out = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(switchboard_store::ID_LIST_CHUNK) {
                        let mut qb = QueryBuilder::<$db>::new(format!("SELECT id, {name} FROM {table} WHERE id IN "));
                        $crate::ids::push_ids(&mut qb, chunk);
                        out.extend(qb.build_query_as::<(Uuid, String)>().fetch_all(self.pool()).await.db()?);
                    }
                    Ok(out)
                }

                async fn report_conversations(
                    &self,
                    span: &ReportSpan,
                    after: Option<ReportCursor>,
                    limit: u32,
                ) -> Result<Vec<ReportConversation>> {
                    let mine = if span.agent.is_some() {
                        " AND COALESCE(c.assignee_id, c.first_response_by) = $6"
                    } else {
                        ""
                    };
                    let sql = format!(
                        "SELECT c.id, c.contact_id, c.channel_id, ch.name, COALESCE(c.team_id, ch.team_id), t.name, \
                           COALESCE(c.assignee_id, c.first_response_by), a.name, c.status, c.link_id, k.slug, \
                           c.created_at, c.first_response_at, c.first_response_by, c.resolved_at, \
                           c.first_response_seconds, c.first_response_business_seconds, \
                           c.resolution_seconds, c.resolution_business_seconds, c.person_replies, \
                           (SELECT COUNT(*) FROM auto_replies ar WHERE ar.conversation_id = c.id AND ar.message_id IS NOT NULL), \
                           c.csat_scale, c.csat_queued_at, c.csat_score, c.csat_rated_at, c.csat_comment, \
                           c.first_response_due_at, c.first_response_sla, c.resolution_due_at, c.resolution_sla \
                         FROM conversations c \
                         JOIN channels ch ON ch.id = c.channel_id \
                         LEFT JOIN teams t ON t.id = COALESCE(c.team_id, ch.team_id) \
                         LEFT JOIN agents a ON a.id = COALESCE(c.assignee_id, c.first_response_by) \
                         LEFT JOIN links k ON k.id = c.link_id \
                         WHERE c.created_at >= $1 AND c.created_at < $2 AND (c.created_at, c.id) > ($3, $4){mine} \
                         ORDER BY c.created_at, c.id LIMIT $5"
                    );
                    // The first page continues from before the span's start.
                    let (from_at, from_id) = after.map_or((span.start - chrono::Duration::milliseconds(1), Uuid::nil()), |c| {
                        (c.created_at, *c.id.as_uuid())
                    });
                    // The range starts at the cursor: SQLite's plan ranges from `$1` only
                    // (the row value filters), so every page would read from the span's start.
                    let mut q = sqlx::query(&sql)
                        .bind(Ts(from_at.max(span.start)))
                        .bind(Ts(span.end))
                        .bind(Ts(from_at))
                        .bind(from_id)
                        .bind(i64::from(limit));
                    if let Some(agent) = span.agent {
                        q = q.bind(*agent.as_uuid());
                    }
                    let mut conn = self.pool().acquire().await.db()?;
                    let rows = q.fetch_all(&mut *conn).await.db()?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        let status: String = r.try_get(8).db()?;
                        let Int(replies) = r.try_get(19).db()?;
                        let Int(auto_replies) = r.try_get(20).db()?;
                        let Ts(created_at) = r.try_get(11).db()?;
                        out.push(ReportConversation {
                            id: ConversationId::from_uuid(r.try_get(0).db()?),
                            contact_id: ContactId::from_uuid(r.try_get(1).db()?),
                            channel_id: ChannelId::from_uuid(r.try_get(2).db()?),
                            channel: r.try_get(3).db()?,
                            team_id: r.try_get::<Option<Uuid>, _>(4).db()?.map(TeamId::from_uuid),
                            team: r.try_get(5).db()?,
                            agent_id: r.try_get::<Option<Uuid>, _>(6).db()?.map(AgentId::from_uuid),
                            agent: r.try_get(7).db()?,
                            status: ConversationStatus::parse(&status)
                                .ok_or_else(|| switchboard_store::StoreError::corrupt(format!("conversation status {status:?}")))?,
                            labels: Vec::new(),
                            link_id: r.try_get::<Option<Uuid>, _>(9).db()?.map(LinkId::from_uuid),
                            link: r.try_get(10).db()?,
                            created_at,
                            first_response_at: opt_time(r.try_get(12).db()?),
                            first_response_by: r.try_get::<Option<Uuid>, _>(13).db()?.map(AgentId::from_uuid),
                            resolved_at: opt_time(r.try_get(14).db()?),
                            first_response_seconds: r.try_get::<Option<Int>, _>(15).db()?.map(|i| i.0),
                            first_response_business_seconds: r.try_get::<Option<Int>, _>(16).db()?.map(|i| i.0),
                            resolution_seconds: r.try_get::<Option<Int>, _>(17).db()?.map(|i| i.0),
                            resolution_business_seconds: r.try_get::<Option<Int>, _>(18).db()?.map(|i| i.0),
                            replies: count(replies),
                            auto_replies: count(auto_replies),
                            csat: csat_of(&r, 21)?,
                            sla: switchboard_store::ConversationSla {
                                first_response_due_at: opt_time(r.try_get(26).db()?),
                                first_response: sla_outcome(r.try_get(27).db()?)?,
                                resolution_due_at: opt_time(r.try_get(28).db()?),
                                resolution: sla_outcome(r.try_get(29).db()?)?,
                            },
                        });
                    }
                    if out.is_empty() {
                        return Ok(out);
                    }
                    // Their labels, in one statement.
                    let marks: Vec<String> = (1..=out.len()).map(|i| format!("${i}")).collect();
                    let sql = format!(
                        "SELECT cl.conversation_id, l.name FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id \
                         WHERE cl.conversation_id IN ({})",
                        marks.join(", ")
                    );
                    let mut q = sqlx::query_as::<_, (Uuid, String)>(&sql);
                    for c in &out {
                        q = q.bind(*c.id.as_uuid());
                    }
                    let labels = q.fetch_all(&mut *conn).await.db()?;
                    let mut by: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
                    for (c, name) in labels {
                        by.entry(c).or_default().push(name);
                    }
                    for c in &mut out {
                        if let Some(mut names) = by.remove(c.id.as_uuid()) {
                            names.sort();
                            c.labels = names;
                        }
                    }
                    Ok(out)
                }

                async fn report_csat_answers(
                    &self,
                    span: &ReportSpan,
                    after: Option<CsatCursor>,
                    limit: u32,
                ) -> Result<Vec<CsatAnswerRow>> {
                    let mine = if span.agent.is_some() {
                        " AND COALESCE(c.assignee_id, c.first_response_by) = $6"
                    } else {
                        ""
                    };
                    let sql = format!(
                        "SELECT c.id, c.contact_id, c.channel_id, ch.name, COALESCE(c.team_id, ch.team_id), t.name, \
                           COALESCE(c.assignee_id, c.first_response_by), a.name, \
                           c.csat_scale, c.csat_queued_at, c.csat_score, c.csat_rated_at, c.csat_comment \
                         FROM conversations c \
                         JOIN channels ch ON ch.id = c.channel_id \
                         LEFT JOIN teams t ON t.id = COALESCE(c.team_id, ch.team_id) \
                         LEFT JOIN agents a ON a.id = COALESCE(c.assignee_id, c.first_response_by) \
                         WHERE c.csat_queued_at >= $1 AND c.csat_queued_at < $2 \
                           AND (c.csat_queued_at, c.id) > ($3, $4) AND c.csat_score IS NOT NULL{mine} \
                         ORDER BY c.csat_queued_at, c.id LIMIT $5"
                    );
                    let (from_at, from_id) = after.map_or((span.start - chrono::Duration::milliseconds(1), Uuid::nil()), |c| {
                        (c.surveyed_at, *c.id.as_uuid())
                    });
                    // The range starts at the cursor: SQLite's plan ranges from `$1` only
                    // (the row value filters), so every page would read from the span's start.
                    let mut q = sqlx::query(&sql)
                        .bind(Ts(from_at.max(span.start)))
                        .bind(Ts(span.end))
                        .bind(Ts(from_at))
                        .bind(from_id)
                        .bind(i64::from(limit));
                    if let Some(agent) = span.agent {
                        q = q.bind(*agent.as_uuid());
                    }
                    let rows = q.fetch_all(self.pool()).await.db()?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        let Some(csat) = csat_of(&r, 8)? else {
                            return Err(switchboard_store::StoreError::corrupt("a survey without its scale"));
                        };
                        let Some(score) = csat.score else {
                            return Err(switchboard_store::StoreError::corrupt("an answer without its score"));
                        };
                        out.push(CsatAnswerRow {
                            conversation_id: ConversationId::from_uuid(r.try_get(0).db()?),
                            contact_id: ContactId::from_uuid(r.try_get(1).db()?),
                            channel_id: ChannelId::from_uuid(r.try_get(2).db()?),
                            channel: r.try_get(3).db()?,
                            team_id: r.try_get::<Option<Uuid>, _>(4).db()?.map(TeamId::from_uuid),
                            team: r.try_get(5).db()?,
                            agent_id: r.try_get::<Option<Uuid>, _>(6).db()?.map(AgentId::from_uuid),
                            agent: r.try_get(7).db()?,
                            scale: csat.scale,
                            score,
                            comment: csat.comment,
                            surveyed_at: csat.surveyed_at,
                            answered_at: csat.answered_at,
                        });
                    }
                    Ok(out)
                }
            }
        }
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cached_counts_read_back_as_written() {
        let mut a = ReportCounts {
            started: 3,
            open: 1,
            resolved: 200,
            replies: u64::MAX,
            auto_replies: 7,
            first_response: vec![0, 1, 127, 128, 300, -5, i64::MAX, i64::MIN],
            first_response_business: vec![],
            resolution: vec![3600; 40],
            resolution_business: vec![86_400 * 90],
            csat_surveys: 4,
            ..ReportCounts::default()
        };
        a.sla.resolution_breached = 2;
        a.csat_answers.insert((5, 4), 2);
        a.csat_answers.insert((3, 1), 1);
        for counts in [
            ReportSpanCounts::All(ReportCounts::default()),
            ReportSpanCounts::All(a.clone()),
            ReportSpanCounts::Groups(vec![]),
            ReportSpanCounts::Groups(vec![
                (Some(uuid::Uuid::from_u128(42)), a.clone()),
                (None, ReportCounts::default()),
            ]),
        ] {
            let data = encode_counts(&counts);
            assert_eq!(decode_counts(&data).unwrap(), counts);
            for cut in 0..data.len() {
                assert!(decode_counts(&data[..cut]).is_err(), "cut at {cut}");
            }
        }
        assert!(decode_counts(&[9, 0]).is_err());
    }
}
