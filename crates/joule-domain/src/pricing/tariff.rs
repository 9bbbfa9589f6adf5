//! The tariff model: the OCPI 2.2.1 Tariff object, field for field, plus
//! Joule's own extensions kept in a separate struct.
//!
//! The OCPI part deserializes an OCPI Tariff JSON unchanged and serializes back
//! to the same shape, so a tariff can be published to roaming partners as it
//! is. It is deliberately permissive (currency and times are strings, sizes
//! are plain integers): a tariff that is well-formed JSON but wrong is
//! reported by [`Tariff::validate`] with every problem and its field path,
//! instead of failing on the first one. Pricing takes a
//! [`ValidTariff`](super::ValidTariff), which only validation produces.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::kernel::money::{decimal_number, Decimal};

/// What happens when a session's running cost reaches the hold (issue 4,
/// point 5): set per tariff (`TariffExtensions::hold_limit_policy`) and
/// snapshotted on the payment when it is created, so a tariff edit cannot
/// change a running session's rule (docs/payments.md, "Hold limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HoldLimitPolicy {
    /// Ask the gateway for a larger hold (incremental authorization); stop
    /// the session if it refuses.
    IncrementAuthorization,
    /// Stop the session at the hold: the driver never pays more than the
    /// amount they saw held.
    #[default]
    StopSession,
}

impl HoldLimitPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IncrementAuthorization => "increment_authorization",
            Self::StopSession => "stop_session",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::IncrementAuthorization, Self::StopSession]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }
}

/// OCPI 2.2.1 `Tariff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tariff {
    /// ISO 3166 alpha-2 country code of the CPO that owns the tariff.
    pub country_code: String,
    /// CPO id (ISO 15118), 3 characters.
    pub party_id: String,
    /// Unique within the CPO's platform, at most 36 characters.
    pub id: String,
    /// ISO 4217 code.
    pub currency: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub tariff_type: Option<TariffType>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tariff_alt_text: Vec<DisplayText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_alt_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Price>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub elements: Vec<TariffElement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime<Utc>>,
    /// OCPI `EnergyMix`, kept verbatim: pricing does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_mix: Option<serde_json::Value>,
    pub last_updated: DateTime<Utc>,
}

/// OCPI 2.2.1 `TariffType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TariffType {
    AdHocPayment,
    ProfileCheap,
    ProfileFast,
    ProfileGreen,
    Regular,
}

/// OCPI `DisplayText`: a text in one language (ISO 639-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayText {
    pub language: String,
    pub text: String,
}

/// OCPI `Price`: an amount excluding and (optionally) including VAT, in
/// currency units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    #[serde(with = "decimal_number")]
    pub excl_vat: Decimal,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub incl_vat: Option<Decimal>,
}

/// OCPI `TariffElement`: price components that apply together while the
/// restrictions hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TariffElement {
    #[serde(default, deserialize_with = "null_as_default")]
    pub price_components: Vec<PriceComponent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<TariffRestrictions>,
}

/// OCPI `TariffDimensionType`: what a price component prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TariffDimensionType {
    /// Per kWh; `step_size` in Wh.
    Energy,
    /// Once per session; `step_size` unused.
    Flat,
    /// Per hour connected but not charging (the idle fee); `step_size` in s.
    ParkingTime,
    /// Per hour charging; `step_size` in s.
    Time,
}

impl TariffDimensionType {
    /// The OCPI spelling, for messages and output.
    pub fn as_str(self) -> &'static str {
        match self {
            TariffDimensionType::Energy => "ENERGY",
            TariffDimensionType::Flat => "FLAT",
            TariffDimensionType::ParkingTime => "PARKING_TIME",
            TariffDimensionType::Time => "TIME",
        }
    }
}

/// OCPI `PriceComponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceComponent {
    #[serde(rename = "type")]
    pub dimension: TariffDimensionType,
    /// Price per unit, excluding VAT, in currency units.
    #[serde(with = "decimal_number")]
    pub price: Decimal,
    /// VAT percentage. Absent means no VAT applies (not the same as 0 %).
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat: Option<Decimal>,
    /// Volume is billed in blocks of this many Wh (ENERGY) or seconds (TIME,
    /// PARKING_TIME). Signed so that a negative value is reported by
    /// validation rather than refused by the parser.
    pub step_size: i64,
}

/// OCPI `TariffRestrictions`. Times and dates are local to the site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TariffRestrictions {
    /// `HH:MM`, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// `HH:MM`, exclusive; before `start_time` means the window crosses midnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_kwh: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_kwh: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_current: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_current: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_power: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_power: Option<Decimal>,
    /// Seconds of session duration, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_duration: Option<i64>,
    /// Seconds of session duration, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<i64>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub day_of_week: Vec<DayOfWeek>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<ReservationRestrictionType>,
}

/// OCPI `DayOfWeek`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DayOfWeek {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl DayOfWeek {
    pub fn weekday(self) -> chrono::Weekday {
        match self {
            DayOfWeek::Monday => chrono::Weekday::Mon,
            DayOfWeek::Tuesday => chrono::Weekday::Tue,
            DayOfWeek::Wednesday => chrono::Weekday::Wed,
            DayOfWeek::Thursday => chrono::Weekday::Thu,
            DayOfWeek::Friday => chrono::Weekday::Fri,
            DayOfWeek::Saturday => chrono::Weekday::Sat,
            DayOfWeek::Sunday => chrono::Weekday::Sun,
        }
    }
}

/// OCPI `ReservationRestrictionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationRestrictionType {
    Reservation,
    ReservationExpires,
}

/// What operators need beyond OCPI, stored beside the OCPI tariff (never
/// inside it, so the OCPI object stays publishable as it is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TariffExtensions {
    /// Idle (PARKING_TIME) seconds that are free at the start of each idle
    /// stretch, before the idle fee starts.
    pub idle_grace_period_s: u32,
    /// Bill PARKING_TIME only after the last charging period: a pause in the
    /// middle of a session (smart charging, the car balancing its battery) is
    /// never an idle fee.
    pub idle_fee_only_after_charging_finished: bool,
    /// Amount pre-authorized on a payment card for an ad hoc session, in the
    /// tariff currency's minor units (used by payments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_amount_minor: Option<i64>,
    /// What Joule does when a session's running cost nears its card hold
    /// (docs/payments.md, "Hold limits"): stop the session at the hold
    /// (the default), or raise the hold by `hold_increment_minor` up to
    /// `hold_max_minor`, which the pay page shows the driver before they
    /// pay, where the gateway supports incremental authorization.
    pub hold_limit_policy: HoldLimitPolicy,
    /// How much one increment raises the hold by; default: the hold amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_increment_minor: Option<i64>,
    /// The largest a hold may grow to by increments: the driver's consent,
    /// shown on the pay page. Required with `increment_authorization`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_max_minor: Option<i64>,
    /// The least headroom kept below the hold: Joule acts when the running
    /// cost plus this margin (or plus what the last meter interval cost, if
    /// more) reaches the hold. Set it to what one meter interval at the
    /// fastest charger on this tariff costs; default 0 (the observed rise
    /// alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_margin_minor: Option<i64>,
}

/// OCPI objects may send `null` for an empty list.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_limit_policy_spellings_round_trip() {
        for p in [
            HoldLimitPolicy::IncrementAuthorization,
            HoldLimitPolicy::StopSession,
        ] {
            assert_eq!(HoldLimitPolicy::parse(p.as_str()), Some(p));
        }
    }
}
