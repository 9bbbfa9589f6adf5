//! The payment gateway port: everything Joule's payment flows ask of a
//! payment service provider, in gateway-neutral terms (DESIGN.md, "Ports
//! (traits) for storage, gateways, clock").
//!
//! Adapters live in `joule-payments` (Stripe, a simulated gateway); adding
//! another gateway (Adyen, Worldline) means a new adapter implementing
//! [`PaymentGateway`] and its configuration, never a change here.
//!
//! PCI DSS: no type in this module can carry a card number or CVV. Cards are
//! entered in the gateway's hosted fields (browser) or a P2PE terminal; Joule
//! only ever sees references and a [`CardSummary`](crate::payments::card::CardSummary).
//!
//! Exactly once: every call that can move money (or create something at the
//! gateway) takes an [`IdempotencyKey`] derived from the payment and the
//! step, so that a retry after a crash or a [`GatewayError::Timeout`] cannot
//! act twice at gateways that honour keys. Joule does not rely on that alone
//! (localstripe ignores keys): the payment service records each step before
//! and after the call.

mod account;
mod card_entry;
mod error;
mod event;
mod intent;
mod refs;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use account::{CustomerRequest, SavedPaymentMethod, SetupCreated, SetupState, SetupStatus};
pub use card_entry::CardEntryConfirmation;
pub use error::GatewayError;
pub use event::{GatewayEvent, GatewayEventKind, WebhookPayload};
pub use intent::{
    Capabilities, Captured, Charged, Decline, HoldCreated, HoldRequest, Incremented, IntentState,
    IntentStatus, OffSessionCharge, Refunded,
};
pub use refs::{
    ClientSecret, CustomerRef, IntentRef, PaymentMethodRef, RefError, RefundRef, SetupRef,
};

use crate::kernel::money::Money;
use crate::payments::idempotency::IdempotencyKey;

/// A payment service provider, as Joule's payment flows use it.
///
/// Implementations are `Send + Sync` and cheap to share behind an `Arc`;
/// each call is one request to the gateway (no retries inside: the payment
/// service decides, from [`GatewayError::is_retryable`]).
#[async_trait]
pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// A short stable name (`stripe`, `simulated`) stored with each payment,
    /// so a hold is always captured through the gateway that placed it.
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> Capabilities;

    /// Creates a manual-capture intent for `request.amount`, to be confirmed
    /// in the driver's browser with the returned client secret.
    async fn create_hold(
        &self,
        request: &HoldRequest,
        key: &IdempotencyKey,
    ) -> Result<HoldCreated, GatewayError>;

    /// Reads an intent's state, with the card's summary and last decline.
    async fn read_intent(&self, intent: &IntentRef) -> Result<IntentState, GatewayError>;

    /// Captures `amount` (at most the hold) and releases the rest.
    async fn capture(
        &self,
        intent: &IntentRef,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Captured, GatewayError>;

    /// Voids a hold (or an unconfirmed intent) so nothing is taken.
    async fn cancel(&self, intent: &IntentRef, key: &IdempotencyKey) -> Result<(), GatewayError>;

    /// Gives back `amount` of a captured payment.
    async fn refund(
        &self,
        intent: &IntentRef,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Refunded, GatewayError>;

    /// The refund made on `intent` with `key`, if the gateway applied one.
    /// How the recovery worker learns the outcome of a refund whose answer
    /// was lost: an intent does not show which refunds it has, and a blind
    /// repeat would refund twice at a gateway that ignores keys.
    async fn find_refund(
        &self,
        intent: &IntentRef,
        key: &IdempotencyKey,
    ) -> Result<Option<Refunded>, GatewayError>;

    /// Raises a hold to `new_total`. [`GatewayError::Unsupported`] where
    /// [`Capabilities::supports_increment`] is false.
    async fn increment_authorization(
        &self,
        intent: &IntentRef,
        new_total: Money,
        key: &IdempotencyKey,
    ) -> Result<Incremented, GatewayError>;

    async fn create_customer(
        &self,
        request: &CustomerRequest,
        key: &IdempotencyKey,
    ) -> Result<CustomerRef, GatewayError>;

    /// Starts saving a card for off-session use; the browser confirms it.
    async fn create_setup(
        &self,
        customer: &CustomerRef,
        key: &IdempotencyKey,
    ) -> Result<SetupCreated, GatewayError>;

    async fn read_setup(&self, setup: &SetupRef) -> Result<SetupState, GatewayError>;

    /// The saved card's brand, last 4 and expiry, for the account page.
    async fn read_payment_method(
        &self,
        payment_method: &PaymentMethodRef,
    ) -> Result<SavedPaymentMethod, GatewayError>;

    /// Charges a saved card now, with the driver absent (confirmed and
    /// captured at once).
    async fn charge_off_session(
        &self,
        charge: &OffSessionCharge,
        key: &IdempotencyKey,
    ) -> Result<Charged, GatewayError>;

    /// Prepares card entry for a web hold (see [`CardEntryConfirmation`]):
    /// the returned client secret lets the browser hand the card to the
    /// gateway. `None` for gateways whose hold is confirmed in the browser
    /// with the hold's own client secret (the simulated one).
    async fn create_card_entry(
        &self,
        reference: &str,
        key: &IdempotencyKey,
    ) -> Result<Option<SetupCreated>, GatewayError> {
        let _ = (reference, key);
        Ok(None)
    }

    /// Attaches the card entered through [`PaymentGateway::create_card_entry`]
    /// to the hold `intent` and confirms it. The result is the intent as
    /// [`PaymentGateway::read_intent`] would read it (authorized, requiring
    /// 3-D Secure in the browser, or declined with its code).
    async fn confirm_hold_with_card_entry(
        &self,
        intent: &IntentRef,
        entry: &CardEntryConfirmation,
        key: &IdempotencyKey,
    ) -> Result<IntentState, GatewayError> {
        let _ = (intent, entry, key);
        Err(GatewayError::Unsupported {
            operation: "card entry",
        })
    }

    /// Finds the hold created for `reference` (Joule's payment id, stored
    /// with the intent) whose creation's answer was lost (a crash, a
    /// time-out): how Joule learns of an intent it never recorded, so it
    /// can cancel it rather than leave it orphaned at the gateway.
    /// `Ok(None)` when the gateway has none. Adapters that cannot search
    /// keep this default ([`GatewayError::Unsupported`]).
    async fn find_hold(&self, reference: &str) -> Result<Option<IntentRef>, GatewayError> {
        let _ = reference;
        Err(GatewayError::Unsupported {
            operation: "find_hold",
        })
    }

    /// Finds the off-session charge made for `reference` (Joule's payment
    /// id, stored with the charge) on `customer`: how recovery learns the
    /// outcome of a charge whose answer was lost, instead of charging again
    /// at a gateway that does not honour idempotency keys. `Ok(None)` when
    /// the gateway has no such charge. Adapters that cannot search keep
    /// this default ([`GatewayError::Unsupported`]); the caller then relies
    /// on the idempotency key alone.
    async fn find_off_session_charge(
        &self,
        customer: &CustomerRef,
        reference: &str,
    ) -> Result<Option<IntentState>, GatewayError> {
        let _ = (customer, reference);
        Err(GatewayError::Unsupported {
            operation: "find_off_session_charge",
        })
    }

    /// Verifies a webhook's signature (refusing it when older than the
    /// adapter's tolerance at `now`) and maps it to a [`GatewayEvent`].
    fn verify_webhook(
        &self,
        payload: &WebhookPayload<'_>,
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, GatewayError>;
}
