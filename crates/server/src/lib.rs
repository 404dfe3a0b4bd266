//! The `switchboard` binary's library half: settings, telemetry and start-up, shared
//! with the black-box tests.
#![forbid(unsafe_code)]

pub mod cli;
pub mod settings;
pub mod startup;
pub mod telemetry;
