//! Black-box tests: the real application on port 0, a fresh database per test, on
//! SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod agents;
mod autoreplies;
mod channels;
mod autoreply_admin;
mod health;
mod ingest;
mod labels;
mod links;
mod media;
mod queue;
mod quick_replies;
mod read_api;
mod replies;
mod restart;
mod webhooks;
