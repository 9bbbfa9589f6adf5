//! `joule tariff price`: prices an OCPI 2.2.1 CDR's charging periods under an
//! OCPI 2.2.1 Tariff and prints the breakdown as JSON, so operators can check
//! a tariff against real or hypothetical sessions and compare Joule's prices
//! with any other OCPI implementation.
//!
//! This is the adapter: it reads files, converts the CDR's wire shape into the
//! domain's [`SessionTimeline`], and renders the domain's breakdown with OCPI
//! names (amounts as JSON numbers in currency units, times in hours).
//!
//! Exit codes: 0 priced; 1 the tariff is invalid (every problem on stderr,
//! `path: message`, as validation names them); 2 anything else (unreadable
//! file, malformed session, unknown time zone).

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use joule_domain::kernel::money::{Decimal, Money};
use joule_domain::pricing::{
    price_session, ChargingPeriod, ComponentRef, FreeReason, PriceAmount, PriceBreakdown,
    PriceCapKind, SessionTimeline, Tariff, TariffDimensionType, TariffExtensions, Tz, ValidTariff,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cli::TariffPriceArgs;

/// Exit code for an invalid tariff.
pub const EXIT_INVALID_TARIFF: i32 = 1;
/// Exit code for every other failure.
pub const EXIT_BAD_INPUT: i32 = 2;

/// Runs `joule tariff price`; returns the process exit code.
pub fn run(args: &TariffPriceArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match price(args) {
        Ok(value) => match serde_json::to_string_pretty(&value) {
            Ok(text) => {
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
                0
            }
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                EXIT_BAD_INPUT
            }
        },
        Err(Failure::InvalidTariff(lines)) => {
            let _ = writeln!(err, "invalid tariff {}:", args.tariff.display());
            for line in lines {
                let _ = writeln!(err, "  {line}");
            }
            EXIT_INVALID_TARIFF
        }
        Err(Failure::BadInput(message)) => {
            let _ = writeln!(err, "error: {message}");
            EXIT_BAD_INPUT
        }
    }
}

enum Failure {
    InvalidTariff(Vec<String>),
    BadInput(String),
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::BadInput(format!("cannot read {}: {e}", path.display())))
}

fn price(args: &TariffPriceArgs) -> Result<Value, Failure> {
    let time_zone = Tz::from_str(&args.time_zone).map_err(|_| {
        Failure::BadInput(format!(
            "--time-zone: {:?} is not an IANA time zone (e.g. Europe/Berlin)",
            args.time_zone
        ))
    })?;
    let tariff: Tariff = serde_json::from_str(&read(&args.tariff)?)
        .map_err(|e| Failure::InvalidTariff(vec![format!("not an OCPI 2.2.1 Tariff: {e}")]))?;
    let extensions: TariffExtensions = match &args.extensions {
        Some(path) => serde_json::from_str(&read(path)?).map_err(|e| {
            Failure::BadInput(format!("{}: not tariff extensions: {e}", path.display()))
        })?,
        None => TariffExtensions::default(),
    };
    let tariff = ValidTariff::new(tariff, extensions)
        .map_err(|e| Failure::InvalidTariff(e.0.iter().map(ToString::to_string).collect()))?;
    let cdr: Cdr = serde_json::from_str(&read(&args.session)?).map_err(|e| {
        Failure::BadInput(format!(
            "{}: not an OCPI 2.2.1 CDR: {e}",
            args.session.display()
        ))
    })?;
    let session = cdr.timeline(time_zone).map_err(Failure::BadInput)?;
    let breakdown = price_session(&tariff, &session)
        .map_err(|e| Failure::BadInput(format!("{}: {e}", args.session.display())))?;
    Ok(render(&tariff, &session, &breakdown))
}

// ------------------------------------------------------------ the CDR side

