//! Webhooks: the gateway telling Joule that something happened, which the
//! payment service folds into its state exactly like a read. A webhook is
//! only believed once its signature is verified by the adapter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::intent::Decline;
use super::refs::{CustomerRef, IntentRef, PaymentMethodRef, SetupRef};
use crate::kernel::money::Money;

/// A webhook as received over HTTP, before anything is believed. Headers
/// are passed whole because each gateway signs in its own place.
#[derive(Debug, Clone, Copy)]
pub struct WebhookPayload<'a> {
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl<'a> WebhookPayload<'a> {
    /// The first header of that name, compared case-insensitively as HTTP
    /// says.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// A verified gateway event. `id` is the gateway's event id: gateways
/// deliver at least once, so consumers deduplicate on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayEvent {
    pub id: String,
    pub created: DateTime<Utc>,
    pub kind: GatewayEventKind,
}

/// What happened, in Joule's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GatewayEventKind {
    /// A hold is in place (the browser confirmed the card).
    IntentAuthorized {
        intent: IntentRef,
        capturable: Money,
    },
    /// Money was taken (a capture or an off-session charge).
    IntentSucceeded {
        intent: IntentRef,
        received: Option<Money>,
    },
    /// An attempt was declined or failed authentication.
    IntentFailed {
        intent: IntentRef,
        decline: Option<Decline>,
    },
    IntentCanceled {
        intent: IntentRef,
    },
    /// A card was saved for later.
    SetupSucceeded {
        setup: SetupRef,
        customer: Option<CustomerRef>,
        payment_method: Option<PaymentMethodRef>,
    },
    /// Any other event, kept so it can be logged and acknowledged.
    Other {
        gateway_type: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_case_insensitively() {
        let headers = [
            ("Content-Type", "application/json"),
            ("stripe-signature", "t=1"),
        ];
        let p = WebhookPayload {
            headers: &headers,
            body: b"{}",
        };
        assert_eq!(p.header("Stripe-Signature"), Some("t=1"));
        assert_eq!(p.header("x-missing"), None);
    }
}
