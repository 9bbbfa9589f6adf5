//! The receipt email worker (docs/payments.md, "Receipt emails"): an
//! outbox consumer (durable cursor `consumer_cursors.receipt_emails`) that
//! makes a payment's receipt email due when `payment.captured` is written,
//! for whatever channel captured it, and, after every pass, a sender that
//! claims due emails from the store queue, builds the receipt in the
//! driver's language and hands it to the mailer port, retrying transient
//! failures with back-off. Exactly once: an email is claimed before it is
//! sent and marked sent after; a crash in between resends it at most once
//! (the store's claim rule).

use std::sync::Arc;

use async_trait::async_trait;

use crate::events::event::{EventKind, StoredEvent};
use crate::kernel::error::StoreError;
use crate::payments::payment::PaymentId;
use crate::ports::clock::Clock;
use crate::ports::consumer::{ConsumerError, OutboxConsumer};
use crate::ports::mailer::{MailError, ReceiptMailer};
use crate::ports::store::{PaymentStore, ReceiptEmailStore, Store};
use crate::receipts::email::{retry_at, ReceiptEmailJob, ReceiptEmailOutcome};
use crate::receipts::receipt::OperatorInfo;
use crate::services::receipt_source::{receipt_for_payment, ReceiptSources};

/// Emails claimed per pass.
const SEND_BATCH: u32 = 20;

/// How the sender retries; from `[receipts]`.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    pub retry_initial: chrono::Duration,
    pub max_attempts: u32,
    /// A claim older than this is taken as a sender that died while
    /// sending (longer than any SMTP exchange can take).
    pub stale_after: chrono::Duration,
}

/// The store ports the worker reads and writes.
#[derive(Clone)]
pub struct ReceiptEmailPorts {
    pub payments: Arc<dyn PaymentStore>,
    pub queue: Arc<dyn ReceiptEmailStore>,
    pub sources: ReceiptSources,
}

/// One backend provides them all.
impl From<Arc<dyn Store>> for ReceiptEmailPorts {
    fn from(store: Arc<dyn Store>) -> Self {
        Self {
            payments: store.clone(),
            queue: store.clone(),
            sources: ReceiptSources::from(store),
        }
    }
}

/// The consumer and the sender.
pub struct ReceiptEmails {
    pub ports: ReceiptEmailPorts,
    pub mailer: Arc<dyn ReceiptMailer>,
    pub operator: OperatorInfo,
    pub clock: Arc<dyn Clock>,
    pub settings: SenderSettings,
}

impl ReceiptEmails {
    /// The cursor name.
    pub const NAME: &'static str = "receipt_emails";

    /// Claims due emails and sends each.
    pub async fn send_due(&self) -> Result<u32, StoreError> {
        let now = self.clock.now();
        let jobs = self
            .ports
            .queue
            .claim_receipt_emails(now, now - self.settings.stale_after, SEND_BATCH)
            .await?;
        let mut sent = 0;
        for job in jobs {
            let outcome = self.send(&job).await;
            if outcome == ReceiptEmailOutcome::Sent {
                sent += 1;
            }
            self.ports
                .queue
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
        let payment = match self.ports.payments.get_payment(job.payment_id).await {
            Ok(Some(detail)) => detail.payment,
            Ok(None) => {
                return ReceiptEmailOutcome::Failed {
                    error: "payment not found".into(),
                }
            }
            Err(e) => return retry(e.to_string()),
        };
        let receipt = match receipt_for_payment(
            &self.ports.sources,
            &payment,
            &self.operator,
            self.clock.now(),
        )
        .await
        {
            Ok(Some(r)) => r,
            Ok(None) => {
                return ReceiptEmailOutcome::Failed {
                    error: "the payment has no receipt (no session or tariff)".into(),
                }
            }
            Err(e) => return retry(e.to_string()),
        };
        match self.mailer.send(&receipt, &job.address).await {
            Ok(()) => {
                tracing::info!(language = receipt.language.code(), "receipt emailed");
                ReceiptEmailOutcome::Sent
            }
            Err(MailError::Permanent(error)) => {
                tracing::warn!(%error, "the receipt cannot be sent, not even later");
                ReceiptEmailOutcome::Failed { error }
            }
            Err(MailError::Retry(error)) => retry(error),
        }
    }
}

#[async_trait]
impl OutboxConsumer for ReceiptEmails {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn wants(&self, kind: EventKind) -> bool {
        kind == EventKind::PaymentCaptured
    }

    /// `payment.captured` → the payment's email (if any) is due now.
    async fn handle(&self, event: &StoredEvent) -> Result<(), ConsumerError> {
        let Some(payment) = captured_payment(event) else {
            return Ok(());
        };
        let due = self
            .ports
            .queue
            .receipt_email_due(payment, self.clock.now())
            .await
            .map_err(ConsumerError::retry)?;
        if due {
            tracing::info!(payment_id = %payment, "receipt email due");
        }
        Ok(())
    }

    async fn after_pass(&self) {
        if let Err(error) = self.send_due().await {
            tracing::warn!(%error, "receipt emails: claiming failed; retried");
        }
    }
}

/// The payment a `payment.captured` event is about.
fn captured_payment(event: &StoredEvent) -> Option<PaymentId> {
    event
        .payload
        .get("payment_id")
        .and_then(|v| v.as_str())
        .and_then(|s| PaymentId::parse(s).ok())
}
