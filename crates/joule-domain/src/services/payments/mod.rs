//! The payment service: web payments end to end (docs/payments.md, "Web
//! payment flow"), terminal payments (docs/terminals.md), capture and void
//! exactly once, and the recovery and sweeping that finish what a crash or
//! a gateway outage left open ("Recovery and sweeper").
//!
//! Every gateway call follows the same three beats: the step is stored as
//! intended (with its derived idempotency key) BEFORE the call, the call is
//! made with that key, and the outcome is stored AFTER it. A call that
//! times out or finds the gateway unavailable leaves the step intended; the
//! recovery worker reads the gateway's intent first and only repeats a call
//! the gateway has not applied (localstripe ignores idempotency keys).
//!
//! Ports only: stores, the gateway registry, the command router, a clock,
//! a random source and (tests) a fault hook. No I/O of its own.

mod account;
mod errors;
mod hold_limit;
mod outbox_consumer;
mod ports;
mod recovery;
mod settle;
mod status;
mod terminal;
mod web;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use crate::pricing::session_cost::SessionCostNow;
pub use account::{AccountPassReport, CardSetupStarted};
pub use errors::PaymentError;
pub use hold_limit::{HoldCheck, STOP_RETRY_S};
pub use outbox_consumer::PaymentsConsumer;
pub use ports::{FaultHook, FaultPhase, FaultPoint, GatewayRegistry, RandomSource, TestCardEntry};
pub use recovery::PassReport;
pub use status::{CostView, PaymentStatusView, WebState};
pub use terminal::{TerminalReport, TerminalReported};
pub use web::WebPaymentCreated;

use crate::kernel::error::StoreError;
use crate::kernel::money::Money;
use crate::payments::gateway::{GatewayError, IntentRef, PaymentGateway};
use crate::payments::payment::{
    ClaimOwner, ClaimRequest, ClaimToken, Payment, PaymentDetail, PaymentId, PaymentStep,
    StepError, StepOutcome, StepRequest, CLAIM_ENTITY,
};
use crate::ports::clock::Clock;
use crate::ports::command::CommandRouter;
use crate::ports::store::{
    AccountStore, ChargerStore, HoldLimitStore, PaymentStore, ReceiptEmailStore, SessionStore,
    Store, TariffAssignmentStore, TariffStore,
};

/// How the payment service behaves; from `[payments]` in the settings.
#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// The hold when the tariff in force sets none
    /// (`TariffExtensions.hold_amount_minor`); must be in the tariff's
    /// currency.
    pub default_hold: Option<Money>,
    /// A hold whose session has not started this long after it was
    /// authorized is voided by the sweeper.
    pub start_timeout: chrono::Duration,
    /// A payment whose card was not confirmed this long after creation is
    /// abandoned (its intent cancelled) by the recovery worker.
    pub card_timeout: chrono::Duration,
    /// A step left intended this long is finished by the recovery worker
    /// (shorter would race the request still waiting for the gateway).
    pub recovery_after: chrono::Duration,
    /// Absolute base of the links given to drivers (status, receipt),
    /// without a trailing slash.
    pub public_base_url: String,
    /// Given to the pay page for Stripe.js; `None` for the simulated gateway.
    pub publishable_key: Option<String>,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            default_hold: None,
            start_timeout: chrono::Duration::seconds(120),
            card_timeout: chrono::Duration::minutes(15),
            recovery_after: chrono::Duration::seconds(60),
            public_base_url: "http://localhost:8080".to_owned(),
            publishable_key: None,
        }
    }
}

/// The ports the service works through. One backend usually provides all
/// the store ports; they are separate so tests and other backends can
/// provide them separately.
#[derive(Clone)]
pub struct PaymentPorts {
    pub payments: Arc<dyn PaymentStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub tariffs: Arc<dyn TariffStore>,
    pub chargers: Arc<dyn ChargerStore>,
    pub assignments: Arc<dyn TariffAssignmentStore>,
    pub commands: Arc<dyn CommandRouter>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn RandomSource>,
    pub faults: Option<Arc<dyn FaultHook>>,
}

