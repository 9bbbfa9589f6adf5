//! Ports: the traits through which the domain reaches what it does not
//! own (storage, chargers, the clock, mail, password hashing) and through
//! which the outbox runner drives its consumers. Adapters implement them in
//! their own crates (DESIGN.md, "Ports (traits) for storage, gateways,
//! clock").
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): ports are
//! written in the entity folders' types and never import `crate::services`.

pub mod clock;
pub mod command;
pub mod consumer;
pub mod credentials;
pub mod mailer;
pub mod store;
