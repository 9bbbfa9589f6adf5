//! Application services: the use cases (charging, payments, the price
//! display, tariff lookups, receipts, the outbox runner). They take ports,
//! read and write through them, and decide with the entity folders' rules;
//! adapters call them.
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): the only code
//! in the domain that imports `crate::ports`.

pub mod charging;
pub mod cost_display;
pub mod outbox_runner;
pub mod payments;
pub mod receipt_sender;
pub mod receipt_source;
pub mod session_cost;
pub mod tariff_lookup;
