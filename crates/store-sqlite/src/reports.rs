//! Reports (`switchboard_store_sql::reports`).

/// `group_concat(X)`: the values of X, comma-separated (NULLs left out).
const LIST_AGG: [&str; 2] = ["group_concat(", ")"];

/// The resolved part ranges over `conversations_resolved (resolved_at, …)`, not over a
/// status index (which the planner prefers for `status = 'resolved'`); labels are found
/// by their primary key `(conversation_id, label_id)`, not by an automatic index the
/// planner would build of all of them for the auto-replies part (no `ANALYZE` statistics).
const HINTS: [&str; 2] = [" INDEXED BY conversations_resolved", " INDEXED BY sqlite_autoindex_conversation_labels_1"];

/// A read transaction sees one snapshot from its first read on (WAL mode).
const READ_SETUP: &[&str] = &[];

/// A day of slots: each statement runs on the server's own cores, so it is kept short
/// (tens of milliseconds) and the webhook path's threads are not kept waiting for a core
/// behind it. Smaller sorts also cost less in all: the cache's warm-up over 1,000,000
/// conversations takes 37.5 s instead of 62 s (docs/BENCHMARKS.md, "Reports").
const SPANS_PER_STATEMENT: usize = 96;

/// One writer, one number per slot: nothing to merge.
const COMPACT_MARKS: Option<&str> = None;

switchboard_store_sql::report_store!(crate::SqliteStore, sqlx::Sqlite);
