//! Bearer-token authentication: `Authorization: Bearer <token>`; the token's SHA-256 is
//! looked up, the token itself is never stored or logged.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use switchboard_domain::{AgentRole, TokenHash};
use switchboard_store::Agent;

use crate::AppState;
use crate::error::ApiError;

/// The agent making the request, and the hash of the token it was made with. Extracting
/// it answers 401 without a valid token.
#[derive(Clone, Debug)]
pub struct AuthenticatedAgent(pub Agent, TokenHash);

impl AuthenticatedAgent {
    /// The hash of the token the request was made with (an event stream re-checks it).
    #[must_use]
    pub const fn token(&self) -> &TokenHash {
        &self.1
    }

    /// Requires the admin role.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.role == AgentRole::Admin { Ok(()) } else { Err(ApiError::Forbidden) }
    }
}

/// Token generation and hashing are the core's (the console creates tokens too).
pub use switchboard_core::admin::{hash_token, new_token};

impl FromRequest for AuthenticatedAgent {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| hash_token(t.trim()));
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(hash), Some(state)) = (token, state) else { return Err(ApiError::Unauthorized) };
            match state.store.agent_by_token(&hash, Utc::now()).await? {
                Some(agent) if agent.active => Ok(Self(agent, hash)),
                _ => Err(ApiError::Unauthorized),
            }
        })
    }
}
