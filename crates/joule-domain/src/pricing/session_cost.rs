//! The cost of a charging session: its metered timeline, built from the
//! session, its meter values and its connector's status reports, priced with
//! the tariff version frozen at its start (see docs/pricing.md, "Cost on
//! sessions" and "Idle").
//!
//! Pure: the caller gives the instant an active session is priced up to,
//! reads the tariff version and the status reports (see [`status_range`])
//! from the store (`crate::services::session_cost` does, for every reader).

use chrono::{DateTime, Duration, Utc};

use crate::charging::charger::{ConnectorStatus, StatusReport};
use crate::charging::session::{Session, SessionState, StoredMeterValue};
use crate::kernel::money::Decimal;
use crate::pricing::stored::StoredTariff;
use crate::pricing::{
    price_session, ChargingPeriod, PriceBreakdown, PricingError, SessionTimeline,
    TariffDimensionType, TariffErrors, Tz, ValidTariff,
};

/// The longest idle time after a stop that is billed when the connector
/// never reports being unplugged: a lost `Available` must not bill a driver
/// for days (and it bounds the status history read for a session).
pub const MAX_IDLE_AFTER_STOP_S: i64 = 24 * 3600;

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

/// What the car was doing on the connector, as Joule bills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Drawing power, or held back by the charger or Joule (TIME).
    Charging,
    /// Plugged in without drawing power by its own choice (PARKING_TIME).
    Idle,
}

/// A stretch of the session with one [`Activity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub activity: Activity,
    /// After the StopTransaction, while the cable was still in.
    pub after_stop: bool,
}

/// During a session: which statuses are idle time.
///
/// - `SuspendedEV` and `Finishing` (cable in, the car draws nothing) are
///   idle.
/// - `SuspendedEVSE` is **not**: the charger or Joule (smart charging, load
///   management, demand response) held the car back. The OCA whitepaper says
///   a pause the CSMS or charger caused must not be billed as idle, so it is
///   charging time.
/// - Anything else in the middle of a session (`Faulted`, `Unavailable`, a
///   late `Available` or `Preparing`) is no evidence that the driver is
///   blocking the connector, so it is charging time too.
fn activity_of(status: ConnectorStatus) -> Activity {
    match status {
        ConnectorStatus::SuspendedEV | ConnectorStatus::Finishing => Activity::Idle,
        ConnectorStatus::Charging
        | ConnectorStatus::SuspendedEVSE
        | ConnectorStatus::Available
        | ConnectorStatus::Preparing
        | ConnectorStatus::Reserved
        | ConnectorStatus::Unavailable
        | ConnectorStatus::Faulted => Activity::Charging,
    }
}

/// After the stop: the statuses that say the cable is still in.
fn still_plugged(status: ConnectorStatus) -> bool {
    matches!(
        status,
        ConnectorStatus::Finishing | ConnectorStatus::SuspendedEV | ConnectorStatus::SuspendedEVSE
    )
}

/// Whether the tariff bills idle time after the stop (the OCA whitepaper's
/// `CustomIdleFeeAfterStop`): when it has an idle (PARKING_TIME) price at
/// all. Its `idle_grace_period_s` and `idle_fee_only_after_charging_finished`
/// are applied by the pricing engine, in one place, to idle time during and
/// after the session alike.
pub fn bills_idle_after_stop(tariff: &StoredTariff) -> bool {
    tariff.headline(TariffDimensionType::ParkingTime).is_some()
}

/// The time range of the connector's status reports that pricing the
/// session needs: from its start to its stop, or, when the tariff bills
/// idle after the stop, up to [`MAX_IDLE_AFTER_STOP_S`] later (never after
/// `now`).
pub fn status_range(
    session: &Session,
    tariff: &StoredTariff,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = session.started_at;
    let stop = session.stopped_at.unwrap_or(now).max(start);
    let to = if session.state == SessionState::Ended && bills_idle_after_stop(tariff) {
        idle_cap(stop, now)
    } else {
        stop
    };
    (start, to)
}

fn idle_cap(stop: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    (stop + Duration::seconds(MAX_IDLE_AFTER_STOP_S))
        .min(now)
        .max(stop)
}

