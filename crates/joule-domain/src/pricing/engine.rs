//! The pricing engine: a [`ValidTariff`] and a session timeline in, a priced
//! breakdown out. Pure: no clock, no I/O; the caller gives the time zone.
//!
//! The steps, each documented in docs/pricing.md:
//! 1. Each charging period is cut into *slices* wherever a restriction could
//!    change inside it: a time of day named by the tariff, local midnight, a
//!    change of UTC offset, a duration threshold, a kWh threshold. Volumes are
//!    spread evenly over the period's wall time (energy over its energy), so a
//!    session crossing 22:00 is priced partly at each rate.
//! 2. Restrictions are evaluated at the start of each slice; per dimension the
//!    first element (in list order) that matches and has a component of that
//!    dimension prices it (OCPI 2.2.1). FLAT is charged once, by the first
//!    slice in which an element with a FLAT component matches.
//! 3. Idle (PARKING_TIME) volume that is free is taken out: the grace period,
//!    and idle time before charging finished (if the operator says so).
//! 4. Step size: the total priced volume of a dimension is rounded up to the
//!    step size of the last component that priced it; the extra is billed at
//!    that component's price (OCPI 2.2.1, "step_size SHALL only be taken into
//!    account for the last TariffElement").
//! 5. Money: per dimension and VAT rate the exact amount is rounded once to
//!    minor units; VAT is computed on that rounded amount and rounded once;
//!    totals are sums of rounded amounts; then min/max price.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Offset, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::tariff::{PriceComponent, TariffDimensionType};
use super::validate::{Restrictions, ValidTariff};
use crate::kernel::money::{Currency, Decimal, Money, MoneyError};

/// Sessions longer than this are refused rather than walked minute by minute.
const MAX_SESSION: Duration = Duration::days(62);
const SECONDS_PER_HOUR: Decimal = Decimal::from_parts(3600, 0, 0, false, 0);
const WH_PER_KWH: Decimal = Decimal::ONE_THOUSAND;

/// The metered timeline of a session: what the engine prices.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTimeline {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Where time-of-day, date and day-of-week restrictions are read.
    pub time_zone: Tz,
    /// In order; each lasts until the next one starts (the last until `end`).
    pub periods: Vec<ChargingPeriod>,
}

/// One charging period, as in an OCPI CDR: a start and the volumes measured
/// until the next period starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargingPeriod {
    pub start: DateTime<Utc>,
    /// ENERGY delivered in this period, kWh.
    pub energy_kwh: Decimal,
    /// TIME: seconds charging in this period.
    pub charging_s: Decimal,
    /// PARKING_TIME: seconds connected but not charging in this period.
    pub idle_s: Decimal,
    /// CURRENT (average), MIN_CURRENT, MAX_CURRENT: A, summed over phases.
    pub current_a: Option<Decimal>,
    pub min_current_a: Option<Decimal>,
    pub max_current_a: Option<Decimal>,
    /// POWER (average), MIN_POWER, MAX_POWER: kW.
    pub power_kw: Option<Decimal>,
    pub min_power_kw: Option<Decimal>,
    pub max_power_kw: Option<Decimal>,
}

impl ChargingPeriod {
    /// A period with no volumes yet.
    pub fn at(start: DateTime<Utc>) -> ChargingPeriod {
        ChargingPeriod {
            start,
            energy_kwh: Decimal::ZERO,
            charging_s: Decimal::ZERO,
            idle_s: Decimal::ZERO,
            current_a: None,
            min_current_a: None,
            max_current_a: None,
            power_kw: None,
            min_power_kw: None,
            max_power_kw: None,
        }
    }

    fn is_charging(&self) -> bool {
        self.energy_kwh > Decimal::ZERO || self.charging_s > Decimal::ZERO
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the session ends before it starts")]
    EndBeforeStart,
    #[error("the session lasts more than {} days", MAX_SESSION.num_days())]
    TooLong,
    #[error("charging_periods[{0}] starts before the session or before the previous period")]
    PeriodOutOfOrder(usize),
    #[error("charging_periods[{0}] starts after the session ends")]
    PeriodAfterEnd(usize),
    #[error("charging_periods[{index}]: {dimension} volume is negative")]
    NegativeVolume {
        index: usize,
        dimension: &'static str,
    },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("a price or volume is out of range")]
    Overflow,
}

/// An amount excluding and including VAT, rounded to minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceAmount {
    pub excl_vat: Money,
    pub incl_vat: Money,
}

impl PriceAmount {
    fn zero(currency: Currency) -> PriceAmount {
        PriceAmount {
            excl_vat: Money::zero(currency),
            incl_vat: Money::zero(currency),
        }
    }

