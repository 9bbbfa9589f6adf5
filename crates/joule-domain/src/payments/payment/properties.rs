//! Property test of the state machine: whatever steps callers attempt, in
//! whatever order, with whatever gateway answers, the money invariants hold.

use proptest::prelude::*;

use super::machine::{finish, plan};
use super::model::PaymentState;
use super::step::{PaymentStep, StepKind, StepOutcome, StepRequest, StepStatus};

#[derive(Debug, Clone)]
enum Action {
    Attempt(StepRequest),
    /// Finish the open step (if any): success or a gateway refusal.
    Finish {
        ok: bool,
    },
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), Just(-1), 1i64..10_000, Just(i64::MAX)]
}

fn request() -> impl Strategy<Value = StepRequest> {
    prop_oneof![
        amount().prop_map(|amount_minor| StepRequest::Authorize { amount_minor }),
        amount().prop_map(|by_minor| StepRequest::IncrementAuthorization { by_minor }),
        amount().prop_map(|amount_minor| StepRequest::Capture { amount_minor }),
        Just(StepRequest::Void),
        amount().prop_map(|amount_minor| StepRequest::Refund { amount_minor }),
        amount().prop_map(|amount_minor| StepRequest::ChargeOffSession { amount_minor }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => request().prop_map(Action::Attempt),
        2 => any::<bool>().prop_map(|ok| Action::Finish { ok }),
    ]
}

proptest! {
    #[test]
    fn no_sequence_of_steps_breaks_the_money_invariants(
        actions in proptest::collection::vec(action(), 0..40)
    ) {
        let mut p = super::machine::tests::payment();
        let mut steps: Vec<PaymentStep> = Vec::new();
        for (i, a) in actions.into_iter().enumerate() {
            let now = super::machine::tests::at(i64::try_from(i).unwrap_or(0));
            match a {
                Action::Attempt(r) => {
                    if let Ok(step) = plan(&p, &steps, r, now) {
                        steps.push(step);
                    }
                }
                Action::Finish { ok } => {
                    if let Some(idx) = steps.iter().position(|s| !s.is_finished()) {
                        let outcome = if ok {
                            StepOutcome::succeeded(Some(format!("ref{i}")))
                        } else {
                            StepOutcome::failed("declined", "no")
                        };
                        // finish may refuse (never on a planned step), in
                        // which case nothing is written: the invariants
                        // must hold either way.
                        if let Ok((np, ns)) = finish(&p, &steps[idx], &outcome, now) {
                            p = np;
                            steps[idx] = ns;
                        }
                    }
                }
            }
            prop_assert!(p.captured_minor <= p.authorized_minor, "{p:?}");
            prop_assert!(p.refunded_minor <= p.captured_minor, "{p:?}");
            prop_assert!(p.refunded_minor >= 0 && p.captured_minor >= 0);
            let captures = steps
                .iter()
                .filter(|s| {
                    matches!(s.kind, StepKind::Capture | StepKind::ChargeOffSession)
                        && s.status == StepStatus::Succeeded
                })
                .count();
            prop_assert!(captures <= 1, "two captures: {steps:?}");
            prop_assert!(steps.iter().filter(|s| !s.is_finished()).count() <= 1);
            if p.state.is_closed() {
                prop_assert_eq!(p.captured_minor, 0);
            }
            if captures == 1 {
                prop_assert_eq!(p.state, PaymentState::Captured);
            }
            let mut keys: Vec<_> = steps.iter().map(|s| s.idempotency_key.clone()).collect();
            keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            keys.dedup();
            prop_assert_eq!(keys.len(), steps.len(), "idempotency keys must be unique");
        }
    }
}
