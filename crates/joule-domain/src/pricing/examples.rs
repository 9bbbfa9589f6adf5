//! Worked examples with hand-checked totals. Where an example comes from the
//! OCPI 2.2.1 Tariffs module text, its name says so and the figures are the
//! spec's; the arithmetic is written out beside each case.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::*;
use crate::kernel::money::Decimal;

pub(super) fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub(super) fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A tariff from the OCPI JSON of its `currency`, `elements` and optional
/// `min_price`/`max_price`; identity fields are filled in.
pub(super) fn tariff_with(body: Value, extensions: TariffExtensions) -> ValidTariff {
    let mut t = json!({
        "country_code": "DE", "party_id": "JOU", "id": "T1",
        "currency": "EUR", "last_updated": "2024-01-01T00:00:00Z"
    });
    for (k, v) in body.as_object().unwrap() {
        t[k] = v.clone();
    }
    let tariff: Tariff = serde_json::from_value(t).unwrap();
    ValidTariff::new(tariff, extensions).unwrap()
}

pub(super) fn tariff(body: Value) -> ValidTariff {
    tariff_with(body, TariffExtensions::default())
}

/// A part of a session: charging for some minutes with some energy, or idle.
#[derive(Clone, Copy, Debug)]
pub(super) enum Part {
    Charge(i64, &'static str),
    Idle(i64),
}

/// Consecutive periods from `start`, in `tz`.
pub(super) fn timeline(tz: Tz, start: &str, parts: &[Part]) -> SessionTimeline {
    let start = at(start);
    let mut t = start;
    let mut periods = Vec::new();
    for part in parts {
        let mut p = ChargingPeriod::at(t);
        let minutes = match *part {
            Part::Charge(m, kwh) => {
                p.energy_kwh = dec(kwh);
                p.charging_s = Decimal::from(m * 60);
                m
            }
            Part::Idle(m) => {
                p.idle_s = Decimal::from(m * 60);
                m
            }
        };
        periods.push(p);
        t += Duration::minutes(minutes);
    }
    SessionTimeline {
        start,
        end: t,
        time_zone: tz,
        periods,
    }
}

fn money(a: &PriceAmount) -> (String, String) {
    (
        a.excl_vat.to_decimal().to_string(),
        a.incl_vat.to_decimal().to_string(),
    )
}

fn assert_total(b: &PriceBreakdown, excl: &str, incl: &str) {
    assert_eq!(
        money(&b.total_cost),
        (excl.to_owned(), incl.to_owned()),
        "{b:#?}"
    );
    // The receipt adds up: the total is the sum of the dimension totals,
    // plus the price limit adjustment.
    let sum: i64 = [
        b.total_energy_cost,
        b.total_time_cost,
        b.total_parking_cost,
        b.total_fixed_cost,
    ]
    .iter()
    .map(|a| a.excl_vat.minor())
    .sum();
    let adj = b.price_cap.map_or(0, |c| c.adjustment_excl_vat_minor);
    assert_eq!(sum + adj, b.total_cost.excl_vat.minor());
}

fn price(t: &ValidTariff, s: &SessionTimeline) -> PriceBreakdown {
    price_session(t, s).unwrap()
}

fn energy(price: &str, vat: Option<&str>, step: i64) -> Value {
    let mut c = json!({"type": "ENERGY", "price": dec(price).to_string().parse::<f64>().unwrap(), "step_size": step});
    if let Some(v) = vat {
        c["vat"] = json!(v.parse::<f64>().unwrap());
    }
    c
}

const UTC: Tz = Tz::UTC;
const BERLIN: Tz = Tz::Europe__Berlin;

fn ocpi_025_kwh(extra: Value) -> ValidTariff {
    let mut body = json!({"elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}
    ]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    tariff(body)
}

#[test]
fn ocpi_simple_025_per_kwh() {
    // 20 kWh × 0.25 = 5.00; VAT 10 % = 0.50.
    let t = tariff(json!({"elements": [{"price_components": [energy("0.25", Some("10"), 1)]}]}));
    let s = timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(60, "20")]);
    assert_total(&price(&t, &s), "5.00", "5.50");
}

