//! The energy meter of one simulated connector: a cumulative import register
//! in Wh that grows at the configured power while charging, and the sampled
//! values a real 1.6 charger reports (OCPP 1.6 §7.17, §7.43).
//!
//! Signed values imitate OCMF (the Open Charge Metering Format used for
//! German Eichrecht): `OCMF|{payload}|{signature}`. The signature is a
//! made-up hex digest, not cryptography: the point is that a CSMS stores and
//! passes signed readings through untouched.

use chrono::{DateTime, SecondsFormat, Utc};
use joule_ocpp::v16::{
    Location, Measurand, MeterValue, Phase, ReadingContext, SampledValue, UnitOfMeasure,
    ValueFormat,
};

/// Nominal phase-to-neutral voltage used to derive currents.
const VOLTAGE: f64 = 230.0;

/// One connector's meter and the EV behind it.
#[derive(Debug, Clone)]
pub struct Meter {
    /// Cumulative imported energy, Wh (never decreases).
    register_wh: f64,
    /// Power drawn while charging, W.
    power_w: f64,
    /// Number of phases (1 or 3).
    phases: u8,
    /// State of charge of the connected EV, percent.
    soc: f64,
    /// Battery size of the connected EV, Wh.
    battery_wh: f64,
}

impl Meter {
    /// A meter starting at `register_wh`.
    pub fn new(register_wh: f64, power_w: f64, phases: u8) -> Self {
        Meter {
            register_wh: register_wh.max(0.0),
            power_w: power_w.max(0.0),
            phases: phases.clamp(1, 3),
            soc: 20.0,
            battery_wh: 60_000.0,
        }
    }

    /// A new EV plugs in with `soc` percent.
    pub fn plug_in(&mut self, soc: f64, battery_wh: f64) {
        self.soc = soc.clamp(0.0, 100.0);
        self.battery_wh = battery_wh.max(1_000.0);
    }

    /// Charges at the configured power for `seconds`. Above 95 % state of
    /// charge the EV draws only a trickle, as real cars do.
    pub fn charge_for(&mut self, seconds: f64) {
        let power = self.current_power_w();
        let wh = power * seconds.max(0.0) / 3600.0;
        self.register_wh += wh;
        self.soc = (self.soc + wh / self.battery_wh * 100.0).min(100.0);
    }

    /// The register reading in whole Wh, as StartTransaction/StopTransaction
    /// report it.
    pub fn register_wh(&self) -> i64 {
        self.register_wh.floor() as i64
    }

    /// The power being drawn now, W.
    pub fn current_power_w(&self) -> f64 {
        if self.soc >= 100.0 {
            0.0
        } else if self.soc >= 95.0 {
            self.power_w.min(1_500.0)
        } else {
            self.power_w
        }
    }

    /// State of charge, percent.
    pub fn soc(&self) -> f64 {
        self.soc
    }

    /// A full periodic sample: register, power, current per phase, SoC; with
    /// `signed`, an extra OCMF-signed register value.
    pub fn sample(
        &self,
        timestamp: DateTime<Utc>,
        context: ReadingContext,
        charging: bool,
        signed: Option<&SignedContext<'_>>,
    ) -> MeterValue {
        let power = if charging {
            self.current_power_w()
        } else {
            0.0
        };
        let current = power / VOLTAGE / f64::from(self.phases);
        let mut values = vec![
            sampled(
                self.register_wh().to_string(),
                context,
                Measurand::EnergyActiveImportRegister,
                UnitOfMeasure::Wh,
            ),
            sampled(
                format!("{power:.0}"),
                context,
                Measurand::PowerActiveImport,
                UnitOfMeasure::W,
            ),
        ];
        for phase in [Phase::L1, Phase::L2, Phase::L3]
            .into_iter()
            .take(usize::from(self.phases))
        {
            let mut v = sampled(
                format!("{current:.1}"),
                context,
                Measurand::CurrentImport,
                UnitOfMeasure::A,
            );
            v.phase = Some(phase);
            values.push(v);
        }
        let mut soc = sampled(
            format!("{:.0}", self.soc.floor()),
            context,
            Measurand::SoC,
            UnitOfMeasure::Percent,
        );
        soc.location = Some(Location::Ev);
        values.push(soc);
        if let Some(signed) = signed {
            values.push(self.signed_value(timestamp, context, signed));
        }
        MeterValue {
            timestamp,
            sampled_value: values,
        }
    }

