//! Private notes on conversations and their @mentions: the same SQL in both dialects
//! but reading and writing the mentions of several notes at once.
//!
//! A mention is unseen (`note_mentions.seen_at IS NULL`) until the mentioned agent opens
//! the conversation; the partial index `note_mentions_unseen (agent_id, note_id)` finds an
//! agent's unseen mentions without reading the others, so the Mentions view and its
//! count cost what the agent has not seen, not what the inbox holds.

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
            use switchboard_store::{
                MentionedConversation, NewNote, Note, NoteId, NoteStore, Page, Result, StoreError, Visibility, page_size,
            };
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

            /// A conversation with the agent's newest unseen mention in it and how many.
            #[derive(sqlx::FromRow)]
            struct MentionedRow {
                #[sqlx(flatten)]
                conversation: $crate::rows::ConversationRow,
                latest_mention: Uuid,
                unseen_mentions: i64,
            }

            /// `agent`'s unseen mentions (`nm`, joined to their notes `n`): the start of a
            /// `WHERE` whose caller adds the agent's id.
            const UNSEEN: &str = "FROM note_mentions nm JOIN notes n ON n.id = nm.note_id \
                                  WHERE nm.seen_at IS NULL AND nm.agent_id = ";

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
                    unseen_only: bool,
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
                    if unseen_only {
                        qb.push(" AND nm.seen_at IS NULL");
                    }
                    if let Some(before) = before {
                        qb.push(" AND nm.note_id < ").push_bind(*before.as_uuid());
                    }
                    push_visibility(&mut qb, viewer);
                    qb.push(" ORDER BY nm.note_id DESC LIMIT ").push_bind(i64::from(limit) + 1);
                    let rows: Vec<NoteRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                    let items = self.with_mentions(rows).await?;
                    Ok(Page::from_fetch(items, limit, |n| n.id))
                }

                async fn mentioned_conversations(
                    &self,
                    agent: AgentId,
                    viewer: Visibility,
                    limit: u32,
                    before: Option<NoteId>,
                ) -> Result<Page<MentionedConversation, NoteId>> {
                    let limit = page_size(limit);
                    let me = *agent.as_uuid();
                    // The conversations with unseen mentions (few), each with its newest
                    // one (a step down the partial index) and their number.
                    let mut qb = QueryBuilder::<$db>::new("SELECT m.* FROM (");
                    qb.push($crate::conversation_columns!());
                    qb.push(", (SELECT nm.note_id ").push(UNSEEN).push_bind(me);
                    qb.push(" AND n.conversation_id = c.id ORDER BY nm.note_id DESC LIMIT 1) AS latest_mention");
                    qb.push(", (SELECT COUNT(*) ").push(UNSEEN).push_bind(me);
                    qb.push(" AND n.conversation_id = c.id) AS unseen_mentions");
                    qb.push(
                        " FROM conversations c JOIN contacts ct ON ct.id = c.contact_id \
                         JOIN channels ch ON ch.id = c.channel_id WHERE c.id IN (SELECT n.conversation_id ",
                    );
                    qb.push(UNSEEN).push_bind(me).push(")");
                    push_visibility(&mut qb, viewer);
                    qb.push(") m");
                    if let Some(before) = before {
                        qb.push(" WHERE m.latest_mention < ").push_bind(*before.as_uuid());
                    }
                    qb.push(" ORDER BY m.latest_mention DESC LIMIT ").push_bind(i64::from(limit) + 1);
                    let rows: Vec<MentionedRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                    // Their newest unseen mentions, in one query.
                    let mut latest: HashMap<Uuid, Note> = HashMap::new();
                    if !rows.is_empty() {
                        let mut qb = QueryBuilder::<$db>::new(NOTE);
                        qb.push("WHERE n.id IN (");
                        let mut ids = qb.separated(", ");
                        for r in &rows {
                            ids.push_bind(r.latest_mention);
                        }
                        qb.push(")");
                        let notes: Vec<NoteRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                        latest = self.with_mentions(notes).await?.into_iter().map(|n| (*n.id.as_uuid(), n)).collect();
                    }
                    let items = rows
                        .into_iter()
                        .filter_map(|r| {
                            // A note deleted in between: its conversation waits for the next read.
                            let note = latest.remove(&r.latest_mention)?;
                            Some((r, note))
                        })
                        .map(|(r, note)| {
                            Ok(MentionedConversation {
                                conversation: r.conversation.try_into()?,
                                latest: note,
                                unseen: u64::try_from(r.unseen_mentions).unwrap_or(0),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Ok(Page::from_fetch(items, limit, |m| m.latest.id))
                }

                async fn mentioned_conversation_count(&self, agent: AgentId, viewer: Visibility) -> Result<u64> {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT COUNT(*) FROM conversations c WHERE c.id IN (SELECT n.conversation_id ",
                    );
                    qb.push(UNSEEN).push_bind(*agent.as_uuid()).push(")");
                    push_visibility(&mut qb, viewer);
                    let n: i64 = qb.build_query_scalar().fetch_one(self.pool()).await.db()?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn mark_mentions_seen(
                    &self,
                    agent: AgentId,
                    conversation: ConversationId,
                    at: chrono::DateTime<chrono::Utc>,
                ) -> Result<u64> {
                    // Read first: opening a conversation with nothing unseen (the usual
                    // case) takes no write lock.
                    let mut qb = QueryBuilder::<$db>::new("SELECT EXISTS (SELECT 1 ");
                    qb.push(UNSEEN).push_bind(*agent.as_uuid());
                    qb.push(" AND n.conversation_id = ").push_bind(*conversation.as_uuid()).push(")");
                    let any: bool = qb.build_query_scalar().fetch_one(self.pool()).await.db()?;
                    if !any {
                        return Ok(0);
                    }
                    let mut w = self.write_conn().await?;
                    let done = sqlx::query(
                        "UPDATE note_mentions SET seen_at = $1 WHERE agent_id = $2 AND seen_at IS NULL \
                         AND note_id IN (SELECT id FROM notes WHERE conversation_id = $3)",
                    )
                    .bind(Ts(at))
                    .bind(agent.as_uuid())
                    .bind(conversation.as_uuid())
                    .execute(&mut *w)
                    .await
                    .db()?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}
