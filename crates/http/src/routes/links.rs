//! `/api/v1/links`: click-to-chat links. Admins create, change and disable them; every
//! agent may read them and their stats. The short links themselves are served at the
//! root (`short_links.rs`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::link::{ClickToChat, PhoneNumber, PrefilledText, RefCode, RefFormat, Slug};
use switchboard_domain::{AgentId, AuditAction, ChannelId, LinkId};
use switchboard_store::{Link, LinkCursor, LinkDay, LinkPatch, LinkQuery, NewLink, Page, StoreError};
use utoipa::{IntoParams, ToSchema};

use switchboard_core::EntryExt;
use switchboard_core::admin::random_bytes;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::extract::{Admin, Caller};
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::labels::{LabelJson, double_option, resolve_labels};

routes! {
    "/links" => { get: list, post: create },
    "/links/{id}" => { get: get, patch: update },
    "/links/{id}/disable" => { post: disable },
    "/links/{id}/enable" => { post: enable },
    "/links/{id}/stats" => { get: stats },
}

/// What the link routes need from the configuration.
#[derive(Clone, Debug, Default)]
pub struct LinkOptions {
    /// `links.public_url` without a trailing slash; `None`: short links are relative.
    pub public_url: Option<String>,
    /// `links.ref_format`.
    pub ref_format: RefFormat,
}

impl LinkOptions {
    /// `{public_url}/l/{slug}{suffix}`, or the path alone without a public URL.
    pub(crate) fn short_url(&self, slug: &Slug, suffix: &str) -> String {
        format!("{}/l/{slug}{suffix}", self.public_url.as_deref().unwrap_or(""))
    }

    /// The wa.me link: the link's number, and its text with the reference appended.
    pub(crate) fn click_to_chat(&self, link: &Link) -> ClickToChat {
        let text = self.ref_format.append(link.text.as_deref().unwrap_or(""), &link.ref_code);
        ClickToChat { phone: Some(link.phone.clone()), text: PrefilledText::parse(&text).ok() }
    }

    /// What a QR code of the link encodes: the absolute short link when there is a public
    /// URL (so scans are counted), else the wa.me URL.
    pub(crate) fn qr_target(&self, link: &Link) -> String {
        if self.public_url.is_some() { self.short_url(&link.slug, "") } else { self.click_to_chat(link).wa_me_url() }
    }
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
/// Longest campaign, source and ad source id, in characters.
const NAME_MAX: usize = 100;
const TAG_MAX: usize = 50;
const TAGS_MAX: usize = 20;
/// Longest stats range, in days.
const STATS_MAX_DAYS: i64 = 366;

/// Where the link can be opened: short links are absolute with `links.public_url`
/// configured, else paths.
#[derive(Serialize, ToSchema)]
#[schema(as = LinkUrls)]
struct UrlsJson {
    /// `https://wa.me/…` with the prefilled text.
    wa_me: String,
    /// `https://api.whatsapp.com/send?…`, the same chat.
    api_whatsapp: String,
    /// `/l/{slug}`: counts the click, then to wa.me.
    short: String,
    qr_svg: String,
    qr_png: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Link)]
struct LinkJson {
    id: LinkId,
    channel_id: ChannelId,
    slug: String,
    ref_code: String,
    /// E.164, with `+`.
    phone: String,
    /// The prefilled text as the admin wrote it.
    #[schema(required = true)]
    text: Option<String>,
    /// What the customer's composer gets: the text with the reference appended.
    prefilled_text: String,
    #[schema(required = true)]
    campaign: Option<String>,
    #[schema(required = true)]
    source: Option<String>,
    tags: Vec<String>,
    #[schema(required = true)]
    ad_source_id: Option<String>,
    labels: Vec<LabelJson>,
    enabled: bool,
    #[schema(required = true)]
    created_by: Option<AgentId>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    urls: UrlsJson,
}

