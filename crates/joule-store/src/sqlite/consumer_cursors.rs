//! Durable outbox consumer cursors (`ConsumerCursorStore`).

use super::payments::{consumer_cursor, set_consumer_cursor};
use super::SqliteStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::ports::store::{ConsumerCursorStore, StoreResult};

#[async_trait]
impl ConsumerCursorStore for SqliteStore {
    async fn consumer_cursor(&self, consumer: &str) -> StoreResult<i64> {
        let consumer = consumer.to_owned();
        self.read(move |c| consumer_cursor(c, &consumer)).await
    }

    async fn set_consumer_cursor(
        &self,
        consumer: &str,
        last_event_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let consumer = consumer.to_owned();
        self.write(move |c| set_consumer_cursor(c, &consumer, last_event_id, at))
            .await
    }
}
