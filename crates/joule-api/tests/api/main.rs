//! Handler tests: the real router (`tower::ServiceExt::oneshot`) over the real
//! SQLite store. One test binary, so the crate links once.

// Helpers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used)]

mod test_app;

mod accounts;
mod auth;
mod chargers;
mod commands;
mod errors;
mod id_tokens;
mod kpis;
mod messages;
mod pages;
mod payments;
mod sessions;
mod sites;
mod tariffs;
mod terminals;
mod user_groups;
