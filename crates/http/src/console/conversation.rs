//! One conversation: its thread, the composer, the queue's actions and the contact.
//!
//! Every route is under `/c/{id}` and takes the conversation with
//! `Page<VisibleConversation>`: authentication and visibility are the API's (an agent who
//! may not see it gets the 404 page, and nothing changes). Writes call the same core use
//! cases as the REST routes doing the same thing (`Inbox::reply`, `add_note`, `assign`,
//! `transfer`, `set_status`, `claim`, `add_labels`, `remove_label`; `Config::update_contact`).
//!
//! - `GET /c/{id}` the page (opening it marks the agent's mentions in it seen, as
//!   `POST /api/v1/conversations/{id}/mentions/seen` does); the inbox's query (`?view=mine&status=open&sort=…`) names
//!   the list the agent came from, for `[`/`]` (`GET /c/{id}/next?…&dir=prev|next`) and
//!   "resolve and next".
//! - `GET /c/{id}/messages` the thread's tail (`?from=<message>`; what the live stream
//!   re-reads: a note mentioning the agent that arrives while the page is open is seen
//!   too) or the page before a message (`?before=<message>`).
//! - `GET /c/{id}/panel` status, assignee and labels (re-read on every live event).
//! - `GET /c/{id}/quick-reply?shortcut=…` what a quick reply would send here, filled in.
//! - `POST /c/{id}/compose` a reply or (`mode=note`) a private note;
//!   `POST /c/{id}/template` a template (from the picker, or by hand);
//!   `GET /c/{id}/template-fields?template=name:language` the picker's inputs for one.
//! - `POST /c/{id}/claim|assign|team|status|resolve-next|labels`,
//!   `POST /c/{id}/labels/{label_id}/remove`, `GET /c/{id}/history`.
//! - `POST /c/{id}/contact` the contact's name and custom attributes.
//!
//! An action made by htmx answers the fragment it changed (or 204 with an `HX-Trigger`);
//! made by a plain form post (no JavaScript), it sends the browser back to the page.

mod actions;
mod compose;
mod contact;
mod thread;

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use switchboard_domain::{AgentRole, ConversationId, ConversationStatus, MessageId, window};
use switchboard_store::{Agent, ConversationView};

use super::{ConsoleError, Layout, Page, query_pairs, render};
use crate::AppState;
use crate::error::ApiError;
use crate::guard::VisibleConversation;

/// `(method, path)` of every route here (all have the conversation's id in their path).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/c/{id}"),
    ("get", "/c/{id}/messages"),
    ("get", "/c/{id}/panel"),
    ("get", "/c/{id}/history"),
    ("get", "/c/{id}/next"),
    ("get", "/c/{id}/quick-reply"),
    ("post", "/c/{id}/compose"),
    ("post", "/c/{id}/template"),
    ("get", "/c/{id}/template-fields"),
    ("post", "/c/{id}/claim"),
    ("post", "/c/{id}/assign"),
    ("post", "/c/{id}/team"),
    ("post", "/c/{id}/status"),
    ("post", "/c/{id}/resolve-next"),
    ("post", "/c/{id}/labels"),
    ("post", "/c/{id}/labels/{label_id}/remove"),
    ("post", "/c/{id}/contact"),
    ("post", "/c/{id}/contact/erase"),
];

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/c/{id}", web::get().to(page))
        .route("/c/{id}/messages", web::get().to(messages))
        .route("/c/{id}/panel", web::get().to(actions::panel))
        .route("/c/{id}/history", web::get().to(actions::history))
        .route("/c/{id}/next", web::get().to(actions::neighbour))
        .route("/c/{id}/quick-reply", web::get().to(compose::quick_reply_preview))
        .route("/c/{id}/compose", web::post().to(compose::compose))
        .route("/c/{id}/template", web::post().to(compose::template))
        .route("/c/{id}/template-fields", web::get().to(compose::template_fields))
        .route("/c/{id}/claim", web::post().to(actions::claim))
        .route("/c/{id}/assign", web::post().to(actions::assign))
        .route("/c/{id}/team", web::post().to(actions::transfer))
        .route("/c/{id}/status", web::post().to(actions::status))
        .route("/c/{id}/resolve-next", web::post().to(actions::resolve_next))
        .route("/c/{id}/labels", web::post().to(actions::add_label))
        .route("/c/{id}/labels/{label_id}/remove", web::post().to(actions::remove_label))
        .route("/c/{id}/contact", web::post().to(contact::update))
        .route("/c/{id}/contact/erase", web::post().to(contact::erase));
}

