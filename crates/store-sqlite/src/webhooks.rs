//! Outgoing webhooks: endpoints, fan-out, delivery jobs and their log
//! (`switchboard_store_sql::webhooks`).

/// The claim's row lock (none: the write gate serialises writers).
const CLAIM_LOCK: &str = "";

switchboard_store_sql::webhook_store!(crate::SqliteStore, sqlx::SqliteConnection);
