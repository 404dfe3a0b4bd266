//! `/api/v1/audit`: the audit log, newest first, with filters and a cursor (admins).
//! The use case: `switchboard_core::Audit`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{AgentId, AuditAction, instant};
use switchboard_store::{AuditEntry, AuditQuery};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, FieldError};
use crate::extract::Admin;
use crate::openapi::Problem;
use crate::routes::conversations::parse_limit;

routes! {
    "/audit" => { get: list },
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// Only entries by this agent.
    #[param(value_type = Option<AgentId>)]
    pub(crate) actor: Option<String>,
    /// Only entries of this action.
    #[param(value_type = Option<AuditAction>)]
    pub(crate) action: Option<String>,
    /// Only entries about this type of thing (`agent`, `label`, `webhook_endpoint`…).
    #[param(min_length = 1, max_length = 100)]
    pub(crate) target_type: Option<String>,
    /// Only entries about the thing with this id.
    #[param(min_length = 1, max_length = 100)]
    pub(crate) target_id: Option<String>,
    /// Entries at or after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub(crate) since: Option<String>,
    /// Entries before this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub(crate) until: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub(crate) cursor: Option<String>,
    /// Entries per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
    pub(crate) limit: Option<String>,
}

/// One audit entry.
#[derive(Serialize, ToSchema)]
#[schema(as = AuditEntry)]
pub(crate) struct AuditEntryJson {
    /// Increases with every entry.
    id: i64,
    at: DateTime<Utc>,
    /// The agent who acted; `null`: the system, or nobody signed in (a failed sign-in).
    #[schema(required = true)]
    actor: Option<AgentId>,
    /// The client's address the action came from.
    #[schema(required = true)]
    client_addr: Option<String>,
    action: AuditAction,
    #[schema(required = true)]
    target_type: Option<String>,
    #[schema(required = true)]
    target_id: Option<String>,
    /// The public representation before the change (never a secret): an object, or a
    /// list (a rules' order, a team's members).
    #[schema(required = true, value_type = Option<serde_json::Value>)]
    before: Option<serde_json::Value>,
    /// The public representation after the change (never a secret), as `before`.
    #[schema(required = true, value_type = Option<serde_json::Value>)]
    after: Option<serde_json::Value>,
}

impl From<AuditEntry> for AuditEntryJson {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            client_addr: e.client_addr,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            before: e.before,
            after: e.after,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct AuditEntryList {
    items: Vec<AuditEntryJson>,
    /// Pass as `cursor` for the next page; `null`: this was the last.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

fn parse_time(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<DateTime<Utc>> {
    let raw = raw?;
    // A bound outside the years every entry lies in (1970 to 9999) is that range's end.
    let t =
        DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc).clamp(instant::EARLIEST, instant::LATEST));
    if t.is_none() {
        errors.push(FieldError::new(field, "must be an RFC 3339 date-time"));
    }
    t
}

fn parse_text(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let raw = raw?;
    if raw.is_empty() || raw.chars().count() > switchboard_domain::audit::TARGET_MAX || raw.contains('\0') {
        errors.push(FieldError::new(field, "must be 1 to 100 characters"));
        return None;
    }
    Some(raw.to_owned())
}

/// The query the parameters describe.
pub(crate) fn parse_query(p: &AuditParams) -> Result<AuditQuery, ApiError> {
    let mut errors = Vec::new();
    let actor = p.actor.as_deref().and_then(|a| {
        a.parse::<AgentId>().map_err(|_| errors.push(FieldError::new("actor", "must be an agent id"))).ok()
    });
    let action = p.action.as_deref().and_then(|a| {
        AuditAction::parse(a).or_else(|| {
            errors.push(FieldError::new("action", "must be an audit action (see the AuditAction schema)"));
            None
        })
    });
    let target_type = parse_text("target_type", p.target_type.as_deref(), &mut errors);
    let target_id = parse_text("target_id", p.target_id.as_deref(), &mut errors);
    let since = parse_time("since", p.since.as_deref(), &mut errors);
    let until = parse_time("until", p.until.as_deref(), &mut errors);
    let before_id = p.cursor.as_deref().and_then(|c| match c.parse::<i64>() {
        Ok(n) if n >= 0 => Some(n),
        _ => {
            errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
            None
        }
    });
    let limit = parse_limit(p.limit.as_deref(), &mut errors);
    if errors.is_empty() {
        Ok(AuditQuery { actor, action, target_type, target_id, since, until, before_id, limit })
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// A page of entries, and the cursor of the next.
pub(crate) async fn page(
    state: &AppState,
    mut query: AuditQuery,
) -> Result<(Vec<AuditEntry>, Option<String>), ApiError> {
    let limit = query.limit.max(1);
    query.limit = limit + 1;
    let mut rows = state.audit().entries(&query).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(|e| e.id.to_string()) } else { None };
    Ok((rows, next))
}

/// The audit log, newest first (admins): sign-ins and failed sign-ins, changes to
/// agents, tokens, sessions and the configuration with their before and after, and
/// other admin actions. Every filter given must match.
#[utoipa::path(get, path = "/audit", params(AuditParams),
    responses((status = 200, body = AuditEntryList), (status = 400, body = Problem),
        (status = 403, description = "Admins only", body = Problem)))]
async fn list(
    _admin: Admin,
    params: web::Query<AuditParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = parse_query(&params)?;
    let (rows, next_cursor) = page(&state, query).await?;
    let items = rows.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(AuditEntryList { items, next_cursor }))
}
