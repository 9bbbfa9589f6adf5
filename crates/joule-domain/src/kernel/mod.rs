//! The shared vocabulary of every aggregate: identifiers, money, the
//! driver's language and its texts, pages of results, and the domain's
//! errors. Nothing here belongs to one aggregate.
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): never imports
//! `crate::ports` or `crate::services`; rules here are plain functions over
//! plain data, so the ports and services can be written in their terms.

pub mod error;
pub mod ids;
pub mod language;
pub mod money;
pub mod page;
pub mod texts;
