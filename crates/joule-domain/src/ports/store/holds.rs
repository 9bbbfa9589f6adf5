//! What the hold-limit watch reads of payments with a hold.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::payments::payment::{Payment, PaymentId};

use super::StoreResult;

/// Hold limits (docs/payments.md, "Hold limits"): the open holds of running
/// sessions, and one stop request per session.
#[async_trait]
pub trait HoldLimitStore: Send + Sync {
    /// Payments in state `authorized` whose linked session is still active:
    /// what the hold-limit check watches. Oldest first.
    async fn held_active_sessions(&self, limit: u32) -> StoreResult<Vec<Payment>>;
    /// Claims sending the hold-limit stop of a payment's session: `true`
    /// (and records `at`) when no stop was requested yet, or the last one
    /// was before `retry_before` (the charger was offline or refused);
    /// `false` otherwise, so the stop is sent once, not on every meter
    /// value. `NotFound` for an unknown payment.
    async fn claim_hold_stop(
        &self,
        id: PaymentId,
        at: DateTime<Utc>,
        retry_before: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
