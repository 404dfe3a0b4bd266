//! Private notes on conversations and their @mentions: the same SQL in both dialects
//! but reading and writing the mentions of several notes at once.

/// Expands, in a backend's `notes` module, to `NoteStore` for `$store` (whose connection
/// is `$conn`, database `$db`). The module provides `note_mentions(pool, note ids)`
/// (the (note, agent) pairs in mention order), `insert_mentions(conn, note, agents)`
/// (`NotFound` if an agent is unknown), `hold_conversation`, `push_visibility` and
/// `nul`'s `text`.
#[macro_export]
macro_rules! note_store {
    ($store:ty, $conn:ty, $db:ty) => {
        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use std::collections::HashMap;

            use sqlx::QueryBuilder;
            use switchboard_domain::{AgentId, ConversationId};
            use switchboard_store::{NewNote, Note, NoteId, NoteStore, Page, Result, StoreError, Visibility, page_size};
            use uuid::Uuid;

            use $crate::{DbResultExt, Ts};

            #[derive(sqlx::FromRow)]
            struct NoteRow {
                id: Uuid,
                conversation_id: Uuid,
                author_id: Option<Uuid>,
                text: String,
                created_at: Ts,
            }

            const NOTE: &str = "SELECT n.id, n.conversation_id, n.author_id, n.text, n.created_at FROM notes n ";

            impl $store {
                /// The notes with their mentions (one query for the page).
                async fn with_mentions(&self, rows: Vec<NoteRow>) -> Result<Vec<Note>> {
                    let mut mentions: HashMap<Uuid, Vec<AgentId>> = HashMap::new();
                    if !rows.is_empty() {
                        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                        let pairs = note_mentions(self.pool(), &ids).await?;
                        for (note, agent) in pairs {
                            mentions.entry(note).or_default().push(AgentId::from_uuid(agent));
                        }
                    }
                    rows.into_iter()
                        .map(|r| {
                            Ok(Note {
                                id: NoteId::from_uuid(r.id),
                                conversation_id: ConversationId::from_uuid(r.conversation_id),
                                author_id: r.author_id.map(AgentId::from_uuid),
                                mentions: mentions.remove(&r.id).unwrap_or_default(),
                                text: r.text,
                                created_at: r.created_at.0,
                            })
                        })
                        .collect()
                }
            }

            #[$crate::reexport::async_trait]
            impl NoteStore for $store {
                async fn create_note(&self, note: &NewNote) -> Result<Note> {
                    let id = NoteId::new();
                    let mut w = self.begin_write().await?;
                    let conn = w.conn();
                    if !hold_conversation(&mut *conn, note.conversation_id).await? {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query("INSERT INTO notes (id, conversation_id, author_id, text, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(id.as_uuid())
                        .bind(note.conversation_id.as_uuid())
                        .bind(note.author_id.as_uuid())
                        .bind(text(&note.text))
                        .bind(Ts(note.at))
                        .execute(&mut *conn)
                        .await
                        .db()?;
                    insert_mentions(&mut *conn, id, &note.mentions).await?;
                    w.commit().await?;
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
                    let mut qb = QueryBuilder::<$db>::new(NOTE);
                    qb.push("WHERE n.conversation_id = ").push_bind(*conversation.as_uuid());
                    if let Some(after) = after {
                        qb.push(" AND n.id > ").push_bind(*after.as_uuid());
                    }
                    qb.push(" ORDER BY n.id LIMIT ").push_bind(i64::from(limit) + 1);
                    let rows: Vec<NoteRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                    let items = self.with_mentions(rows).await?;
                    Ok(Page::from_fetch(items, limit, |n| n.id))
                }

                async fn notes_between(
                    &self,
                    conversation: ConversationId,
                    from: Option<chrono::DateTime<chrono::Utc>>,
                    to: Option<chrono::DateTime<chrono::Utc>>,
                    limit: u32,
                ) -> Result<Vec<Note>> {
                    let limit = page_size(limit);
                    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1)")
                        .bind(conversation.as_uuid())
                        .fetch_one(self.pool())
                        .await
                        .db()?;
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    let mut qb = QueryBuilder::<$db>::new(NOTE);
                    qb.push("WHERE n.conversation_id = ").push_bind(*conversation.as_uuid());
                    if let Some(from) = from {
                        qb.push(" AND n.created_at >= ").push_bind(Ts(from));
                    }
                    if let Some(to) = to {
                        qb.push(" AND n.created_at < ").push_bind(Ts(to));
                    }
                    qb.push(" ORDER BY n.id LIMIT ").push_bind(i64::from(limit));
                    let rows: Vec<NoteRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                    self.with_mentions(rows).await
                }

                async fn note(&self, id: NoteId) -> Result<Option<Note>> {
                    let rows: Vec<NoteRow> =
                        sqlx::query_as(&format!("{NOTE}WHERE n.id = $1")).bind(id.as_uuid()).fetch_all(self.pool()).await.db()?;
                    Ok(self.with_mentions(rows).await?.pop())
                }

                async fn delete_note(&self, id: NoteId) -> Result<bool> {
                    let mut w = self.write_conn().await?;
                    let done = sqlx::query("DELETE FROM notes WHERE id = $1").bind(id.as_uuid()).execute(&mut *w).await.db()?;
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
                    let mut qb = QueryBuilder::<$db>::new(
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
        }
    };
}
