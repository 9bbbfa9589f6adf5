//! The mail port: how a receipt reaches a driver's inbox. The SMTP adapter
//! (joule-mail) implements it; the receipt email worker
//! ([`crate::services::receipt_sender`]) decides when to send and whether to retry
//! from the error's kind alone.

use async_trait::async_trait;

use crate::receipts::email::EmailAddress;
use crate::receipts::receipt::Receipt;

/// Why a receipt was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Sending again cannot work (a 5xx refusal such as "no such mailbox",
    /// an address the mail library refuses): the email fails at once.
    #[error("{0}")]
    Permanent(String),
    /// It may work later (connection refused, a 4xx answer, a time-out):
    /// retried on the queue's schedule.
    #[error("{0}")]
    Retry(String),
}

/// Renders and sends receipts.
#[async_trait]
pub trait ReceiptMailer: Send + Sync + std::fmt::Debug {
    /// Sends `receipt`, in its language, to `to`.
    async fn send(&self, receipt: &Receipt, to: &EmailAddress) -> Result<(), MailError>;
}
