//! What Switchboard's two SQL stores share, written once: column types that encode per
//! dialect ([`Ts`], [`Int`]), the rows both read and their conversion to domain types,
//! the driver-error mapping, and the statements where SQLite and PostgreSQL agree.
//!
//! Only `switchboard-store-sqlite` and `switchboard-store-postgres` depend on this crate;
//! it never leaks sqlx upward.
//!
//! # Shared statements
//!
//! SQL is shared as macros (one per port: `team_store!`, `label_store!`, …) that expand,
//! in a backend's module, into the port's implementation over that backend's concrete
//! types (its store, connection and database), so no generic sqlx bounds and no boxed
//! executors are involved: the expansion compiles to the same code a hand-written
//! implementation would. Methods a backend words its own way (row locks, set-wise
//! statements, search) are written in that backend and passed to the macro after a `;`;
//! smaller differences are named items the backend's module provides (each macro's
//! documentation lists them), such as a lock clause (`" FOR UPDATE"` or `""`).
//!
//! Both backends give the expansion the same methods on their store: `pool()` (readers),
//! `write_conn()` (one statement that writes) and `begin_write()` (a write transaction
//! with `conn()` and `commit()`). Parameters are written `$1`, `$2`…: PostgreSQL numbers
//! them that way and sqlx-sqlite reads `$NNN` as parameter NNN. (PostgreSQL types the
//! parameters from the values bound, so a lone `$1 IS NULL` needs no cast.) Times bind
//! as [`Ts`].
//!
//! The hot path's statements (webhook appends, ingest batches, auto-replies, the sender's
//! claim and sent batch) stay in the backends as they were; the few shared ones it runs
//! (link attribution, recording a retried or failed send) differ from before only in
//! how their parameters are spelled.
#![forbid(unsafe_code)]

mod agents;
mod audit;
mod auth;
mod channels;
pub mod columns;
mod consent;
mod contacts;
mod conversations;
mod csat;
pub mod erasure;
pub mod error;
pub mod ids;
mod inbox_events;
pub mod kpis;
mod labels;
mod links;
mod messages;
mod notes;
pub mod outbox;
mod queue;
pub mod reports;
pub mod rows;
mod sla;
mod teams;
mod webhooks;

pub use columns::{Int, Ts, opt_time, opt_ts};
pub use error::{DbResultExt, db_err};

/// What the shared statements' expansions name through `$crate`.
#[doc(hidden)]
pub mod reexport {
    pub use async_trait::async_trait;
}