    /// Only the register, as in StopTransaction's `transactionData`
    /// (Transaction.Begin / Transaction.End), optionally with its signed twin.
    pub fn register_sample(
        &self,
        timestamp: DateTime<Utc>,
        context: ReadingContext,
        signed: Option<&SignedContext<'_>>,
    ) -> MeterValue {
        let mut values = vec![sampled(
            self.register_wh().to_string(),
            context,
            Measurand::EnergyActiveImportRegister,
            UnitOfMeasure::Wh,
        )];
        if let Some(signed) = signed {
            values.push(self.signed_value(timestamp, context, signed));
        }
        MeterValue {
            timestamp,
            sampled_value: values,
        }
    }

    fn signed_value(
        &self,
        timestamp: DateTime<Utc>,
        context: ReadingContext,
        signed: &SignedContext<'_>,
    ) -> SampledValue {
        let mut v = sampled(
            ocmf(signed, timestamp, context, self.register_wh()),
            context,
            Measurand::EnergyActiveImportRegister,
            UnitOfMeasure::Wh,
        );
        v.format = Some(ValueFormat::SignedData);
        v
    }
}

/// Who signs a reading: the meter's serial and the transaction it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct SignedContext<'a> {
    pub meter_serial: &'a str,
    pub transaction_id: Option<i32>,
}

fn sampled(
    value: String,
    context: ReadingContext,
    measurand: Measurand,
    unit: UnitOfMeasure,
) -> SampledValue {
    SampledValue {
        value,
        context: Some(context),
        format: Some(ValueFormat::Raw),
        measurand: Some(measurand),
        phase: None,
        location: Some(Location::Outlet),
        unit: Some(unit),
    }
}

/// An OCMF-shaped signed reading: `OCMF|{payload}|{signature}`.
pub fn ocmf(
    signed: &SignedContext<'_>,
    timestamp: DateTime<Utc>,
    context: ReadingContext,
    register_wh: i64,
) -> String {
    let reading_type = match context {
        ReadingContext::TransactionBegin => "B",
        ReadingContext::TransactionEnd => "E",
        _ => "T",
    };
    let payload = serde_json::json!({
        "FV": "1.0",
        "GI": "JOULE-SIM",
        "GS": signed.meter_serial,
        "PG": format!("T{}", signed.transaction_id.unwrap_or(0)),
        "RD": [{
            "TM": format!("{},000+0000 S", timestamp.to_rfc3339_opts(SecondsFormat::Secs, true).trim_end_matches('Z')),
            "TX": reading_type,
            "RV": register_wh as f64 / 1000.0,
            "RI": "1-b:1.8.0",
            "RU": "kWh",
            "ST": "G",
        }],
    })
    .to_string();
    let signature = serde_json::json!({
        "SA": "ECDSA-secp256r1-SHA256",
        "SD": fake_signature(&payload),
    })
    .to_string();
    format!("OCMF|{payload}|{signature}")
}

