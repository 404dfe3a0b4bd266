//! Auto-replies, configured by admins: a channel's business hours, greeting, away message,
//! limits and business name; the quick replies; the keyword rules and their order; and a
//! preview that explains what a sample message would get. Agents list quick replies.
//!
//! ```text
//! GET    /api/v1/quick-replies                                    any agent
//! GET    /api/v1/admin/channels/{channel_id}/auto-replies         what is in force
//! PUT    /api/v1/admin/channels/{channel_id}/auto-replies         the channel's settings, whole
//! PATCH  /api/v1/admin/channels/{channel_id}/auto-replies         some settings (null clears one)
//! GET|PUT|DELETE /api/v1/admin/channels/{channel_id}/auto-replies/{hours|greeting|away}
//! GET|POST       /api/v1/admin/quick-replies
//! GET|PUT|DELETE /api/v1/admin/quick-replies/{id}
//! GET|POST       /api/v1/admin/rules
//! PUT            /api/v1/admin/rules/order                        {"order": [rule ids]}
//! POST           /api/v1/admin/rules/preview
//! GET|PUT|DELETE /api/v1/admin/rules/{id}
//! ```
//!
//! Every write is validated against the whole configuration it produces (on every channel
//! it touches) with the engine's own compiler, before it is stored. Problems in the body
//! written are a 422 naming the field (relative to the body: `weekly.mon[0].end`,
//! `matcher.pattern`); a write that breaks another part of the configuration (deleting a
//! quick reply a rule sends, removing the hours an away message needs) is a 409 that says
//! which.

use std::borrow::Cow;
use std::collections::HashSet;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_domain::autoreply::{
    self, Action, AutoReplyConfig, Away, CompiledConfig, Explanation, Facts, Greeting, KeywordRule, Limits, Locale,
    QuickReply, RuleFiring, RuleRef,
};
use switchboard_domain::hours::BusinessHours;
use switchboard_domain::message::{InteractiveReply, Media, MessageContent};
use switchboard_domain::{ChannelId, QuickReplyId, RuleId, WaId, instant};
use switchboard_store::{ChannelAutoReplies, ChannelAutoRepliesPatch, ChannelInfo, StoreError, StoredRule};
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::json::Json;
use crate::openapi::Problem;

routes! {
    "/quick-replies" => { get: agent_quick_replies },
    "/admin/channels/{channel_id}/auto-replies" => { get: get_config, put: put_config, patch: patch_config },
    "/admin/channels/{channel_id}/auto-replies/{section}" => {
        get: get_section,
        put: put_section,
        delete: delete_section,
    },
    "/admin/quick-replies" => { get: list_quick_replies, post: create_quick_reply },
    "/admin/quick-replies/{id}" => { get: get_quick_reply, put: update_quick_reply, delete: delete_quick_reply },
    "/admin/rules" => { get: list_rules, post: create_rule },
    // Before `/admin/rules/{id}`, which would take these names as ids.
    "/admin/rules/order" => { put: reorder_rules },
    "/admin/rules/preview" => { post: preview },
    "/admin/rules/{id}" => { get: get_rule, put: update_rule, delete: delete_rule },
}

// ---------------------------------------------------------------------------------------
// Decoding and validation

/// Decodes `value` as `T`; a value of the wrong shape is a 422 naming its field (under
/// `prefix`, the body's own name for it, if any).
pub(crate) fn decode<T: DeserializeOwned>(prefix: &str, value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => "body".to_owned(),
            (true, _) => path,
            (false, ".") => prefix.to_owned(),
            (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
            (false, p) => format!("{prefix}.{p}"),
        };
        ApiError::field(&field, e.into_inner().to_string())
    })
}

/// Everything wrong with `config`, as the engine's compiler sees it.
fn problems(config: &AutoReplyConfig) -> Vec<autoreply::FieldError> {
    match CompiledConfig::new(config) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors,
    }
}

/// `path` relative to `prefix` when it lies under it (`hours.weekly` under `hours` is
/// `weekly`; `hours` itself is `hours`).
fn under(path: &str, prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return Some(path.to_owned());
    }
    if path == prefix {
        return Some(path.to_owned());
    }
    let rest = path.strip_prefix(prefix)?;
    if let Some(r) = rest.strip_prefix('.') {
        Some(r.to_owned())
    } else if rest.starts_with('[') {
        Some(rest.to_owned())
    } else {
        None
    }
}

/// One configuration before and after a write, and where the written body sits in it
/// (`None`: the write removes something).
struct Change {
    before: AutoReplyConfig,
    after: AutoReplyConfig,
    body_at: Option<String>,
}

/// Refuses a write whose configurations have problems they did not have before: those in
/// the body are a 422 naming the field (relative to the body), any other a 409.
fn check(changes: &[Change]) -> Result<(), ApiError> {
    let mut in_body: Vec<FieldError> = Vec::new();
    let mut elsewhere: Vec<String> = Vec::new();
    for c in changes {
        let before = problems(&c.before);
        for p in problems(&c.after) {
            if before.contains(&p) {
                continue;
            }
            match c.body_at.as_deref().and_then(|at| under(&p.path, at)) {
                Some(field) => {
                    if !in_body.iter().any(|f| f.field == field && f.message == p.message) {
                        in_body.push(FieldError::new(field, p.message));
                    }
                }
                None => {
                    let line = format!("{}: {}", p.path, p.message);
                    if !elsewhere.contains(&line) {
                        elsewhere.push(line);
                    }
                }
            }
        }
    }
    if !in_body.is_empty() {
        return Err(ApiError::Validation(in_body));
    }
    if !elsewhere.is_empty() {
        return Err(ApiError::StateConflict {
            code: "breaks_configuration",
            detail: format!("this change would break the auto-reply configuration: {}", elsewhere.join("; ")),
        });
    }
    Ok(())
}

