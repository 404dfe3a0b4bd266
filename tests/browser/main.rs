//! Browser tests: Debian's headless Chromium, driven through chromedriver, against the
//! real server on a fresh database (SQLite and PostgreSQL). `harness` is the toolkit;
//! docs/testing.md says how to run them and where failures leave their screenshots.
#![allow(clippy::unwrap_used)]

pub mod harness;

mod admin_audit;
mod admin_channels;
mod admin_consent;
mod admin_hours;
mod admin_labels;
mod admin_people;
mod admin_rules;
mod admin_sla;
mod console_inbox;
mod conversation;
mod privacy;
mod reports;
mod selftest;
mod sign_in;
