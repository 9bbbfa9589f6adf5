//! Idempotency keys for gateway calls: derived from what the call is for
//! (a payment and one of its steps), never random, so that a retry after a
//! crash or a time-out sends the same key and the gateway (or Joule's own
//! records, for gateways that ignore keys) cannot act twice.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A key sent with a gateway call (Stripe's `Idempotency-Key` header).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `joule:{subject}:{step}`, e.g. `joule:0193…:capture:1`. Subject and
    /// step are Joule's own identifiers, so the key carries no personal or
    /// card data.
    pub fn derive(subject: impl fmt::Display, step: impl fmt::Display) -> Self {
        Self(format!("joule:{subject}:{step}"))
    }

    /// A key stored earlier, read back as it was.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_subject_and_step_give_the_same_key() {
        let a = IdempotencyKey::derive("p1", "capture:1");
        assert_eq!(a, IdempotencyKey::derive("p1", "capture:1"));
        assert_ne!(a, IdempotencyKey::derive("p1", "capture:2"));
        assert_eq!(a.as_str(), "joule:p1:capture:1");
    }
}