fn channel_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound { what: "channel" },
        e => e.into(),
    }
}

fn parse_channel(raw: &str) -> Result<ChannelId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound { what: "channel" })
}

/// Every channel's configuration in force: the shared quick replies and rules must be
/// valid on every channel. With no channel yet, one made of the shared quick replies and
/// rules alone, so they are still validated.
async fn configs_in_force(state: &AppState) -> Result<Vec<(Option<ChannelInfo>, AutoReplyConfig)>, ApiError> {
    let channels = state.store.channels().await?;
    if channels.is_empty() {
        let config = AutoReplyConfig {
            quick_replies: state.store.quick_replies().await?,
            rules: state.store.keyword_rules().await?.into_iter().map(|r| r.rule).collect(),
            ..AutoReplyConfig::default()
        };
        return Ok(vec![(None, config)]);
    }
    let mut out = Vec::with_capacity(channels.len());
    for ch in channels {
        let config = state.store.auto_reply_config(ch.id).await?;
        out.push((Some(ch), config));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// A channel's settings

/// The schema of a struct that serialises as `A`'s fields and `B`'s side by side (two
/// `#[serde(flatten)]` fields): one object with the properties of both. (The `allOf` utoipa
/// derives for a flattened field would refuse `B`'s fields: `A` denies unknown ones.)
fn merged<A: PartialSchema, B: PartialSchema>(description: &str) -> RefOr<Schema> {
    match (A::schema(), B::schema()) {
        (RefOr::T(Schema::Object(mut a)), RefOr::T(Schema::Object(b))) => {
            a.properties.extend(b.properties);
            a.required.extend(b.required);
            a.description = Some(description.to_owned());
            RefOr::T(Schema::Object(a))
        }
        (a, b) => AllOfBuilder::new().item(a).item(b).description(Some(description)).into(),
    }
}

/// `GET …/auto-replies`: what is in force, with the configuration version.
#[derive(Serialize)]
struct ConfigJson {
    #[serde(flatten)]
    head: ConfigHead,
    #[serde(flatten)]
    config: AutoReplyConfig,
}

#[derive(Serialize, ToSchema)]
struct ConfigHead {
    channel_id: ChannelId,
    /// The auto-reply configuration's version: it grows with every change (any channel's
    /// settings, a quick reply, a rule).
    version: i64,
}

impl PartialSchema for ConfigJson {
    fn schema() -> RefOr<Schema> {
        merged::<AutoReplyConfig, ConfigHead>(
            "A channel's auto-reply configuration in force (its settings, the shared quick replies and \
             the rules that apply to it), with the configuration version.",
        )
    }
}

impl ToSchema for ConfigJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AutoRepliesInForce")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <AutoReplyConfig as ToSchema>::schemas(schemas);
        <ConfigHead as ToSchema>::schemas(schemas);
    }
}

/// The channel's settings in a PUT: every one optional (absent = not set). The fields a
/// GET also returns (`channel_id`, `version`, `quick_replies`, `rules`) are accepted so a
/// GET can be edited and PUT back; quick replies and rules are edited at their own URLs,
/// so they must be unchanged.
#[derive(Deserialize, ToSchema)]
#[schema(as = AutoReplySettings)]
#[serde(deny_unknown_fields)]
struct SettingsJson {
    /// `{{business.name}}` (default: the channel's name).
    #[serde(default)]
    business_name: Option<String>,
    #[serde(default)]
    locale: Option<Locale>,
    #[serde(default)]
    hours: Option<BusinessHours>,
    #[serde(default)]
    greeting: Option<Greeting>,
    #[serde(default)]
    away: Option<Away>,
    #[serde(default)]
    limits: Option<Limits>,
    /// Ignored (as a GET shows it).
    #[serde(default)]
    #[allow(dead_code)]
    channel_id: Option<ChannelId>,
    /// Ignored (as a GET shows it).
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<i64>,
    /// If given, must be the quick replies in force (edited at `/api/v1/admin/quick-replies`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<QuickReply>>)]
    quick_replies: Option<Value>,
    /// If given, must be the rules in force on the channel (edited at `/api/v1/admin/rules`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<KeywordRule>>)]
    rules: Option<Value>,
}

/// The settings to change: a setting left out stays as it is, `null` clears it (back to
/// its default), a value replaces it.
#[derive(ToSchema)]
#[schema(as = AutoReplySettingsPatch)]
#[allow(dead_code)] // Describes what `patch_config` reads; never built.
struct SettingsPatchJson {
    business_name: Option<String>,
    locale: Option<Locale>,
    hours: Option<BusinessHours>,
    greeting: Option<Greeting>,
    away: Option<Away>,
    limits: Option<Limits>,
}

/// The configuration in force with `settings` instead of the stored ones.
fn with_settings(mut config: AutoReplyConfig, channel: &ChannelInfo, s: &ChannelAutoReplies) -> AutoReplyConfig {
    config.business_name = s.business_name.clone().unwrap_or_else(|| channel.name.clone());
    config.locale = s.locale.clone().unwrap_or_default();
    config.hours = s.hours.clone();
    config.greeting = s.greeting.clone();
    config.away = s.away.clone();
    config.limits = s.limits.unwrap_or_default();
    config
}

async fn channel_info(state: &AppState, id: ChannelId) -> Result<ChannelInfo, ApiError> {
    state.store.channels().await?.into_iter().find(|c| c.id == id).ok_or(ApiError::NotFound { what: "channel" })
}

