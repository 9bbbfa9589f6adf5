//! Background workers of `joule serve`: the outbox consumers (payments,
//! receipt emails; implemented beside their domain, run here by
//! [`outbox::spawn_consumer`]), the payment recovery and sweeper loops and
//! the hold-limit watch. Each is one task that stops at the shutdown token,
//! between two passes (a pass in progress finishes: every step it started
//! is recorded as intended first, so even an interrupted pass is finished
//! by the next start's recovery).

pub mod hold_limits;
pub mod outbox;
pub mod payment_recovery;

pub use hold_limits::{spawn_hold_watch, HoldWatch};
pub use outbox::spawn_consumer;
pub use payment_recovery::spawn_recovery_and_sweeper;
