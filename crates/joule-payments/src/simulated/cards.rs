//! The simulated gateway's test cards: tokens the demo pay page (or a test)
//! passes instead of card details, each with a fixed, documented outcome
//! (docs/payments.md, "Simulated gateway").

use joule_domain::payments::card::CardSummary;

/// What happens when a test card is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOutcome {
    Approve,
    /// Holds and charges are approved; the issuer declines every
    /// incremental authorization (`card_declined`), as some do.
    ApproveNoIncrement,
    /// Saving the card works; every charge and hold is declined with this
    /// code (like Stripe's `4000000000000341`).
    Decline {
        code: &'static str,
    },
    /// The issuer wants 3-D Secure: holds wait for the browser; off-session
    /// charges fail with `RequiresAction`.
    RequireAction,
}

/// A test card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    pub token: &'static str,
    pub brand: &'static str,
    pub last4: &'static str,
    pub outcome: CardOutcome,
}

impl TestCard {
    pub fn summary(&self) -> Option<CardSummary> {
        CardSummary::new(self.brand, self.last4, Some(12), Some(2034))
    }
}

/// Every token the simulated gateway accepts.
pub const TEST_CARDS: &[TestCard] = &[
    TestCard {
        token: "sim_visa",
        brand: "visa",
        last4: "4242",
        outcome: CardOutcome::Approve,
    },
    TestCard {
        token: "sim_mastercard",
        brand: "mastercard",
        last4: "4444",
        outcome: CardOutcome::Approve,
    },
    TestCard {
        token: "sim_no_increment",
        brand: "visa",
        last4: "5556",
        outcome: CardOutcome::ApproveNoIncrement,
    },
    TestCard {
        token: "sim_declined",
        brand: "visa",
        last4: "0002",
        outcome: CardOutcome::Decline {
            code: "generic_decline",
        },
    },
    TestCard {
        token: "sim_insufficient_funds",
        brand: "visa",
        last4: "9995",
        outcome: CardOutcome::Decline {
            code: "insufficient_funds",
        },
    },
    TestCard {
        token: "sim_3ds",
        brand: "visa",
        last4: "3155",
        outcome: CardOutcome::RequireAction,
    },
];

pub fn find(token: &str) -> Option<TestCard> {
    TEST_CARDS.iter().copied().find(|c| c.token == token)
}
