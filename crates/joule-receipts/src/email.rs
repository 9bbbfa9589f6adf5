//! The receipt as an email's content: subject, plain text and HTML
//! alternatives, and the PDF to attach. Pure; sending it is the mail
//! adapter's job (joule-mail).

use joule_domain::receipts::receipt::Receipt;

use crate::labels::labels;
use crate::{render_html, render_pdf, render_text, ReceiptRenderError};

/// What a receipt email says, in the receipt's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptEmail {
    /// "Receipt R-… – Operator".
    pub subject: String,
    pub text: String,
    pub html: String,
    pub pdf: Vec<u8>,
    /// `<receipt number>.pdf`.
    pub pdf_name: String,
}

/// Renders the email of `receipt`.
pub fn render_email(receipt: &Receipt) -> Result<ReceiptEmail, ReceiptRenderError> {
    let l = labels(receipt.language);
    Ok(ReceiptEmail {
        subject: format!(
            "{} {} – {}",
            l.title,
            receipt.number.as_str(),
            receipt.operator.name
        ),
        text: render_text(receipt),
        html: render_html(receipt),
        pdf: render_pdf(receipt)?,
        pdf_name: format!("{}.pdf", receipt.number.as_str()),
    })
}