/// Validates and stores a change of the channel's settings; `body_at` is where the body
/// sits in the configuration (`""` for the whole settings document).
async fn write_settings(
    state: &AppState,
    channel: &ChannelInfo,
    patch: &ChannelAutoRepliesPatch<'_>,
    body_at: Option<&str>,
) -> Result<(), ApiError> {
    let stored = state.store.channel_auto_replies(channel.id).await.map_err(channel_not_found)?;
    let before = state.store.auto_reply_config(channel.id).await.map_err(channel_not_found)?;
    let after = with_settings(before.clone(), channel, &patch.apply(&stored));
    check(&[Change { before, after, body_at: body_at.map(str::to_owned) }])?;
    state.store.patch_channel_auto_replies(channel.id, patch, Utc::now()).await.map_err(channel_not_found)?;
    Ok(())
}

async fn config_json(state: &AppState, channel: ChannelId) -> Result<HttpResponse, ApiError> {
    let version = state.store.auto_reply_config_version().await?;
    let config = state.store.auto_reply_config(channel).await.map_err(channel_not_found)?;
    Ok(HttpResponse::Ok().json(ConfigJson { head: ConfigHead { channel_id: channel, version }, config }))
}

/// A channel's auto-reply configuration in force (admins).
#[utoipa::path(get, path = "/admin/channels/{channel_id}/auto-replies", params(("channel_id" = ChannelId, Path)),
    responses((status = 200, body = ConfigJson), (status = 403, description = "Admins only", body = Problem)))]
async fn get_config(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let channel = parse_channel(&path)?;
    config_json(&state, channel).await
}

/// Replaces a channel's auto-reply settings, whole (admins); answers the configuration in force.
#[utoipa::path(put, path = "/admin/channels/{channel_id}/auto-replies",
    params(("channel_id" = ChannelId, Path)),
    request_body = SettingsJson,
    responses(
        (status = 200, body = ConfigJson),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The change would break another part of the configuration", body = Problem),
    ))]
async fn put_config(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let channel = channel_info(&state, parse_channel(&path)?).await?;
    let s: SettingsJson = decode("", body.into_inner())?;
    let in_force = state.store.auto_reply_config(channel.id).await.map_err(channel_not_found)?;
    for (field, given, current, url) in [
        ("quick_replies", &s.quick_replies, json!(in_force.quick_replies), "/api/v1/admin/quick-replies"),
        ("rules", &s.rules, json!(in_force.rules), "/api/v1/admin/rules"),
    ] {
        if given.as_ref().is_some_and(|g| *g != current) {
            return Err(ApiError::field(field, format!("is shared by all channels and edited at {url}")));
        }
    }
    let settings = ChannelAutoReplies {
        business_name: s.business_name,
        locale: s.locale,
        hours: s.hours,
        greeting: s.greeting,
        away: s.away,
        limits: s.limits,
    };
    write_settings(&state, &channel, &ChannelAutoRepliesPatch::replace_all(&settings), Some("")).await?;
    tracing::info!(channel_id = %channel.id, admin_id = %agent.0.id, "auto-reply settings replaced");
    config_json(&state, channel.id).await
}

/// A setting in a PATCH: absent (leave), `null` (clear) or a value (set).
fn patch_field<T: DeserializeOwned>(body: &mut Map<String, Value>, name: &str) -> Result<Option<Option<T>>, ApiError> {
    match body.remove(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => decode(name, v).map(|v| Some(Some(v))),
    }
}

/// Changes some of a channel's auto-reply settings (admins); answers the configuration in force.
#[utoipa::path(patch, path = "/admin/channels/{channel_id}/auto-replies",
    params(("channel_id" = ChannelId, Path)),
    request_body = SettingsPatchJson,
    responses(
        (status = 200, body = ConfigJson),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The change would break another part of the configuration", body = Problem),
    ))]
async fn patch_config(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let channel = channel_info(&state, parse_channel(&path)?).await?;
    let Value::Object(mut body) = body.into_inner() else {
        return Err(ApiError::field("body", "must be a JSON object of settings to change"));
    };
    let business_name: Option<Option<String>> = patch_field(&mut body, "business_name")?;
    let locale: Option<Option<Locale>> = patch_field(&mut body, "locale")?;
    let hours: Option<Option<BusinessHours>> = patch_field(&mut body, "hours")?;
    let greeting: Option<Option<Greeting>> = patch_field(&mut body, "greeting")?;
    let away: Option<Option<Away>> = patch_field(&mut body, "away")?;
    let limits: Option<Option<Limits>> = patch_field(&mut body, "limits")?;
    if let Some(unknown) = body.keys().next() {
        return Err(ApiError::field(
            unknown,
            "is not a setting (business_name, locale, hours, greeting, away, limits)",
        ));
    }
    let patch = ChannelAutoRepliesPatch {
        business_name: business_name.as_ref().map(Option::as_deref),
        locale: locale.as_ref().map(Option::as_ref),
        hours: hours.as_ref().map(Option::as_ref),
        greeting: greeting.as_ref().map(Option::as_ref),
        away: away.as_ref().map(Option::as_ref),
        limits: limits.as_ref().map(Option::as_ref),
    };
    write_settings(&state, &channel, &patch, Some("")).await?;
    tracing::info!(channel_id = %channel.id, admin_id = %agent.0.id, "auto-reply settings changed");
    config_json(&state, channel.id).await
}

/// `…/auto-replies/{section}`: one setting on its own.
#[derive(Clone, Copy, ToSchema)]
#[schema(rename_all = "lowercase")]
enum Section {
    Hours,
    Greeting,
    Away,
}

impl Section {
    fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "hours" => Ok(Self::Hours),
            "greeting" => Ok(Self::Greeting),
            "away" => Ok(Self::Away),
            _ => Err(ApiError::NotFound { what: "route" }),
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Hours => "hours",
            Self::Greeting => "greeting",
            Self::Away => "away",
        }
    }

    const fn what(self) -> &'static str {
        match self {
            Self::Hours => "business hours",
            Self::Greeting => "greeting",
            Self::Away => "away message",
        }
    }
}

/// One setting, as `…/auto-replies/{section}` reads and writes it: the section's own type.
#[derive(Serialize)]
#[serde(untagged)]
enum SectionJson {
    Hours(BusinessHours),
    Greeting(Greeting),
    Away(Away),
}

