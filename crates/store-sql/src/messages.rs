//! Messages as the inbox shows them: the same SQL in both dialects but recording an
//! outbound message and its send (how a status report racing it is kept apart).

/// Expands, in a backend's `views` module, to `MessageStore` for `$store`, with the
/// backend's own `insert_outbound` and `record_sent` after the `;`.
#[macro_export]
macro_rules! message_store {
    ($store:ty $(; $($own:tt)*)?) => {
        mod shared_messages {
            #![allow(unused_imports)]
            use super::*;
            use switchboard_domain::{ConversationId, MessageId};
            use switchboard_store::{MessageCursor, MessageQuery, MessageStore, MessageView, Page, Result, StoreError, page_size};

            use $crate::rows::MessageRow;
            use $crate::DbResultExt;

            #[$crate::reexport::async_trait]
            impl MessageStore for $store {
                async fn list_messages(
                    &self,
                    conversation: ConversationId,
                    q: &MessageQuery,
                ) -> Result<Page<MessageView, MessageCursor>> {
                    let limit = page_size(q.limit);
                    let sql = if q.after.is_some() {
                        concat!($crate::message_select!(), "WHERE conversation_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                    } else {
                        concat!($crate::message_select!(), "WHERE conversation_id = $1 AND $2 IS NULL ORDER BY id LIMIT $3")
                    };
                    let rows: Vec<MessageRow> = sqlx::query_as(sql)
                        .bind(conversation.as_uuid())
                        .bind(q.after.map(|a| *a.id.as_uuid()))
                        .bind(i64::from(limit) + 1)
                        .fetch_all(self.pool())
                        .await
                        .db()?;
                    if rows.is_empty() {
                        // An empty page of a conversation, or no conversation at all?
                        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1)")
                            .bind(conversation.as_uuid())
                            .fetch_one(self.pool())
                            .await
                            .db()?;
                        if !exists {
                            return Err(StoreError::NotFound);
                        }
                    }
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<MessageView>>>()?;
                    Ok(Page::from_fetch(items, limit, |m| MessageCursor { id: m.id }))
                }

                async fn messages_before(
                    &self,
                    conversation: ConversationId,
                    before: Option<MessageCursor>,
                    limit: u32,
                ) -> Result<Page<MessageView, MessageCursor>> {
                    let limit = page_size(limit);
                    // Newest first through the (conversation_id, id) index, then turned round.
                    let sql = if before.is_some() {
                        concat!($crate::message_select!(), "WHERE conversation_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
                    } else {
                        concat!($crate::message_select!(), "WHERE conversation_id = $1 AND $2 IS NULL ORDER BY id DESC LIMIT $3")
                    };
                    let rows: Vec<MessageRow> = sqlx::query_as(sql)
                        .bind(conversation.as_uuid())
                        .bind(before.map(|b| *b.id.as_uuid()))
                        .bind(i64::from(limit) + 1)
                        .fetch_all(self.pool())
                        .await
                        .db()?;
                    if rows.is_empty() {
                        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1)")
                            .bind(conversation.as_uuid())
                            .fetch_one(self.pool())
                            .await
                            .db()?;
                        if !exists {
                            return Err(StoreError::NotFound);
                        }
                    }
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<MessageView>>>()?;
                    let mut page = Page::from_fetch(items, limit, |m| MessageCursor { id: m.id });
                    page.items.reverse();
                    Ok(page)
                }

                async fn message(&self, id: MessageId) -> Result<Option<MessageView>> {
                    let row: Option<MessageRow> = sqlx::query_as(concat!($crate::message_select!(), "WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(self.pool())
                        .await
                        .db()?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<std::collections::HashMap<MessageId, MessageView>> {
                    let mut out = std::collections::HashMap::with_capacity(ids.len());
                    for chunk in ids.chunks(switchboard_store::ID_LIST_CHUNK) {
                        let uuids: Vec<uuid::Uuid> = chunk.iter().map(|id| *id.as_uuid()).collect();
                        let mut qb = sqlx::QueryBuilder::new(concat!($crate::message_select!(), "WHERE id IN "));
                        $crate::ids::push_ids(&mut qb, &uuids);
                        let rows: Vec<MessageRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                        for row in rows {
                            let m = MessageView::try_from(row)?;
                            out.insert(m.id, m);
                        }
                    }
                    Ok(out)
                }

                async fn last_inbound(&self, conversation: ConversationId) -> Result<Option<MessageView>> {
                    let row: Option<MessageRow> = sqlx::query_as(concat!(
                        $crate::message_select!(),
                        "WHERE conversation_id = $1 AND direction = 'inbound' ORDER BY id DESC LIMIT 1"
                    ))
                    .bind(conversation.as_uuid())
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    row.map(TryInto::try_into).transpose()
                }

                $($($own)*)?
            }
        }
    };
}
