//! Who is calling: an API bearer token (`Authorization: Bearer <token>`, unchanged) or a
//! console session cookie (`sb_session`). Only hashes are looked up; tokens are never
//! stored or logged.
//!
//! A cookie-authenticated request with an unsafe method (anything but GET, HEAD and
//! OPTIONS) must carry `X-CSRF-Token` equal to the session's CSRF token (derived from the
//! cookie, compared in constant time) and must not come `Sec-Fetch-Site: cross-site`;
//! otherwise it is refused with 403 `csrf_failed` before the handler runs. Every route
//! and guard extracts [`AuthenticatedAgent`], so this holds everywhere.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use switchboard_core::Credential;
use switchboard_core::auth::{Auth, csrf_token, hash_secret_token, same_secret};
use switchboard_domain::{AgentRole, SessionId, TokenHash};
use switchboard_store::{Agent, Session};

use crate::AppState;
use crate::error::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sb_session";
/// The header a cookie-authenticated unsafe request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the console's cookies are set.
#[derive(Clone, Copy, Debug, Default)]
pub struct CookieOptions {
    /// Always mark cookies `Secure` (the server is reached over https through a proxy
    /// that does not say so).
    pub secure: bool,
    /// Trust the proxy's `X-Forwarded-Proto` and `X-Forwarded-For`.
    pub trust_proxy: bool,
}

/// What a request authenticated with.
#[derive(Clone)]
enum How {
    Token(TokenHash),
    Session { session: Box<Session>, csrf: String, hash: TokenHash },
}

impl std::fmt::Debug for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token(…)"),
            Self::Session { session, .. } => write!(f, "Session({})", session.id),
        }
    }
}

/// The agent making the request. Extracting it answers 401 without a valid token or
/// complete session, and 403 `csrf_failed` for a cookie-authenticated unsafe request
/// without the CSRF token.
#[derive(Clone, Debug)]
pub struct AuthenticatedAgent(pub Agent, How, String);

impl AuthenticatedAgent {
    /// What the request authenticated with (an event stream re-checks it).
    #[must_use]
    pub fn credential(&self) -> Credential {
        match &self.1 {
            How::Token(h) => Credential::Token(*h),
            How::Session { hash, .. } => Credential::Session(*hash),
        }
    }

    /// The session's CSRF token, for the console's pages; `None` for a bearer token.
    #[must_use]
    pub fn csrf_token(&self) -> Option<String> {
        match &self.1 {
            How::Token(_) => None,
            How::Session { csrf, .. } => Some(csrf.clone()),
        }
    }

    /// The session the request came with; `None` for a bearer token.
    #[must_use]
    pub fn session(&self) -> Option<&Session> {
        match &self.1 {
            How::Token(_) => None,
            How::Session { session, .. } => Some(session),
        }
    }

    #[must_use]
    pub fn session_id(&self) -> Option<SessionId> {
        self.session().map(|s| s.id)
    }

    /// The client's address ([`client_addr`]).
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.2
    }

    /// Who acts, for the audit log: this agent, from this address.
    #[must_use]
    pub fn actor(&self) -> switchboard_core::Actor {
        switchboard_core::Actor::agent(self.0.id, self.2.clone())
    }

    /// An audit entry for `action` by this agent, from this address, now.
    #[must_use]
    pub fn audit(&self, action: switchboard_domain::AuditAction) -> switchboard_store::NewAuditEntry {
        self.actor().entry(action)
    }

    /// Requires the admin role.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.role == AgentRole::Admin { Ok(()) } else { Err(ApiError::Forbidden) }
    }
}

/// Token generation and hashing are the core's (the console creates tokens too).
pub use switchboard_core::admin::{hash_token, new_token};

fn bearer(req: &HttpRequest) -> Option<TokenHash> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| hash_token(t.trim()))
}

/// The session cookie's token, if any.
#[must_use]
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()).filter(|v| !v.is_empty())
}

const fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the browser says the request comes from another site.
#[must_use]
pub fn cross_site(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

/// The CSRF check of a cookie-authenticated request (see the module documentation).
fn check_csrf(req: &HttpRequest, cookie_token: &str) -> Result<(), ApiError> {
    if is_safe(req.method()) {
        return Ok(());
    }
    if cross_site(req) {
        return Err(ApiError::CsrfFailed);
    }
    let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if same_secret(sent, &csrf_token(cookie_token)) { Ok(()) } else { Err(ApiError::CsrfFailed) }
}

/// A session, complete or not, from the request's cookie (no CSRF check).
pub(crate) async fn cookie_session(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(Session, Agent, String)>, ApiError> {
    let Some(token) = session_cookie(req) else { return Ok(None) };
    let found = Auth::new(state.store.as_ref(), &state.auth).session(&token).await?;
    Ok(found.map(|(s, a)| (s, a, token)))
}

impl FromRequest for AuthenticatedAgent {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let Some(state) = state else { return Err(ApiError::Unauthorized) };
            if let Some(hash) = token {
                return match state.store.agent_by_token(&hash, Utc::now()).await? {
                    Some(agent) if agent.active => Ok(Self(agent, How::Token(hash), client_addr(&req, state.cookies))),
                    _ => Err(ApiError::Unauthorized),
                };
            }
            let Some((session, agent, token)) = cookie_session(&req, &state).await? else {
                return Err(ApiError::Unauthorized);
            };
            // A session waiting for its second factor authenticates nothing else.
            if session.second_factor_pending {
                return Err(ApiError::Unauthorized);
            }
            check_csrf(&req, &token)?;
            Ok(Self(
                agent,
                How::Session { csrf: csrf_token(&token), hash: hash_secret_token(&token), session: Box::new(session) },
                client_addr(&req, state.cookies),
            ))
        })
    }
}

/// Whether the request reached us over https (directly, or as a trusted proxy says with
/// `X-Forwarded-Proto: https`), or the settings say cookies are always `Secure`.
#[must_use]
pub fn is_https(req: &HttpRequest, opts: CookieOptions) -> bool {
    opts.secure
        || req.app_config().secure()
        || (opts.trust_proxy
            && req
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
}

/// The client's address: the trusted proxy's `X-Forwarded-For` (its first entry) or the
/// peer's.
#[must_use]
pub fn client_addr(req: &HttpRequest, opts: CookieOptions) -> String {
    if opts.trust_proxy
        && let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return first.to_owned();
    }
    req.peer_addr().map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

/// The session cookie carrying `token`.
#[must_use]
pub fn session_cookie_for(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .finish()
}

/// A cookie that removes the session cookie.
#[must_use]
pub fn clear_session_cookie(secure: bool) -> Cookie<'static> {
    let mut c = session_cookie_for("", secure);
    c.make_removal();
    c
}
