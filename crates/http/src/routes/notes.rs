//! Private notes on a conversation, with @mentions: `POST|GET /conversations/{id}/notes`,
//! `DELETE /conversations/{id}/notes/{note_id}`, and `GET /mentions` (notes that
//! mention the caller, newest first).
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
use switchboard_domain::{AgentId, AgentRole, ConversationId, Email};
use switchboard_store::{NewNote, Note, NoteId, StoreError};
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

/// The longest note, in characters.
const MAX_NOTE_CHARS: usize = 10_000;
/// The most agents one note mentions.
const MAX_MENTIONS: usize = 50;

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

/// The e-mail addresses a note mentions, lower-cased, in order, without duplicates: an
/// `@` at the start or after a character that cannot be part of an address, followed by
/// an address (trailing sentence punctuation is not part of it).
#[must_use]
pub fn mentioned_emails(text: &str) -> Vec<Email> {
    let stops = |c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '!' | '?' | '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'')
    };
    let mut out: Vec<Email> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let starts = c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || matches!(p, '.' | '_' | '-' | '+' | '@'));
        prev = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[i + c.len_utf8()..];
        let end = rest.find(stops).unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches(['.', '…']);
        if !token.contains('@') {
            continue;
        }
        if let Ok(email) = Email::parse(token)
            && !out.contains(&email)
        {
            out.push(email);
        }
    }
    out
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
    let text = body.text.as_deref().map(str::trim).unwrap_or_default();
    let n = text.chars().count();
    if n == 0 || n > MAX_NOTE_CHARS {
        return Err(ApiError::field("text", format!("is required: 1 to {MAX_NOTE_CHARS} characters")));
    }
    let emails = mentioned_emails(text);
    if emails.len() > MAX_MENTIONS {
        return Err(ApiError::field("text", format!("mentions more than {MAX_MENTIONS} agents")));
    }
    let mut mentions = Vec::with_capacity(emails.len());
    if !emails.is_empty() {
        let agents = state.store.agents().await?;
        let mut unknown = Vec::new();
        for email in &emails {
            match agents.iter().find(|a| a.active && a.email == *email) {
                Some(a) if !mentions.contains(&a.id) => mentions.push(a.id),
                Some(_) => {}
                None => unknown.push(format!("@{}", email.as_str())),
            }
        }
        if !unknown.is_empty() {
            return Err(ApiError::Validation(vec![FieldError::new(
                "text",
                format!("mentions {} which is no active agent's e-mail address", unknown.join(", ")),
            )]));
        }
    }
    let note = state
        .store
        .create_note(&NewNote {
            conversation_id: id,
            author_id: agent.0.id,
            text: text.to_owned(),
            mentions,
            at: Utc::now(),
        })
        .await
        .map_err(not_found)?;
    tracing::info!(conversation_id = %id, note_id = %note.id, by = %agent.0.id, mentions = note.mentions.len(), "note added");
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
    let (id, note_id) = (note.conversation_id, note.id);
    if agent.0.role != AgentRole::Admin && note.author_id != Some(agent.0.id) {
        return Err(ApiError::Forbidden);
    }
    if !state.store.delete_note(note_id).await? {
        return Err(ApiError::NotFound { what: "note" });
    }
    tracing::info!(conversation_id = %id, note_id = %note_id, by = %agent.0.id, "note deleted");
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

#[cfg(test)]
mod tests {
    use super::mentioned_emails;

    fn emails(text: &str) -> Vec<String> {
        mentioned_emails(text).iter().map(|e| e.as_str().to_owned()).collect()
    }

    #[test]
    fn mentions_are_at_sign_then_an_address() {
        assert_eq!(emails("@sam@example.com can you look?"), ["sam@example.com"]);
        assert_eq!(emails("cc @Sam@Example.com, @bo@example.org."), ["sam@example.com", "bo@example.org"]);
        assert_eq!(emails("(@sam@example.com) and again @sam@example.com!"), ["sam@example.com"]);
        assert_eq!(emails("नमस्ते @priya@example.in"), ["priya@example.in"]);
    }

    #[test]
    fn plain_addresses_and_handles_are_not_mentions() {
        assert!(emails("write to sam@example.com").is_empty());
        assert!(emails("@here @sam please").is_empty());
        assert!(emails("price @ 5 EUR, a@@b").is_empty());
    }
}
