//! Signing in to the console: passwords, sessions, invitations, failed sign-ins, TOTP and
//! the security settings. Secrets never reach the store in the clear: passwords arrive as
//! argon2id PHC strings, tokens as their SHA-256 ([`TokenHash`]), TOTP secrets encrypted.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, Email, InvitationId, SessionId, TokenHash};

use crate::{Agent, Result};

/// A TOTP secret as stored: encrypted (nonce then ciphertext) under the key `key_id`.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_id: String,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedSecret({}, …)", self.key_id)
    }
}

/// An agent's TOTP enrolment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTotp {
    pub secret: SealedSecret,
    /// Whether a first code confirmed it (only then is it asked at sign-in).
    pub confirmed: bool,
    /// The last 30-second step a code was accepted for.
    pub last_step: Option<i64>,
}

/// What sign-in needs to know about an agent.
#[derive(Clone)]
pub struct AgentCredentials {
    pub agent: Agent,
    /// The argon2id PHC string; `None` until the agent set a password.
    pub password_hash: Option<String>,
    pub totp: Option<StoredTotp>,
}

impl std::fmt::Debug for AgentCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCredentials")
            .field("agent", &self.agent.id)
            .field("password", &self.password_hash.as_ref().map(|_| "…"))
            .field("totp", &self.totp.as_ref().map(|t| t.confirmed))
            .finish()
    }
}

/// A session as its owner sees it: never its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub agent_id: AgentId,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The absolute expiry (idle expiry is the core's rule, from `last_seen_at`).
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The second factor (or, when required, its enrolment) is still to come: the
    /// session authenticates nothing else.
    pub second_factor_pending: bool,
}

/// A session to store.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    pub hash: &'a TokenHash,
    pub agent: AgentId,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub second_factor_pending: bool,
}

/// What an invitation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvitationPurpose {
    /// A new agent sets their first password.
    Invite,
    /// An admin reset the password: accepting it ends the agent's sessions.
    Reset,
}

impl InvitationPurpose {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Reset => "reset",
        }
    }

    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "invite" => Some(Self::Invite),
            "reset" => Some(Self::Reset),
            _ => None,
        }
    }
}

/// An invitation: never its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub agent_id: AgentId,
    pub purpose: InvitationPurpose,
    pub created_by: Option<AgentId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// An invitation to store.
#[derive(Clone, Debug)]
pub struct NewInvitation<'a> {
    pub hash: &'a TokenHash,
    pub agent: AgentId,
    pub purpose: InvitationPurpose,
    pub created_by: Option<AgentId>,
    pub expires_at: DateTime<Utc>,
}

/// What [`AuthStore::accept_invitation`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvitationOutcome {
    /// The password is set and the invitation used; on a reset, every session of the
    /// agent was revoked (`revoked` of them).
    Accepted { agent: Agent, purpose: InvitationPurpose, revoked: u64 },
    /// No such invitation, or its agent is deactivated.
    NotFound,
    /// Already used.
    Used,
    /// Past its expiry.
    Expired,
}

/// A failed sign-in, for the rate limit and the audit.
#[derive(Clone, Debug)]
pub struct NewSignInFailure<'a> {
    /// The email as typed, lower-cased (an unknown one too).
    pub account: &'a str,
    pub agent: Option<AgentId>,
    pub client_addr: &'a str,
}

/// Which failures a rate limit counts.
#[derive(Clone, Copy, Debug)]
pub enum FailureKey<'a> {
    Account(&'a str),
    Client(&'a str),
}

/// What admins set about sign-in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecuritySettings {
    /// Every agent must use a second factor (TOTP) to sign in to the console.
    pub totp_mandatory: bool,
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    /// The agent with this email (any case), active or not, with their credentials.
    async fn credentials_by_email(&self, email: &Email) -> Result<Option<AgentCredentials>>;

    /// The agent's credentials. `NotFound` for an unknown agent.
    async fn credentials(&self, agent: AgentId) -> Result<AgentCredentials>;

    /// Records a failed sign-in at `at`.
    async fn record_sign_in_failure(&self, failure: &NewSignInFailure<'_>, at: DateTime<Utc>) -> Result<()>;

    /// The time of the `n`-th most recent failure (1 = the newest) after `since` for
    /// `key`, if there are that many.
    async fn nth_recent_failure(
        &self,
        key: FailureKey<'_>,
        since: DateTime<Utc>,
        n: u32,
    ) -> Result<Option<DateTime<Utc>>>;

    /// Stores a new session.
    async fn create_session(&self, session: &NewSession<'_>, at: DateTime<Utc>) -> Result<Session>;

    /// The unrevoked session with this token, and its agent if active (`None` otherwise;
    /// expiry is the caller's to check).
    async fn session_by_token(&self, token: &TokenHash) -> Result<Option<(Session, Agent)>>;

    /// Records the session's last activity, if older than `stale`.
    async fn touch_session(&self, id: SessionId, stale: DateTime<Utc>, at: DateTime<Utc>) -> Result<()>;

    /// The second factor was given: the session is complete.
    async fn complete_second_factor(&self, id: SessionId) -> Result<()>;

    /// The agent's sessions that are neither revoked nor past `now`'s absolute expiry,
    /// newest first. `NotFound` for an unknown agent.
    async fn sessions(&self, agent: AgentId, now: DateTime<Utc>) -> Result<Vec<Session>>;

    /// Revokes one of the agent's sessions (stays revoked with its first time).
    /// `NotFound` if the agent has no such session.
    async fn revoke_session(&self, agent: AgentId, session: SessionId, at: DateTime<Utc>) -> Result<Session>;

    /// Revokes every session of the agent but `except`; how many.
    async fn revoke_sessions(&self, agent: AgentId, except: Option<SessionId>, at: DateTime<Utc>) -> Result<u64>;

    /// Stores an invitation. `NotFound` for an unknown agent.
    async fn create_invitation(&self, invitation: &NewInvitation<'_>, at: DateTime<Utc>) -> Result<Invitation>;

    /// The invitation with this token, used or not.
    async fn invitation(&self, token: &TokenHash) -> Result<Option<Invitation>>;

    /// Uses the invitation: sets the password (`password_hash`, a PHC string) in one
    /// transaction, if it is unused, unexpired at `at` and its agent active.
    async fn accept_invitation(
        &self,
        token: &TokenHash,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<InvitationOutcome>;

    /// Replaces the agent's TOTP (`None` removes it); a new one is unconfirmed.
    /// `NotFound` for an unknown agent.
    async fn set_totp(&self, agent: AgentId, secret: Option<&SealedSecret>) -> Result<()>;

    /// Accepts a code for `step` if no code was accepted for it or a later step (the
    /// replay guard); `confirm` also marks the enrolment confirmed. Whether it was
    /// accepted.
    async fn use_totp_step(&self, agent: AgentId, step: i64, confirm: bool) -> Result<bool>;

    async fn security_settings(&self) -> Result<SecuritySettings>;

    async fn set_security_settings(
        &self,
        settings: &SecuritySettings,
        by: AgentId,
        at: DateTime<Utc>,
    ) -> Result<SecuritySettings>;
}
