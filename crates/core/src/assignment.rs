//! Assignment workflows: the assigner's step (hand waiting conversations to agents by
//! their channel's policy, take them back from assignees who do not answer in time) and
//! a keyword rule's "assign to team". The rules (policies, who is eligible, who is
//! chosen) are `switchboard_domain::assignment`; the transactions are the store's
//! ([`AssignmentTx`], [`IngestTx`]), which only run SQL.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use switchboard_domain::{AgentId, AgentPool, ChannelId, ConversationId, TeamId};
use switchboard_store::{
    AssignmentPolicy, AssignmentStore, AssignmentTx, AutoAssignReport, AutoAssigned, AutoReason, ChannelPolicy,
    IngestTx, PolicySettings, QueueKey, Returned, Route, StoreError,
};

/// Waiting conversations read per page while assigning.
const PAGE: u32 = 200;

/// One assigner step at `now`, in ONE transaction: first the reassignments that are
/// due, then up to `limit` changes in all: waiting, unassigned conversations that follow
/// a policy, oldest `waiting_since` first, each to an eligible agent chosen by its
/// policy (a conversation transferred to a team follows that team's own policy and goes
/// to its members; the others their channel's); every change recorded in the history.
/// Concurrent steps (other instances) never put an agent over capacity nor assign a
/// conversation twice (see [`AssignmentTx`]). An idle step only looks.
pub async fn auto_assign<S: AssignmentStore + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<AutoAssignReport, StoreError> {
    let mut report = AutoAssignReport::default();
    let mut tx = store.begin_assignment().await?;
    let routes = active(&mut *tx).await?;
    if !worth_a_step(&mut *tx, &routes, now).await? {
        return Ok(report);
    }
    let mut pool = tx.lock_pool().await?;
    // Read again now that the step holds the agents: the look above was only a hint.
    let routes = active(&mut *tx).await?;
    reassign(&mut *tx, &routes, &mut pool, now, limit, &mut report).await?;
    assign_waiting(&mut *tx, &routes, &mut pool, now, limit, &mut report).await?;
    tx.commit().await?;
    Ok(report)
}

/// A keyword rule's "assign to team", inside the ingest transaction: the conversation is
/// routed to the team (a transfer, so the team's views, claim-next and assigner see it
/// and an assignee outside the team gives it up); a current assignee who is an active
/// member of the team keeps it; else the online, active member with room (under their
/// capacity) and the fewest open conversations, the least recently assigned first among
/// equals. `None` when no member can take it now: it waits in the team's queue, for
/// claim-next or the assigner. The loads are read
/// without locking the agents (see [`IngestTx::team_pool`]).
pub async fn assign_to_team(
    tx: &mut dyn IngestTx,
    conversation: ConversationId,
    team: TeamId,
    at: DateTime<Utc>,
) -> Result<Option<AgentId>, StoreError> {
    tx.route_to_team(conversation, team, at).await?;
    if let Some(kept) = tx.team_assignee(conversation, team).await? {
        return Ok(Some(kept));
    }
    let pool = AgentPool::new(tx.team_pool(team).await?, None);
    let Some(agent) = pool.choose(AssignmentPolicy::LeastLoaded, Some(team), None) else { return Ok(None) };
    Ok(tx.assign_conversation(conversation, agent, at).await?.then_some(agent))
}

/// The policy a route's conversations follow, and the team whose members take them
/// (`None`: any agent).
#[derive(Clone, Copy, Debug)]
struct RoutePolicy {
    settings: PolicySettings,
    team: Option<TeamId>,
}

/// The routes whose policy assigns: the channels' (their conversations not transferred)
/// and the teams' own (the conversations transferred to them).
async fn active(tx: &mut dyn AssignmentTx) -> Result<HashMap<Route, RoutePolicy>, StoreError> {
    let channels = tx
        .active_policies()
        .await?
        .into_iter()
        .filter(ChannelPolicy::assigns)
        .map(|p| (Route::Channel(p.channel_id), RoutePolicy { settings: p.effective, team: p.team_id }));
    let teams = tx
        .active_team_policies()
        .await?
        .into_iter()
        .filter(|t| t.settings.policy != AssignmentPolicy::Off)
        .map(|t| (Route::Team(t.team_id), RoutePolicy { settings: t.settings, team: Some(t.team_id) }));
    Ok(channels.chain(teams).collect())
}

