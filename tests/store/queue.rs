//! The shared queue: claim next (order, capacity, teams, races), assignment, status, the
//! snooze wake-up and history.

use std::collections::HashSet;
use std::sync::Arc;

use switchboard_domain::{AgentId, AgentRole, ConversationId, ConversationStatus, MessageContent, NewAgent};
use switchboard_store::{
    AssignOutcome, AssignRefusal, Assignment, ClaimOutcome, ClaimScope, HistoryKind, InboxEventKind,
    NewOutboundMessage, NewToken, StatusChange, StatusChangeOutcome, Store, TeamName, TeamTransfer, TransferOutcome,
    ViewQuery, Visibility,
};
use switchboard_tests::TestDb;

use crate::agents_admin::{new_agent, token};
use crate::fixtures::{channel, contact, inbound_text, outbound, second_instance, t, text};

conformance!(
    stories: [
        claims_take_the_longest_waiting_conversation_first,
        an_agents_reply_ends_the_wait_and_an_auto_reply_does_not,
        capacity_stops_claims_until_a_conversation_is_resolved,
        agents_claim_from_their_teams_channels_and_unrouted_ones,
        a_transfer_moves_the_conversation_to_its_new_teams_agents,
        assignments_transfers_and_unassignments_are_recorded,
        status_changes_are_recorded_and_resolved_is_final,
        snoozed_conversations_reopen_when_their_time_comes,
        an_inbound_message_reopens_a_snoozed_or_pending_conversation,
        history_is_paged,
    ],
    with_db: [fifty_concurrent_claimers_never_get_the_same_conversation],
);

async fn agent(store: &dyn Store, n: u8, role: AgentRole, capacity: Option<u32>) -> AgentId {
    let new: NewAgent = new_agent(&format!("Agent {n}"), &format!("agent{n}@example.com"), role);
    let a =
        store.create_agent_with(&new, capacity, &NewToken { hash: &token(n), name: None }, t(0)).await.unwrap().agent;
    a.id
}

fn claimed(o: ClaimOutcome) -> ConversationId {
    match o {
        ClaimOutcome::Claimed(c) => c.id,
        other => panic!("expected a claim, got {other:?}"),
    }
}

async fn reply(
    store: &dyn Store,
    conversation: ConversationId,
    by: Option<AgentId>,
    at: chrono::DateTime<chrono::Utc>,
) {
    store
        .insert_outbound(&NewOutboundMessage {
            conversation_id: conversation,
            content: MessageContent::Text { body: "On it".into() },
            state: switchboard_domain::DeliveryState::Queued,
            wamid: None,
            sent_by: by,
            at,
        })
        .await
        .unwrap();
}

fn status(conversation: ConversationId, status: ConversationStatus, actor: Option<AgentId>, at: i64) -> StatusChange {
    StatusChange { conversation, status, snoozed_until: None, actor, at: t(at) }
}

async fn claims_take_the_longest_waiting_conversation_first(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ana = agent(s, 1, AgentRole::Agent, None).await;
    let ch = channel(s, "106540352242922").await;
    let (middle, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(10)).await;
    let (oldest, _) = inbound_text(s, ch.id, "16505550002", "wamid.2", t(5)).await;
    let (newest, _) = inbound_text(s, ch.id, "16505550003", "wamid.3", t(20)).await;
    // A later message does not move a waiting customer back in the queue.
    inbound_text(s, ch.id, "16505550002", "wamid.2b", t(30)).await;
    assert_eq!(s.conversation_state(oldest).await.unwrap().unwrap().waiting_since, Some(t(5)));

    let first = s.claim_next(ana, ClaimScope::Teams, t(40)).await.unwrap();
    let ClaimOutcome::Claimed(state) = first else { panic!("{first:?}") };
    assert_eq!(state.id, oldest);
    assert_eq!(state.assignee_id, Some(ana));
    assert_eq!(state.status, ConversationStatus::Open);
    assert_eq!(claimed(s.claim_next(ana, ClaimScope::Teams, t(41)).await.unwrap()), middle);
    assert_eq!(claimed(s.claim_next(ana, ClaimScope::Teams, t(42)).await.unwrap()), newest);
    assert_eq!(s.claim_next(ana, ClaimScope::Teams, t(43)).await.unwrap(), ClaimOutcome::Empty);

    let history = s.history(oldest, 50, None).await.unwrap().items;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, HistoryKind::Assigned);
    assert_eq!(history[0].actor_id, Some(ana));
    assert_eq!(history[0].data["via"], "claim");
    assert_eq!(history[0].data["agent_id"], ana.to_string());
    assert_eq!(history[0].at, t(40));

    // Unknown and deactivated agents claim nothing.
    assert_eq!(s.claim_next(AgentId::new(), ClaimScope::All, t(44)).await.unwrap(), ClaimOutcome::AgentInactive);
}

