//! What can go wrong at a payment gateway, in terms the payment service can
//! act on: retry with the same idempotency key, tell the driver their card
//! was declined, or stop and alert an operator.

/// A gateway call's failure, the same for every gateway.
///
/// Retryable (see [`GatewayError::is_retryable`]): [`Unavailable`] and
/// [`Timeout`]. Both may hide a call the gateway did carry out, so a retry
/// must send the same idempotency key; the others will fail the same way
/// every time and must not be retried as they are.
///
/// [`Unavailable`]: GatewayError::Unavailable
/// [`Timeout`]: GatewayError::Timeout
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The issuer or the gateway's risk rules said no. `code` is the most
    /// specific reason the gateway gave (Stripe's `decline_code`, else its
    /// error `code`), for receipts, KPIs and support.
    #[error("declined ({code}): {message}")]
    Declined { code: String, message: String },
    /// The card needs the cardholder (3-D Secure): impossible off-session,
    /// so the payment must go back to the driver.
    #[error("the cardholder must authenticate this payment")]
    RequiresAction,
    /// The gateway refused the request itself (4xx): a bug, a wrong state
    /// (capturing a canceled hold), a reused idempotency key or a
    /// configuration error. `code` is the gateway's machine-readable reason
    /// when it gave one.
    #[error("the gateway refused the request: {message}")]
    InvalidRequest {
        code: Option<String>,
        message: String,
    },
    /// The gateway could not be reached, was overloaded (429) or failed
    /// (5xx). The call may or may not have been carried out.
    #[error("the gateway is unavailable: {message}")]
    Unavailable { message: String },
    /// No answer in time: the outcome is unknown.
    #[error("the gateway did not answer in time; the outcome is unknown")]
    Timeout,
    /// This gateway (or this account at it) cannot do this operation,
    /// e.g. incremental authorization.
    #[error("the gateway does not support {operation}")]
    Unsupported { operation: &'static str },
    /// The gateway answered something Joule cannot read.
    #[error("the gateway's answer could not be read: {message}")]
    InvalidResponse { message: String },
    /// A webhook whose signature is missing, wrong or too old.
    #[error("webhook signature rejected: {reason}")]
    BadSignature { reason: &'static str },
}

impl GatewayError {
    /// Whether the same call, with the same idempotency key, may succeed
    /// later. The recovery worker retries these and nothing else.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Timeout => true,
            Self::Declined { .. }
            | Self::RequiresAction
            | Self::InvalidRequest { .. }
            | Self::Unsupported { .. }
            | Self::InvalidResponse { .. }
            | Self::BadSignature { .. } => false,
        }
    }

    /// Shorthand for a request refused before it reached the gateway.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            code: None,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_and_timeout_are_retryable() {
        assert!(GatewayError::Timeout.is_retryable());
        assert!(GatewayError::Unavailable {
            message: "502".into()
        }
        .is_retryable());
        for e in [
            GatewayError::Declined {
                code: "insufficient_funds".into(),
                message: String::new(),
            },
            GatewayError::RequiresAction,
            GatewayError::invalid("bad"),
            GatewayError::Unsupported {
                operation: "increment_authorization",
            },
            GatewayError::InvalidResponse {
                message: String::new(),
            },
            GatewayError::BadSignature { reason: "expired" },
        ] {
            assert!(!e.is_retryable(), "{e:?}");
        }
    }
}
