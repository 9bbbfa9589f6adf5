//! Receipt emails (issue 4, point 7; docs/payments.md, "Receipt emails"):
//! the address a driver may give on the pay page, and the durable queue
//! that sends each captured payment's receipt to it exactly once.
//!
//! Lifecycle of one payment's email (`receipt_emails`, migration 0011):
//!
//! ```text
//! waiting ──payment.captured──► due ──claimed──► sending ──sent──► sent (address erased)
//!                                ▲                  │ ──SMTP refused for good──► failed
//!                                └──retry (backoff)─┘ ──crash: claimed again once──► sending
//! ```
//!
//! A crash between the SMTP server accepting the message and Joule
//! recording it leaves the email `sending`; it is claimed again once (the
//! driver may get a second copy), and a second such crash gives up rather
//! than risk a third.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::payments::payment::PaymentId;

/// The longest address accepted (RFC 5321's path limit).
const MAX_ADDRESS_LEN: usize = 254;

/// An email address a driver typed. Checked for shape only (one `@`, a
/// dotted domain, no spaces or brackets); the mail transport parses it again
/// when sending. Personal data: never logged, erased once the receipt is
/// sent.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an email address (name@example.com)")]
pub struct InvalidEmail;

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_ADDRESS_LEN {
            return Err(InvalidEmail);
        }
        let bad_char = |c: char| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '<' | '>' | '(' | ')' | ',' | ';' | '"' | '\\' | '[' | ']'
                )
        };
        if raw.chars().any(bad_char) {
            return Err(InvalidEmail);
        }
        let (local, domain) = raw.split_once('@').ok_or(InvalidEmail)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(InvalidEmail);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never prints the address (personal data in logs).
impl std::fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

/// Where a payment's receipt email stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptEmailState {
    /// An address was given; the payment is not captured yet.
    Waiting,
    /// Captured: to be sent at `next_attempt_at`.
    Due,
    /// Claimed by a sender (or the sender died while sending).
    Sending,
    Sent,
    /// Given up: the server refused for good, too many attempts, or a
    /// second crash while sending.
    Failed,
}

impl ReceiptEmailState {
    pub const ALL: [Self; 5] = [
        Self::Waiting,
        Self::Due,
        Self::Sending,
        Self::Sent,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Due => "due",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A payment's receipt email as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptEmail {
    pub payment_id: PaymentId,
    /// `None` once sent (erased: no longer needed).
    pub address: Option<EmailAddress>,
    pub state: ReceiptEmailState,
    /// Sending attempts so far (claims).
    pub attempts: u32,
    /// Whether it was claimed again after a crash while sending.
    pub resent_after_crash: bool,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The last SMTP error, for operators (never contains the address).
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// An email a sender claimed: send it, then finish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptEmailJob {
    pub payment_id: PaymentId,
    pub address: EmailAddress,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// How a claimed email ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptEmailOutcome {
    /// The SMTP server accepted it.
    Sent,
    /// A transient failure: try again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// A permanent failure: never again.
    Failed { error: String },
}

/// When to retry after failed attempt number `attempt` (1-based), or
/// `None` when `max_attempts` are spent: `initial`, doubling each time, at
/// most an hour apart.
pub fn retry_at(
    now: DateTime<Utc>,
    attempt: u32,
    max_attempts: u32,
    initial: Duration,
) -> Option<DateTime<Utc>> {
    if attempt >= max_attempts {
        return None;
    }
    let factor = 1i32 << attempt.saturating_sub(1).min(20);
    let delay = (initial * factor).min(Duration::hours(1));
    Some(now + delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_for_shape_and_never_printed() {
        for ok in ["driver@example.org", " a.b+c@mail.example.co.uk ", "x@y.z"] {
            let a = EmailAddress::parse(ok).unwrap();
            assert_eq!(a.as_str(), ok.trim());
            assert!(!format!("{a:?}").contains('@'));
        }
        for bad in [
            "",
            "driver",
            "driver@",
            "@example.org",
            "driver@example",
            "a b@example.org",
            "a@b@example.org",
            "Driver <d@example.org>",
            "d@example..org",
            "d@-example.org",
            "d@example.org\r\nBcc: x@y.z",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn retries_back_off_and_stop() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let s = Duration::seconds;
        assert_eq!(retry_at(t0, 1, 5, s(30)), Some(t0 + s(30)));
        assert_eq!(retry_at(t0, 2, 5, s(30)), Some(t0 + s(60)));
        assert_eq!(retry_at(t0, 4, 5, s(30)), Some(t0 + s(240)));
        assert_eq!(retry_at(t0, 5, 5, s(30)), None);
        assert_eq!(retry_at(t0, 30, 99, s(30)), Some(t0 + Duration::hours(1)));
        for st in ReceiptEmailState::ALL {
            assert_eq!(ReceiptEmailState::parse(st.as_str()), Some(st));
        }
    }
}
