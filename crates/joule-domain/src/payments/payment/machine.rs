//! The payment state machine: which step may be intended now ([`plan`]),
//! and what a finished step does to the payment ([`finish`]).
//!
//! Both are pure functions of the payment and its steps. The store calls
//! them inside the transaction that writes their result, so the rules hold
//! under concurrency: at most one unfinished step per payment, a capture
//! never above the hold, one capture at most, a void only of an uncaptured
//! hold, refunds never above what was captured, and nothing at all on a
//! voided or failed payment.

use chrono::{DateTime, Utc};

use super::model::{Payment, PaymentState};
use super::step::{PaymentStep, StepKind, StepOutcome, StepRequest, StepStatus};

/// Why a step may not be intended or finished. A business "no": the caller
/// shows it (409 in the API) rather than treating it as a fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("step {seq} of this payment is still in progress")]
    StepInProgress { seq: u32 },
    #[error("the payment is {}; no gateway step may follow", state.as_str())]
    PaymentClosed { state: PaymentState },
    #[error("a {kind} step is not possible on a {} payment", state.as_str())]
    NotAllowed { kind: StepKind, state: PaymentState },
    #[error("the amount must be positive")]
    NonPositiveAmount,
    #[error("cannot capture {amount_minor}: the hold is {authorized_minor}")]
    CaptureAboveHold {
        amount_minor: i64,
        authorized_minor: i64,
    },
    #[error("cannot refund {amount_minor}: only {refundable_minor} is refundable")]
    RefundAboveCaptured {
        amount_minor: i64,
        refundable_minor: i64,
    },
    #[error("amount out of range")]
    Overflow,
    #[error("step {seq} belongs to another payment or is not the payment's open step")]
    NotOpenStep { seq: u32 },
    /// The caller does not hold the payment's claim (issue 9): another
    /// actor owns it now.
    #[error("another actor is handling this payment")]
    NotClaimHolder,
    /// A release of an unused hold after a session was linked to it.
    #[error("a session uses this hold; it is settled from that session")]
    HoldInUse,
}

/// The step that `request` becomes on `payment`, given every step recorded
/// so far (`steps`, any order): status `Intended`, the next sequence
/// number, and its idempotency key. The payment itself does not change
/// until the step is finished.
pub fn plan(
    payment: &Payment,
    steps: &[PaymentStep],
    request: StepRequest,
    at: DateTime<Utc>,
) -> Result<PaymentStep, StepError> {
    if let Some(open) = steps.iter().find(|s| !s.is_finished()) {
        return Err(StepError::StepInProgress { seq: open.seq });
    }
    let state = payment.state;
    if state.is_closed() {
        return Err(StepError::PaymentClosed { state });
    }
    let kind = request.kind();
    let not_allowed = || StepError::NotAllowed { kind, state };
    let amount_minor = match (request, state) {
        (StepRequest::Authorize { amount_minor }, PaymentState::Created)
        | (StepRequest::ChargeOffSession { amount_minor }, PaymentState::Created) => {
            positive(amount_minor)?
        }
        (StepRequest::IncrementAuthorization { by_minor }, PaymentState::Authorized) => {
            let by = positive(by_minor)?;
            payment
                .authorized_minor
                .checked_add(by)
                .ok_or(StepError::Overflow)?;
            by
        }
        (StepRequest::Capture { amount_minor }, PaymentState::Authorized) => {
            let amount = positive(amount_minor)?;
            if amount > payment.authorized_minor {
                return Err(StepError::CaptureAboveHold {
                    amount_minor: amount,
                    authorized_minor: payment.authorized_minor,
                });
            }
            amount
        }
        (StepRequest::Void, PaymentState::Authorized) => payment.authorized_minor,
        (StepRequest::VoidUnused, PaymentState::Authorized) => {
            if payment.session_id.is_some() {
                return Err(StepError::HoldInUse);
            }
            payment.authorized_minor
        }
        (StepRequest::Refund { amount_minor }, PaymentState::Captured) => {
            let amount = positive(amount_minor)?;
            if amount > payment.refundable_minor() {
                return Err(StepError::RefundAboveCaptured {
                    amount_minor: amount,
                    refundable_minor: payment.refundable_minor(),
                });
            }
            amount
        }
        _ => return Err(not_allowed()),
    };
    let seq = steps
        .iter()
        .map(|s| s.seq)
        .max()
        .unwrap_or(0)
        .checked_add(1)
        .ok_or(StepError::Overflow)?;
    Ok(PaymentStep {
        payment_id: payment.id,
        seq,
        kind,
        amount_minor,
        idempotency_key: PaymentStep::key_for(payment.id, kind, seq),
        status: StepStatus::Intended,
        gateway_ref: None,
        intended_at: at,
        finished_at: None,
    })
}