/// Splits the session into charging and idle periods from the connector's
/// status reports (any order; other connectors' are ignored).
///
/// - The session starts charging; each report from its start to its stop
///   switches to the report's [`Activity`] (see `activity_of`). Without
///   reports the whole session is charging, as it was before Joule read
///   statuses.
/// - With `idle_after_stop`, an ended session whose cable stayed in stays
///   idle after its stop until the connector reports anything but
///   `Finishing`/`SuspendedEV`/`SuspendedEVSE` (normally `Available`:
///   unplugged), else until `now`, at most [`MAX_IDLE_AFTER_STOP_S`]. The
///   cable counts as in when the first report after the stop says so (or is
///   the unplugging itself), or, with no report after the stop, when the
///   last one before it was `Finishing`/`SuspendedEV`/`SuspendedEVSE`.
pub fn activity_periods(
    session: &Session,
    statuses: &[StatusReport],
    idle_after_stop: bool,
    now: DateTime<Utc>,
) -> Vec<ActivityPeriod> {
    let start = session.started_at;
    let stop = session.stopped_at.unwrap_or(now).max(start);
    let mut reports: Vec<(DateTime<Utc>, DateTime<Utc>, ConnectorStatus)> = statuses
        .iter()
        .filter(|r| r.connector_id == session.connector_id)
        .map(|r| (r.effective_at(), r.received_at, r.status))
        .collect();
    reports.sort_by_key(|(at, received, _)| (*at, *received));

    // (instant, activity, after stop): each change, in order.
    let mut changes = vec![(start, Activity::Charging, false)];
    let mut last_in_session = None;
    for (at, _, status) in reports.iter().filter(|(at, ..)| start <= *at && *at < stop) {
        changes.push((*at, activity_of(*status), false));
        last_in_session = Some(*status);
    }
    let mut end = stop;
    if idle_after_stop && session.state == SessionState::Ended {
        let mut after = reports.iter().filter(|(at, ..)| *at >= stop);
        let first = after.clone().next().map(|(_, _, s)| *s);
        let plugged_at_stop = match first {
            Some(status) => still_plugged(status) || status == ConnectorStatus::Available,
            None => last_in_session.is_some_and(still_plugged),
        };
        let cap = idle_cap(stop, now);
        let unplugged = after
            .find(|(_, _, s)| !still_plugged(*s))
            .map_or(cap, |(at, ..)| (*at).min(cap));
        if plugged_at_stop && unplugged > stop {
            changes.push((stop, Activity::Idle, true));
            end = unplugged;
        }
    }

    let mut periods: Vec<ActivityPeriod> = Vec::new();
    for (i, (at, activity, after_stop)) in changes.iter().enumerate() {
        let next = changes.get(i + 1).map_or(end, |(t, ..)| *t);
        if next <= *at {
            continue;
        }
        match periods.last_mut() {
            Some(p) if p.activity == *activity && p.after_stop == *after_stop => p.end = next,
            _ => periods.push(ActivityPeriod {
                start: *at,
                end: next,
                activity: *activity,
                after_stop: *after_stop,
            }),
        }
    }
    periods
}

