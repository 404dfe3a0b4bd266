//! The inbox: the conversations an agent works on.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{ConsoleError, Layout, Page, render};
use crate::extract::Caller;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(inbox));
}

#[derive(Template)]
#[template(path = "console/inbox.html")]
struct Inbox {
    layout: Layout,
}

/// `GET /`: the inbox.
async fn inbox(Page(caller): Page<Caller>) -> Result<HttpResponse, ConsoleError> {
    render(&Inbox { layout: Layout::signed_in("Inbox", &caller.agent) })
}