impl LinkJson {
    fn new(link: Link, opts: &LinkOptions) -> Self {
        let chat = opts.click_to_chat(&link);
        let urls = UrlsJson {
            wa_me: chat.wa_me_url(),
            api_whatsapp: chat.api_whatsapp_url(),
            short: opts.short_url(&link.slug, ""),
            qr_svg: opts.short_url(&link.slug, "/qr.svg"),
            qr_png: opts.short_url(&link.slug, "/qr.png"),
        };
        Self {
            id: link.id,
            channel_id: link.channel_id,
            slug: link.slug.to_string(),
            ref_code: link.ref_code.to_string(),
            phone: link.phone.to_string(),
            prefilled_text: opts.ref_format.append(link.text.as_deref().unwrap_or(""), &link.ref_code),
            text: link.text,
            campaign: link.campaign,
            source: link.source,
            tags: link.tags,
            ad_source_id: link.ad_source_id,
            labels: link.labels.into_iter().map(Into::into).collect(),
            enabled: link.enabled,
            created_by: link.created_by,
            created_at: link.created_at,
            updated_at: link.updated_at,
            urls,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateLink {
    /// Default: the only channel.
    #[schema(value_type = Option<ChannelId>)]
    channel_id: Option<String>,
    /// Default: the channel's display phone number (`whatsapp.display_phone_number`).
    phone: Option<String>,
    /// ISO 3166 region to read a national-format `phone` in.
    region: Option<String>,
    text: Option<String>,
    /// Generated when absent.
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}[A-Za-z0-9]$")]
    slug: Option<String>,
    /// At most 100 characters.
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    campaign: Option<String>,
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    source: Option<String>,
    /// Label ids or names: put on conversations the link starts.
    #[serde(default)]
    labels: Vec<String>,
    /// At most 20, each at most 50 characters.
    #[serde(default)]
    #[schema(max_items = 20)]
    tags: Vec<LinkTag>,
    /// The click-to-WhatsApp ad this link is for (at most one link per ad).
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    ad_source_id: Option<String>,
}

/// A tag: 1 to 50 characters, without control characters.
#[derive(Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(
    min_length = 1,
    max_length = 50,
    pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
)]
struct LinkTag(String);

/// Only the fields given change; `null` removes a text field. `slug`, `ref_code`,
/// `phone` and `channel_id` cannot change (they are printed in QR codes and links): giving
/// one is a 422.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateLink {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    text: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    campaign: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    source: Option<Option<String>>,
    /// Replaces the tags.
    #[schema(max_items = 20)]
    tags: Option<Vec<LinkTag>>,
    /// Label ids or names; replaces the labels.
    labels: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    ad_source_id: Option<Option<String>>,
    enabled: Option<bool>,
    // Printed on posters and QR codes: refused with a clear reason.
    #[schema(ignore)]
    slug: Option<serde_json::Value>,
    #[schema(ignore)]
    ref_code: Option<serde_json::Value>,
    #[schema(ignore)]
    phone: Option<serde_json::Value>,
    #[schema(ignore)]
    channel_id: Option<serde_json::Value>,
}

/// A short free-text field: trimmed, empty means none, at most [`NAME_MAX`] characters.
fn short_text(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let v = raw.map(str::trim).filter(|v| !v.is_empty())?;
    if v.chars().count() > NAME_MAX {
        errors.push(FieldError::new(field, format!("must be at most {NAME_MAX} characters")));
        return None;
    }
    if v.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "must not contain control characters"));
        return None;
    }
    Some(v.to_owned())
}

fn parse_tags(raw: &[LinkTag], errors: &mut Vec<FieldError>) -> Vec<String> {
    if raw.len() > TAGS_MAX {
        errors.push(FieldError::new("tags", format!("at most {TAGS_MAX} tags")));
        return Vec::new();
    }
    let mut tags: Vec<String> = Vec::new();
    for (i, LinkTag(t)) in raw.iter().enumerate() {
        let t = t.trim();
        if t.is_empty() || t.chars().count() > TAG_MAX || t.chars().any(char::is_control) {
            errors.push(FieldError::new(
                format!("tags[{i}]"),
                format!("must be 1 to {TAG_MAX} characters, without control characters"),
            ));
        } else if !tags.iter().any(|x| x == t) {
            tags.push(t.to_owned());
        }
    }
    tags
}

