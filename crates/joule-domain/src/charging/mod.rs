//! The charging aggregates: chargers and their connectors, id tokens and the
//! authorization rule, sessions and their meter values, sites and user
//! groups, and the protocol message log (DESIGN.md, "Chargers, sessions").
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): never imports
//! `crate::ports` or `crate::services`; rules here are plain functions over
//! plain data, so the ports and services can be written in their terms.

pub mod auth;
pub mod charger;
pub mod message_log;
pub mod meter;
pub mod session;
pub mod site;
pub mod token;
pub mod user_group;
