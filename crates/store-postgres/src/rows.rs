//! Rows only PostgreSQL reads this way; the shared ones are `switchboard_store_sql::rows`.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use switchboard_domain::{ChannelId, ConversationId, JobId, MessageId, PhoneNumberId, WaId};
use switchboard_store::{OutboxJob, StoreError};
pub(crate) use switchboard_store_sql::rows::{
    AgentRow, ChannelRow, DeliveryRow, OutboxEntryRow, PendingEventRow, PendingStatusRow, corrupt, delivery_state,
};
use uuid::Uuid;

/// What a status report did to a message (`apply_status`'s fused statement).
#[derive(sqlx::FromRow)]
pub(crate) struct StatusRow {
    pub id: Uuid,
    pub from_state: String,
    pub to_state: String,
}

/// A claimed outbox job, with its channel's number and its recipient.
#[derive(sqlx::FromRow)]
pub(crate) struct OutboxJobRow {
    pub id: i64,
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub channel_id: Uuid,
    pub phone_number_id: String,
    pub wa_id: String,
    pub request: Json<serde_json::Value>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub locked_until: DateTime<Utc>,
    pub withheld: bool,
}

impl TryFrom<OutboxJobRow> for OutboxJob {
    type Error = StoreError;
    fn try_from(r: OutboxJobRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: JobId::new(r.id),
            message_id: MessageId::from_uuid(r.message_id),
            conversation_id: ConversationId::from_uuid(r.conversation_id),
            channel_id: ChannelId::from_uuid(r.channel_id),
            phone_number_id: PhoneNumberId::parse(&r.phone_number_id).map_err(corrupt)?,
            to: WaId::parse(&r.wa_id).map_err(corrupt)?,
            request: r.request.0,
            attempts: u32::try_from(r.attempts).map_err(corrupt)?,
            created_at: r.created_at,
            leased_until: r.locked_until,
            withheld: r.withheld,
        })
    }
}
