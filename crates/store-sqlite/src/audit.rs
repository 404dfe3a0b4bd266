//! The audit log (`switchboard_store_sql::audit`).

switchboard_store_sql::audit_store!(crate::SqliteStore, sqlx::SqliteConnection);
