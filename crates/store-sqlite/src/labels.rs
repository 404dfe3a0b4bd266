//! Labels, and labels on conversations (`switchboard_store_sql::labels`); here, adding
//! labels to a conversation and the labels of many conversations.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use switchboard_domain::{AgentId, ConversationId, LabelId};
use switchboard_store::Result;
pub(crate) use switchboard_store_sql::rows::{LABEL_COLUMNS, LabelRow};

use crate::error::DbResultExt;
use crate::nul::{opt_text, text};
use crate::rows::ms;
use crate::views::hold_conversation;

switchboard_store_sql::label_store!(crate::SqliteStore, SqliteConnection;
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
);

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
