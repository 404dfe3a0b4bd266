//! Rows both backends read alike, and their conversion to domain types.
//!
//! Times are [`Ts`], ids `Uuid`, JSON `Json<T>`: each decodes from its dialect's own
//! column type (see `columns.rs`).

use sqlx::types::Json;
use switchboard_domain::label::{LabelColour, LabelName};
use switchboard_domain::message::{MessageContent, MessageContext, Referral, StatusError};
use switchboard_domain::{
    AgentId, AgentName, AgentRole, ChannelId, ContactId, ConversationId, ConversationStatus, DeliveryState, Direction,
    Email, JobId, LabelId, MessageId, PhoneNumberId, WaId, Wamid,
};
use switchboard_store::{
    Agent, ChannelInfo, ContactView, ConversationView, Label, MessageView, OutboxEntry, OutboxState, StoreError,
};
use uuid::Uuid;

use crate::columns::{Int, Ts, opt_time};

pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(what)
}

pub fn delivery_state(s: &str) -> Result<DeliveryState, StoreError> {
    DeliveryState::parse(s).ok_or_else(|| corrupt(format!("delivery state {s:?}")))
}

#[derive(sqlx::FromRow)]
pub struct ChannelRow {
    pub id: Uuid,
    pub phone_number_id: String,
    pub name: String,
}

impl TryFrom<ChannelRow> for ChannelInfo {
    type Error = StoreError;
    fn try_from(r: ChannelRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: ChannelId::from_uuid(r.id),
            phone_number_id: PhoneNumberId::parse(&r.phone_number_id).map_err(corrupt)?,
            name: r.name,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PendingEventRow {
    pub id: i64,
    pub body: Option<Vec<u8>>,
    pub received_at: Ts,
}

#[derive(sqlx::FromRow)]
pub struct AgentRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
    pub active: bool,
    pub created_at: Ts,
    pub availability: String,
    pub capacity: Option<i64>,
    pub totp_required: bool,
}

impl TryFrom<AgentRow> for Agent {
    type Error = StoreError;
    fn try_from(r: AgentRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: AgentId::from_uuid(r.id),
            name: AgentName::parse(&r.name).map_err(corrupt)?,
            email: Email::parse(&r.email).map_err(corrupt)?,
            role: AgentRole::parse(&r.role).ok_or_else(|| corrupt(format!("role {:?}", r.role)))?,
            active: r.active,
            created_at: r.created_at.0,
            availability: switchboard_store::Availability::parse(&r.availability)
                .ok_or_else(|| corrupt(format!("availability {:?}", r.availability)))?,
            capacity: r.capacity.map(u32::try_from).transpose().map_err(|_| corrupt("capacity out of range"))?,
            totp_required: r.totp_required,
        })
    }
}

/// The columns of conversation view queries (conversations ⋈ contacts ⋈ channels).
#[derive(sqlx::FromRow)]
pub struct ConversationRow {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub phone_number_id: String,
    pub contact_id: Uuid,
    pub wa_id: String,
    pub profile_name: Option<String>,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub status: String,
    pub assignee_id: Option<Uuid>,
    pub window_closes_at: Option<Ts>,
    pub last_inbound_at: Option<Ts>,
    pub last_message_at: Ts,
    pub created_at: Ts,
    pub resolved_at: Option<Ts>,
    pub message_count: i64,
    pub contact_name: Option<String>,
    pub team_id: Option<Uuid>,
    pub waiting_since: Option<Ts>,
    pub snoozed_until: Option<Ts>,
    pub link_id: Option<Uuid>,
    pub opted_out_at: Option<Ts>,
    pub first_response_due_at: Option<Ts>,
    pub first_response_sla: Option<String>,
    pub resolution_due_at: Option<Ts>,
    pub resolution_sla: Option<String>,
    pub sla_due_at: Option<Ts>,
}

fn sla_outcome(s: Option<&str>) -> Result<Option<switchboard_domain::sla::SlaOutcome>, StoreError> {
    s.map(|s| switchboard_domain::sla::SlaOutcome::parse(s).ok_or_else(|| corrupt(format!("sla outcome {s:?}"))))
        .transpose()
}

