//! The simulated gateway: an in-process stand-in for a card gateway, for
//! `joule serve --demo` and for tests. **No money moves.** Its references
//! start with `sim_` so a simulated payment can never be mistaken for a
//! real one, and it is never a production default (`build_gateway` logs a
//! warning when it is chosen).
//!
//! It behaves like a strict real gateway: test-card tokens
//! ([`cards::TEST_CARDS`]: `sim_visa` approves, `sim_declined` declines,
//! `sim_3ds` requires action, …) stand in for the browser's hosted fields;
//! idempotency keys are honoured (the same key replays the first result; a
//! key reused with other parameters is refused); capturing more than the
//! hold, capturing twice and refunding more than was captured are refused.
//! It is deterministic: ids are sequential and time comes from the injected
//! [`Clock`]. Faults can be injected ([`Fault`]) to test recovery.
//!
//! Concurrency: one `std::sync::Mutex` around the books, never held across
//! an `.await` (no method awaits).

pub mod cards;
mod ledger;

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::kernel::money::Money;
use joule_domain::payments::gateway::{
    Capabilities, Captured, Charged, CustomerRef, CustomerRequest, GatewayError, GatewayEvent,
    HoldCreated, HoldRequest, Incremented, IntentRef, IntentState, OffSessionCharge,
    PaymentGateway, PaymentMethodRef, Refunded, SavedPaymentMethod, SetupCreated, SetupRef,
    SetupState, WebhookPayload,
};
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_domain::ports::clock::{Clock, SystemClock};
use serde::Deserialize;

use crate::secret::Secret;
use crate::signature;
use ledger::Ledger;

/// The header carrying the simulated gateway's webhook signature (same
/// scheme as Stripe's).
pub const SIGNATURE_HEADER: &str = "Sim-Signature";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedConfig {
    /// Signs the simulated webhooks; any string (demo only).
    #[serde(default = "default_secret")]
    pub webhook_secret: Secret,
    #[serde(default = "default_true")]
    pub supports_increment: bool,
    #[serde(default = "default_tolerance_s")]
    pub webhook_tolerance_s: u64,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        Self {
            webhook_secret: default_secret(),
            supports_increment: true,
            webhook_tolerance_s: default_tolerance_s(),
        }
    }
}

fn default_secret() -> Secret {
    Secret::new("sim_whsec_demo")
}

fn default_true() -> bool {
    true
}

fn default_tolerance_s() -> u64 {
    300
}

/// A failure to inject into the next idempotent call, to test what Joule
/// does when a gateway fails (issue 4, point 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call fails with `Unavailable` and is not carried out.
    Unavailable,
    /// The call is carried out, then fails with `Timeout`: the outcome is
    /// unknown to the caller; a retry with the same key gets the result.
    TimeoutAfterApplying,
}

/// A webhook delivery the simulated gateway would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    pub signature: String,
    pub body: Vec<u8>,
}

type Replay = (String, Box<dyn Any + Send>);

#[derive(Debug, Default)]
struct Inner {
    ledger: Ledger,
    replays: HashMap<String, Replay>,
    faults: VecDeque<Fault>,
}

/// The simulated gateway. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct SimulatedGateway {
    config: SimulatedConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

fn unknown_token(token: &str) -> GatewayError {
    GatewayError::InvalidRequest {
        code: Some("invalid_test_token".to_owned()),
        message: format!("{token:?} is not a simulated test card (see docs/payments.md)"),
    }
}

