//! CSAT surveys (`switchboard_store_sql::csat`).

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use switchboard_domain::MessageId;
use switchboard_store::{NewOutbound, Result};
use switchboard_store_sql::{DbResultExt, Ts};

use crate::nul::{json, opt_text, text};
use crate::outbox::{Inserted, insert_outbound};

/// The wa_ids of the JSON array bound as `$1`.
const WA_IDS_IN: &str = "(SELECT value FROM json_each($1))";
/// Writes hold the single writer: nothing to lock.
const CONVERSATION_LOCK: &str = "";

/// An automatic message (`auto_rule`: the auto-reply log follows from its insert) and its
/// outbox job, due at `run_at`.
async fn insert_automatic(
    conn: &mut SqliteConnection,
    m: &NewOutbound<'_>,
    rule: &str,
    run_at: DateTime<Utc>,
) -> Result<MessageId> {
    let (Inserted::Created(id) | Inserted::Existing(id)) = insert_outbound(conn, m, Some(rule)).await?;
    if run_at > m.at {
        sqlx::query("UPDATE outbox SET run_at = $2 WHERE message_id = $1")
            .bind(id.as_uuid())
            .bind(Ts(run_at))
            .execute(&mut *conn)
            .await
            .db()?;
    }
    Ok(id)
}

switchboard_store_sql::csat_store!(crate::SqliteStore, SqliteConnection);
