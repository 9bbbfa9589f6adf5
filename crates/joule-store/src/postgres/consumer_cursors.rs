//! Durable outbox consumer cursors (`ConsumerCursorStore`).

use super::payments::{consumer_cursor, set_consumer_cursor};
use super::sql::pg;
use super::PgStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::ports::store::{ConsumerCursorStore, StoreResult};
use sqlx::PgConnection;

#[async_trait]
impl ConsumerCursorStore for PgStore {
    async fn consumer_cursor(&self, consumer: &str) -> StoreResult<i64> {
        on_conn!(self, c => consumer_cursor(c, consumer))
    }

    async fn set_consumer_cursor(
        &self,
        consumer: &str,
        last_event_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_conn!(self, c => set_consumer_cursor(c, consumer, last_event_id, at))
    }
}