async fn an_agents_reply_ends_the_wait_and_an_auto_reply_does_not(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ana = agent(s, 1, AgentRole::Admin, None).await;
    let ch = channel(s, "106540352242922").await;
    let (answered, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    let (auto, _) = inbound_text(s, ch.id, "16505550002", "wamid.2", t(2)).await;
    reply(s, answered, Some(ana), t(3)).await;
    outbound(s, auto, None, switchboard_domain::DeliveryState::Queued, t(3)).await;
    assert_eq!(s.conversation_state(answered).await.unwrap().unwrap().waiting_since, None);
    assert_eq!(s.conversation_state(auto).await.unwrap().unwrap().waiting_since, Some(t(2)));

    // The answered conversation is not in the queue, until the customer writes again.
    assert_eq!(claimed(s.claim_next(ana, ClaimScope::All, t(4)).await.unwrap()), auto);
    assert_eq!(s.claim_next(ana, ClaimScope::All, t(4)).await.unwrap(), ClaimOutcome::Empty);
    let c = contact("16505550001", Some("Ana"));
    crate::fixtures::apply(s, ch.id, &c, &text("wamid.1b", &c, t(5), "still there?"), None).await;
    assert_eq!(s.conversation_state(answered).await.unwrap().unwrap().waiting_since, Some(t(5)));
    assert_eq!(claimed(s.claim_next(ana, ClaimScope::All, t(6)).await.unwrap()), answered);
}

async fn capacity_stops_claims_until_a_conversation_is_resolved(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let bo = agent(s, 1, AgentRole::Agent, Some(1)).await;
    let zero = agent(s, 2, AgentRole::Agent, Some(0)).await;
    let ch = channel(s, "106540352242922").await;
    let (first, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    let (second, _) = inbound_text(s, ch.id, "16505550002", "wamid.2", t(2)).await;
    assert_eq!(
        s.claim_next(zero, ClaimScope::Teams, t(3)).await.unwrap(),
        ClaimOutcome::AtCapacity { capacity: 0, load: 0 }
    );
    assert_eq!(claimed(s.claim_next(bo, ClaimScope::Teams, t(3)).await.unwrap()), first);
    assert_eq!(
        s.claim_next(bo, ClaimScope::Teams, t(4)).await.unwrap(),
        ClaimOutcome::AtCapacity { capacity: 1, load: 1 }
    );
    // Snoozed and pending conversations still count.
    s.set_status(&StatusChange {
        snoozed_until: Some(t(1000)),
        ..status(first, ConversationStatus::Snoozed, Some(bo), 5)
    })
    .await
    .unwrap();
    assert!(matches!(s.claim_next(bo, ClaimScope::Teams, t(6)).await.unwrap(), ClaimOutcome::AtCapacity { .. }));
    // A self-assignment respecting capacity is refused too; an admin's is not.
    let a = Assignment { conversation: second, agent: Some(bo), actor: Some(bo), respect_capacity: true, at: t(6) };
    assert_eq!(s.assign(&a).await.unwrap(), AssignOutcome::Refused(AssignRefusal::AtCapacity { capacity: 1, load: 1 }));
    s.set_status(&status(first, ConversationStatus::Resolved, Some(bo), 7)).await.unwrap();
    assert_eq!(claimed(s.claim_next(bo, ClaimScope::Teams, t(8)).await.unwrap()), second);
}

async fn agents_claim_from_their_teams_channels_and_unrouted_ones(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ana = agent(s, 1, AgentRole::Agent, None).await;
    let admin = agent(s, 2, AgentRole::Admin, None).await;
    let open_ch = channel(s, "106540352242922").await;
    let sales_ch = channel(s, "106540352242923").await;
    let sales = s.create_team(&TeamName::parse("Sales").unwrap(), t(0)).await.unwrap();
    s.route_channel(sales_ch.id, Some(sales.id)).await.unwrap();
    let (sales_old, _) = inbound_text(s, sales_ch.id, "16505550001", "wamid.1", t(1)).await;
    let (unrouted, _) = inbound_text(s, open_ch.id, "16505550002", "wamid.2", t(2)).await;
    let (sales_new, _) = inbound_text(s, sales_ch.id, "16505550003", "wamid.3", t(3)).await;

    // Ana is in no team: she gets the unrouted conversation only, though Sales' waits longer.
    assert_eq!(claimed(s.claim_next(ana, ClaimScope::Teams, t(4)).await.unwrap()), unrouted);
    assert_eq!(s.claim_next(ana, ClaimScope::Teams, t(5)).await.unwrap(), ClaimOutcome::Empty);
    s.add_team_member(sales.id, ana, t(5)).await.unwrap();
    assert_eq!(claimed(s.claim_next(ana, ClaimScope::Teams, t(6)).await.unwrap()), sales_old);
    // Admins claim from every channel.
    assert_eq!(claimed(s.claim_next(admin, ClaimScope::All, t(7)).await.unwrap()), sales_new);
}

async fn a_transfer_moves_the_conversation_to_its_new_teams_agents(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let admin = agent(s, 1, AgentRole::Admin, None).await;
    let ana = agent(s, 2, AgentRole::Agent, None).await;
    let bo = agent(s, 3, AgentRole::Agent, None).await;
    let ch = channel(s, "106540352242922").await;
    let billing = s.create_team(&TeamName::parse("Billing").unwrap(), t(0)).await.unwrap().id;
    let sales = s.create_team(&TeamName::parse("Sales").unwrap(), t(0)).await.unwrap().id;
    s.route_channel(ch.id, Some(billing)).await.unwrap();
    s.add_team_member(billing, ana, t(0)).await.unwrap();
    s.add_team_member(sales, bo, t(0)).await.unwrap();
    let (c, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    assert_eq!(claimed(s.claim_next(ana, ClaimScope::Teams, t(2)).await.unwrap()), c);
    let before = s.last_inbox_event_id().await.unwrap();
    let transfer = |team, at| TeamTransfer { conversation: c, team, actor: Some(admin), at: t(at) };

    let TransferOutcome::Done { state, changed: true, unassigned } =
        s.transfer_team(&transfer(Some(sales), 3)).await.unwrap()
    else {
        panic!("not transferred")
    };
    assert_eq!((state.team_id, state.transferred_to, state.assignee_id), (Some(sales), Some(sales), None));
    assert_eq!(unassigned, Some(ana), "Ana is not in Sales");
    // Who sees it, the team views and claims follow the new team.
    assert!(!s.may_see_conversation(Visibility::Agent(ana), c).await.unwrap());
    assert!(s.may_see_conversation(Visibility::Agent(bo), c).await.unwrap());
    let mut q = ViewQuery::new(Visibility::All, t(4));
    q.team = Some(sales);
    assert_eq!(s.view_conversations(&q).await.unwrap().items.len(), 1);
    q.team = Some(billing);
    assert!(s.view_conversations(&q).await.unwrap().items.is_empty());
    let counts = s.open_counts_by_team_and_label(Visibility::All).await.unwrap();
    assert_eq!((counts.teams.get(&sales), counts.teams.get(&billing)), (Some(&1), None));
    assert_eq!(s.claim_next(ana, ClaimScope::Teams, t(4)).await.unwrap(), ClaimOutcome::Empty);
    // The events carry the new team; the transfer's names the one it left.
    let events = s.inbox_events_after(before, 50).await.unwrap();
    let moved = events.iter().find(|e| e.kind == InboxEventKind::TeamChanged).expect("team_changed");
    assert_eq!(moved.team_id, Some(sales));
    assert_eq!(moved.data["previous_team_id"], billing.to_string());
    assert!(events.iter().all(|e| e.team_id == Some(sales)), "{events:?}");
    assert_eq!(claimed(s.claim_next(bo, ClaimScope::Teams, t(5)).await.unwrap()), c);

    // Again: nothing; back to the channel's routing: Billing, and Bo (not in it) loses it.
    assert!(matches!(
        s.transfer_team(&transfer(Some(sales), 6)).await.unwrap(),
        TransferOutcome::Done { changed: false, unassigned: None, .. }
    ));
    let TransferOutcome::Done { state, unassigned, .. } = s.transfer_team(&transfer(None, 7)).await.unwrap() else {
        panic!()
    };
    assert_eq!((state.team_id, state.transferred_to, unassigned), (Some(billing), None, Some(bo)));
    let history = s.history(c, 50, None).await.unwrap().items;
    let changes: Vec<_> = history.iter().filter(|h| h.kind == HistoryKind::TeamChanged).collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1].data, serde_json::json!({ "from": sales, "to": billing, "transferred_to": null }));
    // Refusals.
    let unknown = TeamTransfer { team: Some(switchboard_store::TeamId::new()), ..transfer(None, 8) };
    assert_eq!(s.transfer_team(&unknown).await.unwrap(), TransferOutcome::TeamNotFound);
    let gone = TeamTransfer { conversation: ConversationId::new(), ..transfer(Some(sales), 8) };
    assert_eq!(s.transfer_team(&gone).await.unwrap(), TransferOutcome::ConversationNotFound);
    s.set_status(&status(c, ConversationStatus::Resolved, Some(admin), 9)).await.unwrap();
    assert_eq!(s.transfer_team(&transfer(Some(sales), 10)).await.unwrap(), TransferOutcome::Resolved);
}

async fn assignments_transfers_and_unassignments_are_recorded(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let admin = agent(s, 1, AgentRole::Admin, None).await;
    let ana = agent(s, 2, AgentRole::Agent, None).await;
    let bo = agent(s, 3, AgentRole::Agent, Some(0)).await;
    let ch = channel(s, "106540352242922").await;
    let (c, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    let assign = |agent: Option<AgentId>, at: i64| Assignment {
        conversation: c,
        agent,
        actor: Some(admin),
        respect_capacity: false,
        at: t(at),
    };
    let AssignOutcome::Done { state, changed: true } = s.assign(&assign(Some(ana), 2)).await.unwrap() else {
        panic!("not assigned")
    };
    assert_eq!(state.assignee_id, Some(ana));
    // The same again changes nothing and records nothing.
    assert!(matches!(s.assign(&assign(Some(ana), 3)).await.unwrap(), AssignOutcome::Done { changed: false, .. }));
    // A transfer (to an agent at capacity: an admin's decision overrides it).
    let AssignOutcome::Done { state, .. } = s.assign(&assign(Some(bo), 4)).await.unwrap() else { panic!() };
    assert_eq!(state.assignee_id, Some(bo));
    let AssignOutcome::Done { state, .. } = s.assign(&assign(None, 5)).await.unwrap() else { panic!() };
    assert_eq!(state.assignee_id, None);
    assert!(matches!(s.assign(&assign(None, 6)).await.unwrap(), AssignOutcome::Done { changed: false, .. }));
    // Refusals.
    assert_eq!(
        s.assign(&assign(Some(AgentId::new()), 7)).await.unwrap(),
        AssignOutcome::Refused(AssignRefusal::AgentInactive)
    );
    let unknown = Assignment { conversation: ConversationId::new(), ..assign(Some(ana), 7) };
    assert_eq!(s.assign(&unknown).await.unwrap(), AssignOutcome::Refused(AssignRefusal::ConversationNotFound));

    let history = s.history(c, 50, None).await.unwrap().items;
    let kinds: Vec<HistoryKind> = history.iter().map(|h| h.kind).collect();
    assert_eq!(kinds, [HistoryKind::Assigned, HistoryKind::Assigned, HistoryKind::Unassigned]);
    assert!(history.iter().all(|h| h.actor_id == Some(admin)));
    assert_eq!(history[0].data["previous_agent_id"], serde_json::Value::Null);
    assert_eq!(history[0].data["via"], "manual");
    assert_eq!(history[1].data["agent_id"], bo.to_string());
    assert_eq!(history[1].data["previous_agent_id"], ana.to_string());
    assert_eq!(history[2].data["agent_id"], bo.to_string());
    assert_eq!(history[2].data["reason"], "manual");
    assert_eq!(history.iter().map(|h| h.at).collect::<Vec<_>>(), [t(2), t(4), t(5)]);

    s.set_status(&status(c, ConversationStatus::Resolved, Some(admin), 8)).await.unwrap();
    assert_eq!(s.assign(&assign(Some(ana), 9)).await.unwrap(), AssignOutcome::Refused(AssignRefusal::Resolved));
}

async fn status_changes_are_recorded_and_resolved_is_final(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ana = agent(s, 1, AgentRole::Agent, None).await;
    let ch = channel(s, "106540352242922").await;
    let (c, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    let StatusChangeOutcome::Done { state, changed: true } =
        s.set_status(&status(c, ConversationStatus::Pending, Some(ana), 2)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(state.status, ConversationStatus::Pending);
    assert!(matches!(
        s.set_status(&status(c, ConversationStatus::Pending, Some(ana), 3)).await.unwrap(),
        StatusChangeOutcome::Done { changed: false, .. }
    ));
    let StatusChangeOutcome::Done { state, .. } =
        s.set_status(&status(c, ConversationStatus::Resolved, Some(ana), 4)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(state.status, ConversationStatus::Resolved);
    assert_eq!(state.resolved_at, Some(t(4)));
    assert_eq!(state.resolved_by, Some(ana));
    assert_eq!(
        s.set_status(&status(c, ConversationStatus::Open, Some(ana), 5)).await.unwrap(),
        StatusChangeOutcome::Resolved
    );
    assert!(matches!(
        s.set_status(&status(c, ConversationStatus::Resolved, None, 5)).await.unwrap(),
        StatusChangeOutcome::Done { changed: false, .. }
    ));
    assert_eq!(
        s.set_status(&status(ConversationId::new(), ConversationStatus::Open, None, 5)).await.unwrap(),
        StatusChangeOutcome::NotFound
    );
    let history = s.history(c, 50, None).await.unwrap().items;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].data["from"], "open");
    assert_eq!(history[0].data["to"], "pending");
    assert_eq!(history[1].data["to"], "resolved");
    assert!(history.iter().all(|h| h.kind == HistoryKind::StatusChanged && h.actor_id == Some(ana)));
    // The next message starts a new conversation.
    let (next, _) = inbound_text(s, ch.id, "16505550001", "wamid.2", t(6)).await;
    assert_ne!(next, c);
}

async fn snoozed_conversations_reopen_when_their_time_comes(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, "106540352242922").await;
    let (soon, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    let (later, _) = inbound_text(s, ch.id, "16505550002", "wamid.2", t(1)).await;
    for (c, until) in [(soon, 100), (later, 200)] {
        let StatusChangeOutcome::Done { state, .. } = s
            .set_status(&StatusChange {
                snoozed_until: Some(t(until)),
                ..status(c, ConversationStatus::Snoozed, None, 2)
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(state.snoozed_until, Some(t(until)));
    }
    // Snoozed conversations are not in the queue.
    let admin = agent(s, 1, AgentRole::Admin, None).await;
    assert_eq!(s.claim_next(admin, ClaimScope::All, t(3)).await.unwrap(), ClaimOutcome::Empty);

    assert!(s.wake_snoozed(t(99), 10).await.unwrap().is_empty());
    assert_eq!(s.wake_snoozed(t(100), 10).await.unwrap(), vec![soon]);
    assert!(s.wake_snoozed(t(100), 10).await.unwrap().is_empty(), "once");
    let state = s.conversation_state(soon).await.unwrap().unwrap();
    assert_eq!(state.status, ConversationStatus::Open);
    assert_eq!(state.snoozed_until, None);
    assert_eq!(s.conversation_state(later).await.unwrap().unwrap().status, ConversationStatus::Snoozed);
    let history = s.history(soon, 50, None).await.unwrap().items;
    let woke = history.last().unwrap();
    assert_eq!(woke.kind, HistoryKind::StatusChanged);
    assert_eq!(woke.actor_id, None, "by the system");
    assert_eq!(woke.data["reason"], "snooze_ended");
    assert_eq!(woke.data["from"], "snoozed");
    assert_eq!(woke.data["to"], "open");
    assert_eq!(woke.at, t(100));
    // Back in the queue, with its wait unchanged.
    assert_eq!(claimed(s.claim_next(admin, ClaimScope::All, t(101)).await.unwrap()), soon);

    // A batch limit: the rest is woken by the next call.
    let (third, _) = inbound_text(s, ch.id, "16505550003", "wamid.3", t(1)).await;
    s.set_status(&StatusChange { snoozed_until: Some(t(150)), ..status(third, ConversationStatus::Snoozed, None, 2) })
        .await
        .unwrap();
    assert_eq!(s.wake_snoozed(t(300), 1).await.unwrap(), vec![third]);
    assert_eq!(s.wake_snoozed(t(300), 1).await.unwrap(), vec![later]);
}

async fn an_inbound_message_reopens_a_snoozed_or_pending_conversation(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, "106540352242922").await;
    let (snoozed, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    let (pending, _) = inbound_text(s, ch.id, "16505550002", "wamid.2", t(1)).await;
    s.set_status(&StatusChange {
        snoozed_until: Some(t(1000)),
        ..status(snoozed, ConversationStatus::Snoozed, None, 2)
    })
    .await
    .unwrap();
    s.set_status(&status(pending, ConversationStatus::Pending, None, 2)).await.unwrap();
    let (again, _) = inbound_text(s, ch.id, "16505550001", "wamid.1b", t(3)).await;
    assert_eq!(again, snoozed, "the same conversation");
    let (again, _) = inbound_text(s, ch.id, "16505550002", "wamid.2b", t(3)).await;
    assert_eq!(again, pending);
    for c in [snoozed, pending] {
        let state = s.conversation_state(c).await.unwrap().unwrap();
        assert_eq!(state.status, ConversationStatus::Open);
        assert_eq!(state.snoozed_until, None);
    }
    // The old snooze time does not fire later.
    assert!(s.wake_snoozed(t(2000), 10).await.unwrap().is_empty());
}

async fn history_is_paged(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let admin = agent(s, 1, AgentRole::Admin, None).await;
    let ch = channel(s, "106540352242922").await;
    let (c, _) = inbound_text(s, ch.id, "16505550001", "wamid.1", t(1)).await;
    for (i, st) in
        [ConversationStatus::Pending, ConversationStatus::Open, ConversationStatus::Pending].into_iter().enumerate()
    {
        s.set_status(&status(c, st, Some(admin), 2 + i64::try_from(i).unwrap())).await.unwrap();
    }
    let first = s.history(c, 2, None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let rest = s.history(c, 2, first.next).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next.is_none());
    assert_eq!(rest.items[0].data["to"], "pending");
    assert!(matches!(
        s.history(ConversationId::new(), 2, None).await.unwrap_err(),
        switchboard_store::StoreError::NotFound
    ));
}

async fn fifty_concurrent_claimers_never_get_the_same_conversation(db: &TestDb, store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, "106540352242922").await;
    let mut agents = Vec::new();
    for n in 0..50u8 {
        agents.push(agent(s, n, AgentRole::Agent, None).await);
    }
    let mut conversations = HashSet::new();
    for i in 0..30 {
        let (c, _) = inbound_text(s, ch.id, &format!("165055500{i:02}"), &format!("wamid.{i}"), t(i)).await;
        conversations.insert(c);
    }
    // Half of the claimers go through a second instance on the same database.
    let other = second_instance(db).await;
    let mut tasks = Vec::new();
    for (i, a) in agents.into_iter().enumerate() {
        let store = if i % 2 == 0 { Arc::clone(&store) } else { Arc::clone(&other) };
        tasks.push(tokio::spawn(async move { store.claim_next(a, ClaimScope::Teams, t(100)).await.unwrap() }));
    }
    let mut got = Vec::new();
    let mut empty = 0;
    for task in tasks {
        match task.await.unwrap() {
            ClaimOutcome::Claimed(c) => got.push(c.id),
            ClaimOutcome::Empty => empty += 1,
            other => panic!("{other:?}"),
        }
    }
    let distinct: HashSet<ConversationId> = got.iter().copied().collect();
    assert_eq!(distinct.len(), got.len(), "a conversation was claimed twice");
    assert_eq!(distinct, conversations, "every waiting conversation was claimed");
    assert_eq!(empty, 20);
    other.close().await;
}
