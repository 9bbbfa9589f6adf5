//! The payment workers: an outbox consumer (durable cursor
//! `consumer_cursors.payments`) that links sessions to web payments,
//! settles holds when sessions end and charges the sessions of driver
//! accounts off-session, and one loop running the recovery
//! worker and the sweeper on an interval (docs/payments.md, "Recovery and
//! sweeper").

use std::sync::Arc;
use std::time::Duration;

use joule_domain::event::StoredEvent;
use joule_domain::ids::SessionId;
use joule_domain::payment_service::{PaymentError, PaymentService};
use joule_domain::store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The cursor name of the payments outbox consumer.
pub const PAYMENTS_CONSUMER: &str = "payments";

/// How many events one poll reads.
const EVENT_BATCH: u32 = 200;

/// Starts the consumer and the recovery/sweeper loop.
pub fn spawn_payment_workers(
    store: Arc<dyn Store>,
    service: PaymentService,
    interval: Duration,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(outbox_consumer(
            store,
            service.clone(),
            Duration::from_millis(500),
            shutdown.clone(),
        )),
        tokio::spawn(recovery_and_sweeper(service, interval, shutdown)),
    ]
}

async fn outbox_consumer(
    store: Arc<dyn Store>,
    service: PaymentService,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(poll);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        if let Err(error) = consume_once(store.as_ref(), &service).await {
            tracing::warn!(%error, "payments outbox consumer: pass failed; retried");
        }
    }
}

/// Reads the events after the cursor and handles them in order. The cursor
/// moves past an event once it is handled, or when handling it failed in a
/// way retrying cannot fix; a store or gateway outage, or a payment another
/// actor holds, stops the pass so the event is handled again next time.
pub async fn consume_once(
    store: &dyn Store,
    service: &PaymentService,
) -> Result<u32, PaymentError> {
    let cursor = store.consumer_cursor(PAYMENTS_CONSUMER).await?;
    let events = store.events_after(cursor, EVENT_BATCH).await?;
    let mut handled = 0;
    for event in events {
        match handle(service, &event).await {
            Ok(()) => {}
            // An outage, or another actor holding the payment (an increment
            // in flight, recovery): the event is handled again next poll.
            Err(
                error @ (PaymentError::Store(_)
                | PaymentError::GatewayUnavailable(_)
                | PaymentError::Busy { .. }
                | PaymentError::ClaimLost),
            ) => {
                return Err(error);
            }
            Err(error) => {
                tracing::warn!(event_id = event.id, kind = %event.kind, %error,
                    "payments outbox consumer: event not handled; moving on");
            }
        }
        store
            .set_consumer_cursor(PAYMENTS_CONSUMER, event.id, chrono::Utc::now())
            .await?;
        handled += 1;
    }
    Ok(handled)
}

async fn handle(service: &PaymentService, event: &StoredEvent) -> Result<(), PaymentError> {
    let session = || {
        event
            .session_id
            .as_deref()
            .and_then(|s| SessionId::parse(s).ok())
    };
    match event.kind.as_str() {
        "session.started" => match session() {
            Some(id) => service.on_session_started(id).await,
            None => Ok(()),
        },
        "session.ended" => match session() {
            Some(id) => {
                if let Some(detail) = service.settle_session(id).await? {
                    tracing::info!(session_id = %id, payment_id = %detail.payment.id,
                        state = detail.payment.state.as_str(), "session settled");
                }
                // A session of a driver account: charged off-session.
                if let Some(line) = service.settle_account_session(id).await? {
                    tracing::info!(session_id = %id, account_id = %line.account_id,
                        status = line.status.as_str(), "account session charged");
                }
                Ok(())
            }
            None => Ok(()),
        },
        _ => Ok(()),
    }
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