/// The session's metered timeline, as the pricing engine reads it.
///
/// - It runs from `started_at` to the end of `activity` (its stop, the
///   unplugging after it, or `now` while it runs; never before its start).
/// - The energy register (`meter_start_wh`, each sample's
///   [`energy_register_wh`](crate::charging::meter::SampledValue::energy_register_wh)
///   strictly inside the session, and `meter_stop_wh`) and the activity
///   changes cut it into charging periods. What the register rose by
///   between two readings is spread over the charging time between them
///   (over all of it when the car was idle throughout), exactly: the
///   periods add up to the register's rise. A register that goes down (a
///   meter reset) adds nothing until it has passed its previous highest
///   value again.
/// - Charging periods count as TIME, idle ones as PARKING_TIME. Without
///   activity periods the whole session is charging.
/// - `time_zone` is the charger's site's (UTC for a charger without a
///   site): time-of-day and day-of-week restrictions are read in it.
pub fn session_timeline(
    session: &Session,
    meter_values: &[StoredMeterValue],
    activity: &[ActivityPeriod],
    time_zone: Tz,
    now: DateTime<Utc>,
) -> SessionTimeline {
    let start = session.started_at;
    let stop = session.stopped_at.unwrap_or(now).max(start);
    let end = activity.last().map_or(stop, |p| p.end.max(stop));

    let mut points: Vec<(DateTime<Utc>, i64)> = vec![(start, session.meter_start_wh)];
    let mut samples: Vec<(DateTime<Utc>, i64)> = meter_values
        .iter()
        .filter(|m| start < m.timestamp && m.timestamp < stop)
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
        points.push((stop, wh));
    }

    // Register intervals: (from, to, Wh risen).
    let mut intervals: Vec<(DateTime<Utc>, DateTime<Utc>, i64)> = Vec::new();
    let mut highest = session.meter_start_wh;
    for (i, (at, _)) in points.iter().enumerate() {
        if *at >= stop && i > 0 {
            break;
        }
        let next_at = points.get(i + 1).map_or(stop, |(t, _)| (*t).min(stop));
        let rise = points.get(i + 1).map_or(0, |(_, wh)| {
            let rise = (*wh - highest).max(0);
            highest = highest.max(*wh);
            rise
        });
        intervals.push((*at, next_at, rise));
    }
    if end > stop {
        intervals.push((stop, end, 0));
    }

    let seconds = |t: DateTime<Utc>| (t - start).num_seconds();
    let mut periods: Vec<ChargingPeriod> = Vec::with_capacity(intervals.len());
    for (from, to, rise) in intervals {
        let parts = split_by_activity(activity, from, to);
        // Exact durations: stored timestamps keep microseconds, so two
        // distinct readings always weigh something (in milliseconds, two
        // readings under 1 ms apart weighed 0 and their energy was lost).
        let weight = |p: &(DateTime<Utc>, DateTime<Utc>, Activity)| {
            Decimal::from((p.1 - p.0).num_microseconds().unwrap_or(i64::MAX))
        };
        let charging: Decimal = parts
            .iter()
            .filter(|p| p.2 == Activity::Charging)
            .map(weight)
            .sum();
        let spread_over_all = charging.is_zero();
        let total = if spread_over_all {
            parts.iter().map(weight).sum()
        } else {
            charging
        };
        let mut spread = Decimal::ZERO;
        let mut energy_before = Decimal::ZERO;
        for part in &parts {
            let mut period = ChargingPeriod::at(part.0);
            if (spread_over_all || part.2 == Activity::Charging) && !total.is_zero() {
                spread += weight(part);
                // Cumulative, so the parts add up to the rise exactly.
                let energy_to = (Decimal::from(rise) * spread / total).round_dp(3);
                period.energy_kwh = (energy_to - energy_before) / Decimal::ONE_THOUSAND;
                energy_before = energy_to;
            }
            let secs = Decimal::from((seconds(part.1) - seconds(part.0)).max(0));
            match part.2 {
                Activity::Charging => period.charging_s = secs,
                Activity::Idle => period.idle_s = secs,
            }
            periods.push(period);
        }
        // An interval with no duration at all still delivered its rise: it
        // goes to the interval's last period, never lost.
        if total.is_zero() && rise != 0 {
            if parts.is_empty() {
                periods.push(ChargingPeriod::at(from));
            }
            if let Some(last) = periods.last_mut() {
                last.energy_kwh += Decimal::from(rise) / Decimal::ONE_THOUSAND;
            }
        }
    }
    if periods.is_empty() {
        periods.push(ChargingPeriod::at(start));
    }
    SessionTimeline {
        start,
        end,
        time_zone,
        periods,
    }
}

/// The parts of `[from, to)` by activity (charging where no period says).
fn split_by_activity(
    activity: &[ActivityPeriod],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, Activity)> {
    let mut parts = Vec::new();
    let mut at = from;
    for p in activity.iter().filter(|p| p.end > from && p.start < to) {
        if p.start > at {
            parts.push((at, p.start, Activity::Charging));
        }
        let s = p.start.max(at);
        let e = p.end.min(to);
        if e > s {
            parts.push((s, e, p.activity));
            at = e;
        }
    }
    if at < to {
        parts.push((at, to, Activity::Charging));
    }
    parts
}

/// A session priced: the breakdown and what it was priced from.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPrice {
    pub breakdown: PriceBreakdown,
    pub activity: Vec<ActivityPeriod>,
    /// The end of the priced timeline: the stop, the unplugging after it
    /// (idle after stop), or now.
    pub priced_until: DateTime<Utc>,
}

/// An idle period with how much of it was billed.
#[derive(Debug, Clone, PartialEq)]
pub struct IdlePeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub after_stop: bool,
    /// Seconds billed as PARKING_TIME (before step rounding).
    pub billed_s: Decimal,
    /// Seconds not billed (grace period, before charging finished).
    pub free_s: Decimal,
}

