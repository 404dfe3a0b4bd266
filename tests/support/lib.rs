//! The black-box test harness: fresh databases per test on both backends, the real
//! application on port 0, Meta-style signing, and a mock Graph API.
#![forbid(unsafe_code)]

pub mod db;
