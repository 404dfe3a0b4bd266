//! Reports (`switchboard_store_sql::reports`).

/// `string_agg(X::text, ',')`: the values of X, comma-separated (NULLs left out).
const LIST_AGG: [&str; 2] = ["string_agg(", "::text, ',')"];

/// The planner picks the partial `conversations_resolved` on its own.
const RESOLVED_HINT: &str = "";

/// A read transaction sees one snapshot only at `REPEATABLE READ`.
const SNAPSHOT: Option<&str> = Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");

switchboard_store_sql::report_store!(crate::PgStore, sqlx::Postgres);
