//! A channel's settings: all of them (`…/auto-replies`) or one (`…/auto-replies/{section}`).

use std::borrow::Cow;
use std::str::FromStr;

use actix_web::{HttpResponse, web};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_core::EntryExt;
use switchboard_core::admin::SettingsInForce;
use switchboard_domain::autoreply::{AutoReplyConfig, Away, Greeting, KeywordRule, Limits, Locale, QuickReply};
use switchboard_domain::hours::BusinessHours;
use switchboard_domain::{AuditAction, ChannelId};
use switchboard_store::{ChannelAutoReplies, ChannelAutoRepliesPatch};
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::merged;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{self, Admin, FromPath, PathId};
use crate::json::{Body, FromBody, decode};
use crate::openapi::Problem;

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
pub(super) struct SettingsJson {
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
pub(super) struct SettingsPatchJson {
    #[schema(value_type = Option<String>)]
    business_name: Option<Option<String>>,
    #[schema(value_type = Option<Locale>)]
    locale: Option<Option<Locale>>,
    #[schema(value_type = Option<BusinessHours>)]
    hours: Option<Option<BusinessHours>>,
    #[schema(value_type = Option<Greeting>)]
    greeting: Option<Option<Greeting>>,
    #[schema(value_type = Option<Away>)]
    away: Option<Option<Away>>,
    #[schema(value_type = Option<Limits>)]
    limits: Option<Option<Limits>>,
}

/// Read by hand: serde cannot tell a setting left out from one that is `null`, and an
/// unknown field is named with the settings there are.
impl FromBody for SettingsPatchJson {
    fn from_body(mut body: Map<String, Value>) -> Result<Self, ApiError> {
        let patch = Self {
            business_name: patch_field(&mut body, "business_name")?,
            locale: patch_field(&mut body, "locale")?,
            hours: patch_field(&mut body, "hours")?,
            greeting: patch_field(&mut body, "greeting")?,
            away: patch_field(&mut body, "away")?,
            limits: patch_field(&mut body, "limits")?,
        };
        if let Some(unknown) = body.keys().next() {
            return Err(ApiError::field(
                unknown,
                "is not a setting (business_name, locale, hours, greeting, away, limits)",
            ));
        }
        Ok(patch)
    }
}

/// The channel's configuration in force, as the API shows it (for the audit log).
async fn in_force(state: &AppState, channel: ChannelId) -> Result<Value, ApiError> {
    let SettingsInForce { config, .. } = state.config().settings_in_force(channel).await?;
    Ok(serde_json::to_value(&config).unwrap_or_default())
}

/// Records a change of the channel's auto-reply configuration, before and after.
async fn audit_config(state: &AppState, agent: &crate::auth::AuthenticatedAgent, channel: ChannelId, before: Value) {
    match in_force(state, channel).await {
        Ok(after) => {
            state
                .audit()
                .record(
                    agent.audit(AuditAction::ChannelChanged).target("channel", channel).before(&before).after(&after),
                )
                .await;
        }
        Err(e) => tracing::error!(channel_id = %channel, error = %e, "the audit entry could not be built"),
    }
}

/// The section as stored now.
async fn section_value(
    state: &AppState,
    channel: ChannelId,
    section: Section,
) -> Result<Option<SectionJson>, ApiError> {
    let s = state.config().channel_settings(channel).await?;
    Ok(match section {
        Section::Hours => s.hours.map(SectionJson::Hours),
        Section::Greeting => s.greeting.map(SectionJson::Greeting),
        Section::Away => s.away.map(SectionJson::Away),
    })
}

const fn section_action(section: Section) -> AuditAction {
    match section {
        Section::Hours => AuditAction::HoursChanged,
        Section::Greeting => AuditAction::GreetingChanged,
        Section::Away => AuditAction::AwayChanged,
    }
}

async fn config_json(state: &AppState, channel: ChannelId) -> Result<HttpResponse, ApiError> {
    let SettingsInForce { version, config } = state.config().settings_in_force(channel).await?;
    Ok(HttpResponse::Ok().json(ConfigJson { head: ConfigHead { channel_id: channel, version }, config }))
}

/// A channel's auto-reply configuration in force (admins).
#[utoipa::path(get, path = "/admin/channels/{channel_id}/auto-replies", params(("channel_id" = ChannelId, Path)),
    responses((status = 200, body = ConfigJson), (status = 403, description = "Admins only", body = Problem)))]
