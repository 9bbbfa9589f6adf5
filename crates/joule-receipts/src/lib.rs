//! # joule-receipts
//!
//! What a driver takes home from a paid session: the receipt
//! ([`joule_domain::receipt::Receipt`]) rendered as an HTML page, a PDF and an
//! email sent over SMTP, in English, Spanish, French or German; and the QR
//! code images that lead to a pay page or a receipt.
//!
//! **May depend on:** joule-domain, and the rendering and mail crates (maud,
//! printpdf, qrcode, png, lettre). Never on the store, the API or the CSMS:
//! the payment service decides when a receipt is issued and who gets it, and
//! the API serves the page; both call in here.
//!
//! **Concurrency model:** rendering is synchronous and pure (a receipt in,
//! bytes out); [`ReceiptMailer::send`] is async (tokio) and holds a pooled
//! SMTP transport that is `Send + Sync`.

mod email;
mod format;
mod html;
mod labels;
mod pdf;
mod qr;
mod text;
mod view;

pub use email::{receipt_message, EmailError, ReceiptMailer, SmtpConfig, SmtpSecurity};
pub use html::render_html;
pub use pdf::render_pdf;
pub use qr::{qr_png, qr_svg, QrError};
pub use text::render_text;

/// Why a receipt could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptRenderError {
    /// The embedded font did not parse: a broken build, not bad input.
    #[error("the embedded PDF font could not be read")]
    Font,
}
