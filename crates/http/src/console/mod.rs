//! The web console: server-rendered pages (askama templates under `templates/console`),
//! progressively enhanced by htmx and its SSE extension, served by the same binary.
//!
//! Pages and actions are clients of the same core use cases as the REST API and take the
//! same extractors (`crate::extract::Caller`, `crate::guard::VisibleConversation`…)
//! wrapped in [`Page`], so they authenticate and check visibility exactly as the API
//! does; [`Page`] only changes how a refusal looks: a browser without a session is sent
//! to the sign-in page, other errors become an HTML page (whose message `console.js` shows
//! in the page's `#flash` region when the request came from htmx).
//!
//! Every console response carries a strict Content-Security-Policy (no inline script or
//! style, nothing from another host), `X-Frame-Options: DENY` and `Referrer-Policy`.

mod admin;
mod assets;
mod auth;
mod chart;
mod conversation;
mod inbox;
mod reports;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use switchboard_domain::AgentRole;

use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;

pub use assets::AssetUrls;

/// What every console response carries.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// The console's routes, in a scope that takes every path not taken before it: register
/// it after the API and the root routes.
pub fn scope() -> impl actix_web::dev::HttpServiceFactory {
    web::scope("")
        .wrap(
            DefaultHeaders::new()
                .add((header::CONTENT_SECURITY_POLICY, CSP))
                .add((header::X_FRAME_OPTIONS, "DENY"))
                .add((header::REFERRER_POLICY, "same-origin"))
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                // Pages hold personal data and an open event stream: never stored, nor kept
                // alive in the browser's back/forward cache with their connection (assets
                // set their own).
                .add((header::CACHE_CONTROL, "no-store")),
        )
        .route("/assets/{file}", web::get().to(assets::serve))
        .configure(auth::configure)
        .configure(inbox::configure)
        .configure(conversation::configure)
        .configure(reports::configure)
        .service(admin::scope())
        .default_service(web::to(crate::not_found))
}

/// What the base layout (`console/base.html`) shows around every page.
pub struct Layout {
    pub title: String,
    /// The signed-in agent; `None` on the sign-in pages.
    pub agent: Option<Viewer>,
    /// The session's CSRF token, sent by htmx as `X-CSRF-Token` on every request.
    pub csrf: Option<String>,
    pub assets: &'static AssetUrls,
}

/// The signed-in agent, as the layout shows them.
pub struct Viewer {
    pub name: String,
    pub admin: bool,
    /// Online, away or offline: the header's availability control (`POST /availability`).
    pub availability: switchboard_domain::Availability,
}

impl Layout {
    /// The layout of a page nobody is signed in to.
    pub fn public(title: impl Into<String>) -> Self {
        Self { title: title.into(), agent: None, csrf: None, assets: &assets::URLS }
    }

    /// The layout of a page of the signed-in `agent`.
    pub fn signed_in(title: impl Into<String>, agent: &AuthenticatedAgent) -> Self {
        Self {
            title: title.into(),
            agent: Some(Viewer {
                name: agent.0.name.as_str().to_owned(),
                admin: agent.0.role == AgentRole::Admin,
                availability: agent.0.availability,
            }),
            csrf: agent.csrf_token(),
            assets: &assets::URLS,
        }
    }
}

/// An extractor `T` of the API's (authentication, role, visibility, ids) for a console
/// route: the same checks, with refusals shaped for a browser ([`ConsoleError`]).
pub struct Page<T>(pub T);

impl<T> FromRequest for Page<T>
where
    T: FromRequest<Error = ApiError> + 'static,
{
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let inner = T::from_request(req, payload);
        let next = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let htmx = req.headers().contains_key("HX-Request");
        Box::pin(async move {
            inner.await.map(Page).map_err(|error| match error {
                ApiError::Unauthorized => ConsoleError::SignIn { next, htmx },
                error => ConsoleError::Api(error),
            })
        })
    }
}

/// A console request refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No valid session: to the sign-in page, and back to `next` after it. An htmx
    /// request is told to load it (`HX-Redirect`) rather than given it to swap in.
    #[error("sign in to continue")]
    SignIn { next: String, htmx: bool },
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<switchboard_core::InboxError> for ConsoleError {
    fn from(e: switchboard_core::InboxError) -> Self {
        Self::Api(e.into())
    }
}

impl From<switchboard_core::AdminError> for ConsoleError {
    fn from(e: switchboard_core::AdminError) -> Self {
        Self::Api(e.into())
    }
}

impl From<switchboard_store::StoreError> for ConsoleError {
    fn from(e: switchboard_store::StoreError) -> Self {
        Self::Api(e.into())
    }
}

/// A form body (`application/x-www-form-urlencoded`, as htmx and browsers send it); one
/// that cannot be read is a 400 page, like any other console error.
pub struct Form<T>(pub T);

impl<T> FromRequest for Form<T>
where
    T: serde::de::DeserializeOwned + 'static,
{
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let inner = web::Form::<T>::from_request(req, payload);
        Box::pin(async move {
            inner
                .await
                .map(|f| Self(f.into_inner()))
                .map_err(|e| ConsoleError::Api(ApiError::BadRequest { code: "invalid_form", detail: e.to_string() }))
        })
    }
}

/// The query string as pairs (keys may repeat); one that cannot be read is a 400 page.
pub(crate) fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ConsoleError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ConsoleError::Api(ApiError::BadRequest { code: "invalid_query", detail: e.to_string() }))
}

/// Every console route with an id in its path, `(method, path)`, for the visibility
/// test (`tests/api/visibility.rs`).
pub const ROUTES_WITH_IDS: &[&[(&str, &str)]] = &[conversation::ROUTES];

/// Every admin route, `(method, path)`, for the test that agents get 403 on each.
pub const ADMIN_ROUTES: &[(&str, &str)] = admin::ROUTES;

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: StatusCode,
    message: String,
    fields: &'a [crate::FieldError],
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { htmx: false, .. } => StatusCode::SEE_OTHER,
            Self::SignIn { htmx: true, .. } => StatusCode::UNAUTHORIZED,
            Self::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn { next, htmx: false } => {
                HttpResponse::SeeOther().insert_header((header::LOCATION, sign_in_url(next))).finish()
            }
            Self::SignIn { next, htmx: true } => {
                HttpResponse::Unauthorized().insert_header(("HX-Redirect", sign_in_url(next))).finish()
            }
            Self::Api(error) => {
                let status = error.status_code();
                if matches!(error, ApiError::Internal(_)) {
                    // Logs it, as the API does.
                    let _ = error.error_response();
                }
                let fields = match error {
                    ApiError::Validation(fields) => fields.as_slice(),
                    _ => &[],
                };
                let message = error.to_string();
                HttpResponse::build(status).content_type("text/html; charset=utf-8").body(
                    ErrorPage {
                        layout: Layout::public(status.canonical_reason().unwrap_or("Error")),
                        status,
                        message,
                        fields,
                    }
                    .render()
                    .unwrap_or_default(),
                )
            }
        }
    }
}

/// The sign-in page, then back to `next`.
fn sign_in_url(next: &str) -> String {
    format!("/sign-in?next={}", urlencode(next))
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A rendered page (`200 text/html`).
pub(crate) fn render(page: &impl Template) -> Result<HttpResponse, ConsoleError> {
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("render")))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}
