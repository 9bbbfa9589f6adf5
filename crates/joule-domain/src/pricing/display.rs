//! What a charger's display needs from a tariff and a session (the OCA
//! "OCPP & California Pricing Requirements", STANDARDS.md §3), kept pure so
//! the protocol adapters only put it on the wire:
//!
//! - [`unit_prices_at`]: the unit prices in force at an instant (for
//!   `DefaultPrice`, `RunningCost.chargingPrice` / `idlePrice` / `nextPeriod`);
//! - [`next_price_boundary`]: the next instant the tariff's clock or calendar
//!   restrictions change which elements apply (a RunningCost is sent there);
//! - [`utc_offset_at`]: `TimeOffset` and the next DST transition of a zone;
//! - the driver texts, each taking an optional language (English default).
//!
//! Unit prices include VAT and are exact (never rounded to minor units):
//! drivers compare them with the price sign, and the charger only displays
//! them; every cost is computed by the engine.

use chrono::{DateTime, Duration, NaiveTime, Offset, TimeZone, Utc};

use crate::charging::session::{Session, StoredMeterValue};
use crate::kernel::language::Language;
use crate::kernel::money::Decimal;
use crate::kernel::texts::Texts;
use crate::pricing::engine::{matches, Moment};
use crate::pricing::stored::{price_incl_vat, StoredTariff};
use crate::pricing::{PriceBreakdown, TariffDimensionType, Tz, ValidTariff};

/// How far ahead [`next_price_boundary`] looks: a week and a day covers
/// every day-of-week pattern; a date restriction further away is found by
/// asking again later.
const BOUNDARY_HORIZON_DAYS: i64 = 8;

/// Unit prices including VAT of the first matching element per dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitPrices {
    /// Per kWh (ENERGY).
    pub kwh: Option<Decimal>,
    /// Per hour charging (TIME).
    pub hour: Option<Decimal>,
    /// Per session (FLAT).
    pub flat: Option<Decimal>,
    /// Per hour idle (PARKING_TIME).
    pub idle_hour: Option<Decimal>,
    /// Idle minutes free after each charging stretch (tariff extensions).
    pub idle_grace_minutes: u32,
}

/// Where a session stands when its prices are looked up: restrictions on
/// energy and duration read these (a quote before any session uses
/// [`SessionPoint::fresh`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionPoint {
    pub started_at: DateTime<Utc>,
    pub energy_kwh: Decimal,
}

impl SessionPoint {
    /// A session starting at `at` with nothing charged yet.
    pub fn fresh(at: DateTime<Utc>) -> SessionPoint {
        SessionPoint {
            started_at: at,
            energy_kwh: Decimal::ZERO,
        }
    }
}

/// The unit prices that apply at `at` in `tz` (OCPI first match per
/// dimension, as the engine prices). Current and power restrictions need a
/// measured period and never match here.
pub fn unit_prices_at(
    tariff: &ValidTariff,
    tz: Tz,
    at: DateTime<Utc>,
    session: SessionPoint,
) -> UnitPrices {
    let moment = Moment {
        local: at.with_timezone(&tz),
        energy_kwh: session.energy_kwh,
        session_ms: (at - session.started_at).num_milliseconds().max(0),
        period: None,
    };
    let matching: Vec<bool> = tariff
        .elements
        .iter()
        .map(|e| matches(&e.restrictions, &moment))
        .collect();
    let first = |dimension: TariffDimensionType| {
        tariff
            .elements
            .iter()
            .zip(&matching)
            .filter(|(_, ok)| **ok)
            .find_map(|(e, _)| e.component(dimension).map(|(_, c)| price_incl_vat(c)))
    };
    UnitPrices {
        kwh: first(TariffDimensionType::Energy),
        hour: first(TariffDimensionType::Time),
        flat: first(TariffDimensionType::Flat),
        idle_hour: first(TariffDimensionType::ParkingTime),
        idle_grace_minutes: tariff.extensions().idle_grace_period_s / 60,
    }
}

