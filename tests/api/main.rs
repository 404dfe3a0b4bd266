//! Black-box tests: the real application on port 0, a fresh database per test, on
//! SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod health;
mod ingest;
mod media;
mod read_api;
mod replies;
mod restart;
mod webhooks;
