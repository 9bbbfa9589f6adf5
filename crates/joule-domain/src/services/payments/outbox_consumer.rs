//! The payments outbox consumer (durable cursor `consumer_cursors.payments`;
//! docs/payments.md, "Recovery and sweeper"): links a started session to
//! its web payment, settles the hold of an ended session and charges the
//! ended session of a driver account off-session.

use async_trait::async_trait;

use super::{PaymentError, PaymentService};
use crate::events::event::{EventKind, StoredEvent};
use crate::kernel::ids::SessionId;
use crate::ports::consumer::{ConsumerError, OutboxConsumer};

/// The payment service as a consumer of session events.
#[derive(Debug, Clone)]
pub struct PaymentsConsumer {
    service: PaymentService,
}

impl PaymentsConsumer {
    /// The cursor name.
    pub const NAME: &'static str = "payments";

    pub fn new(service: PaymentService) -> Self {
        Self { service }
    }

    async fn on_event(&self, kind: EventKind, session: SessionId) -> Result<(), PaymentError> {
        match kind {
            EventKind::SessionStarted => self.service.on_session_started(session).await,
            EventKind::SessionEnded => {
                if let Some(detail) = self.service.settle_session(session).await? {
                    tracing::info!(session_id = %session, payment_id = %detail.payment.id,
                        state = detail.payment.state.as_str(), "session settled");
                }
                // A session of a driver account: charged off-session.
                if let Some(line) = self.service.settle_account_session(session).await? {
                    tracing::info!(session_id = %session, account_id = %line.account_id,
                        status = line.status.as_str(), "account session charged");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl OutboxConsumer for PaymentsConsumer {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn wants(&self, kind: EventKind) -> bool {
        matches!(kind, EventKind::SessionStarted | EventKind::SessionEnded)
    }

    async fn handle(&self, event: &StoredEvent) -> Result<(), ConsumerError> {
        let (Some(kind), Some(session)) = (
            event.kind.known(),
            event
                .session_id
                .as_deref()
                .and_then(|s| SessionId::parse(s).ok()),
        ) else {
            return Ok(());
        };
        self.on_event(kind, session).await.map_err(classify)
    }
}

/// An outage, or another actor holding the payment (an increment in
/// flight, recovery): the event is handled again after the back-off.
/// Anything else retrying cannot fix.
fn classify(error: PaymentError) -> ConsumerError {
    match error {
        PaymentError::Store(_)
        | PaymentError::GatewayUnavailable(_)
        | PaymentError::Busy { .. }
        | PaymentError::ClaimLost => ConsumerError::retry(error),
        _ => ConsumerError::skip(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::error::StoreError;

    #[test]
    fn outages_and_busy_payments_are_retried_the_rest_skipped() {
        let retried = |e: PaymentError| matches!(classify(e), ConsumerError::Retry(_));
        assert!(retried(PaymentError::Store(StoreError::Unavailable(
            "down".into()
        ))));
        assert!(retried(PaymentError::GatewayUnavailable("503".into())));
        assert!(retried(PaymentError::ClaimLost));
        assert!(!retried(PaymentError::PaymentNotFound));
        assert!(!retried(PaymentError::Cost("no tariff".into())));
    }
}
