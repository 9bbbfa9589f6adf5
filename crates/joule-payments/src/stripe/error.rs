//! Stripe's failures → [`GatewayError`], in one place. Stripe answers
//! errors as `{"error": {"type", "code", "decline_code", "message", …}}`
//! with an HTTP status (https://docs.stripe.com/api/errors): 402 and
//! `card_error` are the issuer's "no", 429 and 5xx are worth a retry, other
//! 4xx are Joule's or the configuration's fault.

use joule_domain::payments::gateway::GatewayError;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Envelope {
    error: ApiError,
}

/// The `error` object (also a PaymentIntent's `last_payment_error`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) decline_code: Option<String>,
    pub(crate) message: Option<String>,
}

impl ApiError {
    /// The most specific decline reason Stripe gave.
    pub(crate) fn decline_reason(&self) -> String {
        self.decline_code
            .clone()
            .or_else(|| self.code.clone())
            .unwrap_or_else(|| "card_declined".to_owned())
    }

    fn needs_authentication(&self) -> bool {
        [&self.code, &self.decline_code]
            .iter()
            .any(|c| c.as_deref() == Some("authentication_required"))
    }
}

/// Maps a non-2xx answer.
pub(crate) fn from_status(status: u16, body: &[u8]) -> GatewayError {
    let parsed = serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.error);
    let message = parsed
        .as_ref()
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    if status == 429 || status >= 500 {
        return GatewayError::Unavailable {
            message: format!("HTTP {status}: {message}"),
        };
    }
    let Some(error) = parsed else {
        return GatewayError::InvalidRequest {
            code: None,
            message,
        };
    };
    if error.needs_authentication() {
        return GatewayError::RequiresAction;
    }
    let card_error = error.kind.as_deref() == Some("card_error")
        || error.code.as_deref() == Some("card_declined");
    if card_error || status == 402 {
        return GatewayError::Declined {
            code: error.decline_reason(),
            message,
        };
    }
    if error.kind.as_deref() == Some("api_error") {
        return GatewayError::Unavailable { message };
    }
    let message = if status == 401 {
        format!("authentication with Stripe failed (check the secret key): {message}")
    } else {
        message
    };
    GatewayError::InvalidRequest {
        code: error.code,
        message,
    }
}

/// Maps a transport failure: no answer in time is [`GatewayError::Timeout`]
/// (the request may have been carried out); anything else (refused
/// connection, DNS, TLS, a connection cut mid-answer) is
/// [`GatewayError::Unavailable`]. Both are retried with the same key.
pub(crate) fn from_transport(error: &reqwest::Error) -> GatewayError {
    if error.is_timeout() {
        GatewayError::Timeout
    } else {
        GatewayError::Unavailable {
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bodies in the shape of Stripe's documented error responses.

    #[test]
    fn card_error_with_decline_code_is_declined() {
        let body = br#"{"error": {"type": "card_error", "code": "card_declined",
            "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined"}}"#;
        assert_eq!(
            from_status(402, body),
            GatewayError::Declined {
                code: "insufficient_funds".into(),
                message: "Your card has insufficient funds.".into()
            }
        );
    }

    #[test]
    fn expired_card_without_decline_code_uses_the_code() {
        let body = br#"{"error": {"type": "card_error", "code": "expired_card",
            "message": "Your card has expired.", "param": "exp_month"}}"#;
        assert_eq!(
            from_status(402, body),
            GatewayError::Declined {
                code: "expired_card".into(),
                message: "Your card has expired.".into()
            }
        );
    }

    #[test]
    fn off_session_authentication_required_needs_the_cardholder() {
        let body = br#"{"error": {"type": "card_error", "code": "authentication_required",
            "decline_code": "authentication_required",
            "message": "Your card was declined. This transaction requires authentication."}}"#;
        assert_eq!(from_status(402, body), GatewayError::RequiresAction);
    }

    #[test]
    fn invalid_request_errors_keep_their_code() {
        let body = br#"{"error": {"type": "invalid_request_error",
            "code": "payment_intent_unexpected_state",
            "message": "This PaymentIntent could not be captured because it has a status of canceled."}}"#;
        assert!(matches!(
            from_status(400, body),
            GatewayError::InvalidRequest { code: Some(c), .. } if c == "payment_intent_unexpected_state"
        ));
        let idem = br#"{"error": {"type": "idempotency_error",
            "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#;
        assert!(matches!(
            from_status(400, idem),
            GatewayError::InvalidRequest { .. }
        ));
        let auth = br#"{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****1234"}}"#;
        assert!(matches!(
            from_status(401, auth),
            GatewayError::InvalidRequest { message, .. } if message.contains("secret key")
        ));
    }

    #[test]
    fn rate_limits_and_server_errors_are_retryable() {
        let body = br#"{"error": {"type": "api_error", "message": "An unknown error occurred"}}"#;
        let e = from_status(500, body);
        assert!(e.is_retryable(), "{e:?}");
        assert!(from_status(503, b"<html>bad gateway</html>").is_retryable());
        let rate = br#"{"error": {"type": "invalid_request_error", "code": "rate_limit",
            "message": "Too many requests hit the API too quickly."}}"#;
        assert!(from_status(429, rate).is_retryable());
        assert!(!from_status(404, b"not json").is_retryable());
    }

    #[test]
    fn localstripe_declines_are_declines_too() {
        // localstripe answers 402 with type invalid_request_error.
        let body = br#"{"error": {"type": "invalid_request_error", "code": "card_declined",
            "message": "Your card was declined.", "charge": "ch_1"}}"#;
        assert!(matches!(
            from_status(402, body),
            GatewayError::Declined { code, .. } if code == "card_declined"
        ));
    }
}
