//! Reports (`switchboard_store_sql::reports`).

/// `group_concat(X)`: the values of X, comma-separated (NULLs left out).
const LIST_AGG: [&str; 2] = ["group_concat(", ")"];

switchboard_store_sql::report_store!(crate::SqliteStore);
