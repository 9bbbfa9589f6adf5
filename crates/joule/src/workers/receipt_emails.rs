//! The receipt email worker (docs/payments.md, "Receipt emails"): an
//! outbox consumer (durable cursor `consumer_cursors.receipt_emails`) that
//! makes a payment's receipt email due when `payment.captured` is
//! written, for whatever channel captured it, and a sender that claims due
//! emails from the store queue, renders the receipt in the driver's
//! language and sends it over SMTP, retrying transient failures with
//! backoff. Exactly once: an email is claimed before it is sent and marked
//! sent after; a crash in between resends it at most once (the store's
//! claim rule).

use std::sync::Arc;
use std::time::Duration;

use joule_domain::clock::Clock;
use joule_domain::error::StoreError;
use joule_domain::event::StoredEvent;
use joule_domain::payment::PaymentId;
use joule_domain::receipt::OperatorInfo;
use joule_domain::receipt_email::{retry_at, ReceiptEmailJob, ReceiptEmailOutcome};
use joule_domain::receipt_source::{receipt_for_payment, ReceiptSources};
use joule_domain::store::Store;
use joule_receipts::{EmailError, ReceiptMailer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The cursor name of the receipt email consumer.
pub const RECEIPTS_CONSUMER: &str = "receipt_emails";

const EVENT_BATCH: u32 = 200;
const SEND_BATCH: u32 = 20;

/// How the sender behaves; from `[receipts]`.
#[derive(Debug, Clone)]
pub struct EmailerSettings {
    pub poll: Duration,
    pub retry_initial: chrono::Duration,
    pub max_attempts: u32,
    /// A claim older than this is taken as a sender that died while
    /// sending (longer than any SMTP exchange can take).
    pub stale_after: chrono::Duration,
}

/// The sender and its parts.
pub struct ReceiptEmailer {
    pub store: Arc<dyn Store>,
    pub mailer: ReceiptMailer,
    pub operator: OperatorInfo,
    pub clock: Arc<dyn Clock>,
    pub settings: EmailerSettings,
}

/// Starts the consumer and sender loop.
pub fn spawn_receipt_emailer(
    emailer: ReceiptEmailer,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(emailer.settings.poll);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            if let Err(error) = emailer.consume_once().await {
                tracing::warn!(%error, "receipt emails: reading the outbox failed; retried");
            }
            if let Err(error) = emailer.send_due().await {
                tracing::warn!(%error, "receipt emails: claiming failed; retried");
            }
        }
    })
}

impl ReceiptEmailer {
    /// `payment.captured` → the payment's email (if any) is due now.
    pub async fn consume_once(&self) -> Result<u32, StoreError> {
        let cursor = self.store.consumer_cursor(RECEIPTS_CONSUMER).await?;
        let events = self.store.events_after(cursor, EVENT_BATCH).await?;
        let mut handled = 0;
        for event in events {
            if let Some(payment) = captured_payment(&event) {
                if self
                    .store
                    .receipt_email_due(payment, self.clock.now())
                    .await?
                {
                    tracing::info!(payment_id = %payment, "receipt email due");
                }
            }
            self.store
                .set_consumer_cursor(RECEIPTS_CONSUMER, event.id, self.clock.now())
                .await?;
            handled += 1;
        }
        Ok(handled)
    }

    /// Claims due emails and sends each.
    pub async fn send_due(&self) -> Result<u32, StoreError> {
        let now = self.clock.now();
        let jobs = self
            .store
            .claim_receipt_emails(now, now - self.settings.stale_after, SEND_BATCH)
            .await?;
        let mut sent = 0;
        for job in jobs {
            let outcome = self.send(&job).await;
            if outcome == ReceiptEmailOutcome::Sent {
                sent += 1;
            }
            self.store
                .finish_receipt_email(job.payment_id, outcome, self.clock.now())
                .await?;
        }
        Ok(sent)
    }

    #[tracing::instrument(skip_all, fields(payment_id = %job.payment_id, attempt = job.attempt))]
    async fn send(&self, job: &ReceiptEmailJob) -> ReceiptEmailOutcome {
        let retry = |error: String| match retry_at(
            self.clock.now(),
            job.attempt,
            self.settings.max_attempts,
            self.settings.retry_initial,
        ) {
            Some(at) => {
                tracing::warn!(%error, %at, "receipt email not sent; retrying");
                ReceiptEmailOutcome::Retry { at, error }
            }
            None => {
                tracing::warn!(%error, "receipt email not sent; giving up");
                ReceiptEmailOutcome::Failed { error }
            }
        };
        let store = self.store.as_ref();
        let payment = match store.get_payment(job.payment_id).await {
            Ok(Some(detail)) => detail.payment,
            Ok(None) => {
                return ReceiptEmailOutcome::Failed {
                    error: "payment not found".into(),
                }
            }
            Err(e) => return retry(e.to_string()),
        };
        let sources = ReceiptSources {
            sessions: store,
            tariffs: store,
            chargers: store,
            assignments: store,
        };
        let receipt =
            match receipt_for_payment(sources, &payment, &self.operator, self.clock.now()).await {
                Ok(Some(r)) => r,
                Ok(None) => {
                    return ReceiptEmailOutcome::Failed {
                        error: "the payment has no receipt (no session or tariff)".into(),
                    }
                }
                Err(e) => return retry(e.to_string()),
            };
        match self.mailer.send(&receipt, job.address.as_str()).await {
            Ok(()) => {
                tracing::info!(language = receipt.language.code(), "receipt emailed");
                ReceiptEmailOutcome::Sent
            }
            Err(EmailError::Smtp(e)) if e.is_permanent() => {
                tracing::warn!(error = %e, "the SMTP server refused the receipt for good");
                ReceiptEmailOutcome::Failed {
                    error: e.to_string(),
                }
            }
            Err(e @ (EmailError::Smtp(_) | EmailError::Config(_))) => retry(e.to_string()),
            Err(e) => ReceiptEmailOutcome::Failed {
                error: e.to_string(),
            },
        }
    }
}

/// The payment a `payment.captured` event is about.
fn captured_payment(event: &StoredEvent) -> Option<PaymentId> {
    if event.kind != "payment.captured" {
        return None;
    }
    event
        .payload
        .get("payment_id")
        .and_then(|v| v.as_str())
        .and_then(|s| PaymentId::parse(s).ok())
}
