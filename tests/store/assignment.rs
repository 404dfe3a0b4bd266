//! Auto-assignment: policies per team and channel, round robin, least loaded, who is
//! eligible, draining the backlog, reassignment of unanswered conversations, a keyword
//! rule's assignment in the history, and two assigners racing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Duration;
use switchboard_core::assignment::auto_assign;
use switchboard_domain::{AgentId, AgentRole, ChannelId, ConversationId, ConversationStatus, MessageContent};
use switchboard_store::{
    AgentPatch, Assignment, AssignmentPolicy, AutoReason, Availability, ClaimOutcome, ClaimScope, HistoryKind,
    NewOutboundMessage, NewToken, PolicySettings, PolicySource, Returned, StatusChange, Store, StoreError, TeamName,
    TeamTransfer, TransferOutcome,
};
use switchboard_tests::TestDb;

use crate::agents_admin::{new_agent, token};
use crate::fixtures::{begin, channel, finish, inbound_text, second_instance, t};

conformance!(
    stories: [
        policies_are_set_per_team_and_channel_and_the_channels_own_wins,
        round_robin_spreads_conversations_evenly_and_remembers_the_rotation,
        least_loaded_picks_the_agent_with_the_fewest_open_conversations,
        offline_away_inactive_and_full_agents_get_nothing,
        the_backlog_drains_when_an_agent_comes_online_or_frees_capacity,
        a_team_channel_goes_to_its_members_only,
        a_transferred_conversation_follows_its_new_teams_policy,
        an_unanswered_conversation_is_reassigned_after_n_minutes,
        a_keyword_rules_assignment_is_recorded_in_the_history,
    ],
    with_db: [two_assigners_racing_never_exceed_capacity_or_assign_twice],
);

const PHONE: &str = "106540352242922";
const OTHER_PHONE: &str = "106540352242923";

/// An agent with a capacity, online or not.
async fn agent(s: &dyn Store, n: u8, capacity: Option<u32>, availability: Availability) -> AgentId {
    let new = new_agent(&format!("Agent {n}"), &format!("agent{n}@example.com"), AgentRole::Agent);
    let a = s.create_agent_with(&new, capacity, &NewToken { hash: &token(n), name: None }, t(0)).await.unwrap().agent;
    set_availability(s, a.id, availability).await;
    a.id
}

async fn set_availability(s: &dyn Store, agent: AgentId, availability: Availability) {
    let patch = AgentPatch { availability: Some(availability), ..AgentPatch::default() };
    s.update_agent(agent, &patch, None, t(0)).await.unwrap();
}

fn policy(policy: AssignmentPolicy, reassign_after_minutes: Option<u32>) -> PolicySettings {
    PolicySettings { policy, reassign_after_minutes }
}

/// `n` customers write, one second apart from `from`; their conversations, oldest first.
async fn waiting(s: &dyn Store, channel: ChannelId, tag: &str, n: usize, from: i64) -> Vec<ConversationId> {
    let mut out = Vec::new();
    for i in 0..n {
        let wa_id = format!("1650{}{i:05}", u32::from(tag.as_bytes()[0]) % 10);
        let at = t(from + i64::try_from(i).unwrap());
        out.push(inbound_text(s, channel, &wa_id, &format!("wamid.{tag}.{i}"), at).await.0);
    }
    out
}

async fn assignee(s: &dyn Store, c: ConversationId) -> Option<AgentId> {
    s.conversation_state(c).await.unwrap().unwrap().assignee_id
}

fn counts(assigned: impl IntoIterator<Item = AgentId>) -> HashMap<AgentId, usize> {
    let mut m = HashMap::new();
    for a in assigned {
        *m.entry(a).or_default() += 1;
    }
    m
}

