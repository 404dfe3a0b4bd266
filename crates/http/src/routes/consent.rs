//! Consent to automatic messages and templates: the keyword lists and confirmations
//! (admins), and each contact's state and history. See `switchboard_core::consent`.
//!
//! ```text
//! GET  /api/v1/admin/consent           the settings in force (the defaults until set)
//! PUT  /api/v1/admin/consent           replaces them
//! GET  /api/v1/contacts/{id}/consent   the contact's state and history, oldest first
//! POST /api/v1/contacts/{id}/consent   records an opt-out (any agent who sees the
//!                                      contact) or an opt-in (admins)
//! ```

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::audit::EntryExt;
use switchboard_core::consent::{RecordError, RecordedBy};
use switchboard_domain::consent::{
    ConsentEvent, ConsentSettings, ConsentSettingsInput, ConsentSource, ConsentState, parse_note,
};
use switchboard_domain::{AgentId, AgentRole, AuditAction, ContactId, MessageId};
use switchboard_store::ConsentChange;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, FieldError};
use crate::extract::Admin;
use crate::guard::VisibleContact;
use crate::json::Body;
use crate::openapi::Problem;

routes! {
    "/admin/consent" => { get: get_settings, put: put_settings },
    "/contacts/{id}/consent" => { get: get_consent, post: post_consent },
}

fn settings_answer(s: ConsentSettings) -> HttpResponse {
    HttpResponse::Ok().json(ConsentSettingsInput::from(s))
}

/// The consent settings in force: the keyword lists and confirmations (admins).
#[utoipa::path(get, path = "/admin/consent",
    responses((status = 200, body = ConsentSettingsInput), (status = 403, description = "Admins only", body = Problem)))]
async fn get_settings(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = switchboard_core::consent::settings(state.store.as_ref()).await?;
    Ok(settings_answer(settings))
}

/// Replaces the consent settings (admins); a list left out takes the defaults. Answers
/// the settings in force.
#[utoipa::path(put, path = "/admin/consent", request_body = ConsentSettingsInput,
    responses((status = 200, body = ConsentSettingsInput), (status = 403, description = "Admins only", body = Problem),
        (status = 422, description = "A field breaks a rule (named)", body = Problem)))]
async fn put_settings(
    Admin { agent, .. }: Admin,
    body: Body<ConsentSettingsInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let input = body.read()?;
    let before = ConsentSettingsInput::from(switchboard_core::consent::settings(state.store.as_ref()).await?);
    let settings = switchboard_core::consent::set_settings(state.store.as_ref(), input, Utc::now()).await?;
    tracing::info!(admin_id = %agent.0.id, "consent settings replaced");
    let after = ConsentSettingsInput::from(settings.clone());
    state.audit().record(agent.audit(AuditAction::ConsentSettingsChanged).before(&before).after(&after)).await;
    Ok(settings_answer(settings))
}

/// One change of a contact's consent.
#[derive(Serialize, ToSchema)]
#[schema(as = ConsentHistoryEntry)]
struct EventJson {
    state: ConsentState,
    source: ConsentSource,
    /// The customer's message that carried the keyword (`source` `keyword`).
    message_id: Option<MessageId>,
    /// The agent who recorded it.
    agent_id: Option<AgentId>,
    note: Option<String>,
    at: DateTime<Utc>,
}

impl From<ConsentEvent> for EventJson {
    fn from(e: ConsentEvent) -> Self {
        Self {
            state: e.state,
            source: e.source,
            message_id: e.message_id,
            agent_id: e.agent_id,
            note: e.note,
            at: e.at,
        }
    }
}

/// A contact's consent: the state now and every change, oldest first.
#[derive(Serialize, ToSchema)]
#[schema(as = ContactConsent)]
struct ConsentJson {
    contact_id: ContactId,
    state: ConsentState,
    /// Since when they are opted out (`null`: opted in).
    opted_out_at: Option<DateTime<Utc>>,
    /// Who opted them out.
    opted_out_source: Option<ConsentSource>,
    history: Vec<EventJson>,
}

async fn consent_answer(
    state: &AppState,
    id: ContactId,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, ApiError> {
    let contact = state.store.contact(id).await?.ok_or(ApiError::NotFound { what: "contact" })?;
    let history = switchboard_core::consent::history(state.store.as_ref(), id).await?;
    Ok(HttpResponse::build(status).json(ConsentJson {
        contact_id: id,
        state: if contact.opted_out_at.is_some() { ConsentState::OptedOut } else { ConsentState::OptedIn },
        opted_out_at: contact.opted_out_at,
        opted_out_source: contact.opted_out_source,
        history: history.into_iter().map(Into::into).collect(),
    }))
}

/// A contact's consent state and history (agents who may see the contact).
#[utoipa::path(get, path = "/contacts/{id}/consent", params(("id" = ContactId, Path)),
    responses((status = 200, body = ConsentJson), (status = 404, description = "No such contact, or not yours to see", body = Problem)))]
async fn get_consent(
    VisibleContact { id, .. }: VisibleContact,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    consent_answer(&state, id, actix_web::http::StatusCode::OK).await
}

/// A change of a contact's consent, recorded by hand.
#[derive(Deserialize, ToSchema)]
#[schema(as = RecordConsent)]
#[serde(deny_unknown_fields)]
struct RecordBody {
    state: ConsentState,
    /// How it was given: `agent` (the default), `api` or `import`.
    #[serde(default)]
    source: Option<ConsentSource>,
    /// Why, for the history (up to 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    note: Option<String>,
}

/// Records an opt-out (any agent who may see the contact) or an opt-in (admins only; the
/// customer may also send an opt-in keyword). Answers the consent with 201 when it
/// changed, 200 when the contact was in that state already (nothing recorded).
#[utoipa::path(post, path = "/contacts/{id}/consent", params(("id" = ContactId, Path)), request_body = RecordBody,
    responses((status = 201, body = ConsentJson), (status = 200, body = ConsentJson),
        (status = 403, description = "An opt-in by an agent who is not an admin", body = Problem),
        (status = 404, description = "No such contact, or not yours to see", body = Problem),
        (status = 422, description = "A field breaks a rule (named)", body = Problem)))]
async fn post_consent(
    VisibleContact { id, agent }: VisibleContact,
    body: Body<RecordBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.read()?;
    let note = parse_note(body.note.as_deref()).map_err(|m| ApiError::Validation(vec![FieldError::new("note", m)]))?;
    let by = RecordedBy {
        agent: agent.0.id,
        is_admin: agent.0.role == AgentRole::Admin,
        source: body.source.unwrap_or(ConsentSource::Agent),
        note: note.as_deref(),
    };
    let source = by.source;
    let change = switchboard_core::consent::record(state.store.as_ref(), id, body.state, by, Utc::now()).await?;
    let status = match change {
        Err(RecordError::OptInForAdmins) => return Err(ApiError::Forbidden),
        Ok(ConsentChange::Changed) => {
            // The state and how, not the note (it may be about the person; the contact's
            // history keeps it).
            let after = serde_json::json!({ "state": body.state.as_str(), "source": source.as_str() });
            state.audit().record(agent.audit(AuditAction::ConsentChanged).target("contact", id).after(&after)).await;
            actix_web::http::StatusCode::CREATED
        }
        Ok(ConsentChange::Unchanged) => actix_web::http::StatusCode::OK,
    };
    consent_answer(&state, id, status).await
}
