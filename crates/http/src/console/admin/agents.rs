//! `/admin/agents`: the agents, invited, edited, deactivated and reactivated through
//! `/api/v1/agents`; their one-time sign-in links come from
//! `POST /api/v1/agents/{id}/invitation` and are shown once, on the page that made them.

use actix_web::{HttpResponse, web};
use askama::Template;
use switchboard_domain::AgentRole;

use super::Nav;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::extract::Admin;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/agents", web::get().to(page));
}

struct Row {
    id: String,
    name: String,
    email: String,
    admin: bool,
    availability: &'static str,
    /// Empty: no limit.
    capacity: String,
    active: bool,
    totp_required: bool,
    /// A confirmed authenticator.
    totp_set_up: bool,
    /// A password is set (else the invitation is still open).
    has_password: bool,
    /// The signed-in admin themselves.
    me: bool,
}

#[derive(Template)]
#[template(path = "console/admin_agents.html")]
struct Agents {
    layout: Layout,
    nav: Nav,
    agents: Vec<Row>,
}

async fn page(Page(admin): Page<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let mut agents = Vec::new();
    for a in state.store.agents().await? {
        let creds = state.store.credentials(a.id).await?;
        agents.push(Row {
            id: a.id.to_string(),
            name: a.name.as_str().to_owned(),
            email: a.email.as_str().to_owned(),
            admin: a.role == AgentRole::Admin,
            availability: a.availability.as_str(),
            capacity: a.capacity.map(|c| c.to_string()).unwrap_or_default(),
            active: a.active,
            totp_required: a.totp_required,
            totp_set_up: creds.totp.is_some_and(|t| t.confirmed),
            has_password: creds.password_hash.is_some(),
            me: a.id == admin.agent.0.id,
        });
    }
    render(&Agents { layout: Layout::signed_in("Agents", &admin.agent), nav: Nav::at("/admin/agents"), agents })
}
