//! Charging session resources.

use chrono::{DateTime, Utc};
use joule_domain::charging::auth::AuthorizationStatus as DomainAuthorization;
use joule_domain::charging::session as domain;
use joule_domain::kernel::money::{decimal_number, Decimal, Money};
use joule_domain::kernel::page::Page;
use joule_domain::pricing::session_cost::{IdlePeriod, SessionPrice};
use joule_domain::pricing::{PriceAmount, PriceBreakdown, PriceCapKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Started and not yet stopped (see `charger_connected` for orphans).
    Active,
    /// Stopped by the charger.
    Ended,
}

impl From<domain::SessionState> for SessionState {
    fn from(s: domain::SessionState) -> Self {
        match s {
            domain::SessionState::Active => Self::Active,
            domain::SessionState::Ended => Self::Ended,
        }
    }
}

/// The authorization given when the session started (OCPP names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum AuthorizationStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
    ConcurrentTx,
}

impl From<DomainAuthorization> for AuthorizationStatus {
    fn from(s: DomainAuthorization) -> Self {
        match s {
            DomainAuthorization::Accepted => Self::Accepted,
            DomainAuthorization::Blocked => Self::Blocked,
            DomainAuthorization::Expired => Self::Expired,
            DomainAuthorization::Invalid => Self::Invalid,
            DomainAuthorization::ConcurrentTx => Self::ConcurrentTx,
        }
    }
}

/// A charging session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Session {
    /// Joule's session id (UUIDv7).
    pub id: String,
    /// The OCPP transaction id the charger quotes.
    pub transaction_id: i64,
    pub charger_id: String,
    pub connector_id: u32,
    pub id_tag: String,
    /// A charger may start offline with a token Joule refused; the session
    /// exists all the same.
    pub start_authorization: AuthorizationStatus,
    pub state: SessionState,
    /// Whether the charger is connected now. An `active` session whose
    /// charger is not connected is orphaned: it is never closed silently.
    pub charger_connected: bool,
    pub reservation_id: Option<i64>,
    /// Charger clock.
    pub started_at: DateTime<Utc>,
    pub meter_start_wh: i64,
    pub stopped_at: Option<DateTime<Utc>>,
    pub meter_stop_wh: Option<i64>,
    pub stop_reason: Option<String>,
    pub stop_id_tag: Option<String>,
    /// Energy delivered so far (active) or in total (ended).
    pub energy_wh: i64,
    pub peak_power_w: Option<i64>,
    pub last_meter_at: Option<DateTime<Utc>>,
    pub last_meter_wh: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Session {
    pub fn from_domain(s: domain::Session, charger_connected: bool) -> Self {
        Self {
            energy_wh: s.energy_wh(),
            id: s.id.to_string(),
            transaction_id: s.transaction_id.get(),
            charger_id: s.charger_id.to_string(),
            connector_id: s.connector_id.get(),
            id_tag: s.id_tag.to_string(),
            start_authorization: s.start_authorization.into(),
            state: s.state.into(),
            charger_connected,
            reservation_id: s.reservation_id,
            started_at: s.started_at,
            meter_start_wh: s.meter_start_wh,
            stopped_at: s.stopped_at,
            meter_stop_wh: s.meter_stop_wh,
            stop_reason: s.stop_reason,
            stop_id_tag: s.stop_id_tag.map(|t| t.to_string()),
            peak_power_w: s.peak_power_w,
            last_meter_at: s.last_meter_at,
            last_meter_wh: s.last_meter_wh,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// One sampled value of a session, verbatim as the charger sent it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeterValue {
    /// Charger clock.
    pub timestamp: DateTime<Utc>,
    pub connector_id: u32,
    pub transaction_id: Option<i64>,
    /// The value as sent (a number as text, or signed data).
    pub value: String,
    pub context: Option<String>,
    pub format: Option<String>,
    /// Absent means `Energy.Active.Import.Register`.
    pub measurand: Option<String>,
    pub phase: Option<String>,
    pub location: Option<String>,
    pub unit: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl From<domain::StoredMeterValue> for MeterValue {
    fn from(m: domain::StoredMeterValue) -> Self {
        Self {
            timestamp: m.timestamp,
            connector_id: m.connector_id.get(),
            transaction_id: m.transaction_id.map(|t| t.get()),
            value: m.value.value,
            context: m.value.context,
            format: m.value.format,
            measurand: m.value.measurand,
            phase: m.value.phase,
            location: m.value.location,
            unit: m.value.unit,
            received_at: m.received_at,
        }
    }
}

/// A session with its meter values, its frozen tariff and its cost.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: Session,
    /// The tariff version in force when the session started; the session is
    /// always priced with it (NEVI), whatever happened to the tariff since.
    /// `null` when no tariff applied.
    pub tariff: Option<SessionTariff>,
    /// The running cost (active session: up to now) or the final cost
    /// (ended); `null` without a tariff.
    pub cost: Option<SessionCost>,
    /// In charger-time order.
    pub meter_values: Vec<MeterValue>,
}

/// A tariff version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionTariff {
    pub id: String,
    pub version: i64,
}

impl From<domain::SessionTariff> for SessionTariff {
    fn from(t: domain::SessionTariff) -> Self {
        Self {
            id: t.tariff_id,
            version: t.version,
        }
    }
}

/// An amount rounded to minor units: as a decimal number in currency units
/// (like OCPI) and as integer minor units.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Amount {
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub excl_vat: Decimal,
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub incl_vat: Decimal,
    pub excl_vat_minor: i64,
    pub incl_vat_minor: i64,
}

