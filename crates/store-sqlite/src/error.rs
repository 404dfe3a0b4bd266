//! The one place where driver errors become `StoreError`.

use sqlx::error::ErrorKind;
use switchboard_store::StoreError;

/// Maps a driver error: a broken uniqueness rule is `Conflict`, an unreachable or busy
/// database is `Unavailable`, anything else is `Other`.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict { what: conflict_what(d.message()) }
        }
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with extended codes: the busy timeout
        // ran out. SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14): the disk.
        sqlx::Error::Database(d) if d.code().is_some_and(|c| is_unavailable_code(&c)) => {
            StoreError::Unavailable(e.into())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(e.into())
        }
        _ => StoreError::Other(e.into()),
    }
}

fn is_unavailable_code(code: &str) -> bool {
    code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14))
}

/// SQLite names the columns, not the index: "UNIQUE constraint failed: agents.email".
fn conflict_what(message: &str) -> &'static str {
    let cols = message.rsplit(':').next().unwrap_or(message);
    if cols.contains("agents.email") {
        "agent email"
    } else if cols.contains("api_tokens.token_sha256") {
        "api token"
    } else if cols.contains("messages.wamid") {
        "message wamid"
    } else if cols.contains("channels.phone_number_id") {
        "channel"
    } else if cols.contains("conversations.contact_id") {
        "open conversation"
    } else if cols.contains("contacts.wa_id") {
        "contact"
    } else {
        "record"
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
    fn conflicts_are_named_by_their_columns() {
        assert_eq!(conflict_what("UNIQUE constraint failed: agents.email"), "agent email");
        assert_eq!(conflict_what("UNIQUE constraint failed: messages.channel_id, messages.wamid"), "message wamid");
        assert_eq!(conflict_what("UNIQUE constraint failed: x.y"), "record");
    }

    #[test]
    fn busy_and_io_codes_are_unavailable() {
        assert!(is_unavailable_code("5"));
        assert!(is_unavailable_code("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(is_unavailable_code("266")); // SQLITE_IOERR_READ
        assert!(!is_unavailable_code("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!is_unavailable_code("x"));
    }
}
