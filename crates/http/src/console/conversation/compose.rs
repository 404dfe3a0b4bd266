//! The composer: a reply (text; a text that is exactly `/shortcut` sends that quick
//! reply, filled in for this contact by the core), a private note with @mentions, or a
//! template — chosen in the picker from the channel's approved templates, or named by
//! hand when the channel has none synchronised. The same core use cases as
//! `POST /api/v1/conversations/{id}/messages` and `…/notes`.
//!
//! On success htmx gets 204 with `HX-Trigger: sb-thread` (`conversation.js` clears the
//! field and re-reads the thread); on failure the error page, whose message
//! `console.js` shows, and the typed text stays where it was.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use switchboard_cloudapi::{MediaSource, OutboundBody};
use switchboard_core::inbox::{Compose, Outgoing};
use switchboard_core::templates::{TemplateChoice, TemplateSend};
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

/// `name[i]` as its index.
fn indexed(key: &str, name: &str) -> Option<usize> {
    key.strip_prefix(name)?.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// `POST /c/{id}/template`: a template, chosen in the picker (its inputs named as the
/// REST reply's fields: `header`, `header_media` with `header_media_type`,
/// `parameters[i]`, `url_buttons[i]`) or named by hand (`parameters` one per line). Built
/// as the REST reply builds one ([`TemplateSend`]) and sent through `Inbox::reply`, which
/// checks it against the channel's synchronised definition; a refusal names the inputs.
pub(super) async fn template(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    Form(pairs): Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim());
    let picker = get("template").is_some();
    let mut errors = Vec::new();
    let name = get("name").unwrap_or_default().to_owned();
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required: the approved template's name"));
    }
    let language = get("language").unwrap_or_default().to_owned();
    if language.is_empty() {
        errors.push(FieldError::new("language", "is required: the template's language code, e.g. en_US"));
    }
    // The picker's inputs, by index; else the hand form's lines.
    let mut numbered: Vec<(usize, String)> = Vec::new();
    let mut url_buttons = Vec::new();
    for (k, value) in &pairs {
        if let Some(i) = indexed(k, "parameters") {
            numbered.push((i, value.trim().to_owned()));
        } else if let Some(i) = indexed(k, "url_buttons") {
            match u8::try_from(i).ok().filter(|i| *i <= 9) {
                Some(i) => url_buttons.push((i, value.trim().to_owned())),
                None => errors.push(FieldError::new(k.clone(), "index must be 0 to 9")),
            }
        }
    }
    numbered.sort_by_key(|(i, _)| *i);
    let parameters: Vec<String> = if numbered.is_empty() {
        get("parameters")
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        for (position, (i, _)) in numbered.iter().enumerate() {
            if *i != position {
                errors.push(FieldError::new(
                    format!("parameters[{i}]"),
                    "the body's parameters are numbered from 0 without gaps",
                ));
                break;
            }
        }
        numbered.into_iter().map(|(_, p)| p).collect()
    };
    let header_media = match get("header_media") {
        None => None,
        Some(link) => {
            let source = MediaSource::Link(link.to_owned());
            let media = TemplateSend::header_media(get("header_media_type").unwrap_or_default(), source, None);
            if media.is_none() {
                errors.push(FieldError::new("header_media_type", "must be image, video or document"));
            }
            media
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors).into());
    }
    let key = key(get("key"))?;
    let send = TemplateSend {
        name,
        language,
        parameters,
        // The picker's header input is the header's variable: empty is refused as such.
        // The hand form's is optional.
        header: get("header").filter(|h| picker || !h.is_empty()).map(str::to_owned),
        header_media,
        url_buttons,
        button_payloads: Vec::new(),
    };
    state.inbox().reply(&v.agent.0, v.id, Compose::Message(send.into_outgoing()), key.as_deref()).await?;
    Ok(sent(&req, v.id))
}

#[derive(Template)]
#[template(path = "console/conversation_template_fields.html")]
struct TemplateFields {
    t: TemplateChoice,
}

/// `GET /c/{id}/template-fields?template=<name>:<language>`: the inputs the chosen
/// approved template needs, pre-filled for this conversation's contact
/// (`templates::template_choices`); nothing for no choice, 422 naming `template` for one
/// the channel does not have approved.
pub(super) async fn template_fields(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let params = query_pairs(&req)?;
    let chosen = params.iter().find(|(k, _)| k == "template").map(|(_, t)| t.trim()).unwrap_or_default();
    let html = if chosen.is_empty() {
        String::new()
    } else {
        let c = super::conversation(&state, v.id).await?;
        let person = super::contact::contact_of(&state, &c).await?;
        let choices =
            switchboard_core::templates::template_choices(state.store.as_ref(), c.channel_id, &person).await?;
        let t = choices.into_iter().find(|t| t.key() == chosen).ok_or_else(|| {
            ApiError::field("template", "this channel has no such approved template (synchronise its templates again)")
        })?;
        super::rendered(&TemplateFields { t })?
    };
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
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
