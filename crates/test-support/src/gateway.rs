//! The simulated gateway with one call that can be held: the actor making
//! it (and holding the payment's claim) waits inside it until the test
//! releases it, so another actor can be run exactly then. What makes the
//! races of one payment's owners deterministic.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::kernel::money::Money;
use joule_domain::payments::gateway::{
    Capabilities, Captured, CardEntryConfirmation, Charged, CustomerRef, CustomerRequest,
    GatewayError, GatewayEvent, HoldCreated, HoldRequest, Incremented, IntentRef, IntentState,
    OffSessionCharge, PaymentGateway, PaymentMethodRef, Refunded, SavedPaymentMethod, SetupCreated,
    SetupRef, SetupState, WebhookPayload,
};
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_payments::SimulatedGateway;
use tokio::sync::Notify;

/// Which gateway call a test pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayCall {
    ReadIntent,
    Cancel,
    Increment,
}

#[derive(Debug)]
pub struct PausingGateway {
    inner: Arc<SimulatedGateway>,
    /// The call to hold, after letting this many of its kind pass.
    armed: Mutex<Option<(GatewayCall, usize)>>,
    /// Notified when the held call is entered.
    pub entered: Notify,
    /// Notify to let the held call go on.
    pub release: Notify,
    calls: Mutex<Vec<&'static str>>,
}

impl PausingGateway {
    pub fn new(inner: Arc<SimulatedGateway>) -> Self {
        Self {
            inner,
            armed: Mutex::new(None),
            entered: Notify::new(),
            release: Notify::new(),
            calls: Mutex::new(Vec::new()),
        }
    }

    pub fn pause_next(&self, call: GatewayCall) {
        self.pause_after(call, 0);
    }

    pub fn pause_after(&self, call: GatewayCall, skip: usize) {
        *self.armed.lock().unwrap() = Some((call, skip));
    }

    async fn hold_if_armed(&self, call: GatewayCall, name: &'static str) {
        self.calls.lock().unwrap().push(name);
        let armed = {
            let mut a = self.armed.lock().unwrap();
            match *a {
                Some((c, 0)) if c == call => {
                    *a = None;
                    true
                }
                Some((c, n)) if c == call => {
                    *a = Some((c, n - 1));
                    false
                }
                _ => false,
            }
        };
        if armed {
            self.entered.notify_one();
            self.release.notified().await;
        }
    }

    /// How many calls named `name` were made.
    pub fn count(&self, name: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == name)
            .count()
    }
}

#[async_trait]
impl PaymentGateway for PausingGateway {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn create_hold(
        &self,
        request: &HoldRequest,
        key: &IdempotencyKey,
    ) -> Result<HoldCreated, GatewayError> {
        self.calls.lock().unwrap().push("create_hold");
        self.inner.create_hold(request, key).await
    }
    async fn read_intent(&self, intent: &IntentRef) -> Result<IntentState, GatewayError> {
        self.hold_if_armed(GatewayCall::ReadIntent, "read_intent")
            .await;
        self.inner.read_intent(intent).await
    }
    async fn capture(
        &self,
        intent: &IntentRef,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Captured, GatewayError> {
        self.calls.lock().unwrap().push("capture");
        self.inner.capture(intent, amount, key).await
    }
    async fn cancel(&self, intent: &IntentRef, key: &IdempotencyKey) -> Result<(), GatewayError> {
        self.hold_if_armed(GatewayCall::Cancel, "cancel").await;
        self.inner.cancel(intent, key).await
    }
    async fn refund(
        &self,
        intent: &IntentRef,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Refunded, GatewayError> {
        self.calls.lock().unwrap().push("refund");
        self.inner.refund(intent, amount, key).await
    }
    async fn find_refund(
        &self,
        intent: &IntentRef,
        key: &IdempotencyKey,
    ) -> Result<Option<Refunded>, GatewayError> {
        self.inner.find_refund(intent, key).await
    }
    async fn increment_authorization(
        &self,
        intent: &IntentRef,
        new_total: Money,
        key: &IdempotencyKey,
    ) -> Result<Incremented, GatewayError> {
        self.hold_if_armed(GatewayCall::Increment, "increment")
            .await;
        self.inner
            .increment_authorization(intent, new_total, key)
            .await
    }
    async fn create_customer(
        &self,
        request: &CustomerRequest,
        key: &IdempotencyKey,
    ) -> Result<CustomerRef, GatewayError> {
        self.inner.create_customer(request, key).await
    }
    async fn create_setup(
        &self,
        customer: &CustomerRef,
        key: &IdempotencyKey,
    ) -> Result<SetupCreated, GatewayError> {
        self.inner.create_setup(customer, key).await
    }
    async fn read_setup(&self, setup: &SetupRef) -> Result<SetupState, GatewayError> {
        self.inner.read_setup(setup).await
    }
    async fn read_payment_method(
        &self,
        payment_method: &PaymentMethodRef,
    ) -> Result<SavedPaymentMethod, GatewayError> {
        self.inner.read_payment_method(payment_method).await
    }
    async fn charge_off_session(
        &self,
        charge: &OffSessionCharge,
        key: &IdempotencyKey,
    ) -> Result<Charged, GatewayError> {
        self.inner.charge_off_session(charge, key).await
    }
    async fn create_card_entry(
        &self,
        reference: &str,
        key: &IdempotencyKey,
    ) -> Result<Option<SetupCreated>, GatewayError> {
        self.inner.create_card_entry(reference, key).await
    }
    async fn confirm_hold_with_card_entry(
        &self,
        intent: &IntentRef,
        entry: &CardEntryConfirmation,
        key: &IdempotencyKey,
    ) -> Result<IntentState, GatewayError> {
        self.inner
            .confirm_hold_with_card_entry(intent, entry, key)
            .await
    }
    fn verify_webhook(
        &self,
        payload: &WebhookPayload<'_>,
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, GatewayError> {
        self.inner.verify_webhook(payload, now)
    }
}
