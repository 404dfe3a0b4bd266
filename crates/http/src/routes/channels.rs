//! Channels: `GET /api/v1/channels` (every agent reads them; admins need their ids to
//! configure auto-replies, links and routing), and their management under
//! `/api/v1/admin/channels` (admins): add, edit, disable. Credentials are write-only: the
//! API says whether a channel has its own access token or app secret, never what it is.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::audit::EntryExt;
use switchboard_core::channels::{ChannelChanges, ChannelInput};
use switchboard_core::templates::TemplateError;
use switchboard_core::{ChannelError, replay_unrouted};
use switchboard_domain::link::PhoneNumber;
use switchboard_domain::template::TemplateNeeds;
use switchboard_domain::{AuditAction, ChannelId, ChannelName, ChannelSecret, PhoneNumberId, Throughput, WabaId};
use switchboard_store::ChannelRecord;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::extract::{Admin, Caller};
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::labels::double_option;

routes! {
    "/channels" => { get: list },
    "/admin/channels" => { get: admin_list, post: create },
    "/admin/channels/{id}" => { get: admin_get, patch: update },
    "/admin/channels/{id}/templates/sync" => { post: sync_templates },
    "/channels/{id}/templates" => { get: templates },
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::NotFound => Self::NotFound { what: "channel" },
            ChannelError::Exists => Self::Conflict { what: "channel" },
            ChannelError::Store(e) => e.into(),
            ChannelError::Secret(e) => Self::Internal(anyhow::Error::new(e).context("channel credential")),
        }
    }
}

/// A connected WhatsApp number.
#[derive(Serialize, ToSchema)]
#[schema(as = Channel)]
struct ChannelJson {
    id: ChannelId,
    /// The Graph API id of the number (digits).
    phone_number_id: PhoneNumberId,
    name: String,
    /// The number customers dial (E.164 digits, no `+`), configured or learned from
    /// Meta's webhooks.
    #[schema(required = true)]
    display_phone_number: Option<String>,
    /// A disabled channel's messages are stored and shown, but not auto-replied.
    enabled: bool,
}

#[derive(Serialize, ToSchema)]
struct ChannelList {
    items: Vec<ChannelJson>,
}

/// A channel as admins manage it. Credentials are never shown: only whether the channel
/// has its own.
#[derive(Serialize, ToSchema)]
#[schema(as = AdminChannel)]
struct AdminChannelJson {
    id: ChannelId,
    phone_number_id: PhoneNumberId,
    name: String,
    #[schema(required = true)]
    display_phone_number: Option<String>,
    /// The WhatsApp Business Account (digits) its templates are synchronised from.
    #[schema(required = true)]
    waba_id: Option<String>,
    enabled: bool,
    /// Whether it sends with its own access token (else the configured one).
    has_access_token: bool,
    /// Whether webhooks signed with its own Meta app's secret are accepted.
    has_app_secret: bool,
    /// Its messaging throughput tier (messages per second); `null`: the sender's
    /// configured rate (`sender.throughput_per_second`).
    #[schema(required = true)]
    throughput_per_second: Option<u32>,
    created_at: DateTime<Utc>,
    #[schema(required = true)]
    updated_at: Option<DateTime<Utc>>,
}

impl From<ChannelRecord> for AdminChannelJson {
    fn from(c: ChannelRecord) -> Self {
        Self {
            id: c.id,
            phone_number_id: c.phone_number_id,
            name: c.name,
            display_phone_number: c.display_phone_number,
            waba_id: c.waba_id,
            enabled: c.enabled,
            has_access_token: c.access_token.is_some(),
            has_app_secret: c.app_secret.is_some(),
            throughput_per_second: c.throughput_per_second,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = AdminChannelList)]
struct AdminChannelList {
    items: Vec<AdminChannelJson>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateChannel)]
struct CreateChannelBody {
    /// The number's Graph API id (digits), unique.
    #[schema(pattern = "^[0-9]{1,20}$")]
    phone_number_id: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// In international format (`+44 7700 900123`); when absent it is learned from the
    /// first webhook's `metadata.display_phone_number`.
    #[schema(min_length = 1, max_length = 40)]
    display_phone_number: Option<String>,
    #[schema(pattern = "^[0-9]{1,32}$")]
    waba_id: Option<String>,
    /// Default `true`.
    enabled: Option<bool>,
    /// Its own access token (write-only); absent: the configured one is used.
    #[schema(pattern = "^[!-~]{1,1000}$")]
    access_token: Option<String>,
    /// Its own Meta app's secret (write-only), when it belongs to another app than the
    /// configured one.
    #[schema(pattern = "^[!-~]{1,1000}$")]
    app_secret: Option<String>,
    #[schema(minimum = 1, maximum = 1000)]
    throughput_per_second: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateChannel)]
