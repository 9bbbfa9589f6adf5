//! The remote start that puts a hold to use (issue 9): what Joule asked of
//! the charger, so that one hold gets one start and a refusal is only
//! taken as "nothing will ever start" when no earlier attempt can have
//! started the charger.
//!
//! Every attempt is recorded as `sending` before the command goes out (by
//! the holder of the payment's claim) and with its answer after. A
//! `sending` found at the next attempt is an attempt whose answer was lost
//! (a crash): it may have started the charger.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::id::PaymentId;

/// Where the latest attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartStatus {
    /// Recorded before the command was sent; no answer yet.
    Sending,
    /// The charger accepted: its StartTransaction links the session.
    Accepted,
    /// The charger answered no (busy, faulted, already charging).
    Refused,
    /// The charger was not connected: the command never left Joule.
    Unreachable,
    /// Sent, but no answer came (time-out, connection lost): it may have
    /// started.
    Unanswered,
}

impl StartStatus {
    pub const ALL: [StartStatus; 5] = [
        Self::Sending,
        Self::Accepted,
        Self::Refused,
        Self::Unreachable,
        Self::Unanswered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Accepted => "accepted",
            Self::Refused => "refused",
            Self::Unreachable => "unreachable",
            Self::Unanswered => "unanswered",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for StartStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The remote starts of one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteStart {
    pub payment_id: PaymentId,
    pub status: StartStatus,
    /// Commands sent (or about to be) so far.
    pub attempts: u32,
    /// Whether some attempt may have started the charger: one was
    /// accepted, went unanswered, or was left `sending` by a crash. Never
    /// goes back to false.
    pub may_have_started: bool,
    pub first_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RemoteStart {
    /// The record after `status` is reported for the payment whose record
    /// was `prior`.
    pub fn next(
        payment_id: PaymentId,
        prior: Option<&RemoteStart>,
        status: StartStatus,
        at: DateTime<Utc>,
    ) -> RemoteStart {
        let mut may_have_started = prior.is_some_and(|p| p.may_have_started);
        let mut attempts = prior.map_or(0, |p| p.attempts);
        match status {
            StartStatus::Sending => {
                // The previous attempt never got its answer recorded.
                if prior.is_some_and(|p| p.status == StartStatus::Sending) {
                    may_have_started = true;
                }
                attempts = attempts.saturating_add(1);
            }
            StartStatus::Accepted | StartStatus::Unanswered => may_have_started = true,
            StartStatus::Refused | StartStatus::Unreachable => {}
        }
        RemoteStart {
            payment_id,
            status,
            attempts,
            may_have_started,
            first_at: prior.map_or(at, |p| p.first_at),
            updated_at: at,
        }
    }

    /// Whether another start may be sent: never after one was accepted
    /// (that start's session is coming, or the sweeper releases the hold),
    /// nor after a refusal (the charger said no; the hold is released or
    /// left to the sweeper).
    pub fn may_send_again(&self) -> bool {
        matches!(
            self.status,
            StartStatus::Sending | StartStatus::Unreachable | StartStatus::Unanswered
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn walk(statuses: &[StartStatus]) -> RemoteStart {
        let id = PaymentId::new_v7();
        let mut r: Option<RemoteStart> = None;
        for (i, s) in statuses.iter().enumerate() {
            r = Some(RemoteStart::next(id, r.as_ref(), *s, at(i as i64)));
        }
        r.unwrap()
    }

    #[test]
    fn a_refusal_of_the_first_attempt_means_nothing_started() {
        use StartStatus::*;
        let r = walk(&[Sending, Refused]);
        assert!(!r.may_have_started);
        assert_eq!(r.attempts, 1);
        assert!(!r.may_send_again());
    }

    #[test]
    fn offline_attempts_start_nothing_and_may_be_repeated() {
        use StartStatus::*;
        let r = walk(&[Sending, Unreachable, Sending, Unreachable]);
        assert!(!r.may_have_started);
        assert_eq!(r.attempts, 2);
        assert!(r.may_send_again());
        let refused = walk(&[Sending, Unreachable, Sending, Refused]);
        assert!(!refused.may_have_started);
    }

    #[test]
    fn a_lost_answer_or_a_time_out_may_have_started_the_charger() {
        use StartStatus::*;
        assert!(walk(&[Sending, Sending, Refused]).may_have_started);
        assert!(walk(&[Sending, Unanswered, Sending, Refused]).may_have_started);
        let accepted = walk(&[Sending, Accepted]);
        assert!(accepted.may_have_started);
        assert!(!accepted.may_send_again());
        assert_eq!(accepted.first_at, at(0));
    }
}
