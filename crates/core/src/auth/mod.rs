//! Signing in to the console: passwords (argon2id), sessions (a cookie token shown once,
//! its SHA-256 stored; idle and absolute expiry), one-time invitations to set a password,
//! the rate limit on failed sign-ins (per account and per client address, counted in the
//! database so it holds across instances), and the TOTP second factor.
//!
//! Independent of HTTP: the console's handlers parse a request, call one of these and
//! map the answer. Secrets (passwords, tokens, TOTP secrets and codes) are never logged
//! and never part of an error.

mod password;
mod secrets;
mod totp;

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use switchboard_domain::{AgentId, AuditAction, Email, Password, SessionId, TokenHash};
use switchboard_store::{
    Agent, FailureKey, Invitation, InvitationOutcome, InvitationPurpose, NewInvitation, NewSession, NewSignInFailure,
    SecuritySettings, Session, Store, StoreError,
};

use crate::audit::{Actor, Audit, EntryExt};
use crate::inbox::Invalid;

pub use password::warm_up;
pub use secrets::{SecretError, SecretKey};

/// Session lifetimes, invitation expiry and the rate limit.
#[derive(Clone, Debug)]
pub struct AuthOptions {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_max: Duration,
    /// How long an invitation (or reset) link works.
    pub invitation_ttl: Duration,
    /// Failed sign-ins allowed per account within `failure_window`.
    pub failures_per_account: u32,
    /// Failed sign-ins allowed per client address within `failure_window`.
    pub failures_per_client: u32,
    pub failure_window: Duration,
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self {
            session_idle: Duration::minutes(720),
            session_max: Duration::days(30),
            invitation_ttl: Duration::hours(72),
            failures_per_account: 5,
            failures_per_client: 20,
            failure_window: Duration::minutes(15),
        }
    }
}

/// What the auth use cases need besides the store: the options and the key TOTP
/// secrets are sealed with. Shared (cheap to clone).
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub options: Arc<AuthOptions>,
    pub key: Arc<SecretKey>,
}

/// A session's last use is recorded at most this often.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// Where a sign-in comes from.
#[derive(Clone, Debug)]
pub struct Client {
    /// The client's address (the peer's, or the trusted proxy's `X-Forwarded-For`).
    pub addr: String,
    pub user_agent: Option<String>,
}

/// What is still needed after the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Signed in.
    Done,
    /// A code from the authenticator app.
    Code,
    /// TOTP is required and not enrolled yet: enrol it first.
    Enrol,
}

/// A session just created: its token (shown once, the cookie's value).
pub struct SignedIn {
    pub token: String,
    pub session: Session,
    pub agent: Agent,
    pub next: NextStep,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn").field("session", &self.session.id).field("next", &self.next).finish()
    }
}

/// A TOTP enrolment to show the agent once: the secret for manual entry and the
/// `otpauth://` URI (for a QR code).
pub struct Enrolment {
    pub secret_base32: String,
    pub uri: String,
}

/// An invitation just created: the token (shown once, in the link) and the record.
pub struct CreatedInvitation {
    pub token: String,
    pub invitation: Invitation,
}

/// Why an auth use case did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown email, wrong password, no password set, or a deactivated agent: one
    /// message for all, so it does not tell which emails exist.
    #[error("the email or password is wrong")]
    WrongCredentials,
    /// Too many failed sign-ins: try again after `retry_after`.
    #[error("too many failed sign-ins; try again in {} minute(s)", minutes(*retry_after))]
    RateLimited { retry_after: Duration },
    /// The TOTP code is wrong, expired or already used.
    #[error("the code is wrong or already used")]
    WrongCode,
    /// TOTP is not enrolled (or not confirmed) for this agent.
    #[error("two-factor authentication is not set up")]
    TotpNotEnrolled,
    /// TOTP is already confirmed: disable it before enrolling again.
    #[error("two-factor authentication is already on")]
    TotpAlreadyOn,
    /// TOTP cannot be turned off: it is required for this agent or everyone.
    #[error("two-factor authentication is required and cannot be turned off")]
    TotpRequired,
    #[error("the invitation link was already used")]
    InvitationUsed,
    #[error("the invitation link has expired; ask an admin for a new one")]
    InvitationExpired,
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("the request is invalid")]
    Invalid(Vec<Invalid>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// Whole minutes to wait, at least 1.
#[must_use]
pub fn minutes(d: Duration) -> i64 {
    ((d.num_seconds() + 59) / 60).max(1)
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> AuthError {
    move |e| match e {
        StoreError::NotFound => AuthError::NotFound { what },
        e => e.into(),
    }
}

/// A new secret token with a recognisable prefix (`sbs_` sessions, `sbi_` invitations):
/// 256 random bits, hex.
fn new_secret_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let mut token = String::with_capacity(prefix.len() + 64);
    token.push_str(prefix);
    for b in bytes {
        let _ = write!(token, "{b:02x}");
    }
    token
}

/// The hash under which a session or invitation token is stored.
#[must_use]
pub fn hash_secret_token(token: &str) -> TokenHash {
    TokenHash::from_bytes(Sha256::digest(token.as_bytes()).into())
}

/// The CSRF token of a session: derived from its cookie token with a fixed label, so
/// nothing more is stored and it cannot be turned back into the cookie.
#[must_use]
pub fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"switchboard csrf v1\0");
    h.update(session_token.as_bytes());
    h.finalize().iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Compares two strings in constant time (for their contents; lengths may differ).
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The account a sign-in names, as the rate limit counts it: the email as typed, trimmed
/// and lower-cased, at most 254 characters.
fn account_key(email: &str) -> String {
    email.trim().to_lowercase().chars().take(254).collect()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| AuthError::Internal(anyhow::anyhow!("blocking task: {e}")))
}

