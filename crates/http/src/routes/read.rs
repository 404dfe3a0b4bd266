//! `POST /api/v1/conversations/{id}/read`: blue ticks for the customer (and optionally a
//! typing indicator) on their newest message.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use switchboard_domain::ConversationId;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::guard::VisibleConversation;
use crate::json::optional_object;
use crate::openapi::Problem;

routes! {
    "/conversations/{id}/read" => { post: mark_read },
}

/// The body is optional: no body (or `{}`) just marks read.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReadRequest {
    /// Also show the customer a typing indicator (until the reply, at most 25 s).
    #[serde(default)]
    typing: bool,
}

/// Marks the customer's newest message read (blue ticks), optionally with a typing indicator.
#[utoipa::path(post, path = "/conversations/{id}/read", params(("id" = ConversationId, Path)),
    request_body(content = Option<ReadRequest>, description = "Optional: no body (or `{}`) just marks read."),
    responses(
        (status = 204, description = "Marked read (in sandbox mode, nothing to tell WhatsApp)"),
        (status = 409, description = "The customer has sent nothing to mark read (`nothing_to_read`)", body = Problem),
        (status = 502, description = "WhatsApp refused or could not be reached", body = Problem),
    ))]
async fn mark_read(
    VisibleConversation { id, agent }: VisibleConversation,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request: ReadRequest = optional_object(&body)?;
    let conversation = state.store.conversation(id).await?.ok_or(ApiError::NotFound { what: "conversation" })?;
    let wamid = state.store.last_inbound(id).await?.and_then(|m| m.wamid).ok_or_else(|| ApiError::StateConflict {
        code: "nothing_to_read",
        detail: "the customer has not sent a message in this conversation, so there is nothing to mark read".into(),
    })?;
    // The conversation's channel's client (its own access token, else the configured one).
    let Some(graph) = state.channel_directory.client(&conversation.phone_number_id) else {
        // Sandbox mode: there is no WhatsApp to tell.
        return Ok(HttpResponse::NoContent().finish());
    };
    graph.mark_read(&conversation.phone_number_id, &wamid, request.typing).await.map_err(|e| ApiError::from(&e))?;
    tracing::debug!(conversation_id = %id, agent_id = %agent.0.id, typing = request.typing, "marked read");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(body: &[u8]) -> Result<ReadRequest, ApiError> {
        optional_object(body)
    }

    #[test]
    fn the_body_is_optional_and_an_object() {
        assert!(!parse(b"").unwrap().typing);
        assert!(!parse(b"  \n").unwrap().typing);
        assert!(!parse(b"{}").unwrap().typing);
        assert!(parse(br#"{"typing": true}"#).unwrap().typing);
        assert!(parse(br#"{"typing": "yes"}"#).is_err());
        assert!(parse(br#"{"typo": true}"#).is_err());
        assert!(!parse(b"null").unwrap().typing);
        assert!(parse(b"[]").is_err());
        assert!(parse(b"[true]").is_err());
    }
}