impl SessionPrice {
    /// The idle periods, each with its billed and free seconds as the
    /// engine's PARKING_TIME lines say.
    pub fn idle_periods(&self) -> Vec<IdlePeriod> {
        self.activity
            .iter()
            .filter(|p| p.activity == Activity::Idle)
            .map(|p| {
                let lines = self
                    .breakdown
                    .slices
                    .iter()
                    .filter(|s| p.start <= s.start && s.start < p.end)
                    .flat_map(|s| s.lines.iter())
                    .filter(|l| l.dimension == TariffDimensionType::ParkingTime);
                let (billed_s, free_s) = lines.fold((Decimal::ZERO, Decimal::ZERO), |(b, f), l| {
                    (b + l.volume, f + l.free_volume)
                });
                IdlePeriod {
                    start: p.start,
                    end: p.end,
                    after_stop: p.after_stop,
                    billed_s,
                    free_s,
                }
            })
            .collect()
    }
}

/// Prices the session with `tariff` (the version frozen at its start) up to
/// its stop (or the unplugging after it, see [`activity_periods`]), or up to
/// `now` while it runs, reading its restrictions in `time_zone` (the
/// site's). `statuses`: the connector's reports in
/// [`status_range`]; none prices the whole session as charging.
pub fn price_session_cost(
    session: &Session,
    meter_values: &[StoredMeterValue],
    statuses: &[StatusReport],
    tariff: &StoredTariff,
    time_zone: Tz,
    now: DateTime<Utc>,
) -> Result<SessionPrice, SessionCostError> {
    let valid = ValidTariff::new(tariff.tariff.clone(), tariff.extensions)
        .map_err(SessionCostError::InvalidTariff)?;
    let activity = activity_periods(session, statuses, bills_idle_after_stop(tariff), now);
    let timeline = session_timeline(session, meter_values, &activity, time_zone, now);
    let priced_until = timeline.end;
    Ok(SessionPrice {
        breakdown: price_session(&valid, &timeline)?,
        activity,
        priced_until,
    })
}

/// A session priced now, and whether that price can still change.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCostNow {
    pub price: SessionPrice,
    /// `false` while the session runs, or while idle time after its stop
    /// is still billed (the cable is in and the priced end is now).
    pub is_final: bool,
}

impl SessionCostNow {
    /// The total including VAT, in minor units (what a card pays).
    pub fn incl_vat_minor(&self) -> i64 {
        self.price.breakdown.total_cost.incl_vat.minor()
    }
}

/// Where a session's priced timeline ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PricedUntil {
    /// At its stop, or at the unplugging after it that its connector's
    /// status reports show (see [`activity_periods`]), or now while it runs.
    Now,
    /// At this instant: an ended session whose connector the charger said
    /// stayed occupied until then (the OCA `ConnectorUnplugged`, or its
    /// `Available`), priced by [`price_until_unplugged`].
    Unplugged(DateTime<Utc>),
}

/// Prices `session` (with its `meter_values` and its connector's
/// `statuses`) up to `until` at `now` with its frozen `tariff` version,
/// and says whether that price can still change: the pure half of
/// `crate::services::session_cost::session_cost`, which reads the inputs.
pub fn price_session_until(
    session: &Session,
    meter_values: &[StoredMeterValue],
    statuses: &[StatusReport],
    tariff: &StoredTariff,
    time_zone: Tz,
    until: PricedUntil,
    now: DateTime<Utc>,
) -> Result<SessionCostNow, SessionCostError> {
    let price = match until {
        PricedUntil::Now => {
            price_session_cost(session, meter_values, statuses, tariff, time_zone, now)
        }
        PricedUntil::Unplugged(at) => {
            priced_until_unplugged(session, meter_values, statuses, tariff, time_zone, at)
        }
    }?;
    let is_final = match until {
        PricedUntil::Unplugged(_) => true,
        PricedUntil::Now => {
            session.stopped_at.is_some()
                && !price
                    .activity
                    .last()
                    .is_some_and(|p| p.after_stop && p.end >= now)
        }
    };
    Ok(SessionCostNow { price, is_final })
}

/// The cost of an ended session whose connector stayed occupied until
/// `unplugged_at`: the session's own timeline (see
/// [`session_timeline`]) plus one idle (PARKING_TIME) period from its stop
/// to the unplug, priced with its frozen tariff version. Grace and the
/// idle extensions apply as for any idle time.
pub fn price_until_unplugged(
    session: &Session,
    meter_values: &[StoredMeterValue],
    statuses: &[StatusReport],
    tariff: &StoredTariff,
    time_zone: Tz,
    unplugged_at: DateTime<Utc>,
) -> Result<PriceBreakdown, SessionCostError> {
    priced_until_unplugged(
        session,
        meter_values,
        statuses,
        tariff,
        time_zone,
        unplugged_at,
    )
    .map(|p| p.breakdown)
}

