//! Reports (`switchboard_store_sql::reports`).

/// `group_concat(X)`: the values of X, comma-separated (NULLs left out).
const LIST_AGG: [&str; 2] = ["group_concat(", ")"];

/// The resolved part ranges over `conversations_resolved (resolved_at, …)`, not over a
/// status index (which the planner prefers for `status = 'resolved'`).
const RESOLVED_HINT: &str = " INDEXED BY conversations_resolved";

/// A read transaction sees one snapshot from its first read on (WAL mode).
const SNAPSHOT: Option<&str> = None;

switchboard_store_sql::report_store!(crate::SqliteStore, sqlx::Sqlite);