/// The sign-in use cases over a store. Borrowed: build one per call, for free.
#[derive(Clone, Copy)]
pub struct Auth<'a> {
    store: &'a dyn Store,
    config: &'a AuthConfig,
}

impl<'a> Auth<'a> {
    #[must_use]
    pub fn new(store: &'a dyn Store, config: &'a AuthConfig) -> Self {
        Self { store, config }
    }

    fn opts(&self) -> &AuthOptions {
        &self.config.options
    }

    /// Refused if `key` has had its limit of failures in the window.
    async fn check_limit(&self, key: FailureKey<'_>, limit: u32, now: DateTime<Utc>) -> Result<(), AuthError> {
        if limit == 0 {
            return Ok(());
        }
        let window = self.opts().failure_window;
        match self.store.nth_recent_failure(key, now - window, limit).await? {
            Some(at) => Err(AuthError::RateLimited { retry_after: (at + window - now).max(Duration::seconds(1)) }),
            None => Ok(()),
        }
    }

    async fn check_limits(&self, account: &str, client: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
        self.check_limit(FailureKey::Account(account), self.opts().failures_per_account, now).await?;
        self.check_limit(FailureKey::Client(client), self.opts().failures_per_client, now).await
    }

    async fn record_failure(&self, account: &str, agent: Option<AgentId>, client: &str) -> Result<(), AuthError> {
        self.store
            .record_sign_in_failure(&NewSignInFailure { account, agent, client_addr: client }, Utc::now())
            .await?;
        Ok(())
    }

    /// Whether the agent must use a second factor.
    async fn totp_required(&self, agent: &Agent) -> Result<bool, AuthError> {
        Ok(agent.totp_required || self.store.security_settings().await?.totp_mandatory)
    }

    /// Checks the email and password and opens a session. The session is complete
    /// unless a second factor is enrolled ([`NextStep::Code`]) or required and not
    /// enrolled ([`NextStep::Enrol`]); until then it authenticates nothing else.
    pub async fn sign_in(&self, email: &str, password: &str, client: &Client) -> Result<SignedIn, AuthError> {
        let now = Utc::now();
        let account = account_key(email);
        self.check_limits(&account, &client.addr, now).await?;
        let creds = match Email::parse(email) {
            Ok(e) => self.store.credentials_by_email(&e).await?,
            Err(_) => None,
        };
        let creds = creds.filter(|c| c.agent.active);
        let phc = creds.as_ref().and_then(|c| c.password_hash.clone());
        let typed = password.to_owned();
        let ok = blocking(move || password::verify(&typed, phc.as_deref())).await?;
        let creds = match creds {
            Some(c) if ok => c,
            other => {
                self.record_failure(&account, other.map(|c| c.agent.id), &client.addr).await?;
                return Err(AuthError::WrongCredentials);
            }
        };
        let next = if creds.totp.as_ref().is_some_and(|t| t.confirmed) {
            NextStep::Code
        } else if self.totp_required(&creds.agent).await? {
            NextStep::Enrol
        } else {
            NextStep::Done
        };
        let token = new_secret_token("sbs_");
        let hash = hash_secret_token(&token);
        let session = self
            .store
            .create_session(
                &NewSession {
                    hash: &hash,
                    agent: creds.agent.id,
                    expires_at: now + self.opts().session_max,
                    user_agent: client.user_agent.as_deref().map(|u| truncate(u, 300)),
                    client_addr: Some(truncate(&client.addr, 100)),
                    second_factor_pending: next != NextStep::Done,
                },
                now,
            )
            .await?;
        tracing::info!(agent_id = %creds.agent.id, session_id = %session.id, ?next, "signed in");
        let actor = Actor::agent(creds.agent.id, client.addr.clone());
        let second_factor = match next {
            NextStep::Done => "none",
            NextStep::Code => "code",
            NextStep::Enrol => "enrol",
        };
        Audit::new(self.store)
            .record(actor.entry(AuditAction::SignIn).target("session", session.id).after(&serde_json::json!({
                "session_id": session.id,
                "second_factor": second_factor,
            })))
            .await;
        Ok(SignedIn { token, session, agent: creds.agent, next })
    }

