//! # joule-receipts
//!
//! What a driver takes home from a paid session: the receipt
//! ([`joule_domain::receipts::receipt::Receipt`]) rendered as an HTML page, a PDF, plain
//! text and an email's content, in English, Spanish, French or German; and
//! the QR code images that lead to a pay page or a receipt.
//!
//! **May depend on:** joule-domain, and the rendering crates (maud,
//! printpdf, qrcode, png). Never on an I/O crate (no tokio, no mail
//! transport: sending is joule-mail's), the store, the API or the CSMS: the
//! domain decides when a receipt is issued and who gets it, the API serves
//! the page and the mail adapter sends it; all of them call in here.
//!
//! **Concurrency model:** none: rendering is synchronous and pure (a
//! receipt in, bytes out).

mod email;
mod format;
mod html;
mod labels;
mod pdf;
mod qr;
mod text;
mod view;

pub use email::{render_email, ReceiptEmail};
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
