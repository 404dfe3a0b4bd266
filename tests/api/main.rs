//! Black-box tests: the real application on port 0, a fresh database per test, on
//! SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod agents;
mod assignment;
mod attachments;
mod audit;
mod autoreplies;
mod autoreply_admin;
mod bodies;
mod channels;
mod consent;
mod console;
mod console_admin;
mod console_admin_hours;
mod console_admin_people;
mod console_admin_rules;
mod console_conversation;
mod console_inbox;
mod contacts;
mod csat;
mod events;
mod export;
mod health;
mod ingest;
mod kpis;
mod labels;
mod links;
mod media;
mod notes;
mod openapi;
mod outgoing_webhooks;
mod privacy;
mod queue;
mod quick_replies;
mod read_api;
mod reconcile;
mod replies;
mod reports;
mod restart;
mod sign_in;
mod sla;
mod templates;
mod transfer;
mod views;
mod visibility;
mod webhooks;