/// The channels and the teams of `routes` for which `keep` holds.
fn split(routes: &HashMap<Route, RoutePolicy>, keep: impl Fn(&RoutePolicy) -> bool) -> (Vec<ChannelId>, Vec<TeamId>) {
    let (mut channels, mut teams) = (Vec::new(), Vec::new());
    for (route, p) in routes {
        if !keep(p) {
            continue;
        }
        match *route {
            Route::Channel(c) => channels.push(c),
            Route::Team(t) => teams.push(t),
        }
    }
    (channels, teams)
}

/// The deadline at `now` for a delay of `minutes`.
fn deadline(now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    now - Duration::minutes(i64::from(minutes))
}

/// Whether a step could have anything to do: a reassignment is due, or someone is
/// online while a conversation waits.
async fn worth_a_step(
    tx: &mut dyn AssignmentTx,
    routes: &HashMap<Route, RoutePolicy>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if routes.is_empty() {
        return Ok(false);
    }
    for (route, p) in routes {
        let Some(minutes) = p.settings.reassign_after_minutes else { continue };
        if tx.any_unanswered(*route, deadline(now, minutes)).await? {
            return Ok(true);
        }
    }
    let (channels, teams) = split(routes, |_| true);
    tx.any_waiting(&channels, &teams).await
}

/// Takes back the conversations whose assignee has not answered in time.
async fn reassign(
    tx: &mut dyn AssignmentTx,
    routes: &HashMap<Route, RoutePolicy>,
    pool: &mut AgentPool,
    now: DateTime<Utc>,
    limit: u32,
    report: &mut AutoAssignReport,
) -> Result<(), StoreError> {
    for (route, p) in routes {
        let Some(minutes) = p.settings.reassign_after_minutes else { continue };
        let remaining = u32::try_from(report.changes()).map_or(0, |done| limit.saturating_sub(done));
        if remaining == 0 {
            return Ok(());
        }
        for due in tx.unanswered(*route, deadline(now, minutes), remaining).await? {
            let previous = due.assignee;
            if let Some((agent, seq)) = pool.pick(p.settings.policy, p.team, Some(previous)) {
                pool.release(previous);
                let a = AutoAssigned {
                    conversation: due.conversation,
                    agent,
                    previous: Some(previous),
                    reason: AutoReason::ReplyTimeout,
                };
                tx.assign(&a, p.settings.policy, seq, now).await?;
                report.assigned.push(a);
            } else if !pool.contains(previous) {
                tx.unassign(due.conversation, previous, now).await?;
                report.returned.push(Returned { conversation: due.conversation, agent: previous });
            }
            // Otherwise the assignee is the only one online who could have it: it stays.
        }
    }
    Ok(())
}

