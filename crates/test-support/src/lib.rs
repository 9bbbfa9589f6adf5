//! What Joule's tests share, written once: a store in a temporary database,
//! the payment test world (store, clock, gateway, charger, payment and
//! charging services wired as the binary wires them), scripted chargers,
//! a gateway that pauses inside a call, and the claim a crashed request
//! leaves behind.
//!
//! A dev-dependency only: no production crate may depend on it
//! (`scripts/check-deps.py`). It depends on the domain, the store and the
//! payment adapters, never on `joule-api`, `joule-csms` or the binary, so
//! the tests of those crates can use it without a dependency cycle
//! (docs/adr/0009-test-support.md).

// Test code: a failed set-up step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod charger;
pub mod claims;
pub mod database;
pub mod gateway;
pub mod random;
pub mod records;
pub mod world;

pub use charger::ScriptedCharger;
pub use claims::claim_as_a_request;
pub use database::TempDatabase;
pub use gateway::{GatewayCall, PausingGateway};
pub use random::UuidRandom;
pub use world::{World, WorldBuilder};
