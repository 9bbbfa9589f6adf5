//! # joule-domain
//!
//! The heart of Joule: chargers, connectors, id tokens, charging sessions,
//! tariffs and payments and the rules that govern them, the *ports* (traits)
//! through which the rest of the system reaches storage, the clock and
//! chargers, and the application services that use both.
//!
//! **Folders are layers** (docs/architecture.md, "Inside the domain"):
//! entity folders ([`kernel`], [`charging`], [`pricing`], [`payments`],
//! [`receipts`], [`access`], [`events`]) hold data and pure rules and never
//! import [`ports`] or [`services`]; ports are written in entity types and
//! never import services; only [`services`] import ports.
//! `scripts/check-domain-layers.py` checks it in CI.
//!
//! **May depend on:** serde, serde_json, chrono, chrono-tz, rust_decimal,
//! uuid, thiserror, async-trait, and the `tracing` facade (no subscriber).
//! Never on a
//! web, SQL or protocol crate: an OCPP frame, an HTTP request or a SQL row is
//! converted to these types in the adapter that owns it (`convert.rs` there).
//!
//! **Concurrency model:** none of its own. Types are plain data; services are
//! `Send + Sync` and hold `Arc<dyn Port>`s, so adapters call them from any
//! task. Ports are async because their implementations do I/O; the rules
//! themselves are synchronous functions that tests call directly.

pub mod access;
pub mod charging;
pub mod events;
pub mod kernel;
pub mod payments;
pub mod ports;
pub mod pricing;
pub mod receipts;
pub mod services;

pub use kernel::error::DomainError;
pub use kernel::ids::{ChargerId, ConnectorId, IdToken, SessionId, TransactionId};