/// The first instant strictly after `after` at which a time-of-day,
/// day-of-week or date restriction starts or ends for some element, so that
/// which elements apply changes; `None` when the tariff ignores the clock or
/// nothing changes within [`BOUNDARY_HORIZON_DAYS`].
///
/// Candidates are every element's `start_time`/`end_time` and local midnight
/// on each day of the horizon; a candidate counts only if the set of
/// matching elements differs from the one at `after` (a window 22:00–06:00
/// repeated by two elements is one boundary, not two).
pub fn next_price_boundary(
    tariff: &ValidTariff,
    tz: Tz,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut times = vec![NaiveTime::MIN];
    let mut clock = false;
    for e in &tariff.elements {
        let r = &e.restrictions;
        times.extend(r.start_time);
        times.extend(r.end_time);
        clock |= r.start_time.is_some()
            || r.end_time.is_some()
            || r.start_date.is_some()
            || r.end_date.is_some()
            || !r.days.is_empty();
    }
    if !clock {
        return None;
    }
    times.sort();
    times.dedup();
    // Only the clock is compared: energy and duration are held fixed.
    let matching_at = |at: DateTime<Utc>| -> Vec<bool> {
        let moment = Moment {
            local: at.with_timezone(&tz),
            energy_kwh: Decimal::ZERO,
            session_ms: 0,
            period: None,
        };
        tariff
            .elements
            .iter()
            .map(|e| matches(&e.restrictions, &moment))
            .collect()
    };
    let now = matching_at(after);
    let first_day = after.with_timezone(&tz).date_naive();
    let mut candidates: Vec<DateTime<Utc>> = (0..=BOUNDARY_HORIZON_DAYS)
        .filter_map(|d| first_day.checked_add_signed(Duration::days(d)))
        .flat_map(|day| times.iter().map(move |t| day.and_time(*t)))
        .filter_map(|local| local_to_utc(tz, local))
        .filter(|at| *at > after)
        .collect();
    candidates.sort();
    candidates.dedup();
    candidates.into_iter().find(|at| matching_at(*at) != now)
}

/// A local time as UTC; a time skipped by a DST jump is taken at the end of
/// the gap (when the clock shows it first).
fn local_to_utc(tz: Tz, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    let mut probe = local;
    for _ in 0..=180 {
        if let Some(at) = tz.from_local_datetime(&probe).earliest() {
            return Some(at.with_timezone(&Utc));
        }
        probe += Duration::minutes(1);
    }
    None
}

/// A zone's UTC offset at an instant, and its next change (OCPP 1.6
/// `TimeOffset`, `NextTimeOffsetTransitionDateTime`, `TimeOffsetNextTransition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtcOffset {
    /// `+01:00`, `-08:00`, `+00:00`.
    pub offset: String,
    /// The next change within a year and the offset after it.
    pub next_transition: Option<(DateTime<Utc>, String)>,
}

