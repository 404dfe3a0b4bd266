//! `/api/v1/admin/webhooks`: outgoing webhook endpoints (Standard Webhooks), their delivery log
//! and replays (admins only). Payloads are described in docs/webhooks.md.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::EntryExt;
use switchboard_core::webhooks::{WebhookError, WithSecret};
use switchboard_domain::{AuditAction, WebhookEndpointId, WebhookEventType, WebhookMessageId, instant};
use switchboard_store::{WebhookEndpoint, WebhookEndpointPatch, WebhookReplay};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, FieldError};
use crate::extract::Admin;
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::conversations::parse_limit;

routes! {
    "/admin/webhooks" => { get: list, post: create },
    "/admin/webhooks/{id}" => { get: get, patch: update, delete: delete },
    "/admin/webhooks/{id}/rotate-secret" => { post: rotate_secret },
    "/admin/webhooks/{id}/deliveries" => { get: deliveries },
    "/admin/webhooks/{id}/attempts" => { get: attempts },
    "/admin/webhooks/{id}/replay" => { post: replay },
}

const MAX_DESCRIPTION: usize = 500;

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::NotFound => Self::NotFound { what: "webhook endpoint" },
            WebhookError::Store(e) => e.into(),
            WebhookError::Secret(e) => Self::Internal(anyhow::Error::new(e).context("webhook secret")),
        }
    }
}

/// An outgoing webhook endpoint.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookEndpoint)]
struct EndpointJson {
    id: WebhookEndpointId,
    url: String,
    description: String,
    /// The event types sent to it; empty: every type.
    event_types: Vec<WebhookEventType>,
    enabled: bool,
    /// Why it is disabled: `the endpoint answered 410 Gone`, days of failed deliveries,
    /// or `disabled by an admin`.
    #[schema(required = true)]
    disabled_reason: Option<String>,
    /// Since when every delivery has failed (`null`: the last one succeeded).
    #[schema(required = true)]
    failing_since: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still signs (a second signature).
    #[schema(required = true)]
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The signing secret (`whsec_` and base64), only in the answers to create and
    /// rotate-secret: it is shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<WebhookEndpoint> for EndpointJson {
    fn from(e: WebhookEndpoint) -> Self {
        Self {
            id: e.id,
            url: e.url.as_str().to_owned(),
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret.map(|(_, until)| until),
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: None,
        }
    }
}

impl From<WithSecret> for EndpointJson {
    fn from(w: WithSecret) -> Self {
        Self { secret: Some(w.secret), ..w.endpoint.into() }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = WebhookEndpointList)]
struct EndpointList {
    items: Vec<EndpointJson>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateWebhookEndpoint)]
struct CreateBody {
    /// An absolute http or https URL. Deliveries never go to loopback, private or
    /// link-local addresses unless the server's configuration allows them.
    #[schema(min_length = 1, max_length = 2000)]
    url: String,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// The event types to send; absent or empty: every type.
    #[schema(value_type = Option<Vec<WebhookEventType>>)]
    event_types: Option<Vec<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateWebhookEndpoint)]
struct UpdateBody {
    #[schema(min_length = 1, max_length = 2000)]
    url: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// Empty: every type.
    #[schema(value_type = Option<Vec<WebhookEventType>>)]
    event_types: Option<Vec<String>>,
    /// `true` enables it again (clearing its disabled reason); deliveries waiting for it
    /// resume.
    enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReplayWebhooks)]
struct ReplayBody {
    /// One message to send again, by its `webhook-id` (`msg_…`).
    #[schema(pattern = "^msg_[0-9a-f]{32}$")]
    webhook_id: Option<String>,
    /// With `until`: every message created in `[since, until)` that this endpoint had.
    #[schema(value_type = Option<DateTime<Utc>>)]
    since: Option<String>,
    #[schema(value_type = Option<DateTime<Utc>>)]
    until: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = WebhookReplayed)]
struct Replayed {
    /// Deliveries queued again (due now, same `webhook-id`, a fresh retry schedule).
    queued: u64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// Items per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    cursor: Option<String>,
}

