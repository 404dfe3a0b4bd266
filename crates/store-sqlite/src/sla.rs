//! SLA targets (`switchboard_store_sql::sla`).

/// Writes hold the single writer: nothing to lock or skip.
const ALERT_LOCK: &str = "";
/// One writer: event ids become visible in order, and the write connection's hand-back
/// wakes the readers.
const EVENTS_BEFORE: &[&str] = &[];
const EVENTS_AFTER: &[&str] = &[];

switchboard_store_sql::sla_store!(crate::SqliteStore, sqlx::SqliteConnection);