    fn add(self, other: PriceAmount) -> Result<PriceAmount, MoneyError> {
        Ok(PriceAmount {
            excl_vat: self.excl_vat.checked_add(other.excl_vat)?,
            incl_vat: self.incl_vat.checked_add(other.incl_vat)?,
        })
    }
}

/// Which component of the tariff priced something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentRef {
    /// Index into `elements`.
    pub element: usize,
    /// Index into that element's `price_components`.
    pub component: usize,
}

/// Why idle volume was not billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeReason {
    /// Inside the tariff's idle grace period.
    IdleGracePeriod,
    /// Before charging finished, with `idle_fee_only_after_charging_finished`.
    ChargingNotFinished,
}

/// A slice of a charging period in which no restriction changes.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedSlice {
    /// Index of the charging period this slice is part of.
    pub period: usize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Energy charged in the session before this slice, kWh.
    pub energy_before_kwh: Decimal,
    pub lines: Vec<PricedLine>,
}

/// One dimension of one slice.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedLine {
    pub dimension: TariffDimensionType,
    /// `None`: no element matched, so this volume costs nothing (OCPI).
    pub priced_by: Option<ComponentRef>,
    /// Billed volume: kWh for ENERGY, seconds for TIME and PARKING_TIME.
    pub volume: Decimal,
    /// Volume not billed (idle only), and why.
    pub free_volume: Decimal,
    pub free_reason: Option<FreeReason>,
    /// Per kWh or per hour, excluding VAT.
    pub unit_price: Decimal,
    pub vat: Option<Decimal>,
    /// `volume × unit_price` exactly (before any rounding).
    pub amount_excl_vat: Decimal,
}

/// The FLAT fee, charged once.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatFee {
    pub priced_by: ComponentRef,
    pub price: Decimal,
    pub vat: Option<Decimal>,
}

/// The volume a dimension's last component added by rounding the total up
/// to its step size.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRounding {
    pub dimension: TariffDimensionType,
    pub priced_by: ComponentRef,
    /// Wh or seconds, as in the tariff.
    pub step_size: i64,
    /// Total priced volume before and after rounding (kWh or seconds).
    pub volume: Decimal,
    pub billed_volume: Decimal,
    pub unit_price: Decimal,
    pub vat: Option<Decimal>,
    pub amount_excl_vat: Decimal,
}

/// One dimension at one VAT rate: where rounding happens.
#[derive(Debug, Clone, PartialEq)]
pub struct VatGroup {
    pub dimension: TariffDimensionType,
    pub vat: Option<Decimal>,
    /// Billed volume (kWh, seconds, or 1 for FLAT).
    pub volume: Decimal,
    /// The exact amount before rounding.
    pub exact_excl_vat: Decimal,
    pub cost: PriceAmount,
}

/// Which price limit changed the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceCapKind {
    MinPrice,
    MaxPrice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceCap {
    pub kind: PriceCapKind,
    /// `total_cost − sum of the dimensions`, in minor units (negative for
    /// max_price), excluding and including VAT.
    pub adjustment_excl_vat_minor: i64,
    pub adjustment_incl_vat_minor: i64,
}

/// The priced session.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceBreakdown {
    pub currency: Currency,
    pub slices: Vec<PricedSlice>,
    pub flat_fee: Option<FlatFee>,
    pub step_roundings: Vec<StepRounding>,
    pub groups: Vec<VatGroup>,
    pub total_energy_cost: PriceAmount,
    pub total_time_cost: PriceAmount,
    pub total_parking_cost: PriceAmount,
    pub total_fixed_cost: PriceAmount,
    /// Sum of the four dimension totals, before min/max price.
    pub subtotal: PriceAmount,
    pub price_cap: Option<PriceCap>,
    pub total_cost: PriceAmount,
    pub total_energy_kwh: Decimal,
    /// Session end − start, seconds (OCPI `total_time` is this in hours).
    pub session_duration_s: Decimal,
    pub total_charging_s: Decimal,
    pub total_idle_s: Decimal,
}