/// `anyOf`, not the `oneOf` utoipa derives for an untagged enum: a greeting can also read
/// as an away message.
impl PartialSchema for SectionJson {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(BusinessHours::name()))
            .item(Ref::from_schema_name(Greeting::name()))
            .item(Ref::from_schema_name(Away::name()))
            .description(Some(
                "The setting: `BusinessHours` for `hours`, `Greeting` for `greeting`, `Away` for `away`.",
            ))
            .into()
    }
}

impl ToSchema for SectionJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AutoReplySetting")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((BusinessHours::name().into_owned(), BusinessHours::schema()));
        <BusinessHours as ToSchema>::schemas(schemas);
        schemas.push((Greeting::name().into_owned(), Greeting::schema()));
        <Greeting as ToSchema>::schemas(schemas);
        schemas.push((Away::name().into_owned(), Away::schema()));
        <Away as ToSchema>::schemas(schemas);
    }
}

/// One of a channel's settings: its business hours, greeting or away message (admins).
#[utoipa::path(get, path = "/admin/channels/{channel_id}/auto-replies/{section}",
    params(("channel_id" = ChannelId, Path), ("section" = inline(Section), Path, description = "Which setting")),
    responses(
        (status = 200, description = "The setting", body = SectionJson),
        (status = 403, description = "Admins only", body = Problem),
        (status = 404, description = "No such channel or section, or the setting is not set", body = Problem),
    ))]
async fn get_section(
    agent: AuthenticatedAgent,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let (channel, section) = path.into_inner();
    let section = Section::parse(&section)?;
    let channel = parse_channel(&channel)?;
    let s = state.store.channel_auto_replies(channel).await.map_err(channel_not_found)?;
    let value = match section {
        Section::Hours => s.hours.map(SectionJson::Hours),
        Section::Greeting => s.greeting.map(SectionJson::Greeting),
        Section::Away => s.away.map(SectionJson::Away),
    };
    value.map(|v| HttpResponse::Ok().json(v)).ok_or(ApiError::NotFound { what: section.what() })
}

/// Sets a channel's business hours, greeting or away message (admins); answers it.
#[utoipa::path(put, path = "/admin/channels/{channel_id}/auto-replies/{section}",
    params(("channel_id" = ChannelId, Path), ("section" = inline(Section), Path, description = "Which setting")),
    request_body = SectionJson,
    responses(
        (status = 200, description = "The setting as stored", body = SectionJson),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The change would break another part of the configuration", body = Problem),
    ))]
async fn put_section(
    agent: AuthenticatedAgent,
    path: web::Path<(String, String)>,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let (channel, section) = path.into_inner();
    let section = Section::parse(&section)?;
    let channel = channel_info(&state, parse_channel(&channel)?).await?;
    let body = body.into_inner();
    let value = match section {
        Section::Hours => SectionJson::Hours(decode("", body)?),
        Section::Greeting => SectionJson::Greeting(decode("", body)?),
        Section::Away => SectionJson::Away(decode("", body)?),
    };
    let patch = match &value {
        SectionJson::Hours(h) => ChannelAutoRepliesPatch { hours: Some(Some(h)), ..ChannelAutoRepliesPatch::default() },
        SectionJson::Greeting(g) => {
            ChannelAutoRepliesPatch { greeting: Some(Some(g)), ..ChannelAutoRepliesPatch::default() }
        }
        SectionJson::Away(a) => ChannelAutoRepliesPatch { away: Some(Some(a)), ..ChannelAutoRepliesPatch::default() },
    };
    write_settings(&state, &channel, &patch, Some(section.name())).await?;
    tracing::info!(channel_id = %channel.id, admin_id = %agent.0.id, section = section.name(), "auto-reply setting set");
    Ok(HttpResponse::Ok().json(value))
}

/// Removes a channel's business hours, greeting or away message (admins).
#[utoipa::path(delete, path = "/admin/channels/{channel_id}/auto-replies/{section}",
    params(("channel_id" = ChannelId, Path), ("section" = inline(Section), Path, description = "Which setting")),
    responses(
        (status = 204, description = "Removed (or was not set)"),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "Something else needs it (an away message outside business hours needs the hours)",
            body = Problem),
    ))]
async fn delete_section(
    agent: AuthenticatedAgent,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let (channel, section) = path.into_inner();
    let section = Section::parse(&section)?;
    let channel = channel_info(&state, parse_channel(&channel)?).await?;
    let patch = match section {
        Section::Hours => ChannelAutoRepliesPatch { hours: Some(None), ..ChannelAutoRepliesPatch::default() },
        Section::Greeting => ChannelAutoRepliesPatch { greeting: Some(None), ..ChannelAutoRepliesPatch::default() },
        Section::Away => ChannelAutoRepliesPatch { away: Some(None), ..ChannelAutoRepliesPatch::default() },
    };
    write_settings(&state, &channel, &patch, None).await?;
    tracing::info!(channel_id = %channel.id, admin_id = %agent.0.id, section = section.name(), "auto-reply setting cleared");
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------
// Quick replies

/// The quick replies, in shortcut order.
#[derive(Serialize, ToSchema)]
struct QuickReplyList {
    items: Vec<QuickReply>,
}

/// The quick replies, in shortcut order (any agent).
#[utoipa::path(get, path = "/quick-replies", responses((status = 200, body = QuickReplyList)))]
async fn agent_quick_replies(_agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(QuickReplyList { items: state.store.quick_replies().await? }))
}

/// The quick replies, in shortcut order (admins).
#[utoipa::path(get, path = "/admin/quick-replies",
    responses((status = 200, body = QuickReplyList), (status = 403, description = "Admins only", body = Problem)))]
