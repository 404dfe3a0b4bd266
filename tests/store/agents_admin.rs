//! Administering agents: listing and patching, the last admin, deactivation, tokens, teams.

use std::sync::Arc;

use switchboard_domain::{AgentName, AgentRole, ConversationStatus, Email, NewAgent, TokenHash};
use switchboard_store::{
    AgentPatch, AgentUpdate, AgentWithToken, AssignOutcome, Assignment, Availability, HistoryKind, NewToken,
    StatusChange, Store, StoreError, TeamName,
};

use crate::fixtures::{channel, inbound_text, t};

conformance!(stories: [
    agents_are_listed_and_patched,
    the_last_active_admin_is_never_demoted_or_deactivated,
    two_admins_demoting_each_other_at_once_leave_one,
    deactivating_revokes_tokens_and_unassigns_open_conversations,
    tokens_are_named_listed_and_revoked,
    teams_have_members_and_channels,
]);

pub fn new_agent(name: &str, email: &str, role: AgentRole) -> NewAgent {
    NewAgent { name: AgentName::parse(name).unwrap(), email: Email::parse(email).unwrap(), role }
}

pub fn token(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

fn updated(u: AgentUpdate) -> switchboard_store::Agent {
    match u {
        AgentUpdate::Updated { agent, .. } => agent,
        AgentUpdate::LastAdmin => panic!("refused as the last admin"),
    }
}

async fn agents_are_listed_and_patched(store: Arc<dyn Store>) {
    let AgentWithToken { agent: bo, token: first } = store
        .create_agent_with(
            &new_agent("Bo", "bo@example.com", AgentRole::Agent),
            Some(3),
            &NewToken { hash: &token(1), name: Some("laptop") },
            t(0),
        )
        .await
        .unwrap();
    assert_eq!(bo.capacity, Some(3));
    assert_eq!(bo.availability, Availability::Offline, "new agents are offline");
    assert_eq!(first.name.as_deref(), Some("laptop"));
    assert_eq!(first.agent_id, bo.id);
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Admin), &token(2), t(1)).await.unwrap();
    assert_eq!(ana.capacity, None, "no limit unless set");

    let names: Vec<String> = store.agents().await.unwrap().iter().map(|a| a.name.as_str().to_owned()).collect();
    assert_eq!(names, ["Ana", "Bo"]);
    assert_eq!(store.agent(bo.id).await.unwrap(), Some(bo.clone()));

    let patch = AgentPatch {
        name: Some(AgentName::parse("Bo B.").unwrap()),
        email: Some(Email::parse("bob@example.com").unwrap()),
        role: Some(AgentRole::Admin),
        capacity: Some(None),
        active: None,
        availability: Some(Availability::Online),
        totp_required: Some(true),
    };
    let bo2 = updated(store.update_agent(bo.id, &patch, Some(ana.id), t(2)).await.unwrap());
    assert_eq!(bo2.name.as_str(), "Bo B.");
    assert_eq!(bo2.email.as_str(), "bob@example.com");
    assert_eq!(bo2.role, AgentRole::Admin);
    assert_eq!(bo2.capacity, None);
    assert_eq!(bo2.availability, Availability::Online);
    assert!(bo2.totp_required);
    assert!(bo2.active);
    // An empty patch changes nothing; a capacity can be set again.
    assert_eq!(updated(store.update_agent(bo.id, &AgentPatch::default(), None, t(3)).await.unwrap()), bo2);
    let capped = AgentPatch { capacity: Some(Some(0)), ..AgentPatch::default() };
    assert_eq!(updated(store.update_agent(bo.id, &capped, None, t(3)).await.unwrap()).capacity, Some(0));
    // The token still authenticates the patched agent.
    assert_eq!(store.agent_by_token(&token(1), t(4)).await.unwrap().unwrap().name.as_str(), "Bo B.");

    let taken = AgentPatch { email: Some(Email::parse("ANA@example.com").unwrap()), ..AgentPatch::default() };
    let err = store.update_agent(bo.id, &taken, None, t(5)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { what: "agent email" }), "{err:?}");
    let err = store.update_agent(switchboard_domain::AgentId::new(), &patch, None, t(5)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn the_last_active_admin_is_never_demoted_or_deactivated(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Admin), &token(1), t(0)).await.unwrap();
    let bo = store.create_agent(&new_agent("Bo", "bo@example.com", AgentRole::Agent), &token(2), t(0)).await.unwrap();
    let demote = AgentPatch { role: Some(AgentRole::Agent), ..AgentPatch::default() };
    let deactivate = AgentPatch { active: Some(false), ..AgentPatch::default() };
    assert_eq!(store.update_agent(ana.id, &demote, None, t(1)).await.unwrap(), AgentUpdate::LastAdmin);
    assert_eq!(store.update_agent(ana.id, &deactivate, None, t(1)).await.unwrap(), AgentUpdate::LastAdmin);
    assert_eq!(store.agent(ana.id).await.unwrap(), Some(ana.clone()), "nothing changed");

    // An inactive admin does not count.
    let promote_inactive = AgentPatch { role: Some(AgentRole::Admin), active: Some(false), ..AgentPatch::default() };
    updated(store.update_agent(bo.id, &promote_inactive, None, t(2)).await.unwrap());
    assert_eq!(store.update_agent(ana.id, &demote, None, t(3)).await.unwrap(), AgentUpdate::LastAdmin);

    // With another active admin, either may go; then the other is the last.
    updated(
        store
            .update_agent(bo.id, &AgentPatch { active: Some(true), ..AgentPatch::default() }, None, t(4))
            .await
            .unwrap(),
    );
    assert_eq!(updated(store.update_agent(ana.id, &demote, None, t(5)).await.unwrap()).role, AgentRole::Agent);
    assert_eq!(store.update_agent(bo.id, &deactivate, None, t(6)).await.unwrap(), AgentUpdate::LastAdmin);
}