fn priced_until_unplugged(
    session: &Session,
    meter_values: &[StoredMeterValue],
    statuses: &[StatusReport],
    tariff: &StoredTariff,
    time_zone: Tz,
    unplugged_at: DateTime<Utc>,
) -> Result<SessionPrice, SessionCostError> {
    let valid = ValidTariff::new(tariff.tariff.clone(), tariff.extensions)
        .map_err(SessionCostError::InvalidTariff)?;
    let stop = session.stopped_at.unwrap_or(unplugged_at);
    let mut activity = activity_periods(session, statuses, false, stop);
    let mut timeline = session_timeline(session, meter_values, &activity, time_zone, stop);
    if unplugged_at > timeline.end {
        let mut idle = ChargingPeriod::at(timeline.end);
        idle.idle_s = Decimal::from((unplugged_at - timeline.end).num_seconds());
        timeline.periods.push(idle);
        activity.push(ActivityPeriod {
            start: timeline.end,
            end: unplugged_at,
            activity: Activity::Idle,
            after_stop: true,
        });
        timeline.end = unplugged_at;
    }
    let priced_until = timeline.end;
    Ok(SessionPrice {
        breakdown: price_session(&valid, &timeline)?,
        activity,
        priced_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charging::session::{ended, test_session};

    use crate::charging::meter::SampledValue;
    use crate::kernel::ids::{ConnectorId, TransactionId};
    use crate::kernel::language::Language;
    use crate::pricing::TariffExtensions;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn session(stop: Option<(i64, i64)>) -> Session {
        let session = test_session(t(0));
        match stop {
            Some((minute, wh)) => ended(session, t(minute), wh),
            None => session,
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
        let tl = session_timeline(&s, &values, &[], Tz::UTC, t(999));
        assert_eq!((tl.start, tl.end, tl.time_zone), (t(0), t(60), Tz::UTC));
        assert_eq!(
            energies(&tl),
            vec![
                (0, Decimal::new(5, 0), Decimal::from(1800)),
                (30, Decimal::new(5, 0), Decimal::from(1800)),
            ]
        );
    }

    /// Issue 9's hold-limit flake: a charger that stamps its readings
    /// less than 1 ms apart. Their energy was dropped (a millisecond weight
    /// of 0), so a session ran past its hold and was billed too little.
    #[test]
    fn readings_under_a_millisecond_apart_keep_their_energy() {
        let s = session(None);
        let at = |us: i64| StoredMeterValue {
            timestamp: t(1) + Duration::microseconds(us),
            ..register(1, "0", None)
        };
        let values = [
            StoredMeterValue {
                value: SampledValue {
                    value: "2000".into(),
                    ..register(1, "0", None).value
                },
                ..at(0)
            },
            StoredMeterValue {
                value: SampledValue {
                    value: "3000".into(),
                    ..register(1, "0", None).value
                },
                ..at(400)
            },
            StoredMeterValue {
                value: SampledValue {
                    value: "4000".into(),
                    ..register(1, "0", None).value
                },
                ..at(800)
            },
        ];
        let tl = session_timeline(&s, &values, &[], Tz::UTC, t(2));
        let kwh: Decimal = tl.periods.iter().map(|p| p.energy_kwh).sum();
        assert_eq!(kwh, Decimal::new(3, 0));
    }

    #[test]
    fn active_session_runs_to_now_and_a_reset_adds_nothing() {
        let s = session(None);
        let values = [
            register(10, "3000", None),
            register(20, "500", None),
            register(30, "4000", None),
        ];
        let tl = session_timeline(&s, &values, &[], Tz::Europe__Madrid, t(45));
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
        let b = price_session_cost(
            &session(Some((60, 11_000))),
            &[],
            &[],
            &tariff,
            Tz::UTC,
            t(99),
        )
        .unwrap()
        .breakdown;
        assert_eq!(b.total_cost.excl_vat.minor(), 300);
        assert_eq!(b.total_cost.incl_vat.minor(), 360);
        assert_eq!(b.groups[0].dimension, TariffDimensionType::Energy);
        assert_eq!(
            crate::pricing::stored::cost_summary(&b, Language::En),
            "Energy 10 kWh: 3.60 EUR; Total: 3.60 EUR incl. VAT"
        );
    }

    fn status(min: i64, status: ConnectorStatus) -> StatusReport {
        StatusReport {
            connector_id: ConnectorId::new(1).unwrap(),
            status,
            error_code: None,
            info: None,
            vendor_id: None,
            vendor_error_code: None,
            reported_at: Some(t(min)),
            received_at: t(min),
        }
    }

    fn idle_tariff(grace_s: u32, only_after_charging: bool) -> StoredTariff {
        StoredTariff {
            tariff: serde_json::from_value(serde_json::json!({
                "country_code": "DE", "party_id": "JOU", "id": "IDLE", "currency": "EUR",
                "elements": [{"price_components": [
                    {"type": "ENERGY", "price": 0.30, "step_size": 1},
                    {"type": "PARKING_TIME", "price": 6.00, "step_size": 60}
                ]}],
                "last_updated": "2026-01-01T00:00:00Z"
            }))
            .unwrap(),
            extensions: TariffExtensions {
                idle_grace_period_s: grace_s,
                idle_fee_only_after_charging_finished: only_after_charging,
                hold_amount_minor: None,
                ..Default::default()
            },
            version: 1,
            created_at: t(0),
            updated_at: t(0),
        }
    }

    fn spans(periods: &[ActivityPeriod]) -> Vec<(i64, i64, Activity, bool)> {
        periods
            .iter()
            .map(|p| {
                (
                    (p.start - t(0)).num_minutes(),
                    (p.end - t(0)).num_minutes(),
                    p.activity,
                    p.after_stop,
                )
            })
            .collect()
    }

    use Activity::{Charging as C, Idle as I};
    use ConnectorStatus::{
        Available, Charging, Faulted, Finishing, Preparing, SuspendedEV, SuspendedEVSE,
    };

    #[test]
    fn statuses_split_the_session_and_suspended_evse_is_not_idle() {
        let s = session(Some((60, 11_000)));
        // Given out of order, with another connector's report and one from
        // before the session.
        let mut other = status(15, SuspendedEV);
        other.connector_id = ConnectorId::new(2).unwrap();
        let reports = [
            status(40, Charging),
            status(20, SuspendedEVSE),
            status(-5, Preparing),
            status(30, SuspendedEV),
            other,
            status(25, Charging),
            status(55, Finishing),
        ];
        assert_eq!(
            spans(&activity_periods(&s, &reports, false, t(999))),
            vec![
                (0, 30, C, false),
                (30, 40, I, false),
                (40, 55, C, false),
                (55, 60, I, false)
            ]
        );
    }

    #[test]
    fn without_usable_reports_the_session_is_all_charging() {
        let s = session(Some((60, 11_000)));
        for reports in [
            vec![],
            vec![status(-10, SuspendedEV)],
            vec![status(30, Faulted), status(35, Available)],
        ] {
            assert_eq!(
                spans(&activity_periods(&s, &reports, true, t(999))),
                vec![(0, 60, C, false)]
            );
        }
    }

    #[test]
    fn idle_after_stop_lasts_until_unplugged() {
        let s = session(Some((60, 11_000)));
        let reports = [status(60, Finishing), status(90, Available)];
        assert_eq!(
            spans(&activity_periods(&s, &reports, true, t(999))),
            vec![(0, 60, C, false), (60, 90, I, true)]
        );
        // The tariff bills no idle: the session ends at its stop.
        assert_eq!(
            spans(&activity_periods(&s, &reports, false, t(999))),
            vec![(0, 60, C, false)]
        );
        // Still plugged in: up to now, at most a day.
        let plugged = [status(58, Finishing)];
        assert_eq!(
            spans(&activity_periods(&s, &plugged, true, t(100))),
            vec![(0, 58, C, false), (58, 60, I, false), (60, 100, I, true)]
        );
        let long = activity_periods(&s, &plugged, true, t(60 + 48 * 60));
        assert_eq!(long.last().unwrap().end, t(60 + 24 * 60));
        // Unplugged 5 minutes after the stop, with no Finishing seen.
        assert_eq!(
            spans(&activity_periods(
                &s,
                &[status(65, Available)],
                true,
                t(999)
            )),
            vec![(0, 60, C, false), (60, 65, I, true)]
        );
        // No report after the stop and the last one said Charging: no
        // evidence the cable stayed in.
        assert_eq!(
            spans(&activity_periods(&s, &[status(10, Charging)], true, t(999))),
            vec![(0, 60, C, false)]
        );
        // An active session has no "after stop".
        let active = session(None);
        assert_eq!(
            spans(&activity_periods(&active, &plugged, true, t(100))),
            vec![(0, 58, C, false), (58, 100, I, false)]
        );
    }

    #[test]
    fn energy_goes_to_the_charging_time_between_readings() {
        let s = session(Some((60, 11_000)));
        let values = [register(30, "6000", None)];
        let reports = [status(20, SuspendedEV), status(25, Charging)];
        let activity = activity_periods(&s, &reports, false, t(999));
        let tl = session_timeline(&s, &values, &activity, Tz::UTC, t(999));
        let got: Vec<(i64, Decimal, Decimal, Decimal)> = tl
            .periods
            .iter()
            .map(|p| {
                (
                    (p.start - t(0)).num_minutes(),
                    p.energy_kwh.normalize(),
                    p.charging_s,
                    p.idle_s,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, Decimal::new(4, 0), Decimal::from(1200), Decimal::ZERO),
                (20, Decimal::ZERO, Decimal::ZERO, Decimal::from(300)),
                (25, Decimal::ONE, Decimal::from(300), Decimal::ZERO),
                (30, Decimal::new(5, 0), Decimal::from(1800), Decimal::ZERO),
            ]
        );
    }

    /// Worked example (docs/pricing.md, "Idle"): 0.30 EUR/kWh and an idle
    /// fee of 6.00 EUR/h after a 10-minute grace period. 10 kWh from 10:00;
    /// the car is full at 10:50 (Finishing), the driver stops at 11:00 and
    /// unplugs at 11:30. Idle: 10:50–11:30 = 40 min, of which the first 10
    /// are free: 30 min × 6.00/h = 3.00 EUR, plus 10 kWh × 0.30 = 3.00 EUR.
    #[test]
    fn worked_example_idle_fee_after_a_grace_period() {
        let s = session(Some((60, 11_000)));
        let reports = [
            status(0, Charging),
            status(50, Finishing),
            status(90, Available),
        ];
        let price =
            price_session_cost(&s, &[], &reports, &idle_tariff(600, false), Tz::UTC, t(999))
                .unwrap();
        let b = &price.breakdown;
        assert_eq!(price.priced_until, t(90));
        assert_eq!(b.total_energy_cost.incl_vat.minor(), 300);
        assert_eq!(b.total_parking_cost.incl_vat.minor(), 300);
        assert_eq!(b.total_cost.incl_vat.minor(), 600);
        assert_eq!(b.total_idle_s, Decimal::from(40 * 60));
        let idle: Vec<(i64, i64, bool, Decimal, Decimal)> = price
            .idle_periods()
            .iter()
            .map(|p| {
                (
                    (p.start - t(0)).num_minutes(),
                    (p.end - t(0)).num_minutes(),
                    p.after_stop,
                    p.billed_s,
                    p.free_s,
                )
            })
            .collect();
        assert_eq!(
            idle,
            vec![
                (50, 60, false, Decimal::ZERO, Decimal::from(600)),
                (60, 90, true, Decimal::from(1800), Decimal::ZERO),
            ]
        );
        assert_eq!(
            crate::pricing::stored::cost_summary(b, Language::En),
            "Energy 10 kWh: 3.00 EUR; Idle 0.67 h: 3.00 EUR; Total: 6.00 EUR incl. VAT"
        );
        assert_eq!(
            crate::pricing::stored::cost_summary(b, Language::Es),
            "Energía 10 kWh: 3,00 EUR; Inactividad 0,67 h: 3,00 EUR; Total: 6,00 EUR IVA incluido"
        );
    }

    #[test]
    fn a_pause_before_charging_finished_is_free_when_the_tariff_says_so() {
        let s = session(Some((60, 11_000)));
        let reports = [
            status(20, SuspendedEV),
            status(30, Charging),
            status(60, Finishing),
            status(75, Available),
        ];
        let price =
            price_session_cost(&s, &[], &reports, &idle_tariff(0, true), Tz::UTC, t(999)).unwrap();
        // 10 min paused (free), 15 min after the stop billed: 1.50 EUR.
        assert_eq!(price.breakdown.total_parking_cost.incl_vat.minor(), 150);
        let billed: Vec<Decimal> = price.idle_periods().iter().map(|p| p.billed_s).collect();
        assert_eq!(billed, vec![Decimal::ZERO, Decimal::from(900)]);
    }

    fn any_status() -> impl Strategy<Value = ConnectorStatus> {
        prop::sample::select(vec![
            Available,
            Preparing,
            Charging,
            SuspendedEVSE,
            SuspendedEV,
            Finishing,
            Faulted,
        ])
    }

    fn any_reports() -> impl Strategy<Value = Vec<StatusReport>> {
        prop::collection::vec((-30i64..150, any_status(), 1u32..3), 0..12).prop_map(|v| {
            v.into_iter()
                .map(|(m, st, c)| StatusReport {
                    connector_id: ConnectorId::new(c).unwrap(),
                    ..status(m, st)
                })
                .collect()
        })
    }

    proptest! {
        /// Whatever the reports (out of order, other connectors, outside the
        /// session), the periods cover the timeline and add up to the
        /// register's rise and the session's seconds.
        #[test]
        fn timeline_adds_up_whatever_the_reports(
            reports in any_reports(),
            samples in prop::collection::vec((1i64..60, 1000i64..12_000), 0..5),
            idle_after_stop in any::<bool>(),
        ) {
            let s = session(Some((60, 12_000)));
            let values: Vec<StoredMeterValue> = samples
                .iter()
                .map(|(m, wh)| register(*m, &wh.to_string(), None))
                .collect();
            let activity = activity_periods(&s, &reports, idle_after_stop, t(200));
            let tl = session_timeline(&s, &values, &activity, Tz::UTC, t(200));
            let energy: Decimal = tl.periods.iter().map(|p| p.energy_kwh).sum();
            let secs: Decimal = tl.periods.iter().map(|p| p.charging_s + p.idle_s).sum();
            prop_assert!(energy >= Decimal::ZERO);
            prop_assert_eq!(secs, Decimal::from((tl.end - tl.start).num_seconds()));
            prop_assert!(tl.periods.windows(2).all(|w| w[0].start < w[1].start));
            // Without a reset the whole rise is billed.
            if samples.iter().all(|(_, wh)| *wh <= 12_000) {
                let mut sorted = samples.clone();
                sorted.sort();
                let monotone = sorted.windows(2).all(|w| w[0].1 <= w[1].1);
                if monotone {
                    prop_assert_eq!(energy, Decimal::from(11));
                }
            }
            let idle_tariff = idle_tariff(300, false);
            prop_assert!(price_session_cost(&s, &values, &reports, &idle_tariff, Tz::UTC, t(200)).is_ok());
        }

        /// Adding idle time (unplugging later) never lowers the total, with
        /// or without grace period and "only after charging finished".
        #[test]
        /// Whatever the spacing of the readings (down to 1 µs) and the
        /// status reports, the periods' energy adds up to the register's
        /// rise.
        #[test]
        fn energy_adds_up_to_the_register_rise_at_any_spacing(
            steps in proptest::collection::vec((1i64..2_000_000, 0i64..5_000), 1..30),
            reports in any_reports(),
        ) {
            let s = session(None);
            let mut at = t(0);
            let mut wh = 1000;
            let mut values = Vec::new();
            for (gap_us, rise) in &steps {
                at += Duration::microseconds(*gap_us);
                wh += rise;
                values.push(StoredMeterValue {
                    timestamp: at,
                    value: SampledValue { value: wh.to_string(), ..register(0, "0", None).value },
                    ..register(0, "0", None)
                });
            }
            let now = at + Duration::seconds(1);
            let activity = activity_periods(&s, &reports, false, now);
            let tl = session_timeline(&s, &values, &activity, Tz::UTC, now);
            let kwh: Decimal = tl.periods.iter().map(|p| p.energy_kwh).sum();
            prop_assert_eq!(kwh * Decimal::ONE_THOUSAND, Decimal::from(wh - 1000));
        }

        fn more_idle_never_costs_less(
            reports in any_reports(),
            unplug in 61i64..180,
            later in 0i64..120,
            grace in prop::sample::select(vec![0u32, 300, 900]),
            only_after in any::<bool>(),
        ) {
            let s = session(Some((60, 11_000)));
            let tariff = idle_tariff(grace, only_after);
            let in_session: Vec<StatusReport> = reports
                .into_iter()
                .filter(|r| r.effective_at() < t(60))
                .chain([status(60, Finishing)])
                .collect();
            let total = |unplug_at: i64| {
                let mut r = in_session.clone();
                r.push(status(unplug_at, Available));
                price_session_cost(&s, &[], &r, &tariff, Tz::UTC, t(999))
                    .unwrap()
                    .breakdown
                    .total_cost
                    .incl_vat
                    .minor()
            };
            prop_assert!(total(unplug + later) >= total(unplug));
            prop_assert!(total(unplug) >= total(60));
        }
    }
}