pub(super) async fn get_config(
    Admin { path: channel, .. }: Admin<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
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
pub(super) async fn put_config(
    Admin { agent, path: channel, .. }: Admin<ChannelId>,
    body: Body<SettingsJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let config = state.config();
    let channel = config.channel(channel).await?;
    let s = body.read()?;
    let settings = ChannelAutoReplies {
        business_name: s.business_name,
        locale: s.locale,
        hours: s.hours,
        greeting: s.greeting,
        away: s.away,
        limits: s.limits,
    };
    let before = in_force(&state, channel.id).await?;
    config.replace_settings(&channel, &settings, s.quick_replies.as_ref(), s.rules.as_ref()).await?;
    tracing::info!(channel_id = %channel.id, admin_id = %agent.0.id, "auto-reply settings replaced");
    audit_config(&state, &agent, channel.id, before).await;
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
pub(super) async fn patch_config(
    Admin { agent, path: channel, .. }: Admin<ChannelId>,
    body: Body<SettingsPatchJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let config = state.config();
    let channel = config.channel(channel).await?;
    let SettingsPatchJson { business_name, locale, hours, greeting, away, limits } = body.read()?;
    let patch = ChannelAutoRepliesPatch {
        business_name: business_name.as_ref().map(Option::as_deref),
        locale: locale.as_ref().map(Option::as_ref),
        hours: hours.as_ref().map(Option::as_ref),
        greeting: greeting.as_ref().map(Option::as_ref),
        away: away.as_ref().map(Option::as_ref),
        limits: limits.as_ref().map(Option::as_ref),
    };
    let before = in_force(&state, channel.id).await?;
    config.write_settings(&channel, &patch, Some("")).await?;
    tracing::info!(channel_id = %channel.id, admin_id = %agent.0.id, "auto-reply settings changed");
    audit_config(&state, &agent, channel.id, before).await;
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

impl FromStr for Section {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "hours" => Ok(Self::Hours),
            "greeting" => Ok(Self::Greeting),
            "away" => Ok(Self::Away),
            _ => Err(()),
        }
    }
}

/// A section that is not one names no route.
impl PathId for Section {
    const WHAT: &'static str = "route";
}

/// `…/{channel_id}/auto-replies/{section}`: the section is checked first.
pub(super) struct SectionPath {
    channel: ChannelId,
    section: Section,
}

impl FromPath for SectionPath {
    fn from_segments(segments: &[String]) -> Result<Self, ApiError> {
        let [channel, section, ..] = segments else { return Err(ApiError::NotFound { what: "resource" }) };
        let section = extract::parse(section)?;
        Ok(Self { channel: extract::parse(channel)?, section })
    }
}

impl Section {
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
pub(super) enum SectionJson {
    Hours(BusinessHours),
    Greeting(Greeting),
    Away(Away),
}

impl SectionJson {
    /// The body as `section`'s own type.
    fn read(section: Section, body: Body<Self>) -> Result<Self, ApiError> {
        let body = Value::Object(body.into_object());
        Ok(match section {
            Section::Hours => Self::Hours(decode("", body)?),
            Section::Greeting => Self::Greeting(decode("", body)?),
            Section::Away => Self::Away(decode("", body)?),
        })
    }
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
pub(super) async fn get_section(
    Admin { path: SectionPath { channel, section }, .. }: Admin<SectionPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = state.config().channel_settings(channel).await?;
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
pub(super) async fn put_section(
    Admin { agent, path: SectionPath { channel, section }, .. }: Admin<SectionPath>,
    body: Body<SectionJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let config = state.config();
    let channel = config.channel(channel).await?;
    let value = SectionJson::read(section, body)?;
    let patch = match &value {
        SectionJson::Hours(h) => ChannelAutoRepliesPatch { hours: Some(Some(h)), ..ChannelAutoRepliesPatch::default() },
        SectionJson::Greeting(g) => {
            ChannelAutoRepliesPatch { greeting: Some(Some(g)), ..ChannelAutoRepliesPatch::default() }
        }
        SectionJson::Away(a) => ChannelAutoRepliesPatch { away: Some(Some(a)), ..ChannelAutoRepliesPatch::default() },
    };
    let before = section_value(&state, channel.id, section).await?;
    config.write_settings(&channel, &patch, Some(section.name())).await?;
    tracing::info!(channel_id = %channel.id, admin_id = %agent.0.id, section = section.name(), "auto-reply setting set");
    state
        .audit()
        .record(agent.audit(section_action(section)).target("channel", channel.id).before(&before).after(&value))
        .await;
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
pub(super) async fn delete_section(
    Admin { agent, path: SectionPath { channel, section }, .. }: Admin<SectionPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let config = state.config();
    let channel = config.channel(channel).await?;
    let patch = match section {
        Section::Hours => ChannelAutoRepliesPatch { hours: Some(None), ..ChannelAutoRepliesPatch::default() },
        Section::Greeting => ChannelAutoRepliesPatch { greeting: Some(None), ..ChannelAutoRepliesPatch::default() },
        Section::Away => ChannelAutoRepliesPatch { away: Some(None), ..ChannelAutoRepliesPatch::default() },
    };
    let before = section_value(&state, channel.id, section).await?;
    config.write_settings(&channel, &patch, None).await?;
    tracing::info!(channel_id = %channel.id, admin_id = %agent.0.id, section = section.name(), "auto-reply setting cleared");
    if before.is_some() {
        state.audit().record(agent.audit(section_action(section)).target("channel", channel.id).before(&before)).await;
    }
    Ok(HttpResponse::NoContent().finish())
}
