//! Driver errors become `StoreError` in one place, shared with SQLite
//! (`switchboard_store_sql::error`); here, which of them are worth retrying at once.

use switchboard_store::StoreError;
pub(crate) use switchboard_store_sql::{DbResultExt, db_err};

/// Whether retrying the same transaction at once is sensible (lost a deadlock or a
/// serialization race).
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "40001" || c == "40P01")
}

/// The same, for an error already mapped.
pub(crate) fn is_retryable_store(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(inner) if inner.downcast_ref::<sqlx::Error>().is_some_and(is_retryable))
}