impl PaymentPorts {
    /// Every store port from one backend, and no fault hook.
    pub fn new(
        store: Arc<dyn Store>,
        commands: Arc<dyn CommandRouter>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn RandomSource>,
    ) -> Self {
        Self {
            payments: store.clone(),
            sessions: store.clone(),
            tariffs: store.clone(),
            chargers: store.clone(),
            assignments: store,
            commands,
            clock,
            random,
            faults: None,
        }
    }
}

/// A payment's claim this service holds (issue 9; docs/payments.md "One
/// owner at a time"): taken with [`PaymentService::claim`] before an actor
/// acts on a payment, passed to every step it records, given back with
/// [`PaymentService::release`] (or lapsing after `recovery_after` when the
/// process died).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claim {
    pub payment_id: PaymentId,
    pub token: ClaimToken,
    pub owner: ClaimOwner,
}

/// Web payments, capture, void, refund, recovery and sweeping.
#[derive(Clone)]
pub struct PaymentService {
    ports: PaymentPorts,
    gateways: GatewayRegistry,
    settings: PaymentSettings,
    /// Set when driver accounts are enabled (docs/payments.md, "Accounts").
    accounts: Option<Arc<dyn AccountStore>>,
    /// Hold limits' stop claims; set with `with_hold_limits`.
    holds: Option<Arc<dyn HoldLimitStore>>,
    /// Where an account's address is put down for its charges' receipt
    /// emails; set with `with_receipt_emails`.
    receipt_emails: Option<Arc<dyn ReceiptEmailStore>>,
}