/// The offset of `tz` at `at` and its next transition (found to the minute;
/// zones change on whole minutes).
pub fn utc_offset_at(tz: Tz, at: DateTime<Utc>) -> UtcOffset {
    let offset_s = |t: DateTime<Utc>| {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let current = offset_s(at);
    let mut next_transition = None;
    let mut day_start = at;
    for _ in 0..366 {
        let day_end = day_start + Duration::days(1);
        if offset_s(day_end) != current {
            // Binary search to the minute inside (day_start, day_end].
            let (mut lo, mut hi) = (day_start, day_end);
            while hi - lo > Duration::minutes(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_s(mid) == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let exact = hi
                .duration_trunc_minutes()
                .filter(|m| offset_s(*m) != current)
                .unwrap_or(hi);
            next_transition = Some((exact, offset_text(offset_s(day_end))));
            break;
        }
        day_start = day_end;
    }
    UtcOffset {
        offset: offset_text(current),
        next_transition,
    }
}

trait TruncMinutes: Sized {
    fn duration_trunc_minutes(self) -> Option<Self>;
}

impl TruncMinutes for DateTime<Utc> {
    fn duration_trunc_minutes(self) -> Option<Self> {
        chrono::DurationRound::duration_trunc(self, Duration::minutes(1)).ok()
    }
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The newest energy register of a session at or before `at`, with when it
/// was read (its start reading if none): the `meterValue` a running cost is
/// based on.
pub fn latest_register(
    session: &Session,
    meter_values: &[StoredMeterValue],
    at: DateTime<Utc>,
) -> (DateTime<Utc>, i64) {
    meter_values
        .iter()
        .filter(|m| session.started_at <= m.timestamp && m.timestamp <= at)
        .filter_map(|m| m.value.energy_register_wh().map(|wh| (m.timestamp, wh)))
        .max_by_key(|(t, _)| *t)
        .unwrap_or((session.started_at, session.meter_start_wh))
}

/// The text a charger shows when it cannot reach Joule (OCA
/// `priceTextOffline`): the price, and the warning that the cost shown may
/// differ from the invoice (offline policy 3 of the whitepaper).
pub fn offline_price_text(tariff: &StoredTariff, language: Language) -> String {
    let price = tariff.price_text(Some(language.code()), None);
    Texts::new(language).offline_price(&price.text)
}

/// The running cost for the display (OCA `RunningCost.priceText`), e.g.
/// `Cost so far: 1.08 EUR incl. VAT`.
pub fn running_cost_text(breakdown: &PriceBreakdown, language: Language) -> String {
    Texts::new(language).cost_so_far(&breakdown.total_cost.incl_vat)
}

/// The idle running cost after the stop (`RunningCost.priceText` with state
/// Idle), e.g. `Idle fee running. Cost so far: 2.10 EUR incl. VAT`.
pub fn idle_cost_text(breakdown: &PriceBreakdown, language: Language) -> String {
    Texts::new(language).idle_cost_so_far(&breakdown.total_cost.incl_vat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::session_cost::price_until_unplugged;
    use crate::pricing::TariffExtensions;
    use chrono::TimeZone;

    fn valid(json: serde_json::Value, ext: TariffExtensions) -> ValidTariff {
        ValidTariff::new(serde_json::from_value(json).unwrap(), ext).unwrap()
    }

    fn day_night() -> ValidTariff {
        valid(
            serde_json::json!({
                "country_code": "US", "party_id": "JOU", "id": "DN", "currency": "USD",
                "elements": [
                    {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}],
                     "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
                    {"price_components": [
                        {"type": "ENERGY", "price": 0.40, "vat": 10, "step_size": 1},
                        {"type": "FLAT", "price": 1.00, "step_size": 0},
                        {"type": "PARKING_TIME", "price": 6.00, "step_size": 60}]}
                ],
                "last_updated": "2026-01-01T00:00:00Z"
            }),
            TariffExtensions {
                idle_grace_period_s: 600,
                ..TariffExtensions::default()
            },
        )
    }

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    #[test]
    fn prices_at_day_and_night() {
        let t = day_night();
        let day = unit_prices_at(&t, Tz::UTC, utc(12, 0), SessionPoint::fresh(utc(12, 0)));
        assert_eq!(day.kwh, Some(Decimal::new(44, 2)));
        assert_eq!(day.flat, Some(Decimal::ONE));
        assert_eq!(day.idle_hour, Some(Decimal::new(6, 0)));
        assert_eq!(day.hour, None);
        assert_eq!(day.idle_grace_minutes, 10);
        let night = unit_prices_at(&t, Tz::UTC, utc(23, 0), SessionPoint::fresh(utc(23, 0)));
        assert_eq!(night.kwh, Some(Decimal::new(20, 2)));
        // The night element has no FLAT: the day element's still applies.
        assert_eq!(night.flat, Some(Decimal::ONE));
    }

    #[test]
    fn boundary_is_the_next_window_edge() {
        let t = day_night();
        assert_eq!(
            next_price_boundary(&t, Tz::UTC, utc(12, 0)),
            Some(utc(22, 0))
        );
        assert_eq!(
            next_price_boundary(&t, Tz::UTC, utc(22, 0)),
            Some(Utc.with_ymd_and_hms(2026, 3, 3, 6, 0, 0).unwrap())
        );
        // Midnight is a candidate but changes nothing here.
        assert_eq!(
            next_price_boundary(&t, Tz::UTC, utc(23, 30)),
            Some(Utc.with_ymd_and_hms(2026, 3, 3, 6, 0, 0).unwrap())
        );
        // In Los Angeles (UTC-8 in early March) 12:00 UTC is 04:00, night:
        // the day rate starts at 06:00 local (14:00 UTC), the night rate
        // again at 22:00 local (06:00 UTC).
        let la = chrono_tz::America::Los_Angeles;
        assert_eq!(next_price_boundary(&t, la, utc(12, 0)), Some(utc(14, 0)));
        assert_eq!(
            next_price_boundary(&t, la, utc(14, 0)),
            Some(Utc.with_ymd_and_hms(2026, 3, 3, 6, 0, 0).unwrap())
        );
    }

    #[test]
    fn boundary_of_days_and_dates() {
        // 2026-03-02 is a Monday.
        let weekend = valid(
            serde_json::json!({
                "country_code": "US", "party_id": "JOU", "id": "WE", "currency": "USD",
                "elements": [
                    {"price_components": [{"type": "TIME", "price": 2, "step_size": 60}],
                     "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]}},
                    {"price_components": [{"type": "TIME", "price": 3, "step_size": 60}]}
                ],
                "last_updated": "2026-01-01T00:00:00Z"
            }),
            TariffExtensions::default(),
        );
        let saturday = Utc.with_ymd_and_hms(2026, 3, 7, 0, 0, 0).unwrap();
        assert_eq!(
            next_price_boundary(&weekend, Tz::UTC, utc(12, 0)),
            Some(saturday)
        );
        assert_eq!(
            next_price_boundary(&weekend, Tz::UTC, saturday),
            Some(Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap())
        );
        let promo = valid(
            serde_json::json!({
                "country_code": "US", "party_id": "JOU", "id": "PR", "currency": "USD",
                "elements": [
                    {"price_components": [{"type": "ENERGY", "price": 0.1, "step_size": 1}],
                     "restrictions": {"start_date": "2026-03-04", "end_date": "2026-03-05"}},
                    {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}
                ],
                "last_updated": "2026-01-01T00:00:00Z"
            }),
            TariffExtensions::default(),
        );
        assert_eq!(
            next_price_boundary(&promo, Tz::UTC, utc(12, 0)),
            Some(Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap())
        );
        let far = Utc.with_ymd_and_hms(2026, 3, 5, 0, 0, 0).unwrap();
        assert_eq!(next_price_boundary(&promo, Tz::UTC, far), None);
    }

    #[test]
    fn no_boundary_without_clock_restrictions() {
        let flat = valid(
            serde_json::json!({
                "country_code": "US", "party_id": "JOU", "id": "F", "currency": "USD",
                "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}],
                              "restrictions": {"max_kwh": 20}}],
                "last_updated": "2026-01-01T00:00:00Z"
            }),
            TariffExtensions::default(),
        );
        assert_eq!(next_price_boundary(&flat, Tz::UTC, utc(12, 0)), None);
        let p = unit_prices_at(&flat, Tz::UTC, utc(12, 0), SessionPoint::fresh(utc(12, 0)));
        assert_eq!(p.kwh, Some(Decimal::new(3, 1)));
        let late = SessionPoint {
            started_at: utc(11, 0),
            energy_kwh: Decimal::from(25),
        };
        assert_eq!(unit_prices_at(&flat, Tz::UTC, utc(12, 0), late).kwh, None);
    }

    fn ended_session() -> Session {
        use crate::charging::auth::AuthorizationStatus;
        use crate::charging::session::SessionState;
        use crate::kernel::ids::{ChargerId, ConnectorId, IdToken, SessionId, TransactionId};
        Session {
            id: SessionId::new_v7(),
            transaction_id: TransactionId::new(1).unwrap(),
            charger_id: ChargerId::parse("CP1").unwrap(),
            connector_id: ConnectorId::new(1).unwrap(),
            id_tag: IdToken::parse("TAG").unwrap(),
            start_authorization: AuthorizationStatus::Accepted,
            state: SessionState::Ended,
            reservation_id: None,
            started_at: utc(12, 0),
            meter_start_wh: 1000,
            stopped_at: Some(utc(13, 0)),
            meter_stop_wh: Some(11_000),
            stop_reason: None,
            stop_id_tag: None,
            last_meter_at: None,
            last_meter_wh: None,
            peak_power_w: None,
            tariff: None,
            created_at: utc(12, 0),
            updated_at: utc(12, 0),
        }
    }

    fn stored(valid: &ValidTariff) -> StoredTariff {
        StoredTariff {
            tariff: valid.tariff().clone(),
            extensions: *valid.extensions(),
            version: 1,
            created_at: utc(0, 0),
            updated_at: utc(0, 0),
        }
    }

    #[test]
    fn idle_after_stop_is_billed_after_the_grace() {
        let t = stored(&day_night());
        let s = ended_session();
        // 10 kWh at 0.44 incl. VAT = 4.40 + FLAT 1.00; then 40 min plugged
        // in: 10 min grace, 30 min at 6.00/h = 3.00.
        let b = price_until_unplugged(&s, &[], &[], &t, Tz::UTC, utc(13, 40)).unwrap();
        assert_eq!(b.total_cost.incl_vat.to_decimal(), Decimal::new(840, 2));
        assert_eq!(
            b.total_parking_cost.incl_vat.to_decimal(),
            Decimal::new(3, 0)
        );
        // Unplugged at the stop: just the session.
        let b = price_until_unplugged(&s, &[], &[], &t, Tz::UTC, utc(13, 0)).unwrap();
        assert_eq!(b.total_cost.incl_vat.to_decimal(), Decimal::new(540, 2));
        assert_eq!(latest_register(&s, &[], utc(13, 0)), (utc(12, 0), 1000));
    }

    #[test]
    fn texts_in_the_drivers_language() {
        let t = stored(&day_night());
        assert_eq!(
            offline_price_text(&t, Language::En),
            "Offline: 0.20 USD/kWh, 6.00 USD/h idle after 10 min, 1.00 USD/session. The cost shown may differ from the invoice."
        );
        assert!(offline_price_text(&t, Language::Es).starts_with("Sin conexión: 0,20 USD/kWh"));
    }

    #[test]
    fn offsets_and_transitions() {
        let utc0 = utc_offset_at(Tz::UTC, utc(12, 0));
        assert_eq!(utc0.offset, "+00:00");
        assert_eq!(utc0.next_transition, None);
        let la = utc_offset_at(chrono_tz::America::Los_Angeles, utc(12, 0));
        assert_eq!(la.offset, "-08:00");
        // DST starts 2026-03-08 at 02:00 PST = 10:00 UTC.
        assert_eq!(
            la.next_transition,
            Some((
                Utc.with_ymd_and_hms(2026, 3, 8, 10, 0, 0).unwrap(),
                "-07:00".to_owned()
            ))
        );
        let kolkata = utc_offset_at(chrono_tz::Asia::Kolkata, utc(12, 0));
        assert_eq!(kolkata.offset, "+05:30");
    }
}