#[test]
fn ocpi_flat_fee_plus_energy() {
    // FLAT 0.50 + 20 % = 0.60; energy 5.00 + 10 % = 5.50.
    let b = price(
        &ocpi_025_kwh(json!({})),
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(60, "20")]),
    );
    assert_total(&b, "5.50", "6.10");
    assert_eq!(money(&b.total_fixed_cost), ("0.50".into(), "0.60".into()));
    assert_eq!(money(&b.total_energy_cost), ("5.00".into(), "5.50".into()));
}

#[test]
fn ocpi_min_price() {
    let t = tariff(json!({
        "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
        "elements": [{"price_components": [energy("0.25", Some("10"), 1)]}]
    }));
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(60, "20")]),
    );
    assert_total(&b, "5.00", "5.50");
    assert!(b.price_cap.is_none());
    // 1 kWh: 0.25 + 0.03 VAT (0.025 rounds half up) → raised to the minimum.
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(6, "1")]),
    );
    assert_eq!(money(&b.subtotal), ("0.25".into(), "0.28".into()));
    assert_total(&b, "0.50", "0.55");
    let cap = b.price_cap.unwrap();
    assert_eq!(cap.kind, PriceCapKind::MinPrice);
    assert_eq!(
        (cap.adjustment_excl_vat_minor, cap.adjustment_incl_vat_minor),
        (25, 27)
    );
}

#[test]
fn ocpi_max_price() {
    let t = ocpi_025_kwh(json!({"max_price": {"excl_vat": 10.00, "incl_vat": 11.00}}));
    // 50 kWh: 12.50 + 0.50 = 13.00 (incl 13.75 + 0.60 = 14.35) → 10.00 / 11.00.
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(120, "50")]),
    );
    assert_total(&b, "10.00", "11.00");
    assert_eq!(b.price_cap.unwrap().kind, PriceCapKind::MaxPrice);
    // 30 kWh: 7.50 + 0.50 = 8.00; 8.25 + 0.60 = 8.85, under the limit.
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(90, "30")]),
    );
    assert_total(&b, "8.00", "8.85");
}

#[test]
fn max_price_without_incl_vat_uses_the_sessions_vat_ratio() {
    let t = tariff(json!({
        "max_price": {"excl_vat": 10.00},
        "elements": [{"price_components": [energy("0.50", Some("20"), 1)]}]
    }));
    // 40 kWh: 20.00 / 24.00 → 10.00 / 12.00.
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(60, "40")]),
    );
    assert_total(&b, "10.00", "12.00");
}

#[test]
fn ocpi_parking_fee_plus_start_fee() {
    // FLAT 0.60; energy 5.50; 40 min parking billed as 45 min at 2.00/h =
    // 1.50 + 20 % = 1.80. Total 7.00 / 7.90.
    let mut body = json!({"elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 2.00, "vat": 20.0, "step_size": 900}]}
    ]});
    body["currency"] = json!("EUR");
    let t = tariff(body);
    let b = price(
        &t,
        &timeline(
            UTC,
            "2024-05-01T10:00:00Z",
            &[Part::Charge(60, "20"), Part::Idle(40)],
        ),
    );
    assert_total(&b, "7.00", "7.90");
    assert_eq!(money(&b.total_parking_cost), ("1.50".into(), "1.80".into()));
}

#[test]
fn ocpi_3_per_hour_5_per_hour_parking() {
    // 150 min × 3.00/h = 7.50 + 10 % = 8.25; 42 min parking billed as 45 min
    // × 5.00/h = 3.75 + 20 % = 4.50. Total 11.25 / 12.75.
    let t = tariff(json!({"elements": [{"price_components": [
        {"type": "TIME", "price": 3.00, "vat": 10.0, "step_size": 60},
        {"type": "PARKING_TIME", "price": 5.00, "vat": 20.0, "step_size": 300}
    ]}]}));
    let b = price(
        &t,
        &timeline(
            UTC,
            "2024-05-01T10:00:00Z",
            &[Part::Charge(150, "30"), Part::Idle(42)],
        ),
    );
    assert_total(&b, "11.25", "12.75");
}

#[test]
fn ocpi_time_with_odd_vat() {
    // 2.5 h × 1.90 = 4.75; VAT 5.2 % = 0.247 → 0.25. Total 5.00 incl.
    let t = tariff(json!({"elements": [{"price_components": [
        {"type": "TIME", "price": 1.90, "vat": 5.2, "step_size": 300}
    ]}]}));
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(150, "20")]),
    );
    assert_total(&b, "4.75", "5.00");
}

