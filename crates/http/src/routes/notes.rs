//! Private notes on a conversation, with @mentions: `POST|GET /conversations/{id}/notes`,
//! `DELETE /conversations/{id}/notes/{note_id}`, and `GET /mentions` (notes that
//! mention the caller, newest first). The use cases: `switchboard_core::Inbox`'s
//! `add_note` and `delete_note`.
//!
//! Notes are for agents only: they have their own table and never reach the outbox or
//! WhatsApp. A mention is `@` followed by an agent's e-mail address
//! (`@sam@example.com`), resolved to the agent when the note is written; an address that
//! is no active agent's makes the note invalid (422 naming `text`). Whoever may see the
//! conversation may read and write its notes; a note is deleted by its author or an
//! admin.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{AgentId, ConversationId};
use switchboard_store::{Note, NoteId, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::guard::{VisibleConversation, VisibleNote, viewer};
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::conversations::{PageJson, parse_limit};

routes! {
    "/conversations/{id}/notes" => { get: list, post: create },
    "/conversations/{id}/notes/{note_id}" => { delete: delete },
    "/mentions" => { get: mentions },
}

/// A private note on a conversation (agents only; never sent to the customer).
#[derive(Serialize, ToSchema)]
#[schema(as = Note)]
struct NoteJson {
    id: NoteId,
    conversation_id: ConversationId,
    /// `null` if the author's account was deleted.
    author_id: Option<AgentId>,
    text: String,
    /// The agents mentioned, in the order first mentioned.
    mentions: Vec<AgentId>,
    created_at: DateTime<Utc>,
}

impl From<Note> for NoteJson {
    fn from(n: Note) -> Self {
        Self {
            id: n.id,
            conversation_id: n.conversation_id,
            author_id: n.author_id,
            text: n.text,
            mentions: n.mentions,
            created_at: n.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    /// Required: 1 to 10 000 characters; `@` and an agent's e-mail address mentions them.
    #[schema(value_type = String, min_length = 1, max_length = 10000)]
    text: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    cursor: Option<String>,
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound { what: "conversation" },
        e => e.into(),
    }
}

/// Adds a note to a conversation; `@email` mentions resolve to active agents.
#[utoipa::path(post, path = "/conversations/{id}/notes", params(("id" = ConversationId, Path)),
    request_body = NoteBody, responses((status = 201, body = NoteJson)))]
async fn create(
    VisibleConversation { id, agent }: VisibleConversation,
    body: Json<NoteBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let note = state.inbox().add_note(&agent.0, id, body.text.as_deref()).await?;
    Ok(HttpResponse::Created().json(NoteJson::from(note)))
}

fn page_params(params: &PageParams) -> Result<(u32, Option<NoteId>), ApiError> {
    let mut errors = Vec::new();
    let limit = parse_limit(params.limit.as_deref(), &mut errors);
    let cursor = match params.cursor.as_deref() {
        None => None,
        Some(c) => c.parse::<NoteId>().ok().or_else(|| {
            errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
            None
        }),
    };
    if errors.is_empty() { Ok((limit, cursor)) } else { Err(ApiError::Validation(errors)) }
}

/// A conversation's notes, oldest first.
#[utoipa::path(get, path = "/conversations/{id}/notes", params(("id" = ConversationId, Path), PageParams),
    responses((status = 200, body = PageJson<NoteJson>)))]
async fn list(
    VisibleConversation { id, .. }: VisibleConversation,
    params: web::Query<PageParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (limit, after) = page_params(&params)?;
    let page = state.store.notes(id, limit, after).await.map_err(not_found)?;
    Ok(HttpResponse::Ok().json(PageJson {
        items: page.items.into_iter().map(NoteJson::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

/// Deletes a note (its author or an admin).
#[utoipa::path(delete, path = "/conversations/{id}/notes/{note_id}",
    params(("id" = ConversationId, Path), ("note_id" = NoteId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only the note's author or an admin may delete it", body = Problem),
    ))]
async fn delete(
    VisibleNote { note, agent }: VisibleNote,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.inbox().delete_note(&agent.0, &note).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Notes mentioning the caller on conversations they may see, newest first.
#[utoipa::path(get, path = "/mentions", params(PageParams), responses((status = 200, body = PageJson<NoteJson>)))]
async fn mentions(
    agent: AuthenticatedAgent,
    params: web::Query<PageParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (limit, before) = page_params(&params)?;
    let page = state.store.mentions(agent.0.id, viewer(&agent), limit, before).await?;
    Ok(HttpResponse::Ok().json(PageJson {
        items: page.items.into_iter().map(NoteJson::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}