fn positive(amount: i64) -> Result<i64, StepError> {
    if amount > 0 {
        Ok(amount)
    } else {
        Err(StepError::NonPositiveAmount)
    }
}

/// The payment and the step once `step` (the payment's open step) ended
/// with `outcome`. A failed authorization or off-session charge fails the
/// payment; any other failed step leaves the payment as it was (a failed
/// capture can be retried as a new step, a failed void leaves the hold to
/// the sweeper). Checks the invariants again, so a payment can never be
/// written with captured > authorized or refunded > captured.
pub fn finish(
    payment: &Payment,
    step: &PaymentStep,
    outcome: &StepOutcome,
    at: DateTime<Utc>,
) -> Result<(Payment, PaymentStep), StepError> {
    if step.payment_id != payment.id || step.is_finished() {
        return Err(StepError::NotOpenStep { seq: step.seq });
    }
    let mut p = payment.clone();
    let mut s = step.clone();
    s.finished_at = Some(at);
    p.updated_at = at;
    match outcome {
        StepOutcome::Failed(f) => {
            s.status = StepStatus::Failed {
                code: f.code.clone(),
                message: f.message.clone(),
            };
            if matches!(step.kind, StepKind::Authorize | StepKind::ChargeOffSession) {
                p.state = PaymentState::Failed;
            }
        }
        StepOutcome::Succeeded(ok) => {
            s.status = StepStatus::Succeeded;
            s.gateway_ref = ok.gateway_ref.clone();
            if let Some(card) = &ok.card {
                p.card = Some(card.clone());
            }
            let amount = step.amount_minor;
            match step.kind {
                StepKind::Authorize => {
                    p.state = PaymentState::Authorized;
                    p.authorized_minor = amount;
                    if p.gateway_payment_ref.is_none() {
                        p.gateway_payment_ref = ok.gateway_ref.clone();
                    }
                }
                StepKind::IncrementAuthorization => {
                    p.authorized_minor = p
                        .authorized_minor
                        .checked_add(amount)
                        .ok_or(StepError::Overflow)?;
                }
                StepKind::Capture => {
                    if amount > p.authorized_minor {
                        return Err(StepError::CaptureAboveHold {
                            amount_minor: amount,
                            authorized_minor: p.authorized_minor,
                        });
                    }
                    p.state = PaymentState::Captured;
                    p.captured_minor = amount;
                }
                StepKind::Void => {
                    p.state = PaymentState::Voided;
                }
                StepKind::Refund => {
                    if amount > p.refundable_minor() {
                        return Err(StepError::RefundAboveCaptured {
                            amount_minor: amount,
                            refundable_minor: p.refundable_minor(),
                        });
                    }
                    p.refunded_minor += amount;
                }
                StepKind::ChargeOffSession => {
                    p.state = PaymentState::Captured;
                    p.authorized_minor = amount;
                    p.captured_minor = amount;
                    if p.gateway_payment_ref.is_none() {
                        p.gateway_payment_ref = ok.gateway_ref.clone();
                    }
                }
            }
        }
    }
    Ok((p, s))
}

