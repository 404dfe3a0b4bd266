//! `/admin/labels`: the labels, created, edited and deleted through `/api/v1/labels`.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::Nav;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::extract::Admin;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/labels", web::get().to(page));
}

struct Row {
    id: String,
    name: String,
    colour: String,
    description: String,
}

#[derive(Template)]
#[template(path = "console/admin_labels.html")]
struct Labels {
    layout: Layout,
    nav: Nav,
    labels: Vec<Row>,
}

async fn page(Page(admin): Page<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let labels = state
        .store
        .labels()
        .await?
        .into_iter()
        .map(|l| Row {
            id: l.id.to_string(),
            name: l.name.as_str().to_owned(),
            colour: l.colour.as_str().to_owned(),
            description: l.description.unwrap_or_default(),
        })
        .collect();
    render(&Labels { layout: Layout::signed_in("Labels", &admin.agent), nav: Nav::at("/admin/labels"), labels })
}
