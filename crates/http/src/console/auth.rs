//! Signing in to the console: `/sign-in` (email and password), `/sign-in/code` (the
//! second factor, or enrolling it when it is required), `/sign-out`,
//! `/invitation/{token}` (set a password from a one-time link) and `/account` (own
//! sessions, TOTP). The same core use cases as the API (`AppState::auth()`).
//!
//! Forms posted before a complete session exists (sign-in, the second step, an
//! invitation) carry no CSRF token: they are accepted only from this site (`Origin` or
//! `Sec-Fetch-Site`). Account actions run with the session cookie, so they go through
//! [`AuthenticatedAgent`]'s CSRF check (htmx sends the token on every request).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use switchboard_core::Actor;
use switchboard_core::AuthError;
use switchboard_core::auth::{Client, Enrolment, NextStep};
use switchboard_domain::{Password, SessionId};
use switchboard_store::Session;

use super::{ConsoleError, Layout, Page};
use crate::AppState;
use crate::auth::{
    AuthenticatedAgent, clear_session_cookie, client_addr, cookie_session, cross_site, is_https, session_cookie_for,
};
use crate::error::ApiError;
use crate::extract::{Caller, Later};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sign-in").route(web::get().to(sign_in_page)).route(web::post().to(sign_in)))
        .service(web::resource("/sign-in/code").route(web::get().to(code_page)).route(web::post().to(code)))
        .service(web::resource("/sign-in/enrol").route(web::post().to(enrol_pending)))
        .service(web::resource("/sign-out").route(web::post().to(sign_out)))
        .service(
            web::resource("/invitation/{token}")
                .route(web::get().to(invitation_page))
                .route(web::post().to(accept_invitation)),
        )
        .service(web::resource("/account").route(web::get().to(account)))
        .service(web::resource("/account/sessions/{session_id}/revoke").route(web::post().to(revoke_session)))
        .service(web::resource("/account/totp").route(web::post().to(enrol)))
        .service(web::resource("/account/totp/confirm").route(web::post().to(confirm)))
        .service(web::resource("/account/totp/disable").route(web::post().to(disable)));
}

/// `next` if it is a path on this site, else `/`.
fn local_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") && !n.contains(['\r', '\n']) => {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Whether a form posted without a session comes from this site: `Sec-Fetch-Site`
/// `same-origin` (or `none`, typed by the user), else an `Origin` naming this server.
/// A client that sends neither (not a browser) is let through: it has no ambient cookie
/// to abuse.
fn same_origin(req: &HttpRequest, state: &AppState) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
    }
    match req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let info = req.connection_info();
            let own = format!("{}://{}", info.scheme(), info.host());
            origin.eq_ignore_ascii_case(&own)
                || state.links.public_url.as_deref().is_some_and(|p| origin.eq_ignore_ascii_case(p))
                || (!cross_site(req) && origin.eq_ignore_ascii_case(&format!("https://{}", info.host())))
        }
    }
}

fn html(status: StatusCode, page: &impl Template) -> Result<HttpResponse, ConsoleError> {
    let body = page.render().map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("render")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

fn see_other(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, to.to_owned())).insert_header((header::CACHE_CONTROL, "no-store"));
    res
}

