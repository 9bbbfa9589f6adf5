//! The payment aggregates: a payment and the exactly-once steps that move
//! its money, the gateway's vocabulary (and the gateway port, which speaks
//! only these types), card summaries, accounts and their debt, payment
//! terminals (DESIGN.md, "Money and sessions"; docs/payments.md).
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): never imports
//! `crate::ports` or `crate::services`; rules here are plain functions over
//! plain data, so the ports and services can be written in their terms.

pub mod account;
pub mod card;
pub mod gateway;
pub mod idempotency;
pub mod payment;
pub mod terminal;
