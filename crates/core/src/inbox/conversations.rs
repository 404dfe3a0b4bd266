//! A conversation's assignment and status, the shared queue, and the assignment policies.
//!
//! Who may do what: admins anything. On a conversation they see, an agent may assign it
//! to themselves when it is unassigned (within their capacity), give back their own, and
//! change the status, and transfer it to a team when it is unassigned or theirs. Whatever
//! frees an agent or puts a conversation back in the queue wakes the assigner.

use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, AgentRole, ChannelId, ConversationId, ConversationStatus};
use switchboard_store::{
    Agent, AssignOutcome, AssignRefusal, Assignment, ChannelPolicy, ClaimOutcome, ClaimScope, ConversationState,
    PolicySettings, StatusChange, StatusChangeOutcome, TeamId, TeamTransfer, TransferOutcome,
};

use super::{Inbox, InboxError};

/// Whether `agent` may set `current`'s assignee to `target` (`None`: unassign). Admins
/// may do anything; an agent may take an unassigned conversation (or keep their own) and
/// give back their own.
#[must_use]
pub fn may_assign(agent: &Agent, current: Option<AgentId>, target: Option<AgentId>) -> bool {
    if agent.role == AgentRole::Admin {
        return true;
    }
    let me = Some(agent.id);
    match target {
        Some(target) => target == agent.id && (current.is_none() || current == me),
        None => current == me || current.is_none(),
    }
}

/// Whether `agent` may transfer a conversation assigned to `current` to another team
/// (it may cost the assignee the conversation): admins always; an agent when it is
/// unassigned or theirs.
#[must_use]
pub fn may_transfer(agent: &Agent, current: Option<AgentId>) -> bool {
    agent.role == AgentRole::Admin || current.is_none() || current == Some(agent.id)
}

/// The snooze rules: a time is required to snooze, must be in the future, and is only for
/// snoozing.
pub fn check_snooze(
    status: ConversationStatus,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), InboxError> {
    match (status, until) {
        (ConversationStatus::Snoozed, None) => Err(InboxError::invalid("snooze_until", "is required to snooze")),
        (ConversationStatus::Snoozed, Some(t)) if t <= now => {
            Err(InboxError::invalid("snooze_until", "must be in the future"))
        }
        (s, Some(_)) if s != ConversationStatus::Snoozed => {
            Err(InboxError::invalid("snooze_until", "is only for status snoozed"))
        }
        _ => Ok(()),
    }
}

