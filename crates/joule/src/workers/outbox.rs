//! Runs outbox consumers ([`joule_domain::services::outbox_runner`]) on tokio: the
//! runner's pauses are tokio sleeps cut short by the shutdown token.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use joule_domain::ports::consumer::{OutboxConsumer, Pacer};
use joule_domain::services::outbox_runner::OutboxRunner;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The runner's time and shutdown: tokio's timer and the application's
/// shutdown token.
struct ShutdownPacer(CancellationToken);

#[async_trait]
impl Pacer for ShutdownPacer {
    async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            () = self.0.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }

    fn stopping(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// Starts `consumer` on its own task; it stops between two passes once
/// `shutdown` fires.
pub fn spawn_consumer(
    runner: OutboxRunner,
    consumer: Arc<dyn OutboxConsumer>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        runner
            .run(consumer.as_ref(), &ShutdownPacer(shutdown))
            .await;
    })
}
