//! The outbox (event log) and the consumers' durable cursors.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::events::event::StoredEvent;

use super::StoreResult;

/// Durable positions of outbox consumers (workers), so a restart resumes
/// after the last event handled instead of replaying or skipping. A cursor
/// is bookkeeping of a reader, not domain state: moving it writes no
/// outbox event.
#[async_trait]
pub trait ConsumerCursorStore: Send + Sync {
    /// The id of the last event `consumer` handled; 0 when it never ran.
    async fn consumer_cursor(&self, consumer: &str) -> StoreResult<i64>;
    /// Moves the cursor to `last_event_id`. Never moves it backwards: a
    /// lower id than the stored one is ignored (two instances racing).
    async fn set_consumer_cursor(
        &self,
        consumer: &str,
        last_event_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Reading the outbox.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Events with `id > after`, oldest first.
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// The id of the newest event, 0 when the log is empty: where an
    /// in-memory consumer that only cares about what happens from now on
    /// starts its cursor.
    async fn latest_event_id(&self) -> StoreResult<i64>;
}
