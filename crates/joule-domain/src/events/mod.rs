//! The event log's vocabulary: every kind of event a state change writes
//! in its transaction, stored as text, and the event as read back.
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): never imports
//! `crate::ports` or `crate::services`; rules here are plain functions over
//! plain data, so the ports and services can be written in their terms.

pub mod event;
