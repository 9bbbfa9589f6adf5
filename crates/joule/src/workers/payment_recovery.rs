//! The payment recovery worker and sweepers, on one interval
//! (docs/payments.md, "Recovery and sweeper"). The payments outbox consumer
//! is `joule_domain::services::payments::PaymentsConsumer`, run by
//! [`super::outbox`].

use std::time::Duration;

use joule_domain::services::payments::PaymentService;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Starts the recovery/sweeper loop.
pub fn spawn_recovery_and_sweeper(
    service: PaymentService,
    interval: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(recovery_and_sweeper(service, interval, shutdown))
}

async fn recovery_and_sweeper(
    service: PaymentService,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        match service.recover().await {
            Ok(r) if r.finished + r.failed > 0 => {
                tracing::info!(
                    finished = r.finished,
                    failed = r.failed,
                    "payment recovery pass"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "payment recovery pass failed"),
        }
        match service.sweep().await {
            Ok(r) if r.finished + r.failed > 0 => {
                tracing::info!(
                    finished = r.finished,
                    failed = r.failed,
                    "payment sweeper pass"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "payment sweeper pass failed"),
        }
        match service.sweep_accounts().await {
            Ok(r) if r.charged + r.reconciled + r.failed > 0 => {
                tracing::info!(
                    charged = r.charged,
                    reconciled = r.reconciled,
                    failed = r.failed,
                    "account sweeper pass"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "account sweeper pass failed"),
        }
    }
}
