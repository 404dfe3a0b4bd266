//! The contact panel: name (the agents' override, editable), number, language, custom
//! attributes (editable: the same use case and checks as `PATCH /api/v1/contacts/{id}`),
//! previous conversations (with their satisfaction ratings), the click-to-chat link or ad
//! that started this one, and its satisfaction survey's rating and comment. Admins also
//! get the contact's data export and its erasure (`POST /c/{id}/contact/erase`, the same
//! use case as `POST /api/v1/contacts/{id}/erase`).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde_json::{Map, Value};
use switchboard_domain::consent::ConsentSource;
use switchboard_domain::{ConversationId, ConversationStatus};
use switchboard_store::{Contact, ConversationView, Csat, MessageQuery, ViewQuery, ViewSort};

use super::super::{ConsoleError, Form, Page};
use super::{done, rendered, status_label, thread};
use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;
use crate::guard::{VisibleConversation, viewer};
use crate::routes::contacts::{PatchBody, parse_patch};

/// Previous conversations listed.
const PREVIOUS: u32 = 10;
/// The attribute that records the contact's language.
const LANGUAGE: &str = "language";

struct Attribute {
    key: String,
    value: String,
}

struct Previous {
    id: ConversationId,
    status: &'static str,
    /// Its satisfaction rating, if the customer gave one (`4/5`).
    rating: Option<String>,
    at_iso: String,
    at_short: String,
}

/// What started the conversation.
struct Origin {
    what: String,
    url: Option<String>,
}