/// The parts of an OCPI 2.2.1 CDR that pricing reads.
#[derive(Debug, Deserialize)]
struct Cdr {
    start_date_time: DateTime<Utc>,
    end_date_time: DateTime<Utc>,
    #[serde(default)]
    charging_periods: Vec<CdrChargingPeriod>,
}

#[derive(Debug, Deserialize)]
struct CdrChargingPeriod {
    start_date_time: DateTime<Utc>,
    #[serde(default)]
    dimensions: Vec<CdrDimension>,
}

#[derive(Debug, Deserialize)]
struct CdrDimension {
    #[serde(rename = "type")]
    kind: String,
    volume: Decimal,
}

impl Cdr {
    fn timeline(&self, time_zone: Tz) -> Result<SessionTimeline, String> {
        let mut periods = Vec::with_capacity(self.charging_periods.len());
        for (i, cp) in self.charging_periods.iter().enumerate() {
            let mut p = ChargingPeriod::at(cp.start_date_time);
            for (j, d) in cp.dimensions.iter().enumerate() {
                let v = d.volume;
                match d.kind.as_str() {
                    "ENERGY" => p.energy_kwh += v,
                    "TIME" => p.charging_s += hours_to_seconds(v)?,
                    "PARKING_TIME" => p.idle_s += hours_to_seconds(v)?,
                    "CURRENT" => p.current_a = Some(v),
                    "MIN_CURRENT" => p.min_current_a = Some(v),
                    "MAX_CURRENT" => p.max_current_a = Some(v),
                    "POWER" => p.power_kw = Some(v),
                    "MIN_POWER" => p.min_power_kw = Some(v),
                    "MAX_POWER" => p.max_power_kw = Some(v),
                    // Known OCPI dimensions that do not price a session.
                    "ENERGY_EXPORT" | "ENERGY_IMPORT" | "RESERVATION_TIME" | "STATE_OF_CHARGE" => {}
                    other => {
                        return Err(format!(
                            "charging_periods[{i}].dimensions[{j}].type: unknown CdrDimensionType {other:?}"
                        ))
                    }
                }
            }
            periods.push(p);
        }
        Ok(SessionTimeline {
            start: self.start_date_time,
            end: self.end_date_time,
            time_zone,
            periods,
        })
    }
}

/// CDR hours are written with a few decimals (0.1667 for 10 minutes), so
/// they are taken to the nearest second: step sizes count whole seconds.
fn hours_to_seconds(hours: Decimal) -> Result<Decimal, String> {
    hours
        .checked_mul(Decimal::from(3600))
        .map(|s| s.round())
        .ok_or_else(|| format!("{hours} hours is out of range"))
}

// ----------------------------------------------------------------- output

/// A decimal as a JSON number (shortest form: 12.3, not "12.30").
fn num(d: Decimal) -> Value {
    let text = d.normalize().to_string();
    f64::from_str(&text)
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::String(text), Value::Number)
}

fn money(m: Money) -> Value {
    num(m.to_decimal())
}

fn price_amount(a: &PriceAmount) -> Value {
    json!({"excl_vat": money(a.excl_vat), "incl_vat": money(a.incl_vat)})
}

fn hours(seconds: Decimal) -> Value {
    num((seconds / Decimal::from(3600)).round_dp(6))
}

/// A volume in OCPI units: kWh for ENERGY, hours for the times.
fn volume(dim: TariffDimensionType, v: Decimal) -> Value {
    match dim {
        TariffDimensionType::Time | TariffDimensionType::ParkingTime => hours(v),
        _ => num(v),
    }
}

fn component_ref(r: Option<ComponentRef>) -> (Value, Value) {
    match r {
        Some(r) => (json!(r.element), json!(r.component)),
        None => (Value::Null, Value::Null),
    }
}

fn opt(d: Option<Decimal>) -> Value {
    d.map_or(Value::Null, num)
}

