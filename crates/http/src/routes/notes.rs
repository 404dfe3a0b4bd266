//! Private notes on a conversation, with @mentions: `POST|GET /conversations/{id}/notes`,
//! `DELETE /conversations/{id}/notes/{note_id}`, `GET /mentions` (notes that mention the
//! caller, newest first; `?unseen=true` for those they have not seen) and
//! `POST /conversations/{id}/mentions/seen` (the caller has seen the conversation: what
//! the console does when they open it). The use cases: `switchboard_core::Inbox`'s
//! `add_note`, `delete_note` and `mentions_seen`.
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
    "/conversations/{id}/mentions/seen" => { post: mentions_seen },
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MentionParams {
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    cursor: Option<String>,
    /// `true`: only the notes the caller has not seen yet (whose conversation they have
    /// not opened since). Default `false`: all of them.
    #[param(value_type = Option<bool>)]
    unseen: Option<String>,
}

/// How many of the caller's mentions in the conversation were unseen.
#[derive(Serialize, ToSchema)]
#[schema(as = MentionsSeen)]
struct SeenJson {
    seen: u64,
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
    let page = parse_page(params.limit.as_deref(), params.cursor.as_deref(), &mut errors);
    if errors.is_empty() { Ok(page) } else { Err(ApiError::Validation(errors)) }
}

fn parse_page(limit: Option<&str>, cursor: Option<&str>, errors: &mut Vec<FieldError>) -> (u32, Option<NoteId>) {
    let limit = parse_limit(limit, errors);
    let cursor = match cursor {
        None => None,
        Some(c) => c.parse::<NoteId>().ok().or_else(|| {
            errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
            None
        }),
    };
    (limit, cursor)
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

/// Notes mentioning the caller on conversations they may see, newest first
/// (`unseen=true`: only those in conversations they have not opened since).
#[utoipa::path(get, path = "/mentions", params(MentionParams), responses((status = 200, body = PageJson<NoteJson>)))]
async fn mentions(
    agent: AuthenticatedAgent,
    params: web::Query<MentionParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let (limit, before) = parse_page(params.limit.as_deref(), params.cursor.as_deref(), &mut errors);
    let unseen = match params.unseen.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(FieldError::new("unseen", "must be true or false"));
            false
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let page = state.store.mentions(agent.0.id, viewer(&agent), unseen, limit, before).await?;
    Ok(HttpResponse::Ok().json(PageJson {
        items: page.items.into_iter().map(NoteJson::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

/// The caller has seen the conversation: their mentions in it are no longer unseen (what
/// opening it in the console does).
#[utoipa::path(post, path = "/conversations/{id}/mentions/seen", params(("id" = ConversationId, Path)),
    responses((status = 200, body = SeenJson)))]
async fn mentions_seen(
    VisibleConversation { id, agent }: VisibleConversation,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let seen = state.inbox().mentions_seen(&agent.0, id).await?;
    Ok(HttpResponse::Ok().json(SeenJson { seen }))
}
