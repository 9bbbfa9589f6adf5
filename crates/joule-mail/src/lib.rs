//! # joule-mail
//!
//! The mail adapter: receipts sent over SMTP ([`SmtpMailer`], lettre with
//! rustls), implementing the domain's
//! [`ReceiptMailer`](joule_domain::ports::mailer::ReceiptMailer) port.
//!
//! **May depend on:** joule-domain (the port and the receipt), joule-receipts
//! (what an email says) and the mail transport. Nothing else of ours depends
//! on it but the binary, so neither the API nor the domain compiles SMTP.
//!
//! **Concurrency model:** [`SmtpMailer::send`] is async (tokio) and holds a
//! pooled SMTP transport that is `Send + Sync`.

mod smtp;

pub use smtp::{receipt_message, EmailError, SmtpConfig, SmtpMailer, SmtpSecurity};
