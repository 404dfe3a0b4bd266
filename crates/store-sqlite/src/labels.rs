//! Labels, and labels on conversations.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use switchboard_domain::label::{LabelColour, LabelName};
use switchboard_domain::{AgentId, ConversationId, LabelId};
use switchboard_store::{AppliedLabel, Label, LabelPatch, LabelStore, NewLabel, Result, StoreError};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::{DbResultExt, db_err};
use crate::nul::{opt_text, text};
use crate::rows::{corrupt, ms, time};

#[derive(sqlx::FromRow)]
pub(crate) struct LabelRow {
    pub id: Uuid,
    pub name: String,
    pub colour: String,
    pub description: Option<String>,
    pub created_at: i64,
}

impl TryFrom<LabelRow> for Label {
    type Error = StoreError;
    fn try_from(r: LabelRow) -> Result<Self> {
        Ok(Self {
            id: LabelId::from_uuid(r.id),
            name: LabelName::parse(&r.name).map_err(corrupt)?,
            colour: LabelColour::parse(&r.colour).map_err(corrupt)?,
            description: r.description,
            created_at: time(r.created_at)?,
        })
    }
}

/// The columns of a label, prefixed with `l.`.
pub(crate) const LABEL_COLUMNS: &str = "l.id, l.name, l.colour, l.description, l.created_at";

/// A broken uniqueness rule on `labels` is always its name.
fn label_err(e: sqlx::Error) -> StoreError {
    match db_err(e) {
        StoreError::Conflict { .. } => StoreError::Conflict { what: "label name" },
        other => other,
    }
}

fn dedup(labels: &[LabelId]) -> Vec<LabelId> {
    let mut seen = HashSet::new();
    labels.iter().copied().filter(|l| seen.insert(*l)).collect()
}

/// Puts existing labels on a conversation (unknown ids are skipped); labels already on
/// it keep who added them and when. Returns how many of `labels` exist.
pub(crate) async fn add_labels(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    labels: &[LabelId],
    by: Option<AgentId>,
    at: DateTime<Utc>,
) -> Result<usize> {
    let mut found = 0;
    for label in dedup(labels) {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM labels WHERE id = ?1)")
            .bind(label.as_uuid())
            .fetch_one(&mut *conn)
            .await
            .db()?;
        if !exists {
            continue;
        }
        found += 1;
        sqlx::query(
            "INSERT INTO conversation_labels (conversation_id, label_id, added_by, added_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (conversation_id, label_id) DO NOTHING",
        )
        .bind(conversation.as_uuid())
        .bind(label.as_uuid())
        .bind(by.map(|a| *a.as_uuid()))
        .bind(ms(at))
        .execute(&mut *conn)
        .await
        .db()?;
    }
    Ok(found)
}

#[async_trait]
impl LabelStore for SqliteStore {
    async fn create_label(&self, label: &NewLabel) -> Result<Label> {
        let mut w = self.write_conn().await?;
        let row: LabelRow = sqlx::query_as(
            "INSERT INTO labels (id, name, name_key, colour, description, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             RETURNING id, name, colour, description, created_at",
        )
        .bind(LabelId::new().as_uuid())
        .bind(text(label.name.as_str()))
        .bind(text(&label.name.key()))
        .bind(label.colour.as_str())
        .bind(opt_text(label.description.as_deref()))
        .bind(ms(label.at))
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
        let row: Option<LabelRow> = sqlx::query_as(&format!("SELECT {LABEL_COLUMNS} FROM labels l WHERE l.id = ?1"))
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
               name = COALESCE(?1, name), name_key = COALESCE(?2, name_key), colour = COALESCE(?3, colour), \
               description = CASE WHEN ?4 THEN ?5 ELSE description END \
             WHERE id = ?6 RETURNING id, name, colour, description, created_at",
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
        let n = sqlx::query("DELETE FROM labels WHERE id = ?1").bind(id.as_uuid()).execute(&mut *w).await.db()?;
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
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = ?1)")
            .bind(conversation.as_uuid())
            .fetch_one(w.conn())
            .await
            .db()?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        let found = add_labels(w.conn(), conversation, labels, by, at).await?;
        if found != dedup(labels).len() {
            // Dropping the transaction rolls it back.
            return Err(StoreError::NotFound);
        }
        w.commit().await
    }

    async fn remove_conversation_label(&self, conversation: ConversationId, label: LabelId) -> Result<bool> {
        let mut w = self.write_conn().await?;
        let n = sqlx::query("DELETE FROM conversation_labels WHERE conversation_id = ?1 AND label_id = ?2")
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
            added_at: i64,
        }
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {LABEL_COLUMNS}, cl.added_by, cl.added_at FROM conversation_labels cl \
             JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = ?1 ORDER BY l.name_key, l.id"
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
                    added_at: time(r.added_at)?,
                })
            })
            .collect()
    }

    async fn labels_of_conversations(
        &self,
        conversations: &[ConversationId],
    ) -> Result<HashMap<ConversationId, Vec<Label>>> {
        let mut out: HashMap<ConversationId, Vec<Label>> = HashMap::new();
        for chunk in conversations.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT cl.conversation_id, {LABEL_COLUMNS} FROM conversation_labels cl \
                 JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id IN ({marks}) ORDER BY l.name_key, l.id"
            );
            #[derive(sqlx::FromRow)]
            struct Row {
                conversation_id: Uuid,
                #[sqlx(flatten)]
                label: LabelRow,
            }
            let mut q = sqlx::query_as::<_, Row>(&sql);
            for c in chunk {
                q = q.bind(*c.as_uuid());
            }
            for r in q.fetch_all(self.pool()).await.db()? {
                out.entry(ConversationId::from_uuid(r.conversation_id)).or_default().push(r.label.try_into()?);
            }
        }
        Ok(out)
    }
}