impl TryFrom<ConversationRow> for ConversationView {
    type Error = StoreError;
    fn try_from(r: ConversationRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: ConversationId::from_uuid(r.id),
            channel_id: ChannelId::from_uuid(r.channel_id),
            phone_number_id: PhoneNumberId::parse(&r.phone_number_id).map_err(corrupt)?,
            contact: ContactView {
                id: ContactId::from_uuid(r.contact_id),
                wa_id: WaId::parse(&r.wa_id).map_err(corrupt)?,
                profile_name: r.profile_name,
                name: r.contact_name,
                user_id: r.user_id,
                username: r.username,
                opted_out_at: opt_time(r.opted_out_at),
            },
            status: ConversationStatus::parse(&r.status)
                .ok_or_else(|| corrupt(format!("conversation status {:?}", r.status)))?,
            assignee_id: r.assignee_id.map(AgentId::from_uuid),
            window_closes_at: opt_time(r.window_closes_at),
            last_inbound_at: opt_time(r.last_inbound_at),
            last_message_at: r.last_message_at.0,
            created_at: r.created_at.0,
            resolved_at: opt_time(r.resolved_at),
            message_count: r.message_count,
            team_id: r.team_id.map(switchboard_store::TeamId::from_uuid),
            link_id: r.link_id.map(switchboard_domain::LinkId::from_uuid),
            waiting_since: opt_time(r.waiting_since),
            snoozed_until: opt_time(r.snoozed_until),
            sla: switchboard_store::ConversationSla {
                first_response_due_at: opt_time(r.first_response_due_at),
                first_response: sla_outcome(r.first_response_sla.as_deref())?,
                resolution_due_at: opt_time(r.resolution_due_at),
                resolution: sla_outcome(r.resolution_sla.as_deref())?,
            },
            sla_due_at: opt_time(r.sla_due_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: String,
    pub wamid: Option<String>,
    pub content: Json<MessageContent>,
    pub text: Option<String>,
    pub context: Option<Json<MessageContext>>,
    pub referral: Option<Json<Referral>>,
    pub errors: Option<Json<Vec<StatusError>>>,
    pub state: String,
    pub timestamp: Ts,
    pub created_at: Ts,
    pub sent_at: Option<Ts>,
    pub delivered_at: Option<Ts>,
    pub read_at: Option<Ts>,
    pub failed_at: Option<Ts>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    pub sent_by: Option<Uuid>,
    pub auto_rule: Option<String>,
}

impl TryFrom<MessageRow> for MessageView {
    type Error = StoreError;
    fn try_from(r: MessageRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: MessageId::from_uuid(r.id),
            conversation_id: ConversationId::from_uuid(r.conversation_id),
            direction: Direction::parse(&r.direction).ok_or_else(|| corrupt(format!("direction {:?}", r.direction)))?,
            wamid: r.wamid.as_deref().map(Wamid::parse).transpose().map_err(corrupt)?,
            content: r.content.0,
            text: r.text,
            context: r.context.map(|j| j.0),
            referral: r.referral.map(|j| j.0),
            errors: r.errors.map(|j| j.0).unwrap_or_default(),
            state: delivery_state(&r.state)?,
            timestamp: r.timestamp.0,
            created_at: r.created_at.0,
            sent_at: opt_time(r.sent_at),
            delivered_at: opt_time(r.delivered_at),
            read_at: opt_time(r.read_at),
            failed_at: opt_time(r.failed_at),
            error: r.error_code.map(|code| StatusError {
                code,
                title: r.error_title.unwrap_or_default(),
                details: r.error_details,
                href: None,
            }),
            sent_by: r.sent_by.map(AgentId::from_uuid),
            auto_rule: r.auto_rule,
        })
    }
}

/// The delivery columns of one message, to fold status reports into.
#[derive(sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub state: String,
    pub sent_at: Option<Ts>,
    pub delivered_at: Option<Ts>,
    pub read_at: Option<Ts>,
    pub failed_at: Option<Ts>,
}

impl DeliveryRow {
    pub fn delivery(&self) -> Result<switchboard_domain::Delivery, StoreError> {
        Ok(switchboard_domain::Delivery {
            state: delivery_state(&self.state)?,
            sent_at: opt_time(self.sent_at),
            delivered_at: opt_time(self.delivered_at),
            read_at: opt_time(self.read_at),
            failed_at: opt_time(self.failed_at),
            error: None,
        })
    }
}

/// A status report that arrived before its message.
#[derive(sqlx::FromRow)]
pub struct PendingStatusRow {
    pub status: String,
    pub timestamp: Ts,
    pub errors: Option<Json<Vec<StatusError>>>,
}

/// An outbox row, for admins.
#[derive(sqlx::FromRow)]
pub struct OutboxEntryRow {
    pub id: i64,
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub state: String,
    pub attempts: Int,
    pub run_at: Ts,
    pub last_error: Option<String>,
    pub created_at: Ts,
}

impl TryFrom<OutboxEntryRow> for OutboxEntry {
    type Error = StoreError;
    fn try_from(r: OutboxEntryRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: JobId::new(r.id),
            message_id: MessageId::from_uuid(r.message_id),
            conversation_id: ConversationId::from_uuid(r.conversation_id),
            state: OutboxState::parse(&r.state).ok_or_else(|| corrupt(format!("outbox state {:?}", r.state)))?,
            attempts: u32::try_from(r.attempts.0).map_err(corrupt)?,
            run_at: r.run_at.0,
            last_error: r.last_error,
            created_at: r.created_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct LabelRow {
    pub id: Uuid,
    pub name: String,
    pub colour: String,
    pub description: Option<String>,
    pub created_at: Ts,
}

impl TryFrom<LabelRow> for Label {
    type Error = StoreError;
    fn try_from(r: LabelRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: LabelId::from_uuid(r.id),
            name: LabelName::parse(&r.name).map_err(corrupt)?,
            colour: LabelColour::parse(&r.colour).map_err(corrupt)?,
            description: r.description,
            created_at: r.created_at.0,
        })
    }
}

/// The columns of a label, prefixed with `l.`.
pub const LABEL_COLUMNS: &str = "l.id, l.name, l.colour, l.description, l.created_at";
