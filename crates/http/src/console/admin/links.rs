//! `/admin/links`: click-to-chat links, created and changed through `/api/v1/links`;
//! `/admin/links/{id}`: one link's wa.me and short URLs to copy, its QR code (the public
//! `/l/{slug}/qr.svg|png`, shown and downloadable) and its clicks and conversations per
//! day as a chart drawn here in SVG from the same numbers as `GET /api/v1/links/{id}/stats`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, NaiveDate, Utc};
use switchboard_domain::LinkId;
use switchboard_store::{Link, LinkCursor, LinkQuery};

use super::Nav;
use crate::AppState;
use crate::console::chart::{Chart, Series};
use crate::console::{ConsoleError, Layout, Page, query_pairs, render};
use crate::error::ApiError;
use crate::extract::Admin;
use crate::routes::links::{DayJson, daily_stats};
use crate::routes::sessions::public_base;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/links", web::get().to(list)).route("/links/{id}", web::get().to(detail));
}

/// Links per page of the list.
const PAGE: u32 = 100;
/// Days the chart shows, today included.
const CHART_DAYS: i64 = 30;

struct Choice {
    id: String,
    name: String,
    selected: bool,
}

struct Row {
    id: String,
    slug: String,
    campaign: String,
    text: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "console/admin_links.html")]
struct Links {
    layout: Layout,
    nav: Nav,
    links: Vec<Row>,
    /// The next page's cursor, if any.
    next: Option<String>,
    channels: Vec<Choice>,
    labels: Vec<Choice>,
    /// The only channel's display number is known: `phone` may be left empty.
    phone_known: bool,
}

async fn label_choices(state: &AppState, selected: &[String]) -> Result<Vec<Choice>, ConsoleError> {
    Ok(state
        .store
        .labels()
        .await?
        .into_iter()
        .map(|l| Choice {
            selected: selected.contains(&l.id.to_string()),
            id: l.id.to_string(),
            name: l.name.as_str().to_owned(),
        })
        .collect())
}

async fn list(
    Page(admin): Page<Admin>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let after = match query_pairs(&req)?.into_iter().find(|(k, _)| k == "cursor") {
        None => None,
        Some((_, c)) => Some(LinkCursor {
            id: c.parse::<LinkId>().map_err(|_| ApiError::field("cursor", "is not a cursor this page made"))?,
        }),
    };
    let page = state.store.list_links(&LinkQuery { limit: PAGE, after }).await?;
    let links = page
        .items
        .into_iter()
        .map(|l| Row {
            id: l.id.to_string(),
            slug: l.slug.to_string(),
            campaign: l.campaign.unwrap_or_default(),
            text: l.text.unwrap_or_default(),
            enabled: l.enabled,
        })
        .collect();
    let channels = state.store.channels().await?;
    let phone_known = match channels.as_slice() {
        [only] => state.store.display_phone_number(only.id).await?.is_some(),
        _ => false,
    };
    let channels = channels
        .into_iter()
        .enumerate()
        .map(|(i, c)| Choice { id: c.id.to_string(), name: c.name, selected: i == 0 })
        .collect();
    render(&Links {
        layout: Layout::signed_in("Click-to-chat links", &admin.agent),
        nav: Nav::at("/admin/links"),
        links,
        next: page.next.map(|c| c.id.to_string()),
        channels,
        labels: label_choices(&state, &[]).await?,
        phone_known,
    })
}

/// The chart: clicks and conversations started per day.
fn chart(days: &[DayJson]) -> Chart {
    let dates: Vec<NaiveDate> = days.iter().map(|d| d.date).collect();
    #[allow(clippy::cast_precision_loss)]
    let series = |class, one: &'static str, many: &'static str, get: fn(&DayJson) -> i64| Series {
        class,
        values: days
            .iter()
            .map(|d| (get(d) as f64, format!("{}: {} {}", d.date, get(d), if get(d) == 1 { one } else { many })))
            .collect(),
    };
    Chart::daily(
        &dates,
        36,
        &[
            series("bar-clicks", "click", "clicks", |d| d.counts.clicks),
            series("bar-started", "conversation started", "conversations started", |d| d.counts.conversations_started),
        ],
        #[allow(clippy::cast_possible_truncation)]
        |m| format!("{}", m.max(1.0).round() as i64),
    )
}

#[derive(Template)]
#[template(path = "console/admin_link.html")]
struct Detail {
    layout: Layout,
    nav: Nav,
    id: String,
    slug: String,
    enabled: bool,
    text: String,
    prefilled: String,
    campaign: String,
    source: String,
    phone: String,
    wa_me: String,
    short: String,
    qr_svg: String,
    qr_png: String,
    labels: Vec<Choice>,
    from: NaiveDate,
    to: NaiveDate,
    days: Vec<DayJson>,
    clicks: i64,
    bot_clicks: i64,
    started: i64,
    resolved: i64,
    chart: Chart,
}

async fn detail(
    Page(admin): Page<Admin<LinkId>>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let id = admin.path;
    let link: Link = state.store.link(id).await?.ok_or(ApiError::NotFound { what: "link" })?;
    let to = Utc::now().date_naive();
    let from = to - Duration::days(CHART_DAYS - 1);
    let stats = daily_stats(&state, id, from, to).await?;
    // Absolute, to copy and print: the public URL if configured, else this server's.
    let absolute = |url: String| if url.starts_with('/') { format!("{}{url}", public_base(&state, &req)) } else { url };
    let opts = &state.links;
    let selected: Vec<String> = link.labels.iter().map(|l| l.id.to_string()).collect();
    let chart = chart(&stats.days);
    render(&Detail {
        layout: Layout::signed_in(format!("Link {}", link.slug), &admin.agent),
        nav: Nav::at("/admin/links"),
        id: link.id.to_string(),
        slug: link.slug.to_string(),
        enabled: link.enabled,
        prefilled: opts.ref_format.append(link.text.as_deref().unwrap_or(""), &link.ref_code),
        wa_me: opts.click_to_chat(&link).wa_me_url(),
        short: absolute(opts.short_url(&link.slug, "")),
        // Same-origin paths: the page shows and downloads them from this server.
        qr_svg: format!("/l/{}/qr.svg", link.slug),
        qr_png: format!("/l/{}/qr.png", link.slug),
        text: link.text.unwrap_or_default(),
        campaign: link.campaign.unwrap_or_default(),
        source: link.source.unwrap_or_default(),
        phone: link.phone.to_string(),
        labels: label_choices(&state, &selected).await?,
        from,
        to,
        clicks: stats.totals.clicks,
        bot_clicks: stats.totals.bot_clicks,
        started: stats.totals.conversations_started,
        resolved: stats.totals.conversations_resolved,
        days: stats.days,
        chart,
    })
}
