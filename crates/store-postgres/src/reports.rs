//! Reports (`switchboard_store_sql::reports`).

/// `string_agg(X::text, ',')`: the values of X, comma-separated (NULLs left out).
const LIST_AGG: [&str; 2] = ["string_agg(", "::text, ',')"];

/// The planner picks the partial `conversations_resolved` and the labels' primary key on
/// its own.
const HINTS: [&str; 2] = ["", ""];

/// A read transaction sees one snapshot only at `REPEATABLE READ`; JIT compilation, which
/// the planner's (high) cost estimates of the reports' statements would start, costs more
/// than it saves (0.95 s against 0.44 s for a statement over 512 slots).
const READ_SETUP: &[&str] = &["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", "SET LOCAL jit = off"];

/// A report's year of days, or 42 days of slots: fewer, larger statements, as the plan
/// for the grouped auto-replies reads every conversation once per statement.
const SPANS_PER_STATEMENT: usize = 4096;

/// Each connection's backend keeps its own number per slot (`pg_backend_pid()`), and pool
/// connections come and go: the numbers move into writer 0's, which no backend uses. A
/// writer's number changed by a transaction in flight is deleted once that commits, with
/// its new value (`READ COMMITTED` rechecks the row), so the sum never loses a mark.
const COMPACT_MARKS: Option<&str> = Some(
    "WITH gone AS (DELETE FROM report_marks WHERE writer <> 0 RETURNING slot, seq) \
     INSERT INTO report_marks (slot, writer, seq) \
     SELECT slot, 0, SUM(seq) FROM gone GROUP BY slot ORDER BY slot \
     ON CONFLICT (slot, writer) DO UPDATE SET seq = report_marks.seq + excluded.seq",
);

switchboard_store_sql::report_store!(crate::PgStore, sqlx::Postgres);
