//! The one API error, rendered as `application/problem+json` (RFC 9457) with a stable
//! machine-readable `code`. Internal details are logged with their source chain and
//! never sent to the client.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use switchboard_cloudapi::GraphError;
use switchboard_store::StoreError;

/// One invalid input field.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid API token is required")]
    Unauthorized,
    #[error("{0}")]
    InvalidSignature(&'static str),
    #[error("you are not allowed to do this")]
    Forbidden,
    /// A cookie-authenticated unsafe request without the session's CSRF token, or sent
    /// cross-site (or a sign-in form posted from another origin).
    #[error("the request was refused: it did not come from this site's pages (CSRF check)")]
    CsrfFailed,
    /// Too many attempts: try again after `retry_after_secs`.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after_secs: u64 },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    /// A free-form message outside the customer-service window.
    #[error("{detail}")]
    WindowClosed { detail: String, extra: serde_json::Value },
    /// The resource is not in a state that allows this (409 with its own code).
    #[error("{detail}")]
    StateConflict { code: &'static str, detail: String },
    /// It existed once and is gone for good (410).
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
    #[error("{detail}")]
    Unavailable { code: &'static str, detail: String },
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body did not arrive in time (408; the connection is closed).
    #[error("the body did not arrive in time")]
    RequestTimeout,
    /// WhatsApp's Graph API failed (502, code `graph_error`); `detail` is the error's
    /// plain explanation, never its raw text.
    #[error("{detail}")]
    Graph { detail: String },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    #[must_use]
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    const fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::Forbidden => "forbidden",
            Self::CsrfFailed => "csrf_failed",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::NotFound { .. } => "not_found",
            Self::Validation(_) => "validation_failed",
            Self::BadRequest { code, .. }
            | Self::Unavailable { code, .. }
            | Self::StateConflict { code, .. }
            | Self::Gone { code, .. } => code,
            Self::Graph { .. } => "graph_error",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::Conflict { .. } => "conflict",
            Self::WindowClosed { .. } => "window_closed",
            Self::Internal(_) => "internal_error",
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<&'a serde_json::Value>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Validation(_) | Self::WindowClosed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Conflict { .. } | Self::StateConflict { .. } => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Graph { .. } => StatusCode::BAD_GATEWAY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let Self::Internal(e) = self {
            tracing::error!(error = %e, chain = ?e.chain().skip(1).map(ToString::to_string).collect::<Vec<_>>(), "internal error");
        }
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code: self.code(),
            detail: self.to_string(),
            errors: match self {
                Self::Validation(errors) => Some(errors),
                _ => None,
            },
            extra: match self {
                Self::WindowClosed { extra, .. } => Some(extra),
                _ => None,
            },
        };
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        if let Self::TooManyRequests { retry_after_secs, .. } = self {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if matches!(self, Self::Unauthorized) {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}

/// When a kind of client error was last logged at WARN: anyone can cause client errors,
/// so the ones worth an operator's attention are logged at WARN at most once a minute,
/// and at debug otherwise.
pub(crate) struct LastWarning(Mutex<Option<Instant>>);

impl LastWarning {
    pub(crate) const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// Whether to log this one at WARN (and start a new minute).
    pub(crate) fn due(&self) -> bool {
        let now = Instant::now();
        let mut last = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(60)) {
            return false;
        }
        *last = Some(now);
        true
    }
}

impl From<&GraphError> for ApiError {
    /// A 502 that explains the failure; the error itself is logged (it never holds the
    /// token or a URL).
    fn from(e: &GraphError) -> Self {
        tracing::warn!(error = %e, class = ?e.class(), "Graph API call failed");
        Self::Graph { detail: e.explanation() }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound { what: "resource" },
            StoreError::Conflict { what } => Self::Conflict { what },
            StoreError::Unavailable(e) => {
                tracing::error!(error = %e, "database unavailable");
                Self::Unavailable {
                    code: "database_unavailable",
                    detail: "the database is unavailable; try again shortly".into(),
                }
            }
            StoreError::Other(e) => Self::Internal(e),
        }
    }
}

