//! Password hashing: argon2id (the crate's default parameters), PHC strings, always on
//! the blocking pool (a hash takes tens of milliseconds of CPU).

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use switchboard_domain::Password;

/// A hash of a password nobody knows: unknown emails are checked against it, so a
/// sign-in takes as long whether the email exists or not.
static DUMMY: LazyLock<Option<String>> = LazyLock::new(|| {
    let mut random = [0u8; 32];
    rand::fill(&mut random);
    Argon2::default().hash_password(&random).ok().map(|h| h.to_string())
});

/// The PHC string of `password` (blocking: call from `spawn_blocking`).
pub(super) fn hash(password: &Password) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

/// Whether `password` matches `phc`; with `None`, checks against a dummy hash (and
/// answers false) so the time spent is the same (blocking).
pub(super) fn verify(password: &str, phc: Option<&str>) -> bool {
    let (phc, real) = match phc {
        Some(p) => (p, true),
        None => match DUMMY.as_deref() {
            Some(d) => (d, false),
            None => return false,
        },
    };
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// Warms the dummy hash up (at start-up, so the first unknown email is not faster).
pub fn warm_up() {
    LazyLock::force(&DUMMY);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let p = Password::parse("correct horse battery").unwrap();
        let h = hash(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("correct horse batterY", Some(&h)));
        assert!(!verify("correct horse battery", None));
        assert!(!verify("x", Some("not a phc string")));
    }
}