/// Assigns waiting conversations, oldest first, while anyone has room.
async fn assign_waiting(
    tx: &mut dyn AssignmentTx,
    routes: &HashMap<Route, RoutePolicy>,
    pool: &mut AgentPool,
    now: DateTime<Utc>,
    limit: u32,
    report: &mut AutoAssignReport,
) -> Result<(), StoreError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut after: Option<QueueKey> = None;
    loop {
        let (channels, teams) = split(routes, |p| pool.has_room_for(p.team));
        if (channels.is_empty() && teams.is_empty()) || report.changes() >= limit {
            return Ok(());
        }
        let page = tx.waiting(&channels, &teams, after, PAGE).await?;
        let Some(last) = page.last() else { return Ok(()) };
        for w in &page {
            let route = w.transferred_to.map_or(Route::Channel(w.channel), Route::Team);
            let Some(p) = routes.get(&route) else { continue };
            let Some((agent, seq)) = pool.pick(p.settings.policy, p.team, None) else { continue };
            let a = AutoAssigned { conversation: w.id, agent, previous: None, reason: AutoReason::Waiting };
            tx.assign(&a, p.settings.policy, seq, now).await?;
            report.assigned.push(a);
            if report.changes() >= limit {
                return Ok(());
            }
        }
        if u32::try_from(page.len()).unwrap_or(u32::MAX) < PAGE {
            return Ok(());
        }
        after = Some(QueueKey { waiting_since: last.waiting_since, id: last.id });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use switchboard_domain::{PolicySettings, PoolAgent};
    use switchboard_store::{TeamPolicy, Unanswered, WaitingConversation};

    use super::*;

    type Result<T> = std::result::Result<T, StoreError>;

    #[derive(Clone, Debug)]
    struct Conv {
        id: ConversationId,
        channel: ChannelId,
        assignee: Option<AgentId>,
        waiting_since: DateTime<Utc>,
        assigned_at: Option<DateTime<Utc>>,
    }

    /// A database in memory: a transaction works on a copy, committing puts it back.
    #[derive(Clone, Debug, Default)]
    struct World {
        policies: Vec<ChannelPolicy>,
        /// The online, active agents: id and capacity.
        online: Vec<(AgentId, Option<u32>)>,
        seq: HashMap<AgentId, i64>,
        conversations: Vec<Conv>,
    }

    #[derive(Default)]
    struct Fake {
        world: Mutex<World>,
        /// Primitives called, in order.
        calls: Mutex<Vec<&'static str>>,
    }

    struct FakeTx<'a> {
        store: &'a Fake,
        world: World,
        locked: bool,
    }

    impl FakeTx<'_> {
        fn call(&self, name: &'static str) {
            self.store.calls.lock().unwrap().push(name);
        }
    }

    #[async_trait]
    impl AssignmentStore for Fake {
        async fn team_policy(&self, _: TeamId) -> Result<PolicySettings> {
            unreachable!("the assigner's step never calls this")
        }
        async fn set_team_policy(&self, _: TeamId, _: &PolicySettings, _: DateTime<Utc>) -> Result<()> {
            unreachable!("the assigner's step never calls this")
        }
        async fn channel_policy(&self, _: ChannelId) -> Result<ChannelPolicy> {
            unreachable!("the assigner's step never calls this")
        }
        async fn set_channel_policy(
            &self,
            _: ChannelId,
            _: Option<&PolicySettings>,
            _: DateTime<Utc>,
        ) -> Result<ChannelPolicy> {
            unreachable!("the assigner's step never calls this")
        }
        async fn begin_assignment(&self) -> Result<Box<dyn AssignmentTx + '_>> {
            let world = self.world.lock().unwrap().clone();
            Ok(Box::new(FakeTx { store: self, world, locked: false }))
        }
    }

    #[async_trait]
    impl AssignmentTx for FakeTx<'_> {
        async fn active_policies(&mut self) -> Result<Vec<ChannelPolicy>> {
            self.call("active_policies");
            Ok(self.world.policies.clone())
        }

        async fn active_team_policies(&mut self) -> Result<Vec<TeamPolicy>> {
            Ok(Vec::new())
        }

        async fn any_unanswered(&mut self, route: Route, deadline: DateTime<Utc>) -> Result<bool> {
            self.call("any_unanswered");
            let Route::Channel(channel) = route else { return Ok(false) };
            Ok(!self.unanswered_now(channel, deadline).is_empty())
        }

        async fn any_waiting(&mut self, channels: &[ChannelId], _: &[TeamId]) -> Result<bool> {
            self.call("any_waiting");
            Ok(!self.world.online.is_empty() && !self.waiting_now(channels, None).is_empty())
        }

        async fn lock_pool(&mut self) -> Result<AgentPool> {
            self.call("lock_pool");
            self.locked = true;
            let w = &self.world;
            let agents = w
                .online
                .iter()
                .map(|&(id, capacity)| {
                    let n = u32::try_from(w.conversations.iter().filter(|c| c.assignee == Some(id)).count()).unwrap();
                    PoolAgent { id, capacity, load: n, open: n, seq: w.seq.get(&id).copied(), teams: Vec::new() }
                })
                .collect();
            Ok(AgentPool::new(agents, w.seq.values().max().copied()))
        }

        async fn unanswered(&mut self, route: Route, deadline: DateTime<Utc>, limit: u32) -> Result<Vec<Unanswered>> {
            assert!(self.locked);
            let Route::Channel(channel) = route else { return Ok(Vec::new()) };
            let mut due = self.unanswered_now(channel, deadline);
            due.truncate(usize::try_from(limit).unwrap());
            Ok(due)
        }

        async fn waiting(
            &mut self,
            channels: &[ChannelId],
            _: &[TeamId],
            after: Option<QueueKey>,
            limit: u32,
        ) -> Result<Vec<WaitingConversation>> {
            assert!(self.locked);
            self.call("waiting");
            let mut page = self.waiting_now(channels, after);
            page.truncate(usize::try_from(limit).unwrap());
            Ok(page)
        }

        async fn assign(&mut self, a: &AutoAssigned, _: AssignmentPolicy, seq: i64, at: DateTime<Utc>) -> Result<()> {
            assert!(self.locked);
            let c = self.world.conversations.iter_mut().find(|c| c.id == a.conversation).unwrap();
            c.assignee = Some(a.agent);
            c.assigned_at = Some(at);
            self.world.seq.insert(a.agent, seq);
            Ok(())
        }

        async fn unassign(&mut self, conversation: ConversationId, _: AgentId, _: DateTime<Utc>) -> Result<()> {
            assert!(self.locked);
            self.world.conversations.iter_mut().find(|c| c.id == conversation).unwrap().assignee = None;
            Ok(())
        }

        async fn commit(self: Box<Self>) -> Result<()> {
            self.call("commit");
            *self.store.world.lock().unwrap() = self.world;
            Ok(())
        }
    }

    impl FakeTx<'_> {
        fn unanswered_now(&self, channel: ChannelId, deadline: DateTime<Utc>) -> Vec<Unanswered> {
            let mut due: Vec<&Conv> = self
                .world
                .conversations
                .iter()
                .filter(|c| c.channel == channel && c.assignee.is_some() && c.waiting_since <= deadline)
                .filter(|c| c.assigned_at.is_none_or(|at| at <= deadline))
                .collect();
            due.sort_by_key(|c| (c.waiting_since, c.id));
            due.iter().map(|c| Unanswered { conversation: c.id, assignee: c.assignee.unwrap() }).collect()
        }

        fn waiting_now(&self, channels: &[ChannelId], after: Option<QueueKey>) -> Vec<WaitingConversation> {
            let mut page: Vec<WaitingConversation> = self
                .world
                .conversations
                .iter()
                .filter(|c| c.assignee.is_none() && channels.contains(&c.channel))
                .filter(|c| after.is_none_or(|k| (c.waiting_since, c.id) > (k.waiting_since, k.id)))
                .map(|c| WaitingConversation {
                    id: c.id,
                    channel: c.channel,
                    transferred_to: None,
                    waiting_since: c.waiting_since,
                })
                .collect();
            page.sort_by_key(|w| (w.waiting_since, w.id));
            page
        }
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn channel_with(policy: AssignmentPolicy, minutes: Option<u32>) -> ChannelPolicy {
        let own = PolicySettings { policy, reassign_after_minutes: minutes };
        ChannelPolicy::resolve(ChannelId::new(), None, Some(own), None)
    }

    fn waiting_in(channel: ChannelId, n: i64) -> Vec<Conv> {
        (0..n)
            .map(|i| Conv {
                id: ConversationId::new(),
                channel,
                assignee: None,
                waiting_since: t(i),
                assigned_at: None,
            })
            .collect()
    }

    #[tokio::test]
    async fn an_idle_step_only_looks() {
        let fake = Fake::default();
        assert_eq!(auto_assign(&fake, t(0), 10).await.unwrap(), AutoAssignReport::default());
        assert_eq!(*fake.calls.lock().unwrap(), ["active_policies"], "no policy: nothing else is asked");

        let ch = channel_with(AssignmentPolicy::RoundRobin, Some(5));
        fake.world.lock().unwrap().policies.push(ch);
        fake.world.lock().unwrap().conversations = waiting_in(ch.channel_id, 3);
        fake.calls.lock().unwrap().clear();
        // Conversations wait, but nobody is online.
        assert_eq!(auto_assign(&fake, t(100), 10).await.unwrap().changes(), 0);
        assert_eq!(*fake.calls.lock().unwrap(), ["active_policies", "any_unanswered", "any_waiting"]);
    }

    #[tokio::test]
    async fn the_backlog_drains_oldest_first_across_pages_up_to_the_limit() {
        let ch = channel_with(AssignmentPolicy::RoundRobin, None);
        let off = channel_with(AssignmentPolicy::Off, None);
        let (ana, bo) = (AgentId::new(), AgentId::new());
        let backlog = waiting_in(ch.channel_id, 450);
        let mut conversations = backlog.clone();
        conversations.extend(waiting_in(off.channel_id, 5));
        let fake = Fake::default();
        *fake.world.lock().unwrap() = World {
            policies: vec![ch, off],
            online: vec![(ana, None), (bo, Some(10))],
            conversations,
            ..World::default()
        };

        let first = auto_assign(&fake, t(1000), 300).await.unwrap();
        assert_eq!(first.assigned.len(), 300);
        let order: Vec<ConversationId> = first.assigned.iter().map(|a| a.conversation).collect();
        let oldest: Vec<ConversationId> = backlog.iter().take(300).map(|c| c.id).collect();
        assert_eq!(order, oldest);
        assert_eq!(first.assigned.iter().filter(|a| a.agent == bo).count(), 10, "bo is full at ten");
        assert!(first.assigned.iter().all(|a| a.reason == AutoReason::Waiting && a.previous.is_none()));

        let rest = auto_assign(&fake, t(1001), 300).await.unwrap();
        assert_eq!(rest.assigned.len(), 150, "the channel with policy off is left alone");
        assert!(rest.assigned.iter().all(|a| a.agent == ana));
        let world = fake.world.lock().unwrap().clone();
        assert!(world.conversations.iter().all(|c| c.assignee.is_some() == (c.channel == ch.channel_id)));
    }

    #[tokio::test]
    async fn an_unanswered_conversation_goes_to_someone_else_or_back_to_the_queue() {
        let ch = channel_with(AssignmentPolicy::LeastLoaded, Some(5));
        let (ana, bo) = (AgentId::new(), AgentId::new());
        let mut conversations = waiting_in(ch.channel_id, 2);
        for c in &mut conversations {
            c.assignee = Some(ana);
            c.assigned_at = Some(t(0));
        }
        let fake = Fake::default();
        *fake.world.lock().unwrap() =
            World { policies: vec![ch], online: vec![(ana, None)], conversations, ..World::default() };

        // Not due yet; then due, but ana is the only one online: it stays.
        assert_eq!(auto_assign(&fake, t(4 * 60), 10).await.unwrap().changes(), 0);
        assert_eq!(auto_assign(&fake, t(10 * 60), 10).await.unwrap().changes(), 0);

        // Bo comes online: he takes them, one step's limit at a time.
        fake.world.lock().unwrap().online.push((bo, None));
        let one = auto_assign(&fake, t(10 * 60), 1).await.unwrap();
        assert_eq!(one.assigned.len(), 1);
        assert_eq!((one.assigned[0].agent, one.assigned[0].previous), (bo, Some(ana)));
        assert_eq!(one.assigned[0].reason, AutoReason::ReplyTimeout);

        // Both go offline: the other one goes back to the queue.
        fake.world.lock().unwrap().online.clear();
        let back = auto_assign(&fake, t(10 * 60), 10).await.unwrap();
        assert_eq!(back.assigned, []);
        assert_eq!(back.returned.len(), 1);
        assert_eq!(back.returned[0].agent, ana);
    }
}