impl From<switchboard_core::InboxError> for ApiError {
    /// The inbox's refusals as the API answers them.
    fn from(e: switchboard_core::InboxError) -> Self {
        use switchboard_core::InboxError as E;
        match e {
            E::NotFound { what } => Self::NotFound { what },
            E::Invalid(errors) => {
                Self::Validation(errors.into_iter().map(|e| FieldError::new(e.field, e.message)).collect())
            }
            E::Forbidden => Self::Forbidden,
            E::AgentInactive => Self::Unauthorized,
            E::WindowClosed { closed_at } => Self::WindowClosed {
                detail: e.to_string(),
                extra: serde_json::json!({
                    "window_closes_at": closed_at,
                    "hint": "send a template: {\"type\": \"template\", \"name\": …, \"language\": …}",
                }),
            },
            E::Resolved => Self::StateConflict { code: "conversation_resolved", detail: e.to_string() },
            E::OptedOut { .. } => Self::StateConflict { code: "opted_out", detail: e.to_string() },
            E::AtCapacity { .. } => Self::StateConflict { code: "at_capacity", detail: e.to_string() },
            E::InvalidConfiguration(_) => Self::StateConflict { code: "invalid_configuration", detail: e.to_string() },
            E::Unavailable(detail) => Self::Unavailable { code: "whatsapp_unavailable", detail: detail.into() },
            E::Upload(e) => Self::from(&e),
            E::Store(e) => e.into(),
        }
    }
}

impl From<switchboard_core::AdminError> for ApiError {
    /// The admins' refused changes as the API answers them.
    fn from(e: switchboard_core::AdminError) -> Self {
        use switchboard_core::AdminError as E;
        match e {
            E::NotFound { what } => Self::NotFound { what },
            E::Invalid(errors) => {
                Self::Validation(errors.into_iter().map(|e| FieldError::new(e.field, e.message)).collect())
            }
            E::Conflict { what } => Self::Conflict { what },
            E::BreaksConfiguration(_) => Self::StateConflict { code: "breaks_configuration", detail: e.to_string() },
            E::RulesChanged => Self::StateConflict { code: "rules_changed", detail: e.to_string() },
            E::LastAdmin => Self::StateConflict { code: "last_admin", detail: e.to_string() },
            E::InvalidConfiguration(_) => Self::StateConflict { code: "invalid_configuration", detail: e.to_string() },
            E::Store(e) => e.into(),
        }
    }
}

impl From<switchboard_core::AuthError> for ApiError {
    /// Sign-in's refusals as the API answers them (the console renders its own pages).
    fn from(e: switchboard_core::AuthError) -> Self {
        use switchboard_core::AuthError as E;
        match e {
            E::WrongCredentials => Self::BadRequest { code: "wrong_credentials", detail: e.to_string() },
            E::RateLimited { retry_after } => Self::TooManyRequests {
                detail: e.to_string(),
                retry_after_secs: u64::try_from(retry_after.num_seconds()).unwrap_or(1).max(1),
            },
            E::WrongCode => Self::field("code", e.to_string()),
            E::TotpNotEnrolled => Self::StateConflict { code: "totp_not_enrolled", detail: e.to_string() },
            E::TotpAlreadyOn => Self::StateConflict { code: "totp_already_on", detail: e.to_string() },
            E::TotpRequired => Self::StateConflict { code: "totp_required", detail: e.to_string() },
            E::InvitationUsed => Self::Gone { code: "invitation_used", detail: e.to_string() },
            E::InvitationExpired => Self::Gone { code: "invitation_expired", detail: e.to_string() },
            E::NotFound { what } => Self::NotFound { what },
            E::Invalid(errors) => {
                Self::Validation(errors.into_iter().map(|e| FieldError::new(e.field, e.message)).collect())
            }
            E::Store(e) => e.into(),
            E::Internal(e) => Self::Internal(e),
        }
    }
}
