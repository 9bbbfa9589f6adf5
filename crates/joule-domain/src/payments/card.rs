//! What Joule may know about a payment card: its brand, last four digits and
//! expiry, as the gateway reports them. Never the card number (PAN) or its
//! verification code: PCI DSS keeps those out of Joule entirely
//! (STANDARDS.md §0.9), so there is no type here that could hold them.

use serde::{Deserialize, Serialize};

/// A card as shown on a receipt or in the payments API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    /// Lower-case brand as the gateway names it (`visa`, `mastercard`, …).
    pub brand: String,
    /// The last four digits, exactly four ASCII digits.
    pub last4: String,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
}

impl CardSummary {
    /// Builds a summary, refusing anything but four digits as `last4`, so a
    /// full card number can never be stored by mistake in this field.
    pub fn new(
        brand: impl Into<String>,
        last4: impl Into<String>,
        exp_month: Option<u8>,
        exp_year: Option<u16>,
    ) -> Option<Self> {
        let last4 = last4.into();
        if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            brand: brand.into().to_ascii_lowercase(),
            last4,
            exp_month: exp_month.filter(|m| (1..=12).contains(m)),
            exp_year,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_digits_are_a_last4() {
        assert!(CardSummary::new("Visa", "4242", Some(12), Some(2030)).is_some());
        assert_eq!(
            CardSummary::new("Visa", "4242", None, None).map(|c| c.brand),
            Some("visa".to_owned())
        );
        assert!(CardSummary::new("visa", "4242424242424242", None, None).is_none());
        assert!(CardSummary::new("visa", "42a2", None, None).is_none());
        assert_eq!(
            CardSummary::new("visa", "4242", Some(13), None).and_then(|c| c.exp_month),
            None
        );
    }
}