fn ocpi_complex() -> ValidTariff {
    tariff(json!({"elements": [
        {"price_components": [{"type": "FLAT", "price": 2.50, "vat": 15.0, "step_size": 1}]},
        {"price_components": [{"type": "TIME", "price": 1.00, "vat": 20.0, "step_size": 900}],
         "restrictions": {"max_current": 32.00}},
        {"price_components": [{"type": "TIME", "price": 2.00, "vat": 20.0, "step_size": 600}],
         "restrictions": {"min_current": 32.00, "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "TIME", "price": 1.25, "vat": 20.0, "step_size": 600}],
         "restrictions": {"min_current": 32.00, "day_of_week": ["SATURDAY", "SUNDAY"]}},
        {"price_components": [{"type": "PARKING_TIME", "price": 5.00, "vat": 10.0, "step_size": 300}],
         "restrictions": {"start_time": "09:00", "end_time": "18:00", "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 10.0, "step_size": 300}],
         "restrictions": {"start_time": "10:00", "end_time": "17:00", "day_of_week": ["SATURDAY"]}}
    ]}))
}

#[test]
fn ocpi_complex_monday() {
    // Monday 09:30, 147 min at ≤ 16 A → 150 min × 1.00 = 2.50 (+20 % = 3.00);
    // 42 min parking 11:57–12:39 → 45 min × 5.00 = 3.75 (+10 % = 0.375 → 4.13);
    // FLAT 2.50 (+15 % = 0.375 → 2.88). Excl 8.75 as OCPI says. Incl: OCPI
    // writes 10.00 (VAT on the unrounded total); rounding VAT once per
    // dimension gives 2.88 + 3.00 + 4.13 = 10.01, and the receipt adds up.
    let mut s = timeline(
        BERLIN,
        "2024-05-06T07:30:00Z",
        &[Part::Charge(147, "10"), Part::Idle(42)],
    );
    s.periods[0].max_current_a = Some(dec("16"));
    let b = price(&ocpi_complex(), &s);
    assert_total(&b, "8.75", "10.01");
    assert_eq!(money(&b.total_time_cost), ("2.50".into(), "3.00".into()));
    assert_eq!(money(&b.total_parking_cost), ("3.75".into(), "4.13".into()));
}

#[test]
fn ocpi_complex_saturday() {
    // Saturday 13:30, 114 min at ≥ 43 A → 120 min × 1.25 = 2.50 (3.00);
    // 71 min parking 15:24–16:35 → 75 min × 6.00 = 7.50 (8.25); FLAT 2.50
    // (2.88). 12.50 / 14.13 as OCPI says.
    let mut s = timeline(
        BERLIN,
        "2024-05-04T11:30:00Z",
        &[Part::Charge(114, "30"), Part::Idle(71)],
    );
    s.periods[0].min_current_a = Some(dec("43"));
    assert_total(&price(&ocpi_complex(), &s), "12.50", "14.13");
}

fn ocpi_step_size_tariff() -> ValidTariff {
    tariff(json!({"elements": [
        {"price_components": [
            {"type": "TIME", "price": 1.20, "step_size": 1800},
            {"type": "PARKING_TIME", "price": 1.00, "step_size": 900}],
         "restrictions": {"start_time": "00:00", "end_time": "17:00"}},
        {"price_components": [
            {"type": "TIME", "price": 2.40, "step_size": 900},
            {"type": "PARKING_TIME", "price": 1.00, "step_size": 900}],
         "restrictions": {"start_time": "17:00", "end_time": "20:00"}},
        {"price_components": [{"type": "TIME", "price": 2.40, "step_size": 900}],
         "restrictions": {"start_time": "20:00", "end_time": "23:59"}}
    ]}))
}

#[test]
fn ocpi_step_size_switching_elements() {
    // 16:35, 35 min charging: 25 min × 1.20 = 0.50, 10 min × 2.40 = 0.40;
    // 35 min rounded to the last step (15 min) is 45: 10 more min × 2.40 =
    // 0.40. Total 1.30. No VAT given: incl = excl.
    let b = price(
        &ocpi_step_size_tariff(),
        &timeline(UTC, "2024-05-01T16:35:00Z", &[Part::Charge(35, "5")]),
    );
    assert_total(&b, "1.30", "1.30");
    assert_eq!(b.slices.len(), 2, "cut at 17:00");
    let r = &b.step_roundings[0];
    assert_eq!(
        (r.volume, r.billed_volume, r.unit_price),
        (dec("2100"), dec("2700"), dec("2.4"))
    );
}

#[test]
fn ocpi_step_size_switching_to_free_parking() {
    // 19:55, 10 min charging (5 min × 2.40 before 20:00, 5 after) = 0.40,
    // rounded to 15 min: + 0.20. Parking 20:05–20:07 has no component: free.
    let b = price(
        &ocpi_step_size_tariff(),
        &timeline(
            UTC,
            "2024-05-01T19:55:00Z",
            &[Part::Charge(10, "2"), Part::Idle(2)],
        ),
    );
    assert_total(&b, "0.60", "0.60");
}

#[test]
fn day_and_night_energy_prices_across_22_00() {
    // Berlin (UTC+1 in March), 21:00–23:00 local at 11 kW: 11 kWh at day
    // 0.30 = 3.30, 11 kWh at night 0.20 = 2.20; 5.50 + 20 % = 6.60.
    let t = tariff(json!({"elements": [
        {"price_components": [energy("0.20", Some("20"), 1)],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [energy("0.30", Some("20"), 1)]}
    ]}));
    let s = timeline(BERLIN, "2024-03-05T20:00:00Z", &[Part::Charge(120, "22")]);
    let b = price(&t, &s);
    assert_total(&b, "5.50", "6.60");
    assert_eq!(b.slices.len(), 2);
    assert_eq!(b.slices[1].start, at("2024-03-05T21:00:00Z"));
    assert_eq!(b.slices[0].lines[0].volume, dec("11"));
}

#[test]
fn a_period_starting_exactly_at_22_00_is_night() {
    // start_time is inclusive, end_time exclusive (OCPI).
    let t = tariff(json!({"elements": [
        {"price_components": [energy("0.20", None, 1)],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [energy("0.30", None, 1)]}
    ]}));
    let b = price(
        &t,
        &timeline(UTC, "2024-03-05T22:00:00Z", &[Part::Charge(60, "10")]),
    );
    assert_total(&b, "2.00", "2.00");
    // Ending exactly at 06:00 stays night; starting at 06:00 is day.
    let b = price(
        &t,
        &timeline(UTC, "2024-03-06T05:00:00Z", &[Part::Charge(60, "10")]),
    );
    assert_total(&b, "2.00", "2.00");
    let b = price(
        &t,
        &timeline(UTC, "2024-03-06T06:00:00Z", &[Part::Charge(60, "10")]),
    );
    assert_total(&b, "3.00", "3.00");
}

#[test]
fn a_session_crossing_midnight_into_the_weekend() {
    // Friday 23:00 – Saturday 01:00 UTC, 10 kWh evenly: 5 kWh × 0.40 on
    // Friday, 5 kWh × 0.25 on Saturday. 2.00 + 1.25 = 3.25.
    let t = tariff(json!({"elements": [
        {"price_components": [energy("0.25", None, 1)],
         "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]}},
        {"price_components": [energy("0.40", None, 1)]}
    ]}));
    let b = price(
        &t,
        &timeline(UTC, "2024-05-03T23:00:00Z", &[Part::Charge(120, "10")]),
    );
    assert_total(&b, "3.25", "3.25");
}

#[test]
fn kwh_threshold_boundary() {
    // First 10 kWh at 0.50 (max_kwh exclusive), the rest at 0.30 (min_kwh
    // inclusive): 15 kWh = 5.00 + 1.50.
    let t = tariff(json!({"elements": [
        {"price_components": [energy("0.50", None, 1)], "restrictions": {"max_kwh": 10}},
        {"price_components": [energy("0.30", None, 1)], "restrictions": {"min_kwh": 10}}
    ]}));
    let one = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(90, "15")]),
    );
    assert_total(&one, "6.50", "6.50");
    assert_eq!(one.slices.len(), 2, "cut at exactly 10 kWh");
    assert_eq!(one.slices[1].energy_before_kwh, dec("10"));
    // A period that starts with exactly 10 kWh charged is priced by min_kwh.
    let two = price(
        &t,
        &timeline(
            UTC,
            "2024-05-01T10:00:00Z",
            &[Part::Charge(60, "10"), Part::Charge(30, "5")],
        ),
    );
    assert_total(&two, "6.50", "6.50");
    assert_eq!(
        two.slices[1].lines[0].priced_by,
        Some(ComponentRef {
            element: 1,
            component: 0
        })
    );
}

