//! Reports (`switchboard_store::ReportStore`), the same in both dialects but for how a
//! column's values are listed in one text (`group_concat` or `string_agg`): the backend's
//! module provides `LIST_AGG`, the text before and after the listed expression.
//!
//! The backend's module also provides `RESOLVED_HINT`, what follows `conversations c` in
//! the resolved part (an index to use, in SQLite).
//!
//! A report's days are one statement: per day, the conversations started in it (range on
//! `conversations_started`, which covers every column read), those resolved in it
//! (`conversations_resolved`) and the automatic messages sent in it (`auto_replies_sent`),
//! each counted and, for durations, listed, and the CSAT surveys sent in it
//! (`conversations_csat`) counted per scale and score; per group when grouped.

use std::fmt::Write as _;

use switchboard_store::{ReportGrouping, Result, StoreError};

/// How a grouping groups: the expression of a conversation's group id, the joins that
/// expression needs per conversation, and the table and column of the group's name
/// (joined once per group, after grouping).
#[must_use]
pub fn grouping_sql(grouping: ReportGrouping) -> (&'static str, &'static str, (&'static str, &'static str)) {
    match grouping {
        ReportGrouping::Channel => ("c.channel_id", "", ("channels", "name")),
        ReportGrouping::Team => {
            ("COALESCE(c.team_id, ch.team_id)", " LEFT JOIN channels ch ON ch.id = c.channel_id", ("teams", "name"))
        }
        ReportGrouping::Agent => ("COALESCE(c.assignee_id, c.first_response_by)", "", ("agents", "name")),
        ReportGrouping::Label => {
            ("cl.label_id", " LEFT JOIN conversation_labels cl ON cl.conversation_id = c.id", ("labels", "name"))
        }
        ReportGrouping::Link => ("c.link_id", "", ("links", "slug")),
    }
}

/// The statement for a report's `days` days: `d (i, s, e)`, the days' indexes and bounds
/// (`$1` … `$days+1`), each ranging over the conversations' indexes; rows
/// `(kind, day, [gid, gname,] n, open, replies, met, breached, list, list)` with kind
/// - `s` (started): `n` of them, `open` of those not resolved now, the people's `replies`,
///   first response SLA targets `met` and `breached`, first response times listed;
/// - `r` (resolved): `n`, resolution SLA targets `met` and `breached`, resolution times;
/// - `c` (CSAT surveys sent): `n` per scale's points (`open`) and score (`replies`, 0:
///   unanswered);
/// - `a` (auto-replies sent): `n`;
///
/// and `$days+2` the agent when `agent`.
///
/// `resolved_hint` follows the resolved part's `conversations c` (SQLite's `INDEXED BY`:
/// with an equality on `status`, its planner would rather walk a status index through
/// every resolved conversation than range over `resolved_at`). `d` comes first (`CROSS
/// JOIN`: SQLite keeps that order), so each day is one range over an index and the rows
/// come day by day.
#[must_use]
pub fn days_sql(
    days: usize,
    grouping: Option<ReportGrouping>,
    agent: bool,
    list_agg: [&str; 2],
    resolved_hint: &str,
) -> String {
    let (g, joins, names) = match grouping.map(grouping_sql) {
        Some((gid, joins, names)) => (format!("{gid} AS gid, "), joins, Some(names)),
        None => (String::new(), "", None),
    };
    let by = if grouping.is_some() { " GROUP BY d.i, gid" } else { " GROUP BY d.i" };
    let mine = if agent {
        format!(" AND COALESCE(c.assignee_id, c.first_response_by) = ${}", days + 2)
    } else {
        String::new()
    };
    let list = |col: &str| format!("{}{col}{}", list_agg[0], list_agg[1]);
    let sum = |cond: &str| format!("CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT)");
    let mut sql = String::with_capacity(2048 + days * 16);
    sql.push_str("WITH d (i, s, e) AS (VALUES ");
    for day in 0..days {
        let _ = write!(sql, "{}({day}, ${}, ${})", if day == 0 { "" } else { ", " }, day + 1, day + 2);
    }
    sql.push_str(") ");
    if names.is_some() {
        // Grouped by id; the groups' names are joined to the grouped rows.
        sql.push_str("SELECT x.k, x.di, x.gid, gn.gname, x.n, x.open, x.replies, x.met, x.breached, x.l1, x.l2 FROM (");
    }
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
    if let Some((table, name)) = names {
        let _ = write!(sql, ") x LEFT JOIN (SELECT id, {name} AS gname FROM {table}) gn ON gn.id = x.gid");
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

/// Expands, in a backend's `reports` module (which defines `LIST_AGG`), to
/// `ReportStore` for `$store`.
#[macro_export]
macro_rules! report_store {
    ($store:ty) => {
        mod shared {
            use std::collections::BTreeMap;

            use sqlx::Row as _;
            use switchboard_domain::{
                AgentId, ChannelId, ContactId, ConversationId, ConversationStatus, LinkId, TeamId,
            };
            use switchboard_store::{
                CsatAnswerRow, CsatCursor, ReportConversation, ReportCounts, ReportCsat, ReportCursor, ReportDays, ReportGroupKey,
                ReportSpan, ReportSpanCounts, ReportStore, Result,
            };
            use uuid::Uuid;

            use $crate::reports::{days_sql, parse_list};
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

            #[$crate::reexport::async_trait]
            impl ReportStore for $store {
                async fn report_days(&self, days: &ReportDays) -> Result<Vec<ReportSpanCounts>> {
                    let n = days.len();
                    if n == 0 {
                        return Ok(Vec::new());
                    }
                    let sql = days_sql(n, days.grouping, days.agent.is_some(), super::LIST_AGG, super::RESOLVED_HINT);
                    let mut q = sqlx::query(&sql);
                    for at in &days.bounds {
                        q = q.bind(Ts(*at));
                    }
                    if let Some(agent) = days.agent {
                        q = q.bind(*agent.as_uuid());
                    }
                    let rows = q.fetch_all(self.pool()).await.db()?;
                    let grouped = days.grouping.is_some();
                    let mut all = vec![ReportCounts::default(); n];
                    let mut groups: Vec<BTreeMap<ReportGroupKey, ReportCounts>> = vec![BTreeMap::new(); n];
                    for row in rows {
                        let kind: String = row.try_get(0).db()?;
                        let Int(day) = row.try_get(1).db()?;
                        let day = usize::try_from(day)
                            .ok()
                            .filter(|d| *d < n)
                            .ok_or_else(|| switchboard_store::StoreError::corrupt(format!("report day {day}")))?;
                        let at = if grouped { 4 } else { 2 };
                        let counts = if grouped {
                            let key = ReportGroupKey { id: row.try_get(2).db()?, name: row.try_get(3).db()? };
                            groups[day].entry(key).or_default()
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
                    let mut q = sqlx::query(&sql)
                        .bind(Ts(span.start))
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
                    let mut q = sqlx::query(&sql)
                        .bind(Ts(span.start))
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