impl From<PriceAmount> for Amount {
    fn from(a: PriceAmount) -> Self {
        let number = |m: Money| m.to_decimal().normalize();
        Self {
            excl_vat: number(a.excl_vat),
            incl_vat: number(a.incl_vat),
            excl_vat_minor: a.excl_vat.minor(),
            incl_vat_minor: a.incl_vat.minor(),
        }
    }
}

/// One dimension at one VAT rate, as billed (where rounding happens).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostLine {
    /// OCPI dimension: `ENERGY`, `TIME`, `PARKING_TIME` or `FLAT`.
    pub dimension: String,
    /// VAT percentage; absent when no VAT applies.
    #[serde(
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<f64>)]
    pub vat: Option<Decimal>,
    /// Billed volume: kWh (ENERGY), hours (TIME, PARKING_TIME), 1 (FLAT).
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub volume: Decimal,
    pub cost: Amount,
}

/// A min/max price that changed the total.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostAdjustment {
    /// `min_price` or `max_price`.
    pub kind: String,
    /// `total − subtotal`, minor units (negative for `max_price`).
    pub excl_vat_minor: i64,
    pub incl_vat_minor: i64,
}

/// The priced session (see docs/pricing.md: one rounding per dimension and
/// VAT rate, so the lines add up to the total).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionCost {
    /// ISO 4217.
    pub currency: String,
    /// `false` while the session runs, or while idle time after its stop
    /// is still billed (the cable is in): the cost so far.
    pub is_final: bool,
    /// The instant the session is priced up to: its stop, the unplugging
    /// after it when the tariff bills idle time, or now.
    pub priced_until: DateTime<Utc>,
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub total_excl_vat: Decimal,
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub total_incl_vat: Decimal,
    pub total_excl_vat_minor: i64,
    pub total_incl_vat_minor: i64,
    /// Per dimension, as in an OCPI CDR.
    pub total_energy_cost: Amount,
    pub total_time_cost: Amount,
    pub total_parking_cost: Amount,
    pub total_fixed_cost: Amount,
    /// kWh.
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub total_energy: Decimal,
    /// Hours charging.
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub total_time: Decimal,
    /// Hours idle.
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub total_parking_time: Decimal,
    /// Billed lines, one per dimension and VAT rate.
    pub breakdown: Vec<CostLine>,
    pub price_cap: Option<CostAdjustment>,
    /// The periods the car was plugged in without charging (from the
    /// connector's status reports), in order; PARKING_TIME.
    pub idle_periods: Vec<IdlePeriodCost>,
}

