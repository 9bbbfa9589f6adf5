//! Background workers of `joule serve`: the payments outbox consumer and
//! the payment recovery and sweeper loops. Each is one task that stops at
//! the shutdown token, between two passes (a pass in progress finishes:
//! every step it started is recorded as intended first, so even an
//! interrupted pass is finished by the next start's recovery).

pub mod payments;

pub use payments::{spawn_payment_workers, PAYMENTS_CONSUMER};