struct UpdateChannelBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: Option<String>,
    /// `null` forgets it (it is learned again from the next webhook).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(min_length = 1, max_length = 40, nullable)]
    display_phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(pattern = "^[0-9]{1,32}$", nullable)]
    waba_id: Option<Option<String>>,
    /// `false` disables the channel: its messages are still stored, not auto-replied.
    enabled: Option<bool>,
    /// A new token replaces the old one; `null` goes back to the configured one.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(pattern = "^[!-~]{1,1000}$", nullable)]
    access_token: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(pattern = "^[!-~]{1,1000}$", nullable)]
    app_secret: Option<Option<String>>,
    /// `null`: the sender's configured rate.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(minimum = 1, maximum = 1000, nullable)]
    throughput_per_second: Option<Option<i64>>,
}

/// Parses field `field` with `parse`, recording a failure.
fn field<T, E: std::fmt::Display>(errors: &mut Vec<FieldError>, name: &str, parsed: Result<T, E>) -> Option<T> {
    parsed.map_err(|e| errors.push(FieldError::new(name, e.to_string()))).ok()
}

fn parse_display_number(raw: &str) -> Result<PhoneNumber, String> {
    let raw = raw.trim();
    let international = if raw.starts_with('+') || raw.starts_with("00") { raw.to_owned() } else { format!("+{raw}") };
    PhoneNumber::parse(&international, None).map_err(|e| e.to_string())
}

/// The connected WhatsApp numbers (any agent).
#[utoipa::path(get, path = "/channels", responses((status = 200, body = ChannelList)))]
async fn list(_agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state
        .store
        .channel_records()
        .await?
        .into_iter()
        .map(|c| ChannelJson {
            id: c.id,
            phone_number_id: c.phone_number_id,
            name: c.name,
            display_phone_number: c.display_phone_number,
            enabled: c.enabled,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ChannelList { items }))
}

/// Every channel with its settings (admins).
#[utoipa::path(get, path = "/admin/channels",
    responses((status = 200, body = AdminChannelList), (status = 403, description = "Admins only", body = Problem)))]
async fn admin_list(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.store.channel_records().await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(AdminChannelList { items }))
}

/// One channel with its settings (admins).
#[utoipa::path(get, path = "/admin/channels/{id}", params(("id" = ChannelId, Path)),
    responses((status = 200, body = AdminChannelJson), (status = 403, description = "Admins only", body = Problem)))]
async fn admin_get(
    Admin { path: id, .. }: Admin<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let c = state.store.channel_record(id).await?.ok_or(ApiError::NotFound { what: "channel" })?;
    Ok(HttpResponse::Ok().json(AdminChannelJson::from(c)))
}

