//! Receipts: what a receipt of a captured payment says (numbers, lines,
//! VAT), and the state of its email. Rendering is joule-receipts', sending
//! the `ReceiptMailer` port's.
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): never imports
//! `crate::ports` or `crate::services`; rules here are plain functions over
//! plain data, so the ports and services can be written in their terms.

pub mod email;
pub mod receipt;