/// The prefilled text (trimmed; empty means none), checked to fit with the reference.
fn parse_text(raw: Option<&str>, format: &RefFormat, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = raw.map(str::trim).filter(|t| !t.is_empty())?;
    // The longest code the reference can carry.
    let probe = RefCode::parse(&"W".repeat(RefCode::MAX)).ok()?;
    match PrefilledText::parse(&format.append(text, &probe)) {
        Ok(_) => Some(text.to_owned()),
        Err(e) => {
            errors.push(FieldError::new("text", format!("with its reference: {e}")));
            None
        }
    }
}

fn link_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound { what: "link" },
        e => e.into(),
    }
}

/// Creates a click-to-chat link: a short link, QR codes and an attribution reference (admins).
#[utoipa::path(post, path = "/links", request_body = CreateLink,
    responses((status = 201, body = LinkJson), (status = 403, description = "Admins only", body = Problem),
              (status = 409, description = "Another link has this slug or ad source id", body = Problem)))]
async fn create(
    Admin { agent, .. }: Admin,
    body: Json<CreateLink>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let opts = &state.links;
    let channel_id = state.config().link_channel(body.channel_id.as_deref()).await?;
    let mut errors = Vec::new();
    let phone = match body.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => PhoneNumber::parse(p, body.region.as_deref())
            .map_err(|e| errors.push(FieldError::new("phone", e.to_string())))
            .ok(),
        None => {
            let known = state.store.display_phone_number(channel_id).await?;
            if known.is_none() {
                errors.push(FieldError::new(
                    "phone",
                    "the channel's phone number is not configured: give phone, or set whatsapp.display_phone_number",
                ));
            }
            known
        }
    };
    let slug = body
        .slug
        .as_deref()
        .and_then(|s| Slug::parse(s).map_err(|e| errors.push(FieldError::new("slug", e.to_string()))).ok());
    let text = parse_text(body.text.as_deref(), &opts.ref_format, &mut errors);
    let campaign = short_text("campaign", body.campaign.as_deref(), &mut errors);
    let source = short_text("source", body.source.as_deref(), &mut errors);
    let ad_source_id = short_text("ad_source_id", body.ad_source_id.as_deref(), &mut errors);
    let tags = parse_tags(&body.tags, &mut errors);
    let labels = match resolve_labels(&state, &body.labels, "labels").await {
        Ok(l) => l,
        Err(ApiError::Validation(e)) => {
            errors.extend(e);
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let (Some(phone), true) = (phone, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let given_slug = slug.is_some();
    let new = NewLink {
        channel_id,
        slug: slug.unwrap_or_else(|| Slug::generate(random_bytes())),
        ref_code: RefCode::generate(random_bytes()),
        phone,
        text,
        campaign,
        source,
        tags,
        ad_source_id,
        labels,
        created_by: Some(agent.0.id),
        at: Utc::now(),
    };
    let link = state.config().create_link(new, given_slug).await?;
    tracing::info!(link_id = %link.id, agent_id = %agent.0.id, "link created");
    let id = link.id;
    let link = LinkJson::new(link, opts);
    state.audit().record(agent.audit(AuditAction::LinkCreated).target("link", id).after(&link)).await;
    Ok(HttpResponse::Created().json(link))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Links per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct LinkList {
    items: Vec<LinkJson>,
    /// `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// Links, a page at a time (any agent).
#[utoipa::path(get, path = "/links", params(ListParams), responses((status = 200, body = LinkList)))]
async fn list(
    _agent: AuthenticatedAgent,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let limit = match params.limit.as_deref().map(str::parse::<u32>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new("limit", format!("must be a whole number from 1 to {MAX_LIMIT}")));
            DEFAULT_LIMIT
        }
    };
    let after = match params.cursor.as_deref() {
        None => None,
        Some(c) => c.parse::<LinkId>().ok().map(|id| LinkCursor { id }).or_else(|| {
            errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
            None
        }),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let Page { items, next } = state.store.list_links(&LinkQuery { limit, after }).await?;
    let items = items.into_iter().map(|l| LinkJson::new(l, &state.links)).collect();
    Ok(HttpResponse::Ok().json(LinkList { items, next_cursor: next.map(|c| c.id.to_string()) }))
}

/// One link (any agent).
#[utoipa::path(get, path = "/links/{id}", params(("id" = LinkId, Path)), responses((status = 200, body = LinkJson)))]
async fn get(Caller { path: id, .. }: Caller<LinkId>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let link = state.store.link(id).await?.ok_or(ApiError::NotFound { what: "link" })?;
    Ok(HttpResponse::Ok().json(LinkJson::new(link, &state.links)))
}

async fn apply_patch(
    agent: &AuthenticatedAgent,
    state: &AppState,
    id: LinkId,
    patch: &LinkPatch,
) -> Result<HttpResponse, ApiError> {
    let before = state.store.link(id).await?.map(|l| LinkJson::new(l, &state.links));
    let link = state.config().update_link(id, patch).await?;
    tracing::info!(link_id = %id, agent_id = %agent.0.id, enabled = link.enabled, "link updated");
    let link = LinkJson::new(link, &state.links);
    state.audit().record(agent.audit(AuditAction::LinkUpdated).target("link", id).before(&before).after(&link)).await;
    Ok(HttpResponse::Ok().json(link))
}

/// Changes a link's text, campaign, source, tags, labels, ad source id or state (admins).
#[utoipa::path(patch, path = "/links/{id}", params(("id" = LinkId, Path)), request_body = UpdateLink,
    responses((status = 200, body = LinkJson), (status = 403, description = "Admins only", body = Problem),
              (status = 409, description = "Another link has this ad source id", body = Problem)))]
async fn update(
    Admin { agent, path: id, .. }: Admin<LinkId>,
    body: Json<UpdateLink>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    for (field, given) in
        [("slug", &body.slug), ("ref_code", &body.ref_code), ("phone", &body.phone), ("channel_id", &body.channel_id)]
    {
        if given.is_some() {
            errors
                .push(FieldError::new(field, "cannot change: it is printed in QR codes and links; create a new link"));
        }
    }
    let mut patch = LinkPatch {
        text: body.text.as_ref().map(|t| parse_text(t.as_deref(), &state.links.ref_format, &mut errors)),
        campaign: body.campaign.as_ref().map(|c| short_text("campaign", c.as_deref(), &mut errors)),
        source: body.source.as_ref().map(|s| short_text("source", s.as_deref(), &mut errors)),
        tags: body.tags.as_deref().map(|t| parse_tags(t, &mut errors)),
        ad_source_id: body.ad_source_id.as_ref().map(|a| short_text("ad_source_id", a.as_deref(), &mut errors)),
        labels: None,
        enabled: body.enabled,
    };
    if let Some(labels) = &body.labels {
        match resolve_labels(&state, labels, "labels").await {
            Ok(l) => patch.labels = Some(l),
            Err(ApiError::Validation(e)) => errors.extend(e),
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    apply_patch(&agent, &state, id, &patch).await
}

/// Disables a link: its short link and QR codes answer 404 (admins).
#[utoipa::path(post, path = "/links/{id}/disable", params(("id" = LinkId, Path)),
    responses((status = 200, body = LinkJson), (status = 403, description = "Admins only", body = Problem)))]
async fn disable(
    Admin { agent, path: id, .. }: Admin<LinkId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    apply_patch(&agent, &state, id, &LinkPatch { enabled: Some(false), ..LinkPatch::default() }).await
}

/// Enables a link again (admins).
#[utoipa::path(post, path = "/links/{id}/enable", params(("id" = LinkId, Path)),
    responses((status = 200, body = LinkJson), (status = 403, description = "Admins only", body = Problem)))]