#[cfg(test)]
pub(super) mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::kernel::ids::{ChargerId, ConnectorId};
    use crate::kernel::money::Currency;
    use crate::payments::card::CardSummary;
    use crate::payments::payment::{
        NewPayment, PaymentChannel, PaymentId, ReceiptToken, StepSuccess,
    };
    use crate::pricing::HoldLimitPolicy;

    pub(crate) fn at(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    pub(crate) fn payment() -> Payment {
        NewPayment {
            id: PaymentId::new_v7(),
            channel: PaymentChannel::Web,
            gateway: "simulated".into(),
            gateway_payment_ref: None,
            currency: Currency::parse("EUR").unwrap(),
            card: None,
            charger_id: ChargerId::parse("CP1").unwrap(),
            connector_id: ConnectorId::new(1).unwrap(),
            account_id: None,
            terminal_id: None,
            hold_limit_policy: HoldLimitPolicy::StopSession,
            receipt_token: ReceiptToken::from_random_bytes([7; 16]),
            language: "en".into(),
            id_tag: None,
            created_at: at(0),
        }
        .into_payment()
    }

    /// Plans and finishes one step successfully, as the store would.
    fn done(p: &mut Payment, steps: &mut Vec<PaymentStep>, r: StepRequest) {
        let step = plan(p, steps, r, at(1)).unwrap();
        let (np, ns) =
            finish(p, &step, &StepOutcome::succeeded(Some("ref".into())), at(2)).unwrap();
        *p = np;
        steps.push(ns);
    }

    fn authorized(hold: i64) -> (Payment, Vec<PaymentStep>) {
        let mut p = payment();
        let mut steps = Vec::new();
        done(
            &mut p,
            &mut steps,
            StepRequest::Authorize { amount_minor: hold },
        );
        (p, steps)
    }

    #[test]
    fn authorize_then_capture_then_refund_in_parts() {
        let (mut p, mut steps) = authorized(5000);
        assert_eq!(p.state, PaymentState::Authorized);
        assert_eq!(p.authorized_minor, 5000);
        assert_eq!(p.gateway_payment_ref.as_deref(), Some("ref"));
        done(
            &mut p,
            &mut steps,
            StepRequest::Capture { amount_minor: 1234 },
        );
        assert_eq!((p.state, p.captured_minor), (PaymentState::Captured, 1234));
        done(
            &mut p,
            &mut steps,
            StepRequest::Refund { amount_minor: 234 },
        );
        assert_eq!(
            p.refund_state(),
            crate::payments::payment::RefundState::Partial
        );
        done(
            &mut p,
            &mut steps,
            StepRequest::Refund { amount_minor: 1000 },
        );
        assert_eq!(
            p.refund_state(),
            crate::payments::payment::RefundState::Full
        );
        assert_eq!(
            plan(&p, &steps, StepRequest::Refund { amount_minor: 1 }, at(3)),
            Err(StepError::RefundAboveCaptured {
                amount_minor: 1,
                refundable_minor: 0
            })
        );
        let seqs: Vec<u32> = steps.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        assert_eq!(
            steps[1].idempotency_key,
            PaymentStep::key_for(p.id, StepKind::Capture, 2)
        );
    }

    #[test]
    fn one_step_at_a_time() {
        let (p, mut steps) = authorized(5000);
        let capture = plan(&p, &steps, StepRequest::Capture { amount_minor: 10 }, at(3)).unwrap();
        steps.push(capture);
        assert_eq!(
            plan(&p, &steps, StepRequest::Void, at(4)),
            Err(StepError::StepInProgress { seq: 2 })
        );
    }

    #[test]
    fn capture_at_most_the_hold_and_only_once() {
        let (mut p, mut steps) = authorized(5000);
        assert_eq!(
            plan(
                &p,
                &steps,
                StepRequest::Capture { amount_minor: 5001 },
                at(3)
            ),
            Err(StepError::CaptureAboveHold {
                amount_minor: 5001,
                authorized_minor: 5000
            })
        );
        done(
            &mut p,
            &mut steps,
            StepRequest::Capture { amount_minor: 5000 },
        );
        assert_eq!(
            plan(&p, &steps, StepRequest::Capture { amount_minor: 1 }, at(3)),
            Err(StepError::NotAllowed {
                kind: StepKind::Capture,
                state: PaymentState::Captured
            })
        );
    }

    #[test]
    fn increment_grows_the_hold() {
        let (mut p, mut steps) = authorized(5000);
        done(
            &mut p,
            &mut steps,
            StepRequest::IncrementAuthorization { by_minor: 2500 },
        );
        assert_eq!(p.authorized_minor, 7500);
        assert!(plan(
            &p,
            &steps,
            StepRequest::Capture { amount_minor: 7500 },
            at(3)
        )
        .is_ok());
        assert_eq!(
            plan(
                &p,
                &steps,
                StepRequest::IncrementAuthorization { by_minor: i64::MAX },
                at(3)
            ),
            Err(StepError::Overflow)
        );
    }

    #[test]
    fn void_releases_the_whole_hold_and_closes_the_payment() {
        let (mut p, mut steps) = authorized(5000);
        let void = plan(&p, &steps, StepRequest::Void, at(3)).unwrap();
        assert_eq!(void.amount_minor, 5000);
        done(&mut p, &mut steps, StepRequest::Void);
        assert_eq!(p.state, PaymentState::Voided);
        for r in [
            StepRequest::Capture { amount_minor: 1 },
            StepRequest::Void,
            StepRequest::Refund { amount_minor: 1 },
            StepRequest::Authorize { amount_minor: 1 },
        ] {
            assert_eq!(
                plan(&p, &steps, r, at(4)),
                Err(StepError::PaymentClosed {
                    state: PaymentState::Voided
                })
            );
        }
    }

    #[test]
    fn an_unused_hold_is_released_only_while_no_session_uses_it() {
        let (mut p, mut steps) = authorized(5000);
        let void = plan(&p, &steps, StepRequest::VoidUnused, at(3)).unwrap();
        assert_eq!((void.kind, void.amount_minor), (StepKind::Void, 5000));
        p.session_id = Some(crate::kernel::ids::SessionId::new_v7());
        assert_eq!(
            plan(&p, &steps, StepRequest::VoidUnused, at(3)),
            Err(StepError::HoldInUse)
        );
        // The settlement of that session may still release it (nothing owed).
        assert!(plan(&p, &steps, StepRequest::Void, at(3)).is_ok());
        done(&mut p, &mut steps, StepRequest::Void);
        assert_eq!(p.state, PaymentState::Voided);
    }

    #[test]
    fn void_never_applies_to_a_captured_or_created_payment() {
        let (mut p, mut steps) = authorized(5000);
        done(
            &mut p,
            &mut steps,
            StepRequest::Capture { amount_minor: 100 },
        );
        assert!(matches!(
            plan(&p, &steps, StepRequest::Void, at(3)),
            Err(StepError::NotAllowed { .. })
        ));
        assert!(matches!(
            plan(&payment(), &[], StepRequest::Void, at(3)),
            Err(StepError::NotAllowed { .. })
        ));
    }

    #[test]
    fn a_declined_authorization_fails_the_payment() {
        let p = payment();
        let step = plan(
            &p,
            &[],
            StepRequest::Authorize { amount_minor: 5000 },
            at(1),
        )
        .unwrap();
        let (p, s) = finish(
            &p,
            &step,
            &StepOutcome::failed("card_declined", "Your card was declined."),
            at(2),
        )
        .unwrap();
        assert_eq!(p.state, PaymentState::Failed);
        assert_eq!(p.authorized_minor, 0);
        assert!(matches!(s.status, StepStatus::Failed { ref code, .. } if code == "card_declined"));
        assert_eq!(
            plan(&p, &[s], StepRequest::Authorize { amount_minor: 1 }, at(3)),
            Err(StepError::PaymentClosed {
                state: PaymentState::Failed
            })
        );
    }

    #[test]
    fn a_failed_capture_leaves_the_hold_to_retry() {
        let (p, mut steps) = authorized(5000);
        let step = plan(&p, &steps, StepRequest::Capture { amount_minor: 10 }, at(3)).unwrap();
        let (p, s) = finish(&p, &step, &StepOutcome::failed("timeout", "x"), at(4)).unwrap();
        assert_eq!(p.state, PaymentState::Authorized);
        steps.push(s);
        let retry = plan(&p, &steps, StepRequest::Capture { amount_minor: 10 }, at(5)).unwrap();
        assert_eq!(retry.seq, 3);
    }

    #[test]
    fn off_session_charge_captures_in_one_step() {
        let mut p = payment();
        let mut steps = Vec::new();
        assert!(matches!(
            plan(&p, &steps, StepRequest::Capture { amount_minor: 1 }, at(1)),
            Err(StepError::NotAllowed { .. })
        ));
        done(
            &mut p,
            &mut steps,
            StepRequest::ChargeOffSession { amount_minor: 990 },
        );
        assert_eq!(p.state, PaymentState::Captured);
        assert_eq!((p.authorized_minor, p.captured_minor), (990, 990));
        assert!(plan(&p, &steps, StepRequest::Refund { amount_minor: 990 }, at(3)).is_ok());
    }

    #[test]
    fn amounts_must_be_positive() {
        let p = payment();
        for r in [
            StepRequest::Authorize { amount_minor: 0 },
            StepRequest::ChargeOffSession { amount_minor: -5 },
        ] {
            assert_eq!(plan(&p, &[], r, at(1)), Err(StepError::NonPositiveAmount));
        }
        let (p, steps) = authorized(100);
        for r in [
            StepRequest::Capture { amount_minor: 0 },
            StepRequest::IncrementAuthorization { by_minor: 0 },
        ] {
            assert_eq!(
                plan(&p, &steps, r, at(1)),
                Err(StepError::NonPositiveAmount)
            );
        }
    }

    #[test]
    fn refund_needs_a_capture_and_authorize_happens_once() {
        let (p, steps) = authorized(100);
        assert!(matches!(
            plan(&p, &steps, StepRequest::Refund { amount_minor: 1 }, at(1)),
            Err(StepError::NotAllowed { .. })
        ));
        assert!(matches!(
            plan(
                &p,
                &steps,
                StepRequest::Authorize { amount_minor: 1 },
                at(1)
            ),
            Err(StepError::NotAllowed { .. })
        ));
        assert!(matches!(
            plan(
                &p,
                &steps,
                StepRequest::ChargeOffSession { amount_minor: 1 },
                at(1)
            ),
            Err(StepError::NotAllowed { .. })
        ));
    }

    #[test]
    fn finish_takes_only_the_open_step_and_records_the_card() {
        let p = payment();
        let step = plan(&p, &[], StepRequest::Authorize { amount_minor: 100 }, at(1)).unwrap();
        let card = CardSummary::new("visa", "4242", Some(12), Some(2030));
        let ok = StepOutcome::Succeeded(StepSuccess {
            gateway_ref: Some("pi_1".into()),
            card: card.clone(),
        });
        let (p2, s2) = finish(&p, &step, &ok, at(2)).unwrap();
        assert_eq!(p2.card, card);
        assert_eq!(s2.finished_at, Some(at(2)));
        assert_eq!(
            finish(&p2, &s2, &ok, at(3)),
            Err(StepError::NotOpenStep { seq: 1 })
        );
        let mut other = step.clone();
        other.payment_id = PaymentId::new_v7();
        assert!(finish(&p, &other, &ok, at(3)).is_err());
    }

    #[test]
    fn same_outcome_is_recognised() {
        let p = payment();
        let step = plan(&p, &[], StepRequest::Authorize { amount_minor: 100 }, at(1)).unwrap();
        let ok = StepOutcome::succeeded(Some("pi_1".into()));
        let (_, s) = finish(&p, &step, &ok, at(2)).unwrap();
        assert!(ok.matches(&s));
        assert!(StepOutcome::succeeded(None).matches(&s));
        assert!(!StepOutcome::succeeded(Some("pi_2".into())).matches(&s));
        assert!(!StepOutcome::failed("x", "y").matches(&s));
        let (_, f) = finish(&p, &step, &StepOutcome::failed("card_declined", "a"), at(2)).unwrap();
        assert!(StepOutcome::failed("card_declined", "reworded").matches(&f));
        assert!(!StepOutcome::failed("expired_card", "a").matches(&f));
    }
}