async fn policies_are_set_per_team_and_channel_and_the_channels_own_wins(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, PHONE).await;
    let team = s.create_team(&TeamName::parse("Sales").unwrap(), t(0)).await.unwrap();
    assert_eq!(s.team_policy(team.id).await.unwrap(), PolicySettings::default(), "off unless set");
    let p = s.channel_policy(ch.id).await.unwrap();
    assert_eq!((p.effective.policy, p.source, p.own), (AssignmentPolicy::Off, PolicySource::Default, None));

    let rr = policy(AssignmentPolicy::RoundRobin, Some(15));
    s.set_team_policy(team.id, &rr, t(1)).await.unwrap();
    assert_eq!(s.team_policy(team.id).await.unwrap(), rr);
    // A team's policy applies to the channels routed to it.
    assert_eq!(s.channel_policy(ch.id).await.unwrap().source, PolicySource::Default);
    s.route_channel(ch.id, Some(team.id)).await.unwrap();
    let p = s.channel_policy(ch.id).await.unwrap();
    assert_eq!((p.effective, p.source, p.team_id), (rr, PolicySource::Team, Some(team.id)));

    // The channel's own policy wins, even "off"; removing it follows the team again.
    let off = policy(AssignmentPolicy::Off, None);
    let p = s.set_channel_policy(ch.id, Some(&off), t(2)).await.unwrap();
    assert_eq!((p.effective, p.source, p.own), (off, PolicySource::Channel, Some(off)));
    let ll = policy(AssignmentPolicy::LeastLoaded, None);
    assert_eq!(s.set_channel_policy(ch.id, Some(&ll), t(3)).await.unwrap().effective, ll);
    let p = s.set_channel_policy(ch.id, None, t(4)).await.unwrap();
    assert_eq!((p.effective, p.source, p.own), (rr, PolicySource::Team, None));

    let unknown_team = switchboard_store::TeamId::new();
    assert!(matches!(s.team_policy(unknown_team).await, Err(StoreError::NotFound)));
    assert!(matches!(s.set_team_policy(unknown_team, &rr, t(5)).await, Err(StoreError::NotFound)));
    let unknown_channel = ChannelId::new();
    assert!(matches!(s.channel_policy(unknown_channel).await, Err(StoreError::NotFound)));
    assert!(matches!(s.set_channel_policy(unknown_channel, Some(&rr), t(5)).await, Err(StoreError::NotFound)));
    // Deleting the team: the channel has no team, its policy is off again.
    s.delete_team(team.id).await.unwrap();
    assert_eq!(s.channel_policy(ch.id).await.unwrap().source, PolicySource::Default);
}

async fn round_robin_spreads_conversations_evenly_and_remembers_the_rotation(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, PHONE).await;
    let agents = [
        agent(s, 1, None, Availability::Online).await,
        agent(s, 2, None, Availability::Online).await,
        agent(s, 3, None, Availability::Online).await,
    ];
    let first = waiting(s, ch.id, "a", 7, 10).await;
    // No policy: nothing happens.
    assert!(auto_assign(s, t(100), 100).await.unwrap().assigned.is_empty());
    s.set_channel_policy(ch.id, Some(&policy(AssignmentPolicy::RoundRobin, None)), t(1)).await.unwrap();

    let report = auto_assign(s, t(100), 100).await.unwrap();
    let order: Vec<ConversationId> = report.assigned.iter().map(|a| a.conversation).collect();
    assert_eq!(order, first, "oldest waiting first");
    let by: Vec<AgentId> = report.assigned.iter().map(|a| a.agent).collect();
    // Strict rotation: each agent once per round.
    for round in by.chunks(3) {
        assert_eq!(round.iter().collect::<HashSet<_>>().len(), round.len(), "{by:?}");
    }
    let c = counts(by.iter().copied());
    assert_eq!(c.values().copied().collect::<HashSet<usize>>(), HashSet::from([3, 2]));
    for a in &report.assigned {
        assert_eq!(assignee(s, a.conversation).await, Some(a.agent));
        assert_eq!(a.reason, AutoReason::Waiting);
    }
    let h = s.history(first[0], 50, None).await.unwrap().items;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].kind, HistoryKind::Assigned);
    assert_eq!(h[0].actor_id, None, "the system");
    assert_eq!(h[0].data["via"], "auto");
    assert_eq!(h[0].data["policy"], "round_robin");
    assert_eq!(h[0].data["reason"], "waiting");
    assert_eq!(h[0].data["agent_id"], by[0].to_string());
    assert_eq!(h[0].at, t(100));

    // The rotation is kept in the database: a later step (another process) goes on with
    // the agents who got one less, so two more even it out.
    waiting(s, ch.id, "b", 2, 200).await;
    let more = auto_assign(s, t(300), 100).await.unwrap();
    assert_eq!(more.assigned.len(), 2);
    let c = counts(by.iter().copied().chain(more.assigned.iter().map(|a| a.agent)));
    for a in agents {
        assert_eq!(c[&a], 3, "{c:?}");
    }
    assert!(auto_assign(s, t(301), 100).await.unwrap().assigned.is_empty(), "nothing left");
}