async fn enable(
    Admin { agent, path: id, .. }: Admin<LinkId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    apply_patch(&agent, &state, id, &LinkPatch { enabled: Some(true), ..LinkPatch::default() }).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsParams {
    /// The first UTC day (default: 29 days before `to`); at most 366 days before `to`.
    #[param(value_type = Option<NaiveDate>)]
    from: Option<String>,
    /// The last UTC day (default: today).
    #[param(value_type = Option<NaiveDate>)]
    to: Option<String>,
}

#[derive(Default, Serialize, ToSchema)]
#[schema(as = LinkCounts)]
pub(crate) struct Counts {
    /// Clicks, bots excluded.
    pub(crate) clicks: i64,
    /// Clicks by crawlers and link previews.
    pub(crate) bot_clicks: i64,
    pub(crate) conversations_started: i64,
    pub(crate) conversations_resolved: i64,
}

impl Counts {
    fn add(&mut self, d: &LinkDay) {
        self.clicks += d.clicks;
        self.bot_clicks += d.bot_clicks;
        self.conversations_started += d.conversations_started;
        self.conversations_resolved += d.conversations_resolved;
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = LinkStatsDay)]
pub(crate) struct DayJson {
    pub(crate) date: NaiveDate,
    #[serde(flatten)]
    pub(crate) counts: Counts,
}

fn parse_date(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = raw?;
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| errors.push(FieldError::new(field, "must be a date written YYYY-MM-DD (UTC)")))
        .ok()
}

