//! Background workers of `joule serve`: the payments outbox consumer, the
//! payment recovery and sweeper loops, the hold-limit watch and the
//! receipt email sender. Each is one task that stops at
//! the shutdown token, between two passes (a pass in progress finishes:
//! every step it started is recorded as intended first, so even an
//! interrupted pass is finished by the next start's recovery).

pub mod hold_limits;
pub mod payments;
pub mod receipt_emails;

pub use hold_limits::{spawn_hold_watch, HoldWatch};
pub use payments::{spawn_payment_workers, PAYMENTS_CONSUMER};
pub use receipt_emails::{
    spawn_receipt_emailer, EmailerSettings, ReceiptEmailer, RECEIPTS_CONSUMER,
};
