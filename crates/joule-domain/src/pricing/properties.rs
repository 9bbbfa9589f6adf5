//! Property tests of the engine (issue 3, point 2).
//!
//! Tariffs come in two families for which the properties hold:
//! - time of day: every element is a time-of-day window (or the fallback),
//!   so a volume's price depends only on when it was used;
//! - kWh tiers: ENERGY elements restricted by min/max kWh only, so energy's
//!   price depends only on how much was charged before.
//!
//! (Mixing kWh tiers with time windows can make more energy cheaper: energy
//! charged earlier pushes later night energy into a cheaper tier. OCPI
//! allows that tariff; no property can promise monotonicity for it.)

use chrono::Duration;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::examples::{tariff_with, timeline};
use super::*;
use crate::kernel::money::Decimal;

const ZONES: [Tz; 3] = [Tz::UTC, Tz::Europe__Berlin, Tz::America__New_York];

fn price_value(cents: u32, extra_digits: u32) -> Value {
    // A price with up to 4 decimals: 0.2345 and the like.
    json!(Decimal::new(i64::from(cents * 100 + extra_digits), 4)
        .to_string()
        .parse::<f64>()
        .unwrap())
}

fn vat() -> impl Strategy<Value = Option<f64>> {
    prop::sample::select(vec![
        None,
        Some(0.0),
        Some(7.0),
        Some(19.0),
        Some(20.0),
        Some(25.5),
    ])
}

fn component(kind: &'static str, steps: Vec<i64>) -> impl Strategy<Value = Value> {
    (0u32..90, 0u32..100, vat(), prop::sample::select(steps)).prop_map(
        move |(cents, extra, vat, step)| {
            let mut c =
                json!({"type": kind, "price": price_value(cents, extra), "step_size": step});
            if let Some(v) = vat {
                c["vat"] = json!(v);
            }
            c
        },
    )
}

fn components(steps: bool) -> impl Strategy<Value = Vec<Value>> {
    let (e, t) = if steps {
        (vec![1, 100, 500], vec![1, 60, 300, 900])
    } else {
        (vec![1], vec![1])
    };
    (
        prop::option::of(component("ENERGY", e)),
        prop::option::of(component("TIME", t.clone())),
        prop::option::of(component("PARKING_TIME", t)),
    )
        .prop_map(|(a, b, c)| [a, b, c].into_iter().flatten().collect())
}

