//! Private notes on conversations and their @mentions (`switchboard_store_sql::notes`);
//! here, reading and writing the mentions.

use sqlx::{PgConnection, PgPool, Postgres};
use switchboard_domain::AgentId;
use switchboard_store::{NoteId, Result, StoreError};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::nul::text;
use crate::views::{hold_conversation, push_visibility};

switchboard_store_sql::note_store!(crate::PgStore, PgConnection, Postgres);

/// The (note, agent) mentions of `notes`, by note, in mention order.
async fn note_mentions(pool: &PgPool, notes: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
    sqlx::query_as("SELECT note_id, agent_id FROM note_mentions WHERE note_id = ANY($1) ORDER BY note_id, position")
        .bind(notes)
        .fetch_all(pool)
        .await
        .db()
}

/// Records `note`'s mentions of `agents`, in order, in one statement; `NotFound` (and
/// nothing stored) if one is unknown.
async fn insert_mentions(conn: &mut PgConnection, note: NoteId, agents: &[AgentId]) -> Result<()> {
    let agents: Vec<Uuid> = agents.iter().map(|a| *a.as_uuid()).collect();
    let inserted = sqlx::query(
        "INSERT INTO note_mentions (note_id, agent_id, position) \
         SELECT $1, m.agent_id, (m.n - 1)::integer FROM unnest($2::uuid[]) WITH ORDINALITY AS m (agent_id, n) \
         JOIN agents a ON a.id = m.agent_id \
         ON CONFLICT DO NOTHING",
    )
    .bind(note.as_uuid())
    .bind(&agents)
    .execute(&mut *conn)
    .await
    .db()?;
    let mut distinct = agents.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if inserted.rows_affected() != u64::try_from(distinct.len()).unwrap_or(u64::MAX) {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
