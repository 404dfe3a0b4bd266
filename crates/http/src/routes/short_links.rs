//! The public short links, at the root: `GET /l/{slug}` answers 302 to wa.me and counts
//! the click (its hour, the referrer's host and the browser family; never the IP
//! address or the whole user agent; counted in memory, written in batches);
//! `/l/{slug}/qr.svg` and `/l/{slug}/qr.png?size=N` are the link as a QR code. Unknown
//! and disabled links get a plain 404 page.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::link::{AgentFamily, Slug, referrer_host};
use switchboard_store::{Link, NewClick};
use utoipa::IntoParams;

use crate::AppState;

routes! {
    "/l/{slug}" => { get: redirect, head: redirect_head },
    "/l/{slug}/qr.svg" => { get: qr_svg },
    "/l/{slug}/qr.png" => { get: qr_png },
}

/// QR code sizes accepted, in pixels (`?size=`).
pub const QR_SIZES: std::ops::RangeInclusive<u32> = 64..=2048;
const QR_DEFAULT_SIZE: u32 = 512;

const NOT_FOUND_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
<title>Link not available</title></head>\n<body><h1>This link is not available</h1>\
<p>The link you followed does not exist or has been switched off.</p></body></html>\n";

/// Why a short-link request gets no link: each is a plain page.
enum Refusal {
    NotFound,
    BadRequest(String),
    Unavailable,
}

impl Refusal {
    fn page(self) -> HttpResponse {
        match self {
            Self::NotFound => not_found(),
            Self::BadRequest(message) => bad_request(message),
            Self::Unavailable => unavailable(),
        }
    }
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(NOT_FOUND_PAGE)
}

fn bad_request(message: String) -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(message)
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")))
        .body("This link cannot be opened right now. Please try again in a moment.\n")
}

/// The enabled link behind a slug.
async fn enabled_link(state: &AppState, raw: &str) -> Result<Link, Refusal> {
    let Ok(slug) = Slug::parse(raw) else { return Err(Refusal::NotFound) };
    match state.store.link_by_slug(&slug).await {
        Ok(Some(link)) if link.enabled => Ok(link),
        Ok(_) => Err(Refusal::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "cannot look up a short link");
            Err(Refusal::Unavailable)
        }
    }
}

fn found(location: &str) -> HttpResponse {
    match HeaderValue::from_str(location) {
        Ok(v) => HttpResponse::Found()
            .insert_header((header::LOCATION, v))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header(("referrer-policy", HeaderValue::from_static("no-referrer")))
            .finish(),
        // wa.me URLs are percent-encoded ASCII: this cannot happen.
        Err(_) => not_found(),
    }
}

/// Opens WhatsApp: 302 to the link's wa.me URL, counting the click.
#[utoipa::path(get, path = "/l/{slug}",
    params(("slug" = String, Path, description = "The link's slug"),
           ("User-Agent" = Option<String>, Header, description = "Only its browser family is kept"),
           ("Referer" = Option<String>, Header, description = "Only its host is kept")),
    responses(
        (status = 302, description = "To WhatsApp (wa.me), with the prefilled text and its reference",
         headers(("Location" = String, description = "The wa.me URL"),
                 ("Cache-Control" = String, description = "`no-store`"),
                 ("Referrer-Policy" = String, description = "`no-referrer`"))),
        (status = 404, description = "No such link, or it is disabled: a plain page",
         content_type = "text/html; charset=utf-8", body = String),
        (status = 503, description = "The link cannot be looked up right now",
         content_type = "text/plain; charset=utf-8", body = String,
         headers(("Retry-After" = String, description = "Seconds (5)")))))]
async fn redirect(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let link = match enabled_link(&state, &path).await {
        Ok(link) => link,
        Err(refusal) => return refusal.page(),
    };
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let family = AgentFamily::from_user_agent(header(header::USER_AGENT));
    let click = NewClick {
        link: link.id,
        at: Utc::now(),
        referrer_host: header(header::REFERER).and_then(referrer_host),
        agent_family: family,
    };
    // Counted in memory, written in batches (switchboard_core::clicks).
    state.clicks.record(click);
    metrics::counter!("switchboard_link_clicks_total", "family" => family.as_str()).increment(1);
    found(&state.links.click_to_chat(&link).wa_me_url())
}

/// The same answer as `GET`, for link checkers; not counted as a click.
#[utoipa::path(head, path = "/l/{slug}",
    params(("slug" = String, Path, description = "The link's slug")),
    responses(
        (status = 302, description = "To WhatsApp (wa.me); the click is not counted",
         headers(("Location" = String, description = "The wa.me URL"),
                 ("Cache-Control" = String, description = "`no-store`"),
                 ("Referrer-Policy" = String, description = "`no-referrer`"))),
        (status = 404, description = "No such link, or it is disabled"),
        (status = 503, description = "The link cannot be looked up right now",
         headers(("Retry-After" = String, description = "Seconds (5)")))))]
