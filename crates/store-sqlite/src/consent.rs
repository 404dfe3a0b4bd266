//! Consent (`switchboard_store_sql::consent`).

use sqlx::SqliteConnection;

use crate::nul::{json, text};

/// The contact read before a change is locked until it commits (the write gate does it).
const FOR_UPDATE: &str = "";

switchboard_store_sql::consent_store!(crate::SqliteStore, SqliteConnection);
