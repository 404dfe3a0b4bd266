//! The event log: group-committed, deduplicated appends.

use std::collections::HashMap;
use std::sync::OnceLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use switchboard_domain::EventId;
use switchboard_store::{Appended, EventLog, EventLogBacklog, EventLogStats, NewEvent, Result};

use crate::SqliteStore;
use crate::error::DbResultExt;
use crate::rows::{corrupt, ms};

/// Bound parameters a row of the INSERT takes.
const PARAMS_PER_ROW: usize = 5;
/// At most this many rows per statement (5120 parameters, far below SQLite's 32766).
const MAX_ROWS: usize = 1024;
/// Statements have exactly 1..=32 rows, or a multiple of 32 up to `MAX_ROWS`: 63 shapes
/// in all, each prepared once on the one write connection and then cached.
const STEP: usize = 32;
const _: () = assert!(MAX_ROWS * PARAMS_PER_ROW <= 32_766, "SQLite's bound-parameter limit");
const _: () = assert!(MAX_ROWS.is_multiple_of(STEP));

static INSERT_SQL: [OnceLock<String>; MAX_ROWS + 1] = [const { OnceLock::new() }; MAX_ROWS + 1];

fn insert_sql(rows: usize) -> &'static str {
    INSERT_SQL[rows].get_or_init(|| {
        let mut sql = String::with_capacity(200 + rows * 10);
        sql.push_str("INSERT INTO webhook_events (body_time, body_sha256, body, received_at, deliveries) VALUES ");
        for i in 0..rows {
            sql.push_str(if i == 0 { "(?,?,?,?,?)" } else { ",(?,?,?,?,?)" });
        }
        sql.push_str(
            " ON CONFLICT (body_time, body_sha256) DO UPDATE SET deliveries = deliveries + excluded.deliveries \
             RETURNING id, body_sha256, deliveries",
        );
        sql
    })
}

/// The statement shape that holds `n` (1..=`MAX_ROWS`) rows: `n` itself up to `STEP`,
/// else `n` rounded up to a multiple of `STEP`.
const fn shape(n: usize) -> usize {
    if n <= STEP { n } else { n.div_ceil(STEP) * STEP }
}

/// One distinct body of a batch: the index of its first occurrence, how many times it
/// occurs, and what the database returned for it.
struct Distinct {
    first: usize,
    count: i64,
    id: i64,
    deliveries: i64,
}

/// Inserts the distinct rows, `MAX_ROWS` per statement. A statement's unused rows repeat
/// its last row with `deliveries = 0`: SQLite applies a multi-row upsert row by row, so
/// a repeat updates the row just inserted (or found) by `+ 0` and returns it unchanged.
async fn insert_chunks(
    conn: &mut SqliteConnection,
    events: &[NewEvent],
    distinct: &mut [Distinct],
    index: &HashMap<&[u8; 32], usize>,
) -> Result<()> {
    for start in (0..distinct.len()).step_by(MAX_ROWS) {
        let end = (start + MAX_ROWS).min(distinct.len());
        let rows = shape(end - start);
        let mut q = sqlx::query(insert_sql(rows));
        for d in &distinct[start..end] {
            let e = &events[d.first];
            q = q.bind(e.body_time).bind(&e.body_sha256[..]).bind(&e.body[..]).bind(ms(e.received_at)).bind(d.count);
        }
        let last = &events[distinct[end - 1].first];
        for _ in end - start..rows {
            q = q
                .bind(last.body_time)
                .bind(&last.body_sha256[..])
                .bind(&last.body[..])
                .bind(ms(last.received_at))
                .bind(0_i64);
        }
        let returned: Vec<SqliteRow> = q.fetch_all(&mut *conn).await.db()?;
        // RETURNING order is unspecified: map rows back by hash.
        for row in &returned {
            let hash: &[u8] = row.try_get(1).db()?;
            let d = <&[u8; 32]>::try_from(hash)
                .ok()
                .and_then(|h| index.get(h))
                .ok_or_else(|| corrupt("RETURNING gave a hash not in the batch"))?;
            distinct[*d].id = row.try_get(0).db()?;
            distinct[*d].deliveries = row.try_get(2).db()?;
        }
    }
    Ok(())
}

