//! The cost of a charging session: its metered timeline, built from the
//! session and its meter values, priced with the tariff version frozen at
//! its start (see docs/pricing.md, "Cost of a session").
//!
//! Pure: the caller gives the instant an active session is priced up to and
//! reads the tariff version from the store.

use chrono::{DateTime, Utc};

use crate::money::Decimal;
use crate::pricing::{
    price_session, ChargingPeriod, PriceBreakdown, PricingError, SessionTimeline, TariffErrors, Tz,
    ValidTariff,
};
use crate::session::{Session, SessionState, StoredMeterValue};
use crate::tariffs::StoredTariff;

/// Why a session could not be priced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionCostError {
    /// The stored tariff version no longer validates (it was stored by a
    /// Joule with other rules).
    #[error("the session's tariff is not valid: {0}")]
    InvalidTariff(TariffErrors),
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// The session's metered timeline, as the pricing engine reads it.
///
/// - It runs from `started_at` to `stopped_at`, or to `now` for an active
///   session (never before its start).
/// - The energy register (`meter_start_wh`, each sample's
///   [`energy_register_wh`](crate::meter::SampledValue::energy_register_wh)
///   strictly inside the session, and `meter_stop_wh`) cuts it into
///   charging periods; a period's energy is what the register rose by.
///   A register that goes down (a meter reset) adds nothing until it has
///   passed its previous highest value again.
/// - The whole session counts as charging time (TIME); no idle time
///   (PARKING_TIME) is derived yet, since 1.6 meter values do not say when
///   the car stopped drawing power.
/// - `time_zone` is the charger's site's (UTC for a charger without a
///   site): time-of-day and day-of-week restrictions are read in it.
pub fn session_timeline(
    session: &Session,
    meter_values: &[StoredMeterValue],
    time_zone: Tz,
    now: DateTime<Utc>,
) -> SessionTimeline {
    let start = session.started_at;
    let end = session.stopped_at.unwrap_or(now).max(start);

    let mut points: Vec<(DateTime<Utc>, i64)> = vec![(start, session.meter_start_wh)];
    let mut samples: Vec<(DateTime<Utc>, i64)> = meter_values
        .iter()
        .filter(|m| start < m.timestamp && m.timestamp < end)
        .filter_map(|m| m.value.energy_register_wh().map(|wh| (m.timestamp, wh)))
        .collect();
    samples.sort_by_key(|(at, _)| *at);
    samples.dedup_by_key(|(at, _)| *at);
    points.extend(samples);
    let last = match session.state {
        SessionState::Ended => session.meter_stop_wh,
        SessionState::Active => None,
    };
    if let Some(wh) = last {
        points.push((end, wh));
    }

    let mut periods: Vec<ChargingPeriod> = Vec::with_capacity(points.len());
    let mut highest = session.meter_start_wh;
    for (i, (at, _)) in points.iter().enumerate() {
        if *at >= end && i > 0 {
            // The register at the end closes the last period.
            break;
        }
        let next_at = points.get(i + 1).map_or(end, |(t, _)| (*t).min(end));
        let rise = points.get(i + 1).map_or(0, |(_, wh)| {
            let rise = (*wh - highest).max(0);
            highest = highest.max(*wh);
            rise
        });
        let mut period = ChargingPeriod::at(*at);
        period.energy_kwh = Decimal::new(rise, 3);
        period.charging_s = Decimal::from((next_at - *at).num_seconds().max(0));
        periods.push(period);
    }
    SessionTimeline {
        start,
        end,
        time_zone,
        periods,
    }
}