async fn two_admins_demoting_each_other_at_once_leave_one(store: Arc<dyn Store>) {
    for round in 0..5u8 {
        let a = store
            .create_agent(&new_agent("A", &format!("a{round}@example.com"), AgentRole::Admin), &token(round * 2), t(0))
            .await
            .unwrap();
        let b = store
            .create_agent(
                &new_agent("B", &format!("b{round}@example.com"), AgentRole::Admin),
                &token(round * 2 + 1),
                t(0),
            )
            .await
            .unwrap();
        // Only these two are active admins in this round.
        for other in store.agents().await.unwrap() {
            if other.id != a.id && other.id != b.id && other.active && other.role == AgentRole::Admin {
                let p = AgentPatch { role: Some(AgentRole::Agent), ..AgentPatch::default() };
                updated(store.update_agent(other.id, &p, None, t(1)).await.unwrap());
            }
        }
        let demote = AgentPatch { role: Some(AgentRole::Agent), ..AgentPatch::default() };
        let (s1, s2) = (Arc::clone(&store), Arc::clone(&store));
        let (d1, d2) = (demote.clone(), demote);
        let one = tokio::spawn(async move { s1.update_agent(a.id, &d1, Some(b.id), t(2)).await.unwrap() });
        let two = tokio::spawn(async move { s2.update_agent(b.id, &d2, Some(a.id), t(2)).await.unwrap() });
        let outcomes = [one.await.unwrap(), two.await.unwrap()];
        let refused = outcomes.iter().filter(|o| **o == AgentUpdate::LastAdmin).count();
        assert_eq!(refused, 1, "round {round}: exactly one demotion is refused: {outcomes:?}");
        let admins =
            store.agents().await.unwrap().into_iter().filter(|a| a.active && a.role == AgentRole::Admin).count();
        assert_eq!(admins, 1);
    }
}