/// Prices a session under a tariff.
pub fn price_session(
    tariff: &ValidTariff,
    session: &SessionTimeline,
) -> Result<PriceBreakdown, PricingError> {
    check_timeline(session)?;
    let currency = tariff.currency();
    let mut slices = cut_slices(tariff, session)?;
    let flat_fee = choose_flat(tariff, session, &slices);
    let chosen = choose_components(tariff, session, &slices);

    let mut lines: Vec<Vec<PricedLine>> = vec![Vec::new(); slices.len()];
    for dim in [TariffDimensionType::Energy, TariffDimensionType::Time] {
        for (k, slice) in slices.iter().enumerate() {
            let volume = match dim {
                TariffDimensionType::Energy => slice.energy,
                _ => slice.charging_s,
            };
            if volume > Decimal::ZERO {
                lines[k].push(line(tariff, dim, chosen[k].get(dim), volume)?);
            }
        }
    }
    idle_lines(tariff, session, &slices, &chosen)?
        .into_iter()
        .enumerate()
        .for_each(|(k, l)| lines[k].extend(l));
    let mut step_roundings = Vec::new();
    for dim in [
        TariffDimensionType::Energy,
        TariffDimensionType::Time,
        TariffDimensionType::ParkingTime,
    ] {
        if let Some(r) = step_round(tariff, dim, &lines)? {
            step_roundings.push(r);
        }
    }

    let groups = vat_groups(currency, &lines, &step_roundings, flat_fee.as_ref())?;
    let mut totals = [PriceAmount::zero(currency); 4];
    for g in &groups {
        let i = dimension_order(g.dimension);
        totals[i] = totals[i].add(g.cost)?;
    }
    let subtotal = totals
        .iter()
        .try_fold(PriceAmount::zero(currency), |acc, t| acc.add(*t))?;
    let (total_cost, price_cap) = apply_caps(tariff, subtotal)?;

    let total_energy_kwh = sum(session.periods.iter().map(|p| p.energy_kwh))?;
    let total_charging_s = sum(session.periods.iter().map(|p| p.charging_s))?;
    let total_idle_s = sum(session.periods.iter().map(|p| p.idle_s))?;
    let priced_slices = slices
        .drain(..)
        .zip(lines)
        .map(|(s, lines)| PricedSlice {
            period: s.period,
            start: s.start,
            end: s.end,
            energy_before_kwh: s.energy_before,
            lines,
        })
        .collect();
    let [energy, time, parking, fixed] = totals;
    Ok(PriceBreakdown {
        currency,
        slices: priced_slices,
        flat_fee,
        step_roundings,
        groups,
        total_energy_cost: energy,
        total_time_cost: time,
        total_parking_cost: parking,
        total_fixed_cost: fixed,
        subtotal,
        price_cap,
        total_cost,
        total_energy_kwh,
        session_duration_s: millis_to_seconds(duration_ms(session.start, session.end)),
        total_charging_s,
        total_idle_s,
    })
}

fn dimension_order(d: TariffDimensionType) -> usize {
    match d {
        TariffDimensionType::Energy => 0,
        TariffDimensionType::Time => 1,
        TariffDimensionType::ParkingTime => 2,
        TariffDimensionType::Flat => 3,
    }
}

fn check_timeline(session: &SessionTimeline) -> Result<(), PricingError> {
    if session.end < session.start {
        return Err(PricingError::EndBeforeStart);
    }
    if session.end - session.start > MAX_SESSION {
        return Err(PricingError::TooLong);
    }
    let mut previous: Option<DateTime<Utc>> = None;
    for (index, p) in session.periods.iter().enumerate() {
        if p.start < session.start || previous.is_some_and(|prev| p.start <= prev) {
            return Err(PricingError::PeriodOutOfOrder(index));
        }
        if p.start > session.end {
            return Err(PricingError::PeriodAfterEnd(index));
        }
        for (dimension, v) in [
            ("ENERGY", p.energy_kwh),
            ("TIME", p.charging_s),
            ("PARKING_TIME", p.idle_s),
        ] {
            if v < Decimal::ZERO {
                return Err(PricingError::NegativeVolume { index, dimension });
            }
        }
        previous = Some(p.start);
    }
    Ok(())
}

// ---------------------------------------------------------------- slicing

struct Slice {
    period: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    energy_before: Decimal,
    energy: Decimal,
    charging_s: Decimal,
    idle_s: Decimal,
}

/// A cut inside a period at fraction `num / den` of it.
#[derive(Clone, Copy)]
struct Cut {
    num: Decimal,
    den: Decimal,
    at: DateTime<Utc>,
    /// Cuts at a kWh threshold sort before time cuts at the same place.
    by_energy: bool,
}

impl Cut {
    fn fraction(&self) -> Decimal {
        self.num.checked_div(self.den).unwrap_or(Decimal::ZERO)
    }
}

