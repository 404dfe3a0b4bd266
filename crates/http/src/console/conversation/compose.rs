//! The composer: a reply (text; a text that is exactly `/shortcut` sends that quick
//! reply, filled in for this contact by the core), a private note with @mentions, or a
//! template by hand once the window has closed. The same core use cases as
//! `POST /api/v1/conversations/{id}/messages` and `…/notes`.
//!
//! On success htmx gets 204 with `HX-Trigger: sb-thread` (`conversation.js` clears the
//! field and re-reads the thread); on failure the error page, whose message
//! `console.js` shows, and the typed text stays where it was.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use switchboard_cloudapi::{OutboundBody, TemplateComponent, TemplateParameter};
use switchboard_core::inbox::{Compose, Outgoing};
use switchboard_domain::autoreply::QuickReplyRef;
use switchboard_domain::message::MessageContent;
use switchboard_domain::{ConversationId, MessageId};

use super::super::{ConsoleError, Form, Page, query_pairs};
use crate::AppState;
use crate::error::{ApiError, FieldError};
use crate::guard::VisibleConversation;

/// The longest idempotency key, as the API's.
const KEY_MAX: usize = 200;

#[derive(Deserialize)]
pub(super) struct ComposeForm {
    text: Option<String>,
    /// `note` for a private note; anything else (or nothing) replies.
    mode: Option<String>,
    /// The message replied to (quoted).
    reply_to: Option<String>,
    /// The form's idempotency key.
    key: Option<String>,
}

fn key(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim).filter(|k| !k.is_empty()) {
        None => Ok(None),
        Some(k) if k.len() <= KEY_MAX && k.chars().all(|c| c.is_ascii_graphic()) => Ok(Some(k.to_owned())),
        Some(_) => Err(ApiError::field("key", format!("must be 1 to {KEY_MAX} visible ASCII characters"))),
    }
}

/// After a send: htmx re-reads the thread; a plain post goes back to the page.
fn sent(req: &HttpRequest, id: ConversationId) -> HttpResponse {
    if super::is_htmx(req) {
        HttpResponse::NoContent().insert_header(("HX-Trigger", "sb-thread")).finish()
    } else {
        HttpResponse::SeeOther().insert_header(("Location", format!("/c/{id}"))).finish()
    }
}

/// `POST /c/{id}/compose`: a reply, or a note (`mode=note`).
pub(super) async fn compose(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    Form(form): Form<ComposeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    if form.mode.as_deref() == Some("note") {
        state.inbox().add_note(&v.agent.0, v.id, form.text.as_deref()).await?;
        return Ok(sent(&req, v.id));
    }
    let text = form.text.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::field("text", "write a message first").into());
    }
    let reply_to = match form.reply_to.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(raw) => Some(raw.parse::<MessageId>().map_err(|_| ApiError::field("reply_to", "is not a message id"))?),
    };
    let key = key(form.key.as_deref())?;
    let outgoing = Outgoing {
        body: OutboundBody::Text { body: text.clone(), preview_url: false },
        content: MessageContent::Text { body: text },
        reply_to,
    };
    state.inbox().reply(&v.agent.0, v.id, Compose::Message(outgoing), key.as_deref()).await?;
    Ok(sent(&req, v.id))
}

#[derive(Deserialize)]
pub(super) struct TemplateForm {
    name: Option<String>,
    language: Option<String>,
    /// The body's parameters, one per line.
    parameters: Option<String>,
    /// A text header parameter.
    header: Option<String>,
    key: Option<String>,
}

/// `POST /c/{id}/template`: an approved template, named by hand (as the REST reply's
/// `{"type": "template", …}`).
pub(super) async fn template(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    Form(form): Form<TemplateForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let mut errors = Vec::new();
    let name = form.name.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required: the approved template's name"));
    }
    let language = form.language.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if language.is_empty() {
        errors.push(FieldError::new("language", "is required: the template's language code, e.g. en_US"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors).into());
    }
    let parameters: Vec<String> = form
        .parameters
        .as_deref()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let header = form.header.as_deref().map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned);
    let key = key(form.key.as_deref())?;
    // As the REST reply builds a template.
    let mut components = Vec::new();
    if let Some(h) = header {
        components.push(TemplateComponent::Header(vec![TemplateParameter::text(h)]));
    }
    if !parameters.is_empty() {
        components.push(TemplateComponent::Body(parameters.iter().map(TemplateParameter::text).collect()));
    }
    let content = MessageContent::Template { name: name.clone(), language: language.clone(), parameters };
    let outgoing = Outgoing { body: OutboundBody::Template { name, language, components }, content, reply_to: None };
    state.inbox().reply(&v.agent.0, v.id, Compose::Message(outgoing), key.as_deref()).await?;
    Ok(sent(&req, v.id))
}

/// One message of a quick reply's preview.
struct PreviewItem {
    text: String,
    note: Option<String>,
}

#[derive(Template)]
#[template(path = "console/conversation_quick_reply.html")]
struct Preview {
    shortcut: String,
    items: Vec<PreviewItem>,
}

/// `GET /c/{id}/quick-reply?shortcut=bye`: what the quick reply would send in this
/// conversation, its variables filled in for this contact by the same core path as the
/// send (`Inbox::preview_quick_reply`).
pub(super) async fn quick_reply_preview(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let params = query_pairs(&req)?;
    let raw = params.iter().find(|(k, _)| k == "shortcut").map(|(_, s)| s.trim().trim_start_matches('/')).unwrap_or("");
    let reference = QuickReplyRef::parse(raw).map_err(|e| ApiError::field("shortcut", e.to_string()))?;
    let contents = state.inbox().preview_quick_reply(&v.agent.0, v.id, &reference).await?;
    let items = contents
        .into_iter()
        .map(|c| match c {
            MessageContent::Text { body } => PreviewItem { text: body, note: None },
            MessageContent::InteractiveMessage { body, options, .. } => {
                let titles: Vec<String> = options.into_iter().map(|o| o.title).collect();
                PreviewItem { text: body, note: Some(format!("Buttons: {}", titles.join(" · "))) }
            }
            other => {
                let kind = other.kind().as_str();
                let caption = other.media().and_then(|m| m.caption.clone()).unwrap_or_default();
                PreviewItem { text: caption, note: Some(format!("A file ({kind})")) }
            }
        })
        .collect();
    let html = super::rendered(&Preview { shortcut: raw.to_owned(), items })?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}
