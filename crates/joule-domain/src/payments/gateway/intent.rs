//! Holds, captures, voids and refunds: the card-present-like lifecycle of
//! web and terminal payments (authorize → capture | void → refund), and
//! off-session charges of saved cards.

use serde::{Deserialize, Serialize};

use super::refs::{ClientSecret, CustomerRef, IntentRef, PaymentMethodRef, RefundRef};
use crate::kernel::money::Money;
use crate::payments::card::CardSummary;

/// What a gateway can do beyond the common lifecycle; the payment service
/// asks before choosing between incrementing a hold and stopping a session
/// at its limit (issue 4, point 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub supports_increment: bool,
}

/// A hold to place for a web (or app) payment. The card is entered and
/// confirmed in the driver's browser with the gateway's hosted fields,
/// never in Joule: this only creates the intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    /// The amount to authorize (the tariff's hold amount).
    pub amount: Money,
    /// Joule's own payment id, stored with the intent at the gateway so an
    /// operator can reconcile the gateway's dashboard with Joule.
    pub reference: String,
}

/// A hold intent created at the gateway, waiting for the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldCreated {
    pub intent: IntentRef,
    pub client_secret: ClientSecret,
}

/// Where an intent stands, in the vocabulary every gateway can map to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum IntentStatus {
    /// No card yet, or the last one was declined (see
    /// [`IntentState::decline`]).
    RequiresPaymentMethod,
    RequiresConfirmation,
    /// The cardholder must authenticate (3-D Secure) in the browser.
    RequiresAction,
    /// The gateway is still working on it; read again later.
    Processing,
    /// A hold is in place and `capturable` may be captured.
    Authorized {
        capturable: Money,
    },
    /// Money was taken. `received` is the captured amount when the gateway
    /// reports it.
    Succeeded {
        received: Option<Money>,
    },
    /// Voided (or expired) before any capture.
    Canceled,
}

/// A decline as the gateway reported it on the intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decline {
    pub code: String,
    pub message: String,
}

/// An intent read back from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentState {
    pub intent: IntentRef,
    pub status: IntentStatus,
    /// The amount the intent was created (or last incremented) for.
    pub amount: Money,
    /// Brand, last 4 and expiry of the card used, once there is one.
    pub card: Option<CardSummary>,
    /// The last decline, when the last attempt failed.
    pub decline: Option<Decline>,
}

/// A capture the gateway accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub intent: IntentRef,
    /// What the gateway reports as captured (the requested amount when it
    /// does not say). The rest of the hold is released.
    pub amount: Money,
}

/// A refund the gateway accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    pub refund: RefundRef,
    pub amount: Money,
}

/// A hold raised to a new total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incremented {
    pub intent: IntentRef,
    /// The new capturable total.
    pub capturable: Money,
}

/// Charging a saved card after a session, with the driver absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffSessionCharge {
    pub customer: CustomerRef,
    pub payment_method: PaymentMethodRef,
    pub amount: Money,
    /// Joule's own payment id, stored at the gateway for reconciliation.
    pub reference: String,
}

/// An off-session charge the gateway took. Declines and 3-D Secure come
/// back as [`super::GatewayError::Declined`] and
/// [`super::GatewayError::RequiresAction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    pub intent: IntentRef,
    pub status: IntentStatus,
    pub card: Option<CardSummary>,
}