/// Precision of the volumes at a cut inside a period: a millisecond and a
/// milliwatt-hour. A cut at a fraction such as 4 kWh / 33.497 kWh has no
/// finite decimal expansion; kept at full precision, the slices' volumes
/// would sum to a hair above the period's (28 significant digits cannot
/// hold every partial sum), and a step size would then bill one more whole
/// step. Rounding the cumulative volume at each cut keeps every sum exact,
/// and rounding `x` or `x - n` (a period split at a whole second) gives
/// the same instant, so splitting a period never changes the price.
const CUT_SECONDS_DP: u32 = 3;
const CUT_KWH_DP: u32 = 6;

fn cut_slices(tariff: &ValidTariff, session: &SessionTimeline) -> Result<Vec<Slice>, PricingError> {
    let tz = session.time_zone;
    let local_times = boundary_times(tariff);
    let durations: Vec<i64> = tariff
        .elements
        .iter()
        .flat_map(|e| [e.restrictions.min_duration_s, e.restrictions.max_duration_s])
        .flatten()
        .collect();
    let thresholds: Vec<Decimal> = tariff
        .elements
        .iter()
        .flat_map(|e| [e.restrictions.min_kwh, e.restrictions.max_kwh])
        .flatten()
        .collect();

    let mut slices = Vec::new();
    let mut energy_before = Decimal::ZERO;
    for (i, period) in session.periods.iter().enumerate() {
        let start = period.start;
        let end = session
            .periods
            .get(i + 1)
            .map_or(session.end, |next| next.start);
        let wall_ms = duration_ms(start, end);
        let mut instants: Vec<DateTime<Utc>> = Vec::new();
        if let Some(times) = &local_times {
            local_boundaries(tz, times, start, end, &mut instants);
        }
        for &d in &durations {
            if let Some(at) = session.start.checked_add_signed(Duration::seconds(d)) {
                if at > start && at < end {
                    instants.push(at);
                }
            }
        }
        let mut cuts: Vec<Cut> = instants
            .into_iter()
            .map(|at| Cut {
                num: Decimal::from(duration_ms(start, at)),
                den: Decimal::from(wall_ms),
                at,
                by_energy: false,
            })
            .collect();
        let energy_after = add(energy_before, period.energy_kwh)?;
        for &k in &thresholds {
            if k > energy_before && k < energy_after {
                let num = sub(k, energy_before)?;
                let offset_ms = portion(Decimal::from(wall_ms), num, period.energy_kwh)?
                    .round()
                    .try_into()
                    .unwrap_or(0i64);
                cuts.push(Cut {
                    num,
                    den: period.energy_kwh,
                    at: start + Duration::milliseconds(offset_ms),
                    by_energy: true,
                });
            }
        }
        cuts.sort_by(|a, b| {
            a.fraction()
                .cmp(&b.fraction())
                .then(b.by_energy.cmp(&a.by_energy))
        });
        cuts.dedup_by(|later, earlier| later.fraction() == earlier.fraction());

        // Volumes at each cut, computed from the period's totals so the
        // slices add up exactly to the period.
        let mut prev = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, start);
        let ends = cuts
            .iter()
            .map(|c| -> Result<_, PricingError> {
                Ok((
                    portion(period.energy_kwh, c.num, c.den)?.round_dp(CUT_KWH_DP),
                    portion(period.charging_s, c.num, c.den)?.round_dp(CUT_SECONDS_DP),
                    portion(period.idle_s, c.num, c.den)?.round_dp(CUT_SECONDS_DP),
                    c.at,
                ))
            })
            .chain(std::iter::once(Ok((
                period.energy_kwh,
                period.charging_s,
                period.idle_s,
                end,
            ))));
        for point in ends {
            let point = point?;
            slices.push(Slice {
                period: i,
                start: prev.3,
                end: point.3,
                energy_before: add(energy_before, prev.0)?,
                energy: sub(point.0, prev.0)?,
                charging_s: sub(point.1, prev.1)?,
                idle_s: sub(point.2, prev.2)?,
            });
            prev = point;
        }
        energy_before = energy_after;
    }
    Ok(slices)
}

/// The local times of day at which some restriction may change, or `None`
/// if no element looks at the clock.
fn boundary_times(tariff: &ValidTariff) -> Option<Vec<NaiveTime>> {
    if !tariff.uses_local_time() {
        return None;
    }
    let mut times = vec![NaiveTime::MIN];
    for e in &tariff.elements {
        times.extend(e.restrictions.start_time);
        times.extend(e.restrictions.end_time);
    }
    times.sort();
    times.dedup();
    Some(times)
}