/// Whether htmx made the request (it then gets a fragment, not a page).
fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// After an action: htmx gets `fragment`; a plain form post goes back to the page.
fn done(req: &HttpRequest, id: ConversationId, fragment: Option<String>) -> HttpResponse {
    if !is_htmx(req) {
        return HttpResponse::SeeOther().insert_header(("Location", format!("/c/{id}"))).finish();
    }
    match fragment {
        Some(html) => HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html),
        None => HttpResponse::NoContent().finish(),
    }
}

fn rendered(t: &impl Template) -> Result<String, ConsoleError> {
    t.render().map_err(|e| ConsoleError::Api(ApiError::Internal(anyhow::Error::new(e).context("render"))))
}

/// The conversation, which the guard has just seen (a 404 if it went meanwhile).
async fn conversation(state: &AppState, id: ConversationId) -> Result<ConversationView, ConsoleError> {
    Ok(state.store.conversation(id).await?.ok_or(ApiError::NotFound { what: "conversation" })?)
}

/// Every agent (names for the thread, the assign list, mentions): a team's worth.
async fn agents(state: &AppState) -> Result<Vec<Agent>, ConsoleError> {
    Ok(state.store.agents().await?)
}

fn names(agents: &[Agent], c: &ConversationView) -> thread::Names {
    thread::Names {
        agents: agents.iter().map(|a| (a.id, a.name.as_str().to_owned())).collect::<HashMap<_, _>>(),
        contact: thread::contact_name(c),
    }
}

/// The thread's entries (`conversation_thread.html`).
#[derive(Template)]
#[template(path = "console/conversation_thread.html")]
struct ThreadHtml<'a> {
    entries: &'a [thread::Entry],
}

/// An agent who may be mentioned, as the composer suggests them.
struct Mentionable {
    name: String,
    email: String,
}

/// A quick reply, as the composer lists it.
struct QuickReplyItem {
    shortcut: String,
    text: String,
}

#[derive(Template)]
#[template(path = "console/conversation.html")]
struct ConversationPage {
    layout: Layout,
    id: ConversationId,
    contact_name: String,
    /// The inbox list the agent came from, as the inbox's query (`view=mine&status=open`),
    /// passed on to `[`/`]` and "resolve and next"; empty for none.
    view: String,
    thread: String,
    /// Where the live tail starts (`?from=`; empty: the whole conversation).
    tail_from: String,
    panel: String,
    contact: String,
    composer: Composer,
}

/// The composer's state.
struct Composer {
    window_open: bool,
    /// When the window closes (RFC 3339), for the countdown; empty if none.
    closes_at: String,
    /// Why free text cannot be sent, when it cannot.
    closed_reason: String,
    quick_replies: Vec<QuickReplyItem>,
    mentionable: Vec<Mentionable>,
    /// A fresh idempotency key: a double submit sends once.
    key: String,
    /// The hand-written template form's default language (the contact's, else `en`).
    language: String,
    /// The channel's approved templates, `(name:language, label)`; empty: the form by hand.
    templates: Vec<(String, String)>,
    /// When the contact opted out of automatic messages and templates (RFC 3339, and for
    /// people), if they did: the composer warns.
    opted_out: Option<(String, String)>,
}