/// One delivery job: a message and its state for this endpoint.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
struct DeliveryJson {
    /// The message's `webhook-id` (stable across attempts and replays).
    webhook_id: String,
    event_type: WebhookEventType,
    /// `pending`, `delivered` or `failed`.
    state: String,
    attempts: u32,
    /// When a pending delivery is tried next.
    #[schema(required = true)]
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = WebhookDeliveryList)]
struct DeliveryList {
    items: Vec<DeliveryJson>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// One attempt of the delivery log.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookAttempt)]
struct AttemptJson {
    webhook_id: String,
    event_type: WebhookEventType,
    attempted_at: DateTime<Utc>,
    /// The HTTP status; `null` when no answer came.
    #[schema(required = true)]
    status: Option<u16>,
    latency_ms: i64,
    /// The answer's first 500 characters.
    #[schema(required = true)]
    response: Option<String>,
    /// Why no answer came: a time-out, a refused connection, an address not allowed.
    #[schema(required = true)]
    error: Option<String>,
    /// The delivery's state now.
    delivery_state: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = WebhookAttemptList)]
struct AttemptList {
    items: Vec<AttemptJson>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// An endpoint as the audit log keeps it: without its secret.
fn public(e: &EndpointJson) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.remove("secret");
    }
    v
}

fn parse_event_types(raw: &[String], errors: &mut Vec<FieldError>) -> Vec<WebhookEventType> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, s)| {
            WebhookEventType::parse(s).or_else(|| {
                let known: Vec<&str> = WebhookEventType::ALL.iter().map(|t| t.as_str()).collect();
                errors
                    .push(FieldError::new(format!("event_types[{i}]"), format!("must be one of {}", known.join(", "))));
                None
            })
        })
        .collect()
}

fn parse_description(raw: &str, errors: &mut Vec<FieldError>) -> String {
    if raw.chars().count() > MAX_DESCRIPTION || raw.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters, without control characters"),
        ));
    }
    raw.to_owned()
}

/// The page of endpoint `id`'s log that `params` ask for, `(limit, before)`: 422 naming a
/// bad field, 404 when there is no such endpoint.
async fn requested_page(
    state: &AppState,
    id: WebhookEndpointId,
    params: &PageParams,
) -> Result<(u32, Option<i64>), ApiError> {
    let mut errors = Vec::new();
    let limit = parse_limit(params.limit.as_deref(), &mut errors);
    let before = match params.cursor.as_deref() {
        None => None,
        Some(c) => match c.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if state.store.webhook_endpoint(id).await?.is_none() {
        return Err(ApiError::NotFound { what: "webhook endpoint" });
    }
    Ok((limit, before))
}

/// A page of `rows` read with one row more than `limit`: the first `limit`, and the cursor
/// (`id`) of the last of them when the extra row says there is a next page.
fn cut_page<T>(mut rows: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| id(r).to_string()) } else { None };
    (rows, next_cursor)
}

/// Every outgoing webhook endpoint (admins).
#[utoipa::path(get, path = "/admin/webhooks",
    responses((status = 200, body = EndpointList), (status = 403, description = "Admins only", body = Problem)))]
async fn list(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.store.webhook_endpoints().await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(EndpointList { items }))
}

/// Registers an endpoint (admins). The answer carries its signing secret, shown once.
#[utoipa::path(post, path = "/admin/webhooks", request_body = CreateBody,
    responses((status = 201, body = EndpointJson), (status = 403, description = "Admins only", body = Problem)))]
async fn create(
    Admin { agent, .. }: Admin,
    body: Json<CreateBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let webhooks = state.webhooks();
    let url = webhooks.parse_url(&body.url).map_err(|e| errors.push(FieldError::new("url", e.to_string()))).ok();
    let description = parse_description(body.description.as_deref().unwrap_or(""), &mut errors);
    let event_types = parse_event_types(body.event_types.as_deref().unwrap_or(&[]), &mut errors);
    let Some(url) = url.filter(|_| errors.is_empty()) else { return Err(ApiError::Validation(errors)) };
    let created = webhooks.create(url, description, event_types, Utc::now()).await?;
    tracing::info!(endpoint_id = %created.endpoint.id, by = %agent.0.id, "outgoing webhook endpoint created");
    let created = EndpointJson::from(created);
    state
        .audit()
        .record(
            agent
                .audit(AuditAction::WebhookEndpointCreated)
                .target("webhook_endpoint", created.id)
                .after(&public(&created)),
        )
        .await;
    Ok(HttpResponse::Created().json(created))
}