/// Every whole minute strictly inside (start, end) at which the local time
/// of day is one of `times`, or the UTC offset changes (DST), pushed to `out`.
/// Tariff times and time-zone offsets are whole minutes, so checking every
/// minute finds every boundary.
fn local_boundaries(
    tz: Tz,
    times: &[NaiveTime],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    out: &mut Vec<DateTime<Utc>>,
) {
    let Some(first) = start
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .map(|t| t + Duration::minutes(1))
    else {
        return;
    };
    let mut minute = first;
    let mut previous_offset = tz
        .offset_from_utc_datetime(&(minute - Duration::minutes(1)).naive_utc())
        .fix();
    while minute < end {
        let local = minute.with_timezone(&tz);
        let offset = local.offset().fix();
        let time = NaiveTime::from_hms_opt(local.hour(), local.minute(), 0);
        if offset != previous_offset || time.is_some_and(|t| times.binary_search(&t).is_ok()) {
            out.push(minute);
        }
        previous_offset = offset;
        minute += Duration::minutes(1);
    }
}

// ------------------------------------------------------- matching elements

/// What restrictions look at, at the start of a slice.
pub(crate) struct Moment<'a> {
    pub local: DateTime<Tz>,
    pub energy_kwh: Decimal,
    pub session_ms: i64,
    pub period: Option<&'a ChargingPeriod>,
}

fn moment<'a>(session: &'a SessionTimeline, slice: &Slice) -> Moment<'a> {
    Moment {
        local: slice.start.with_timezone(&session.time_zone),
        energy_kwh: slice.energy_before,
        session_ms: duration_ms(session.start, slice.start),
        period: session.periods.get(slice.period),
    }
}

pub(crate) fn matches(r: &Restrictions, m: &Moment<'_>) -> bool {
    if r.reservation.is_some() {
        // Reservation elements price reservations, which are not part of a
        // charging session's timeline.
        return false;
    }
    let time = m.local.time();
    let in_window = match (r.start_time, r.end_time) {
        (Some(s), Some(e)) if s < e => s <= time && time < e,
        (Some(s), Some(e)) => time >= s || time < e,
        (Some(s), None) => time >= s,
        (None, Some(e)) => time < e,
        (None, None) => true,
    };
    let date = m.local.date_naive();
    let weekday: Weekday = m.local.weekday();
    let below = |value: Decimal, max: Option<Decimal>| max.is_none_or(|max| value < max);
    let from = |value: Decimal, min: Option<Decimal>| min.is_none_or(|min| value >= min);
    let session_s = Decimal::from(m.session_ms) / Decimal::ONE_THOUSAND;
    in_window
        && r.start_date.is_none_or(|s| date >= s)
        && r.end_date.is_none_or(|e| date < e)
        && (r.days.is_empty() || r.days.contains(&weekday))
        && from(m.energy_kwh, r.min_kwh)
        && below(m.energy_kwh, r.max_kwh)
        && from(session_s, r.min_duration_s.map(Decimal::from))
        && below(session_s, r.max_duration_s.map(Decimal::from))
        && measured(m.period, r.min_current, r.max_current, |p| {
            (p.min_current_a, p.current_a, p.max_current_a)
        })
        && measured(m.period, r.min_power, r.max_power, |p| {
            (p.min_power_kw, p.power_kw, p.max_power_kw)
        })
}

/// Current and power restrictions hold for the whole period: its lowest
/// value must reach `min` and its highest stay below `max`. The average
/// stands in for a missing minimum or maximum; with no value at all the
/// restriction does not match.
fn measured(
    period: Option<&ChargingPeriod>,
    min: Option<Decimal>,
    max: Option<Decimal>,
    values: impl Fn(&ChargingPeriod) -> (Option<Decimal>, Option<Decimal>, Option<Decimal>),
) -> bool {
    if min.is_none() && max.is_none() {
        return true;
    }
    let Some((lo, avg, hi)) = period.map(values) else {
        return false;
    };
    let lowest = lo.or(avg).or(hi);
    let highest = hi.or(avg).or(lo);
    min.is_none_or(|min| lowest.is_some_and(|v| v >= min))
        && max.is_none_or(|max| highest.is_some_and(|v| v < max))
}

#[derive(Clone, Copy, Default)]
struct Chosen {
    energy: Option<ComponentRef>,
    time: Option<ComponentRef>,
    parking: Option<ComponentRef>,
}

impl Chosen {
    fn get(&self, dim: TariffDimensionType) -> Option<ComponentRef> {
        match dim {
            TariffDimensionType::Energy => self.energy,
            TariffDimensionType::Time => self.time,
            TariffDimensionType::ParkingTime => self.parking,
            TariffDimensionType::Flat => None,
        }
    }
}

fn first_match(
    tariff: &ValidTariff,
    matching: &[bool],
    dim: TariffDimensionType,
) -> Option<ComponentRef> {
    tariff
        .elements
        .iter()
        .zip(matching)
        .enumerate()
        .find_map(|(element, (e, ok))| {
            if !ok {
                return None;
            }
            e.component(dim)
                .map(|(component, _)| ComponentRef { element, component })
        })
}