impl std::fmt::Debug for PaymentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentService")
            .field("gateways", &self.gateways)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PaymentService {
    pub fn new(ports: PaymentPorts, gateways: GatewayRegistry, settings: PaymentSettings) -> Self {
        Self {
            ports,
            gateways,
            settings,
            accounts: None,
            holds: None,
            receipt_emails: None,
        }
    }

    /// Account charges get their receipt emailed to the account's address
    /// (web payments give theirs on the pay page).
    pub fn with_receipt_emails(mut self, store: Arc<dyn ReceiptEmailStore>) -> Self {
        self.receipt_emails = Some(store);
        self
    }

    /// Enables driver accounts: card setup, off-session charges of ended
    /// sessions, debt and its settlement.
    pub fn with_accounts(mut self, accounts: Arc<dyn AccountStore>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    pub fn settings(&self) -> &PaymentSettings {
        &self.settings
    }

    pub fn gateways(&self) -> &GatewayRegistry {
        &self.gateways
    }

    fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    fn fault(&self, point: FaultPoint) {
        if let Some(hook) = &self.ports.faults {
            hook.reached(point);
        }
    }

    fn gateway_of(&self, payment: &Payment) -> Result<&Arc<dyn PaymentGateway>, PaymentError> {
        self.gateways
            .get(&payment.gateway)
            .ok_or_else(|| PaymentError::GatewayNotConfigured(payment.gateway.clone()))
    }

    fn intent_of(payment: &Payment) -> Result<IntentRef, PaymentError> {
        let raw = payment
            .gateway_payment_ref
            .as_deref()
            .ok_or(PaymentError::NoGatewayReference)?;
        IntentRef::parse(raw).map_err(|_| PaymentError::NoGatewayReference)
    }

    /// Takes the payment's claim for `owner`, or says who holds it
    /// ([`PaymentError::Busy`]). The payment is returned as read under the
    /// claim: decide from it, not from what was read before.
    pub(crate) async fn claim(
        &self,
        id: PaymentId,
        owner: ClaimOwner,
    ) -> Result<(Claim, PaymentDetail), PaymentError> {
        let now = self.now();
        let token = ClaimToken::new();
        let request = ClaimRequest {
            owner,
            token,
            expires_at: now + self.settings.recovery_after,
        };
        match self.ports.payments.claim_payment(id, request, now).await {
            Ok(Ok(detail)) => Ok((
                Claim {
                    payment_id: id,
                    token,
                    owner,
                },
                detail,
            )),
            Ok(Err(held)) => {
                tracing::debug!(payment_id = %id, %owner, holder = %held.owner,
                    "payment claimed by another actor; leaving it alone");
                Err(PaymentError::Busy {
                    owner: held.owner,
                    until: held.until,
                })
            }
            Err(StoreError::NotFound { .. }) => Err(PaymentError::PaymentNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives a claim back. A failure only delays the next owner until the
    /// claim lapses, so it is logged, not returned.
    pub(crate) async fn release(&self, claim: &Claim) {
        if let Err(error) = self
            .ports
            .payments
            .release_payment_claim(claim.payment_id, &claim.token)
            .await
        {
            tracing::warn!(payment_id = %claim.payment_id, %error,
                "releasing a payment claim failed; it lapses by itself");
        }
    }

    /// Stores `request` as intended under `claim`; the state machine's
    /// refusal is an error, a lost claim is [`PaymentError::ClaimLost`].
    async fn intend(
        &self,
        claim: &Claim,
        payment: &Payment,
        request: StepRequest,
    ) -> Result<PaymentStep, PaymentError> {
        let step = self
            .ports
            .payments
            .intend_step(payment.id, request, &claim.token, self.now())
            .await?
            .map_err(|e| match e {
                StepError::NotClaimHolder => PaymentError::ClaimLost,
                e => PaymentError::Step(e),
            })?;
        self.fault(FaultPoint::intended(step.kind));
        Ok(step)
    }

    async fn finish(
        &self,
        claim: &Claim,
        step: &PaymentStep,
        outcome: StepOutcome,
    ) -> Result<PaymentDetail, PaymentError> {
        self.fault(FaultPoint::called(step.kind));
        match self
            .ports
            .payments
            .finish_step(step.payment_id, step.seq, outcome, &claim.token, self.now())
            .await
        {
            Ok(detail) => Ok(detail),
            Err(StoreError::Conflict { entity }) if entity == CLAIM_ENTITY => {
                tracing::warn!(payment_id = %step.payment_id, seq = step.seq, owner = %claim.owner,
                    "the payment's claim was taken over; the new owner finishes the step");
                Err(PaymentError::ClaimLost)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Finishes `step` from a gateway error: a refusal is recorded as the
    /// step's failure; an unknown outcome (time-out, outage) leaves it
    /// intended for the recovery worker and is returned as an error.
    async fn finish_from_error(
        &self,
        claim: &Claim,
        step: &PaymentStep,
        error: GatewayError,
    ) -> Result<PaymentDetail, PaymentError> {
        if error.is_retryable() {
            tracing::warn!(payment_id = %step.payment_id, seq = step.seq, kind = %step.kind,
                %error, "gateway outcome unknown; the recovery worker will finish the step");
            return Err(PaymentError::GatewayUnavailable(error.to_string()));
        }
        let (code, message) = failure_of(&error);
        self.finish(claim, step, StepOutcome::failed(code, message))
            .await
    }
}

/// The machine-readable code and the message of a gateway refusal.
fn failure_of(error: &GatewayError) -> (String, String) {
    match error {
        GatewayError::Declined { code, message } => (code.clone(), message.clone()),
        GatewayError::InvalidRequest { code, message } => (
            code.clone().unwrap_or_else(|| "invalid_request".to_owned()),
            message.clone(),
        ),
        GatewayError::RequiresAction => ("requires_action".to_owned(), error.to_string()),
        GatewayError::Unsupported { .. } => ("unsupported".to_owned(), error.to_string()),
        GatewayError::InvalidResponse { .. } => ("invalid_response".to_owned(), error.to_string()),
        GatewayError::BadSignature { .. } => ("bad_signature".to_owned(), error.to_string()),
        GatewayError::Unavailable { .. } => ("unavailable".to_owned(), error.to_string()),
        GatewayError::Timeout => ("timeout".to_owned(), error.to_string()),
    }
}