/// One endpoint (admins).
#[utoipa::path(get, path = "/admin/webhooks/{id}", params(("id" = WebhookEndpointId, Path)),
    responses((status = 200, body = EndpointJson), (status = 403, description = "Admins only", body = Problem)))]
async fn get(
    Admin { path: id, .. }: Admin<WebhookEndpointId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let e = state.store.webhook_endpoint(id).await?.ok_or(ApiError::NotFound { what: "webhook endpoint" })?;
    Ok(HttpResponse::Ok().json(EndpointJson::from(e)))
}

/// Changes an endpoint's URL, description, event types, or enables or disables it
/// (admins).
#[utoipa::path(patch, path = "/admin/webhooks/{id}", params(("id" = WebhookEndpointId, Path)), request_body = UpdateBody,
    responses((status = 200, body = EndpointJson), (status = 403, description = "Admins only", body = Problem)))]
async fn update(
    Admin { agent, path: id, .. }: Admin<WebhookEndpointId>,
    body: Json<UpdateBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let webhooks = state.webhooks();
    let url = match body.url.as_deref() {
        None => None,
        Some(raw) => webhooks.parse_url(raw).map_err(|e| errors.push(FieldError::new("url", e.to_string()))).ok(),
    };
    let patch = WebhookEndpointPatch {
        url,
        description: body.description.as_deref().map(|d| parse_description(d, &mut errors)),
        event_types: body.event_types.as_deref().map(|t| parse_event_types(t, &mut errors)),
        enabled: body.enabled,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let before = state.store.webhook_endpoint(id).await?.map(|e| public(&EndpointJson::from(e)));
    let e = webhooks.update(id, patch, Utc::now()).await?;
    tracing::info!(endpoint_id = %id, by = %agent.0.id, enabled = e.enabled, "outgoing webhook endpoint updated");
    let e = EndpointJson::from(e);
    state
        .audit()
        .record(
            agent
                .audit(AuditAction::WebhookEndpointUpdated)
                .target("webhook_endpoint", id)
                .before(&before)
                .after(&public(&e)),
        )
        .await;
    Ok(HttpResponse::Ok().json(e))
}

/// Deletes an endpoint with its deliveries and their log (admins).
#[utoipa::path(delete, path = "/admin/webhooks/{id}", params(("id" = WebhookEndpointId, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Admins only", body = Problem)))]
async fn delete(
    Admin { agent, path: id, .. }: Admin<WebhookEndpointId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let before = state.store.webhook_endpoint(id).await?.map(|e| public(&EndpointJson::from(e)));
    state.webhooks().delete(id).await?;
    tracing::info!(endpoint_id = %id, by = %agent.0.id, "outgoing webhook endpoint deleted");
    state
        .audit()
        .record(agent.audit(AuditAction::WebhookEndpointDeleted).target("webhook_endpoint", id).before(&before))
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret, shown once (admins). The previous one keeps signing, as a
/// second signature, for `outgoing_webhooks.rotation_overlap_hours`.
#[utoipa::path(post, path = "/admin/webhooks/{id}/rotate-secret", params(("id" = WebhookEndpointId, Path)),
    responses((status = 200, body = EndpointJson), (status = 403, description = "Admins only", body = Problem)))]
async fn rotate_secret(
    Admin { agent, path: id, .. }: Admin<WebhookEndpointId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rotated = state.webhooks().rotate_secret(id, Utc::now()).await?;
    tracing::info!(endpoint_id = %id, by = %agent.0.id, "outgoing webhook secret rotated");
    let rotated = EndpointJson::from(rotated);
    state
        .audit()
        .record(agent.audit(AuditAction::WebhookSecretRotated).target("webhook_endpoint", id).after(&public(&rotated)))
        .await;
    Ok(HttpResponse::Ok().json(rotated))
}

