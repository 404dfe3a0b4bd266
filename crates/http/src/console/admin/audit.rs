//! `/admin/audit`: the audit log (`GET /api/v1/audit`'s entries) as a table, newest
//! first, with the same filters, and "Load more" for the next page (an htmx fragment,
//! `/admin/audit/rows`, or the whole page at that cursor without JavaScript).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use switchboard_domain::{AgentId, AuditAction};
use switchboard_store::AuditEntry;

use super::Nav;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render, urlencode};
use crate::extract::Admin;
use crate::routes::audit::{AuditParams, page as audit_page, parse_query};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(page)).route("/audit/rows", web::get().to(rows));
}

/// Entries per page.
const PAGE: &str = "50";

pub(crate) struct Row {
    id: i64,
    at: String,
    who: String,
    addr: String,
    action: &'static str,
    target: String,
    before: String,
    after: String,
}

pub(crate) struct Filters {
    actor: String,
    action: String,
    target_type: String,
    target_id: String,
    since: String,
    until: String,
}

#[derive(Template)]
#[template(path = "console/admin_audit.html")]
struct AuditPage {
    layout: Layout,
    nav: Nav,
    filters: Filters,
    actions: Vec<&'static str>,
    agents: Vec<(String, String)>,
    rows: Vec<Row>,
    /// The query string of the next page, if any.
    more: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/admin_audit_rows.html")]
struct AuditRows {
    rows: Vec<Row>,
    more: Option<String>,
}

fn pretty(v: Option<&serde_json::Value>) -> String {
    v.and_then(|v| serde_json::to_string_pretty(v).ok()).unwrap_or_default()
}

fn to_rows(entries: Vec<AuditEntry>, names: &HashMap<AgentId, String>) -> Vec<Row> {
    entries
        .into_iter()
        .map(|e| Row {
            id: e.id,
            at: e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            who: e.actor.map_or_else(
                || "System or not signed in".to_owned(),
                |a| names.get(&a).cloned().unwrap_or_else(|| a.to_string()),
            ),
            addr: e.client_addr.unwrap_or_default(),
            action: e.action.as_str(),
            target: match (e.target_type, e.target_id) {
                (Some(t), Some(id)) => format!("{t} {id}"),
                (Some(t), None) => t,
                _ => String::new(),
            },
            before: pretty(e.before.as_ref()),
            after: pretty(e.after.as_ref()),
        })
        .collect()
}

/// The query string for the page after `cursor`, with the same filters.
fn next_query(f: &Filters, cursor: &str) -> String {
    let mut q = Vec::new();
    for (k, v) in [
        ("actor", &f.actor),
        ("action", &f.action),
        ("target_type", &f.target_type),
        ("target_id", &f.target_id),
        ("since", &f.since),
        ("until", &f.until),
    ] {
        if !v.is_empty() {
            q.push(format!("{k}={}", urlencode(v)));
        }
    }
    q.push(format!("cursor={}", urlencode(cursor)));
    q.join("&")
}

/// The filters as the form holds them; empty fields are no filter.
#[derive(serde::Deserialize)]
struct Form {
    actor: Option<String>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
}

fn filters(form: &Form) -> Filters {
    let v = |s: &Option<String>| s.as_deref().map(str::trim).unwrap_or_default().to_owned();
    Filters {
        actor: v(&form.actor),
        action: v(&form.action),
        target_type: v(&form.target_type),
        target_id: v(&form.target_id),
        since: v(&form.since),
        until: v(&form.until),
    }
}

/// A time as the form's `datetime-local` sends it (`2026-12-07T08:30`, read as UTC), or
/// RFC 3339 as is.
fn time(s: &str) -> String {
    match chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        Ok(t) => t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Err(_) => s.to_owned(),
    }
}

/// The API's parameters for these filters (empty ones left out).
fn params(f: &Filters, cursor: Option<&str>) -> AuditParams {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    AuditParams {
        actor: some(&f.actor),
        action: some(&f.action),
        target_type: some(&f.target_type),
        target_id: some(&f.target_id),
        since: some(&f.since).map(|t| time(&t)),
        until: some(&f.until).map(|t| time(&t)),
        cursor: cursor.map(str::to_owned),
        limit: Some(PAGE.to_owned()),
    }
}

async fn names(state: &AppState) -> Result<HashMap<AgentId, String>, ConsoleError> {
    Ok(state.store.agents().await?.into_iter().map(|a| (a.id, a.name.as_str().to_owned())).collect())
}

/// One page of rows and the next page's query, or why the filters were refused.
async fn load(
    state: &AppState,
    f: &Filters,
    cursor: Option<&str>,
) -> Result<Result<(Vec<Row>, Option<String>), String>, ConsoleError> {
    let query = match parse_query(&params(f, cursor)) {
        Ok(q) => q,
        Err(crate::error::ApiError::Validation(errors)) => {
            return Ok(Err(errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")));
        }
        Err(e) => return Err(e.into()),
    };
    let (entries, next) = audit_page(state, query).await?;
    let rows = to_rows(entries, &names(state).await?);
    Ok(Ok((rows, next.map(|c| next_query(f, &c)))))
}

async fn page(
    Page(admin): Page<Admin>,
    form: web::Query<Form>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let f = filters(&form);
    let (rows, more, error) = match load(&state, &f, form.cursor.as_deref()).await? {
        Ok((rows, more)) => (rows, more, None),
        Err(e) => (Vec::new(), None, Some(e)),
    };
    let mut agents: Vec<(String, String)> =
        names(&state).await?.into_iter().map(|(id, name)| (id.to_string(), name)).collect();
    agents.sort_by_key(|a| a.1.to_lowercase());
    render(&AuditPage {
        layout: Layout::signed_in("Audit log", &admin.agent),
        nav: Nav::at("/admin/audit"),
        filters: f,
        actions: AuditAction::ALL.iter().map(|a| a.as_str()).collect(),
        agents,
        rows,
        more,
        error,
    })
}

/// The next page's rows and its own "Load more" (an htmx fragment).
async fn rows(
    Page(_admin): Page<Admin>,
    form: web::Query<Form>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let f = filters(&form);
    match load(&state, &f, form.cursor.as_deref()).await? {
        Ok((rows, more)) => render(&AuditRows { rows, more }),
        Err(e) => Err(crate::error::ApiError::Validation(vec![crate::error::FieldError::new("filters", e)]).into()),
    }
}