#[async_trait]
impl EventLog for SqliteStore {
    async fn append_events(&self, events: &[NewEvent]) -> Result<Vec<Appended>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Deduplicate the batch: each distinct hash is inserted once, with deliveries =
        // its number of occurrences.
        let mut index: HashMap<&[u8; 32], usize> = HashMap::with_capacity(events.len());
        let mut distinct: Vec<Distinct> = Vec::with_capacity(events.len());
        let mut slot: Vec<usize> = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let d = *index.entry(&e.body_sha256).or_insert_with(|| {
                distinct.push(Distinct { first: i, count: 0, id: 0, deliveries: 0 });
                distinct.len() - 1
            });
            distinct[d].count += 1;
            slot.push(d);
        }

        // One statement is atomic on its own: skip BEGIN/COMMIT (two fewer round trips
        // to the connection's thread). Either way the write gate is held throughout.
        if distinct.len() <= MAX_ROWS {
            let mut w = self.write_conn().await?;
            insert_chunks(&mut w, events, &mut distinct, &index).await?;
        } else {
            let mut w = self.begin_write().await?;
            insert_chunks(w.conn(), events, &mut distinct, &index).await?;
            w.commit().await?;
        }

        Ok(slot
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let d = &distinct[d];
                let id = EventId::new(d.id);
                // Inserted now iff the stored count is exactly this batch's count.
                if d.first == i && d.deliveries == d.count { Appended::New(id) } else { Appended::Duplicate(id) }
            })
            .collect())
    }

    async fn event_log_stats(&self) -> Result<EventLogStats> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM webhook_events GROUP BY state")
            .fetch_all(self.pool())
            .await
            .db()?;
        let mut stats = EventLogStats::default();
        for (state, n) in rows {
            match state.as_str() {
                "pending" => stats.pending = n,
                "failed" => stats.failed = n,
                "applied" => stats.applied = n,
                _ => {}
            }
        }
        Ok(stats)
    }

    async fn event_log_backlog(&self) -> Result<EventLogBacklog> {
        // Each count reads only its partial index (webhook_events_pending, _failed).
        let (pending, failed): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM webhook_events WHERE state = 'pending'), \
                    (SELECT COUNT(*) FROM webhook_events WHERE state = 'failed')",
        )
        .fetch_one(self.pool())
        .await
        .db()?;
        Ok(EventLogBacklog { pending, failed })
    }

    async fn purge_event_bodies(&self, before: DateTime<Utc>) -> Result<u64> {
        // In slices, releasing the write gate in between, so a large purge never holds
        // up webhook appends for long.
        const SLICE: i64 = 2_000;
        let mut purged = 0;
        loop {
            let mut w = self.write_conn().await?;
            let n = sqlx::query(
                "UPDATE webhook_events SET body = NULL WHERE id IN (\
                   SELECT id FROM webhook_events \
                   WHERE state = 'applied' AND received_at < ?1 AND body IS NOT NULL LIMIT ?2)",
            )
            .bind(ms(before))
            .bind(SLICE)
            .execute(&mut *w)
            .await
            .db()?
            .rows_affected();
            drop(w);
            purged += n;
            if n < SLICE as u64 {
                return Ok(purged);
            }
        }
    }

    async fn delete_old_events(&self, before: DateTime<Utc>) -> Result<u64> {
        // A slice is read off the key's index (a reader: no writer needed), then deleted
        // as a key range under the write gate, which is released in between: a webhook
        // append waits for at most one slice.
        const SLICE: i64 = 1_000;
        let (cutoff, before) = (before.timestamp(), ms(before));
        let mut low: (i64, Vec<u8>) = (i64::MIN, Vec::new());
        let mut deleted = 0;
        loop {
            let upper: Option<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT body_time, body_sha256 FROM webhook_events \
                 WHERE (body_time, body_sha256) > (?1, ?2) AND body_time < ?3 \
                 ORDER BY body_time, body_sha256 LIMIT 1 OFFSET ?4",
            )
            .bind(low.0)
            .bind(&low.1)
            .bind(cutoff)
            .bind(SLICE - 1)
            .fetch_optional(self.pool())
            .await
            .db()?;
            let (last, high) = match upper {
                Some(key) => (false, key),
                // The greatest key whose time is before the cutoff.
                None => (true, (cutoff.saturating_sub(1), vec![0xff; 32])),
            };
            let mut w = self.write_conn().await?;
            deleted += sqlx::query(
                "DELETE FROM webhook_events \
                 WHERE (body_time, body_sha256) > (?1, ?2) AND (body_time, body_sha256) <= (?3, ?4) \
                   AND body_time < ?5 AND state = 'applied' AND received_at < ?6 \
                   AND NOT EXISTS (SELECT 1 FROM recorded_changes r WHERE r.event_id = webhook_events.id)",
            )
            .bind(low.0)
            .bind(&low.1)
            .bind(high.0)
            .bind(&high.1)
            .bind(cutoff)
            .bind(before)
            .execute(&mut *w)
            .await
            .db()?
            .rows_affected();
            drop(w);
            if last {
                return Ok(deleted);
            }
            low = high;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_use_few_statement_shapes() {
        assert_eq!(shape(1), 1);
        assert_eq!(shape(32), 32);
        assert_eq!(shape(33), 64);
        assert_eq!(shape(1000), 1024);
        assert_eq!((1..=MAX_ROWS).map(shape).collect::<std::collections::BTreeSet<_>>().len(), 63);
    }

    #[test]
    fn insert_statements_have_five_parameters_a_row() {
        assert_eq!(insert_sql(8).matches('?').count(), 8 * PARAMS_PER_ROW);
    }
}
