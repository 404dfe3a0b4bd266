//! `/admin/outbox`: dead letters (retries used up) and failed sends (WhatsApp refused
//! them) with their reasons, sent again one at a time (`POST
//! /api/v1/admin/outbox/{id}/retry`) or all at once (`POST /api/v1/admin/outbox/retry`).

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use switchboard_store::{OutboxEntry, OutboxState};

use super::Nav;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::extract::Admin;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/outbox", web::get().to(page));
}

/// The most entries of each kind the page lists.
const LIMIT: u32 = 200;
/// The longest excerpt of a message's text shown.
const EXCERPT: usize = 120;

struct Row {
    id: i64,
    conversation_id: String,
    /// The message's kind and an excerpt of its text.
    what: String,
    attempts: u32,
    queued_at: String,
    /// Why it was not sent, as the sender recorded it.
    reason: String,
}

#[derive(Template)]
#[template(path = "console/admin_outbox.html")]
struct Outbox {
    layout: Layout,
    nav: Nav,
    dead: Vec<Row>,
    failed: Vec<Row>,
    limit: u32,
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

async fn rows(state: &AppState, which: OutboxState) -> Result<Vec<Row>, ConsoleError> {
    let entries: Vec<OutboxEntry> = state.store.list_outbox(which, LIMIT).await?;
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        let what = match state.store.message(e.message_id).await? {
            Some(m) => {
                let kind = m.content.kind().as_str();
                match m.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    Some(t) if t.chars().count() > EXCERPT => {
                        format!("{kind}: “{}…”", t.chars().take(EXCERPT).collect::<String>())
                    }
                    Some(t) => format!("{kind}: “{t}”"),
                    None => kind.to_owned(),
                }
            }
            None => "message".to_owned(),
        };
        rows.push(Row {
            id: e.id.get(),
            conversation_id: e.conversation_id.to_string(),
            what,
            attempts: e.attempts,
            queued_at: when(e.created_at),
            reason: e.last_error.unwrap_or_else(|| "No reason was recorded.".to_owned()),
        });
    }
    Ok(rows)
}

async fn page(Page(admin): Page<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let dead = rows(&state, OutboxState::Dead).await?;
    let failed = rows(&state, OutboxState::Failed).await?;
    render(&Outbox {
        layout: Layout::signed_in("Outbox", &admin.agent),
        nav: Nav::at("/admin/outbox"),
        dead,
        failed,
        limit: LIMIT,
    })
}
