//! Gateway steps of a payment: each call to a gateway, recorded as intended
//! before the call and as finished after it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::id::PaymentId;
use crate::payments::card::CardSummary;
use crate::payments::idempotency::IdempotencyKey;

/// Which gateway operation a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Place a hold (pre-authorization) of `amount_minor`.
    Authorize,
    /// Grow the open hold by `amount_minor` (the delta, not the new total).
    IncrementAuthorization,
    /// Take `amount_minor` (at most the hold) and release the rest.
    Capture,
    /// Release the whole hold; `amount_minor` is the hold released.
    Void,
    /// Give back `amount_minor` of what was captured.
    Refund,
    /// Charge a stored card without the driver present (accounts):
    /// authorized and captured in one call.
    ChargeOffSession,
}

impl StepKind {
    pub const ALL: [StepKind; 6] = [
        Self::Authorize,
        Self::IncrementAuthorization,
        Self::Capture,
        Self::Void,
        Self::Refund,
        Self::ChargeOffSession,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::IncrementAuthorization => "increment_authorization",
            Self::Capture => "capture",
            Self::Void => "void",
            Self::Refund => "refund",
            Self::ChargeOffSession => "charge_off_session",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller asks to do; [`super::plan`] turns it into an intended
/// step or says why not. A void carries no amount: it always releases the
/// whole open hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepRequest {
    Authorize {
        amount_minor: i64,
    },
    IncrementAuthorization {
        by_minor: i64,
    },
    Capture {
        amount_minor: i64,
    },
    Void,
    /// Release a hold nobody used (the sweeper, a refused start): refused
    /// once a session is linked, so a late StartTransaction and the
    /// release cannot both win (issue 9).
    VoidUnused,
    Refund {
        amount_minor: i64,
    },
    ChargeOffSession {
        amount_minor: i64,
    },
}

impl StepRequest {
    pub fn kind(self) -> StepKind {
        match self {
            Self::Authorize { .. } => StepKind::Authorize,
            Self::IncrementAuthorization { .. } => StepKind::IncrementAuthorization,
            Self::Capture { .. } => StepKind::Capture,
            Self::Void | Self::VoidUnused => StepKind::Void,
            Self::Refund { .. } => StepKind::Refund,
            Self::ChargeOffSession { .. } => StepKind::ChargeOffSession,
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum StepStatus {
    /// Recorded before the gateway call; the call may or may not have
    /// reached the gateway. The recovery worker finishes it by repeating
    /// the call with the same idempotency key.
    Intended,
    Succeeded,
    /// The gateway said no (declined, expired hold, …). `code` is the
    /// gateway's machine-readable reason.
    Failed {
        code: String,
        message: String,
    },
}

impl StepStatus {
    pub fn is_finished(&self) -> bool {
        !matches!(self, Self::Intended)
    }
}

/// One gateway call of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentStep {
    pub payment_id: PaymentId,
    /// 1, 2, 3, … per payment, in the order the steps were intended.
    pub seq: u32,
    pub kind: StepKind,
    pub amount_minor: i64,
    /// `joule:{payment id}:{kind}:{seq}`: the same on every retry of this
    /// step, different for every other step.
    pub idempotency_key: IdempotencyKey,
    pub status: StepStatus,
    /// The gateway's reference for what the step did (a refund id, the
    /// PaymentIntent id of an authorization).
    pub gateway_ref: Option<String>,
    pub intended_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl PaymentStep {
    /// The gateway idempotency key of step `seq` of `kind` on `payment`.
    pub fn key_for(payment: PaymentId, kind: StepKind, seq: u32) -> IdempotencyKey {
        IdempotencyKey::derive(payment, format_args!("{kind}:{seq}"))
    }

    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
}

/// What the gateway answered when the step succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepSuccess {
    pub gateway_ref: Option<String>,
    /// The card as the gateway describes it (brand, last 4), when this step
    /// is the one that first learns it.
    pub card: Option<CardSummary>,
}

/// What the gateway answered when it refused the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub code: String,
    pub message: String,
}

/// How a step ended, as reported to the store.
///
/// Two reports are *the same outcome* (so finishing twice is harmless)
/// when both succeeded with the same gateway reference (or the second one
/// gives none), or both failed with the same code: gateways reword
/// messages between retries, but not codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    Succeeded(StepSuccess),
    Failed(StepFailure),
}

impl StepOutcome {
    pub fn succeeded(gateway_ref: Option<String>) -> Self {
        Self::Succeeded(StepSuccess {
            gateway_ref,
            card: None,
        })
    }

    pub fn failed(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Failed(StepFailure {
            code: code.into(),
            message: message.into(),
        })
    }

    /// Whether this outcome is what `step` (already finished) recorded.
    pub fn matches(&self, step: &PaymentStep) -> bool {
        match (self, &step.status) {
            (Self::Succeeded(s), StepStatus::Succeeded) => {
                s.gateway_ref.is_none() || s.gateway_ref == step.gateway_ref
            }
            (Self::Failed(f), StepStatus::Failed { code, .. }) => f.code == *code,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_derived_from_payment_kind_and_seq() {
        let p = PaymentId::parse("01936f3e-0000-7000-8000-000000000001").unwrap();
        assert_eq!(
            PaymentStep::key_for(p, StepKind::Capture, 3).as_str(),
            "joule:01936f3e-0000-7000-8000-000000000001:capture:3"
        );
        assert_ne!(
            PaymentStep::key_for(p, StepKind::Capture, 3),
            PaymentStep::key_for(p, StepKind::Capture, 4)
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in StepKind::ALL {
            assert_eq!(StepKind::parse(k.as_str()), Some(k));
        }
    }
}
