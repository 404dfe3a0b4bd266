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

/// One bar of the chart: where it is and what it says.
struct Bar {
    x: String,
    y: String,
    height: String,
    title: String,
}

/// The chart: clicks and conversations started per day, as bars drawn in SVG units.
struct Chart {
    width: u32,
    height: u32,
    /// The plot's baseline (`y`) and left edge (`x`).
    base: u32,
    left: u32,
    bar_width: String,
    clicks: Vec<Bar>,
    started: Vec<Bar>,
    /// The largest value, written at the top of the axis.
    max: i64,
    /// `(x, date)` under the first, middle and last day.
    ticks: Vec<(String, String)>,
}

impl Chart {
    const WIDTH: u32 = 640;
    const HEIGHT: u32 = 220;
    const LEFT: u32 = 36;
    const TOP: u32 = 12;
    const BOTTOM: u32 = 28;

    fn draw(days: &[DayJson]) -> Self {
        let n = days.len().max(1);
        let max = days.iter().map(|d| d.counts.clicks.max(d.counts.conversations_started)).max().unwrap_or(0).max(1);
        let plot_w = f64::from(Self::WIDTH - Self::LEFT - 4);
        let plot_h = f64::from(Self::HEIGHT - Self::TOP - Self::BOTTOM);
        let base = Self::HEIGHT - Self::BOTTOM;
        #[allow(clippy::cast_precision_loss)]
        let slot = plot_w / n as f64;
        let bar = (slot / 2.0 - 1.0).max(1.0);
        #[allow(clippy::cast_precision_loss)]
        let bar_of = |i: usize, offset: f64, value: i64, what: &str, date: NaiveDate| {
            let h = plot_h * value as f64 / max as f64;
            Bar {
                x: format!("{:.1}", f64::from(Self::LEFT) + slot * i as f64 + offset),
                y: format!("{:.1}", f64::from(base) - h),
                height: format!("{h:.1}"),
                title: format!("{date}: {value} {what}"),
            }
        };
        let clicks = days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                bar_of(i, 0.5, d.counts.clicks, if d.counts.clicks == 1 { "click" } else { "clicks" }, d.date)
            })
            .collect();
        let started = days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let n = d.counts.conversations_started;
                bar_of(i, 0.5 + bar, n, if n == 1 { "conversation started" } else { "conversations started" }, d.date)
            })
            .collect();
        let mut ticks = Vec::new();
        for i in [0, n / 2, n - 1] {
            if let Some(d) = days.get(i)
                && !ticks.iter().any(|(_, t): &(String, String)| *t == d.date.format("%b %-d").to_string())
            {
                #[allow(clippy::cast_precision_loss)]
                let x = f64::from(Self::LEFT) + slot * i as f64 + slot / 2.0;
                ticks.push((format!("{x:.1}"), d.date.format("%b %-d").to_string()));
            }
        }
        Self {
            width: Self::WIDTH,
            height: Self::HEIGHT,
            base,
            left: Self::LEFT,
            bar_width: format!("{bar:.1}"),
            clicks,
            started,
            max,
            ticks,
        }
    }
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
    let chart = Chart::draw(&stats.days);
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
