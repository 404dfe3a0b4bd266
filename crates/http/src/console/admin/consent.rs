//! `/admin/consent`: the opt-out and opt-in keywords and their confirmations, saved
//! through `PUT /api/v1/admin/consent`.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::Nav;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::extract::Admin;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/consent", web::get().to(page));
}

#[derive(Template)]
#[template(path = "console/admin_consent.html")]
struct Consent {
    layout: Layout,
    nav: Nav,
    /// One keyword a line.
    opt_out_keywords: String,
    opt_in_keywords: String,
    opt_out_confirmation: String,
    opt_in_confirmation: String,
}

async fn page(Page(admin): Page<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let s = switchboard_core::consent::settings(state.store.as_ref()).await?;
    render(&Consent {
        layout: Layout::signed_in("Consent", &admin.agent),
        nav: Nav::at("/admin/consent"),
        opt_out_keywords: s.opt_out_keywords.join("\n"),
        opt_in_keywords: s.opt_in_keywords.join("\n"),
        opt_out_confirmation: s.opt_out_confirmation.unwrap_or_default(),
        opt_in_confirmation: s.opt_in_confirmation.unwrap_or_default(),
    })
}
