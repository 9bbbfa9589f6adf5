//! # joule-domain
//!
//! The heart of Joule: chargers, connectors, id tokens, charging sessions and
//! the rules that govern them, plus the *ports* (traits) through which the
//! rest of the system reaches storage, the clock and chargers.
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

pub mod account;
pub mod api_idempotency;
pub mod api_key;
pub mod auth;
pub mod card;
pub mod charger;
pub mod clock;
pub mod command;
pub mod consumer;
pub mod cost_display;
pub mod credentials;
pub mod error;
pub mod event;
pub mod gateway;
pub mod idempotency;
pub mod ids;
pub mod language;
pub mod mailer;
pub mod message_log;
pub mod meter;
pub mod money;
pub mod outbox_runner;
pub mod page;
pub mod payment;
pub mod payment_service;
pub mod price_display;
pub mod pricing;
pub mod receipt;
pub mod receipt_email;
pub mod receipt_sender;
pub mod receipt_source;
pub mod service;
pub mod session;
pub mod session_cost;
pub mod site;
pub mod store;
pub mod tariff_assignment;
pub mod tariff_lookup;
pub mod tariffs;
pub mod terminal;
pub mod texts;
pub mod token;
pub mod user_group;

pub use error::DomainError;
pub use ids::{ChargerId, ConnectorId, IdToken, SessionId, TransactionId};
