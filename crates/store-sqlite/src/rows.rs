//! Rows only SQLite reads this way (the shared ones are `switchboard_store_sql::rows`),
//! and the set-wise `VALUES` statements of the hot path.
//!
//! Times are INTEGER epoch milliseconds, ids 16-byte BLOB UUIDs, JSON is TEXT.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::types::Json;
use sqlx::{Arguments, Encode, Sqlite, SqliteConnection, Type};
use switchboard_domain::{ChannelId, ConversationId, JobId, MessageId, PhoneNumberId, WaId};
use switchboard_store::{OutboxJob, StoreError};
pub(crate) use switchboard_store_sql::rows::{
    AgentRow, ChannelRow, DeliveryRow, OutboxEntryRow, PendingEventRow, PendingStatusRow, corrupt, delivery_state,
};
use uuid::Uuid;

use crate::error::DbResultExt;

/// A statement over a set of rows bound as one `VALUES` list, named `j(k, c0, c1, …)`:
/// `k` is the row's index (for `ORDER BY j.k`), `c0…` its columns. Every parameter is an
/// anonymous `?`, numbered in the order written: the rows' first, then the statement's
/// own, each written once in its body. (Numbered `?NNN` parameters would each cost a
/// linear search of all the names when bound: quadratic in the rows.)
///
/// Binding the rows costs SQLite nothing to parse, where a JSON array of rows (one
/// parameter, read back with `json_each`) had every column access re-render and re-parse
/// its row: measured ~10 % of the writer's time on the auto-reply hot path.
///
/// A statement holds 1..=16 rows or a multiple of 16, at most [`MAX_ROWS`] (31 shapes,
/// each prepared once and cached); unused rows are bound as NULL and the statement skips
/// them (`WHERE j.c0 IS NOT NULL`: the first column is never NULL). More rows than
/// [`MAX_ROWS`] run as several statements, in order.
pub(crate) struct Values {
    cols: usize,
    params: usize,
    body: &'static str,
    sql: [OnceLock<String>; MAX_ROWS + 1],
}

/// Most rows in one statement (at most 15 columns: 3,840 parameters, below SQLite's 32,766).
pub(crate) const MAX_ROWS: usize = 256;
const STEP: usize = 16;

/// The statement shape that holds `n` (1..=`MAX_ROWS`) rows.
const fn shape(n: usize) -> usize {
    if n <= STEP { n } else { n.div_ceil(STEP) * STEP }
}

impl Values {
    /// `body` follows the `WITH j(…) AS (VALUES …)` prefix; it has `params` parameters
    /// of its own (anonymous `?`, bound in the order written), and each row `cols`
    /// columns.
    pub(crate) const fn new(cols: usize, params: usize, body: &'static str) -> Self {
        Self { cols, params, body, sql: [const { OnceLock::new() }; MAX_ROWS + 1] }
    }

    fn sql(&self, rows: usize) -> &str {
        self.sql[rows].get_or_init(|| {
            let mut sql = String::with_capacity(self.body.len() + 40 + rows * self.cols * 6);
            sql.push_str("WITH j(k");
            for c in 0..self.cols {
                sql.push_str(&format!(", c{c}"));
            }
            sql.push_str(") AS (VALUES ");
            for r in 0..rows {
                sql.push_str(if r == 0 { "(" } else { ", (" });
                sql.push_str(&r.to_string());
                for _ in 0..self.cols {
                    sql.push_str(", ?");
                }
                sql.push(')');
            }
            sql.push_str(") ");
            sql.push_str(self.body);
            sql
        })
    }

    /// The statements for `rows`, each with its arguments: the rows, then `params`.
    fn statements<'q, P, R>(
        &'q self,
        params: &P,
        rows: Vec<R>,
    ) -> Result<Vec<(&'q str, SqliteArguments<'q>)>, StoreError>
    where
        P: BindRow<'q> + Clone,
        R: BindRow<'q>,
    {
        debug_assert_eq!(R::COLS, self.cols);
        debug_assert_eq!(P::COLS, self.params);
        let bind_err = |e| StoreError::Other(anyhow::anyhow!("binding a row: {e}"));
        let mut out = Vec::with_capacity(rows.len().div_ceil(MAX_ROWS));
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut args = SqliteArguments::default();
            let mut n = 0;
            for row in rows.by_ref().take(MAX_ROWS) {
                row.add_to(&mut args).map_err(bind_err)?;
                n += 1;
            }
            let shape = shape(n);
            for _ in 0..(shape - n) * self.cols {
                args.add(None::<i64>).map_err(bind_err)?;
            }
            params.clone().add_to(&mut args).map_err(bind_err)?;
            out.push((self.sql(shape), args));
        }
        Ok(out)
    }

    /// Runs the statement over `rows`; what each statement returned, in statement order.
    pub(crate) async fn fetch_all<'q, P, R, O>(
        &'q self,
        conn: &mut SqliteConnection,
        params: P,
        rows: Vec<R>,
    ) -> Result<Vec<O>, StoreError>
    where
        P: BindRow<'q> + Clone,
        R: BindRow<'q>,
        O: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
    {
        let mut out = Vec::new();
        for (sql, args) in self.statements(&params, rows)? {
            out.extend(sqlx::query_as_with::<_, O, _>(sql, args).fetch_all(&mut *conn).await.db()?);
        }
        Ok(out)
    }

    /// Runs the statement over `rows`; the rows it changed.
    pub(crate) async fn execute<'q, P, R>(
        &'q self,
        conn: &mut SqliteConnection,
        params: P,
        rows: Vec<R>,
    ) -> Result<u64, StoreError>
    where
        P: BindRow<'q> + Clone,
        R: BindRow<'q>,
    {
        let mut changed = 0;
        for (sql, args) in self.statements(&params, rows)? {
            changed += sqlx::query_with(sql, args).execute(&mut *conn).await.db()?.rows_affected();
        }
        Ok(changed)
    }

    /// Runs an `INSERT` of one row per row of `rows`, in order, into a table whose ids are
    /// `INTEGER PRIMARY KEY AUTOINCREMENT` and that no trigger inserts into: the ids it
    /// gave them, in order. One statement's rows get consecutive ids (one writer, and
    /// AUTOINCREMENT takes one more than the largest ever given), the last of which is
    /// its `last_insert_rowid`. Cheaper than `RETURNING`, which SQLite collects in a
    /// temporary table first. `None` if a statement inserted fewer rows than it was given.
    pub(crate) async fn insert_ids<'q, P, R>(
        &'q self,
        conn: &mut SqliteConnection,
        params: P,
        rows: Vec<R>,
    ) -> Result<Option<Vec<i64>>, StoreError>
    where
        P: BindRow<'q> + Clone,
        R: BindRow<'q>,
    {
        let mut ids = Vec::with_capacity(rows.len());
        let sizes: Vec<usize> = (0..rows.len()).step_by(MAX_ROWS).map(|i| (rows.len() - i).min(MAX_ROWS)).collect();
        for ((sql, args), n) in self.statements(&params, rows)?.into_iter().zip(sizes) {
            let done = sqlx::query_with(sql, args).execute(&mut *conn).await.db()?;
            if done.rows_affected() != n as u64 {
                return Ok(None);
            }
            let last = done.last_insert_rowid();
            ids.extend((0..n as i64).rev().map(|back| last - back));
        }
        Ok(Some(ids))
    }
}

