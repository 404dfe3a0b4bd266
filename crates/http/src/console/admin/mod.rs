//! The admins' console, under `/admin`: screens that show the configuration and save it
//! through the REST API itself.
//!
//! **Who.** The whole scope is wrapped in [`admins_only`], so no page or action under
//! `/admin` can run for anyone but a signed-in admin, whatever its handler takes: an
//! agent gets the 403 page, a browser without a session the sign-in page.
//!
//! **Saving.** Pages render the current configuration; their forms carry
//! `data-api="METHOD /api/v1/…"` and `assets/admin.js` sends them as that API call's
//! JSON body (with the session's CSRF token). Validation, field errors (shown next to
//! the field they name) and all-or-nothing saving are therefore the API's own, and
//! the console cannot save anything the API would refuse. Previews (the open/closed
//! line, a rendered greeting, the rules' "try it") are console routes here that take the
//! same JSON body and answer an HTML fragment computed by the engine's code.

mod agents;
mod audit;
mod channels;
mod consent;
mod labels;
mod links;
mod outbox;
mod preview;
mod quick_replies;
mod rules;
mod sla;
mod teams;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{ConsoleError, Layout, Page, render};
use crate::extract::Admin;

/// The screens, in the order the navigation lists them: `(path, name, what it is for)`.
const SECTIONS: &[Section] = &[
    Section {
        path: "/admin/channels",
        name: "Channels & hours",
        about: "Each number's business hours, holidays, greeting, away message, survey and SLA targets.",
    },
    Section {
        path: "/admin/quick-replies",
        name: "Quick replies",
        about: "Canned answers agents send with /shortcut, with variables filled in for each contact.",
    },
    Section {
        path: "/admin/rules",
        name: "Keyword rules",
        about: "Automatic answers, labels and assignments for messages that match, in order; try any message on them.",
    },
    Section {
        path: "/admin/labels",
        name: "Labels",
        about: "Names and colours agents and rules put on conversations.",
    },
    Section {
        path: "/admin/consent",
        name: "Consent",
        about: "Opt-out and opt-in keywords (STOP, START, …) and the confirmations they get.",
    },
    Section {
        path: "/admin/agents",
        name: "Agents",
        about: "Invite agents, set their role and capacity, reset passwords, deactivate.",
    },
    Section {
        path: "/admin/teams",
        name: "Teams and routing",
        about: "Teams and their members, which team gets each channel, auto-assignment, SLA targets.",
    },
    Section {
        path: "/admin/links",
        name: "Click-to-chat links",
        about: "wa.me links and QR codes with prefilled text; their clicks and conversations per day.",
    },
    Section {
        path: "/admin/outbox",
        name: "Outbox",
        about: "Messages that could not be sent, and why; send them again.",
    },
    Section {
        path: "/admin/audit",
        name: "Audit log",
        about: "Who signed in, failed to, and changed what, when and from where, with the before and after.",
    },
];

/// One screen of the navigation.
pub struct Section {
    pub path: &'static str,
    pub name: &'static str,
    pub about: &'static str,
}

/// `(method, path)` of every admin route, for the test that an agent gets 403 on each and
/// changes nothing (`tests/api/console_admin.rs`); a path's `{id}` stands for a real one.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/admin"),
    ("get", "/admin/labels"),
    ("get", "/admin/consent"),
    ("get", "/admin/channels"),
    ("get", "/admin/channels/{channel_id}/hours"),
    ("post", "/admin/channels/{channel_id}/hours/preview"),
    ("get", "/admin/channels/{channel_id}/greeting"),
    ("post", "/admin/channels/{channel_id}/greeting/preview"),
    ("get", "/admin/channels/{channel_id}/away"),
    ("post", "/admin/channels/{channel_id}/away/preview"),
    ("get", "/admin/channels/{channel_id}/csat"),
    ("get", "/admin/channels/{channel_id}/sla"),
    ("get", "/admin/channels/{channel_id}/retention"),
    ("get", "/admin/channels/{channel_id}/edit"),
    ("get", "/admin/agents"),
    ("get", "/admin/teams"),
    ("get", "/admin/teams/{team_id}/sla"),
    ("get", "/admin/links"),
    ("get", "/admin/links/{id}"),
    ("get", "/admin/outbox"),
    ("get", "/admin/audit"),
    ("get", "/admin/audit/rows"),
    ("get", "/admin/quick-replies"),
    ("post", "/admin/quick-replies/preview"),
    ("get", "/admin/rules"),
    ("get", "/admin/rules/new"),
    ("post", "/admin/rules/preview"),
    ("get", "/admin/rules/{id}"),
];

pub(super) fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/admin")
        .wrap(from_fn(admins_only))
        .route("", web::get().to(overview))
        .configure(channels::configure)
        .configure(labels::configure)
        .configure(consent::configure)
        .configure(agents::configure)
        .configure(teams::configure)
        .configure(links::configure)
        .configure(outbox::configure)
        .configure(audit::configure)
        .configure(quick_replies::configure)
        .configure(rules::configure)
}

/// Lets only a signed-in admin through; anyone else gets the console's refusal (the
/// sign-in page, or 403), with the console's headers.
async fn admins_only(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match req.extract::<Page<Admin>>().await {
        Ok(_) => next.call(req).await.map(ServiceResponse::map_into_left_body),
        Err(refusal) => Ok(req.into_response(HttpResponse::from_error(refusal)).map_into_right_body()),
    }
}

/// What every admin page shows around its own part: the screens, the current one marked.
pub struct Nav {
    pub sections: &'static [Section],
    pub current: &'static str,
}

impl Nav {
    pub fn at(current: &'static str) -> Self {
        Self { sections: SECTIONS, current }
    }
}

#[derive(Template)]
#[template(path = "console/admin.html")]
struct Overview {
    layout: Layout,
    nav: Nav,
}

/// `GET /admin`: the screens, each with what it is for.
async fn overview(Page(admin): Page<Admin>) -> Result<HttpResponse, ConsoleError> {
    render(&Overview { layout: Layout::signed_in("Settings", &admin.agent), nav: Nav::at("/admin") })
}
