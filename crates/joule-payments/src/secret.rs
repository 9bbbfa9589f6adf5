//! Secrets from configuration (API keys, webhook signing secrets): kept out
//! of `Debug` output so that printing a config or an adapter can never leak
//! them to logs (CONVENTIONS.md §8).

use std::fmt;

use serde::Deserialize;

/// A secret string; `Debug` prints `Secret(…)`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let s = Secret::new("sk_test_123");
        assert_eq!(format!("{s:?}"), "Secret(…)");
        assert_eq!(s.expose(), "sk_test_123");
    }
}