async fn least_loaded_picks_the_agent_with_the_fewest_open_conversations(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, PHONE).await;
    let busy = agent(s, 1, None, Availability::Online).await;
    let idle = agent(s, 2, None, Availability::Online).await;
    let some = agent(s, 3, None, Availability::Online).await;
    // busy holds two open conversations, some one open and one pending (not open).
    let held = waiting(s, ch.id, "h", 4, 0).await;
    for (c, a) in [(held[0], busy), (held[1], busy), (held[2], some), (held[3], some)] {
        let assign = Assignment { conversation: c, agent: Some(a), actor: None, respect_capacity: false, at: t(5) };
        s.assign(&assign).await.unwrap();
    }
    s.set_status(&StatusChange {
        conversation: held[3],
        status: ConversationStatus::Pending,
        snoozed_until: None,
        actor: Some(some),
        at: t(6),
    })
    .await
    .unwrap();
    s.set_channel_policy(ch.id, Some(&policy(AssignmentPolicy::LeastLoaded, None)), t(7)).await.unwrap();
    waiting(s, ch.id, "w", 4, 10).await;

    let report = auto_assign(s, t(100), 100).await.unwrap();
    let by: Vec<AgentId> = report.assigned.iter().map(|a| a.agent).collect();
    // idle (0 open); then idle and some have 1: some was never auto-assigned, so it goes
    // first; then idle (1) before busy and some (2); then a three-way tie at 2: busy,
    // the least recently assigned.
    assert_eq!(by, [idle, some, idle, busy]);
    assert_eq!(
        s.history(report.assigned[0].conversation, 5, None).await.unwrap().items[0].data["policy"],
        "least_loaded"
    );
}

async fn offline_away_inactive_and_full_agents_get_nothing(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, PHONE).await;
    agent(s, 1, None, Availability::Offline).await;
    agent(s, 2, None, Availability::Away).await;
    let full = agent(s, 3, Some(1), Availability::Online).await;
    agent(s, 4, Some(0), Availability::Online).await;
    let gone = agent(s, 5, None, Availability::Online).await;
    s.update_agent(gone, &AgentPatch { active: Some(false), ..AgentPatch::default() }, None, t(0)).await.unwrap();
    let convs = waiting(s, ch.id, "x", 3, 0).await;
    assert!(matches!(s.claim_next(full, ClaimScope::All, t(5)).await.unwrap(), ClaimOutcome::Claimed(_)));
    s.set_channel_policy(ch.id, Some(&policy(AssignmentPolicy::RoundRobin, None)), t(6)).await.unwrap();

    let report = auto_assign(s, t(100), 100).await.unwrap();
    assert!(report.assigned.is_empty(), "{report:?}");
    assert_eq!(assignee(s, convs[1]).await, None);
    assert_eq!(assignee(s, convs[2]).await, None);
}

