//! The assigner: hands waiting conversations to agents by their channel's policy (round
//! robin or least loaded), and takes them back from assignees who do not answer in time
//! (see [`crate::assignment`]).
//!
//! Its state is the database (conversations, agents' loads and rotation numbers), so
//! every instance may run one: a step is one store transaction, and concurrent steps
//! never assign a conversation twice or put an agent over capacity. It is woken when
//! work may have appeared — an ingest batch stored messages, an agent came online or
//! freed capacity — and otherwise ticks every `interval` (reassignment deadlines, other
//! instances' changes). A backlog drains at once: when an agent with room for five comes
//! online, the five longest-waiting conversations they may take are theirs in one step.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_store::{AutoAssignReport, Returned, Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::assignment::auto_assign;

#[derive(Clone, Debug)]
pub struct AssignerOptions {
    /// How often to look when not woken.
    pub interval: Duration,
    /// Most changes per transaction.
    pub batch_size: u32,
}

impl Default for AssignerOptions {
    fn default() -> Self {
        Self { interval: Duration::from_secs(5), batch_size: 100 }
    }
}

pub struct Assigner {
    store: Arc<dyn Store>,
    opts: AssignerOptions,
}

impl Assigner {
    #[must_use]
    pub fn new(store: Arc<dyn Store>, opts: AssignerOptions) -> Self {
        Self { store, opts }
    }

    /// Assigns (and reassigns) everything that can be at `now`, a batch per transaction,
    /// until a batch finds less than a full batch to do.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<AutoAssignReport, StoreError> {
        let batch = self.opts.batch_size.max(1);
        let mut total = AutoAssignReport::default();
        loop {
            let step = auto_assign(self.store.as_ref(), now, batch).await?;
            record(&step);
            let done = step.changes() < usize::try_from(batch).unwrap_or(usize::MAX);
            total.assigned.extend(step.assigned);
            total.returned.extend(step.returned);
            if done {
                return Ok(total);
            }
        }
    }

    /// Runs until `cancel`: a step when woken through `wake` ([`Wake::assigner`]), else
    /// every interval. Errors are logged and retried at the next tick.
    pub async fn run_until_stopped(self, wake: crate::Wake, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.opts.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = wake.assigner_woken() => {}
                () = cancel.cancelled() => break,
            }
            match self.run_once(Utc::now()).await {
                Ok(r) if r.changes() > 0 => tracing::info!(
                    assigned = r.assigned.len(),
                    returned_to_queue = r.returned.len(),
                    "conversations auto-assigned"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, source = ?std::error::Error::source(&e), "auto-assignment failed");
                }
            }
        }
        tracing::debug!("assigner stopped");
    }
}

fn record(step: &AutoAssignReport) {
    for a in &step.assigned {
        tracing::debug!(
            conversation_id = %a.conversation, agent_id = %a.agent, previous_agent_id = ?a.previous,
            reason = a.reason.as_str(), "conversation auto-assigned"
        );
        metrics::counter!("switchboard_auto_assignments_total", "reason" => a.reason.as_str()).increment(1);
    }
    for Returned { conversation, agent } in &step.returned {
        tracing::debug!(conversation_id = %conversation, agent_id = %agent, "unanswered conversation back in the queue");
        metrics::counter!("switchboard_auto_assignments_total", "reason" => "returned_to_queue").increment(1);
    }
}
