//! TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, one step of skew either way.

use switchboard_domain::AgentId;
use totp_rs::{Builder, Totp};

/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "Switchboard";
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

pub(super) fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    // An account name must not contain a colon; emails do not.
    Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', "_"))
        .build()
        .ok()
}

/// A new random secret.
pub(super) fn new_secret() -> [u8; SECRET_BYTES] {
    let mut s = [0u8; SECRET_BYTES];
    rand::fill(&mut s);
    s
}

/// The step a code matches at `unix_secs` (±1 step), if any. Codes are digits only,
/// spaces allowed between them.
pub(super) fn check(totp: &Totp, code: &str, unix_secs: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp.check(&code, unix_secs).and_then(|s| i64::try_from(s).ok())
}

/// What the TOTP secret is authenticated with when sealed: the agent it belongs to.
pub(super) fn context(agent: AgentId) -> Vec<u8> {
    let mut c = b"totp:".to_vec();
    c.extend_from_slice(agent.as_uuid().as_bytes());
    c
}