/// Prices the session with `tariff` (the version frozen at its start) up to
/// its stop, or up to `now` while it runs, reading its restrictions in
/// `time_zone` (the site's).
pub fn price_session_cost(
    session: &Session,
    meter_values: &[StoredMeterValue],
    tariff: &StoredTariff,
    time_zone: Tz,
    now: DateTime<Utc>,
) -> Result<PriceBreakdown, SessionCostError> {
    let valid = ValidTariff::new(tariff.tariff.clone(), tariff.extensions)
        .map_err(SessionCostError::InvalidTariff)?;
    Ok(price_session(
        &valid,
        &session_timeline(session, meter_values, time_zone, now),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthorizationStatus;
    use crate::ids::{ChargerId, ConnectorId, IdTag, SessionId, TransactionId};
    use crate::meter::SampledValue;
    use crate::pricing::{TariffDimensionType, TariffExtensions};
    use chrono::{Duration, TimeZone};

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn session(stop: Option<(i64, i64)>) -> Session {
        Session {
            id: SessionId::new_v7(),
            transaction_id: TransactionId::new(1).unwrap(),
            charger_id: ChargerId::parse("CP1").unwrap(),
            connector_id: ConnectorId::new(1).unwrap(),
            id_tag: IdTag::parse("TAG").unwrap(),
            start_authorization: AuthorizationStatus::Accepted,
            state: if stop.is_some() {
                SessionState::Ended
            } else {
                SessionState::Active
            },
            reservation_id: None,
            started_at: t(0),
            meter_start_wh: 1000,
            stopped_at: stop.map(|(m, _)| t(m)),
            meter_stop_wh: stop.map(|(_, wh)| wh),
            stop_reason: None,
            stop_id_tag: None,
            last_meter_at: None,
            last_meter_wh: None,
            peak_power_w: None,
            tariff: None,
            created_at: t(0),
            updated_at: t(0),
        }
    }

    fn register(min: i64, value: &str, unit: Option<&str>) -> StoredMeterValue {
        StoredMeterValue {
            timestamp: t(min),
            connector_id: ConnectorId::new(1).unwrap(),
            transaction_id: TransactionId::new(1).ok(),
            value: SampledValue {
                value: value.into(),
                context: None,
                format: None,
                measurand: None,
                phase: None,
                location: None,
                unit: unit.map(Into::into),
            },
            received_at: t(min),
        }
    }

    fn energies(timeline: &SessionTimeline) -> Vec<(i64, Decimal, Decimal)> {
        timeline
            .periods
            .iter()
            .map(|p| ((p.start - t(0)).num_minutes(), p.energy_kwh, p.charging_s))
            .collect()
    }

    #[test]
    fn ended_session_is_cut_at_each_register_sample() {
        let s = session(Some((60, 11_000)));
        let values = [
            register(30, "6", Some("kWh")),
            // Not an energy register: ignored.
            StoredMeterValue {
                value: SampledValue {
                    measurand: Some("Power.Active.Import".into()),
                    ..register(40, "7000", None).value
                },
                ..register(40, "7000", None)
            },
        ];
        let tl = session_timeline(&s, &values, Tz::UTC, t(999));
        assert_eq!((tl.start, tl.end, tl.time_zone), (t(0), t(60), Tz::UTC));
        assert_eq!(
            energies(&tl),
            vec![
                (0, Decimal::new(5, 0), Decimal::from(1800)),
                (30, Decimal::new(5, 0), Decimal::from(1800)),
            ]
        );
    }

    #[test]
    fn active_session_runs_to_now_and_a_reset_adds_nothing() {
        let s = session(None);
        let values = [
            register(10, "3000", None),
            register(20, "500", None),
            register(30, "4000", None),
        ];
        let tl = session_timeline(&s, &values, Tz::Europe__Madrid, t(45));
        assert_eq!(tl.end, t(45));
        // The site's time zone is carried to the engine as given.
        assert_eq!(tl.time_zone, Tz::Europe__Madrid);
        let kwh: Vec<Decimal> = tl.periods.iter().map(|p| p.energy_kwh).collect();
        assert_eq!(
            kwh,
            vec![
                Decimal::new(2, 0),
                Decimal::ZERO,
                Decimal::ONE,
                Decimal::ZERO
            ]
        );
        let total: Decimal = tl.periods.iter().map(|p| p.charging_s).sum();
        assert_eq!(total, Decimal::from(45 * 60));
    }

    #[test]
    fn priced_with_the_given_tariff() {
        let tariff = StoredTariff {
            tariff: serde_json::from_value(serde_json::json!({
                "country_code": "DE", "party_id": "JOU", "id": "T1", "currency": "EUR",
                "elements": [{"price_components": [
                    {"type": "ENERGY", "price": 0.30, "vat": 20, "step_size": 1}
                ]}],
                "last_updated": "2026-01-01T00:00:00Z"
            }))
            .unwrap(),
            extensions: TariffExtensions::default(),
            version: 1,
            created_at: t(0),
            updated_at: t(0),
        };
        let b =
            price_session_cost(&session(Some((60, 11_000))), &[], &tariff, Tz::UTC, t(99)).unwrap();
        assert_eq!(b.total_cost.excl_vat.minor(), 300);
        assert_eq!(b.total_cost.incl_vat.minor(), 360);
        assert_eq!(b.groups[0].dimension, TariffDimensionType::Energy);
        assert_eq!(
            crate::tariffs::cost_summary(&b),
            "Energy 10 kWh: 3.60 EUR; Total: 3.60 EUR incl. VAT"
        );
    }
}