async fn redirect_head(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    match enabled_link(&state, &path).await {
        Ok(link) => found(&state.links.click_to_chat(&link).wa_me_url()),
        Err(refusal) => refusal.page(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct QrParams {
    /// The smallest width and height of the image, in pixels.
    #[param(value_type = Option<u32>, minimum = 64, maximum = 2048, default = 512)]
    size: Option<String>,
}

fn size(params: &QrParams) -> Result<u32, Refusal> {
    let Some(raw) = params.size.as_deref() else { return Ok(QR_DEFAULT_SIZE) };
    match raw.trim().parse::<u32>() {
        Ok(n) if QR_SIZES.contains(&n) => Ok(n),
        _ => Err(Refusal::BadRequest(format!(
            "size must be a whole number of pixels from {} to {}\n",
            QR_SIZES.start(),
            QR_SIZES.end()
        ))),
    }
}

/// A PNG image (binary).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "image/png")]
#[allow(dead_code)] // Describes the PNG answer; never built.
struct PngImage(Vec<u8>);

enum QrFormat {
    Svg,
    Png,
}

async fn qr(path: &str, params: &QrParams, state: &AppState, format: QrFormat) -> HttpResponse {
    let size = match size(params) {
        Ok(n) => n,
        Err(refusal) => return refusal.page(),
    };
    let link = match enabled_link(state, path).await {
        Ok(link) => link,
        Err(refusal) => return refusal.page(),
    };
    let data = state.links.qr_target(&link);
    // Rendering a large PNG is CPU work: off the async workers.
    let rendered = web::block(move || render(&data, size, &format)).await;
    match rendered {
        Ok(Ok((content_type, body))) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")))
            .body(body),
        Ok(Err(e)) => {
            tracing::error!(link_id = %link.id, error = %e, "cannot render a QR code");
            bad_request("this link is too long for a QR code\n".into())
        }
        Err(e) => {
            tracing::error!(link_id = %link.id, error = %e, "QR rendering task failed");
            unavailable()
        }
    }
}

fn render(data: &str, size: u32, format: &QrFormat) -> anyhow::Result<(&'static str, Vec<u8>)> {
    let code = qrcode::QrCode::new(data.as_bytes())?;
    match format {
        QrFormat::Svg => {
            let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(size, size).build();
            Ok(("image/svg+xml", svg.into_bytes()))
        }
        QrFormat::Png => {
            let img = code.render::<image::Luma<u8>>().min_dimensions(size, size).build();
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Png)?;
            Ok(("image/png", out.into_inner()))
        }
    }
}

/// The link as a QR code, in SVG.
#[utoipa::path(get, path = "/l/{slug}/qr.svg",
    params(("slug" = String, Path, description = "The link's slug"), QrParams),
    responses(
        (status = 200, description = "The QR code (the short link with a public URL configured, else the wa.me URL)",
         content_type = "image/svg+xml", body = String,
         headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
        (status = 400, description = "A size out of range, or a link too long for a QR code",
         content_type = "text/plain; charset=utf-8", body = String),
        (status = 404, description = "No such link, or it is disabled: a plain page",
         content_type = "text/html; charset=utf-8", body = String),
        (status = 503, description = "The link cannot be looked up or rendered right now",
         content_type = "text/plain; charset=utf-8", body = String,
         headers(("Retry-After" = String, description = "Seconds (5)")))))]
async fn qr_svg(path: web::Path<String>, params: web::Query<QrParams>, state: web::Data<AppState>) -> HttpResponse {
    qr(&path, &params, &state, QrFormat::Svg).await
}

/// The link as a QR code, in PNG.
#[utoipa::path(get, path = "/l/{slug}/qr.png",
    params(("slug" = String, Path, description = "The link's slug"), QrParams),
    responses(
        (status = 200, description = "The QR code (the short link with a public URL configured, else the wa.me URL)",
         content_type = "image/png", body = inline(PngImage),
         headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
        (status = 400, description = "A size out of range, or a link too long for a QR code",
         content_type = "text/plain; charset=utf-8", body = String),
        (status = 404, description = "No such link, or it is disabled: a plain page",
         content_type = "text/html; charset=utf-8", body = String),
        (status = 503, description = "The link cannot be looked up or rendered right now",
         content_type = "text/plain; charset=utf-8", body = String,
         headers(("Retry-After" = String, description = "Seconds (5)")))))]
async fn qr_png(path: web::Path<String>, params: web::Query<QrParams>, state: web::Data<AppState>) -> HttpResponse {
    qr(&path, &params, &state, QrFormat::Png).await
}
