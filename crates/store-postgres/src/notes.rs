//! Private notes on conversations and their @mentions.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use switchboard_domain::{AgentId, ConversationId};
use switchboard_store::{NewNote, Note, NoteId, NoteStore, Page, Result, StoreError, Visibility, page_size};
use uuid::Uuid;

use crate::PgStore;
use crate::error::DbResultExt;
use crate::nul::text;
use crate::views::push_visibility;

#[derive(sqlx::FromRow)]
struct NoteRow {
    id: Uuid,
    conversation_id: Uuid,
    author_id: Option<Uuid>,
    text: String,
    created_at: DateTime<Utc>,
}

const NOTE: &str = "SELECT n.id, n.conversation_id, n.author_id, n.text, n.created_at FROM notes n ";

impl PgStore {
    /// The notes with their mentions (one query for the page).
    async fn with_mentions(&self, rows: Vec<NoteRow>) -> Result<Vec<Note>> {
        let mut mentions: HashMap<Uuid, Vec<AgentId>> = HashMap::new();
        if !rows.is_empty() {
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            let pairs: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT note_id, agent_id FROM note_mentions WHERE note_id = ANY($1) ORDER BY note_id, position",
            )
            .bind(ids)
            .fetch_all(self.pool())
            .await
            .db()?;
            for (note, agent) in pairs {
                mentions.entry(note).or_default().push(AgentId::from_uuid(agent));
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| Note {
                id: NoteId::from_uuid(r.id),
                conversation_id: ConversationId::from_uuid(r.conversation_id),
                author_id: r.author_id.map(AgentId::from_uuid),
                mentions: mentions.remove(&r.id).unwrap_or_default(),
                text: r.text,
                created_at: r.created_at,
            })
            .collect())
    }
}

#[async_trait]
impl NoteStore for PgStore {
    async fn create_note(&self, note: &NewNote) -> Result<Note> {
        let id = NoteId::new();
        let mut tx = self.pool().begin().await.db()?;
        // Locks the conversation against a concurrent delete.
        let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM conversations WHERE id = $1 FOR SHARE")
            .bind(note.conversation_id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .db()?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("INSERT INTO notes (id, conversation_id, author_id, text, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.as_uuid())
            .bind(note.conversation_id.as_uuid())
            .bind(note.author_id.as_uuid())
            .bind(text(&note.text))
            .bind(note.at)
            .execute(&mut *tx)
            .await
            .db()?;
        let agents: Vec<Uuid> = note.mentions.iter().map(|a| *a.as_uuid()).collect();
        let inserted = sqlx::query(
            "INSERT INTO note_mentions (note_id, agent_id, position) \
             SELECT $1, m.agent_id, (m.n - 1)::integer FROM unnest($2::uuid[]) WITH ORDINALITY AS m (agent_id, n) \
             JOIN agents a ON a.id = m.agent_id \
             ON CONFLICT DO NOTHING",
        )
        .bind(id.as_uuid())
        .bind(&agents)
        .execute(&mut *tx)
        .await
        .db()?;
        let mut distinct = agents.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if inserted.rows_affected() != u64::try_from(distinct.len()).unwrap_or(u64::MAX) {
            // An unknown agent: nothing is stored.
            return Err(StoreError::NotFound);
        }
        tx.commit().await.db()?;
        self.note(id).await?.ok_or(StoreError::NotFound)
    }

    async fn notes(
        &self,
        conversation: ConversationId,
        limit: u32,
        after: Option<NoteId>,
    ) -> Result<Page<Note, NoteId>> {
        let limit = page_size(limit);
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1)")
            .bind(conversation.as_uuid())
            .fetch_one(self.pool())
            .await
            .db()?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        let mut qb = QueryBuilder::<Postgres>::new(NOTE);
        qb.push("WHERE n.conversation_id = ").push_bind(*conversation.as_uuid());
        if let Some(after) = after {
            qb.push(" AND n.id > ").push_bind(*after.as_uuid());
        }
        qb.push(" ORDER BY n.id LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<NoteRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
        let items = self.with_mentions(rows).await?;
        Ok(Page::from_fetch(items, limit, |n| n.id))
    }

    async fn note(&self, id: NoteId) -> Result<Option<Note>> {
        let rows: Vec<NoteRow> =
            sqlx::query_as(&format!("{NOTE}WHERE n.id = $1")).bind(id.as_uuid()).fetch_all(self.pool()).await.db()?;
        Ok(self.with_mentions(rows).await?.pop())
    }

    async fn delete_note(&self, id: NoteId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM notes WHERE id = $1").bind(id.as_uuid()).execute(self.pool()).await.db()?;
        Ok(done.rows_affected() > 0)
    }

    async fn mentions(
        &self,
        agent: AgentId,
        viewer: Visibility,
        limit: u32,
        before: Option<NoteId>,
    ) -> Result<Page<Note, NoteId>> {
        let limit = page_size(limit);
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT n.id, n.conversation_id, n.author_id, n.text, n.created_at FROM note_mentions nm \
             JOIN notes n ON n.id = nm.note_id JOIN conversations c ON c.id = n.conversation_id \
             WHERE nm.agent_id = ",
        );
        qb.push_bind(*agent.as_uuid());
        if let Some(before) = before {
            qb.push(" AND nm.note_id < ").push_bind(*before.as_uuid());
        }
        push_visibility(&mut qb, viewer);
        qb.push(" ORDER BY nm.note_id DESC LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<NoteRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
        let items = self.with_mentions(rows).await?;
        Ok(Page::from_fetch(items, limit, |n| n.id))
    }
}
