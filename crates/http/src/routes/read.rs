//! `POST /api/v1/conversations/{id}/read`: blue ticks for the customer (and optionally a
//! typing indicator) on their newest message.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use switchboard_domain::ConversationId;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;
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

/// No body, `null` and `{}` all mean the defaults.
fn parse_body(body: &[u8]) -> Result<ReadRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ReadRequest::default());
    }
    serde_json::from_slice::<Option<ReadRequest>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| ApiError::BadRequest { code: "invalid_body", detail: e.to_string() })
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
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound { what: "conversation" };
    let id: ConversationId = path.parse().map_err(|_| not_found())?;
    let request = parse_body(&body)?;
    let conversation = state.store.conversation(id).await?.ok_or_else(not_found)?;
    let wamid = state.store.last_inbound(id).await?.and_then(|m| m.wamid).ok_or_else(|| ApiError::StateConflict {
        code: "nothing_to_read",
        detail: "the customer has not sent a message in this conversation, so there is nothing to mark read".into(),
    })?;
    let Some(graph) = &state.graph else {
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

    #[test]
    fn the_body_is_optional() {
        assert!(!parse_body(b"").unwrap().typing);
        assert!(!parse_body(b"  \n").unwrap().typing);
        assert!(!parse_body(b"{}").unwrap().typing);
        assert!(!parse_body(b"null").unwrap().typing);
        assert!(parse_body(br#"{"typing": true}"#).unwrap().typing);
        assert!(parse_body(br#"{"typing": "yes"}"#).is_err());
        assert!(parse_body(br#"{"typo": true}"#).is_err());
    }
}
