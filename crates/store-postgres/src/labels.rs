//! Labels, and labels on conversations (`switchboard_store_sql::labels`); here, adding
//! labels to a conversation and the labels of many conversations.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use switchboard_domain::{AgentId, ConversationId, LabelId};
use switchboard_store::Result;
pub(crate) use switchboard_store_sql::rows::{LABEL_COLUMNS, LabelRow};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::nul::{opt_text, text};
use crate::views::hold_conversation;

switchboard_store_sql::label_store!(crate::PgStore, PgConnection;
    async fn labels_of_conversations(
        &self,
        conversations: &[ConversationId],
    ) -> Result<HashMap<ConversationId, Vec<Label>>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            conversation_id: Uuid,
            #[sqlx(flatten)]
            label: LabelRow,
        }
        let mut out: HashMap<ConversationId, Vec<Label>> = HashMap::new();
        if conversations.is_empty() {
            return Ok(out);
        }
        let ids: Vec<Uuid> = conversations.iter().map(|c| *c.as_uuid()).collect();
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT cl.conversation_id, {LABEL_COLUMNS} FROM conversation_labels cl \
             JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = ANY($1) ORDER BY l.name_key, l.id"
        ))
        .bind(&ids)
        .fetch_all(self.pool())
        .await
        .db()?;
        for r in rows {
            out.entry(ConversationId::from_uuid(r.conversation_id)).or_default().push(r.label.try_into()?);
        }
        Ok(out)
    }
);

fn dedup(labels: &[LabelId]) -> Vec<Uuid> {
    let mut seen = HashSet::new();
    labels.iter().filter(|l| seen.insert(**l)).map(|l| *l.as_uuid()).collect()
}

/// Puts existing labels on a conversation (unknown ids are skipped); labels already on
/// it keep who added them and when. Returns how many of `labels` exist.
pub(crate) async fn add_labels(
    conn: &mut PgConnection,
    conversation: ConversationId,
    labels: &[LabelId],
    by: Option<AgentId>,
    at: DateTime<Utc>,
) -> Result<usize> {
    let ids = dedup(labels);
    if ids.is_empty() {
        return Ok(0);
    }
    let found: i64 = sqlx::query_scalar(
        "WITH found AS (SELECT id FROM labels WHERE id = ANY($1)), \
         added AS ( \
           INSERT INTO conversation_labels (conversation_id, label_id, added_by, added_at) \
           SELECT $2, id, $3, $4 FROM found \
           ON CONFLICT (conversation_id, label_id) DO NOTHING \
         ) SELECT COUNT(*) FROM found",
    )
    .bind(&ids)
    .bind(conversation.as_uuid())
    .bind(by.map(|a| *a.as_uuid()))
    .bind(at)
    .fetch_one(conn)
    .await
    .db()?;
    Ok(usize::try_from(found).unwrap_or(0))
}