/// `GET /c/{id}`: the conversation page.
async fn page(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let view = actions::list_param(&req)?.query();
    let c = conversation(&state, v.id).await?;
    // The agent sees the thread, notes included: their mentions here are seen.
    state.inbox().mentions_seen(&v.agent.0, v.id).await?;
    let agents = agents(&state).await?;
    let names = names(&agents, &c);
    let t = thread::page(&state, v.id, None, &names).await?;
    let thread_html = rendered(&ThreadHtml { entries: &t.entries })?;
    let panel = actions::panel_html(&state, &v.agent.0, &c, &agents, &view).await?;
    let person = contact::contact_of(&state, &c).await?;
    let contact = contact::panel_html(&state, &v.agent, &c, &person).await?;
    let now = Utc::now();
    let window_open = window::is_open(c.window_closes_at, now);
    let closed_reason = if window_open {
        String::new()
    } else {
        switchboard_core::InboxError::WindowClosed { closed_at: c.window_closes_at }.to_string()
    };
    let quick_replies = state
        .store
        .quick_replies()
        .await?
        .into_iter()
        .map(|q| QuickReplyItem { shortcut: q.shortcut.as_str().to_owned(), text: q.text })
        .collect();
    let mentionable = agents
        .iter()
        .filter(|a| a.active)
        .map(|a| Mentionable { name: a.name.as_str().to_owned(), email: a.email.as_str().to_owned() })
        .collect();
    let language = contact::language(&person).unwrap_or_else(|| "en".into());
    let templates = switchboard_core::templates::template_choices(state.store.as_ref(), c.channel_id, &person)
        .await?
        .into_iter()
        .map(|t| (t.key(), format!("{} ({}, {})", t.name, t.language, t.category.to_lowercase())))
        .collect();
    let contact_name = names.contact.clone();
    render(&ConversationPage {
        layout: Layout::signed_in(contact_name.clone(), &v.agent),
        id: v.id,
        contact_name,
        view,
        thread: thread_html,
        tail_from: t.from.map(|m| m.to_string()).unwrap_or_default(),
        panel,
        contact,
        composer: Composer {
            window_open,
            closes_at: c.window_closes_at.filter(|_| window_open).map(|t| thread::iso(&t)).unwrap_or_default(),
            closed_reason,
            quick_replies,
            mentionable,
            key: uuid::Uuid::now_v7().to_string(),
            opted_out: c.contact.opted_out_at.map(|t| (thread::iso(&t), thread::short(&t))),
            language,
            templates,
        },
    })
}

/// `GET /c/{id}/messages?from=<id>` (the tail) or `?before=<id>` (the page before).
async fn messages(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let params = query_pairs(&req)?;
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let id_of = |key: &str| -> Result<Option<MessageId>, ConsoleError> {
        get(key)
            .map(|raw| raw.parse::<MessageId>().map_err(|_| ApiError::field(key, "is not a message id").into()))
            .transpose()
    };
    let (from, before) = (id_of("from")?, id_of("before")?);
    if from.is_some() && before.is_some() {
        return Err(ApiError::field("before", "give `from` or `before`, not both").into());
    }
    let c = conversation(&state, v.id).await?;
    let agents = agents(&state).await?;
    let names = names(&agents, &c);
    let t = match before {
        Some(b) => thread::page(&state, v.id, Some(b), &names).await?,
        None => {
            // The live tail shows new notes to the agent who has the page open.
            state.inbox().mentions_seen(&v.agent.0, v.id).await?;
            thread::tail(&state, v.id, from, &names).await?
        }
    };
    let html = rendered(&ThreadHtml { entries: &t.entries })?;
    let now = Utc::now();
    let open = window::is_open(c.window_closes_at, now);
    let mut res = HttpResponse::Ok();
    res.content_type("text/html; charset=utf-8");
    // The composer follows the window: a customer's new message reopens it.
    res.insert_header((
        "X-Window-Closes-At",
        c.window_closes_at.filter(|_| open).map(|t| thread::iso(&t)).unwrap_or_else(|| "closed".into()),
    ));
    if t.overflow {
        res.insert_header(("X-Thread-Reload", "1"));
    }
    Ok(res.body(html))
}

/// Whether `agent` is an admin.
fn is_admin(agent: &Agent) -> bool {
    agent.role == AgentRole::Admin
}

/// The status as agents read it.
fn status_label(s: ConversationStatus) -> &'static str {
    match s {
        ConversationStatus::Open => "Open",
        ConversationStatus::Pending => "Pending",
        ConversationStatus::Snoozed => "Snoozed",
        ConversationStatus::Resolved => "Resolved",
    }
}
