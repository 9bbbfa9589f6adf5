//! Driver accounts at the gateway: a customer and a card saved for later
//! off-session charges (Stripe: Customer + SetupIntent). Joule keeps the
//! references and the card's brand, last 4 and expiry, never the card.

use serde::{Deserialize, Serialize};

use super::refs::{ClientSecret, CustomerRef, PaymentMethodRef, SetupRef};
use crate::payments::card::CardSummary;

/// A customer record to create for a driver account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRequest {
    /// Joule's account id, stored at the gateway for reconciliation.
    pub reference: String,
    /// Where the gateway may send its own receipts, if the operator wants.
    pub email: Option<String>,
}

/// A request to save a card, waiting for the browser to confirm it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupCreated {
    pub setup: SetupRef,
    pub client_secret: ClientSecret,
}

/// Where a card-saving request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    Succeeded,
    Canceled,
}

/// A card-saving request read back from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupState {
    pub setup: SetupRef,
    pub status: SetupStatus,
    pub customer: Option<CustomerRef>,
    /// The saved card, once the browser has given one.
    pub payment_method: Option<PaymentMethodRef>,
}

/// A saved payment method as Joule may show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPaymentMethod {
    pub payment_method: PaymentMethodRef,
    pub customer: Option<CustomerRef>,
    /// `None` when the method is not a card.
    pub card: Option<CardSummary>,
}