#[test]
fn idle_fee_after_a_grace_period() {
    // 20 kWh × 0.30 = 6.00; 50 min idle, first 15 free, 35 min × 6.00/h = 3.50.
    let t = tariff_with(
        json!({"elements": [{"price_components": [
            energy("0.30", None, 1),
            {"type": "PARKING_TIME", "price": 6.00, "step_size": 60}
        ]}]}),
        TariffExtensions {
            idle_grace_period_s: 900,
            ..TariffExtensions::default()
        },
    );
    let b = price(
        &t,
        &timeline(
            UTC,
            "2024-05-01T10:00:00Z",
            &[Part::Charge(60, "20"), Part::Idle(50)],
        ),
    );
    assert_total(&b, "9.50", "9.50");
    let idle = &b.slices[1].lines[0];
    assert_eq!(idle.free_volume, dec("900"));
    assert_eq!(idle.free_reason, Some(FreeReason::IdleGracePeriod));
    // Idle shorter than the grace period costs nothing.
    let b = price(
        &t,
        &timeline(
            UTC,
            "2024-05-01T10:00:00Z",
            &[Part::Charge(60, "20"), Part::Idle(10)],
        ),
    );
    assert_total(&b, "6.00", "6.00");
}

#[test]
fn idle_fee_only_after_charging_finished() {
    // A 20 min pause between two charging periods is free; the 20 min after
    // the last one costs 20 × 6.00/60 = 2.00. Energy 20 × 0.30 = 6.00.
    let t = tariff_with(
        json!({"elements": [{"price_components": [
            energy("0.30", None, 1),
            {"type": "PARKING_TIME", "price": 6.00, "step_size": 60}
        ]}]}),
        TariffExtensions {
            idle_fee_only_after_charging_finished: true,
            ..TariffExtensions::default()
        },
    );
    let parts = [
        Part::Charge(30, "10"),
        Part::Idle(20),
        Part::Charge(30, "10"),
        Part::Idle(20),
    ];
    let b = price(&t, &timeline(UTC, "2024-05-01T10:00:00Z", &parts));
    assert_total(&b, "8.00", "8.00");
    assert_eq!(
        b.slices[1].lines[0].free_reason,
        Some(FreeReason::ChargingNotFinished)
    );
}