async fn the_backlog_drains_when_an_agent_comes_online_or_frees_capacity(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, PHONE).await;
    let bo = agent(s, 1, Some(5), Availability::Offline).await;
    s.set_channel_policy(ch.id, Some(&policy(AssignmentPolicy::RoundRobin, None)), t(1)).await.unwrap();
    let backlog = waiting(s, ch.id, "q", 8, 10).await;
    assert!(auto_assign(s, t(100), 100).await.unwrap().assigned.is_empty(), "nobody is online");

    set_availability(s, bo, Availability::Online).await;
    let report = auto_assign(s, t(200), 100).await.unwrap();
    let got: Vec<ConversationId> = report.assigned.iter().map(|a| a.conversation).collect();
    assert_eq!(got, backlog[..5], "the five longest waiting, at once");
    assert!(report.assigned.iter().all(|a| a.agent == bo));
    assert!(auto_assign(s, t(201), 100).await.unwrap().assigned.is_empty(), "at capacity");

    // Resolving one frees room for the next in line.
    s.set_status(&StatusChange {
        conversation: backlog[0],
        status: ConversationStatus::Resolved,
        snoozed_until: None,
        actor: Some(bo),
        at: t(300),
    })
    .await
    .unwrap();
    let next = auto_assign(s, t(301), 100).await.unwrap();
    assert_eq!(next.assigned.iter().map(|a| a.conversation).collect::<Vec<_>>(), [backlog[5]]);

    // A small batch limit takes several steps, in order.
    let first = auto_assign(s, t(302), 1).await.unwrap();
    assert!(first.assigned.is_empty(), "still at capacity");
    s.update_agent(bo, &AgentPatch { capacity: Some(None), ..AgentPatch::default() }, None, t(303)).await.unwrap();
    let one = auto_assign(s, t(304), 1).await.unwrap();
    assert_eq!(one.assigned.iter().map(|a| a.conversation).collect::<Vec<_>>(), [backlog[6]]);
    let two = auto_assign(s, t(305), 1).await.unwrap();
    assert_eq!(two.assigned.iter().map(|a| a.conversation).collect::<Vec<_>>(), [backlog[7]]);
}

async fn a_team_channel_goes_to_its_members_only(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let sales = channel(s, PHONE).await;
    let general = channel(s, OTHER_PHONE).await;
    let member = agent(s, 1, None, Availability::Online).await;
    let outsider = agent(s, 2, None, Availability::Online).await;
    let team = s.create_team(&TeamName::parse("Sales").unwrap(), t(0)).await.unwrap();
    s.add_team_member(team.id, member, t(0)).await.unwrap();
    s.route_channel(sales.id, Some(team.id)).await.unwrap();
    s.set_team_policy(team.id, &policy(AssignmentPolicy::RoundRobin, None), t(1)).await.unwrap();
    s.set_channel_policy(general.id, Some(&policy(AssignmentPolicy::LeastLoaded, None)), t(1)).await.unwrap();

    let sales_convs = waiting(s, sales.id, "s", 3, 10).await;
    let general_convs = waiting(s, general.id, "g", 2, 20).await;
    let report = auto_assign(s, t(100), 100).await.unwrap();
    assert_eq!(report.assigned.len(), 5);
    for c in &sales_convs {
        assert_eq!(assignee(s, *c).await, Some(member), "only the team's members");
    }
    // The channel without a team: anyone; least loaded, and the member holds three.
    for c in &general_convs {
        assert_eq!(assignee(s, *c).await, Some(outsider));
    }

    // The channel's own "off" wins over the team's policy.
    s.set_channel_policy(sales.id, Some(&policy(AssignmentPolicy::Off, None)), t(200)).await.unwrap();
    let later = waiting(s, sales.id, "t", 1, 210).await;
    assert!(auto_assign(s, t(300), 100).await.unwrap().assigned.is_empty());
    assert_eq!(assignee(s, later[0]).await, None);
}

