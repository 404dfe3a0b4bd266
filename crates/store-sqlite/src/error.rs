//! Driver errors become `StoreError` in one place, shared with PostgreSQL
//! (`switchboard_store_sql::error`).

pub(crate) use switchboard_store_sql::{DbResultExt, db_err};