/// A link's clicks and conversations per UTC day, with totals (any agent).
///
/// From `from` to `to` (both included; default: the last 30 days), every day listed.
/// Clicks are written in batches: those another instance received in the last
/// `links.click_flush_secs` may not be counted yet.
#[utoipa::path(get, path = "/links/{id}/stats", params(("id" = LinkId, Path), StatsParams),
    responses((status = 200, body = LinkStats)))]
async fn stats(
    Caller { path: id, .. }: Caller<LinkId>,
    params: web::Query<StatsParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let to = parse_date("to", params.to.as_deref(), &mut errors);
    let from = parse_date("from", params.from.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let to = to.unwrap_or_else(|| Utc::now().date_naive());
    let from = from.unwrap_or(to - Duration::days(29));
    if from > to {
        return Err(ApiError::field("from", "must not be after to"));
    }
    if (to - from).num_days() >= STATS_MAX_DAYS {
        return Err(ApiError::field("from", format!("the range may span at most {STATS_MAX_DAYS} days")));
    }
    Ok(HttpResponse::Ok().json(daily_stats(&state, id, from, to).await?))
}

/// A link's counts for every UTC day from `from` to `to` (both included), with totals:
/// what `GET /links/{id}/stats` answers, and what the console's chart draws.
pub(crate) async fn daily_stats(
    state: &AppState,
    id: LinkId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<LinkStats, ApiError> {
    // This process's clicks count too, not only those written at the last flush.
    if let Err(e) = state.clicks.flush().await {
        tracing::warn!(error = %e, "cannot write the click counts before reading stats");
    }
    let found = state.store.link_stats(id, from, to).await.map_err(link_not_found)?;
    let mut totals = Counts::default();
    let mut days = Vec::new();
    let mut found = found.into_iter().peekable();
    for day in from.iter_days().take_while(|d| *d <= to) {
        let mut counts = Counts::default();
        while let Some(d) = found.next_if(|d| d.day <= day) {
            if d.day == day {
                counts.add(&d);
            }
        }
        totals.add(&LinkDay {
            day,
            clicks: counts.clicks,
            bot_clicks: counts.bot_clicks,
            conversations_started: counts.conversations_started,
            conversations_resolved: counts.conversations_resolved,
        });
        days.push(DayJson { date: day, counts });
    }
    Ok(LinkStats { link_id: id, from, to, totals, days })
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LinkStats {
    link_id: LinkId,
    from: NaiveDate,
    to: NaiveDate,
    pub(crate) totals: Counts,
    pub(crate) days: Vec<DayJson>,
}
