//! # joule (the binary's library half)
//!
//! Settings, wiring and the command line of Joule. Only this crate knows every
//! other crate; nothing depends on it except its own `main.rs` and black-box
//! tests, which build the same [`app::Application`] that `joule serve` runs.
//!
//! **Concurrency model:** one multi-threaded tokio runtime; each part spawns
//! its own tasks and stops them on the application's cancellation token.

pub mod app;
pub mod cli;
pub mod demo;
pub mod payments;
pub mod settings;
pub mod tariff_cli;
pub mod telemetry;
pub mod tools;
pub mod workers;
