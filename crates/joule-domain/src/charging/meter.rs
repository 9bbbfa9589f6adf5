//! Meter readings and the rules that turn them into energy and power.
//!
//! Every sampled value is kept verbatim (signed data included) for receipts
//! and audits; only the energy register and active power feed the session's
//! running figures.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::kernel::ids::{ConnectorId, TransactionId};

/// The measurand assumed when a charger omits it (OCPP 1.6 default).
pub const DEFAULT_MEASURAND: &str = "Energy.Active.Import.Register";
const POWER_MEASURAND: &str = "Power.Active.Import";

/// One sampled value exactly as reported. Optional fields stay `None` when the
/// charger left them out, so defaults are applied when reading, not storing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampledValue {
    pub value: String,
    pub context: Option<String>,
    pub format: Option<String>,
    pub measurand: Option<String>,
    pub phase: Option<String>,
    pub location: Option<String>,
    pub unit: Option<String>,
}

impl SampledValue {
    pub fn measurand(&self) -> &str {
        self.measurand.as_deref().unwrap_or(DEFAULT_MEASURAND)
    }

    /// Signed values are opaque blobs: never parsed as numbers.
    pub fn is_signed(&self) -> bool {
        self.format.as_deref() == Some("SignedData")
    }

    /// The total energy register in Wh, if this value is one (whole-meter,
    /// not per-phase). kWh readings are converted exactly, rounding to the
    /// nearest Wh.
    pub fn energy_register_wh(&self) -> Option<i64> {
        if self.is_signed() || self.measurand() != DEFAULT_MEASURAND || self.phase.is_some() {
            return None;
        }
        let number: f64 = self.value.trim().parse().ok()?;
        if !number.is_finite() || number < 0.0 {
            return None;
        }
        let wh = match self.unit.as_deref().unwrap_or("Wh") {
            "Wh" => number,
            "kWh" => number * 1000.0,
            _ => return None,
        };
        // Registers are far below 2^53 Wh, so the rounding is exact.
        Some(wh.round() as i64)
    }

    /// Total active import power in W, if this value is one.
    pub fn active_power_w(&self) -> Option<i64> {
        if self.is_signed() || self.measurand() != POWER_MEASURAND || self.phase.is_some() {
            return None;
        }
        let number: f64 = self.value.trim().parse().ok()?;
        if !number.is_finite() {
            return None;
        }
        let w = match self.unit.as_deref().unwrap_or("W") {
            "W" => number,
            "kW" => number * 1000.0,
            _ => return None,
        };
        Some(w.round() as i64)
    }
}

/// Sampled values taken at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterSample {
    pub timestamp: DateTime<Utc>,
    pub values: Vec<SampledValue>,
}

/// A MeterValues report, or the `transactionData` of a StopTransaction.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterReport {
    pub connector_id: ConnectorId,
    pub transaction_id: Option<TransactionId>,
    pub samples: Vec<MeterSample>,
    pub received_at: DateTime<Utc>,
}

/// What a batch of samples means for a session's running figures.
///
/// Computed independently of arrival order: the latest register is the one
/// with the latest *charger* timestamp, and peak power is a maximum, so late
/// or shuffled MeterValues leave the same result as ordered ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeterSummary {
    pub latest_register: Option<(DateTime<Utc>, i64)>,
    pub peak_power_w: Option<i64>,
}

impl MeterSummary {
    pub fn of(samples: &[MeterSample]) -> Self {
        let mut summary = Self::default();
        for sample in samples {
            for value in &sample.values {
                if let Some(wh) = value.energy_register_wh() {
                    summary.observe_register(sample.timestamp, wh);
                }
                if let Some(w) = value.active_power_w() {
                    summary.peak_power_w = Some(summary.peak_power_w.map_or(w, |p| p.max(w)));
                }
            }
        }
        summary
    }

    fn observe_register(&mut self, at: DateTime<Utc>, wh: i64) {
        let newer = match self.latest_register {
            None => true,
            Some((t, v)) => at > t || (at == t && wh > v),
        };
        if newer {
            self.latest_register = Some((at, wh));
        }
    }

    /// Combines with another summary (e.g. the one already stored).
    pub fn merge(self, other: Self) -> Self {
        let mut merged = self;
        if let Some((at, wh)) = other.latest_register {
            merged.observe_register(at, wh);
        }
        merged.peak_power_w = match (self.peak_power_w, other.peak_power_w) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn sv(value: &str, measurand: Option<&str>, unit: Option<&str>) -> SampledValue {
        SampledValue {
            value: value.into(),
            context: None,
            format: None,
            measurand: measurand.map(Into::into),
            phase: None,
            location: None,
            unit: unit.map(Into::into),
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000 + s, 0).unwrap()
    }

    #[test]
    fn register_defaults_to_energy_in_wh() {
        assert_eq!(sv("1234", None, None).energy_register_wh(), Some(1234));
        assert_eq!(
            sv("1.2345", None, Some("kWh")).energy_register_wh(),
            Some(1235)
        );
        assert_eq!(
            sv("12", Some("Current.Import"), Some("A")).energy_register_wh(),
            None
        );
    }

    #[test]
    fn signed_and_per_phase_values_are_not_numbers() {
        let mut signed = sv("OCMF|{}|{}", None, None);
        signed.format = Some("SignedData".into());
        assert_eq!(signed.energy_register_wh(), None);
        let mut phase = sv("100", None, None);
        phase.phase = Some("L1".into());
        assert_eq!(phase.energy_register_wh(), None);
    }

    #[test]
    fn power_in_kw_is_converted() {
        assert_eq!(
            sv("7.4", Some("Power.Active.Import"), Some("kW")).active_power_w(),
            Some(7400)
        );
    }

    #[test]
    fn latest_register_is_by_charger_time_not_arrival() {
        let samples = vec![
            MeterSample {
                timestamp: at(60),
                values: vec![sv("2000", None, None)],
            },
            MeterSample {
                timestamp: at(0),
                values: vec![sv("1000", None, None)],
            },
        ];
        assert_eq!(
            MeterSummary::of(&samples).latest_register,
            Some((at(60), 2000))
        );
    }

    proptest! {
        #[test]
        fn summary_is_independent_of_order(mut readings in proptest::collection::vec((0i64..10_000, 0i64..1_000_000, 0i64..50_000), 1..30)) {
            let build = |r: &[(i64, i64, i64)]| -> Vec<MeterSample> {
                r.iter().map(|(t, wh, w)| MeterSample {
                    timestamp: at(*t),
                    values: vec![sv(&wh.to_string(), None, None), sv(&w.to_string(), Some("Power.Active.Import"), None)],
                }).collect()
            };
            let forward = MeterSummary::of(&build(&readings));
            readings.reverse();
            let backward = MeterSummary::of(&build(&readings));
            prop_assert_eq!(forward, backward);
            // Merging two halves gives the same as the whole.
            let mid = readings.len() / 2;
            let merged = MeterSummary::of(&build(&readings[..mid])).merge(MeterSummary::of(&build(&readings[mid..])));
            prop_assert_eq!(merged, forward);
        }
    }
}
