//! One handle that wakes the workers of this process: the ingest worker (deliveries were
//! made durable), the sender (messages were queued in the outbox) and the assigner (a
//! conversation is waiting, an agent has room, a policy changed).
//!
//! A wake-up given while a worker is busy is kept (one, not a count): the worker runs
//! again when it is done. Workers also poll, so a lost wake-up only delays; and other
//! instances' work is found by polling.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// Wakes this process's workers; cheap to clone (one `Arc`).
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Signals>);

#[derive(Debug, Default)]
struct Signals {
    ingest: Notify,
    outbox: Notify,
    assigner: Notify,
}

impl Wake {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Deliveries were stored in the event log: the ingest worker applies them.
    pub fn ingest(&self) {
        self.0.ingest.notify_one();
    }

    /// Messages were queued in the outbox: the sender claims them.
    pub fn outbox(&self) {
        self.0.outbox.notify_one();
    }

    /// A conversation waits for an agent, an agent has room again, or a policy changed:
    /// the assigner runs a step.
    pub fn assigner(&self) {
        self.0.assigner.notify_one();
    }

    /// Ready when the ingest worker is woken (at once if a wake-up is kept).
    pub fn ingest_woken(&self) -> Notified<'_> {
        self.0.ingest.notified()
    }

    /// Ready when the sender is woken (at once if a wake-up is kept).
    pub fn outbox_woken(&self) -> Notified<'_> {
        self.0.outbox.notified()
    }

    /// Ready when the assigner is woken (at once if a wake-up is kept).
    pub fn assigner_woken(&self) -> Notified<'_> {
        self.0.assigner.notified()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Wake;

    async fn woken(f: tokio::sync::futures::Notified<'_>) -> bool {
        tokio::time::timeout(Duration::ZERO, f).await.is_ok()
    }

    #[tokio::test]
    async fn each_worker_is_woken_by_its_own_name_and_a_wake_up_is_kept_once() {
        let wake = Wake::new();
        let other = wake.clone();
        other.assigner();
        assert!(!woken(wake.outbox_woken()).await);
        assert!(!woken(wake.ingest_woken()).await);
        assert!(woken(wake.assigner_woken()).await);
        assert!(!woken(wake.assigner_woken()).await, "kept once, not counted");
        other.outbox();
        other.outbox();
        assert!(woken(wake.outbox_woken()).await);
        assert!(!woken(wake.outbox_woken()).await);
        other.ingest();
        assert!(woken(wake.ingest_woken()).await);
    }
}
