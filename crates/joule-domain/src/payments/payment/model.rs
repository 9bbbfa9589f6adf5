//! The payment record: who pays, for which connector, through which
//! gateway, and how much is held, captured and refunded.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::id::{PaymentId, ReceiptToken};
use super::step::PaymentStep;
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken, SessionId};
use crate::kernel::money::{Currency, Money};
use crate::payments::card::CardSummary;
use crate::pricing::HoldLimitPolicy;

/// How the driver paid: the channels whose success rates ChargeX asks to
/// compare (STANDARDS.md §1.1, §1.3). A new channel (SMS, Plug & Charge) is
/// a new variant; its stored spelling is [`PaymentChannel::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentChannel {
    /// The connector's pay page (QR code), no account (NEVI ad hoc).
    Web,
    /// A payment terminal that reported an authorized card.
    Terminal,
    /// A driver account charged off-session after the session.
    Account,
}

impl PaymentChannel {
    pub const ALL: [PaymentChannel; 3] = [Self::Web, Self::Terminal, Self::Account];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Terminal => "terminal",
            Self::Account => "account",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// Where a payment stands (DESIGN.md: created → authorized (hold) →
/// captured | voided; failed when the authorization is declined).
/// Refunds do not add states: a refunded payment stays `Captured` and its
/// [`RefundState`] is derived from the amounts, so a partial refund never
/// hides that money was captured, and no state pair has to be kept in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Recorded; nothing held yet.
    Created,
    /// A hold (pre-authorization) is open on the card.
    Authorized,
    /// Money was taken: a hold captured, or an off-session charge.
    Captured,
    /// The hold was released without taking money. Final.
    Voided,
    /// The authorization or off-session charge was declined. Final.
    Failed,
}

impl PaymentState {
    pub const ALL: [PaymentState; 5] = [
        Self::Created,
        Self::Authorized,
        Self::Captured,
        Self::Voided,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// No gateway step may follow: the card has nothing open with us.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Voided | Self::Failed)
    }
}

/// Refunds of a captured payment, derived from its amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    None,
    Partial,
    Full,
}

/// A payment as stored. Amounts are minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payment {
    pub id: PaymentId,
    pub channel: PaymentChannel,
    /// The adapter that holds the money (`stripe`, `simulated`, …): the
    /// capture must go through the gateway that authorized.
    pub gateway: String,
    /// The gateway's own reference (a Stripe PaymentIntent id); `None`
    /// until the gateway has given one.
    pub gateway_payment_ref: Option<String>,
    pub currency: Currency,
    /// The hold currently open (or, after an off-session charge, the amount
    /// charged).
    pub authorized_minor: i64,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub state: PaymentState,
    pub card: Option<CardSummary>,
    pub charger_id: ChargerId,
    pub connector_id: ConnectorId,
    /// Linked when the session starts; a hold without one is released by
    /// the sweeper.
    pub session_id: Option<SessionId>,
    pub account_id: Option<String>,
    pub terminal_id: Option<String>,
    pub hold_limit_policy: HoldLimitPolicy,
    #[serde(skip)]
    pub receipt_token: ReceiptToken,
    /// The driver's language (ISO 639-1, e.g. `es`) for pages and receipts.
    pub language: String,
    /// The OCPP id tag Joule sent with the remote start of a web payment:
    /// the charger authorizes and starts with it, which is how the session
    /// is found to belong to this payment. `None` for other channels.
    pub id_tag: Option<IdToken>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Payment {
    pub fn authorized(&self) -> Money {
        Money::from_minor(self.authorized_minor, self.currency)
    }

    pub fn captured(&self) -> Money {
        Money::from_minor(self.captured_minor, self.currency)
    }

    pub fn refunded(&self) -> Money {
        Money::from_minor(self.refunded_minor, self.currency)
    }

    /// What a refund may still give back.
    pub fn refundable_minor(&self) -> i64 {
        (self.captured_minor - self.refunded_minor).max(0)
    }

    pub fn refund_state(&self) -> RefundState {
        if self.refunded_minor <= 0 {
            RefundState::None
        } else if self.refunded_minor < self.captured_minor {
            RefundState::Partial
        } else {
            RefundState::Full
        }
    }
}

/// A payment to record, in state `Created` with nothing held.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPayment {
    pub id: PaymentId,
    pub channel: PaymentChannel,
    pub gateway: String,
    pub gateway_payment_ref: Option<String>,
    pub currency: Currency,
    pub card: Option<CardSummary>,
    pub charger_id: ChargerId,
    pub connector_id: ConnectorId,
    pub account_id: Option<String>,
    pub terminal_id: Option<String>,
    pub hold_limit_policy: HoldLimitPolicy,
    pub receipt_token: ReceiptToken,
    pub language: String,
    pub id_tag: Option<IdToken>,
    pub created_at: DateTime<Utc>,
}

impl NewPayment {
    /// The payment as it is first stored.
    pub fn into_payment(self) -> Payment {
        Payment {
            id: self.id,
            channel: self.channel,
            gateway: self.gateway,
            gateway_payment_ref: self.gateway_payment_ref,
            currency: self.currency,
            authorized_minor: 0,
            captured_minor: 0,
            refunded_minor: 0,
            state: PaymentState::Created,
            card: self.card,
            charger_id: self.charger_id,
            connector_id: self.connector_id,
            session_id: None,
            account_id: self.account_id,
            terminal_id: self.terminal_id,
            hold_limit_policy: self.hold_limit_policy,
            receipt_token: self.receipt_token,
            language: self.language,
            id_tag: self.id_tag,
            created_at: self.created_at,
            updated_at: self.created_at,
        }
    }
}

/// A payment with the history of its gateway steps, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentDetail {
    pub payment: Payment,
    pub steps: Vec<PaymentStep>,
    /// Set when Joule could not bring the payment to its end by itself
    /// (issue 9): an operator must look at it.
    pub flag: Option<PaymentFlag>,
}

/// Why a payment needs an operator: the one end besides captured and
/// voided (docs/payments.md, "Flagged for an operator"). The workers leave
/// a flagged payment alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentFlag {
    /// Machine-readable: `capture_failed`, `cost_unavailable`.
    pub reason: String,
    /// What happened, for the operator (the gateway's code and message).
    pub detail: String,
    pub flagged_at: DateTime<Utc>,
}

/// Filters for listing payments (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub state: Option<PaymentState>,
    pub channel: Option<PaymentChannel>,
    pub charger_id: Option<ChargerId>,
    pub session_id: Option<SessionId>,
    /// `Some(true)`: only payments flagged for an operator.
    pub flagged: Option<bool>,
}

/// Why the sweeper must close a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleHoldReason {
    /// No session was linked: the car never plugged in or the charger
    /// refused. The hold must be voided.
    SessionNeverStarted,
    /// The session ended and nothing captured the hold: capture the final
    /// cost (or void when it is zero).
    SessionEnded,
}

/// An open hold the sweeper must capture or void.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleHold {
    pub payment: Payment,
    pub reason: StaleHoldReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for c in PaymentChannel::ALL {
            assert_eq!(PaymentChannel::parse(c.as_str()), Some(c));
        }
        for s in PaymentState::ALL {
            assert_eq!(PaymentState::parse(s.as_str()), Some(s));
        }
        assert_eq!(PaymentState::parse("refunded"), None);
    }
}
