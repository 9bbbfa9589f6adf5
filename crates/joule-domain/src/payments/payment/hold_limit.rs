//! The hold-limit rule (issue 4, point 5; docs/payments.md, "Hold
//! limits"): what to do when a session's running cost nears the card hold
//! that pays for it. Pure: the payment service reads the cost and the
//! gateway's capabilities, asks [`decide`], and carries the answer out.
//!
//! The rule acts one meter interval early: when `cost + margin ≥ hold`,
//! where the margin is the larger of the tariff's `hold_margin_minor` and
//! what the last meter interval cost. If no interval costs more than the
//! margin, the cost at the moment Joule acts is still below the hold, so a
//! stopped session never costs more than the hold and a raised hold is
//! raised before the cost passes it. Whatever happens, the capture is capped
//! at the hold (`settle_session`), and increments never pass the maximum the
//! driver agreed to on the pay page: the driver never pays more than they
//! consented to.

use crate::pricing::HoldLimitPolicy;
use crate::pricing::TariffExtensions;

/// A tariff's hold-limit settings, resolved for one payment, in minor
/// units of the hold's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimits {
    pub policy: HoldLimitPolicy,
    /// What one increment adds (at least 1).
    pub increment_minor: i64,
    /// The most the hold may grow to: the driver's consent. Increments
    /// never pass it.
    pub max_minor: i64,
    /// The least headroom kept below the hold.
    pub margin_minor: i64,
}

impl HoldLimits {
    /// From the tariff's extensions, the payment's (snapshotted) policy and
    /// the hold first authorized. Defaults: increments of the first hold,
    /// no margin beyond the observed one, and no increments at all without
    /// a maximum (a hold cannot grow past what the driver agreed to).
    pub fn from_extensions(
        policy: HoldLimitPolicy,
        extensions: &TariffExtensions,
        first_hold_minor: i64,
    ) -> Self {
        Self {
            policy,
            increment_minor: extensions
                .hold_increment_minor
                .unwrap_or(first_hold_minor)
                .max(1),
            max_minor: extensions
                .hold_max_minor
                .unwrap_or(first_hold_minor)
                .max(first_hold_minor),
            margin_minor: extensions.hold_margin_minor.unwrap_or(0).max(0),
        }
    }
}

/// A session with an open hold, as it stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldReading {
    /// The hold open now (after any increments).
    pub hold_minor: i64,
    /// The running cost including VAT, now.
    pub cost_minor: i64,
    /// What the last meter interval added to the cost (0 when unknown).
    pub last_interval_minor: i64,
    /// Whether the payment's gateway can raise a hold at all.
    pub supports_increment: bool,
}

/// Why a session is stopped at its hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The tariff says stop at the hold.
    HoldReached,
    /// The tariff says increment, but the payment's gateway cannot.
    IncrementUnsupported,
    /// The hold is at the maximum the driver agreed to (or one more
    /// increment would pass it).
    MaxHoldReached,
    /// The gateway refused (or did not answer) the increment.
    IncrementRefused,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HoldReached => "hold_reached",
            Self::IncrementUnsupported => "increment_unsupported",
            Self::MaxHoldReached => "max_hold_reached",
            Self::IncrementRefused => "increment_refused",
        }
    }
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldAction {
    /// The next meter interval fits in the hold.
    WithinHold,
    /// Raise the hold to `new_total_minor` (more than the cost plus the
    /// margin, at most the maximum).
    Increment { new_total_minor: i64 },
    /// Stop the session (a `StopCharging` command).
    Stop(StopReason),
}

/// The margin kept below the hold: the tariff's, or the last interval's
/// cost when that was more.
pub fn margin(limits: &HoldLimits, reading: &HoldReading) -> i64 {
    limits.margin_minor.max(reading.last_interval_minor).max(0)
}

