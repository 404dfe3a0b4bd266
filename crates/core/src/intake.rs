//! Group commit for webhook deliveries.
//!
//! Each request hands its verified body to one writer task and waits. The writer takes
//! everything that queued up while the previous commit ran and appends it in ONE
//! transaction, then answers every waiter. Under load a commit carries many deliveries,
//! so throughput does not fall to one fsync per request; when idle a delivery commits
//! alone, at once. A waiter is answered only after its delivery is durable.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use switchboard_cloudapi::delivery_time;
use switchboard_store::{Appended, NewEvent, Store, StoreError};

use crate::wake::Wake;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Copy, Debug)]
pub struct IntakeOptions {
    /// Most deliveries in one commit.
    pub max_batch: usize,
    /// Deliveries that may wait for the writer before new ones are refused (503).
    pub queue_capacity: usize,
}

impl Default for IntakeOptions {
    fn default() -> Self {
        Self { max_batch: 512, queue_capacity: 16_384 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The writer is gone (shutting down) or its queue is full.
    #[error("the event log is not accepting deliveries right now")]
    Busy,
    #[error("the event log could not store the delivery")]
    Store(#[source] Arc<StoreError>),
}

struct Waiter {
    event: NewEvent,
    reply: oneshot::Sender<Result<Appended, IntakeError>>,
    queued: std::time::Instant,
}

/// The handle requests use to append deliveries. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    queue: mpsc::Sender<Waiter>,
}

impl Intake {
    /// Starts the writer on `tracker`. After `stop` is cancelled (or every handle is
    /// dropped) it refuses new deliveries, stores those already queued, and ends: no
    /// accepted delivery is abandoned at shutdown. It wakes the ingest worker through
    /// `wake` after each commit that stored something new.
    pub fn start(
        store: Arc<dyn Store>,
        opts: IntakeOptions,
        wake: Wake,
        tracker: &TaskTracker,
        stop: CancellationToken,
    ) -> Self {
        let (queue, rx) = mpsc::channel(opts.queue_capacity.max(1));
        tracker.spawn(writer(store, rx, opts.max_batch.max(1), wake, stop));
        Self { queue }
    }

    /// Makes one delivery durable. Returns once it is committed (or known).
    pub async fn append(&self, body: Bytes, received_at: DateTime<Utc>) -> Result<Appended, IntakeError> {
        let (reply, answer) = oneshot::channel();
        let waiter = Waiter { event: new_event(body, received_at), reply, queued: std::time::Instant::now() };
        self.queue.try_send(waiter).map_err(|_| IntakeError::Busy)?;
        answer.await.map_err(|_| IntakeError::Busy)?
    }
}

/// A delivery with its deduplication key.
pub(crate) fn new_event(body: Bytes, received_at: DateTime<Utc>) -> NewEvent {
    NewEvent { body_time: delivery_time(&body), body_sha256: Sha256::digest(&body).into(), body, received_at }
}

async fn writer(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Waiter>,
    max_batch: usize,
    wake: Wake,
    stop: CancellationToken,
) {
    let mut events = Vec::with_capacity(max_batch);
    let mut replies = Vec::with_capacity(max_batch);
    loop {
        let next = tokio::select! {
            next = rx.recv() => next,
            () = stop.cancelled(), if !rx.is_closed() => {
                rx.close();
                continue;
            }
        };
        let Some(first) = next else { break };
        let oldest = first.queued;
        events.push(first.event);
        replies.push(first.reply);
        while events.len() < max_batch {
            match rx.try_recv() {
                Ok(w) => {
                    events.push(w.event);
                    replies.push(w.reply);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let appended_now = store.append_events(&events).await;
        tracing::trace!(
            batch = events.len(),
            micros = started.elapsed().as_micros() as u64,
            oldest_micros = oldest.elapsed().as_micros() as u64,
            "group commit"
        );
        match appended_now {
            Ok(results) => {
                let any_new = results.iter().any(|r| matches!(r, Appended::New(_)));
                for (reply, result) in replies.drain(..).zip(results) {
                    let _ = reply.send(Ok(result));
                }
                if any_new {
                    wake.ingest();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), batch = events.len(), "could not append webhook deliveries");
                let e = Arc::new(e);
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(IntakeError::Store(Arc::clone(&e))));
                }
            }
        }
        // A reply dropped above (result count mismatch) answers its waiter with Busy.
        replies.clear();
        events.clear();
    }
    tracing::debug!("intake writer stopped");
}
