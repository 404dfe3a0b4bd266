//! Auto-assignment's rules: the policy per team and per channel, which agents are
//! eligible, and which of them gets a conversation. Pure: the assigner (switchboard-core)
//! fills an [`AgentPool`] from its transaction and writes back what it chose.
//!
//! **Policy.** A channel's own policy wins; a channel without one follows its team's; a
//! channel with neither (or without a team) is `off`. `reassign_after_minutes` takes a
//! conversation back from an assignee who has not answered the waiting customer in
//! time.
//!
//! **Eligible agents.** Active, `online`, members of the channel's team (any agent when
//! the channel has no team), and below their capacity (the queue's load: conversations
//! assigned to them that are not resolved; no capacity = no limit).
//!
//! **Choice.** `round_robin`: the eligible agent the assigner served least recently (a
//! persisted rotation number per agent, so the order survives restarts and is shared by
//! instances). `least_loaded`: the fewest *open* conversations, ties by least recently
//! assigned, then by id.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AgentId, ChannelId, ConversationId, TeamId};

/// How a channel's waiting conversations are assigned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssignmentPolicy {
    /// Agents claim or are assigned by hand.
    #[default]
    Off,
    /// The eligible agent assigned least recently.
    RoundRobin,
    /// The eligible agent with the fewest open conversations.
    LeastLoaded,
}

impl AssignmentPolicy {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::RoundRobin => "round_robin",
            Self::LeastLoaded => "least_loaded",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "off" => Self::Off,
            "round_robin" => Self::RoundRobin,
            "least_loaded" => Self::LeastLoaded,
            _ => return None,
        })
    }
}

impl fmt::Display for AssignmentPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored policy that cannot be one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPolicy {
    #[error("assignment policy {0:?}")]
    Policy(String),
    #[error("reassign_after_minutes out of range")]
    Minutes,
}

/// A policy as set on a team or a channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicySettings {
    pub policy: AssignmentPolicy,
    /// Take a conversation back from an assignee who has not answered within this many
    /// minutes (at least 1); `None`: never.
    pub reassign_after_minutes: Option<u32>,
}

impl PolicySettings {
    /// A policy as it is stored (`policy` text, `reassign_after_minutes`); `None` when
    /// no policy is set.
    pub fn from_columns(policy: Option<String>, minutes: Option<i64>) -> Result<Option<Self>, InvalidPolicy> {
        let Some(policy) = policy else { return Ok(None) };
        Ok(Some(Self {
            policy: AssignmentPolicy::parse(&policy).ok_or(InvalidPolicy::Policy(policy))?,
            reassign_after_minutes: minutes.map(u32::try_from).transpose().map_err(|_| InvalidPolicy::Minutes)?,
        }))
    }
}

/// Where a channel's effective policy comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// The channel's own.
    Channel,
    /// Its team's.
    Team,
    /// Neither is set: off.
    Default,
}

/// A channel's policy: its own, and the one in effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelPolicy {
    pub channel_id: ChannelId,
    pub team_id: Option<TeamId>,
    /// The channel's own policy, if set.
    pub own: Option<PolicySettings>,
    pub effective: PolicySettings,
    pub source: PolicySource,
}

impl ChannelPolicy {
    /// Resolves the effective policy: the channel's own, else its team's, else off.
    #[must_use]
    pub fn resolve(
        channel_id: ChannelId,
        team_id: Option<TeamId>,
        own: Option<PolicySettings>,
        team: Option<PolicySettings>,
    ) -> Self {
        let (effective, source) = match (own, team.filter(|_| team_id.is_some())) {
            (Some(p), _) => (p, PolicySource::Channel),
            (None, Some(p)) => (p, PolicySource::Team),
            (None, None) => (PolicySettings::default(), PolicySource::Default),
        };
        Self { channel_id, team_id, own, effective, source }
    }

    /// Whether the assigner hands this channel's conversations out.
    #[must_use]
    pub fn assigns(&self) -> bool {
        self.effective.policy != AssignmentPolicy::Off
    }
}

/// Why the assigner changed a conversation's assignee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoReason {
    /// It was waiting in the queue.
    Waiting,
    /// The assignee did not answer within the channel's `reassign_after_minutes`.
    ReplyTimeout,
}