fn choose_components(
    tariff: &ValidTariff,
    session: &SessionTimeline,
    slices: &[Slice],
) -> Vec<Chosen> {
    slices
        .iter()
        .map(|slice| {
            let m = moment(session, slice);
            let matching: Vec<bool> = tariff
                .elements
                .iter()
                .map(|e| matches(&e.restrictions, &m))
                .collect();
            Chosen {
                energy: first_match(tariff, &matching, TariffDimensionType::Energy),
                time: first_match(tariff, &matching, TariffDimensionType::Time),
                parking: first_match(tariff, &matching, TariffDimensionType::ParkingTime),
            }
        })
        .collect()
}

/// The FLAT fee: the first slice in which an element with a FLAT component
/// matches decides it. A session without periods is looked at at its start.
fn choose_flat(
    tariff: &ValidTariff,
    session: &SessionTimeline,
    slices: &[Slice],
) -> Option<FlatFee> {
    let at_start = Slice {
        period: usize::MAX,
        start: session.start,
        end: session.start,
        energy_before: Decimal::ZERO,
        energy: Decimal::ZERO,
        charging_s: Decimal::ZERO,
        idle_s: Decimal::ZERO,
    };
    let candidates: Vec<&Slice> = if slices.is_empty() {
        vec![&at_start]
    } else {
        slices.iter().collect()
    };
    candidates.into_iter().find_map(|slice| {
        let m = moment(session, slice);
        let matching: Vec<bool> = tariff
            .elements
            .iter()
            .map(|e| matches(&e.restrictions, &m))
            .collect();
        let priced_by = first_match(tariff, &matching, TariffDimensionType::Flat)?;
        let c = component(tariff, priced_by)?;
        Some(FlatFee {
            priced_by,
            price: c.price,
            vat: c.vat,
        })
    })
}

fn component(tariff: &ValidTariff, r: ComponentRef) -> Option<&PriceComponent> {
    tariff.elements.get(r.element)?.components.get(r.component)
}

// ------------------------------------------------------------------ lines

/// Exact amount for a volume: kWh × price, or seconds × price / 3600.
fn amount(
    dim: TariffDimensionType,
    volume: Decimal,
    price: Decimal,
) -> Result<Decimal, PricingError> {
    let product = mul(volume, price)?;
    match dim {
        TariffDimensionType::Time | TariffDimensionType::ParkingTime => {
            div(product, SECONDS_PER_HOUR)
        }
        _ => Ok(product),
    }
}

fn line(
    tariff: &ValidTariff,
    dimension: TariffDimensionType,
    priced_by: Option<ComponentRef>,
    volume: Decimal,
) -> Result<PricedLine, PricingError> {
    let c = priced_by.and_then(|r| component(tariff, r));
    let unit_price = c.map_or(Decimal::ZERO, |c| c.price);
    Ok(PricedLine {
        dimension,
        priced_by: c.and(priced_by),
        volume,
        free_volume: Decimal::ZERO,
        free_reason: None,
        unit_price,
        vat: c.and_then(|c| c.vat),
        amount_excl_vat: amount(dimension, volume, unit_price)?,
    })
}

/// PARKING_TIME lines, after taking out the idle volume that is free.
fn idle_lines(
    tariff: &ValidTariff,
    session: &SessionTimeline,
    slices: &[Slice],
    chosen: &[Chosen],
) -> Result<Vec<Vec<PricedLine>>, PricingError> {
    let ext = tariff.extensions();
    let grace = Decimal::from(ext.idle_grace_period_s);
    let last_charging = session
        .periods
        .iter()
        .rposition(ChargingPeriod::is_charging);
    let mut out = vec![Vec::new(); slices.len()];
    let mut budget = Decimal::ZERO;
    let mut period_seen = None;
    for (k, slice) in slices.iter().enumerate() {
        if period_seen != Some(slice.period) {
            period_seen = Some(slice.period);
            if session
                .periods
                .get(slice.period)
                .is_some_and(ChargingPeriod::is_charging)
            {
                budget = grace;
            }
        }
        if slice.idle_s <= Decimal::ZERO {
            continue;
        }
        let mut l = line(
            tariff,
            TariffDimensionType::ParkingTime,
            chosen[k].parking,
            slice.idle_s,
        )?;
        let (free, why) = if ext.idle_fee_only_after_charging_finished
            && last_charging.is_some_and(|last| slice.period <= last)
        {
            (slice.idle_s, FreeReason::ChargingNotFinished)
        } else {
            let free = budget.min(slice.idle_s);
            budget = sub(budget, free)?;
            (free, FreeReason::IdleGracePeriod)
        };
        if free > Decimal::ZERO {
            l.volume = sub(slice.idle_s, free)?;
            l.free_volume = free;
            l.free_reason = Some(why);
            l.amount_excl_vat = amount(l.dimension, l.volume, l.unit_price)?;
        }
        out[k].push(l);
    }
    Ok(out)
}