#[test]
fn sub_cent_unit_price_rounds_once() {
    // 12.3456 kWh, billed per Wh as 12.346 kWh × 0.2345 = 2.895137 → 2.90;
    // VAT 19 % of 2.90 = 0.551 → 0.55.
    let t = tariff(json!({"elements": [{"price_components": [energy("0.2345", Some("19"), 1)]}]}));
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(60, "12.3456")]),
    );
    assert_total(&b, "2.90", "3.45");
    assert_eq!(b.groups[0].exact_excl_vat.normalize(), dec("2.895137"));
}

#[test]
fn zero_decimal_currency() {
    // 10.5 kWh × 35 JPY = 367.5 → 368; VAT 10 % = 36.8 → 37; 405.
    let t = tariff(
        json!({"currency": "JPY", "elements": [{"price_components": [energy("35", Some("10"), 1)]}]}),
    );
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(60, "10.5")]),
    );
    assert_total(&b, "368", "405");
}

#[test]
fn ocpi_energy_step_sizes() {
    // 115.2 Wh at 0.25/kWh: step 1 → 116 Wh = 0.029 → 0.03; step 25 → 125 Wh
    // = 0.03125 → 0.03; step 500 → 500 Wh = 0.125 → 0.13 (half up).
    for (step, excl) in [(1, "0.03"), (25, "0.03"), (500, "0.13")] {
        let t = tariff(json!({"elements": [{"price_components": [energy("0.25", None, step)]}]}));
        let b = price(
            &t,
            &timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(1, "0.1152")]),
        );
        assert_total(&b, excl, excl);
    }
}