impl AutoReason {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::ReplyTimeout => "reply_timeout",
        }
    }
}

/// One automatic assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoAssigned {
    pub conversation: ConversationId,
    pub agent: AgentId,
    /// Who had it (a reassignment).
    pub previous: Option<AgentId>,
    pub reason: AutoReason,
}

/// What one assigner step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutoAssignReport {
    /// In the order they were made (oldest waiting first).
    pub assigned: Vec<AutoAssigned>,
    /// Taken back from an assignee who did not answer and is no longer online, with
    /// nobody else to give them to: back in the queue.
    pub returned: Vec<Returned>,
}

/// A conversation the assigner took back from its assignee ([`AutoAssignReport::returned`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned {
    pub conversation: ConversationId,
    /// Who had it.
    pub agent: AgentId,
}

impl AutoAssignReport {
    /// Changes made.
    #[must_use]
    pub fn changes(&self) -> usize {
        self.assigned.len() + self.returned.len()
    }
}

/// An online, active agent as the assigner sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolAgent {
    pub id: AgentId,
    /// `None`: no limit.
    pub capacity: Option<u32>,
    /// Conversations assigned that are not resolved.
    pub load: u32,
    /// Conversations assigned that are open.
    pub open: u32,
    /// Place in the rotation: the last automatic assignment's number (`None`: never).
    pub seq: Option<i64>,
    pub teams: Vec<TeamId>,
}

impl PoolAgent {
    /// Below their capacity.
    #[must_use]
    pub fn has_room(&self) -> bool {
        self.capacity.is_none_or(|c| self.load < c)
    }

    /// Whether they may take a conversation of a channel routed to `team` (any agent
    /// serves a channel routed to no team).
    #[must_use]
    pub fn serves(&self, team: Option<TeamId>) -> bool {
        team.is_none_or(|t| self.teams.contains(&t))
    }
}

/// The eligible agents of one step, and the choice between them.
#[derive(Clone, Debug)]
pub struct AgentPool {
    agents: Vec<PoolAgent>,
    next_seq: i64,
}

impl AgentPool {
    /// `agents`: the online, active agents; `max_seq`: the highest rotation number any
    /// agent holds.
    #[must_use]
    pub fn new(agents: Vec<PoolAgent>, max_seq: Option<i64>) -> Self {
        Self { agents, next_seq: max_seq.unwrap_or(0).saturating_add(1) }
    }

    /// Whether the agent is in the pool (online and active).
    #[must_use]
    pub fn contains(&self, agent: AgentId) -> bool {
        self.agents.iter().any(|a| a.id == agent)
    }

    /// Whether anyone could take a conversation of a channel routed to `team`.
    #[must_use]
    pub fn has_room_for(&self, team: Option<TeamId>) -> bool {
        self.agents.iter().any(|a| a.has_room() && a.serves(team))
    }

    /// The eligible agent `policy` chooses for a conversation of a channel routed to
    /// `team` (other than `except`), without counting it: who a pick would give it to.
    #[must_use]
    pub fn choose(&self, policy: AssignmentPolicy, team: Option<TeamId>, except: Option<AgentId>) -> Option<AgentId> {
        self.position(policy, team, except).and_then(|i| self.agents.get(i)).map(|a| a.id)
    }

    /// Chooses an eligible agent for a conversation of a channel routed to `team`
    /// (other than `except`), counts the conversation in their load, and moves them to
    /// the end of the rotation. Returns the agent and their new rotation number.
    pub fn pick(
        &mut self,
        policy: AssignmentPolicy,
        team: Option<TeamId>,
        except: Option<AgentId>,
    ) -> Option<(AgentId, i64)> {
        let i = self.position(policy, team, except)?;
        let seq = self.next_seq;
        let chosen = self.agents.get_mut(i)?;
        chosen.load = chosen.load.saturating_add(1);
        chosen.open = chosen.open.saturating_add(1);
        chosen.seq = Some(seq);
        self.next_seq = seq.saturating_add(1);
        Some((chosen.id, seq))
    }

