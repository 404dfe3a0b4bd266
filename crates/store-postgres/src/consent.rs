//! Consent (`switchboard_store_sql::consent`).

use sqlx::PgConnection;

use crate::nul::{json, text};

/// The contact read before a change is locked until it commits.
const FOR_UPDATE: &str = " FOR UPDATE";

switchboard_store_sql::consent_store!(crate::PgStore, PgConnection);
