//! CSAT surveys (`switchboard_store_sql::csat`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use switchboard_domain::MessageId;
use switchboard_store::{NewOutbound, Result, StoreError};
use switchboard_store_sql::{DbResultExt, Ts};

use crate::nul::{json, opt_text, text};
use crate::outbox::insert_outbound;

/// The wa_ids of the JSON array bound as `$1` (text).
const WA_IDS_IN: &str = "(SELECT jsonb_array_elements_text($1::jsonb))";
/// The answered conversation's row, against a concurrent change through the API.
const CONVERSATION_LOCK: &str = " FOR UPDATE OF c";

/// An automatic message (marked with `rule`, logged in the auto-reply log) and its outbox
/// job, due at `run_at`.
async fn insert_automatic(
    conn: &mut PgConnection,
    m: &NewOutbound<'_>,
    rule: &str,
    run_at: DateTime<Utc>,
) -> Result<MessageId> {
    let id = insert_outbound(conn, m).await?.ok_or(StoreError::NotFound)?;
    sqlx::query("UPDATE messages SET auto_rule = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(rule)
        .execute(&mut *conn)
        .await
        .db()?;
    sqlx::query(
        "INSERT INTO auto_replies (conversation_id, contact_id, rule, message_id, sent_at) \
         SELECT id, contact_id, $2, $3, $4 FROM conversations WHERE id = $1",
    )
    .bind(m.conversation_id.as_uuid())
    .bind(rule)
    .bind(id.as_uuid())
    .bind(Ts(m.at))
    .execute(&mut *conn)
    .await
    .db()?;
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

switchboard_store_sql::csat_store!(crate::PgStore, PgConnection);