/// Rounds a dimension's total priced volume up to the step size of the last
/// component that priced it.
fn step_round(
    tariff: &ValidTariff,
    dimension: TariffDimensionType,
    lines: &[Vec<PricedLine>],
) -> Result<Option<StepRounding>, PricingError> {
    let priced = || {
        lines.iter().flatten().filter(|l| {
            l.dimension == dimension && l.priced_by.is_some() && l.volume > Decimal::ZERO
        })
    };
    let Some(last) = priced().next_back() else {
        return Ok(None);
    };
    let (Some(priced_by), Some(c)) = (
        last.priced_by,
        last.priced_by.and_then(|r| component(tariff, r)),
    ) else {
        return Ok(None);
    };
    let volume = sum(priced().map(|l| l.volume))?;
    let step = match dimension {
        TariffDimensionType::Energy => div(Decimal::from(c.step_size), WH_PER_KWH)?,
        _ => Decimal::from(c.step_size),
    };
    let billed = ceil_to_multiple(volume, step)?;
    if billed == volume {
        return Ok(None);
    }
    let extra = sub(billed, volume)?;
    Ok(Some(StepRounding {
        dimension,
        priced_by,
        step_size: c.step_size,
        volume,
        billed_volume: billed,
        unit_price: c.price,
        vat: c.vat,
        amount_excl_vat: amount(dimension, extra, c.price)?,
    }))
}

/// The smallest multiple of `step` not below `v`, exactly.
fn ceil_to_multiple(v: Decimal, step: Decimal) -> Result<Decimal, PricingError> {
    if step <= Decimal::ZERO {
        return Ok(v);
    }
    let n = div(v, step)?.floor();
    let candidate = mul(n, step)?;
    if candidate >= v {
        Ok(candidate)
    } else {
        mul(add(n, Decimal::ONE)?, step)
    }
}

// ------------------------------------------------------------------ money

fn vat_groups(
    currency: Currency,
    lines: &[Vec<PricedLine>],
    roundings: &[StepRounding],
    flat: Option<&FlatFee>,
) -> Result<Vec<VatGroup>, PricingError> {
    // (dimension, vat) → (volume, Σ volume × price before the /3600)
    let mut acc: Vec<(TariffDimensionType, Option<Decimal>, Decimal, Decimal)> = Vec::new();
    let mut put = |dim,
                   vat: Option<Decimal>,
                   volume: Decimal,
                   product: Decimal|
     -> Result<(), PricingError> {
        match acc.iter_mut().find(|(d, v, _, _)| *d == dim && *v == vat) {
            Some(entry) => {
                entry.2 = add(entry.2, volume)?;
                entry.3 = add(entry.3, product)?;
            }
            None => acc.push((dim, vat, volume, product)),
        }
        Ok(())
    };
    for l in lines.iter().flatten() {
        if l.priced_by.is_some() && l.volume > Decimal::ZERO {
            put(l.dimension, l.vat, l.volume, mul(l.volume, l.unit_price)?)?;
        }
    }
    for r in roundings {
        let extra = sub(r.billed_volume, r.volume)?;
        put(r.dimension, r.vat, extra, mul(extra, r.unit_price)?)?;
    }
    if let Some(f) = flat {
        put(TariffDimensionType::Flat, f.vat, Decimal::ONE, f.price)?;
    }
    acc.sort_by(|a, b| {
        dimension_order(a.0)
            .cmp(&dimension_order(b.0))
            .then(a.1.cmp(&b.1))
    });
    acc.into_iter()
        .map(|(dimension, vat, volume, product)| {
            let exact = match dimension {
                TariffDimensionType::Time | TariffDimensionType::ParkingTime => {
                    div(product, SECONDS_PER_HOUR)?
                }
                _ => product,
            };
            let excl = Money::round_from(exact, currency)?;
            let incl = with_vat(excl, vat)?;
            Ok(VatGroup {
                dimension,
                vat,
                volume,
                exact_excl_vat: exact,
                cost: PriceAmount {
                    excl_vat: excl,
                    incl_vat: incl,
                },
            })
        })
        .collect()
}