#[derive(Template)]
#[template(path = "console/conversation_contact.html")]
struct ContactPanel {
    id: ConversationId,
    display_name: String,
    name: String,
    profile_name: Option<String>,
    number: String,
    language: Option<String>,
    attributes: Vec<Attribute>,
    previous: Vec<Previous>,
    more_previous: bool,
    origin: Option<Origin>,
    /// This conversation's satisfaction survey, if one was queued.
    csat: Option<CsatLine>,
    /// Opted out: since when (RFC 3339, for people) and how.
    opted_out: Option<(String, String, &'static str)>,
    /// The contact's data export (admins only).
    export_href: Option<String>,
    /// Whether the erase button shows (admins only, and not once erased).
    can_erase: bool,
    /// The contact was erased: nothing of them is left to show.
    erased: bool,
}

/// A satisfaction survey, for people.
struct CsatLine {
    /// `4 of 5`, or that it was sent and not answered.
    summary: String,
    comment: Option<String>,
}

impl CsatLine {
    fn of(c: &Csat) -> Self {
        let summary = match c.score {
            Some(s) => format!("{s} of {}", c.scale.points()),
            None => "Survey sent, not answered".to_owned(),
        };
        Self { summary, comment: c.comment.clone() }
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The conversation's contact.
pub(super) async fn contact_of(state: &AppState, c: &ConversationView) -> Result<Contact, ConsoleError> {
    Ok(state.store.contact(c.contact.id).await?.ok_or(ApiError::NotFound { what: "contact" })?)
}

/// Whether the contact was erased: erasure replaces the number with one WhatsApp cannot
/// give anyone, 20 digits starting `00` (real ones are at most 15, E.164; see
/// `switchboard_store_sql::erasure::erased_wa_id`).
fn is_erased(contact: &Contact) -> bool {
    let n = contact.wa_id.to_string();
    n.len() == 20 && n.starts_with("00")
}

/// The contact's recorded language, if any.
pub(super) fn language(contact: &Contact) -> Option<String> {
    contact.attributes.get(LANGUAGE).and_then(Value::as_str).map(str::to_owned)
}

pub(super) async fn panel_html(
    state: &AppState,
    agent: &AuthenticatedAgent,
    c: &ConversationView,
    contact: &Contact,
) -> Result<String, ConsoleError> {
    let mut q = ViewQuery::new(viewer(agent), Utc::now());
    q.contact = Some(contact.id);
    q.sort = ViewSort::Newest;
    q.limit = PREVIOUS + 1;
    let page = state.store.view_conversations(&q).await?;
    let others: Vec<&ConversationView> = page.items.iter().filter(|p| p.id != c.id).collect();
    let more_previous = page.next.is_some() || others.len() > PREVIOUS as usize;
    let mut previous = Vec::with_capacity(PREVIOUS as usize);
    for p in others.into_iter().take(PREVIOUS as usize) {
        let rating = match p.status {
            ConversationStatus::Resolved => state.store.conversation_csat(p.id).await?,
            _ => None,
        };
        previous.push(Previous {
            id: p.id,
            status: status_label(p.status),
            rating: rating.and_then(|r| r.score.map(|s| format!("{s}/{}", r.scale.points()))),
            at_iso: thread::iso(&p.created_at),
            at_short: thread::short(&p.created_at),
        });
    }
    let csat = state.store.conversation_csat(c.id).await?.as_ref().map(CsatLine::of);
    let origin = origin(state, c).await?;
    let number: String = contact.wa_id.to_string();
    let erased = is_erased(contact);
    let admin = agent.0.role == switchboard_domain::AgentRole::Admin;
    rendered(&ContactPanel {
        id: c.id,
        display_name: if erased { "Erased contact".to_owned() } else { thread::contact_name(c) },
        name: contact.name.clone().unwrap_or_default(),
        profile_name: contact.profile_name.clone(),
        language: language(contact),
        attributes: contact.attributes.iter().map(|(k, v)| Attribute { key: k.clone(), value: text_of(v) }).collect(),
        number,
        previous,
        more_previous,
        origin,
        csat,
        opted_out: contact.opted_out_at.map(|t| {
            let how = match contact.opted_out_source {
                Some(ConsentSource::Keyword) => "by keyword",
                Some(ConsentSource::Agent) => "recorded by an agent",
                Some(ConsentSource::Api) => "through the API",
                Some(ConsentSource::Import) => "imported",
                None => "",
            };
            (thread::iso(&t), thread::short(&t), how)
        }),
        export_href: (admin && !erased).then(|| format!("/api/v1/contacts/{}/export", contact.id)),
        can_erase: admin && !erased,
        erased,
    })
}

/// The link the conversation is attributed to, or the ad in its first message.
async fn origin(state: &AppState, c: &ConversationView) -> Result<Option<Origin>, ConsoleError> {
    if let Some(link) = c.link_id
        && let Some(l) = state.store.link(link).await?
    {
        let mut what = format!("Click-to-chat link “{}”", l.slug.as_str());
        if let Some(campaign) = &l.campaign {
            what.push_str(&format!(", campaign “{campaign}”"));
        }
        if let Some(source) = &l.source {
            what.push_str(&format!(", source “{source}”"));
        }
        if l.ad_source_id.is_some() {
            what.push_str(" (an ad)");
        }
        return Ok(Some(Origin { what, url: None }));
    }
    let first = state.store.list_messages(c.id, &MessageQuery { limit: 1, after: None }).await?;
    let referral = first.items.into_iter().next().and_then(|m| m.referral);
    Ok(referral.map(|r| {
        let kind = r.source_type.as_deref().unwrap_or("ad");
        let what = match &r.headline {
            Some(h) => format!("A Click-to-WhatsApp {kind}: “{h}”"),
            None => format!("A Click-to-WhatsApp {kind}"),
        };
        Origin { what, url: r.source_url.filter(|u| u.starts_with("https://")) }
    }))
}

/// `POST /c/{id}/contact`: `name` (empty: the profile name shows again), `attr:<key>`
/// for each attribute (empty: removed), `new_key` and `new_value` to add one. A value
/// keeps its type when it still reads as one (a number, `true`/`false`).
pub(super) async fn update(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    Form(fields): Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let c = super::conversation(&state, v.id).await?;
    let contact = contact_of(&state, &c).await?;
    let mut body = Map::new();
    let mut attributes = Map::new();
    let mut new_key = None;
    let mut new_value = None;
    for (k, value) in fields {
        if k == "name" {
            let n = value.trim();
            body.insert("name".into(), if n.is_empty() { Value::Null } else { Value::String(n.to_owned()) });
        } else if let Some(key) = k.strip_prefix("attr:") {
            let typed = match (contact.attributes.get(key), value.trim()) {
                (_, "") => Value::Null,
                (Some(Value::Number(_)), v) => serde_json::from_str::<serde_json::Number>(v)
                    .map_or_else(|_| Value::String(v.into()), Value::Number),
                (Some(Value::Bool(_)), "true") => Value::Bool(true),
                (Some(Value::Bool(_)), "false") => Value::Bool(false),
                (_, v) => Value::String(v.to_owned()),
            };
            if contact.attributes.get(key) != Some(&typed) {
                attributes.insert(key.to_owned(), typed);
            }
        } else if k == "new_key" {
            new_key = Some(value.trim().to_owned()).filter(|k| !k.is_empty());
        } else if k == "new_value" {
            new_value = Some(value);
        }
    }
    match (new_key, new_value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())) {
        (Some(k), Some(v)) => {
            attributes.insert(k, Value::String(v));
        }
        (Some(_), None) => return Err(ApiError::field("new_value", "give the new attribute a value").into()),
        (None, Some(_)) => return Err(ApiError::field("new_key", "name the new attribute").into()),
        (None, None) => {}
    }
    if body.get("name") == Some(&contact.name.clone().map_or(Value::Null, Value::String)) {
        body.remove("name");
    }
    if !attributes.is_empty() {
        body.insert("attributes".into(), Value::Object(attributes));
    }
    let patch: PatchBody = serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::BadRequest { code: "invalid_form", detail: e.to_string() })?;
    let patch = parse_patch(patch)?;
    let updated = state.config().update_contact(contact.id, &patch).await?;
    tracing::info!(contact_id = %contact.id, by = %v.agent.0.id, "contact updated");
    let html = panel_html(&state, &v.agent, &c, &updated).await?;
    Ok(done(&req, v.id, Some(html)))
}

/// `POST /c/{id}/contact/erase` (admins): erases the conversation's contact to the end,
/// as `POST /api/v1/contacts/{id}/erase` does (audited the same way), then reloads the
/// page, which shows the contact erased. An agent gets 403 and nothing changes.
pub(super) async fn erase(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    v.agent.require_admin()?;
    let c = super::conversation(&state, v.id).await?;
    let job = crate::routes::privacy::erase_contact(&state, &v.agent, c.contact.id).await?;
    tracing::info!(contact_id = %c.contact.id, erasure_id = %job.id, by = %v.agent.0.id, "contact erased from the console");
    Ok(super::actions::go(&req, &format!("/c/{}", v.id)))
}
