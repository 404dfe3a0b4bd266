//! Labels, and labels on conversations: the same SQL in both dialects but adding labels
//! to a conversation and reading the labels of many conversations.

/// Expands, in a backend's `labels` module, to `LabelStore` for `$store` (whose
/// connection is `$conn`), with the backend's own `labels_of_conversations` after the
/// `;`. The module provides `add_labels` and `hold_conversation` (see
/// `views.rs` of each backend); `nul`'s `text` and `opt_text` are in scope.
#[macro_export]
macro_rules! label_store {
    ($store:ty, $conn:ty $(; $($own:tt)*)?) => {
        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use std::collections::{HashMap, HashSet};

            use chrono::{DateTime, Utc};
            use switchboard_domain::label::LabelColour;
            use switchboard_domain::{AgentId, ConversationId, LabelId};
            use switchboard_store::{AppliedLabel, Label, LabelPatch, LabelStore, NewLabel, Result, StoreError};
            use uuid::Uuid;

            use $crate::rows::{LABEL_COLUMNS, LabelRow};
            use $crate::{DbResultExt, Ts, db_err};

            /// A broken uniqueness rule on `labels` is always its name.
            fn label_err(e: sqlx::Error) -> StoreError {
                match db_err(e) {
                    StoreError::Conflict { .. } => StoreError::Conflict { what: "label name" },
                    other => other,
                }
            }

            #[$crate::reexport::async_trait]
            impl LabelStore for $store {
                async fn create_label(&self, label: &NewLabel) -> Result<Label> {
                    let mut w = self.write_conn().await?;
                    let row: LabelRow = sqlx::query_as(
                        "INSERT INTO labels (id, name, name_key, colour, description, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         RETURNING id, name, colour, description, created_at",
                    )
                    .bind(LabelId::new().as_uuid())
                    .bind(text(label.name.as_str()))
                    .bind(text(&label.name.key()))
                    .bind(label.colour.as_str())
                    .bind(opt_text(label.description.as_deref()))
                    .bind(Ts(label.at))
                    .fetch_one(&mut *w)
                    .await
                    .map_err(label_err)?;
                    row.try_into()
                }

                async fn labels(&self) -> Result<Vec<Label>> {
                    let rows: Vec<LabelRow> =
                        sqlx::query_as(&format!("SELECT {LABEL_COLUMNS} FROM labels l ORDER BY l.name_key, l.id"))
                            .fetch_all(self.pool())
                            .await
                            .db()?;
                    rows.into_iter().map(TryInto::try_into).collect()
                }

                async fn label(&self, id: LabelId) -> Result<Option<Label>> {
                    let row: Option<LabelRow> = sqlx::query_as(&format!("SELECT {LABEL_COLUMNS} FROM labels l WHERE l.id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(self.pool())
                        .await
                        .db()?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn update_label(&self, id: LabelId, patch: &LabelPatch) -> Result<Label> {
                    let mut w = self.write_conn().await?;
                    let row: Option<LabelRow> = sqlx::query_as(
                        "UPDATE labels SET \
                           name = COALESCE($1, name), name_key = COALESCE($2, name_key), colour = COALESCE($3, colour), \
                           description = CASE WHEN $4 THEN $5 ELSE description END \
                         WHERE id = $6 RETURNING id, name, colour, description, created_at",
                    )
                    .bind(patch.name.as_ref().map(|n| text(n.as_str()).into_owned()))
                    .bind(patch.name.as_ref().map(|n| text(&n.key()).into_owned()))
                    .bind(patch.colour.as_ref().map(LabelColour::as_str))
                    .bind(patch.description.is_some())
                    .bind(opt_text(patch.description.as_ref().and_then(Option::as_deref)))
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *w)
                    .await
                    .map_err(label_err)?;
                    row.ok_or(StoreError::NotFound)?.try_into()
                }

                async fn delete_label(&self, id: LabelId) -> Result<()> {
                    let mut w = self.write_conn().await?;
                    let n = sqlx::query("DELETE FROM labels WHERE id = $1").bind(id.as_uuid()).execute(&mut *w).await.db()?;
                    if n.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                }

                async fn add_conversation_labels(
                    &self,
                    conversation: ConversationId,
                    labels: &[LabelId],
                    by: Option<AgentId>,
                    at: DateTime<Utc>,
                ) -> Result<()> {
                    let mut w = self.begin_write().await?;
                    if !hold_conversation(w.conn(), conversation).await? {
                        return Err(StoreError::NotFound);
                    }
                    let found = add_labels(w.conn(), conversation, labels, by, at).await?;
                    if found != labels.iter().collect::<HashSet<_>>().len() {
                        // Dropping the transaction rolls it back.
                        return Err(StoreError::NotFound);
                    }
                    w.commit().await
                }

                async fn remove_conversation_label(&self, conversation: ConversationId, label: LabelId) -> Result<bool> {
                    let mut w = self.write_conn().await?;
                    let n = sqlx::query("DELETE FROM conversation_labels WHERE conversation_id = $1 AND label_id = $2")
                        .bind(conversation.as_uuid())
                        .bind(label.as_uuid())
                        .execute(&mut *w)
                        .await
                        .db()?;
                    Ok(n.rows_affected() > 0)
                }

                async fn conversation_labels(&self, conversation: ConversationId) -> Result<Vec<AppliedLabel>> {
                    #[derive(sqlx::FromRow)]
                    struct Row {
                        #[sqlx(flatten)]
                        label: LabelRow,
                        added_by: Option<Uuid>,
                        added_at: Ts,
                    }
                    let rows: Vec<Row> = sqlx::query_as(&format!(
                        "SELECT {LABEL_COLUMNS}, cl.added_by, cl.added_at FROM conversation_labels cl \
                         JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = $1 ORDER BY l.name_key, l.id"
                    ))
                    .bind(conversation.as_uuid())
                    .fetch_all(self.pool())
                    .await
                    .db()?;
                    rows.into_iter()
                        .map(|r| {
                            Ok(AppliedLabel {
                                label: r.label.try_into()?,
                                added_by: r.added_by.map(AgentId::from_uuid),
                                added_at: r.added_at.0,
                            })
                        })
                        .collect()
                }

                $($($own)*)?
            }
        }
    };
}
