//! Receipt emails: which are due, and what became of each.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::payments::payment::PaymentId;
use crate::receipts::email::{EmailAddress, ReceiptEmail, ReceiptEmailJob, ReceiptEmailOutcome};

use super::StoreResult;

/// Receipt emails (docs/payments.md, "Receipt emails"; see
/// [`crate::receipts::email`]): the driver's address and an exactly-once
/// sending queue. Bookkeeping of a sender, so no outbox events.
#[async_trait]
pub trait ReceiptEmailStore: Send + Sync {
    /// Records the address a driver gave for a payment's receipt (replacing
    /// one given before, until the email is due). `NotFound` for an unknown
    /// payment; `Conflict` once the email is due or sent.
    async fn set_receipt_email(
        &self,
        payment: PaymentId,
        address: &EmailAddress,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The payment was captured: its email (when an address was given and
    /// it is `waiting`) becomes due at `at`. `true` when it did; repeating
    /// it changes nothing.
    async fn receipt_email_due(&self, payment: PaymentId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Claims up to `limit` emails to send now: `due` ones whose time has
    /// come, and `sending` ones claimed before `stale_before` (the sender
    /// died) that were not resent after a crash yet. A `sending` one that
    /// was already resent after a crash is marked `failed` instead. Each
    /// claim counts an attempt.
    async fn claim_receipt_emails(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ReceiptEmailJob>>;
    /// Records how a claimed email ended; `Sent` erases the address.
    /// `NotFound` for an unknown one.
    async fn finish_receipt_email(
        &self,
        payment: PaymentId,
        outcome: ReceiptEmailOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn receipt_email(&self, payment: PaymentId) -> StoreResult<Option<ReceiptEmail>>;
}