async fn deactivating_revokes_tokens_and_unassigns_open_conversations(store: Arc<dyn Store>) {
    let admin =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Admin), &token(1), t(0)).await.unwrap();
    let bo = store.create_agent(&new_agent("Bo", "bo@example.com", AgentRole::Agent), &token(2), t(0)).await.unwrap();
    let ch = channel(store.as_ref(), "106540352242922").await;
    let (open, _) = inbound_text(store.as_ref(), ch.id, "16505550001", "wamid.a", t(1)).await;
    let (done, _) = inbound_text(store.as_ref(), ch.id, "16505550002", "wamid.b", t(2)).await;
    for c in [open, done] {
        let a = Assignment {
            conversation: c,
            agent: Some(bo.id),
            actor: Some(admin.id),
            respect_capacity: false,
            at: t(3),
        };
        assert!(matches!(store.assign(&a).await.unwrap(), AssignOutcome::Done { changed: true, .. }));
    }
    let resolve = StatusChange {
        conversation: done,
        status: ConversationStatus::Resolved,
        snoozed_until: None,
        actor: Some(bo.id),
        at: t(4),
    };
    store.set_status(&resolve).await.unwrap();
    assert!(store.agent_by_token(&token(2), t(5)).await.unwrap().is_some());

    let deactivate = AgentPatch { active: Some(false), ..AgentPatch::default() };
    let AgentUpdate::Updated { agent, unassigned } =
        store.update_agent(bo.id, &deactivate, Some(admin.id), t(6)).await.unwrap()
    else {
        panic!("refused")
    };
    assert!(!agent.active);
    assert_eq!(unassigned, vec![open]);
    assert_eq!(store.agent_by_token(&token(2), t(7)).await.unwrap(), None);
    assert!(store.tokens(bo.id).await.unwrap().iter().all(|t| t.revoked_at.is_some()));
    assert_eq!(store.conversation_state(open).await.unwrap().unwrap().assignee_id, None);
    // A resolved conversation keeps who handled it.
    assert_eq!(store.conversation_state(done).await.unwrap().unwrap().assignee_id, Some(bo.id));
    let history = store.history(open, 50, None).await.unwrap().items;
    let last = history.last().unwrap();
    assert_eq!(last.kind, HistoryKind::Unassigned);
    assert_eq!(last.actor_id, Some(admin.id));
    assert_eq!(last.data["reason"], "agent_deactivated");
    assert_eq!(last.data["agent_id"], bo.id.to_string());

    // Reactivated, the agent needs a new token: the old ones stay revoked.
    let reactivate = AgentPatch { active: Some(true), ..AgentPatch::default() };
    assert!(updated(store.update_agent(bo.id, &reactivate, Some(admin.id), t(8)).await.unwrap()).active);
    assert_eq!(store.agent_by_token(&token(2), t(9)).await.unwrap(), None);
    // The assignment to an inactive agent is refused meanwhile: see the queue stories.
}

async fn tokens_are_named_listed_and_revoked(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    let bo = store.create_agent(&new_agent("Bo", "bo@example.com", AgentRole::Agent), &token(9), t(0)).await.unwrap();
    let ci = store.create_token(ana.id, &NewToken { hash: &token(2), name: Some("CI") }, t(1)).await.unwrap();
    assert_eq!(ci.name.as_deref(), Some("CI"));
    assert_eq!((ci.created_at, ci.last_used_at, ci.revoked_at), (t(1), None, None));
    store.agent_by_token(&token(2), t(2)).await.unwrap().unwrap();

    let listed = store.tokens(ana.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].name, None, "the first token, unnamed");
    assert_eq!(listed[1].id, ci.id);
    assert_eq!(listed[1].last_used_at, Some(t(2)));

    // Another agent's token id is not found under this agent.
    let bos = store.tokens(bo.id).await.unwrap();
    let err = store.revoke_token(ana.id, bos[0].id, t(3)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert!(store.agent_by_token(&token(9), t(3)).await.unwrap().is_some());

    let revoked = store.revoke_token(ana.id, ci.id, t(3)).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(t(3)));
    assert_eq!(store.agent_by_token(&token(2), t(4)).await.unwrap(), None);
    assert!(store.agent_by_token(&token(1), t(4)).await.unwrap().is_some(), "the other token still works");
    // Revoking again keeps the first time.
    assert_eq!(store.revoke_token(ana.id, ci.id, t(9)).await.unwrap().revoked_at, Some(t(3)));

    let unknown = switchboard_domain::AgentId::new();
    assert!(matches!(store.tokens(unknown).await.unwrap_err(), StoreError::NotFound));
    let err = store.create_token(unknown, &NewToken { hash: &token(3), name: None }, t(5)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = store.create_token(bo.id, &NewToken { hash: &token(2), name: None }, t(5)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { what: "api token" }), "{err:?}");
}

