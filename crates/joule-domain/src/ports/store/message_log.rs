//! The OCPP message log: every frame in and out, per charger.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::charging::message_log::{LogEntry, LogFilter, StoredLogEntry};
use crate::kernel::ids::ChargerId;
use crate::kernel::page::{Page, Paged};

use super::StoreResult;

/// The OCPP message log.
#[async_trait]
pub trait MessageLogStore: Send + Sync {
    /// Appends entries; they become durable with the next group commit.
    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()>;
    /// Newest first.
    async fn query_log(
        &self,
        charger: &ChargerId,
        filter: LogFilter,
        page: Page,
    ) -> StoreResult<Paged<StoredLogEntry>>;
    /// Deletes entries older than `before`; returns how many.
    async fn purge_log_before(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}
