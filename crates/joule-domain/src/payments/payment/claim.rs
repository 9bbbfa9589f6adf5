//! Who may act on a payment now: one owner at a time (issue 9).
//!
//! Several actors can reach the same payment: the request path (the pay
//! page's confirm, a terminal's report, an account charge, a refund, a
//! debt settlement), the outbox consumer settling a session, the recovery
//! worker, the sweeper, a gateway webhook and the hold watch. Each acts
//! only while it holds the payment's claim, which the store grants
//! atomically ([`may_claim`]) and checks again in the same transaction as
//! every state change ([`check_holder`]). A second actor therefore can
//! neither repeat what the first did (two remote starts for one hold) nor
//! undo it (void the hold of a running session).
//!
//! A claim lapses at `expires_at`, so a crashed owner's payment is taken
//! over by recovery. An owner whose claim lapsed may still finish its work
//! as long as nobody took the claim over: the check is on the token, not
//! the clock, since nobody else can have acted meanwhile.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::id::PaymentId;

/// The store's entity name when a state change comes from an actor that
/// does not hold the payment's claim (`StoreError::Conflict`).
pub const CLAIM_ENTITY: &str = "payment claim";

/// One grant of a claim: random, so a lapsed owner coming back can be
/// told apart from the actor that took over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ClaimToken(Uuid);

impl ClaimToken {
    /// A fresh token for one claim (UUIDv4: 122 random bits).
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for ClaimToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which actor holds a claim; stored for the operator and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimOwner {
    /// The pay page's confirm request.
    Confirm,
    /// A terminal reporting its hold.
    TerminalReport,
    /// An operator's refund request.
    Refund,
    /// The off-session charge of an account's session, or a debt
    /// settlement.
    AccountCharge,
    /// The outbox consumer settling a session that ended.
    Settle,
    /// The recovery worker finishing an open step.
    Recovery,
    /// The sweeper closing a forgotten hold.
    Sweeper,
    /// A gateway webhook.
    Webhook,
    /// The hold watch raising a hold or stopping its session.
    HoldWatch,
    /// The starter: a hold authorized whose charger was not started yet.
    Starter,
}

impl ClaimOwner {
    pub const ALL: [ClaimOwner; 10] = [
        Self::Confirm,
        Self::TerminalReport,
        Self::Refund,
        Self::AccountCharge,
        Self::Settle,
        Self::Recovery,
        Self::Sweeper,
        Self::Webhook,
        Self::HoldWatch,
        Self::Starter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::TerminalReport => "terminal_report",
            Self::Refund => "refund",
            Self::AccountCharge => "account_charge",
            Self::Settle => "settle",
            Self::Recovery => "recovery",
            Self::Sweeper => "sweeper",
            Self::Webhook => "webhook",
            Self::HoldWatch => "hold_watch",
            Self::Starter => "starter",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == raw)
    }
}

impl fmt::Display for ClaimOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claim a payment has now (at most one row per payment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentClaim {
    pub payment_id: PaymentId,
    pub owner: ClaimOwner,
    pub token: ClaimToken,
    pub claimed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl PaymentClaim {
    pub fn is_live(&self, at: DateTime<Utc>) -> bool {
        self.expires_at > at
    }
}

/// What an actor asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRequest {
    pub owner: ClaimOwner,
    pub token: ClaimToken,
    pub expires_at: DateTime<Utc>,
}

/// Why a claim was not granted: another actor holds it until `until`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payment is being handled by {owner} until {until}")]
pub struct ClaimHeld {
    pub owner: ClaimOwner,
    pub until: DateTime<Utc>,
}

/// Whether `request` may take the payment whose claim is `current`: when
/// nobody holds it, the holder's claim lapsed, or the holder asks again
/// (renewal with its own token). The store writes the returned claim in
/// the transaction that read `current`.
pub fn may_claim(
    payment_id: PaymentId,
    current: Option<&PaymentClaim>,
    request: &ClaimRequest,
    at: DateTime<Utc>,
) -> Result<PaymentClaim, ClaimHeld> {
    match current {
        Some(c) if c.token != request.token && c.is_live(at) => Err(ClaimHeld {
            owner: c.owner,
            until: c.expires_at,
        }),
        _ => Ok(PaymentClaim {
            payment_id,
            owner: request.owner,
            token: request.token,
            claimed_at: at,
            expires_at: request.expires_at.max(at),
        }),
    }
}

/// Whether the actor with `token` may change the payment whose claim is
/// `current`: only the holder may, lapsed or not, as long as nobody took
/// the claim over (then nobody else can have acted meanwhile).
pub fn check_holder(current: Option<&PaymentClaim>, token: &ClaimToken) -> bool {
    current.is_some_and(|c| c.token == *token)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn request(owner: ClaimOwner, until: i64) -> ClaimRequest {
        ClaimRequest {
            owner,
            token: ClaimToken::new(),
            expires_at: at(until),
        }
    }

    #[test]
    fn a_free_payment_is_granted() {
        let id = PaymentId::new_v7();
        let r = request(ClaimOwner::Confirm, 60);
        let c = may_claim(id, None, &r, at(0)).unwrap();
        assert_eq!((c.owner, c.token, c.expires_at), (r.owner, r.token, at(60)));
        assert!(check_holder(Some(&c), &r.token));
        assert!(!check_holder(Some(&c), &ClaimToken::new()));
        assert!(!check_holder(None, &r.token));
    }

    #[test]
    fn a_live_claim_keeps_others_out_until_it_lapses() {
        let id = PaymentId::new_v7();
        let confirm = request(ClaimOwner::Confirm, 60);
        let held = may_claim(id, None, &confirm, at(0)).unwrap();
        let recovery = request(ClaimOwner::Recovery, 120);
        assert_eq!(
            may_claim(id, Some(&held), &recovery, at(59)),
            Err(ClaimHeld {
                owner: ClaimOwner::Confirm,
                until: at(60)
            })
        );
        let taken = may_claim(id, Some(&held), &recovery, at(60)).unwrap();
        assert_eq!(taken.owner, ClaimOwner::Recovery);
        // The lapsed owner can no longer change anything.
        assert!(!check_holder(Some(&taken), &confirm.token));
    }

    #[test]
    fn the_holder_renews_and_a_lapsed_holder_still_holds_until_taken_over() {
        let id = PaymentId::new_v7();
        let r = request(ClaimOwner::Settle, 10);
        let c = may_claim(id, None, &r, at(0)).unwrap();
        let renewed = may_claim(
            id,
            Some(&c),
            &ClaimRequest {
                expires_at: at(5) + Duration::seconds(30),
                ..r
            },
            at(5),
        )
        .unwrap();
        assert_eq!(renewed.expires_at, at(35));
        assert!(!renewed.is_live(at(35)));
        assert!(check_holder(Some(&renewed), &r.token));
    }

    #[test]
    fn owners_round_trip() {
        for o in ClaimOwner::ALL {
            assert_eq!(ClaimOwner::parse(o.as_str()), Some(o));
        }
    }
}