/// A stretch of idle time and how much of it was billed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdlePeriodCost {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// After the StopTransaction, until the connector reported it was
    /// unplugged (or up to now while it is still plugged in).
    pub after_stop: bool,
    /// Seconds billed as PARKING_TIME (before the step-size rounding of
    /// the whole session).
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub billed_s: Decimal,
    /// Seconds free: the tariff's grace period, or idle time before
    /// charging finished (`idle_fee_only_after_charging_finished`).
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub free_s: Decimal,
}

impl From<IdlePeriod> for IdlePeriodCost {
    fn from(p: IdlePeriod) -> Self {
        Self {
            start: p.start,
            end: p.end,
            after_stop: p.after_stop,
            billed_s: p.billed_s.normalize(),
            free_s: p.free_s.normalize(),
        }
    }
}

fn hours(seconds: Decimal) -> Decimal {
    (seconds / Decimal::from(3600)).round_dp(4).normalize()
}

impl SessionCost {
    pub fn new(price: &SessionPrice, is_final: bool) -> Self {
        let b: &PriceBreakdown = &price.breakdown;
        let total = Amount::from(b.total_cost);
        Self {
            currency: b.currency.code().to_owned(),
            is_final,
            priced_until: price.priced_until,
            idle_periods: price
                .idle_periods()
                .into_iter()
                .map(IdlePeriodCost::from)
                .collect(),
            total_excl_vat: total.excl_vat,
            total_incl_vat: total.incl_vat,
            total_excl_vat_minor: total.excl_vat_minor,
            total_incl_vat_minor: total.incl_vat_minor,
            total_energy_cost: b.total_energy_cost.into(),
            total_time_cost: b.total_time_cost.into(),
            total_parking_cost: b.total_parking_cost.into(),
            total_fixed_cost: b.total_fixed_cost.into(),
            total_energy: b.total_energy_kwh.normalize(),
            total_time: hours(b.total_charging_s),
            total_parking_time: hours(b.total_idle_s),
            breakdown: b
                .groups
                .iter()
                .map(|g| {
                    let volume = match g.dimension.as_str() {
                        "TIME" | "PARKING_TIME" => hours(g.volume),
                        _ => g.volume.normalize(),
                    };
                    CostLine {
                        dimension: g.dimension.as_str().to_owned(),
                        vat: g.vat.map(|v| v.normalize()),
                        volume,
                        cost: g.cost.into(),
                    }
                })
                .collect(),
            price_cap: b.price_cap.map(|c| CostAdjustment {
                kind: match c.kind {
                    PriceCapKind::MinPrice => "min_price",
                    PriceCapKind::MaxPrice => "max_price",
                }
                .to_owned(),
                excl_vat_minor: c.adjustment_excl_vat_minor,
                incl_vat_minor: c.adjustment_incl_vat_minor,
            }),
        }
    }
}

/// Query of `GET /sessions`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    pub charger_id: Option<String>,
    pub id_tag: Option<String>,
    #[param(value_type = Option<SessionState>)]
    pub state: Option<String>,
    /// Sessions that started at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// Sessions that started before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

impl SessionQuery {
    pub fn parse(self) -> Result<(domain::SessionFilter, Page), ApiError> {
        let mut errors = QueryErrors::new();
        let charger_id = errors.charger_id("charger_id", self.charger_id.as_deref());
        let id_tag = errors.id_tag("id_tag", self.id_tag.as_deref());
        let state = errors.opt("state", self.state.as_deref(), |raw| {
            domain::SessionState::parse(raw).ok_or("must be active or ended")
        });
        let started_from = errors.time("from", self.from.as_deref());
        let started_to = errors.time("to", self.to.as_deref());
        if let (Some(from), Some(to)) = (started_from, started_to) {
            if from > to {
                errors.push("to", "must not be before from");
            }
        }
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok((
            domain::SessionFilter {
                charger_id,
                id_tag,
                state,
                started_from,
                started_to,
            },
            page,
        ))
    }
}