#[test]
fn ocpi_max_duration_supermarket() {
    // First 30 min free, then 0.25/kWh, after 60 min 0.40/kWh. 40 min:
    // 5 kWh in the first 30 (free), 1.2 kWh in the next 10 × 0.25 = 0.30.
    let t = tariff(json!({"elements": [
        {"price_components": [energy("0.00", None, 1)], "restrictions": {"max_duration": 1800}},
        {"price_components": [energy("0.25", None, 1)], "restrictions": {"max_duration": 3600}},
        {"price_components": [energy("0.40", None, 1)]}
    ]}));
    let s = timeline(
        UTC,
        "2024-05-01T10:00:00Z",
        &[Part::Charge(30, "5"), Part::Charge(10, "1.2")],
    );
    assert_total(&price(&t, &s), "0.30", "0.30");
    // The same energy in one period at a steady rate is cut at 30 minutes:
    // 6.2 kWh over 40 min, 1.55 kWh in the last 10 → 0.3875 → 0.39.
    let s = timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(40, "6.2")]);
    assert_total(&price(&t, &s), "0.39", "0.39");
}

#[test]
fn ocpi_max_power() {
    // 1 kWh at 6 kW × 0.20 + 40 kWh at 48 kW × 0.50 + 0.5 kWh at 4 kW × 0.20.
    let t = tariff(json!({"elements": [
        {"price_components": [energy("0.20", None, 1)], "restrictions": {"max_power": 16.00}},
        {"price_components": [energy("0.35", None, 1)], "restrictions": {"max_power": 32.00}},
        {"price_components": [energy("0.50", None, 1)]}
    ]}));
    let mut s = timeline(
        UTC,
        "2024-05-01T10:00:00Z",
        &[
            Part::Charge(10, "1"),
            Part::Charge(50, "40"),
            Part::Charge(8, "0.5"),
        ],
    );
    for (p, kw) in s.periods.iter_mut().zip(["6", "48", "4"]) {
        p.power_kw = Some(dec(kw));
    }
    assert_total(&price(&t, &s), "20.30", "20.30");
}

#[test]
fn dst_change_keeps_time_of_day_local() {
    // Berlin, night of 2024-10-26/27 (clocks go back at 03:00 CEST → 02:00
    // CET). Night rate 22:00–06:00 local = 20:00 UTC (CEST) to 05:00 UTC (CET).
    let t = tariff(json!({"elements": [
        {"price_components": [energy("0.20", None, 1)],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [energy("0.30", None, 1)]}
    ]}));
    // 19:00Z–06:00Z, 11 kWh evenly: 1 kWh day, 9 kWh night, 1 kWh day.
    let s = timeline(BERLIN, "2024-10-26T19:00:00Z", &[Part::Charge(660, "11")]);
    let b = price(&t, &s);
    assert_total(&b, "2.40", "2.40");
}

#[test]
fn unmatched_dimension_is_free_and_reported() {
    let t = tariff(
        json!({"elements": [{"price_components": [energy("0.30", None, 1)],
        "restrictions": {"start_time": "08:00", "end_time": "20:00"}}]}),
    );
    let b = price(
        &t,
        &timeline(UTC, "2024-05-01T21:00:00Z", &[Part::Charge(60, "10")]),
    );
    assert_total(&b, "0.00", "0.00");
    assert_eq!(b.slices[0].lines[0].priced_by, None);
}

#[test]
fn flat_only_session_without_periods() {
    let t = ocpi_025_kwh(json!({}));
    let s = SessionTimeline {
        start: at("2024-05-01T10:00:00Z"),
        end: at("2024-05-01T10:05:00Z"),
        time_zone: UTC,
        periods: vec![],
    };
    assert_total(&price(&t, &s), "0.50", "0.60");
}

#[test]
fn bad_timelines_are_errors() {
    let t = ocpi_025_kwh(json!({}));
    let mut s = timeline(
        UTC,
        "2024-05-01T10:00:00Z",
        &[Part::Charge(10, "1"), Part::Idle(5)],
    );
    s.periods.swap(0, 1);
    assert_eq!(
        price_session(&t, &s),
        Err(PricingError::PeriodOutOfOrder(1))
    );
    let mut s = timeline(UTC, "2024-05-01T10:00:00Z", &[Part::Charge(10, "1")]);
    s.periods[0].energy_kwh = dec("-1");
    assert!(matches!(
        price_session(&t, &s),
        Err(PricingError::NegativeVolume { index: 0, .. })
    ));
    s.end = s.start - Duration::seconds(1);
    assert_eq!(price_session(&t, &s), Err(PricingError::EndBeforeStart));
}

