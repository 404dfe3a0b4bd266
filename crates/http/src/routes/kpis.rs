//! KPI facts of one conversation (`switchboard_store::KpiStore`): its first response, every
//! reply to a waiting customer and its resolution, each in wall-clock and business seconds
//! of the channel's hours. Recorded by the store in the reply's or resolution's transaction.
//! With them, the conversation's satisfaction survey and the customer's rating (`csat`).
//!
//! ```text
//! GET /api/v1/conversations/{id}/kpis    whoever may see the conversation
//! ```

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::csat::Score;
use switchboard_domain::{AgentId, ConversationId, MessageId};
use switchboard_store::{ConversationKpis, Csat, Took};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::guard::VisibleConversation;

routes! {
    "/conversations/{id}/kpis" => { get: conversation_kpis },
}

/// A duration, in wall-clock seconds and in business seconds of the channel's hours
/// (equal when the channel has no hours).
#[derive(Serialize, ToSchema)]
#[schema(as = KpiDuration)]
struct TookJson {
    seconds: i64,
    business_seconds: i64,
}

impl From<Took> for TookJson {
    fn from(t: Took) -> Self {
        Self { seconds: t.seconds, business_seconds: t.business_seconds }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = FirstResponse)]
struct FirstResponseJson {
    at: DateTime<Utc>,
    /// `null` once that agent is deleted.
    by: Option<AgentId>,
    /// From the first customer message (or the last automatic message before the reply,
    /// if any: the hand-over) to the first message a person sent.
    #[serde(flatten)]
    took: TookJson,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ReplyTime)]
struct ReplyTimeJson {
    message_id: MessageId,
    agent_id: Option<AgentId>,
    /// Since when the customer had been waiting.
    waited_from: DateTime<Utc>,
    replied_at: DateTime<Utc>,
    #[serde(flatten)]
    took: TookJson,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ConversationKpis)]
struct KpisJson {
    /// `null` until a person has answered the customer.
    first_response: Option<FirstResponseJson>,
    /// From the conversation's start to its resolution; `null` until resolved.
    resolution: Option<TookJson>,
    /// Every reply by a person to a waiting customer, oldest first.
    replies: Vec<ReplyTimeJson>,
    /// The satisfaction survey and its answer; `null` when no survey was queued.
    csat: Option<CsatJson>,
}

/// A conversation's satisfaction survey.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationCsat)]
struct CsatJson {
    /// The survey message (`null` once deleted).
    message_id: Option<MessageId>,
    /// When it was queued (at the resolution; it goes out after the channel's delay).
    queued_at: DateTime<Utc>,
    /// Taps count (and change the rating) until then.
    expires_at: DateTime<Utc>,
    /// How many points the scale has: 3 or 5.
    scale: u8,
    /// The latest rating, 1 (worst) to `scale`; `null` until the customer taps.
    score: Option<Score>,
    rated_at: Option<DateTime<Utc>>,
    /// When the follow-up question was asked (after the first rating).
    comment_asked_at: Option<DateTime<Utc>>,
    /// The customer's answer to the follow-up question.
    comment: Option<String>,
    commented_at: Option<DateTime<Utc>>,
}

impl From<Csat> for CsatJson {
    fn from(c: Csat) -> Self {
        Self {
            message_id: c.message_id,
            queued_at: c.queued_at,
            expires_at: c.expires_at,
            scale: c.scale.points(),
            score: c.score,
            rated_at: c.rated_at,
            comment_asked_at: c.comment_asked_at,
            comment: c.comment,
            commented_at: c.commented_at,
        }
    }
}

impl KpisJson {
    fn new(k: ConversationKpis, csat: Option<Csat>) -> Self {
        Self {
            csat: csat.map(Into::into),
            first_response: k.first_response.map(|f| FirstResponseJson { at: f.at, by: f.by, took: f.took.into() }),
            resolution: k.resolution.map(Into::into),
            replies: k
                .replies
                .into_iter()
                .map(|r| ReplyTimeJson {
                    message_id: r.message_id,
                    agent_id: r.agent_id,
                    waited_from: r.waited_from,
                    replied_at: r.replied_at,
                    took: r.took.into(),
                })
                .collect(),
        }
    }
}

/// How fast this conversation was answered and resolved.
#[utoipa::path(get, path = "/conversations/{id}/kpis", params(("id" = ConversationId, Path)),
    responses((status = 200, body = KpisJson)))]
async fn conversation_kpis(
    VisibleConversation { id, .. }: VisibleConversation,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let kpis = state.store.conversation_kpis(id).await?.ok_or(ApiError::NotFound { what: "conversation" })?;
    let csat = state.store.conversation_csat(id).await?;
    Ok(HttpResponse::Ok().json(KpisJson::new(kpis, csat)))
}