/// A tuple of values bound as consecutive parameters.
pub(crate) trait BindRow<'q> {
    const COLS: usize;
    fn add_to(self, args: &mut SqliteArguments<'q>) -> Result<(), sqlx::error::BoxDynError>;
}

impl BindRow<'_> for () {
    const COLS: usize = 0;
    fn add_to(self, _: &mut SqliteArguments<'_>) -> Result<(), sqlx::error::BoxDynError> {
        Ok(())
    }
}

macro_rules! bind_row {
    ($n:expr; $($t:ident $i:tt),+) => {
        impl<'q, $($t: Encode<'q, Sqlite> + Type<Sqlite> + 'q),+> BindRow<'q> for ($($t,)+) {
            const COLS: usize = $n;
            fn add_to(self, args: &mut SqliteArguments<'q>) -> Result<(), sqlx::error::BoxDynError> {
                $(args.add(self.$i)?;)+
                Ok(())
            }
        }
    };
}
bind_row!(1; A 0);
bind_row!(2; A 0, B 1);
bind_row!(3; A 0, B 1, C 2);
bind_row!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
bind_row!(4; A 0, B 1, C 2, D 3);
bind_row!(5; A 0, B 1, C 2, D 3, E 4);
bind_row!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
bind_row!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
bind_row!(15; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);

/// A time as stored: milliseconds since the Unix epoch.
pub(crate) const fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(format!("time {ms} out of range")))
}

/// A job as the claim's `UPDATE … RETURNING` gives it back.
#[derive(sqlx::FromRow)]
pub(crate) struct ClaimedRow {
    pub id: i64,
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub channel_id: Uuid,
    pub request: Json<serde_json::Value>,
    pub attempts: i64,
    pub created_at: i64,
    pub locked_until: i64,
}

impl ClaimedRow {
    /// The job, with its channel's number and its recipient (looked up separately).
    pub(crate) fn job(self, phone_number_id: &str, wa_id: &str, withheld: bool) -> Result<OutboxJob, StoreError> {
        Ok(OutboxJob {
            id: JobId::new(self.id),
            message_id: MessageId::from_uuid(self.message_id),
            conversation_id: ConversationId::from_uuid(self.conversation_id),
            channel_id: ChannelId::from_uuid(self.channel_id),
            phone_number_id: PhoneNumberId::parse(phone_number_id).map_err(corrupt)?,
            to: WaId::parse(wa_id).map_err(corrupt)?,
            request: self.request.0,
            attempts: u32::try_from(self.attempts).map_err(corrupt)?,
            created_at: time(self.created_at)?,
            leased_until: time(self.locked_until)?,
            withheld,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_statements_have_few_shapes_and_anonymous_parameters() {
        assert_eq!((shape(1), shape(16), shape(17), shape(256)), (1, 16, 32, 256));
        assert_eq!((1..=MAX_ROWS).map(shape).collect::<std::collections::BTreeSet<_>>().len(), 31);
        let v = Values::new(2, 1, "SELECT j.c0, j.c1, ? FROM j WHERE j.c0 IS NOT NULL ORDER BY j.k");
        assert_eq!(
            v.sql(2),
            "WITH j(k, c0, c1) AS (VALUES (0, ?, ?), (1, ?, ?)) \
             SELECT j.c0, j.c1, ? FROM j WHERE j.c0 IS NOT NULL ORDER BY j.k"
        );
    }

    #[test]
    fn rows_are_split_and_padded_to_a_shape_with_the_params_last() {
        let v = Values::new(1, 1, "SELECT j.c0, ? FROM j WHERE j.c0 IS NOT NULL");
        let rows: Vec<(i64,)> = (0..300).map(|i| (i,)).collect();
        let statements = v.statements(&("p",), rows).unwrap();
        let shapes: Vec<usize> = statements.iter().map(|(sql, _)| sql.matches('?').count() - 1).collect();
        // 256 rows, then 44 rows padded to 48.
        assert_eq!(shapes, [256, 48]);
    }
}