/// The endpoint's deliveries, newest first (admins).
#[utoipa::path(get, path = "/admin/webhooks/{id}/deliveries", params(("id" = WebhookEndpointId, Path), PageParams),
    responses((status = 200, body = DeliveryList), (status = 403, description = "Admins only", body = Problem)))]
async fn deliveries(
    Admin { path: id, .. }: Admin<WebhookEndpointId>,
    params: web::Query<PageParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (limit, before) = requested_page(&state, id, &params).await?;
    let rows = state.store.webhook_deliveries(id, before, limit + 1).await?;
    let (rows, next_cursor) = cut_page(rows, limit, |(id, _)| *id);
    let items = rows
        .into_iter()
        .map(|(_, d)| DeliveryJson {
            webhook_id: d.message_id.webhook_id(),
            event_type: d.event_type,
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryList { items, next_cursor }))
}

/// The endpoint's delivery log: every attempt, newest first, with its status, latency
/// and the answer's first characters (admins).
#[utoipa::path(get, path = "/admin/webhooks/{id}/attempts", params(("id" = WebhookEndpointId, Path), PageParams),
    responses((status = 200, body = AttemptList), (status = 403, description = "Admins only", body = Problem)))]
async fn attempts(
    Admin { path: id, .. }: Admin<WebhookEndpointId>,
    params: web::Query<PageParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (limit, before) = requested_page(&state, id, &params).await?;
    let rows = state.store.webhook_attempts(id, before, limit + 1).await?;
    let (rows, next_cursor) = cut_page(rows, limit, |a| a.id);
    let items = rows
        .into_iter()
        .map(|a| AttemptJson {
            webhook_id: a.message_id.webhook_id(),
            event_type: a.event_type,
            attempted_at: a.attempted_at,
            status: a.status,
            latency_ms: a.latency_ms,
            response: a.response,
            error: a.error,
            delivery_state: a.delivery_state,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AttemptList { items, next_cursor }))
}

/// Sends one message, or every message of a time range, to the endpoint again (admins):
/// same `webhook-id`, due now, a fresh retry schedule.
#[utoipa::path(post, path = "/admin/webhooks/{id}/replay", params(("id" = WebhookEndpointId, Path)), request_body = ReplayBody,
    responses((status = 200, body = Replayed), (status = 403, description = "Admins only", body = Problem)))]
async fn replay(
    Admin { agent, path: id, .. }: Admin<WebhookEndpointId>,
    body: Json<ReplayBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let time = |field: &str, raw: &str| {
        DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .and_then(|t| instant::check(t).ok())
            .ok_or_else(|| ApiError::field(field, "must be an RFC 3339 date-time in the years 1970 to 9999"))
    };
    let what =
        match (&body.webhook_id, &body.since, &body.until) {
            (Some(w), None, None) => WebhookReplay::One(WebhookMessageId::parse_webhook_id(w).ok_or_else(|| {
                ApiError::field("webhook_id", "must be a webhook-id (msg_ and 32 hexadecimal digits)")
            })?),
            (None, Some(since), Some(until)) => {
                let (from, to) = (time("since", since)?, time("until", until)?);
                if from >= to {
                    return Err(ApiError::field("until", "must be after since"));
                }
                WebhookReplay::Range { from, to }
            }
            _ => return Err(ApiError::field("webhook_id", "give either webhook_id, or since and until")),
        };
    let queued = state.webhooks().replay(id, what, Utc::now()).await?;
    tracing::info!(endpoint_id = %id, by = %agent.0.id, queued, "outgoing webhooks replayed");
    Ok(HttpResponse::Ok().json(Replayed { queued }))
}

