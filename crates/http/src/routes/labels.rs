//! `/api/v1/labels`: labels admins define and every agent reads; and
//! `/api/v1/conversations/{id}/labels`: the labels on a conversation, which any agent
//! adds and removes (the use cases: `switchboard_core::Inbox`'s `add_labels`,
//! `remove_label`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use switchboard_core::EntryExt;
use switchboard_domain::label::{LabelColour, LabelName};
use switchboard_domain::{AgentId, AuditAction, ConversationId, LabelId};
use switchboard_store::{AppliedLabel, Label, LabelPatch, NewLabel};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::extract::{Admin, Caller, PathAfter};
use crate::guard::VisibleConversation;
use crate::json::Json;
use crate::openapi::Problem;

routes! {
    "/labels" => { get: list, post: create },
    "/labels/{id}" => { get: get, patch: update, delete: delete },
    "/conversations/{id}/labels" => { get: conversation_labels, post: add_to_conversation },
    "/conversations/{id}/labels/{label_id}" => { delete: remove_from_conversation },
}

/// The longest label description, in characters.
const DESCRIPTION_MAX: usize = 500;

#[derive(Serialize, ToSchema)]
#[schema(as = Label)]
pub(crate) struct LabelJson {
    id: LabelId,
    name: String,
    colour: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Label> for LabelJson {
    fn from(l: Label) -> Self {
        Self {
            id: l.id,
            name: l.name.as_str().to_owned(),
            colour: l.colour.as_str().to_owned(),
            description: l.description,
            created_at: l.created_at,
        }
    }
}

/// A label as other resources show it (conversations).
#[derive(Serialize, ToSchema)]
#[schema(as = LabelRef)]
pub(crate) struct LabelRefJson {
    id: LabelId,
    name: String,
    colour: String,
}

impl From<Label> for LabelRefJson {
    fn from(l: Label) -> Self {
        Self { id: l.id, name: l.name.as_str().to_owned(), colour: l.colour.as_str().to_owned() }
    }
}

/// A label on a conversation.
#[derive(Serialize, ToSchema)]
#[schema(as = AppliedLabel)]
struct AppliedLabelJson {
    #[serde(flatten)]
    label: LabelJson,
    /// `null` when the system added it (a click-to-chat link, a rule).
    added_by: Option<AgentId>,
    added_at: DateTime<Utc>,
}

impl From<AppliedLabel> for AppliedLabelJson {
    fn from(a: AppliedLabel) -> Self {
        Self { label: a.label.into(), added_by: a.added_by, added_at: a.added_at }
    }
}

/// For PATCH bodies: a field that is absent is `None`, a field that is `null` is
/// `Some(None)`.
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateLabel {
    /// 1 to 50 characters, without control characters.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// `#rrggbb`.
    #[schema(pattern = r"^#[0-9a-fA-F]{6}$")]
    colour: Option<String>,
    /// At most 500 characters; empty: none.
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// Only the fields given change; `description: null` removes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateLabel {
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: Option<String>,
    #[schema(pattern = r"^#[0-9a-fA-F]{6}$")]
    colour: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 500)]
    description: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddLabels {
    /// Label ids or names (1 to 50 of them).
    #[schema(min_items = 1, max_items = 50)]
    labels: Vec<String>,
}

fn parse_name(raw: &str, errors: &mut Vec<FieldError>) -> Option<LabelName> {
    LabelName::parse(raw).map_err(|e| errors.push(FieldError::new("name", e.to_string()))).ok()
}

fn parse_colour(raw: &str, errors: &mut Vec<FieldError>) -> Option<LabelColour> {
    LabelColour::parse(raw).map_err(|e| errors.push(FieldError::new("colour", e.to_string()))).ok()
}

/// A description: trimmed, empty means none, at most [`DESCRIPTION_MAX`] characters.
fn parse_description(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let d = raw.map(str::trim).filter(|d| !d.is_empty())?;
    if d.chars().count() > DESCRIPTION_MAX {
        errors.push(FieldError::new("description", format!("must be at most {DESCRIPTION_MAX} characters")));
        return None;
    }
    Some(d.to_owned())
}

/// Resolves label ids or names (case-insensitively) to labels, naming each entry that
/// matches none as `{field}[i]` (`switchboard_core::Inbox::resolve_labels`).
pub(crate) async fn resolve_labels(
    state: &AppState,
    entries: &[String],
    field: &str,
) -> Result<Vec<LabelId>, ApiError> {
    Ok(state.inbox().resolve_labels(entries, field).await?)
}

#[derive(Serialize, ToSchema)]
struct LabelList {
    items: Vec<LabelJson>,
}

#[derive(Serialize, ToSchema)]
struct AppliedLabels {
    labels: Vec<AppliedLabelJson>,
}

