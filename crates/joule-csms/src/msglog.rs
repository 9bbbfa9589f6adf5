//! The message-log writer: every frame in and out is queued here and written
//! in batches by one background task, so a connection never waits for the
//! log's durability (the store's group commit makes it durable later).
//!
//! The queue is bounded; when the store falls that far behind, connections
//! wait for room (back-pressure slows chargers down) rather than dropping
//! frames or growing memory without bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use joule_domain::charging::message_log::{Direction, FrameKind, LogEntry};
use joule_domain::ports::store::MessageLogStore;
use joule_domain::ChargerId;
use tokio::sync::{mpsc, watch};

const QUEUE: usize = 16_384;
const BATCH: usize = 512;

#[derive(Debug, Clone)]
pub(crate) struct LogSink {
    tx: mpsc::Sender<LogEntry>,
    dropped: Arc<AtomicU64>,
}

/// One frame to log.
pub(crate) struct Logged<'a> {
    pub direction: Direction,
    pub kind: FrameKind,
    pub action: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub frame: &'a str,
    pub note: Option<String>,
}

impl LogSink {
    pub(crate) fn channel() -> (Self, mpsc::Receiver<LogEntry>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (
            Self {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    pub(crate) async fn log(&self, charger: &ChargerId, at: DateTime<Utc>, entry: Logged<'_>) {
        let entry = LogEntry {
            charger_id: charger.clone(),
            direction: entry.direction,
            kind: entry.kind,
            action: entry.action.map(str::to_owned),
            message_id: entry.message_id.map(str::to_owned),
            frame: entry.frame.to_owned(),
            note: entry.note,
            at,
        };
        if self.tx.send(entry).await.is_err() {
            // Only after shutdown, when the writer has stopped.
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "message log closed; entries not logged");
            }
        }
    }
}

/// Writes queued entries in batches until shutdown, then flushes what is
/// queued and returns.
pub(crate) async fn run_writer(
    store: Arc<dyn MessageLogStore>,
    mut rx: mpsc::Receiver<LogEntry>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let stopping = tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => n == 0,
            () = crate::shutdown::stopped(&mut shutdown) => true,
        };
        if stopping {
            while let Ok(entry) = rx.try_recv() {
                batch.push(entry);
            }
        }
        if !batch.is_empty() {
            let entries = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if let Err(error) = store.append_log(entries).await {
                tracing::warn!(%error, "message log write failed");
            }
        }
        if stopping {
            return;
        }
    }
}