async fn teams_have_members_and_channels(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    let bo = store.create_agent(&new_agent("Bo", "bo@example.com", AgentRole::Agent), &token(2), t(0)).await.unwrap();
    let ch = channel(store.as_ref(), "106540352242922").await;
    let sales = store.create_team(&TeamName::parse(" Sales ").unwrap(), t(1)).await.unwrap();
    assert_eq!(sales.name.as_str(), "Sales");
    assert!(sales.members.is_empty() && sales.channels.is_empty());
    let err = store.create_team(&TeamName::parse("SALES").unwrap(), t(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { what: "team name" }), "{err:?}");
    let billing = store.create_team(&TeamName::parse("Billing").unwrap(), t(2)).await.unwrap();

    assert!(store.add_team_member(sales.id, ana.id, t(3)).await.unwrap());
    assert!(!store.add_team_member(sales.id, ana.id, t(3)).await.unwrap(), "already a member");
    assert!(store.add_team_member(sales.id, bo.id, t(4)).await.unwrap());
    assert!(store.add_team_member(billing.id, ana.id, t(4)).await.unwrap());
    assert!(matches!(
        store.add_team_member(sales.id, switchboard_domain::AgentId::new(), t(4)).await.unwrap_err(),
        StoreError::NotFound
    ));
    store.route_channel(ch.id, Some(sales.id)).await.unwrap();
    assert!(matches!(
        store.route_channel(switchboard_domain::ChannelId::new(), Some(sales.id)).await.unwrap_err(),
        StoreError::NotFound
    ));

    let got = store.team(sales.id).await.unwrap().unwrap();
    assert_eq!(got.members, vec![ana.id, bo.id]);
    assert_eq!(got.channels, vec![ch.id]);
    let mut ana_teams = store.agent_teams(ana.id).await.unwrap();
    ana_teams.sort();
    let mut expected = vec![sales.id, billing.id];
    expected.sort();
    assert_eq!(ana_teams, expected);

    let renamed = store.rename_team(billing.id, &TeamName::parse("Accounts").unwrap()).await.unwrap();
    assert_eq!(renamed.name.as_str(), "Accounts");
    let err = store.rename_team(billing.id, &TeamName::parse("sales").unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { what: "team name" }), "{err:?}");
    let names: Vec<String> = store.teams().await.unwrap().iter().map(|t| t.name.as_str().to_owned()).collect();
    assert_eq!(names, ["Accounts", "Sales"]);

    assert!(store.remove_team_member(sales.id, bo.id).await.unwrap());
    assert!(!store.remove_team_member(sales.id, bo.id).await.unwrap());
    store.delete_team(sales.id).await.unwrap();
    assert!(matches!(store.delete_team(sales.id).await.unwrap_err(), StoreError::NotFound));
    assert_eq!(store.team(sales.id).await.unwrap(), None);
    assert_eq!(store.agent_teams(ana.id).await.unwrap(), vec![billing.id]);
    // The channel is routed to no team again.
    let (c, _) = inbound_text(store.as_ref(), ch.id, "16505550001", "wamid.a", t(5)).await;
    assert_eq!(store.conversation_state(c).await.unwrap().unwrap().team_id, None);
    store.route_channel(ch.id, Some(billing.id)).await.unwrap();
    assert_eq!(store.conversation_state(c).await.unwrap().unwrap().team_id, Some(billing.id));
    store.route_channel(ch.id, None).await.unwrap();
    assert_eq!(store.conversation_state(c).await.unwrap().unwrap().team_id, None);
}