fn client(req: &HttpRequest, state: &AppState) -> Client {
    Client {
        addr: client_addr(req, state.cookies),
        user_agent: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    layout: Layout,
    next: String,
    email: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    /// `password_set`: shown after an invitation was accepted.
    done: Option<String>,
}

async fn sign_in_page(query: web::Query<NextQuery>) -> Result<HttpResponse, ConsoleError> {
    let notice = (query.done.as_deref() == Some("password_set")).then_some("Your password is set: sign in with it.");
    html(
        StatusCode::OK,
        &SignInPage {
            layout: Layout::public("Sign in"),
            next: local_next(query.next.as_deref()),
            email: String::new(),
            error: None,
            notice,
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

fn csrf_refused() -> ConsoleError {
    ConsoleError::Api(ApiError::CsrfFailed)
}

async fn sign_in(
    req: HttpRequest,
    form: web::Form<SignInForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    if !same_origin(&req, &state) {
        return Err(csrf_refused());
    }
    let next = local_next(form.next.as_deref());
    let page = |status: StatusCode, error: String| {
        html(
            status,
            &SignInPage {
                layout: Layout::public("Sign in"),
                next: next.clone(),
                email: form.email.chars().take(254).collect(),
                error: Some(error),
                notice: None,
            },
        )
    };
    if form.email.trim().is_empty() || form.password.is_empty() {
        return page(StatusCode::UNPROCESSABLE_ENTITY, "Enter your email and password.".into());
    }
    match state.auth().sign_in(&form.email, &form.password, &client(&req, &state)).await {
        Ok(signed) => {
            let secure = is_https(&req, state.cookies);
            let to = match signed.next {
                NextStep::Done => next.clone(),
                NextStep::Code | NextStep::Enrol => format!("/sign-in/code?next={}", super::urlencode(&next)),
            };
            Ok(see_other(&to).cookie(session_cookie_for(&signed.token, secure)).finish())
        }
        Err(AuthError::WrongCredentials) => page(StatusCode::UNAUTHORIZED, AuthError::WrongCredentials.to_string()),
        Err(e @ AuthError::RateLimited { retry_after }) => {
            let mut res = page(StatusCode::TOO_MANY_REQUESTS, e.to_string())?;
            let secs = retry_after.num_seconds().max(1).to_string();
            if let Ok(v) = header::HeaderValue::from_str(&secs) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(res)
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

#[derive(Template)]
#[template(path = "console/sign_in_code.html")]
struct CodePage {
    layout: Layout,
    next: String,
    /// `Some` when TOTP must be enrolled first: the secret and its QR code.
    enrolment: Option<EnrolmentView>,
    /// TOTP must be enrolled and no enrolment was started yet.
    must_enrol: bool,
    error: Option<String>,
}

/// An enrolment as the page shows it.
pub(super) struct EnrolmentView {
    pub secret: String,
    pub uri: String,
    /// `data:image/svg+xml;base64,…` of the QR code of `uri`.
    pub qr: String,
}

impl EnrolmentView {
    fn new(e: Enrolment) -> Self {
        let qr = qr_data_url(&e.uri);
        Self { secret: e.secret_base32, uri: e.uri, qr }
    }
}

/// The QR code of `data` as an SVG data URL (the CSP allows `data:` images).
fn qr_data_url(data: &str) -> String {
    let svg = qrcode::QrCode::new(data.as_bytes())
        .map(|c| c.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
        .unwrap_or_default();
    format!("data:image/svg+xml;base64,{}", base64(svg.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The session waiting for its second factor, or to sign-in.
async fn pending(req: &HttpRequest, state: &AppState) -> Result<(Session, switchboard_store::Agent), ConsoleError> {
    match cookie_session(req, state).await? {
        Some((s, a, _)) if s.second_factor_pending => Ok((s, a)),
        Some(_) => Err(ConsoleError::SignIn { next: "/".into(), htmx: false }),
        None => Err(ConsoleError::SignIn { next: "/".into(), htmx: false }),
    }
}

async fn code_page(
    req: HttpRequest,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let next = local_next(query.next.as_deref());
    let (_, agent) = match pending(&req, &state).await {
        Ok(p) => p,
        // Already complete: straight on.
        Err(_) if cookie_session(&req, &state).await?.is_some() => return Ok(see_other(&next).finish()),
        Err(e) => return Err(e),
    };
    let status = state.auth().totp_status(&agent).await.map_err(ApiError::from)?;
    html(
        StatusCode::OK,
        &CodePage {
            layout: Layout::public("Two-factor authentication"),
            next,
            enrolment: None,
            must_enrol: !status.enabled,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// The code of the second step: completes the session (a first code also confirms a
/// required enrolment).
async fn code(
    req: HttpRequest,
    form: web::Form<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    if !same_origin(&req, &state) {
        return Err(csrf_refused());
    }
    let next = local_next(form.next.as_deref());
    let (session, agent) = pending(&req, &state).await?;
    let status = state.auth().totp_status(&agent).await.map_err(ApiError::from)?;
    let result = if status.enabled {
        state.auth().verify_code(&session, &agent, &form.code, &client(&req, &state)).await
    } else {
        state
            .auth()
            .confirm_totp(&agent, &form.code, Some(&session), &Actor::agent(agent.id, client_addr(&req, state.cookies)))
            .await
    };
    match result {
        Ok(()) => Ok(see_other(&next).finish()),
        Err(e @ (AuthError::WrongCode | AuthError::RateLimited { .. } | AuthError::TotpNotEnrolled)) => {
            let status_code = match e {
                AuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            html(
                status_code,
                &CodePage {
                    layout: Layout::public("Two-factor authentication"),
                    next,
                    enrolment: None,
                    must_enrol: !status.enabled,
                    error: Some(e.to_string()),
                },
            )
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// Starts the enrolment a sign-in requires (a pending session): shows the secret and QR.
async fn enrol_pending(
    req: HttpRequest,
    form: web::Form<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    if !same_origin(&req, &state) {
        return Err(csrf_refused());
    }
    let (_, agent) = pending(&req, &state).await?;
    let enrolment = state.auth().enrol_totp(&agent).await.map_err(ApiError::from)?;
    html(
        StatusCode::OK,
        &CodePage {
            layout: Layout::public("Set up two-factor authentication"),
            next: local_next(form.next.as_deref()),
            enrolment: Some(EnrolmentView::new(enrolment)),
            must_enrol: true,
            error: None,
        },
    )
}

/// Ends the session (a pending one too) and clears the cookie.
async fn sign_out(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let secure = is_https(&req, state.cookies);
    if let Some((session, _, _)) = cookie_session(&req, &state).await? {
        if session.second_factor_pending {
            if !same_origin(&req, &state) {
                return Err(csrf_refused());
            }
            let actor = Actor::agent(session.agent_id, client_addr(&req, state.cookies));
            state.auth().sign_out(&session, &actor).await.map_err(ApiError::from)?;
        } else {
            // A complete session: the CSRF check of every cookie-authenticated request.
            let agent = <AuthenticatedAgent as actix_web::FromRequest>::extract(&req).await?;
            if let Some(s) = agent.session() {
                state.auth().sign_out(s, &agent.actor()).await.map_err(ApiError::from)?;
            }
        }
    }
    let mut res = see_other("/sign-in").cookie(clear_session_cookie(secure)).finish();
    if req.headers().contains_key("HX-Request") {
        res.headers_mut()
            .insert(header::HeaderName::from_static("hx-redirect"), header::HeaderValue::from_static("/sign-in"));
    }
    Ok(res)
}

#[derive(Template)]
#[template(path = "console/invitation.html")]
struct InvitationPage {
    layout: Layout,
    /// The form, or why it cannot be used.
    email: Option<String>,
    reset: bool,
    error: Option<String>,
    min_chars: usize,
    max_chars: usize,
}

fn invitation_refused(e: &AuthError) -> Option<(StatusCode, String)> {
    match e {
        AuthError::InvitationUsed | AuthError::InvitationExpired => Some((StatusCode::GONE, e.to_string())),
        AuthError::NotFound { .. } => {
            Some((StatusCode::NOT_FOUND, "This link is not valid. Ask an admin for a new one.".to_owned()))
        }
        _ => None,
    }
}

fn invitation_page_for(
    status: StatusCode,
    email: Option<String>,
    reset: bool,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    html(
        status,
        &InvitationPage {
            layout: Layout::public(if reset { "Choose a new password" } else { "Choose your password" }),
            email,
            reset,
            error,
            min_chars: Password::MIN_CHARS,
            max_chars: Password::MAX_CHARS,
        },
    )
}

async fn invitation_page(token: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    match state.auth().invitation(&token).await {
        Ok((inv, agent)) => invitation_page_for(
            StatusCode::OK,
            Some(agent.email.as_str().to_owned()),
            inv.purpose == switchboard_store::InvitationPurpose::Reset,
            None,
        ),
        Err(e) => match invitation_refused(&e) {
            Some((status, message)) => invitation_page_for(status, None, false, Some(message)),
            None => Err(ApiError::from(e).into()),
        },
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn accept_invitation(
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    if !same_origin(&req, &state) {
        return Err(csrf_refused());
    }
    let (inv, agent) = match state.auth().invitation(&token).await {
        Ok(found) => found,
        Err(e) => {
            return match invitation_refused(&e) {
                Some((status, message)) => invitation_page_for(status, None, false, Some(message)),
                None => Err(ApiError::from(e).into()),
            };
        }
    };
    let reset = inv.purpose == switchboard_store::InvitationPurpose::Reset;
    let email = Some(agent.email.as_str().to_owned());
    if form.password != form.confirm {
        return invitation_page_for(
            StatusCode::UNPROCESSABLE_ENTITY,
            email,
            reset,
            Some("The two passwords differ.".into()),
        );
    }
    match state.auth().accept_invitation(&token, &form.password).await {
        Ok(_) => Ok(see_other("/sign-in?done=password_set").finish()),
        Err(AuthError::Invalid(errors)) => {
            let message = errors.iter().map(|e| format!("The password {}.", e.message)).collect::<Vec<_>>().join(" ");
            invitation_page_for(StatusCode::UNPROCESSABLE_ENTITY, email, reset, Some(message))
        }
        Err(e) => match invitation_refused(&e) {
            Some((status, message)) => invitation_page_for(status, None, false, Some(message)),
            None => Err(ApiError::from(e).into()),
        },
    }
}

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    sessions: Vec<SessionRow>,
    totp_enabled: bool,
    totp_required: bool,
    enrolment: Option<EnrolmentView>,
    error: Option<String>,
    notice: Option<&'static str>,
}

struct SessionRow {
    id: SessionId,
    current: bool,
    created: String,
    last_seen: String,
    user_agent: String,
    client_addr: String,
}

async fn account_page(
    state: &AppState,
    agent: &AuthenticatedAgent,
    status: StatusCode,
    enrolment: Option<EnrolmentView>,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Result<HttpResponse, ConsoleError> {
    let auth = state.auth();
    let totp = auth.totp_status(&agent.0).await.map_err(ApiError::from)?;
    let current = agent.session_id();
    let sessions = auth
        .sessions(agent.0.id)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            current: Some(s.id) == current,
            created: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_seen: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            user_agent: s.user_agent.unwrap_or_else(|| "unknown browser".into()),
            client_addr: s.client_addr.unwrap_or_default(),
        })
        .collect();
    let layout = Layout::signed_in("Your account", agent);
    html(
        status,
        &AccountPage {
            layout,
            email: agent.0.email.as_str().to_owned(),
            sessions,
            totp_enabled: totp.enabled,
            totp_required: totp.required,
            enrolment,
            error,
            notice,
        },
    )
}

async fn account(
    Page(agent): Page<AuthenticatedAgent>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    account_page(&state, &agent, StatusCode::OK, None, None, None).await
}

async fn revoke_session(
    Page(Caller { agent, path, .. }): Page<Caller<Later<SessionId>>>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let session = path.get()?;
    state.auth().revoke_session(agent.0.id, session, &agent.actor()).await.map_err(ApiError::from)?;
    if agent.session_id() == Some(session) {
        let secure = is_https(&req, state.cookies);
        let mut res = see_other("/sign-in").cookie(clear_session_cookie(secure)).finish();
        res.headers_mut()
            .insert(header::HeaderName::from_static("hx-redirect"), header::HeaderValue::from_static("/sign-in"));
        return Ok(res);
    }
    account_page(&state, &agent, StatusCode::OK, None, None, Some("The session was ended.")).await
}

async fn enrol(
    Page(agent): Page<AuthenticatedAgent>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    match state.auth().enrol_totp(&agent.0).await {
        Ok(e) => account_page(&state, &agent, StatusCode::OK, Some(EnrolmentView::new(e)), None, None).await,
        Err(e @ AuthError::TotpAlreadyOn) => {
            account_page(&state, &agent, StatusCode::CONFLICT, None, Some(e.to_string()), None).await
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    code: String,
}

async fn confirm(
    Page(agent): Page<AuthenticatedAgent>,
    form: web::Form<ConfirmForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    match state.auth().confirm_totp(&agent.0, &form.code, agent.session(), &agent.actor()).await {
        Ok(()) => {
            account_page(&state, &agent, StatusCode::OK, None, None, Some("Two-factor authentication is on.")).await
        }
        Err(e @ (AuthError::WrongCode | AuthError::TotpNotEnrolled | AuthError::TotpAlreadyOn)) => {
            account_page(&state, &agent, StatusCode::UNPROCESSABLE_ENTITY, None, Some(e.to_string()), None).await
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

async fn disable(
    Page(agent): Page<AuthenticatedAgent>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    match state.auth().disable_totp(&agent.0, &agent.actor()).await {
        Ok(()) => {
            account_page(&state, &agent, StatusCode::OK, None, None, Some("Two-factor authentication is off.")).await
        }
        Err(e @ AuthError::TotpRequired) => {
            account_page(&state, &agent, StatusCode::CONFLICT, None, Some(e.to_string()), None).await
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(local_next(Some("/?view=mine")), "/?view=mine");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "evil", "/x\r\nSet-Cookie: a"] {
            assert_eq!(local_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_next(None), "/");
    }

    #[test]
    fn base64_is_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn minutes_are_whole() {
        assert_eq!(switchboard_core::auth::minutes(chrono::Duration::seconds(90)), 2);
    }
}