fn hhmm(minute_of_day: u32) -> String {
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

/// Time-of-day windows (some crossing midnight), a fallback, maybe a FLAT fee.
fn time_of_day_tariff(steps: bool) -> impl Strategy<Value = Value> {
    let window = (0u32..96, 1u32..95, components(steps)).prop_map(|(start, len, mut comps)| {
        if comps.is_empty() {
            comps.push(json!({"type": "PARKING_TIME", "price": 2.0, "step_size": 1}));
        }
        let start = start * 15;
        let end = (start + len * 15) % 1440;
        json!({"price_components": comps,
               "restrictions": {"start_time": hhmm(start), "end_time": hhmm(end)}})
    });
    (
        prop::collection::vec(window, 0..3),
        components(steps),
        prop::option::of(0u32..300),
    )
        .prop_map(|(mut elements, fallback, flat)| {
            if let Some(cents) = flat {
                elements.insert(
                    0,
                    json!({"price_components": [{"type": "FLAT", "price": price_value(cents, 0), "step_size": 1}]}),
                );
            }
            let fallback = if fallback.is_empty() {
                vec![json!({"type": "ENERGY", "price": 0.3, "step_size": 1})]
            } else {
                fallback
            };
            elements.push(json!({"price_components": fallback}));
            json!({"elements": elements})
        })
}

/// ENERGY priced in kWh tiers (any order of prices), TIME/PARKING flat rates.
fn kwh_tier_tariff(steps: bool) -> impl Strategy<Value = Value> {
    let tier = (1u32..40, 1u32..40, component("ENERGY", vec![1])).prop_map(|(lo, width, c)| {
        json!({"price_components": [c],
               "restrictions": {"min_kwh": lo, "max_kwh": lo + width}})
    });
    (prop::collection::vec(tier, 0..3), components(steps)).prop_map(|(mut elements, rest)| {
        elements
            .push(json!({"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}));
        if !rest.is_empty() {
            elements.push(json!({"price_components": rest}));
        }
        json!({"elements": elements})
    })
}

fn with_caps(body: Value) -> impl Strategy<Value = Value> {
    prop::option::of((0u32..500, 500u32..5000)).prop_map(move |caps| {
        let mut b = body.clone();
        if let Some((min, max)) = caps {
            // Limits with incl_vat too, so both totals are clamped (monotone).
            let cents = |c: u32| json!(f64::from(c) / 100.0);
            b["min_price"] = json!({"excl_vat": cents(min), "incl_vat": cents(min * 6 / 5)});
            b["max_price"] = json!({"excl_vat": cents(max), "incl_vat": cents(max * 6 / 5)});
        }
        b
    })
}

fn any_tariff(steps: bool) -> impl Strategy<Value = Value> {
    prop_oneof![time_of_day_tariff(steps), kwh_tier_tariff(steps)].prop_flat_map(with_caps)
}

fn extensions() -> impl Strategy<Value = TariffExtensions> {
    (prop::sample::select(vec![0u32, 300, 900]), any::<bool>()).prop_map(|(grace, after)| {
        TariffExtensions {
            idle_grace_period_s: grace,
            idle_fee_only_after_charging_finished: after,
            hold_amount_minor: None,
            ..Default::default()
        }
    })
}

/// Charging (minutes, Wh per minute) or idle (minutes), whole Wh so that no
/// step rounding hides in the energy itself.
#[derive(Debug, Clone, Copy)]
enum Seg {
    Charge(i64, i64),
    Idle(i64),
}

fn segments() -> impl Strategy<Value = Vec<Seg>> {
    let seg = prop_oneof![
        3 => (1i64..240, 0i64..1000).prop_map(|(m, r)| Seg::Charge(m, r)),
        1 => (1i64..240).prop_map(Seg::Idle),
    ];
    prop::collection::vec(seg, 1..5)
}

fn session(zone: usize, start_minute: i64, segs: &[Seg]) -> SessionTimeline {
    let mut t = timeline(ZONES[zone], "2024-03-25T00:00:00Z", &[]);
    t.start += Duration::minutes(start_minute);
    let mut at = t.start;
    for s in segs {
        let mut p = ChargingPeriod::at(at);
        let minutes = match *s {
            Seg::Charge(m, wh_per_min) => {
                p.charging_s = Decimal::from(m * 60);
                p.energy_kwh = Decimal::new(m * wh_per_min, 3);
                m
            }
            Seg::Idle(m) => {
                p.idle_s = Decimal::from(m * 60);
                m
            }
        };
        t.periods.push(p);
        at += Duration::minutes(minutes);
    }
    t.end = at;
    t
}

fn build(body: &Value, ext: TariffExtensions) -> ValidTariff {
    tariff_with(body.clone(), ext)
}

fn totals(b: &PriceBreakdown) -> [i64; 10] {
    let a = [
        b.total_energy_cost,
        b.total_time_cost,
        b.total_parking_cost,
        b.total_fixed_cost,
        b.total_cost,
    ];
    let mut out = [0; 10];
    for (i, x) in a.iter().enumerate() {
        out[2 * i] = x.excl_vat.minor();
        out[2 * i + 1] = x.incl_vat.minor();
    }
    out
}

fn start_minute() -> impl Strategy<Value = i64> {
    // Anywhere in the week around the March DST change in Europe.
    0i64..(9 * 24 * 60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn total_never_decreases_when_energy_grows(
        body in any_tariff(false), ext in extensions(), zone in 0usize..3,
        start in start_minute(), segs in segments(), pick in any::<prop::sample::Index>(),
        more_wh in 1i64..20_000,
    ) {
        let t = build(&body, ext);
        let before = session(zone, start, &segs);
        let mut after = before.clone();
        let charging: Vec<usize> = segs.iter().enumerate()
            .filter(|(_, s)| matches!(s, Seg::Charge(..))).map(|(i, _)| i).collect();
        prop_assume!(!charging.is_empty());
        let i = charging[pick.index(charging.len())];
        after.periods[i].energy_kwh += Decimal::new(more_wh, 3);
        let (b0, b1) = (price_session(&t, &before).unwrap(), price_session(&t, &after).unwrap());
        prop_assert!(b1.total_cost.excl_vat.minor() >= b0.total_cost.excl_vat.minor());
        prop_assert!(b1.total_cost.incl_vat.minor() >= b0.total_cost.incl_vat.minor());
    }

    #[test]
    fn total_never_decreases_when_the_session_goes_on(
        body in any_tariff(false), ext in extensions(), zone in 0usize..3,
        start in start_minute(), segs in segments(), more in 1i64..300,
    ) {
        let t = build(&body, ext);
        let before = session(zone, start, &segs);
        let mut longer = segs.clone();
        if let Some(last) = longer.last_mut() {
            *last = match *last {
                Seg::Charge(m, r) => Seg::Charge(m + more, r),
                Seg::Idle(m) => Seg::Idle(m + more),
            };
        }
        let after = session(zone, start, &longer);
        let (b0, b1) = (price_session(&t, &before).unwrap(), price_session(&t, &after).unwrap());
        prop_assert!(b1.total_cost.excl_vat.minor() >= b0.total_cost.excl_vat.minor());
        prop_assert!(b1.total_cost.incl_vat.minor() >= b0.total_cost.incl_vat.minor());
    }

    /// Splitting a period at an arbitrary minute into two periods with the
    /// same rate prices exactly like the whole: the engine cuts periods at
    /// time-of-day boundaries by the same rule. Step sizes included: the
    /// total volume and the last component are the same either way.
    #[test]
    fn splitting_a_period_changes_nothing(
        body in any_tariff(true), ext in extensions(), zone in 0usize..3,
        start in start_minute(), segs in segments(), pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
    ) {
        let t = build(&body, ext);
        let i = pick.index(segs.len());
        let (first, second) = match segs[i] {
            Seg::Charge(m, r) if m > 1 => {
                let k = 1 + at.index(usize::try_from(m - 1).unwrap()) as i64;
                (Seg::Charge(k, r), Seg::Charge(m - k, r))
            }
            Seg::Idle(m) if m > 1 => {
                let k = 1 + at.index(usize::try_from(m - 1).unwrap()) as i64;
                (Seg::Idle(k), Seg::Idle(m - k))
            }
            _ => return Ok(()),
        };
        let mut split = segs.clone();
        split[i] = first;
        split.insert(i + 1, second);
        let whole = price_session(&t, &session(zone, start, &segs)).unwrap();
        let parts = price_session(&t, &session(zone, start, &split)).unwrap();
        prop_assert_eq!(totals(&whole), totals(&parts));
    }

    /// Pricing is exact: every line's volume adds up to the timeline's.
    #[test]
    fn slices_add_up_to_the_periods(
        body in any_tariff(true), zone in 0usize..3, start in start_minute(), segs in segments(),
    ) {
        let t = build(&body, TariffExtensions::default());
        let s = session(zone, start, &segs);
        let b = price_session(&t, &s).unwrap();
        let energy: Decimal = b.slices.iter().flat_map(|x| &x.lines)
            .filter(|l| l.dimension == TariffDimensionType::Energy)
            .map(|l| l.volume + l.free_volume).sum();
        prop_assert_eq!(energy, b.total_energy_kwh);
        let idle: Decimal = b.slices.iter().flat_map(|x| &x.lines)
            .filter(|l| l.dimension == TariffDimensionType::ParkingTime)
            .map(|l| l.volume + l.free_volume).sum();
        prop_assert_eq!(idle, b.total_idle_s);
    }

    /// A tariff never fails to price a well-formed timeline.
    #[test]
    fn any_valid_tariff_prices_any_timeline(
        body in any_tariff(true), ext in extensions(), zone in 0usize..3,
        start in start_minute(), segs in segments(),
    ) {
        let t = build(&body, ext);
        prop_assert!(price_session(&t, &session(zone, start, &segs)).is_ok());
    }
}
