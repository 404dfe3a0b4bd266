//! SLA targets (`switchboard_store_sql::sla`).

/// The conversations one alert run fires for are locked; other instances skip them.
const ALERT_LOCK: &str = " FOR NO KEY UPDATE OF c SKIP LOCKED";
/// As the inbox event triggers: the events' lock keeps ids visible in increasing order
/// (held to the commit), and the notification wakes the readers of every instance.
const EVENTS_BEFORE: &[&str] = &["SELECT pg_advisory_xact_lock(6005341489110339156)"];
const EVENTS_AFTER: &[&str] = &["SELECT pg_notify('switchboard_inbox_events', '')"];

switchboard_store_sql::sla_store!(crate::PgStore, sqlx::PgConnection);
