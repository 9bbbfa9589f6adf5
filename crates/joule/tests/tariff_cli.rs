//! Black-box tests of `joule tariff price`: the built binary on OCPI fixture
//! files (crates/joule-domain/tests/pricing/), checking its JSON output,
//! stderr and exit code.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../joule-domain/tests/pricing")
        .join(name)
}

fn joule(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_joule"))
        .args(args)
        .output()
        .expect("run joule")
}

fn price(tariff: &Path, session: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "tariff",
        "price",
        "--tariff",
        tariff.to_str().unwrap(),
        "--session",
        session.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    joule(&args)
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn amount(excl: f64, incl: f64) -> Value {
    json!({"excl_vat": excl, "incl_vat": incl})
}

#[test]
fn prices_a_session_crossing_22_00_in_the_sites_time_zone() {
    let out = price(
        &fixture("tariff_day_night.json"),
        &fixture("cdr_crossing_22.json"),
        &["--time-zone", "Europe/Berlin"],
    );
    let v = ok_json(&out);
    // 21:30–22:30 CEST, 11 kWh: 5.5 × 0.39 + 5.5 × 0.25 = 3.52 (+19 % = 4.19);
    // 30 min idle × 6.00/h = 3.00 (3.57); FLAT 1.00 (1.19).
    assert_eq!(v["total_energy_cost"], amount(3.52, 4.19));
    assert_eq!(v["total_parking_cost"], amount(3.0, 3.57));
    assert_eq!(v["total_fixed_cost"], amount(1.0, 1.19));
    assert_eq!(v["total_time_cost"], amount(0.0, 0.0));
    assert_eq!(v["total_cost"], amount(7.52, 8.95));
    assert_eq!(v["total_energy"], json!(11.0));
    assert_eq!(v["total_time"], json!(1.5));
    assert_eq!(v["total_parking_time"], json!(0.5));
    assert_eq!(v["currency"], "EUR");
    assert_eq!(v["time_zone"], "Europe/Berlin");
    assert_eq!(v["price_cap"], Value::Null);
    // The charging period is cut at 22:00 local (20:00 UTC).
    let periods = v["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 3);
    assert_eq!(periods[1]["start_date_time"], "2024-05-14T20:00:00Z");
    assert_eq!(periods[0]["lines"][0]["price"], json!(0.39));
    assert_eq!(periods[1]["lines"][0]["price"], json!(0.25));
    assert_eq!(periods[1]["lines"][0]["element"], json!(1));
}

#[test]
fn time_zone_defaults_to_utc() {
    // 19:30–20:30 UTC is all day rate: 11 × 0.39 = 4.29 (5.11); total 8.29 / 9.87.
    let v = ok_json(&price(
        &fixture("tariff_day_night.json"),
        &fixture("cdr_crossing_22.json"),
        &[],
    ));
    assert_eq!(v["total_energy_cost"], amount(4.29, 5.11));
    assert_eq!(v["total_cost"], amount(8.29, 9.87));
    assert_eq!(v["time_zone"], "UTC");
}

#[test]
fn prices_the_ocpi_complex_tariff_example() {
    let v = ok_json(&price(
        &fixture("tariff_ocpi_complex.json"),
        &fixture("cdr_complex_monday.json"),
        &["--time-zone", "Europe/Berlin"],
    ));
    assert_eq!(v["total_time_cost"], amount(2.5, 3.0));
    assert_eq!(v["total_parking_cost"], amount(3.75, 4.13));
    assert_eq!(v["total_fixed_cost"], amount(2.5, 2.88));
    assert_eq!(v["total_cost"], amount(8.75, 10.01));
    let steps = v["step_rounding"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "TIME 147 → 150 min, PARKING 42 → 45 min");
    assert_eq!(steps[0]["billed_volume"], json!(2.5));
}

#[test]
fn extensions_file_adds_an_idle_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let ext = dir.path().join("ext.json");
    std::fs::write(&ext, r#"{"idle_grace_period_s": 600}"#).unwrap();
    let v = ok_json(&price(
        &fixture("tariff_day_night.json"),
        &fixture("cdr_crossing_22.json"),
        &[
            "--time-zone",
            "Europe/Berlin",
            "--extensions",
            ext.to_str().unwrap(),
        ],
    ));
    // 20 of the 30 idle minutes are billed: 2.00 (+19 % = 2.38).
    assert_eq!(v["total_parking_cost"], amount(2.0, 2.38));
    let idle = &v["periods"][2]["lines"][0];
    assert_eq!(idle["free_reason"], "IDLE_GRACE_PERIOD");
}

/// The day/night fixture with one change.
fn broken_tariff(dir: &Path, name: &str, change: impl FnOnce(&mut Value)) -> PathBuf {
    let text = std::fs::read_to_string(fixture("tariff_day_night.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    change(&mut v);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    path
}

#[test]
fn invalid_tariffs_exit_1_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "currency.json",
            Box::new(|v| v["currency"] = json!("EUD")),
            "currency: unknown ISO 4217 currency \"EUD\"",
        ),
        (
            "negative.json",
            Box::new(|v| v["elements"][2]["price_components"][0]["price"] = json!(-0.39)),
            "elements[2].price_components[0].price: a price must not be negative",
        ),
        (
            "step.json",
            Box::new(|v| v["elements"][3]["price_components"][0]["step_size"] = json!(0)),
            "elements[3].price_components[0].step_size: must be at least 1 (seconds) for PARKING_TIME, got 0",
        ),
        (
            "time.json",
            Box::new(|v| v["elements"][1]["restrictions"]["start_time"] = json!("10pm")),
            "elements[1].restrictions.start_time: \"10pm\" is not a time of day HH:MM (00:00 to 23:59)",
        ),
        (
            "never.json",
            Box::new(|v| {
                v["elements"] = json!([{
                    "price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}],
                    "restrictions": {"min_kwh": 50, "max_kwh": 20}
                }])
            }),
            "elements: no element can ever apply to a charging session",
        ),
        (
            "caps.json",
            Box::new(|v| {
                v["min_price"] = json!({"excl_vat": 5.0});
                v["max_price"] = json!({"excl_vat": 2.0});
            }),
            "min_price.excl_vat: 5 is greater than max_price.excl_vat 2",
        ),
    ];
    for (name, change, expected) in cases {
        let path = broken_tariff(dir.path(), name, change);
        let out = price(&path, &fixture("cdr_crossing_22.json"), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
        assert!(stderr.starts_with("invalid tariff "), "{name}: {stderr}");
        assert!(
            stderr.lines().any(|l| l.trim() == expected),
            "{name}: expected {expected:?} in\n{stderr}"
        );
    }
}

#[test]
fn every_problem_is_listed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = broken_tariff(dir.path(), "many.json", |v| {
        v["currency"] = json!("XXX");
        v["elements"][2]["price_components"][0]["price"] = json!(-1);
        v["elements"][3]["price_components"][0]["step_size"] = json!(0);
    });
    let out = price(&path, &fixture("cdr_crossing_22.json"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 4, "{stderr}");
}

#[test]
fn a_tariff_that_is_not_ocpi_json_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    std::fs::write(&path, r#"{"currency": "EUR"}"#).unwrap();
    let out = price(&path, &fixture("cdr_crossing_22.json"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an OCPI 2.2.1 Tariff"));
}

#[test]
fn bad_session_or_time_zone_exit_2() {
    let out = price(
        &fixture("tariff_day_night.json"),
        &fixture("cdr_crossing_22.json"),
        &["--time-zone", "Mars/Olympus"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--time-zone"));

    let out = price(
        &fixture("tariff_day_night.json"),
        &fixture("no-such-cdr.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let cdr = dir.path().join("cdr.json");
    std::fs::write(
        &cdr,
        r#"{"start_date_time": "2024-05-14T19:30:00Z", "end_date_time": "2024-05-14T21:00:00Z",
            "charging_periods": [
              {"start_date_time": "2024-05-14T20:30:00Z", "dimensions": []},
              {"start_date_time": "2024-05-14T19:30:00Z", "dimensions": []}]}"#,
    )
    .unwrap();
    let out = price(&fixture("tariff_day_night.json"), &cdr, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("charging_periods[1]"));
}
