//! The receipt by email over SMTP with lettre (tokio, rustls): the content
//! joule-receipts renders (plain text and HTML alternatives, the PDF
//! attached) put into a MIME message and sent through a pooled transport.
//!
//! Sending is one call per receipt; whether and when to send (and to retry)
//! is the receipt email worker's decision (`joule_domain::services::receipt_sender`),
//! so errors are returned, never retried here.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use joule_domain::ports::mailer::{MailError, ReceiptMailer};
use joule_domain::receipts::email::EmailAddress;
use joule_domain::receipts::receipt::Receipt;
use joule_receipts::{render_email, ReceiptRenderError};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP: only for a relay on localhost or a test server.
    None,
    /// Plain connection upgraded with STARTTLS, which is then required
    /// (submission port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (implicit TLS, port 465).
    Tls,
}

impl SmtpSecurity {
    fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
        }
    }
}

/// The SMTP server receipts are sent through; part of the binary's settings.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    /// Defaults to the security mode's port (25, 587, 465).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The sender, e.g. `Joule Charging <receipts@example.com>`.
    pub from: String,
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
}

fn default_timeout_s() -> u64 {
    30
}

/// Never prints the password: settings are logged at start-up.
impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_s", &self.timeout_s)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("invalid {field} address: {source}")]
    Address {
        field: &'static str,
        source: lettre::address::AddressError,
    },
    #[error("SMTP settings: {0}")]
    Config(String),
    #[error("building the message: {0}")]
    Message(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error(transparent)]
    Render(#[from] ReceiptRenderError),
}

/// The receipt email for `to`, from `from`, in the receipt's language.
pub fn receipt_message(receipt: &Receipt, from: &str, to: &str) -> Result<Message, EmailError> {
    let from: Mailbox = from.parse().map_err(|source| EmailError::Address {
        field: "from",
        source,
    })?;
    let to: Mailbox = to.parse().map_err(|source| EmailError::Address {
        field: "to",
        source,
    })?;
    let email = render_email(receipt)?;
    let pdf_type = ContentType::parse("application/pdf")
        .map_err(|e| EmailError::Config(format!("content type: {e}")))?;
    let attachment = Attachment::new(email.pdf_name).body(email.pdf, pdf_type);
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject)
        .multipart(
            MultiPart::mixed()
                .multipart(MultiPart::alternative_plain_html(email.text, email.html))
                .singlepart(attachment),
        )?)
}

/// Sends receipts through one SMTP server, reusing connections.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    pub fn new(config: &SmtpConfig) -> Result<Self, EmailError> {
        // Checked now, so a typo fails at start-up and not at the first receipt.
        config
            .from
            .parse::<Mailbox>()
            .map_err(|source| EmailError::Address {
                field: "from",
                source,
            })?;
        let host = config.host.as_str();
        let mut builder = match config.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        }
        .port(config.port.unwrap_or(config.security.default_port()))
        .timeout(Some(Duration::from_secs(config.timeout_s.max(1))));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => {
                return Err(EmailError::Config(
                    "username and password go together".to_owned(),
                ))
            }
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from: config.from.clone(),
        })
    }

    /// Renders and sends the receipt to `to`.
    #[tracing::instrument(
        skip_all,
        fields(
            receipt = receipt.number.as_str(),
            session_id = %receipt.session_id,
            charger_id = %receipt.charger_id,
        )
    )]
    pub async fn send(&self, receipt: &Receipt, to: &str) -> Result<(), EmailError> {
        let message = receipt_message(receipt, &self.from, to)?;
        let response = self.transport.send(message).await?;
        tracing::info!(code = %response.code(), "receipt emailed");
        Ok(())
    }
}

/// The domain's mail port: an SMTP error is retried unless the server
/// refused for good (5xx); bad settings are retried (an operator may fix
/// them without losing the email); an address, message or rendering error
/// is permanent.
#[async_trait]
impl ReceiptMailer for SmtpMailer {
    async fn send(&self, receipt: &Receipt, to: &EmailAddress) -> Result<(), MailError> {
        SmtpMailer::send(self, receipt, to.as_str())
            .await
            .map_err(|error| match error {
                EmailError::Smtp(e) if e.is_permanent() => {
                    tracing::warn!(error = %e, "the SMTP server refused the receipt for good");
                    MailError::Permanent(e.to_string())
                }
                e @ (EmailError::Smtp(_) | EmailError::Config(_)) => {
                    MailError::Retry(e.to_string())
                }
                e @ (EmailError::Address { .. }
                | EmailError::Message(_)
                | EmailError::Render(_)) => MailError::Permanent(e.to_string()),
            })
    }
}