/// Adds a channel (admins). Deliveries that came for its number before it existed are
/// applied now.
#[utoipa::path(post, path = "/admin/channels", request_body = CreateChannelBody,
    responses((status = 201, body = AdminChannelJson), (status = 403, description = "Admins only", body = Problem),
              (status = 409, description = "The phone number id has a channel already", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
async fn create(
    Admin { agent, .. }: Admin,
    body: Json<CreateChannelBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut e = Vec::new();
    let phone_number_id = field(&mut e, "phone_number_id", PhoneNumberId::parse(&body.phone_number_id));
    let name = field(&mut e, "name", ChannelName::parse(&body.name));
    let display =
        body.display_phone_number.as_deref().map(|d| field(&mut e, "display_phone_number", parse_display_number(d)));
    let waba = body.waba_id.as_deref().map(|w| field(&mut e, "waba_id", WabaId::parse(w)));
    let token = body.access_token.as_deref().map(|t| field(&mut e, "access_token", ChannelSecret::parse(t)));
    let secret = body.app_secret.as_deref().map(|t| field(&mut e, "app_secret", ChannelSecret::parse(t)));
    let throughput = body.throughput_per_second.map(|n| field(&mut e, "throughput_per_second", Throughput::parse(n)));
    let (Some(phone_number_id), Some(name), true) = (phone_number_id, name, e.is_empty()) else {
        return Err(ApiError::Validation(e));
    };
    let input = ChannelInput {
        phone_number_id: phone_number_id.clone(),
        name,
        display_phone_number: display.flatten(),
        waba_id: waba.flatten(),
        enabled: body.enabled.unwrap_or(true),
        access_token: token.flatten(),
        app_secret: secret.flatten(),
        throughput: throughput.flatten(),
    };
    let created = state.channels().create(input, Utc::now()).await?;
    tracing::info!(channel_id = %created.id, %phone_number_id, by = %agent.0.id, own_token = created.access_token.is_some(), own_app_secret = created.app_secret.is_some(), "channel added");
    let json = AdminChannelJson::from(created);
    state.audit().record(agent.audit(AuditAction::ChannelCreated).target("channel", json.id).after(&json)).await;
    let replayed = replay_unrouted(state.store.as_ref(), &phone_number_id).await?;
    if replayed > 0 {
        tracing::info!(%phone_number_id, replayed, "deliveries kept for this number before it had a channel will now be applied");
        state.wake.ingest();
    }
    Ok(HttpResponse::Created().json(json))
}

/// Changes a channel: its name, numbers, credentials, throughput tier, or disables it
/// (admins). Absent fields stay as they are.
#[utoipa::path(patch, path = "/admin/channels/{id}", params(("id" = ChannelId, Path)), request_body = UpdateChannelBody,
    responses((status = 200, body = AdminChannelJson), (status = 403, description = "Admins only", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
async fn update(
    Admin { agent, path: id, .. }: Admin<ChannelId>,
    body: Json<UpdateChannelBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut e = Vec::new();
    let body = body.into_inner();
    let changes = ChannelChanges {
        name: body.name.as_deref().and_then(|n| field(&mut e, "name", ChannelName::parse(n))),
        display_phone_number: body
            .display_phone_number
            .map(|d| d.and_then(|d| field(&mut e, "display_phone_number", parse_display_number(&d)))),
        waba_id: body.waba_id.map(|w| w.and_then(|w| field(&mut e, "waba_id", WabaId::parse(&w)))),
        enabled: body.enabled,
        access_token: body
            .access_token
            .map(|t| t.and_then(|t| field(&mut e, "access_token", ChannelSecret::parse(&t)))),
        app_secret: body.app_secret.map(|t| t.and_then(|t| field(&mut e, "app_secret", ChannelSecret::parse(&t)))),
        throughput: body
            .throughput_per_second
            .map(|n| n.and_then(|n| field(&mut e, "throughput_per_second", Throughput::parse(n)))),
    };
    if !e.is_empty() {
        return Err(ApiError::Validation(e));
    }
    let before = state.store.channel_record(id).await?.map(AdminChannelJson::from);
    let updated = state.channels().update(id, changes, Utc::now()).await?;
    tracing::info!(channel_id = %id, by = %agent.0.id, enabled = updated.enabled, "channel updated");
    let after = AdminChannelJson::from(updated);
    // The JSON says whether a token or secret is set, never what it is.
    state
        .audit()
        .record(agent.audit(AuditAction::ChannelChanged).target("channel", id).before(&before).after(&after))
        .await;
    Ok(HttpResponse::Ok().json(after))
}

impl From<TemplateError> for ApiError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::NotFound => Self::NotFound { what: "channel" },
            TemplateError::NoWaba | TemplateError::Sandbox => {
                Self::StateConflict { code: "templates_unavailable", detail: e.to_string() }
            }
            TemplateError::Graph(e) => (&e).into(),
            TemplateError::Store(e) => e.into(),
        }
    }
}

/// A message template as Meta approved it, and what a send must give.
#[derive(Serialize, ToSchema)]
#[schema(as = MessageTemplate)]
struct TemplateJson {
    name: String,
    /// Language and locale code, such as `en_US`.
    language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    category: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`…: only approved templates
    /// can be sent.
    status: String,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`, when Meta rated it.
    #[schema(required = true)]
    quality: Option<String>,
    /// The header (`format`: `text` with its `variables`, or `image`, `video`,
    /// `document`, `location`), the body's variables in order, and the buttons (a `url`
    /// button with variables needs its parameter).
    #[schema(value_type = Object)]
    needs: TemplateNeeds,
    synced_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = MessageTemplateList)]
struct TemplateList {
    items: Vec<TemplateJson>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = TemplatesSynced)]
struct Synced {
    /// How many templates the channel has now.
    templates: usize,
}

/// A channel's message templates as last synchronised from Meta (any agent: they send
/// them).
#[utoipa::path(get, path = "/channels/{id}/templates", params(("id" = ChannelId, Path)),
    responses((status = 200, body = TemplateList), (status = 404, description = "No such channel", body = Problem)))]
async fn templates(
    Caller { path: id, .. }: Caller<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.store.channel_record(id).await?.is_none() {
        return Err(ApiError::NotFound { what: "channel" });
    }
    let items = state
        .store
        .templates(id)
        .await?
        .into_iter()
        .map(|t| TemplateJson {
            needs: TemplateNeeds::of(&t.components),
            name: t.name,
            language: t.language,
            category: t.category,
            status: t.status,
            quality: t.quality,
            synced_at: t.synced_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(TemplateList { items }))
}

/// Synchronises the channel's templates from Meta now (admins); they are also
/// synchronised hourly.
#[utoipa::path(post, path = "/admin/channels/{id}/templates/sync", params(("id" = ChannelId, Path)),
    responses((status = 200, body = Synced), (status = 403, description = "Admins only", body = Problem),
              (status = 409, description = "The channel has no `waba_id`, or messages go to the sandbox", body = Problem),
              (status = 502, description = "Meta's Graph API failed", body = Problem)))]
async fn sync_templates(
    Admin { path: id, .. }: Admin<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let templates =
        switchboard_core::templates::sync_templates(state.store.as_ref(), &state.channel_directory, id, Utc::now())
            .await?;
    Ok(HttpResponse::Ok().json(Synced { templates }))
}
