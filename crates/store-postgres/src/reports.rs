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

switchboard_store_sql::report_store!(crate::PgStore, sqlx::Postgres);
