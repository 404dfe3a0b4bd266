//! Outgoing webhooks: endpoints, fan-out, delivery jobs and their log
//! (`switchboard_store_sql::webhooks`).

/// The claim's row lock: concurrent claimers skip each other's rows.
const CLAIM_LOCK: &str = " FOR UPDATE OF d SKIP LOCKED";

switchboard_store_sql::webhook_store!(crate::PgStore, sqlx::PgConnection);