/// The rule. Acts when `cost + margin ≥ hold`; with the increment policy
/// raises the hold by whole increments until it exceeds `cost + margin`,
/// and stops instead when the maximum would not be enough.
pub fn decide(limits: &HoldLimits, reading: &HoldReading) -> HoldAction {
    let hold = reading.hold_minor;
    let reach = reading.cost_minor.saturating_add(margin(limits, reading));
    if reach < hold {
        return HoldAction::WithinHold;
    }
    match limits.policy {
        HoldLimitPolicy::StopSession => HoldAction::Stop(StopReason::HoldReached),
        HoldLimitPolicy::IncrementAuthorization if !reading.supports_increment => {
            HoldAction::Stop(StopReason::IncrementUnsupported)
        }
        HoldLimitPolicy::IncrementAuthorization => {
            let needed = reach.saturating_add(1);
            let step = limits.increment_minor.max(1);
            let short = needed.saturating_sub(hold);
            let steps = short.saturating_add(step - 1) / step;
            let new_total = hold
                .saturating_add(steps.saturating_mul(step))
                .min(limits.max_minor);
            if new_total < needed || new_total <= hold {
                HoldAction::Stop(StopReason::MaxHoldReached)
            } else {
                HoldAction::Increment {
                    new_total_minor: new_total,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limits(policy: HoldLimitPolicy) -> HoldLimits {
        HoldLimits {
            policy,
            increment_minor: 1000,
            max_minor: 4000,
            margin_minor: 50,
        }
    }

    fn reading(hold: i64, cost: i64, last: i64) -> HoldReading {
        HoldReading {
            hold_minor: hold,
            cost_minor: cost,
            last_interval_minor: last,
            supports_increment: true,
        }
    }

    #[test]
    fn acts_one_interval_early() {
        let l = limits(HoldLimitPolicy::StopSession);
        // 2.00 EUR hold, 0.50 EUR margin from the last interval.
        assert_eq!(decide(&l, &reading(200, 149, 50)), HoldAction::WithinHold);
        assert_eq!(
            decide(&l, &reading(200, 150, 50)),
            HoldAction::Stop(StopReason::HoldReached)
        );
        // The tariff's margin when the interval cost less.
        assert_eq!(decide(&l, &reading(200, 149, 10)), HoldAction::WithinHold);
        assert_eq!(
            decide(&l, &reading(200, 150, 10)),
            HoldAction::Stop(StopReason::HoldReached)
        );
        // The interval's cost when it is more than the tariff's margin.
        assert_eq!(
            decide(&l, &reading(200, 120, 80)),
            HoldAction::Stop(StopReason::HoldReached)
        );
    }

    #[test]
    fn increments_by_whole_steps_up_to_the_maximum() {
        let l = limits(HoldLimitPolicy::IncrementAuthorization);
        assert_eq!(
            decide(&l, &reading(1000, 960, 30)),
            HoldAction::Increment {
                new_total_minor: 2000
            }
        );
        // A big jump needs two steps.
        assert_eq!(
            decide(&l, &reading(1000, 1900, 200)),
            HoldAction::Increment {
                new_total_minor: 3000
            }
        );
        // Capped at the maximum, when that is still enough.
        assert_eq!(
            decide(&l, &reading(3000, 3900, 50)),
            HoldAction::Increment {
                new_total_minor: 4000
            }
        );
        // At the maximum: stop.
        assert_eq!(
            decide(&l, &reading(4000, 3950, 50)),
            HoldAction::Stop(StopReason::MaxHoldReached)
        );
        // The maximum would not cover the next interval: stop now.
        assert_eq!(
            decide(&l, &reading(3000, 3960, 50)),
            HoldAction::Stop(StopReason::MaxHoldReached)
        );
        // A gateway that cannot increment.
        let mut r = reading(1000, 960, 30);
        r.supports_increment = false;
        assert_eq!(
            decide(&l, &r),
            HoldAction::Stop(StopReason::IncrementUnsupported)
        );
    }

    #[test]
    fn defaults_come_from_the_first_hold() {
        let ext = TariffExtensions {
            hold_amount_minor: Some(2000),
            ..TariffExtensions::default()
        };
        let l = HoldLimits::from_extensions(HoldLimitPolicy::IncrementAuthorization, &ext, 2000);
        assert_eq!(
            (l.increment_minor, l.max_minor, l.margin_minor),
            (2000, 2000, 0)
        );
        // Without a maximum there is no consent to grow: stop.
        assert_eq!(
            decide(&l, &reading(2000, 1990, 20)),
            HoldAction::Stop(StopReason::MaxHoldReached)
        );
        let ext = TariffExtensions {
            hold_increment_minor: Some(500),
            hold_max_minor: Some(6000),
            hold_margin_minor: Some(100),
            ..ext
        };
        let l = HoldLimits::from_extensions(HoldLimitPolicy::IncrementAuthorization, &ext, 2000);
        assert_eq!(
            (l.increment_minor, l.max_minor, l.margin_minor),
            (500, 6000, 100)
        );
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        let l = HoldLimits {
            policy: HoldLimitPolicy::IncrementAuthorization,
            increment_minor: i64::MAX,
            max_minor: i64::MAX,
            margin_minor: i64::MAX,
        };
        let r = reading(i64::MAX - 1, i64::MAX, i64::MAX);
        assert!(matches!(
            decide(&l, &r),
            HoldAction::Stop(_) | HoldAction::Increment { .. }
        ));
    }

    /// A session simulated sample by sample: the cost rises by `rises`; at
    /// each sample the rule decides; the gateway accepts or refuses each
    /// increment; after a stop the charger may still deliver `after_stop`.
    struct Run {
        hold: i64,
        final_cost: i64,
        captured: i64,
        consented: i64,
        increments: u32,
        crossings: u32,
    }

    fn simulate(
        l: &HoldLimits,
        first_hold: i64,
        supports: bool,
        rises: &[i64],
        accepts: &[bool],
        after_stop: i64,
    ) -> Run {
        let consented = match l.policy {
            HoldLimitPolicy::StopSession => first_hold,
            HoldLimitPolicy::IncrementAuthorization => l.max_minor.max(first_hold),
        };
        let (mut hold, mut cost, mut increments, mut crossings) = (first_hold, 0i64, 0u32, 0u32);
        let mut stopped = false;
        // The first check is at the start (cost 0), then one per sample.
        for (i, rise) in std::iter::once(&0).chain(rises).enumerate() {
            cost += rise;
            let r = HoldReading {
                hold_minor: hold,
                cost_minor: cost,
                last_interval_minor: *rise,
                supports_increment: supports,
            };
            match decide(l, &r) {
                HoldAction::WithinHold => {}
                HoldAction::Increment { new_total_minor } => {
                    crossings += 1;
                    assert!(new_total_minor > hold && new_total_minor <= consented);
                    if accepts.get(i).copied().unwrap_or(true) {
                        hold = new_total_minor;
                        increments += 1;
                    } else {
                        stopped = true;
                    }
                }
                HoldAction::Stop(_) => {
                    crossings += 1;
                    stopped = true;
                }
            }
            if stopped {
                cost += after_stop;
                break;
            }
        }
        Run {
            hold,
            final_cost: cost,
            captured: cost.min(hold),
            consented,
            increments,
            crossings,
        }
    }

    fn any_limits() -> impl Strategy<Value = (HoldLimits, i64)> {
        (
            prop::sample::select(vec![
                HoldLimitPolicy::StopSession,
                HoldLimitPolicy::IncrementAuthorization,
            ]),
            1i64..3000,
            100i64..5000,
            0i64..10_000,
            0i64..300,
        )
            .prop_map(|(policy, step, first, extra_max, margin)| {
                (
                    HoldLimits {
                        policy,
                        increment_minor: step,
                        max_minor: first + extra_max,
                        margin_minor: margin,
                    },
                    first,
                )
            })
    }

    proptest! {
        /// Whatever the costs, the gateway's answers and what the charger
        /// delivers after the stop: the capture never passes the hold ever
        /// consented to (the first hold, or the maximum agreed for
        /// increments), increments never pass that maximum, and each
        /// increment answers a threshold crossing.
        #[test]
        fn the_driver_never_pays_more_than_consented(
            (l, first) in any_limits(),
            supports in any::<bool>(),
            rises in prop::collection::vec(0i64..800, 1..80),
            accepts in prop::collection::vec(any::<bool>(), 0..80),
            after_stop in 0i64..2000,
        ) {
            let run = simulate(&l, first, supports, &rises, &accepts, after_stop);
            prop_assert!(run.captured <= run.consented);
            prop_assert!(run.captured <= run.hold);
            prop_assert!(run.hold <= run.consented);
            prop_assert!(run.increments <= run.crossings);
        }

        /// When no meter interval costs more than the margin and the charger
        /// stops at once, the session never costs more than its hold: the
        /// driver pays the whole cost and nothing is given away.
        #[test]
        fn a_margin_that_covers_each_interval_keeps_the_cost_within_the_hold(
            (l, first) in any_limits(),
            supports in any::<bool>(),
            rises in prop::collection::vec(0i64..300, 1..80),
            accepts in prop::collection::vec(any::<bool>(), 0..80),
        ) {
            let l = HoldLimits { margin_minor: 300, ..l };
            let run = simulate(&l, first, supports, &rises, &accepts, 0);
            prop_assert!(run.final_cost < run.hold, "cost {} hold {}", run.final_cost, run.hold);
            prop_assert_eq!(run.captured, run.final_cost);
        }
    }
}