fn render(tariff: &ValidTariff, session: &SessionTimeline, b: &PriceBreakdown) -> Value {
    let periods: Vec<Value> = b
        .slices
        .iter()
        .map(|s| {
            let lines: Vec<Value> = s
                .lines
                .iter()
                .map(|l| {
                    let (element, component) = component_ref(l.priced_by);
                    json!({
                        "type": l.dimension.as_str(),
                        "element": element,
                        "price_component": component,
                        "volume": volume(l.dimension, l.volume),
                        "free_volume": volume(l.dimension, l.free_volume),
                        "free_reason": l.free_reason.map(|r| match r {
                            FreeReason::IdleGracePeriod => "IDLE_GRACE_PERIOD",
                            FreeReason::ChargingNotFinished => "CHARGING_NOT_FINISHED",
                        }),
                        "price": num(l.unit_price),
                        "vat": opt(l.vat),
                        "cost_excl_vat_exact": num(l.amount_excl_vat.round_dp(6)),
                    })
                })
                .collect();
            json!({
                "charging_period": s.period,
                "start_date_time": s.start,
                "end_date_time": s.end,
                "energy_before": num(s.energy_before_kwh),
                "lines": lines,
            })
        })
        .collect();
    let steps: Vec<Value> = b
        .step_roundings
        .iter()
        .map(|r| {
            json!({
                "type": r.dimension.as_str(),
                "element": r.priced_by.element,
                "price_component": r.priced_by.component,
                "step_size": r.step_size,
                "volume": volume(r.dimension, r.volume),
                "billed_volume": volume(r.dimension, r.billed_volume),
                "price": num(r.unit_price),
                "vat": opt(r.vat),
                "cost_excl_vat_exact": num(r.amount_excl_vat.round_dp(6)),
            })
        })
        .collect();
    let groups: Vec<Value> = b
        .groups
        .iter()
        .map(|g| {
            json!({
                "type": g.dimension.as_str(),
                "vat": opt(g.vat),
                "billed_volume": volume(g.dimension, g.volume),
                "cost_excl_vat_exact": num(g.exact_excl_vat.round_dp(6)),
                "cost": price_amount(&g.cost),
            })
        })
        .collect();
    let flat = b.flat_fee.as_ref().map(|f| {
        json!({
            "element": f.priced_by.element,
            "price_component": f.priced_by.component,
            "price": num(f.price),
            "vat": opt(f.vat),
        })
    });
    let cap = b.price_cap.map(|c| {
        let currency = b.currency;
        json!({
            "type": match c.kind {
                PriceCapKind::MinPrice => "MIN_PRICE",
                PriceCapKind::MaxPrice => "MAX_PRICE",
            },
            "adjustment": {
                "excl_vat": money(Money::from_minor(c.adjustment_excl_vat_minor, currency)),
                "incl_vat": money(Money::from_minor(c.adjustment_incl_vat_minor, currency)),
            },
        })
    });
    let t = tariff.tariff();
    json!({
        "tariff": {"country_code": t.country_code, "party_id": t.party_id, "id": t.id},
        "currency": b.currency.code(),
        "time_zone": session.time_zone.name(),
        "start_date_time": session.start,
        "end_date_time": session.end,
        "total_cost": price_amount(&b.total_cost),
        "total_fixed_cost": price_amount(&b.total_fixed_cost),
        "total_energy": num(b.total_energy_kwh),
        "total_energy_cost": price_amount(&b.total_energy_cost),
        "total_time": hours(b.session_duration_s),
        "total_charging_time": hours(b.total_charging_s),
        "total_time_cost": price_amount(&b.total_time_cost),
        "total_parking_time": hours(b.total_idle_s),
        "total_parking_cost": price_amount(&b.total_parking_cost),
        "subtotal": price_amount(&b.subtotal),
        "price_cap": cap,
        "dimensions": groups,
        "flat_fee": flat,
        "step_rounding": steps,
        "periods": periods,
    })
}
