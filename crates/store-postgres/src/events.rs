//! The event log: group-committed, deduplicated appends.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_domain::EventId;
use switchboard_store::{Appended, EventLog, EventLogBacklog, EventLogStats, NewEvent, Result};

use crate::PgStore;
use crate::error::{DbResultExt, is_retryable};
use crate::rows::corrupt;

/// Two concurrent batches that share duplicates in opposite orders can deadlock; the
/// loser is retried at once (rare: it needs the same retried bodies in two batches).
const ATTEMPTS: usize = 3;

const APPEND: &str = "INSERT INTO webhook_events (body_time, body_sha256, body, received_at, deliveries) \
    SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::bytea[], $4::timestamptz[], $5::int4[]) \
    ON CONFLICT (body_time, body_sha256) DO UPDATE SET deliveries = webhook_events.deliveries + EXCLUDED.deliveries \
    RETURNING id, body_sha256, deliveries";

#[async_trait]
impl EventLog for PgStore {
    async fn append_events(&self, events: &[NewEvent]) -> Result<Vec<Appended>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Deduplicate the batch (ON CONFLICT DO UPDATE may not touch a row twice in one
        // statement): each distinct hash once, with deliveries = its occurrences, in
        // arrival order.
        let mut index: HashMap<&[u8; 32], usize> = HashMap::with_capacity(events.len());
        let mut first: Vec<usize> = Vec::with_capacity(events.len());
        let mut counts: Vec<i32> = Vec::with_capacity(events.len());
        let mut slot: Vec<usize> = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let d = *index.entry(&e.body_sha256).or_insert_with(|| {
                first.push(i);
                counts.push(0);
                first.len() - 1
            });
            counts[d] += 1;
            slot.push(d);
        }
        let body_times: Vec<i64> = first.iter().map(|&i| events[i].body_time).collect();
        let hashes: Vec<&[u8]> = first.iter().map(|&i| &events[i].body_sha256[..]).collect();
        let bodies: Vec<&[u8]> = first.iter().map(|&i| &events[i].body[..]).collect();
        let times: Vec<DateTime<Utc>> = first.iter().map(|&i| events[i].received_at).collect();

        // One statement is its own transaction: the whole batch commits at once.
        let mut attempt = 1;
        let rows: Vec<PgRow> = loop {
            let result = sqlx::query(APPEND)
                .bind(&body_times)
                .bind(&hashes)
                .bind(&bodies)
                .bind(&times)
                .bind(&counts)
                .fetch_all(self.pool())
                .await;
            match result {
                Err(e) if attempt < ATTEMPTS && is_retryable(&e) => attempt += 1,
                other => break other.db()?,
            }
        };

        // RETURNING order is unspecified: map rows back by hash.
        let mut stored: Vec<(i64, i32)> = vec![(0, 0); first.len()];
        for row in &rows {
            let hash: &[u8] = row.try_get(1).db()?;
            let d = <&[u8; 32]>::try_from(hash)
                .ok()
                .and_then(|h| index.get(h))
                .ok_or_else(|| corrupt("RETURNING gave a hash not in the batch"))?;
            stored[*d] = (row.try_get(0).db()?, row.try_get(2).db()?);
        }
        Ok(slot
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let (id, deliveries) = stored[d];
                let id = EventId::new(id);
                // Inserted now iff the stored count is exactly this batch's count.
                if first[d] == i && deliveries == counts[d] { Appended::New(id) } else { Appended::Duplicate(id) }
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
        // In slices, so no single statement holds many row locks for long.
        const SLICE: i64 = 5_000;
        let mut purged = 0;
        loop {
            let n = sqlx::query(
                "UPDATE webhook_events SET body = NULL WHERE id IN (\
                   SELECT id FROM webhook_events \
                   WHERE state = 'applied' AND received_at < $1 AND body IS NOT NULL LIMIT $2)",
            )
            .bind(before)
            .bind(SLICE)
            .execute(self.pool())
            .await
            .db()?
            .rows_affected();
            purged += n;
            if n < SLICE as u64 {
                return Ok(purged);
            }
        }
    }

    async fn delete_old_events(&self, before: DateTime<Utc>) -> Result<u64> {
        // A slice's end is read off the key's index, then the slice is deleted as a key
        // range: no statement holds many row locks for long.
        const SLICE: i64 = 5_000;
        let cutoff = before.timestamp();
        let mut low: (i64, Vec<u8>) = (i64::MIN, Vec::new());
        let mut deleted = 0;
        loop {
            let upper: Option<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT body_time, body_sha256 FROM webhook_events \
                 WHERE (body_time, body_sha256) > ($1, $2) AND body_time < $3 \
                 ORDER BY body_time, body_sha256 LIMIT 1 OFFSET $4",
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
            deleted += sqlx::query(
                "DELETE FROM webhook_events e \
                 WHERE (body_time, body_sha256) > ($1, $2) AND (body_time, body_sha256) <= ($3, $4) \
                   AND body_time < $5 AND state = 'applied' AND received_at < $6 \
                   AND NOT EXISTS (SELECT 1 FROM recorded_changes r WHERE r.event_id = e.id)",
            )
            .bind(low.0)
            .bind(&low.1)
            .bind(high.0)
            .bind(&high.1)
            .bind(cutoff)
            .bind(before)
            .execute(self.pool())
            .await
            .db()?
            .rows_affected();
            if last {
                return Ok(deleted);
            }
            low = high;
        }
    }
}
