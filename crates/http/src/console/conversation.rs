//! One conversation: its thread, the composer, the queue's actions and the contact.

use actix_web::web;

pub(super) fn configure(_cfg: &mut web::ServiceConfig) {}