/// 64 hex digits derived from the payload (FNV-1a, four lanes). Stable for
/// equal payloads, different for different ones; not a signature.
fn fake_signature(payload: &str) -> String {
    let mut out = String::with_capacity(64);
    for lane in 0u64..4 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ lane;
        for byte in payload.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push_str(&format!("{hash:016x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use joule_ocpp::schema::validate;
    use joule_ocpp::v16::{encode, Action16, MeterValuesRequest};
    use joule_ocpp::PayloadKind;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-01-01T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    #[test]
    fn register_is_monotonic_and_follows_power() {
        let mut m = Meter::new(1_000.0, 11_000.0, 3);
        m.plug_in(10.0, 60_000.0);
        let mut last = m.register_wh();
        for _ in 0..120 {
            m.charge_for(60.0);
            assert!(m.register_wh() >= last);
            last = m.register_wh();
        }
        // Two hours at 11 kW would be 22 kWh; SoC 10 % → 95 % is 51 kWh, so
        // the full power applies throughout.
        assert!((m.register_wh() - 23_000).abs() <= 1, "{}", m.register_wh());
        assert!((m.soc() - (10.0 + 22_000.0 / 600.0)).abs() < 0.01);
    }

    #[test]
    fn a_full_battery_draws_nothing_and_the_register_stops() {
        let mut m = Meter::new(0.0, 22_000.0, 3);
        m.plug_in(90.0, 10_000.0);
        for _ in 0..100 {
            m.charge_for(600.0);
        }
        assert_eq!(m.soc(), 100.0);
        let full = m.register_wh();
        m.charge_for(3_600.0);
        assert_eq!(m.register_wh(), full);
        assert_eq!(m.current_power_w(), 0.0);
    }

    #[test]
    fn samples_are_schema_valid_and_complete() {
        let mut m = Meter::new(5_000.0, 7_360.0, 1);
        m.charge_for(3_600.0);
        let signer = SignedContext {
            meter_serial: "SIM-M-1",
            transaction_id: Some(42),
        };
        let mv = m.sample(t0(), ReadingContext::SamplePeriodic, true, Some(&signer));
        let measurands: Vec<_> = mv.sampled_value.iter().map(|v| v.measurand).collect();
        assert_eq!(
            measurands,
            [
                Some(Measurand::EnergyActiveImportRegister),
                Some(Measurand::PowerActiveImport),
                Some(Measurand::CurrentImport),
                Some(Measurand::SoC),
                Some(Measurand::EnergyActiveImportRegister),
            ]
        );
        assert_eq!(mv.sampled_value[0].value, "12360");
        assert_eq!(mv.sampled_value[1].value, "7360");
        assert_eq!(mv.sampled_value[2].value, "32.0");
        assert_eq!(mv.sampled_value[2].phase, Some(Phase::L1));
        let req = MeterValuesRequest {
            connector_id: 1,
            transaction_id: Some(42),
            meter_value: vec![mv],
        };
        validate(Action16::MeterValues, PayloadKind::Request, &encode(&req)).unwrap();
    }

    #[test]
    fn signed_values_are_ocmf() {
        let signer = SignedContext {
            meter_serial: "SIM-M-7",
            transaction_id: Some(9),
        };
        let text = ocmf(&signer, t0(), ReadingContext::TransactionEnd, 12_345);
        let parts: Vec<&str> = text.splitn(3, '|').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "OCMF");
        let payload: serde_json::Value = serde_json::from_str(parts[1]).unwrap();
        assert_eq!(payload["GS"], "SIM-M-7");
        assert_eq!(payload["PG"], "T9");
        assert_eq!(payload["RD"][0]["RV"], 12.345);
        assert_eq!(payload["RD"][0]["TX"], "E");
        assert_eq!(payload["RD"][0]["TM"], "2025-01-01T12:00:00,000+0000 S");
        let signature: serde_json::Value = serde_json::from_str(parts[2]).unwrap();
        let sd = signature["SD"].as_str().unwrap();
        assert_eq!(sd.len(), 64);
        assert!(sd.chars().all(|c| c.is_ascii_hexdigit()));
        // Deterministic, and bound to the reading.
        assert_eq!(
            text,
            ocmf(&signer, t0(), ReadingContext::TransactionEnd, 12_345)
        );
        assert_ne!(
            text,
            ocmf(&signer, t0(), ReadingContext::TransactionEnd, 12_346)
        );
        let m = Meter::new(0.0, 1.0, 3);
        let sv = m.register_sample(t0(), ReadingContext::TransactionBegin, Some(&signer));
        assert_eq!(sv.sampled_value[1].format, Some(ValueFormat::SignedData));
        assert!(sv.sampled_value[1].value.starts_with("OCMF|"));
    }
}