async fn list_quick_replies(agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    Ok(HttpResponse::Ok().json(QuickReplyList { items: state.store.quick_replies().await? }))
}

fn quick_reply_id(raw: &str) -> Result<QuickReplyId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound { what: "quick reply" })
}

fn quick_reply_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound { what: "quick reply" },
        e => e.into(),
    }
}

/// One quick reply (admins).
#[utoipa::path(get, path = "/admin/quick-replies/{id}",
    params(("id" = QuickReplyId, Path)),
    responses((status = 200, body = QuickReply), (status = 403, description = "Admins only", body = Problem)))]
async fn get_quick_reply(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let id = quick_reply_id(&path)?;
    let qr = state.store.quick_reply(id).await?.ok_or(ApiError::NotFound { what: "quick reply" })?;
    Ok(HttpResponse::Ok().json(qr))
}

/// The quick replies with `qr` in place of the one with its id (or added, or, for
/// `None`, `removed` taken out); the index of `qr`, in shortcut order as stored.
fn replace_quick_reply(
    list: &[QuickReply],
    qr: Option<&QuickReply>,
    removed: Option<QuickReplyId>,
) -> (Vec<QuickReply>, Option<usize>) {
    let gone = qr.map(|q| q.id).or(removed);
    let mut out: Vec<QuickReply> = list.iter().filter(|q| Some(q.id) != gone).cloned().collect();
    if let Some(q) = qr {
        out.push(q.clone());
    }
    out.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
    let at = qr.and_then(|q| out.iter().position(|x| x.id == q.id));
    (out, at)
}

async fn check_quick_reply(
    state: &AppState,
    qr: Option<&QuickReply>,
    removed: Option<QuickReplyId>,
) -> Result<(), ApiError> {
    let mut changes = Vec::new();
    for (_, before) in configs_in_force(state).await? {
        let (quick_replies, at) = replace_quick_reply(&before.quick_replies, qr, removed);
        let after = AutoReplyConfig { quick_replies, ..before.clone() };
        changes.push(Change { before, after, body_at: at.map(|i| format!("quick_replies[{i}]")) });
    }
    check(&changes)
}

/// Creates a quick reply (admins); its id is generated unless given.
#[utoipa::path(post, path = "/admin/quick-replies", request_body = QuickReply,
    responses(
        (status = 201, body = QuickReply,
            headers(("location" = String, description = "The new quick reply's URL"))),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The shortcut or id is taken, or the change would break a rule", body = Problem),
    ))]
async fn create_quick_reply(
    agent: AuthenticatedAgent,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let qr: QuickReply = decode("", body.into_inner())?;
    if state.store.quick_reply_by_shortcut(&qr.shortcut).await?.is_some() {
        return Err(ApiError::Conflict { what: "quick reply shortcut" });
    }
    check_quick_reply(&state, Some(&qr), None).await?;
    state.store.create_quick_reply(&qr, Utc::now()).await?;
    tracing::info!(quick_reply_id = %qr.id, admin_id = %agent.0.id, "quick reply created");
    Ok(HttpResponse::Created().insert_header(("location", format!("/api/v1/admin/quick-replies/{}", qr.id))).json(qr))
}

/// A body for `/…/{id}`: its `id`, if any, must be the path's.
fn body_with_id(mut body: Value, id: &str) -> Result<Value, ApiError> {
    let Value::Object(map) = &mut body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    match map.get("id") {
        None => {
            map.insert("id".into(), Value::String(id.to_owned()));
        }
        Some(Value::String(s)) if s == id => {}
        Some(_) => return Err(ApiError::field("id", "must be the id in the URL (or left out)")),
    }
    Ok(body)
}

/// Replaces a quick reply (admins); the body's `id`, if any, must be the URL's.
#[utoipa::path(put, path = "/admin/quick-replies/{id}", params(("id" = QuickReplyId, Path)), request_body = QuickReply,
    responses(
        (status = 200, body = QuickReply),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The shortcut is taken, or the change would break a rule", body = Problem),
    ))]
async fn update_quick_reply(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let id = quick_reply_id(&path)?;
    let qr: QuickReply = decode("", body_with_id(body.into_inner(), &id.to_string())?)?;
    state.store.quick_reply(id).await?.ok_or(ApiError::NotFound { what: "quick reply" })?;
    if state.store.quick_reply_by_shortcut(&qr.shortcut).await?.is_some_and(|other| other.id != id) {
        return Err(ApiError::Conflict { what: "quick reply shortcut" });
    }
    check_quick_reply(&state, Some(&qr), None).await?;
    state.store.update_quick_reply(&qr, Utc::now()).await.map_err(quick_reply_not_found)?;
    tracing::info!(quick_reply_id = %qr.id, admin_id = %agent.0.id, "quick reply updated");
    Ok(HttpResponse::Ok().json(qr))
}

/// Deletes a quick reply (admins), unless a rule sends it.
#[utoipa::path(delete, path = "/admin/quick-replies/{id}", params(("id" = QuickReplyId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "A rule sends it", body = Problem),
    ))]
async fn delete_quick_reply(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let id = quick_reply_id(&path)?;
    state.store.quick_reply(id).await?.ok_or(ApiError::NotFound { what: "quick reply" })?;
    check_quick_reply(&state, None, Some(id)).await?;
    state.store.delete_quick_reply(id, Utc::now()).await.map_err(quick_reply_not_found)?;
    tracing::info!(quick_reply_id = %id, admin_id = %agent.0.id, "quick reply deleted");
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------
// Keyword rules

/// A keyword rule as the API shows and takes it: the rule's own fields and `channel_id`.
#[derive(Serialize)]
struct RuleJson {
    #[serde(flatten)]
    rule: KeywordRule,
    #[serde(flatten)]
    channel: RuleChannel,
}

#[derive(Serialize, ToSchema)]
struct RuleChannel {
    /// The only channel the rule applies to; `null` (or left out, when writing): every channel.
    channel_id: Option<ChannelId>,
}

impl PartialSchema for RuleJson {
    fn schema() -> RefOr<Schema> {
        merged::<KeywordRule, RuleChannel>(
            "A keyword rule: when `matcher` matches, do `actions`; then stop (default) or go on to the \
             next rule. `channel_id` limits it to one channel.",
        )
    }
}

impl ToSchema for RuleJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Rule")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <KeywordRule as ToSchema>::schemas(schemas);
        <RuleChannel as ToSchema>::schemas(schemas);
    }
}

