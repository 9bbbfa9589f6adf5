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

pub use crate::session_cost::SessionCostNow;
pub use account::{AccountPassReport, CardSetupStarted};
pub use errors::PaymentError;
pub use hold_limit::{HoldCheck, STOP_RETRY_S};
pub use ports::{FaultHook, FaultPhase, FaultPoint, GatewayRegistry, RandomSource, TestCardEntry};
pub use recovery::PassReport;
pub use status::{CostView, PaymentStatusView, WebState};
pub use terminal::{TerminalReport, TerminalReported};
pub use web::WebPaymentCreated;

use crate::clock::Clock;
use crate::command::CommandRouter;
use crate::gateway::{GatewayError, IntentRef, PaymentGateway};
use crate::money::Money;
use crate::payment::{Payment, PaymentDetail, PaymentStep, StepOutcome, StepRequest};
use crate::store::{
    AccountStore, ChargerStore, HoldLimitStore, PaymentStore, ReceiptEmailStore, SessionStore,
    TariffAssignmentStore, TariffStore,
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

    /// Stores `request` as intended; the state machine's refusal is an error.
    async fn intend(
        &self,
        payment: &Payment,
        request: StepRequest,
    ) -> Result<PaymentStep, PaymentError> {
        let step = self
            .ports
            .payments
            .intend_step(payment.id, request, self.now())
            .await?
            .map_err(PaymentError::Step)?;
        self.fault(FaultPoint::intended(step.kind));
        Ok(step)
    }

    async fn finish(
        &self,
        step: &PaymentStep,
        outcome: StepOutcome,
    ) -> Result<PaymentDetail, PaymentError> {
        self.fault(FaultPoint::called(step.kind));
        Ok(self
            .ports
            .payments
            .finish_step(step.payment_id, step.seq, outcome, self.now())
            .await?)
    }

    /// Finishes `step` from a gateway error: a refusal is recorded as the
    /// step's failure; an unknown outcome (time-out, outage) leaves it
    /// intended for the recovery worker and is returned as an error.
    async fn finish_from_error(
        &self,
        step: &PaymentStep,
        error: GatewayError,
    ) -> Result<PaymentDetail, PaymentError> {
        if error.is_retryable() {
            tracing::warn!(payment_id = %step.payment_id, seq = step.seq, kind = %step.kind,
                %error, "gateway outcome unknown; the recovery worker will finish the step");
            return Err(PaymentError::GatewayUnavailable(error.to_string()));
        }
        let (code, message) = failure_of(&error);
        self.finish(step, StepOutcome::failed(code, message)).await
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