    /// A conversation of the agent's left them (an open one).
    pub fn release(&mut self, agent: AgentId) {
        if let Some(a) = self.agents.iter_mut().find(|a| a.id == agent) {
            a.load = a.load.saturating_sub(1);
            a.open = a.open.saturating_sub(1);
        }
    }

    /// Where the agent `policy` chooses is in `agents`.
    fn position(&self, policy: AssignmentPolicy, team: Option<TeamId>, except: Option<AgentId>) -> Option<usize> {
        let eligible =
            self.agents.iter().enumerate().filter(|(_, a)| a.has_room() && a.serves(team) && Some(a.id) != except);
        // `None` (never assigned) sorts first.
        let (i, _) = match policy {
            AssignmentPolicy::Off => None,
            AssignmentPolicy::RoundRobin => eligible.min_by_key(|(_, a)| (a.seq, a.id)),
            AssignmentPolicy::LeastLoaded => eligible.min_by_key(|(_, a)| (a.open, a.seq, a.id)),
        }?;
        Some(i)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn agent(n: u128, capacity: Option<u32>, open: u32, seq: Option<i64>) -> PoolAgent {
        PoolAgent { id: AgentId::from_uuid(Uuid::from_u128(n)), capacity, load: open, open, seq, teams: Vec::new() }
    }

    fn id(n: u128) -> AgentId {
        AgentId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn round_robin_serves_the_least_recently_assigned_first_and_rotates() {
        let mut pool = AgentPool::new(
            vec![agent(1, None, 0, Some(7)), agent(2, None, 0, None), agent(3, None, 0, Some(3))],
            Some(7),
        );
        let order: Vec<AgentId> =
            (0..6).map(|_| pool.pick(AssignmentPolicy::RoundRobin, None, None).unwrap().0).collect();
        assert_eq!(order, [id(2), id(3), id(1), id(2), id(3), id(1)]);
    }

    #[test]
    fn pick_numbers_the_rotation_after_the_highest_and_counts_the_load() {
        let mut pool = AgentPool::new(vec![agent(1, Some(2), 1, Some(4))], Some(9));
        assert_eq!(pool.pick(AssignmentPolicy::RoundRobin, None, None), Some((id(1), 10)));
        // Full now (capacity 2, load 2).
        assert_eq!(pool.pick(AssignmentPolicy::RoundRobin, None, None), None);
        assert!(!pool.has_room_for(None));
        // A pool nobody was ever assigned from starts at 1.
        let mut fresh = AgentPool::new(vec![agent(2, None, 0, None)], None);
        assert_eq!(fresh.pick(AssignmentPolicy::LeastLoaded, None, None), Some((id(2), 1)));
        assert_eq!(fresh.pick(AssignmentPolicy::LeastLoaded, None, None), Some((id(2), 2)));
    }

    #[test]
    fn least_loaded_fills_the_emptiest_and_respects_capacity() {
        let mut pool = AgentPool::new(vec![agent(1, Some(3), 2, None), agent(2, Some(2), 0, Some(1))], Some(1));
        let picks: Vec<AgentId> =
            std::iter::from_fn(|| pool.pick(AssignmentPolicy::LeastLoaded, None, None).map(|p| p.0)).collect();
        // 2 has fewer open twice (0, then 1 against 2) and is then full; 1 takes the last.
        assert_eq!(picks, [id(2), id(2), id(1)]);
        assert!(!pool.has_room_for(None));
    }

    #[test]
    fn least_loaded_breaks_ties_by_rotation_then_id() {
        let pool = AgentPool::new(
            vec![agent(3, None, 1, Some(5)), agent(2, None, 1, Some(2)), agent(1, None, 1, Some(2))],
            Some(5),
        );
        assert_eq!(pool.choose(AssignmentPolicy::LeastLoaded, None, None), Some(id(1)));
        let never = AgentPool::new(vec![agent(3, None, 1, Some(1)), agent(4, None, 1, None)], Some(1));
        assert_eq!(never.choose(AssignmentPolicy::LeastLoaded, None, None), Some(id(4)), "never assigned first");
    }

    #[test]
    fn choose_does_not_count_the_conversation() {
        let pool = AgentPool::new(vec![agent(1, Some(1), 0, None)], None);
        assert_eq!(pool.choose(AssignmentPolicy::LeastLoaded, None, None), Some(id(1)));
        assert_eq!(pool.choose(AssignmentPolicy::LeastLoaded, None, None), Some(id(1)));
        assert!(pool.has_room_for(None));
    }

    #[test]
    fn release_frees_room_and_the_pool_knows_who_is_in_it() {
        let mut pool = AgentPool::new(vec![agent(1, Some(1), 1, Some(1))], Some(1));
        assert!(!pool.has_room_for(None));
        assert!(pool.contains(id(1)));
        assert!(!pool.contains(id(2)));
        pool.release(id(2));
        assert!(!pool.has_room_for(None), "releasing someone not in the pool changes nothing");
        pool.release(id(1));
        assert!(pool.has_room_for(None));
        assert_eq!(pool.pick(AssignmentPolicy::RoundRobin, None, None), Some((id(1), 2)));
        // Never below zero.
        let mut empty = AgentPool::new(vec![agent(3, Some(1), 0, None)], None);
        empty.release(id(3));
        assert_eq!(empty.pick(AssignmentPolicy::RoundRobin, None, None).map(|p| p.0), Some(id(3)));
        assert!(!empty.has_room_for(None));
    }

    #[test]
    fn teams_exclusions_and_off_are_honoured() {
        let team = TeamId::new();
        let mut member = agent(1, None, 0, None);
        member.teams.push(team);
        let mut pool = AgentPool::new(vec![member, agent(2, None, 0, None)], None);
        assert!(pool.has_room_for(Some(team)));
        assert_eq!(pool.pick(AssignmentPolicy::RoundRobin, Some(team), None).unwrap().0, id(1));
        assert_eq!(pool.pick(AssignmentPolicy::RoundRobin, Some(team), Some(id(1))), None);
        assert_eq!(pool.pick(AssignmentPolicy::Off, None, None), None);
        assert!(!pool.has_room_for(Some(TeamId::new())));
        // A channel without a team: anyone.
        assert_eq!(pool.pick(AssignmentPolicy::RoundRobin, None, Some(id(1))).unwrap().0, id(2));
    }

    #[test]
    fn a_channels_own_policy_wins_over_its_teams() {
        let ch = ChannelId::from_uuid(Uuid::from_u128(9));
        let team = Some(TeamId::new());
        let rr = PolicySettings { policy: AssignmentPolicy::RoundRobin, reassign_after_minutes: Some(5) };
        let off = PolicySettings::default();
        assert_eq!(ChannelPolicy::resolve(ch, team, Some(off), Some(rr)).effective, off);
        assert_eq!(ChannelPolicy::resolve(ch, team, Some(off), Some(rr)).source, PolicySource::Channel);
        assert!(!ChannelPolicy::resolve(ch, team, Some(off), Some(rr)).assigns());
        let followed = ChannelPolicy::resolve(ch, team, None, Some(rr));
        assert_eq!((followed.effective, followed.source), (rr, PolicySource::Team));
        assert!(followed.assigns());
        // A team policy without a team (a stale join) does not count.
        assert_eq!(ChannelPolicy::resolve(ch, None, None, Some(rr)).source, PolicySource::Default);
        assert_eq!(ChannelPolicy::resolve(ch, None, None, Some(rr)).effective, off);
        assert_eq!(AssignmentPolicy::parse("least_loaded"), Some(AssignmentPolicy::LeastLoaded));
        assert_eq!(AssignmentPolicy::parse("random"), None);
    }

    #[test]
    fn stored_policies_parse_or_are_refused() {
        assert_eq!(PolicySettings::from_columns(None, Some(5)), Ok(None));
        assert_eq!(
            PolicySettings::from_columns(Some("round_robin".into()), Some(5)),
            Ok(Some(PolicySettings { policy: AssignmentPolicy::RoundRobin, reassign_after_minutes: Some(5) }))
        );
        assert_eq!(
            PolicySettings::from_columns(Some("random".into()), None),
            Err(InvalidPolicy::Policy("random".into()))
        );
        assert_eq!(PolicySettings::from_columns(Some("off".into()), Some(-1)), Err(InvalidPolicy::Minutes));
        assert_eq!(InvalidPolicy::Policy("x".into()).to_string(), "assignment policy \"x\"");
    }
}