/// A rule as the API shows it: the rule's fields and `channel_id` (null: every channel).
fn rule_json(r: &StoredRule) -> RuleJson {
    RuleJson { rule: r.rule.clone(), channel: RuleChannel { channel_id: r.channel } }
}

/// The keyword rules, in evaluation order.
#[derive(Serialize, ToSchema)]
struct RuleList {
    items: Vec<RuleJson>,
}

/// A rule from the API: `channel_id` (optional) and the rule's own fields.
fn rule_from(mut body: Value) -> Result<StoredRule, ApiError> {
    let Value::Object(map) = &mut body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    let channel = match map.remove("channel_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(decode::<ChannelId>("channel_id", v)?),
    };
    Ok(StoredRule { channel, rule: decode("", body)? })
}

fn rule_id(raw: &str) -> Result<RuleId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound { what: "rule" })
}

fn rule_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound { what: "rule" },
        e => e.into(),
    }
}

/// Validates the rules as they would be after a write, on every channel.
async fn check_rules(state: &AppState, rules: &[StoredRule], written: Option<RuleId>) -> Result<(), ApiError> {
    let mut changes = Vec::new();
    for (channel, before) in configs_in_force(state).await? {
        let applies = |r: &&StoredRule| match (&channel, r.channel) {
            (_, None) => true,
            (Some(ch), Some(c)) => ch.id == c,
            (None, Some(_)) => false,
        };
        let after_rules: Vec<KeywordRule> = rules.iter().filter(applies).map(|r| r.rule.clone()).collect();
        let at = written.and_then(|id| after_rules.iter().position(|r| r.id == id));
        let after = AutoReplyConfig { rules: after_rules, ..before.clone() };
        changes.push(Change { before, after, body_at: at.map(|i| format!("rules[{i}]")) });
    }
    check(&changes)
}

async fn require_rule_channel(state: &AppState, rule: &StoredRule) -> Result<(), ApiError> {
    if let Some(ch) = rule.channel
        && !state.store.channels().await?.iter().any(|c| c.id == ch)
    {
        return Err(ApiError::field("channel_id", "no such channel"));
    }
    Ok(())
}

/// The keyword rules, in evaluation order (admins).
#[utoipa::path(get, path = "/admin/rules",
    responses((status = 200, body = RuleList), (status = 403, description = "Admins only", body = Problem)))]
async fn list_rules(agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let rules = state.store.keyword_rules().await?;
    Ok(HttpResponse::Ok().json(RuleList { items: rules.iter().map(rule_json).collect() }))
}

/// One keyword rule (admins).
#[utoipa::path(get, path = "/admin/rules/{id}",
    params(("id" = RuleId, Path)),
    responses((status = 200, body = RuleJson), (status = 403, description = "Admins only", body = Problem)))]
async fn get_rule(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let id = rule_id(&path)?;
    let rule = state.store.keyword_rule(id).await?.ok_or(ApiError::NotFound { what: "rule" })?;
    Ok(HttpResponse::Ok().json(rule_json(&rule)))
}

/// Adds a keyword rule, last in the order (admins); its id is generated unless given.
#[utoipa::path(post, path = "/admin/rules", request_body = RuleJson,
    responses(
        (status = 201, body = RuleJson, headers(("location" = String, description = "The new rule's URL"))),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The id is taken, or the change would break the configuration", body = Problem),
    ))]
async fn create_rule(
    agent: AuthenticatedAgent,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let rule = rule_from(body.into_inner())?;
    require_rule_channel(&state, &rule).await?;
    let mut rules = state.store.keyword_rules().await?;
    if rules.iter().any(|r| r.rule.id == rule.rule.id) {
        return Err(ApiError::Conflict { what: "rule" });
    }
    rules.push(rule.clone());
    check_rules(&state, &rules, Some(rule.rule.id)).await?;
    state.store.create_keyword_rule(&rule, Utc::now()).await?;
    tracing::info!(rule_id = %rule.rule.id, admin_id = %agent.0.id, "keyword rule created");
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/api/v1/admin/rules/{}", rule.rule.id)))
        .json(rule_json(&rule)))
}

/// Replaces a keyword rule, in place (admins); the body's `id`, if any, must be the URL's.
#[utoipa::path(put, path = "/admin/rules/{id}", params(("id" = RuleId, Path)), request_body = RuleJson,
    responses(
        (status = 200, body = RuleJson),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The change would break the configuration on some channel", body = Problem),
    ))]
async fn update_rule(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let id = rule_id(&path)?;
    let rule = rule_from(body_with_id(body.into_inner(), &id.to_string())?)?;
    require_rule_channel(&state, &rule).await?;
    let mut rules = state.store.keyword_rules().await?;
    let slot = rules.iter_mut().find(|r| r.rule.id == id).ok_or(ApiError::NotFound { what: "rule" })?;
    *slot = rule.clone();
    check_rules(&state, &rules, Some(id)).await?;
    state.store.update_keyword_rule(&rule, Utc::now()).await.map_err(rule_not_found)?;
    tracing::info!(rule_id = %id, admin_id = %agent.0.id, "keyword rule updated");
    Ok(HttpResponse::Ok().json(rule_json(&rule)))
}

