//! The one place where driver errors become `StoreError`, for both dialects.

use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::postgres::PgDatabaseError;
use switchboard_store::StoreError;

/// Maps a driver error: a broken uniqueness rule is `Conflict`; an unreachable, busy,
/// overloaded or restarting database (and, in PostgreSQL, a transaction that lost a
/// deadlock or serialization race, which is worth retrying later) is `Unavailable`;
/// anything else is `Other`.
pub fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict { what: conflict(&**d) }
        }
        sqlx::Error::Database(d) if is_unavailable(&**d) => StoreError::Unavailable(e.into()),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.into()),
        _ => StoreError::Other(e.into()),
    }
}

fn is_pg(d: &dyn DatabaseError) -> bool {
    d.try_downcast_ref::<PgDatabaseError>().is_some()
}

fn conflict(d: &dyn DatabaseError) -> &'static str {
    if is_pg(d) { pg_conflict_what(d.constraint().unwrap_or_default()) } else { sqlite_conflict_what(d.message()) }
}

fn is_unavailable(d: &dyn DatabaseError) -> bool {
    d.code().is_some_and(|c| if is_pg(d) { pg_is_unavailable_code(&c) } else { sqlite_is_unavailable_code(&c) })
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with extended codes: the busy timeout ran out.
/// SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14): the disk.
fn sqlite_is_unavailable_code(code: &str) -> bool {
    code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14))
}

/// SQLSTATE classes 08 (connection), 53 (insufficient resources), 57P (shutdown,
/// crash), 40001/40P01 (serialization failure, deadlock).
fn pg_is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code == "40001" || code == "40P01"
}

/// SQLite names the columns, not the index: "UNIQUE constraint failed: agents.email".
fn sqlite_conflict_what(message: &str) -> &'static str {
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

/// PostgreSQL names the constraint.
fn pg_conflict_what(constraint: &str) -> &'static str {
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

/// `?` on driver results in the stores.
pub trait DbResultExt<T> {
    /// The result, its error mapped by [`db_err`].
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
    fn sqlite_conflicts_are_named_by_their_columns() {
        assert_eq!(sqlite_conflict_what("UNIQUE constraint failed: agents.email"), "agent email");
        assert_eq!(
            sqlite_conflict_what("UNIQUE constraint failed: messages.channel_id, messages.wamid"),
            "message wamid"
        );
        assert_eq!(sqlite_conflict_what("UNIQUE constraint failed: x.y"), "record");
    }

    #[test]
    fn sqlite_busy_and_io_codes_are_unavailable() {
        assert!(sqlite_is_unavailable_code("5"));
        assert!(sqlite_is_unavailable_code("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(sqlite_is_unavailable_code("266")); // SQLITE_IOERR_READ
        assert!(!sqlite_is_unavailable_code("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!sqlite_is_unavailable_code("x"));
    }

    #[test]
    fn sqlstates_are_classified() {
        assert!(pg_is_unavailable_code("08006"));
        assert!(pg_is_unavailable_code("57P01"));
        assert!(pg_is_unavailable_code("53300"));
        assert!(!pg_is_unavailable_code("23505"));
        assert_eq!(pg_conflict_what("agents_email_key"), "agent email");
        assert_eq!(pg_conflict_what("whatever"), "record");
    }
}
