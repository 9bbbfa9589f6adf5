//! The outbox-consumer port (DESIGN.md: "Consumers of the event log are one
//! trait"). Payments, receipt emails and the price watch each implement
//! [`OutboxConsumer`] beside their own domain; one runner
//! ([`crate::services::outbox_runner`]) follows the log for all of them, so a new
//! consumer (webhooks, OCPI push, reports) is one more implementation, not
//! one more hand-written loop.

use std::time::Duration;

use async_trait::async_trait;

use crate::events::event::{EventKind, StoredEvent};

/// What a consumer says about an event it could not handle.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Retrying can fix it (an outage, another actor holding the thing):
    /// the pass stops before the cursor passes the event, and the event is
    /// handled again after the runner's back-off.
    #[error("retried later: {0}")]
    Retry(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Retrying cannot fix it: logged, and the cursor moves past the event.
    #[error("skipped: {0}")]
    Skip(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ConsumerError {
    pub fn retry(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Retry(error.into())
    }

    pub fn skip(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Skip(error.into())
    }
}

/// One follower of the outbox.
#[async_trait]
pub trait OutboxConsumer: Send + Sync {
    /// Its name in logs, and the key of its cursor when the cursor is
    /// durable (`consumer_cursors.<name>`); never renamed once deployed, or
    /// the consumer starts again from the first event.
    fn name(&self) -> &'static str;

    /// Whether it handles events of `kind`. The others (and kinds this
    /// version does not know) are passed without a call.
    fn wants(&self, kind: EventKind) -> bool;

    /// Handles one event it wants. Called in log order, one at a time.
    async fn handle(&self, event: &StoredEvent) -> Result<(), ConsumerError>;

    /// Runs once after every pass over the log, whether it read events or
    /// not, and whether it finished or stopped: for work keyed on the
    /// events but done in bulk (one notice for a batch of tariff changes,
    /// sending the receipt emails the events made due). Logs its own
    /// failures.
    async fn after_pass(&self) {}
}

/// Time and shutdown for the runner, so the domain needs no async runtime:
/// the binary and the CSMS implement it over their tokio timers and shutdown
/// signals, tests with a fake that counts the waits.
#[async_trait]
pub trait Pacer: Send + Sync {
    /// Waits `delay`, or less when shutdown comes first; `false` when the
    /// runner should stop.
    async fn pause(&self, delay: Duration) -> bool;

    /// Whether shutdown was asked; checked between two batches of a pass.
    fn stopping(&self) -> bool;
}