async fn a_transferred_conversation_follows_its_new_teams_policy(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, PHONE).await;
    let ana = agent(s, 1, None, Availability::Online).await;
    let bo = agent(s, 2, None, Availability::Online).await;
    let cy = agent(s, 3, None, Availability::Online).await;
    let sales = s.create_team(&TeamName::parse("Sales").unwrap(), t(0)).await.unwrap().id;
    s.add_team_member(sales, bo, t(0)).await.unwrap();
    s.add_team_member(sales, cy, t(0)).await.unwrap();
    // The channel (no team) assigns to anyone; Sales round robin, reassigning after 15 minutes.
    s.set_channel_policy(ch.id, Some(&policy(AssignmentPolicy::LeastLoaded, None)), t(1)).await.unwrap();
    s.set_team_policy(sales, &policy(AssignmentPolicy::RoundRobin, Some(15)), t(1)).await.unwrap();
    let convs = waiting(s, ch.id, "x", 2, 10).await;
    let (moved, stays) = (convs[0], convs[1]);
    let transfer = TeamTransfer { conversation: moved, team: Some(sales), actor: None, at: t(20) };
    assert!(matches!(s.transfer_team(&transfer).await.unwrap(), TransferOutcome::Done { changed: true, .. }));

    let start = t(60);
    let report = auto_assign(s, start, 100).await.unwrap();
    assert_eq!(report.assigned.len(), 2, "{report:?}");
    let first = assignee(s, moved).await.unwrap();
    assert!([bo, cy].contains(&first), "a Sales member");
    assert!(assignee(s, stays).await.is_some());
    let h = s.history(moved, 50, None).await.unwrap().items;
    assert_eq!(h.last().unwrap().data["policy"], "round_robin", "the team's policy, not the channel's");

    // Unanswered after Sales' 15 minutes: to the other member, never to Ana.
    set_availability(s, ana, Availability::Online).await;
    let report = auto_assign(s, start + Duration::minutes(16), 100).await.unwrap();
    assert_eq!(report.assigned.len(), 1, "only the transferred one has a deadline: {report:?}");
    let a = report.assigned[0];
    assert_eq!((a.conversation, a.previous, a.reason), (moved, Some(first), AutoReason::ReplyTimeout));
    assert!([bo, cy].contains(&a.agent) && a.agent != first);
}

async fn an_unanswered_conversation_is_reassigned_after_n_minutes(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, PHONE).await;
    let ana = agent(s, 1, None, Availability::Online).await;
    s.set_channel_policy(ch.id, Some(&policy(AssignmentPolicy::RoundRobin, Some(15))), t(1)).await.unwrap();
    let convs = waiting(s, ch.id, "r", 2, 0).await;
    let (c, answered) = (convs[0], convs[1]);
    let start = t(60);
    let report = auto_assign(s, start, 100).await.unwrap();
    assert_eq!(report.assigned.len(), 2);
    assert_eq!(assignee(s, c).await, Some(ana));
    // Ana answers one of them: its customer no longer waits.
    s.insert_outbound(&NewOutboundMessage {
        conversation_id: answered,
        content: MessageContent::Text { body: "Hello!".into() },
        state: switchboard_domain::DeliveryState::Queued,
        wamid: None,
        sent_by: Some(ana),
        at: start + Duration::minutes(1),
    })
    .await
    .unwrap();

    // Ana is the only one online: past the deadline, it stays with her.
    let late = start + Duration::minutes(16);
    assert_eq!(auto_assign(s, late, 100).await.unwrap().changes(), 0);
    assert_eq!(assignee(s, c).await, Some(ana));

    // Bo comes online: the unanswered conversation moves to him; the answered one stays.
    let bo = agent(s, 2, None, Availability::Online).await;
    let before = late + Duration::minutes(1);
    let report = auto_assign(s, before, 100).await.unwrap();
    assert_eq!(report.assigned.len(), 1, "{report:?}");
    let moved = report.assigned[0];
    assert_eq!((moved.conversation, moved.agent, moved.previous), (c, bo, Some(ana)));
    assert_eq!(moved.reason, AutoReason::ReplyTimeout);
    assert_eq!(assignee(s, answered).await, Some(ana));
    let h = s.history(c, 50, None).await.unwrap().items;
    let last = h.last().unwrap();
    assert_eq!(last.kind, HistoryKind::Assigned);
    assert_eq!(last.data["reason"], "reply_timeout");
    assert_eq!(last.data["via"], "auto");
    assert_eq!(last.data["previous_agent_id"], ana.to_string());
    assert_eq!(last.at, before);

    // Bo gets his full 15 minutes from the moment it became his.
    assert_eq!(auto_assign(s, before + Duration::minutes(14), 100).await.unwrap().changes(), 0);

    // Bo goes home without answering, Ana too: it goes back to the queue.
    set_availability(s, bo, Availability::Offline).await;
    set_availability(s, ana, Availability::Away).await;
    let report = auto_assign(s, before + Duration::minutes(16), 100).await.unwrap();
    assert!(report.assigned.is_empty());
    assert_eq!(report.returned, [Returned { conversation: c, agent: bo }]);
    assert_eq!(assignee(s, c).await, None);
    let last = s.history(c, 50, None).await.unwrap().items.pop().unwrap();
    assert_eq!(last.kind, HistoryKind::Unassigned);
    assert_eq!(last.data["reason"], "reply_timeout");
    // Whoever comes online next gets it.
    set_availability(s, ana, Availability::Online).await;
    let report = auto_assign(s, before + Duration::minutes(17), 100).await.unwrap();
    assert_eq!(report.assigned.iter().map(|a| (a.conversation, a.agent)).collect::<Vec<_>>(), [(c, ana)]);
}