impl Inbox<'_> {
    /// Assigns `agent` the longest-waiting conversation they may take (admins: any);
    /// `None` when nothing is waiting for them.
    pub async fn claim(&self, agent: &Agent) -> Result<Option<ConversationState>, InboxError> {
        let scope = if agent.role == AgentRole::Admin { ClaimScope::All } else { ClaimScope::Teams };
        match self.store.claim_next(agent.id, scope, Utc::now()).await? {
            ClaimOutcome::Claimed(c) => {
                tracing::info!(conversation_id = %c.id, agent_id = %agent.id, "conversation claimed");
                Ok(Some(c))
            }
            ClaimOutcome::Empty => Ok(None),
            ClaimOutcome::AtCapacity { capacity, load } => Err(InboxError::AtCapacity { capacity, load }),
            // Deactivated between authentication and the claim.
            ClaimOutcome::AgentInactive => Err(InboxError::AgentInactive),
        }
    }

    /// Assigns `conversation` to `target`, or unassigns it (`None`), as `caller`.
    pub async fn assign(
        &self,
        caller: &Agent,
        conversation: ConversationId,
        target: Option<AgentId>,
    ) -> Result<ConversationState, InboxError> {
        let id = conversation;
        let current = self.store.conversation_state(id).await?.ok_or(InboxError::NotFound { what: "conversation" })?;
        if !may_assign(caller, current.assignee_id, target) {
            return Err(InboxError::Forbidden);
        }
        let admin = caller.role == AgentRole::Admin;
        let outcome = self
            .store
            .assign(&Assignment {
                conversation: id,
                agent: target,
                actor: Some(caller.id),
                respect_capacity: !admin,
                at: Utc::now(),
            })
            .await?;
        match outcome {
            AssignOutcome::Done { state: c, changed } => {
                if changed {
                    // Unassigned (back in the queue) or transferred (the previous assignee freed).
                    self.wake.assigner();
                    tracing::info!(conversation_id = %id, assignee_id = ?c.assignee_id, by = %caller.id, "assignment changed");
                }
                Ok(c)
            }
            AssignOutcome::Refused(AssignRefusal::ConversationNotFound) => {
                Err(InboxError::NotFound { what: "conversation" })
            }
            AssignOutcome::Refused(AssignRefusal::Resolved) => Err(InboxError::Resolved),
            AssignOutcome::Refused(AssignRefusal::AgentInactive) => {
                Err(InboxError::invalid("agent_id", "no active agent has this id"))
            }
            AssignOutcome::Refused(AssignRefusal::AtCapacity { capacity, load }) => {
                Err(InboxError::AtCapacity { capacity, load })
            }
        }
    }

    /// Transfers `conversation` to `team` (`None`: back to its channel's routing), as
    /// `caller`. The team must exist (else `team_id` is invalid). An assignee who is not a
    /// member of the conversation's new team loses it (the history says why), and the
    /// assigner is woken so the team's policy, if any, hands it to a member. The caller
    /// may no longer see it afterwards; the state after is answered all the same.
    pub async fn transfer(
        &self,
        caller: &Agent,
        conversation: ConversationId,
        team: Option<TeamId>,
    ) -> Result<ConversationState, InboxError> {
        let id = conversation;
        let current = self.store.conversation_state(id).await?.ok_or(InboxError::NotFound { what: "conversation" })?;
        if !may_transfer(caller, current.assignee_id) {
            return Err(InboxError::Forbidden);
        }
        let outcome = self
            .store
            .transfer_team(&TeamTransfer { conversation: id, team, actor: Some(caller.id), at: Utc::now() })
            .await?;
        match outcome {
            TransferOutcome::Done { state: c, changed, unassigned } => {
                if changed {
                    // Its new team's policy may hand it out; a freed assignee has room.
                    self.wake.assigner();
                    tracing::info!(
                        conversation_id = %id, team_id = ?c.team_id, transferred_to = ?c.transferred_to,
                        unassigned = ?unassigned, by = %caller.id, "conversation transferred"
                    );
                }
                Ok(c)
            }
            TransferOutcome::ConversationNotFound => Err(InboxError::NotFound { what: "conversation" }),
            TransferOutcome::TeamNotFound => Err(InboxError::invalid("team_id", "no team has this id")),
            TransferOutcome::Resolved => Err(InboxError::Resolved),
        }
    }

    /// Changes `conversation`'s status (snoozed: until `snoozed_until`), as `caller`.
    pub async fn set_status(
        &self,
        caller: &Agent,
        conversation: ConversationId,
        status: ConversationStatus,
        snoozed_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<ConversationState, InboxError> {
        let id = conversation;
        check_snooze(status, snoozed_until, now)?;
        // Resolving may ask the customer how it went (the channel's survey settings).
        let survey = match status {
            ConversationStatus::Resolved => crate::csat::plan_survey(self.store, id, now).await?,
            _ => None,
        };
        let change = StatusChange { conversation: id, status, snoozed_until, actor: Some(caller.id), at: now };
        let outcome = self.store.set_status_with_survey(&change, survey.as_ref()).await?;
        match outcome {
            StatusChangeOutcome::Done { state: c, changed } => {
                if changed && survey.is_some() {
                    self.wake.outbox();
                }
                if changed {
                    if c.status == ConversationStatus::Resolved && c.assignee_id.is_some() {
                        // The assignee has room for one more.
                        self.wake.assigner();
                    }
                    tracing::info!(conversation_id = %id, status = %c.status, by = %caller.id, "status changed");
                }
                Ok(c)
            }
            StatusChangeOutcome::NotFound => Err(InboxError::NotFound { what: "conversation" }),
            StatusChangeOutcome::Resolved => Err(InboxError::Resolved),
        }
    }

    /// Sets a team's auto-assignment policy; the waiting backlog is assigned at once.
    pub async fn set_team_policy(
        &self,
        caller: &Agent,
        team: TeamId,
        policy: &PolicySettings,
    ) -> Result<(), InboxError> {
        self.store.set_team_policy(team, policy, Utc::now()).await.map_err(InboxError::not_found("team"))?;
        self.wake.assigner();
        tracing::info!(team_id = %team, policy = %policy.policy, by = %caller.id, "team assignment policy set");
        Ok(())
    }

    /// Sets a channel's own auto-assignment policy, or removes it (`None`: it follows its
    /// team's again); the waiting backlog is assigned at once. Answers the channel's
    /// policy now.
    pub async fn set_channel_policy(
        &self,
        caller: &Agent,
        channel: ChannelId,
        policy: Option<&PolicySettings>,
    ) -> Result<ChannelPolicy, InboxError> {
        let after = self
            .store
            .set_channel_policy(channel, policy, Utc::now())
            .await
            .map_err(InboxError::not_found("channel"))?;
        self.wake.assigner();
        match policy {
            Some(p) => {
                tracing::info!(channel_id = %channel, policy = %p.policy, by = %caller.id, "channel assignment policy set");
            }
            None => {
                tracing::info!(channel_id = %channel, by = %caller.id, "channel assignment policy removed; follows its team's");
            }
        }
        Ok(after)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{Duration, Utc};
    use switchboard_domain::{AgentId, AgentName, AgentRole, ConversationStatus, Email};
    use switchboard_store::{Agent, Availability};

    use super::{check_snooze, may_assign, may_transfer};
    use crate::inbox::{InboxError, Invalid};

    fn agent(role: AgentRole) -> Agent {
        Agent {
            id: AgentId::new(),
            name: AgentName::parse("Sam").unwrap(),
            email: Email::parse("sam@example.com").unwrap(),
            role,
            active: true,
            created_at: Utc::now(),
            availability: Availability::default(),
            capacity: None,
            totp_required: false,
        }
    }

    #[test]
    fn agents_take_unassigned_conversations_and_give_back_their_own() {
        let me = agent(AgentRole::Agent);
        let other = AgentId::new();
        assert!(may_assign(&me, None, Some(me.id)));
        assert!(may_assign(&me, Some(me.id), Some(me.id)));
        assert!(may_assign(&me, Some(me.id), None));
        assert!(may_assign(&me, None, None));
        assert!(!may_assign(&me, Some(other), Some(me.id)), "taking another's");
        assert!(!may_assign(&me, None, Some(other)), "giving to another");
        assert!(!may_assign(&me, Some(other), None), "unassigning another");
        let admin = agent(AgentRole::Admin);
        assert!(may_assign(&admin, Some(other), Some(AgentId::new())));
        assert!(may_assign(&admin, Some(other), None));
    }

    #[test]
    fn agents_transfer_what_is_unassigned_or_theirs() {
        let me = agent(AgentRole::Agent);
        assert!(may_transfer(&me, None));
        assert!(may_transfer(&me, Some(me.id)));
        assert!(!may_transfer(&me, Some(AgentId::new())), "another's conversation");
        assert!(may_transfer(&agent(AgentRole::Admin), Some(AgentId::new())));
    }

    fn field(r: Result<(), InboxError>) -> Option<Invalid> {
        match r {
            Err(InboxError::Invalid(mut v)) if v.len() == 1 => v.pop(),
            Ok(()) => None,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_snooze_needs_a_future_time_and_only_a_snooze_takes_one() {
        let now = Utc::now();
        let later = Some(now + Duration::minutes(5));
        assert_eq!(field(check_snooze(ConversationStatus::Snoozed, later, now)), None);
        assert_eq!(field(check_snooze(ConversationStatus::Open, None, now)), None);
        let e = field(check_snooze(ConversationStatus::Snoozed, None, now)).unwrap();
        assert_eq!((e.field.as_str(), e.message.as_str()), ("snooze_until", "is required to snooze"));
        let e = field(check_snooze(ConversationStatus::Snoozed, Some(now), now)).unwrap();
        assert_eq!(e.message, "must be in the future");
        let e = field(check_snooze(ConversationStatus::Resolved, later, now)).unwrap();
        assert_eq!(e.message, "is only for status snoozed");
    }
}