/// `excl` plus VAT at `vat` percent, the VAT rounded once. No rate: no VAT.
fn with_vat(excl: Money, vat: Option<Decimal>) -> Result<Money, PricingError> {
    let Some(rate) = vat else { return Ok(excl) };
    let tax = div(mul(excl.to_decimal(), rate)?, Decimal::ONE_HUNDRED)?;
    Ok(excl.checked_add(Money::round_from(tax, excl.currency())?)?)
}

/// OCPI: the total excluding VAT stays within min_price/max_price excluding
/// VAT, and the total including VAT within their incl_vat. A limit without
/// incl_vat is carried to the total including VAT at the session's own ratio
/// of incl to excl (or the tariff's first VAT rate for a session that cost
/// nothing).
fn apply_caps(
    tariff: &ValidTariff,
    subtotal: PriceAmount,
) -> Result<(PriceAmount, Option<PriceCap>), PricingError> {
    let currency = tariff.currency();
    let t = tariff.tariff();
    let mut total = subtotal;
    let mut kind = None;
    let derive_incl = |excl: Money| -> Result<Money, PricingError> {
        if subtotal.excl_vat.is_zero() {
            let first_vat = tariff
                .elements
                .iter()
                .flat_map(|e| e.components.iter())
                .find_map(|c| c.vat);
            return with_vat(excl, first_vat);
        }
        let scaled = div(
            mul(subtotal.incl_vat.to_decimal(), excl.to_decimal())?,
            subtotal.excl_vat.to_decimal(),
        )?;
        Ok(Money::round_from(scaled, currency)?)
    };
    if let Some(min) = &t.min_price {
        let floor = Money::round_from(min.excl_vat, currency)?;
        if total.excl_vat.minor() < floor.minor() {
            total.excl_vat = floor;
            kind = Some(PriceCapKind::MinPrice);
            if min.incl_vat.is_none() {
                total.incl_vat = total.incl_vat.max_minor(derive_incl(floor)?);
            }
        }
        if let Some(incl) = min.incl_vat {
            let floor = Money::round_from(incl, currency)?;
            if total.incl_vat.minor() < floor.minor() {
                total.incl_vat = floor;
                kind = Some(PriceCapKind::MinPrice);
            }
        }
    }
    if let Some(max) = &t.max_price {
        let ceiling = Money::round_from(max.excl_vat, currency)?;
        if total.excl_vat.minor() > ceiling.minor() {
            total.excl_vat = ceiling;
            kind = Some(PriceCapKind::MaxPrice);
            if max.incl_vat.is_none() {
                total.incl_vat = total.incl_vat.min_minor(derive_incl(ceiling)?);
            }
        }
        if let Some(incl) = max.incl_vat {
            let ceiling = Money::round_from(incl, currency)?;
            if total.incl_vat.minor() > ceiling.minor() {
                total.incl_vat = ceiling;
                kind = Some(PriceCapKind::MaxPrice);
            }
        }
    }
    let cap = kind.map(|kind| PriceCap {
        kind,
        adjustment_excl_vat_minor: total.excl_vat.minor() - subtotal.excl_vat.minor(),
        adjustment_incl_vat_minor: total.incl_vat.minor() - subtotal.incl_vat.minor(),
    });
    Ok((total, cap))
}

trait MinMax {
    fn max_minor(self, other: Self) -> Self;
    fn min_minor(self, other: Self) -> Self;
}

impl MinMax for Money {
    fn max_minor(self, other: Money) -> Money {
        if other.minor() > self.minor() {
            other
        } else {
            self
        }
    }
    fn min_minor(self, other: Money) -> Money {
        if other.minor() < self.minor() {
            other
        } else {
            self
        }
    }
}

// ------------------------------------------------------- checked decimals

fn add(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_add(b).ok_or(PricingError::Overflow)
}

fn sub(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_sub(b).ok_or(PricingError::Overflow)
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_mul(b).ok_or(PricingError::Overflow)
}

fn div(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_div(b).ok_or(PricingError::Overflow)
}

/// `q × num / den`, multiplying first so that exact results stay exact.
fn portion(q: Decimal, num: Decimal, den: Decimal) -> Result<Decimal, PricingError> {
    if den.is_zero() {
        return Ok(Decimal::ZERO);
    }
    div(mul(q, num)?, den)
}

fn sum(values: impl Iterator<Item = Decimal>) -> Result<Decimal, PricingError> {
    values.into_iter().try_fold(Decimal::ZERO, add)
}

fn duration_ms(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds()
}

fn millis_to_seconds(ms: i64) -> Decimal {
    Decimal::new(ms, 3).normalize()
}