async fn a_keyword_rules_assignment_is_recorded_in_the_history(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, PHONE).await;
    let ana = agent(s, 1, None, Availability::Online).await;
    let (c, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    let (mut tx, events) = begin(s).await;
    assert!(tx.assign_conversation(c, ana, t(50)).await.unwrap());
    // The same again changes nothing and records nothing.
    assert!(tx.assign_conversation(c, ana, t(50)).await.unwrap());
    finish(tx, &events).await;
    assert_eq!(assignee(s, c).await, Some(ana));
    let h = s.history(c, 50, None).await.unwrap().items;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].kind, HistoryKind::Assigned);
    assert_eq!(h[0].data["via"], "rule");
    assert_eq!(h[0].data["agent_id"], ana.to_string());
    assert_eq!(h[0].data["previous_agent_id"], serde_json::Value::Null);
}

async fn two_assigners_racing_never_exceed_capacity_or_assign_twice(db: &TestDb, store: Arc<dyn Store>) {
    let s = store.as_ref();
    let other = second_instance(db).await;
    let ch = channel(s, PHONE).await;
    let mut agents = Vec::new();
    for n in 1..=4 {
        agents.push(agent(s, n, Some(5), Availability::Online).await);
    }
    s.set_channel_policy(ch.id, Some(&policy(AssignmentPolicy::LeastLoaded, None)), t(1)).await.unwrap();
    let convs = waiting(s, ch.id, "z", 30, 10).await;

    // Both instances step at once, in small batches, while the first agent also claims
    // from a third side, until nobody finds anything.
    let mut total = Vec::new();
    for round in 0..40 {
        let now = t(100 + round);
        let (a, b, claim) = tokio::join!(
            auto_assign(s, now, 3),
            auto_assign(other.as_ref(), now, 3),
            other.claim_next(agents[0], ClaimScope::All, now)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let claimed = match claim.unwrap() {
            ClaimOutcome::Claimed(c) => Some((c.id, agents[0])),
            _ => None,
        };
        if a.changes() + b.changes() == 0 && claimed.is_none() {
            break;
        }
        total.extend(a.assigned.into_iter().chain(b.assigned).map(|a| (a.conversation, a.agent)).chain(claimed));
    }
    assert_eq!(total.len(), 20, "four agents with room for five each");
    let distinct: HashSet<ConversationId> = total.iter().map(|a| a.0).collect();
    assert_eq!(distinct.len(), 20, "a conversation was assigned twice");
    let per_agent = counts(total.iter().map(|a| a.1));
    for a in &agents {
        assert_eq!(per_agent[a], 5, "{per_agent:?}");
    }
    // The database agrees: each assigned conversation has exactly one assignment in its
    // history, and the oldest twenty are the ones assigned.
    for (i, c) in convs.iter().enumerate() {
        let h = s.history(*c, 50, None).await.unwrap().items;
        let assigned = h.iter().filter(|e| e.kind == HistoryKind::Assigned).count();
        assert_eq!(assigned, usize::from(i < 20), "conversation {i}: {h:?}");
    }
    other.close().await;
}
