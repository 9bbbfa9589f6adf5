//! Payments and their exactly-once gateway steps, claims and remote starts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::kernel::ids::{ChargerId, IdToken, SessionId};
use crate::kernel::page::{Page, Paged};
use crate::payments::payment::{
    ChannelKpis, ClaimHeld, ClaimRequest, ClaimToken, NewPayment, Payment, PaymentClaim,
    PaymentDetail, PaymentFilter, PaymentId, PaymentStep, ReceiptToken, RemoteStart, StaleHold,
    StartStatus, StepError, StepOutcome, StepRequest,
};

use super::StoreResult;

/// Payments and their exactly-once gateway steps (docs/payments.md).
///
/// The state machine of [`crate::payments::payment::machine`] runs inside the store's
/// transaction: [`PaymentStore::intend_step`] and
/// [`PaymentStore::finish_step`] read the payment and its steps, decide,
/// and write in one transaction (PostgreSQL locks the payment row; SQLite
/// has one writer), so two concurrent callers can never both intend a
/// capture.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Records a payment in state `created`. `Conflict` when the id, the
    /// receipt token or the (gateway, gateway reference) pair exists.
    async fn create_payment(&self, new: NewPayment) -> StoreResult<Payment>;
    async fn get_payment(&self, id: PaymentId) -> StoreResult<Option<PaymentDetail>>;
    /// Newest first.
    async fn list_payments(&self, filter: PaymentFilter, page: Page)
        -> StoreResult<Paged<Payment>>;
    /// The payment a gateway webhook is about.
    async fn payment_by_gateway_ref(
        &self,
        gateway: &str,
        gateway_ref: &str,
    ) -> StoreResult<Option<Payment>>;
    /// The payment behind a receipt link.
    async fn payment_by_receipt_token(&self, token: &ReceiptToken) -> StoreResult<Option<Payment>>;
    /// The newest payment linked to the session.
    async fn payment_for_session(&self, session: SessionId) -> StoreResult<Option<Payment>>;
    /// Records the gateway's reference (known before the authorization
    /// finishes on hosted pages). Idempotent for the same reference;
    /// `Conflict` for a different one or one another payment has;
    /// `NotFound` for an unknown payment.
    async fn set_gateway_ref(
        &self,
        id: PaymentId,
        gateway_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment>;
    /// Links the session the payment pays for. Idempotent for the same
    /// session; `Conflict` when another is linked, the session is on
    /// another charger or connector, or the hold is no longer usable (not
    /// authorized, or its release is in progress); `NotFound` (entity
    /// `payment` or `session`) when either is unknown.
    async fn link_session(
        &self,
        id: PaymentId,
        session: SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment>;
    /// Records `request` as an intended step, if the state machine allows
    /// it now; the refusal is the inner error. `NotFound` for an unknown
    /// payment.
    ///
    /// Only the holder of the payment's claim (`claim`, see
    /// [`PaymentStore::claim_payment`]) may: anyone else is refused with
    /// [`StepError::NotClaimHolder`], checked in the same transaction.
    async fn intend_step(
        &self,
        id: PaymentId,
        request: StepRequest,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentStep, StepError>>;
    /// Records how step `seq` ended and applies it to the payment, with
    /// its outbox event, in one transaction. Finishing a finished step
    /// again with the same outcome (see [`StepOutcome`]) returns it
    /// unchanged; with a different outcome it is a `Conflict`. `NotFound`
    /// (entity `payment step`) for an unknown step.
    ///
    /// Only the holder of the payment's claim may: anyone else gets a
    /// `Conflict` whose entity is [`crate::payments::payment::CLAIM_ENTITY`], checked in the same
    /// transaction.
    async fn finish_step(
        &self,
        id: PaymentId,
        seq: u32,
        outcome: StepOutcome,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail>;
    /// Takes the payment's claim for `request.owner` (issue 9, docs/
    /// payments.md "One owner at a time"): granted when nobody holds it,
    /// the holder's claim lapsed, or the holder renews it with its own
    /// token ([`crate::payments::payment::may_claim`]); the payment as it is once
    /// claimed is returned, read in the same transaction, so the new owner
    /// decides from fresh data. `NotFound` for an unknown payment.
    async fn claim_payment(
        &self,
        id: PaymentId,
        request: ClaimRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentDetail, ClaimHeld>>;
    /// Flags the payment for an operator (the first flag stays; a second
    /// changes nothing); only the claim's holder may (else `Conflict` on
    /// [`crate::payments::payment::CLAIM_ENTITY`]). The sweeper no longer offers a
    /// flagged payment.
    async fn flag_payment(
        &self,
        id: PaymentId,
        reason: &str,
        detail: &str,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail>;
    /// Gives the claim back (nothing when `token` no longer holds it).
    async fn release_payment_claim(&self, id: PaymentId, token: &ClaimToken) -> StoreResult<()>;
    /// The payment's claim, live or lapsed.
    async fn payment_claim(&self, id: PaymentId) -> StoreResult<Option<PaymentClaim>>;
    /// The remote starts sent for the payment's hold, if any.
    async fn remote_start(&self, id: PaymentId) -> StoreResult<Option<RemoteStart>>;
    /// Records an attempt or its answer ([`RemoteStart::next`]); only the
    /// claim's holder may (else `Conflict` on [`crate::payments::payment::CLAIM_ENTITY`]).
    /// `NotFound` for an unknown payment.
    async fn record_remote_start(
        &self,
        id: PaymentId,
        status: StartStatus,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<RemoteStart>;
    /// Authorized holds with an id tag, no session linked and no step in
    /// progress, authorized after `authorized_after`, whose start may be
    /// sent again (never sent, or last sent without a definite answer or to
    /// an offline charger): what the starter retries until the sweeper
    /// releases the hold. Oldest first.
    async fn payments_awaiting_start(
        &self,
        authorized_after: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Payment>>;
    /// Payments with a step intended before `older_than` and not finished:
    /// what the recovery worker must finish (the gateway call may or may
    /// not have happened). Oldest step first.
    async fn payments_with_unfinished_steps(
        &self,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PaymentDetail>>;
    /// Open holds (state `authorized`, no step in progress) that the
    /// sweeper must close: those with no session authorized before `at`,
    /// and those whose session ended before `at`. Oldest first.
    async fn authorized_holds_older_than(
        &self,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StaleHold>>;
    /// The open hold a charger may start with `id_tag`: a payment on
    /// `charger` in state `authorized`, with that id tag, no session
    /// linked yet and no release in progress (web payments; docs/payments.md
    /// "Web payment flow").
    async fn open_payment_for_id_tag(
        &self,
        charger: &ChargerId,
        id_tag: &IdToken,
    ) -> StoreResult<Option<Payment>>;
    /// Step counts per channel for steps intended in `[from, to)`; every
    /// channel is listed, in [`crate::payments::payment::PaymentChannel::ALL`] order.
    async fn payment_kpis(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ChannelKpis>>;
    /// Gateway steps intended in `[from, to)`, counted and summed per
    /// channel, site of the payment's charger, kind, outcome, failure
    /// code and currency, for [`crate::payments::payment::payment_kpis`].
    async fn payment_step_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<crate::payments::payment::StepTally>>;
}
