//! Sign-in: credentials, sessions, invitations, failed sign-ins, TOTP
//! (`switchboard_store_sql::auth`).

use crate::agents::{AGENT_COLS, AGENT_RETURNING};

switchboard_store_sql::auth_store!(crate::PgStore, sqlx::PgConnection);