/// Every label (any agent).
#[utoipa::path(get, path = "/labels", responses((status = 200, body = LabelList)))]
async fn list(_agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.store.labels().await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(LabelList { items }))
}

/// One label (any agent).
#[utoipa::path(get, path = "/labels/{id}", params(("id" = LabelId, Path)),
    responses((status = 200, body = LabelJson)))]
async fn get(Caller { path: id, .. }: Caller<LabelId>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let label = state.store.label(id).await?.ok_or(ApiError::NotFound { what: "label" })?;
    Ok(HttpResponse::Ok().json(LabelJson::from(label)))
}

/// Creates a label (admins). The colour defaults to grey; names are unique regardless of case.
#[utoipa::path(post, path = "/labels", request_body = CreateLabel,
    responses((status = 201, body = LabelJson), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn create(
    Admin { agent, .. }: Admin,
    body: Json<CreateLabel>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let name = parse_name(&body.name, &mut errors);
    let colour = body.colour.as_deref().map_or_else(|| Some(LabelColour::default()), |c| parse_colour(c, &mut errors));
    let description = parse_description(body.description.as_deref(), &mut errors);
    let (Some(name), Some(colour), true) = (name, colour, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let label = state.config().create_label(&NewLabel { name, colour, description, at: Utc::now() }).await?;
    tracing::info!(label_id = %label.id, agent_id = %agent.0.id, "label created");
    let label = LabelJson::from(label);
    state.audit().record(agent.audit(AuditAction::LabelCreated).target("label", label.id).after(&label)).await;
    Ok(HttpResponse::Created().json(label))
}

/// Renames, recolours or redescribes a label (admins).
#[utoipa::path(patch, path = "/labels/{id}", params(("id" = LabelId, Path)), request_body = UpdateLabel,
    responses((status = 200, body = LabelJson), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn update(
    Admin { agent, path: id, .. }: Admin<LabelId>,
    body: Json<UpdateLabel>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let patch = LabelPatch {
        name: body.name.as_deref().and_then(|n| parse_name(n, &mut errors)),
        colour: body.colour.as_deref().and_then(|c| parse_colour(c, &mut errors)),
        description: body.description.as_ref().map(|d| parse_description(d.as_deref(), &mut errors)),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let before = state.store.label(id).await?.map(LabelJson::from);
    let label = LabelJson::from(state.config().update_label(id, &patch).await?);
    tracing::info!(label_id = %id, agent_id = %agent.0.id, "label updated");
    state
        .audit()
        .record(agent.audit(AuditAction::LabelUpdated).target("label", id).before(&before).after(&label))
        .await;
    Ok(HttpResponse::Ok().json(label))
}

/// Deletes a label and takes it off every conversation (admins).
#[utoipa::path(delete, path = "/labels/{id}", params(("id" = LabelId, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem)))]
async fn delete(
    Admin { agent, path: id, .. }: Admin<LabelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let before = state.store.label(id).await?.map(LabelJson::from);
    state.config().delete_label(id).await?;
    tracing::info!(label_id = %id, agent_id = %agent.0.id, "label deleted");
    state.audit().record(agent.audit(AuditAction::LabelDeleted).target("label", id).before(&before)).await;
    Ok(HttpResponse::NoContent().finish())
}

fn applied(labels: Vec<AppliedLabel>) -> HttpResponse {
    HttpResponse::Ok().json(AppliedLabels { labels: labels.into_iter().map(Into::into).collect() })
}

/// The labels on a conversation, with who added them and when.
#[utoipa::path(get, path = "/conversations/{id}/labels", params(("id" = ConversationId, Path)),
    responses((status = 200, body = AppliedLabels)))]
async fn conversation_labels(
    VisibleConversation { id, .. }: VisibleConversation,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(applied(state.store.conversation_labels(id).await?))
}

/// Puts labels (by id or name) on a conversation; answers all its labels.
#[utoipa::path(post, path = "/conversations/{id}/labels", params(("id" = ConversationId, Path)),
    request_body = AddLabels, responses((status = 200, body = AppliedLabels)))]
async fn add_to_conversation(
    VisibleConversation { id, agent }: VisibleConversation,
    body: Json<AddLabels>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(applied(state.inbox().add_labels(&agent.0, id, &body.labels).await?))
}

/// Takes a label off a conversation (idempotent).
#[utoipa::path(delete, path = "/conversations/{id}/labels/{label_id}",
    params(("id" = ConversationId, Path), ("label_id" = LabelId, Path)),
    responses((status = 204, description = "Not on the conversation (any more)")))]
async fn remove_from_conversation(
    PathAfter { first: VisibleConversation { id, agent }, path: label }: PathAfter<VisibleConversation, LabelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Idempotent: taking off a label that is not on the conversation is fine.
    state.inbox().remove_label(&agent.0, id, label).await?;
    Ok(HttpResponse::NoContent().finish())
}
