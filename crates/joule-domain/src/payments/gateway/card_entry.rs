//! Card entry for web holds at gateways whose browser library collects the
//! card apart from the hold (Stripe: a SetupIntent confirmed with
//! `confirmCardSetup` and the card Element), after which Joule attaches the
//! resulting payment method to the hold and confirms it from the server.
//!
//! Why a separate step: the card goes from the driver's browser straight to
//! the gateway (PCI DSS SAQ A), and Joule decides, on its own server, when
//! the hold is placed, so a decline is seen in the same request that asks
//! the charger to start. docs/payments.md, "Card entry in the browser".

use super::refs::SetupRef;

/// Which card entry a hold is confirmed with, and the payment it must
/// belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardEntryConfirmation {
    /// The card entry the browser confirmed.
    pub setup: SetupRef,
    /// Joule's payment id: the card entry must have been created for it
    /// (the gateway stores it with the entry), so a driver cannot confirm
    /// a hold with someone else's card entry.
    pub reference: String,
}