impl SimulatedGateway {
    pub fn new(config: SimulatedConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub fn with_clock(config: SimulatedConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent books (every
        // rule checks before it writes), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` once per idempotency key: a repeat with the same
    /// parameters replays the first result, with other parameters it is
    /// refused. Requests refused as invalid are not remembered (as at
    /// Stripe), so they can be corrected and resent.
    fn idempotent<T: Clone + Send + 'static>(
        &self,
        key: &IdempotencyKey,
        fingerprint: String,
        op: impl FnOnce(&mut Ledger, DateTime<Utc>) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let mut inner = self.lock();
        if let Some((seen, stored)) = inner.replays.get(key.as_str()) {
            let replay = stored.downcast_ref::<Result<T, GatewayError>>();
            return match replay {
                Some(result) if *seen == fingerprint => result.clone(),
                _ => Err(GatewayError::InvalidRequest {
                    code: Some("idempotency_key_in_use".to_owned()),
                    message: format!("key {key} was used for another request"),
                }),
            };
        }
        let fault = inner.faults.pop_front();
        if fault == Some(Fault::Unavailable) {
            return Err(GatewayError::Unavailable {
                message: "simulated outage".to_owned(),
            });
        }
        let result = op(&mut inner.ledger, self.clock.now());
        if !matches!(result, Err(GatewayError::InvalidRequest { .. })) {
            inner.replays.insert(
                key.as_str().to_owned(),
                (fingerprint, Box::new(result.clone())),
            );
        }
        if fault == Some(Fault::TimeoutAfterApplying) {
            return Err(GatewayError::Timeout);
        }
        result
    }

    /// Queues a fault for the next idempotent call.
    pub fn inject_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// What the browser's hosted fields do: confirm a hold with a test card
    /// token. A declining card returns `Declined` and leaves the intent
    /// waiting for another card.
    pub fn confirm_hold(
        &self,
        intent: &IntentRef,
        token: &str,
    ) -> Result<IntentState, GatewayError> {
        let card = cards::find(token).ok_or_else(|| unknown_token(token))?;
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.ledger.confirm_hold(intent, card, now)?;
        inner.ledger.state(intent)
    }

    /// The cardholder completing (or failing) 3-D Secure for `sim_3ds`.
    pub fn complete_action(
        &self,
        intent: &IntentRef,
        authenticated: bool,
    ) -> Result<IntentState, GatewayError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.ledger.complete_action(intent, authenticated, now)?;
        inner.ledger.state(intent)
    }

    /// What the browser does for a card-saving request: save a test card.
    pub fn confirm_setup(
        &self,
        setup: &SetupRef,
        token: &str,
    ) -> Result<PaymentMethodRef, GatewayError> {
        let card = cards::find(token).ok_or_else(|| unknown_token(token))?;
        let now = self.clock.now();
        self.lock().ledger.confirm_setup(setup, card, now)
    }

    /// Events since the last call, oldest first: what webhooks would carry.
    pub fn take_events(&self) -> Vec<GatewayEvent> {
        std::mem::take(&mut self.lock().ledger.events)
    }

    /// A webhook delivery for `event`, signed now with the configured
    /// secret, for the demo and for tests of Joule's webhook endpoint.
    pub fn signed_webhook(&self, event: &GatewayEvent) -> Result<SignedWebhook, GatewayError> {
        let body = serde_json::to_vec(event).map_err(|e| GatewayError::InvalidResponse {
            message: e.to_string(),
        })?;
        let signature = signature::sign_header(
            self.config.webhook_secret.expose(),
            self.clock.now().timestamp(),
            &body,
        )?;
        Ok(SignedWebhook { signature, body })
    }
}

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            supports_increment: self.config.supports_increment,
        }
    }

    async fn create_hold(
        &self,
        request: &HoldRequest,
        key: &IdempotencyKey,
    ) -> Result<HoldCreated, GatewayError> {
        let fingerprint = format!("hold:{}:{}", request.amount, request.reference);
        self.idempotent(key, fingerprint, |ledger, _| {
            let (intent, client_secret) = ledger.create_intent(request.amount)?;
            tracing::info!(gateway = "simulated", %intent, amount = %request.amount, "hold created");
            Ok(HoldCreated {
                intent,
                client_secret,
            })
        })
    }

    async fn read_intent(&self, intent: &IntentRef) -> Result<IntentState, GatewayError> {
        self.lock().ledger.state(intent)
    }

    async fn capture(
        &self,
        intent: &IntentRef,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Captured, GatewayError> {
        self.idempotent(key, format!("capture:{intent}:{amount}"), |ledger, now| {
            let amount = ledger.capture(intent, amount, now)?;
            tracing::info!(gateway = "simulated", %intent, %amount, "captured");
            Ok(Captured {
                intent: intent.clone(),
                amount,
            })
        })
    }

    async fn cancel(&self, intent: &IntentRef, key: &IdempotencyKey) -> Result<(), GatewayError> {
        self.idempotent(key, format!("cancel:{intent}"), |ledger, now| {
            ledger.cancel(intent, now)?;
            tracing::info!(gateway = "simulated", %intent, "hold canceled");
            Ok(())
        })
    }

    async fn refund(
        &self,
        intent: &IntentRef,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Refunded, GatewayError> {
        self.idempotent(key, format!("refund:{intent}:{amount}"), |ledger, _| {
            let refund = ledger.refund(intent, amount)?;
            tracing::info!(gateway = "simulated", %intent, %amount, "refunded");
            Ok(Refunded { refund, amount })
        })
    }

    async fn find_refund(
        &self,
        intent: &IntentRef,
        key: &IdempotencyKey,
    ) -> Result<Option<Refunded>, GatewayError> {
        let inner = self.lock();
        let made = inner
            .replays
            .get(key.as_str())
            .filter(|(fingerprint, _)| fingerprint.starts_with(&format!("refund:{intent}:")))
            .and_then(|(_, stored)| stored.downcast_ref::<Result<Refunded, GatewayError>>())
            .and_then(|result| result.clone().ok());
        Ok(made)
    }

    async fn increment_authorization(
        &self,
        intent: &IntentRef,
        new_total: Money,
        key: &IdempotencyKey,
    ) -> Result<Incremented, GatewayError> {
        if !self.config.supports_increment {
            return Err(GatewayError::Unsupported {
                operation: "increment_authorization",
            });
        }
        self.idempotent(
            key,
            format!("increment:{intent}:{new_total}"),
            |ledger, _| {
                let capturable = ledger.increment(intent, new_total)?;
                Ok(Incremented {
                    intent: intent.clone(),
                    capturable,
                })
            },
        )
    }

    async fn create_customer(
        &self,
        request: &CustomerRequest,
        key: &IdempotencyKey,
    ) -> Result<CustomerRef, GatewayError> {
        self.idempotent(
            key,
            format!("customer:{}", request.reference),
            |ledger, _| ledger.create_customer(&request.reference),
        )
    }

    async fn create_setup(
        &self,
        customer: &CustomerRef,
        key: &IdempotencyKey,
    ) -> Result<SetupCreated, GatewayError> {
        self.idempotent(key, format!("setup:{customer}"), |ledger, _| {
            let (setup, client_secret) = ledger.create_setup(customer)?;
            Ok(SetupCreated {
                setup,
                client_secret,
            })
        })
    }

    async fn read_setup(&self, setup: &SetupRef) -> Result<SetupState, GatewayError> {
        self.lock().ledger.setup_state(setup)
    }

    async fn read_payment_method(
        &self,
        payment_method: &PaymentMethodRef,
    ) -> Result<SavedPaymentMethod, GatewayError> {
        let inner = self.lock();
        let method = inner.ledger.methods.get(payment_method).ok_or_else(|| {
            GatewayError::InvalidRequest {
                code: Some("resource_missing".to_owned()),
                message: format!("no payment method {payment_method}"),
            }
        })?;
        Ok(SavedPaymentMethod {
            payment_method: payment_method.clone(),
            customer: Some(method.customer.clone()),
            card: method.card.summary(),
        })
    }

    async fn charge_off_session(
        &self,
        charge: &OffSessionCharge,
        key: &IdempotencyKey,
    ) -> Result<Charged, GatewayError> {
        let fingerprint = format!(
            "charge:{}:{}:{}:{}",
            charge.customer, charge.payment_method, charge.amount, charge.reference
        );
        self.idempotent(key, fingerprint, |ledger, now| {
            let intent = ledger.charge(&charge.customer, &charge.payment_method, charge.amount, now)?;
            let state = ledger.state(&intent)?;
            tracing::info!(gateway = "simulated", %intent, amount = %charge.amount, "charged off-session");
            Ok(Charged {
                intent,
                status: state.status,
                card: state.card,
            })
        })
    }

    fn verify_webhook(
        &self,
        payload: &WebhookPayload<'_>,
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, GatewayError> {
        let header = payload
            .header(SIGNATURE_HEADER)
            .ok_or(GatewayError::BadSignature {
                reason: "no Sim-Signature header",
            })?;
        signature::verify(
            header,
            payload.body,
            self.config.webhook_secret.expose(),
            now,
            Duration::from_secs(self.config.webhook_tolerance_s),
        )?;
        serde_json::from_slice(payload.body).map_err(|e| GatewayError::InvalidResponse {
            message: format!("simulated webhook: {e}"),
        })
    }
}

#[cfg(test)]
mod tests;

impl joule_domain::services::payments::TestCardEntry for SimulatedGateway {
    fn confirm_test_card(
        &self,
        intent: &IntentRef,
        card: &str,
    ) -> Result<IntentState, GatewayError> {
        self.confirm_hold(intent, card)
    }

    fn confirm_test_setup(
        &self,
        setup: &SetupRef,
        card: &str,
    ) -> Result<PaymentMethodRef, GatewayError> {
        self.confirm_setup(setup, card)
    }
}