    /// The session a cookie token names, if it is unrevoked, unexpired (absolute and
    /// idle) and its agent active; records its use (at most once a minute). A session
    /// whose second factor is pending is returned too: the caller decides what it allows.
    pub async fn session(&self, token: &str) -> Result<Option<(Session, Agent)>, AuthError> {
        let now = Utc::now();
        let Some((session, agent)) = self.store.session_by_token(&hash_secret_token(token)).await? else {
            return Ok(None);
        };
        if session.expires_at <= now || session.last_seen_at + self.opts().session_idle <= now {
            return Ok(None);
        }
        if session.last_seen_at < now - TOUCH_EVERY {
            self.store.touch_session(session.id, now - TOUCH_EVERY, now).await?;
        }
        Ok(Some((session, agent)))
    }

    /// The second step of a sign-in: a TOTP code for a session whose second factor is
    /// pending. A wrong code counts as a failed sign-in (the same rate limit).
    pub async fn verify_code(
        &self,
        session: &Session,
        agent: &Agent,
        code: &str,
        client: &Client,
    ) -> Result<(), AuthError> {
        let now = Utc::now();
        let account = account_key(agent.email.as_str());
        self.check_limits(&account, &client.addr, now).await?;
        let creds = self.store.credentials(agent.id).await.map_err(not_found("agent"))?;
        let Some(stored) = creds.totp.filter(|t| t.confirmed) else { return Err(AuthError::TotpNotEnrolled) };
        if !self.accept_code(agent, &stored.secret, code, false).await? {
            self.record_failure(&account, Some(agent.id), &client.addr).await?;
            return Err(AuthError::WrongCode);
        }
        self.store.complete_second_factor(session.id).await?;
        tracing::info!(agent_id = %agent.id, session_id = %session.id, "second factor given");
        Ok(())
    }

    /// Checks `code` against the sealed secret now and, if it matches a step not used
    /// yet, records the step (and `confirm`s the enrolment).
    async fn accept_code(
        &self,
        agent: &Agent,
        sealed: &switchboard_store::SealedSecret,
        code: &str,
        confirm: bool,
    ) -> Result<bool, AuthError> {
        let secret = self
            .config
            .key
            .open(sealed, &totp::context(agent.id))
            .map_err(|e| AuthError::Internal(anyhow::anyhow!("opening a TOTP secret: {e}")))?;
        let Some(t) = totp::totp(&secret, agent.email.as_str()) else {
            return Err(AuthError::Internal(anyhow::anyhow!("a stored TOTP secret is unusable")));
        };
        let unix = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let Some(step) = totp::check(&t, code, unix) else { return Ok(false) };
        Ok(self.store.use_totp_step(agent.id, step, confirm).await?)
    }

    /// Ends a session (sign-out); `actor`: who, from where.
    pub async fn sign_out(&self, session: &Session, actor: &Actor) -> Result<(), AuthError> {
        self.store.revoke_session(session.agent_id, session.id, Utc::now()).await.map_err(not_found("session"))?;
        tracing::info!(agent_id = %session.agent_id, session_id = %session.id, "signed out");
        Audit::new(self.store).record(actor.entry(AuditAction::SignOut).target("session", session.id)).await;
        Ok(())
    }

    /// The agent's live sessions, newest first.
    pub async fn sessions(&self, agent: AgentId) -> Result<Vec<Session>, AuthError> {
        let now = Utc::now();
        let idle = self.opts().session_idle;
        let all = self.store.sessions(agent, now).await.map_err(not_found("agent"))?;
        Ok(all.into_iter().filter(|s| s.last_seen_at + idle > now).collect())
    }

