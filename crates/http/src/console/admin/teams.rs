//! `/admin/teams`: teams and their members (`/api/v1/teams`), each team's and channel's
//! auto-assignment policy (`/api/v1/teams/{id}/assignment`,
//! `/api/v1/channels/{id}/assignment`) and which team each channel's conversations go to
//! (`PUT /api/v1/channels/{id}/team`), with a link to each team's SLA targets
//! (`/admin/teams/{team_id}/sla`, in `super::sla`).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use switchboard_domain::{AgentId, AssignmentPolicy, PolicySettings, PolicySource};

use super::Nav;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::extract::Admin;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/teams", web::get().to(page)).route("/teams/{team_id}/sla", web::get().to(super::sla::team_page));
}

/// An agent, as a choice.
struct Person {
    id: String,
    name: String,
    active: bool,
}

/// A policy as the forms show it.
struct Policy {
    /// `off`, `round_robin`, `least_loaded`.
    policy: &'static str,
    /// Empty: never reassigned.
    reassign: String,
}

impl Policy {
    fn of(p: &PolicySettings) -> Self {
        Self {
            policy: p.policy.as_str(),
            reassign: p.reassign_after_minutes.map(|m| m.to_string()).unwrap_or_default(),
        }
    }

    fn is(&self, value: &str) -> bool {
        self.policy == value
    }

    /// The policy in words.
    fn describe(&self) -> String {
        let how = match AssignmentPolicy::parse(self.policy) {
            Some(AssignmentPolicy::RoundRobin) => "round robin",
            Some(AssignmentPolicy::LeastLoaded) => "least loaded",
            _ => "off (agents claim or assign by hand)",
        };
        if self.reassign.is_empty() || self.policy == "off" {
            how.to_owned()
        } else {
            format!("{how}, taken back after {} minutes without an answer", self.reassign)
        }
    }
}

struct TeamRow {
    id: String,
    name: String,
    members: Vec<Person>,
    /// Agents not in the team, to add.
    others: Vec<Person>,
    channels: Vec<String>,
    policy: Policy,
    /// Its SLA targets in words, or `None`.
    sla: Option<String>,
}

struct ChannelRow {
    id: String,
    name: String,
    phone_number_id: String,
    /// The team's id; empty: no team.
    team_id: String,
    /// The channel's own policy, if set.
    own: Option<Policy>,
    /// In effect, in words, and where it comes from.
    effective: String,
    source: &'static str,
}

/// The three policies, as `(value, label)`.
const POLICIES: &[(&str, &str)] = &[
    ("off", "Off: agents claim or are assigned by hand"),
    ("round_robin", "Round robin: the eligible agent assigned least recently"),
    ("least_loaded", "Least loaded: the eligible agent with the fewest open conversations"),
];

#[derive(Template)]
#[template(path = "console/admin_teams.html")]
struct Teams {
    layout: Layout,
    nav: Nav,
    teams: Vec<TeamRow>,
    channels: Vec<ChannelRow>,
    policies: &'static [(&'static str, &'static str)],
}

async fn page(Page(admin): Page<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let agents = state.store.agents().await?;
    let names: HashMap<AgentId, (String, bool)> =
        agents.iter().map(|a| (a.id, (a.name.as_str().to_owned(), a.active))).collect();
    let channels = state.store.channels().await?;
    let channel_names: HashMap<_, _> = channels.iter().map(|c| (c.id, c.name.clone())).collect();
    let mut teams = Vec::new();
    let stored = state.store.teams().await?;
    for t in &stored {
        let policy = state.store.team_policy(t.id).await?;
        let members = t
            .members
            .iter()
            .filter_map(|id| {
                names.get(id).map(|(name, active)| Person { id: id.to_string(), name: name.clone(), active: *active })
            })
            .collect();
        let others = agents
            .iter()
            .filter(|a| a.active && !t.members.contains(&a.id))
            .map(|a| Person { id: a.id.to_string(), name: a.name.as_str().to_owned(), active: a.active })
            .collect();
        teams.push(TeamRow {
            id: t.id.to_string(),
            name: t.name.as_str().to_owned(),
            members,
            others,
            channels: t.channels.iter().filter_map(|c| channel_names.get(c).cloned()).collect(),
            policy: Policy::of(&policy),
            sla: super::sla::saved_line(&state, switchboard_store::SlaScope::Team(t.id)).await?,
        });
    }
    let mut rows = Vec::new();
    for c in channels {
        let p = state.store.channel_policy(c.id).await?;
        let effective = Policy::of(&p.effective).describe();
        let source = match p.source {
            PolicySource::Channel => "the channel's own",
            PolicySource::Team => "its team's",
            PolicySource::Default => "the default: no policy set",
        };
        rows.push(ChannelRow {
            id: c.id.to_string(),
            name: c.name,
            phone_number_id: c.phone_number_id.to_string(),
            team_id: p.team_id.map(|t| t.to_string()).unwrap_or_default(),
            own: p.own.as_ref().map(Policy::of),
            effective,
            source,
        });
    }
    render(&Teams {
        layout: Layout::signed_in("Teams", &admin.agent),
        nav: Nav::at("/admin/teams"),
        teams,
        channels: rows,
        policies: POLICIES,
    })
}
