//! The gateway's names for things Joule keeps (intents, customers, saved
//! payment methods, refunds), and the browser's client secret. They are
//! opaque tokens: what PCI DSS lets Joule store instead of card data
//! (STANDARDS.md §7.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a gateway reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: must be 1 to 255 visible ASCII characters")]
pub struct RefError {
    pub kind: &'static str,
}

fn check(kind: &'static str, raw: &str) -> Result<(), RefError> {
    let ok = !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(RefError { kind })
    }
}

macro_rules! gateway_ref {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts what a gateway returned or what Joule stored; refuses
            /// empty, over-long or whitespace-bearing strings so that a
            /// reference cannot smuggle anything into a URL path or a log.
            pub fn parse(raw: impl Into<String>) -> Result<Self, RefError> {
                let raw = raw.into();
                check($kind, &raw)?;
                Ok(Self(raw))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = RefError;
            fn try_from(raw: String) -> Result<Self, RefError> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(r: $name) -> String {
                r.0
            }
        }
    };
}

gateway_ref!(
    /// A payment at the gateway: a hold, a captured payment or an off-session
    /// charge (Stripe: a PaymentIntent `pi_…`).
    IntentRef,
    "intent reference"
);
gateway_ref!(
    /// A driver account's customer record at the gateway (`cus_…`).
    CustomerRef,
    "customer reference"
);
gateway_ref!(
    /// A request to save a card for later (Stripe: a SetupIntent `seti_…`).
    SetupRef,
    "setup reference"
);
gateway_ref!(
    /// A saved card, charged off-session later (`pm_…`).
    PaymentMethodRef,
    "payment method reference"
);
gateway_ref!(
    /// One refund (`re_…`), for reconciliation.
    RefundRef,
    "refund reference"
);

/// What the browser needs to confirm an intent with the gateway's hosted
/// fields. It authorizes confirming that one intent, so it is handed to the
/// driver's browser and otherwise kept out of logs: `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The secret itself, for the pay page only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_visible_ascii_tokens() {
        assert_eq!(
            IntentRef::parse("pi_123").map(|r| r.to_string()),
            Ok("pi_123".to_owned())
        );
        assert!(IntentRef::parse("").is_err());
        assert!(IntentRef::parse("pi 1").is_err());
        assert!(IntentRef::parse("pi_1/../x\n").is_err());
        assert!(CustomerRef::parse("x".repeat(256)).is_err());
        let json = serde_json::to_string(&IntentRef::parse("pi_1").ok()).ok();
        assert_eq!(json.as_deref(), Some("\"pi_1\""));
        assert!(serde_json::from_str::<IntentRef>("\"a b\"").is_err());
    }

    #[test]
    fn client_secret_is_hidden_from_debug() {
        let s = ClientSecret::new("pi_1_secret_abc");
        assert_eq!(format!("{s:?}"), "ClientSecret(…)");
        assert_eq!(s.expose(), "pi_1_secret_abc");
    }
}