    /// Revokes one of the agent's sessions.
    pub async fn revoke_session(&self, agent: AgentId, session: SessionId, by: &Actor) -> Result<Session, AuthError> {
        let s = self.store.revoke_session(agent, session, Utc::now()).await.map_err(not_found("session"))?;
        tracing::info!(agent_id = %agent, session_id = %session, by = ?by.agent, "session revoked");
        Audit::new(self.store)
            .record(
                by.entry(AuditAction::SessionRevoked)
                    .target("session", session)
                    .after(&serde_json::json!({ "agent_id": agent, "session_id": session })),
            )
            .await;
        Ok(s)
    }

    /// A one-time link token for `agent` to set a password (`Invite`) or a new one
    /// (`Reset`), expiring after the configured time. `by`: the admin (None: the CLI).
    pub async fn create_invitation(
        &self,
        agent: AgentId,
        purpose: InvitationPurpose,
        by: &Actor,
    ) -> Result<CreatedInvitation, AuthError> {
        let now = Utc::now();
        let token = new_secret_token("sbi_");
        let hash = hash_secret_token(&token);
        let invitation = self
            .store
            .create_invitation(
                &NewInvitation {
                    hash: &hash,
                    agent,
                    purpose,
                    created_by: by.agent,
                    expires_at: now + self.opts().invitation_ttl,
                },
                now,
            )
            .await
            .map_err(not_found("agent"))?;
        tracing::info!(agent_id = %agent, invitation_id = %invitation.id, purpose = purpose.as_str(), "invitation created");
        let action = match purpose {
            InvitationPurpose::Invite => AuditAction::AgentInvited,
            InvitationPurpose::Reset => AuditAction::PasswordResetIssued,
        };
        Audit::new(self.store)
            .record(by.entry(action).target("agent", agent).after(&serde_json::json!({
                "invitation_id": invitation.id,
                "purpose": purpose.as_str(),
                "expires_at": invitation.expires_at,
            })))
            .await;
        Ok(CreatedInvitation { token, invitation })
    }

    /// The invitation a link names, if it can still be used.
    pub async fn invitation(&self, token: &str) -> Result<(Invitation, Agent), AuthError> {
        let inv = self
            .store
            .invitation(&hash_secret_token(token))
            .await?
            .ok_or(AuthError::NotFound { what: "invitation" })?;
        let agent = self.store.agent(inv.agent_id).await?.filter(|a| a.active);
        let Some(agent) = agent else { return Err(AuthError::NotFound { what: "invitation" }) };
        if inv.used_at.is_some() {
            return Err(AuthError::InvitationUsed);
        }
        if inv.expires_at <= Utc::now() {
            return Err(AuthError::InvitationExpired);
        }
        Ok((inv, agent))
    }

    /// Sets the password an invitation link is for (once). A reset ends the agent's
    /// sessions.
    pub async fn accept_invitation(&self, token: &str, password: &str) -> Result<Agent, AuthError> {
        // The link first: a used or expired link says so whatever the password.
        self.invitation(token).await?;
        let password =
            Password::parse(password).map_err(|e| AuthError::Invalid(vec![Invalid::new("password", e.to_string())]))?;
        let phc = blocking(move || password::hash(&password)).await?.map_err(AuthError::Internal)?;
        match self.store.accept_invitation(&hash_secret_token(token), &phc, Utc::now()).await? {
            InvitationOutcome::Accepted { agent, purpose, revoked } => {
                tracing::info!(agent_id = %agent.id, purpose = purpose.as_str(), revoked, "password set");
                Ok(agent)
            }
            InvitationOutcome::NotFound => Err(AuthError::NotFound { what: "invitation" }),
            InvitationOutcome::Used => Err(AuthError::InvitationUsed),
            InvitationOutcome::Expired => Err(AuthError::InvitationExpired),
        }
    }

    /// Starts (or restarts) TOTP enrolment: a new secret, unconfirmed until
    /// [`confirm_totp`](Self::confirm_totp). Refused while one is confirmed.
    pub async fn enrol_totp(&self, agent: &Agent) -> Result<Enrolment, AuthError> {
        let creds = self.store.credentials(agent.id).await.map_err(not_found("agent"))?;
        if creds.totp.is_some_and(|t| t.confirmed) {
            return Err(AuthError::TotpAlreadyOn);
        }
        let secret = totp::new_secret();
        let t = totp::totp(&secret, agent.email.as_str())
            .ok_or_else(|| AuthError::Internal(anyhow::anyhow!("building a TOTP failed")))?;
        let uri = t.to_url().map_err(|e| AuthError::Internal(anyhow::anyhow!("otpauth URI: {e}")))?;
        let sealed = self
            .config
            .key
            .seal(&secret, &totp::context(agent.id))
            .map_err(|e| AuthError::Internal(anyhow::anyhow!("sealing a TOTP secret: {e}")))?;
        self.store.set_totp(agent.id, Some(&sealed)).await.map_err(not_found("agent"))?;
        tracing::info!(agent_id = %agent.id, "TOTP enrolment started");
        Ok(Enrolment { secret_base32: t.secret().to_base32(), uri })
    }

