//! The one place where driver errors become `StoreError`.

use sqlx::error::ErrorKind;
use switchboard_store::StoreError;

/// Maps a driver error: a broken uniqueness rule is `Conflict`, an unreachable,
/// overloaded or restarting server (and a transaction that lost a deadlock or
/// serialization race, which is worth retrying later) is `Unavailable`, anything else is
/// `Other`.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict { what: conflict_what(d.constraint().unwrap_or_default()) }
        }
        sqlx::Error::Database(d) if d.code().is_some_and(|c| is_unavailable_code(&c)) => {
            StoreError::Unavailable(e.into())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.into()),
        _ => StoreError::Other(e.into()),
    }
}

/// SQLSTATE classes 08 (connection), 53 (insufficient resources), 57P (shutdown,
/// crash), 40001/40P01 (serialization failure, deadlock).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code == "40001" || code == "40P01"
}

/// Whether retrying the same transaction at once is sensible (lost a deadlock or a
/// serialization race).
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "40001" || c == "40P01")
}

/// The same, for an error already mapped.
pub(crate) fn is_retryable_store(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(inner) if inner.downcast_ref::<sqlx::Error>().is_some_and(is_retryable))
}

fn conflict_what(constraint: &str) -> &'static str {
    match constraint {
        "agents_email_key" => "agent email",
        "api_tokens_token_sha256_key" => "api token",
        "messages_wamid" => "message wamid",
        "channels_phone_number_id_key" => "channel",
        "conversations_active" => "open conversation",
        "contacts_wa_id_key" => "contact",
        _ => "record",
    }
}

/// `?` on driver results inside this crate.
pub(crate) trait DbResultExt<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> DbResultExt<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        assert!(is_unavailable_code("08006"));
        assert!(is_unavailable_code("57P01"));
        assert!(is_unavailable_code("53300"));
        assert!(!is_unavailable_code("23505"));
        assert_eq!(conflict_what("agents_email_key"), "agent email");
        assert_eq!(conflict_what("whatever"), "record");
    }
}