/// Deletes a keyword rule (admins).
#[utoipa::path(delete, path = "/admin/rules/{id}", params(("id" = RuleId, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Admins only", body = Problem)))]
async fn delete_rule(
    agent: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let id = rule_id(&path)?;
    state.store.delete_keyword_rule(id, Utc::now()).await.map_err(rule_not_found)?;
    tracing::info!(rule_id = %id, admin_id = %agent.0.id, "keyword rule deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// The new evaluation order.
#[derive(Deserialize, ToSchema)]
#[schema(as = RuleOrder)]
#[serde(deny_unknown_fields)]
struct OrderJson {
    /// Every rule's id, each once, in the new order.
    order: Vec<RuleId>,
}

/// Sets the order rules are evaluated in (admins); answers the rules in that order.
#[utoipa::path(put, path = "/admin/rules/order", request_body = OrderJson,
    responses(
        (status = 200, body = RuleList),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The rules changed meanwhile (`rules_changed`); list them again", body = Problem),
    ))]
async fn reorder_rules(
    agent: AuthenticatedAgent,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let OrderJson { order } = decode("", body.into_inner())?;
    let rules = state.store.keyword_rules().await?;
    let known: HashSet<RuleId> = rules.iter().map(|r| r.rule.id).collect();
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for (i, id) in order.iter().enumerate() {
        if !known.contains(id) {
            errors.push(FieldError::new(format!("order[{i}]"), format!("no rule {id}")));
        } else if !seen.insert(*id) {
            errors.push(FieldError::new(format!("order[{i}]"), format!("rule {id} is listed twice")));
        }
    }
    let missing: Vec<String> =
        rules.iter().filter(|r| !seen.contains(&r.rule.id)).map(|r| r.rule.id.to_string()).collect();
    if errors.is_empty() && !missing.is_empty() {
        errors.push(FieldError::new("order", format!("must list every rule; missing: {}", missing.join(", "))));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    state.store.reorder_keyword_rules(&order, Utc::now()).await.map_err(|e| match e {
        // A rule was added or removed meanwhile.
        StoreError::Conflict { .. } | StoreError::NotFound => ApiError::StateConflict {
            code: "rules_changed",
            detail: "the rules changed meanwhile; list them again and resend the order".into(),
        },
        e => e.into(),
    })?;
    tracing::info!(admin_id = %agent.0.id, rules = order.len(), "keyword rules reordered");
    let rules = state.store.keyword_rules().await?;
    Ok(HttpResponse::Ok().json(RuleList { items: rules.iter().map(rule_json).collect() }))
}

// ---------------------------------------------------------------------------------------
// Preview

/// A sample inbound message: `{"type": "text", "text": …}`, `{"type": "button_reply",
/// "id": …}`, `{"type": "list_reply", "id": …}`, `{"type": "template_button", "payload":
/// …}`, or any other message type by name (`image`, `reaction`, `request_welcome`, …).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SampleMessage {
    /// `text`, `button_reply`, `list_reply`, `template_button`, `image`, `video`, `audio`,
    /// `document`, `sticker`, `location`, `contacts`, `reaction`, `order`, `system`,
    /// `request_welcome` or `unsupported`.
    #[serde(rename = "type")]
    kind: String,
    /// A text's body (required for `text`); a template button's or an order's text.
    #[serde(default)]
    text: Option<String>,
    /// The button or list row id (required for `button_reply` and `list_reply`).
    #[serde(default)]
    id: Option<String>,
    /// The button or list row title (default: the id).
    #[serde(default)]
    title: Option<String>,
    /// The template button's payload (required for `template_button`).
    #[serde(default)]
    payload: Option<String>,
    /// A media caption (image, video, document).
    #[serde(default)]
    caption: Option<String>,
}

impl SampleMessage {
    fn content(self) -> Result<MessageContent, ApiError> {
        let need = |v: Option<String>, field: &str| {
            v.filter(|s| !s.is_empty()).ok_or_else(|| {
                ApiError::field(&format!("message.{field}"), format!("is required for a {} message", self.kind))
            })
        };
        let media = |caption: Option<String>| Media { caption, ..Media::default() };
        Ok(match self.kind.as_str() {
            "text" => MessageContent::Text { body: need(self.text.clone(), "text")? },
            "button_reply" => {
                let id = need(self.id.clone(), "id")?;
                MessageContent::Interactive(InteractiveReply::ButtonReply {
                    title: self.title.clone().unwrap_or_else(|| id.clone()),
                    id,
                })
            }
            "list_reply" => {
                let id = need(self.id.clone(), "id")?;
                MessageContent::Interactive(InteractiveReply::ListReply {
                    title: self.title.clone().unwrap_or_else(|| id.clone()),
                    id,
                    description: None,
                })
            }
            "template_button" => {
                let payload = need(self.payload.clone(), "payload")?;
                MessageContent::Button {
                    text: self.text.clone().unwrap_or_else(|| payload.clone()),
                    payload: Some(payload),
                }
            }
            "image" => MessageContent::Image(media(self.caption)),
            "video" => MessageContent::Video(media(self.caption)),
            "audio" => MessageContent::Audio(media(None)),
            "document" => MessageContent::Document(media(self.caption)),
            "sticker" => MessageContent::Sticker(media(None)),
            "location" => {
                MessageContent::Location { latitude: 0.0, longitude: 0.0, name: None, address: None, url: None }
            }
            "contacts" => MessageContent::Contacts { contacts: Vec::new() },
            "reaction" => MessageContent::Reaction { message_id: String::new(), emoji: Some("👍".into()) },
            "order" => MessageContent::Order { catalog_id: None, text: self.text.clone(), product_items: Vec::new() },
            "system" => MessageContent::System {
                kind: "user_changed_number".into(),
                body: None,
                new_wa_id: None,
                user_id: None,
            },
            "request_welcome" => MessageContent::RequestWelcome,
            "unsupported" => MessageContent::Unsupported,
            other => {
                return Err(ApiError::field(
                    "message.type",
                    format!(
                        "{other:?} is not a message type (text, button_reply, list_reply, template_button, image, video, \
                         audio, document, sticker, location, contacts, reaction, order, system, request_welcome, unsupported)"
                    ),
                ));
            }
        })
    }
}