/// What the deliveries carry, as OpenAPI 3.1 `webhooks`: one `POST` per event type, its
/// body the versioned envelope (`docs/webhooks.md` has the same in prose).
pub(crate) fn described_deliveries() -> utoipa::openapi::path::Paths {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{ContentBuilder, Required, ResponseBuilder};

    let string = |description: &str| ObjectBuilder::new().schema_type(Type::String).description(Some(description));
    let header = |name: &str, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(string(description)))
            .build()
    };
    let mut paths = PathsBuilder::new();
    for t in WebhookEventType::ALL {
        let body = ObjectBuilder::new()
            .property("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([t.as_str()])))
            .required("type")
            .property(
                "timestamp",
                string("When the change was recorded (RFC 3339, milliseconds).")
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .required("timestamp")
            .property(
                "version",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .enum_values(Some([switchboard_core::webhooks::payload::PAYLOAD_VERSION]))
                    .description(Some("Fields may be added within a version, never removed or changed in meaning.")),
            )
            .required("version")
            .property("data", ObjectBuilder::new().schema_type(Type::Object).description(Some(data_of(t))))
            .required("data");
        let op = OperationBuilder::new()
            .operation_id(Some(format!("webhook_{}", t.as_str().replace('.', "_"))))
            .tag("outgoing webhooks")
            .summary(Some(format!("`{}`, sent to endpoints subscribed to it (or to every type)", t.as_str())))
            .description(Some(
                "Standard Webhooks: verify `webhook-signature` over `{webhook-id}.{webhook-timestamp}.{body}` \
                 with the endpoint's secret, and drop repeated `webhook-id`s (delivery is at least once). \
                 Any 2xx answer is a success; anything else is retried (see docs/webhooks.md).",
            ))
            .parameter(header("webhook-id", "The message's id, the same on every retry and replay."))
            .parameter(header("webhook-timestamp", "Unix seconds when this attempt was signed."))
            .parameter(header(
                "webhook-signature",
                "`v1,<base64 HMAC-SHA256>`, space-separated during a secret rotation.",
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", ContentBuilder::new().schema(Some(body)).build())
                    .build(),
            ))
            .response("2XX", ResponseBuilder::new().description("Received."))
            .build();
        paths = paths.path(t.as_str(), PathItem::new(HttpMethod::Post, op));
    }
    paths.build()
}

/// What `data` holds for each type.
fn data_of(t: WebhookEventType) -> String {
    use WebhookEventType as T;
    let only = match t {
        T::MessageCreated => {
            "`message`: `id`, `conversation_id`, `direction` (`inbound`, `outbound`), `type` (`text`, `image`, …), \
             `state`, `text`, `wamid`, `timestamp`, `sent_by` (the agent; null for the customer or an \
             auto-reply), `auto_rule`"
        }
        T::MessageStatusChanged => {
            "`message`: `id`, `conversation_id`, `wamid`, `state` (`sent`, `delivered`, `read`, `failed`…), \
             `previous_state`, `error_code`, `error` (`code`, `title`)"
        }
        T::ConversationCreated => "nothing more",
        T::ConversationAssigned => "`assignee_id` (null: unassigned), `previous_assignee_id`",
        T::ConversationStatusChanged => "`status`, `previous_status` (`open`, `pending`, `snoozed`, `resolved`)",
        T::ConversationLabelled => "`label` (`id`, `name`), `added_by`",
        T::ConversationUnlabelled => "`label` (`id`, `name`)",
        T::ContactCreated | T::ContactUpdated => {
            return "`contact` only: `id`, `wa_id`, `profile_name`, `name`, `attributes`, `opted_out_at` (null: \
                    opted in), `opted_out_source`, `created_at`, `updated_at`."
                .to_owned();
        }
        T::ContactConsentChanged => {
            return "`contact` (as in `contact.updated`) and `consent`, the change: `state` (`opted_out`, \
                    `opted_in`), `source` (`keyword`, `agent`, `api`, `import`), `message_id` for a keyword, \
                    `agent_id` for an agent, `at`."
                .to_owned();
        }
        T::CsatAnswered => {
            "`csat`: `scale` (3 or 5), `score` (this answer's), `previous_score` (null at the first tap), \
             `rated_at`, `comment`, `commented_at`: sent for a rating, a changed rating and the follow-up comment"
        }
    };
    format!(
        "`conversation` (`id`, `channel_id`, `phone_number_id`, `contact_id`, `status`, `assignee_id`, `team_id`, \
         `created_at`, `window_closes_at`) and `contact` (`id`, `wa_id`, `profile_name`, `name`, `username`), as \
         they are when the event is sent; and {only}."
    )
}