    /// Confirms an enrolment with a first code; completes `session` if its second
    /// factor was pending (a required enrolment at sign-in).
    pub async fn confirm_totp(
        &self,
        agent: &Agent,
        code: &str,
        session: Option<&Session>,
        actor: &Actor,
    ) -> Result<(), AuthError> {
        let creds = self.store.credentials(agent.id).await.map_err(not_found("agent"))?;
        let Some(stored) = creds.totp else { return Err(AuthError::TotpNotEnrolled) };
        if stored.confirmed {
            return Err(AuthError::TotpAlreadyOn);
        }
        if !self.accept_code(agent, &stored.secret, code, true).await? {
            return Err(AuthError::WrongCode);
        }
        if let Some(s) = session.filter(|s| s.second_factor_pending) {
            self.store.complete_second_factor(s.id).await?;
        }
        tracing::info!(agent_id = %agent.id, "TOTP enrolled");
        Audit::new(self.store).record(actor.entry(AuditAction::TotpEnabled).target("agent", agent.id)).await;
        Ok(())
    }

    /// Turns TOTP off, unless it is required for the agent or everyone.
    pub async fn disable_totp(&self, agent: &Agent, actor: &Actor) -> Result<(), AuthError> {
        let fresh = self.store.agent(agent.id).await?.ok_or(AuthError::NotFound { what: "agent" })?;
        if self.totp_required(&fresh).await? {
            return Err(AuthError::TotpRequired);
        }
        self.store.set_totp(agent.id, None).await.map_err(not_found("agent"))?;
        tracing::info!(agent_id = %agent.id, "TOTP turned off");
        Audit::new(self.store).record(actor.entry(AuditAction::TotpDisabled).target("agent", agent.id)).await;
        Ok(())
    }

    /// Whether the agent has confirmed TOTP, has an unconfirmed enrolment, and must use it.
    pub async fn totp_status(&self, agent: &Agent) -> Result<TotpStatus, AuthError> {
        let creds = self.store.credentials(agent.id).await.map_err(not_found("agent"))?;
        Ok(TotpStatus {
            enabled: creds.totp.as_ref().is_some_and(|t| t.confirmed),
            pending: creds.totp.as_ref().is_some_and(|t| !t.confirmed),
            required: self.totp_required(&creds.agent).await?,
        })
    }

    pub async fn security_settings(&self) -> Result<SecuritySettings, AuthError> {
        Ok(self.store.security_settings().await?)
    }

    pub async fn set_security_settings(
        &self,
        s: &SecuritySettings,
        by: AgentId,
        actor: &Actor,
    ) -> Result<SecuritySettings, AuthError> {
        let before = self.store.security_settings().await?;
        let s = self.store.set_security_settings(s, by, Utc::now()).await?;
        tracing::info!(by = %by, totp_mandatory = s.totp_mandatory, "security settings changed");
        Audit::new(self.store)
            .record(
                actor
                    .entry(AuditAction::SettingsChanged)
                    .target("settings", "security")
                    .before(&serde_json::json!({ "totp_mandatory": before.totp_mandatory }))
                    .after(&serde_json::json!({ "totp_mandatory": s.totp_mandatory })),
            )
            .await;
        Ok(s)
    }
}

/// An agent's second factor, as their account page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TotpStatus {
    pub enabled: bool,
    /// Enrolment started, not confirmed.
    pub pending: bool,
    pub required: bool,
}

fn truncate(s: &str, max_chars: usize) -> &str {
    s.char_indices().nth(max_chars).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_derive_from_the_session_and_compare_in_constant_time() {
        let a = csrf_token("sbs_a");
        assert_eq!(a, csrf_token("sbs_a"));
        assert_ne!(a, csrf_token("sbs_b"));
        assert!(!a.contains("sbs_a"));
        assert!(same_secret(&a, &csrf_token("sbs_a")));
        assert!(!same_secret(&a, &csrf_token("sbs_b")));
        assert!(!same_secret(&a, ""));
    }

    #[test]
    fn minutes_round_up() {
        assert_eq!(minutes(Duration::seconds(1)), 1);
        assert_eq!(minutes(Duration::seconds(61)), 2);
        assert_eq!(minutes(Duration::minutes(15)), 15);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 5), "hi");
    }
}