/// Who sends the sample message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SampleContact {
    /// Their WhatsApp id: the phone number in international format, digits only.
    #[schema(value_type = String, pattern = r"^\+?[0-9]{1,20}$")]
    wa_id: WaId,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    locale: Option<Locale>,
    /// Never seen before (the default when `last_seen_at` is not given).
    #[serde(default)]
    new: Option<bool>,
    /// Their last message either way, if not new.
    #[serde(default)]
    last_seen_at: Option<DateTime<Utc>>,
}

/// The conversation the sample message arrives in (default: a new one).
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SampleConversation {
    #[serde(default)]
    last_agent_reply_at: Option<DateTime<Utc>>,
    #[serde(default)]
    assigned_agent_name: Option<String>,
    /// When rules last fired in it: `[{"rule": "away", "at": …}]`.
    #[serde(default)]
    rule_fired: Vec<RuleFiring>,
    #[serde(default)]
    auto_replies_last_hour: u32,
}

/// A sample message, who sends it and where, for the preview.
#[derive(Deserialize, ToSchema)]
#[schema(as = PreviewRequest)]
#[serde(deny_unknown_fields)]
struct PreviewJson {
    channel_id: ChannelId,
    /// When the message arrives (default: now).
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    message: SampleMessage,
    contact: SampleContact,
    #[serde(default)]
    conversation: SampleConversation,
}

/// Why a greeting, away message or rule fired or not: `rule`, `outcome` and the outcome's
/// own fields.
#[derive(Serialize, ToSchema)]
#[schema(as = PreviewTrace)]
struct TraceJson {
    #[serde(flatten)]
    explanation: Explanation,
    /// The rule's name, for keyword rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// The outcome in a sentence.
    explanation_text: String,
}

/// A message the preview would send.
#[derive(Serialize, ToSchema)]
#[schema(as = PreviewReply)]
struct ReplyJson {
    rule: RuleRef,
    reply: autoreply::ReplyBody,
    /// The message as the conversation would show it.
    content: MessageContent,
}

/// What a sample message would get, and why.
#[derive(Serialize, ToSchema)]
struct PreviewResult {
    channel_id: ChannelId,
    at: DateTime<Utc>,
    version: i64,
    /// The rules that would fire, in order.
    fired: Vec<RuleRef>,
    /// Every action, in the order it would be taken.
    actions: Vec<Action>,
    /// The messages that would be sent, rendered.
    replies: Vec<ReplyJson>,
    /// Why each rule fired or not.
    trace: Vec<TraceJson>,
}

/// Previews what a sample message would get, and why; nothing is sent or stored (admins).
///
/// The configuration in force on the channel answers it, as the ingest worker would.
#[utoipa::path(post, path = "/admin/rules/preview", request_body = PreviewJson,
    responses(
        (status = 200, body = PreviewResult),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The channel's configuration is invalid (`invalid_configuration`)",
            body = Problem),
    ))]
async fn preview(
    agent: AuthenticatedAgent,
    body: Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    agent.require_admin()?;
    let p: PreviewJson = decode("", body.into_inner())?;
    let fired = p
        .conversation
        .rule_fired
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("conversation.rule_fired[{i}].at"), Some(f.at)));
    let times = [
        ("at".to_owned(), p.at),
        ("contact.last_seen_at".to_owned(), p.contact.last_seen_at),
        ("conversation.last_agent_reply_at".to_owned(), p.conversation.last_agent_reply_at),
    ];
    for (field, t) in times.into_iter().chain(fired) {
        if let Some(Err(e)) = t.map(instant::check) {
            return Err(ApiError::field(&field, e.to_string()));
        }
    }
    let at = p.at.unwrap_or_else(Utc::now);
    let version = state.store.auto_reply_config_version().await?;
    let config = state.store.auto_reply_config(p.channel_id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::field("channel_id", "no such channel"),
        e => e.into(),
    })?;
    let compiled = CompiledConfig::new(&config).map_err(|e| ApiError::StateConflict {
        code: "invalid_configuration",
        detail: format!("the channel's auto-reply configuration is invalid: {e}"),
    })?;
    let is_new = p.contact.new.unwrap_or(p.contact.last_seen_at.is_none());
    let facts = Facts {
        contact_wa_id: p.contact.wa_id,
        contact_name: p.contact.name,
        contact_locale: p.contact.locale,
        is_new_contact: is_new,
        last_contact_activity: if is_new { None } else { p.contact.last_seen_at },
        last_agent_reply: p.conversation.last_agent_reply_at,
        assigned_agent_name: p.conversation.assigned_agent_name,
        rule_fired: p.conversation.rule_fired,
        auto_replies_last_hour: p.conversation.auto_replies_last_hour,
    };
    let content = p.message.content()?;
    let evaluation = compiled.evaluate_content(&facts, &content, at);
    let name = |r: RuleRef| match r {
        RuleRef::Keyword(id) => config.rules.iter().find(|k| k.id == id).map(|k| k.name.clone()),
        _ => None,
    };
    let result = PreviewResult {
        channel_id: p.channel_id,
        at,
        version,
        fired: evaluation.fired().collect(),
        replies: evaluation
            .replies()
            .map(|(rule, reply)| ReplyJson { rule, content: reply.to_content(), reply: reply.clone() })
            .collect(),
        trace: evaluation
            .trace
            .iter()
            .map(|e| TraceJson { explanation: *e, name: name(e.rule), explanation_text: e.outcome.to_string() })
            .collect(),
        actions: evaluation.actions,
    };
    Ok(HttpResponse::Ok().json(result))
}
