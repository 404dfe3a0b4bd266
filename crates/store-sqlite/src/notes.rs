//! Private notes on conversations and their @mentions (`switchboard_store_sql::notes`);
//! here, reading and writing the mentions.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use switchboard_domain::AgentId;
use switchboard_store::{NoteId, Result, StoreError};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::nul::text;
use crate::views::{hold_conversation, push_visibility};

switchboard_store_sql::note_store!(crate::SqliteStore, SqliteConnection, Sqlite);

/// The (note, agent) mentions of `notes`, by note, in mention order.
async fn note_mentions(pool: &SqlitePool, notes: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT note_id, agent_id FROM note_mentions WHERE note_id IN (");
    let mut list = qb.separated(", ");
    for id in notes {
        list.push_bind(*id);
    }
    qb.push(") ORDER BY note_id, position");
    qb.build_query_as().fetch_all(pool).await.db()
}

/// Records `note`'s mentions of `agents`, in order; `NotFound` if one is unknown.
async fn insert_mentions(conn: &mut SqliteConnection, note: NoteId, agents: &[AgentId]) -> Result<()> {
    for (position, agent) in (0_i64..).zip(agents) {
        let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agents WHERE id = ?1)")
            .bind(agent.as_uuid())
            .fetch_one(&mut *conn)
            .await
            .db()?;
        if !known {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO note_mentions (note_id, agent_id, position) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )
        .bind(note.as_uuid())
        .bind(agent.as_uuid())
        .bind(position)
        .execute(&mut *conn)
        .await
        .db()?;
    }
    Ok(())
}
