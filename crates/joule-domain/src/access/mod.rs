//! Access to the REST API: API keys and their scopes, and the replay
//! record of an `Idempotency-Key` request.
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): never imports
//! `crate::ports` or `crate::services`; rules here are plain functions over
//! plain data, so the ports and services can be written in their terms.

pub mod api_idempotency;
pub mod api_key;