// ------------------------------------------------------------- validation

fn problems(body: Value) -> Vec<String> {
    let mut t = json!({
        "country_code": "DE", "party_id": "JOU", "id": "T1",
        "currency": "EUR", "last_updated": "2024-01-01T00:00:00Z"
    });
    for (k, v) in body.as_object().unwrap() {
        t[k] = v.clone();
    }
    let tariff: Tariff = serde_json::from_value(t).unwrap();
    match tariff.validate() {
        Ok(()) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn validation_names_every_problem_with_its_path() {
    let found = problems(json!({
        "currency": "EUD",
        "min_price": {"excl_vat": 5.00},
        "max_price": {"excl_vat": 2.00},
        "elements": [
            {"price_components": [
                {"type": "ENERGY", "price": -0.30, "step_size": 1},
                {"type": "TIME", "price": 1.00, "step_size": 0}
            ]},
            {"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}],
             "restrictions": {"start_time": "25:00", "end_date": "2024-13-01"}}
        ]
    }));
    let expected = [
        "currency: unknown ISO 4217 currency \"EUD\"",
        "min_price.excl_vat: 5 is greater than max_price.excl_vat 2",
        "elements[0].price_components[0].price: a price must not be negative",
        "elements[0].price_components[1].step_size: must be at least 1 (seconds) for TIME, got 0",
        "elements[1].restrictions.start_time: \"25:00\" is not a time of day HH:MM (00:00 to 23:59)",
        "elements[1].restrictions.end_date: \"2024-13-01\" is not a date YYYY-MM-DD",
    ];
    assert_eq!(found, expected);
}

#[test]
fn elements_that_can_never_apply() {
    let found = problems(json!({"elements": [
        {"price_components": [energy("0.30", None, 1)],
         "restrictions": {"min_kwh": 20, "max_kwh": 10}},
        {"price_components": [energy("0.30", None, 1)],
         "restrictions": {"start_time": "10:00", "end_time": "10:00"}}
    ]}));
    assert_eq!(
        found,
        [
            "elements[0].restrictions.max_kwh: 10 is not above min_kwh 20 (max_kwh is exclusive): the element can never apply",
            "elements[1].restrictions.end_time: equals start_time (write no times for all day): the element can never apply",
            "elements: no element can ever apply to a charging session",
        ]
    );
    assert_eq!(
        problems(json!({"elements": []})),
        ["elements: a tariff needs at least one element"]
    );
}

#[test]
fn a_valid_ocpi_tariff_round_trips_unchanged() {
    let text = r#"{"country_code":"DE","party_id":"ALL","id":"14","currency":"EUR","type":"REGULAR","tariff_alt_text":[{"language":"en","text":"2 euro p/hour"}],"min_price":{"excl_vat":0.5,"incl_vat":0.55},"elements":[{"price_components":[{"type":"TIME","price":2.0,"vat":10.0,"step_size":300}],"restrictions":{"start_time":"13:30","end_time":"19:45","day_of_week":["MONDAY"],"min_kwh":0.5}}],"last_updated":"2015-06-29T20:39:09Z"}"#;
    let tariff: Tariff = serde_json::from_str(text).unwrap();
    assert_eq!(tariff.validate(), Ok(()));
    let back: Value = serde_json::to_value(&tariff).unwrap();
    let original: Value = serde_json::from_str(text).unwrap();
    assert_eq!(back, original);
}

#[test]
fn extensions_are_validated_beside_the_tariff() {
    let tariff: Tariff = serde_json::from_value(json!({
        "country_code": "DE", "party_id": "JOU", "id": "T1", "currency": "EUR",
        "last_updated": "2024-01-01T00:00:00Z",
        "elements": [{"price_components": [energy("0.30", None, 1)]}]
    }))
    .unwrap();
    let ext = TariffExtensions {
        hold_amount_minor: Some(-1),
        ..TariffExtensions::default()
    };
    let err = ValidTariff::new(tariff, ext).unwrap_err();
    assert_eq!(
        err.to_string(),
        "extensions.hold_amount_minor: must not be negative"
    );
}
