//! What Switchboard's two SQL stores share, written once: column types that encode per
//! dialect ([`Ts`], [`Int`]), the rows both read and their conversion to domain types,
//! the driver-error mapping, and the statements where SQLite and PostgreSQL agree.
//!
//! Only `switchboard-store-sqlite` and `switchboard-store-postgres` depend on this crate;
//! it never leaks sqlx upward.
//!
//! # Shared statements
//!
//! SQL is shared as macros that expand, in each backend, into code over that backend's
//! concrete types (its store, connection and database). Both backends give the expansion
//! the same few methods on their store: `pool()` (readers), `write_conn()` (one
//! statement that writes) and `begin_write()` (a write transaction with `conn()` and
//! `commit()`). Parameters are written `$1`, `$2`…: PostgreSQL numbers them that way and
//! SQLite reads `$NNN` as parameter NNN. Statements where the dialects differ stay in the
//! backends.
#![forbid(unsafe_code)]

mod agents;
pub mod columns;
mod contacts;
mod conversations;
pub mod error;
mod labels;
mod links;
mod messages;
mod notes;
pub mod outbox;
mod queue;
pub mod rows;
mod teams;

pub use columns::{Int, Ts, opt_time, opt_ts};
pub use error::{DbResultExt, db_err};

/// What the shared statements' expansions name through `$crate`.
#[doc(hidden)]
pub mod reexport {
    pub use async_trait::async_trait;
}
