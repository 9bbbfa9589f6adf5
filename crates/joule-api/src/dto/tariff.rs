//! Tariff resources: the OCPI 2.2.1 Tariff object (carried as JSON and
//! parsed into the domain's `Tariff`, whose validator names every bad
//! field), Joule's extensions, and the public price quote.

use chrono::{DateTime, Utc};
use joule_domain::kernel::money::{decimal_number, Decimal};
use joule_domain::pricing::stored::{self as domain, price_incl_vat, NewTariff};
use joule_domain::pricing::HoldLimitPolicy as DomainHoldLimitPolicy;
use joule_domain::pricing::{
    PriceComponent, Tariff as OcpiTariff, TariffDimensionType, TariffExtensions as Extensions,
    ValidTariff,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryErrors;
use crate::problem::{ApiError, FieldError};

/// Path segment of the default-tariff resource; no tariff may use it as id.
pub const DEFAULT_SEGMENT: &str = "default";

/// What operators need beyond OCPI, stored beside the OCPI tariff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TariffExtensions {
    /// Idle (PARKING_TIME) seconds that are free at the start of each idle
    /// stretch, before the idle fee starts.
    pub idle_grace_period_s: u32,
    /// Bill idle time only after the last charging period.
    pub idle_fee_only_after_charging_finished: bool,
    /// Pre-authorization amount for ad hoc card payments, in the currency's
    /// minor units.
    pub hold_amount_minor: Option<i64>,
    /// When the running cost nears the hold: `stop_session` (default) or
    /// `increment_authorization` (raise the hold where the gateway can, up
    /// to `hold_max_minor`; else stop). docs/payments.md, "Hold limits".
    pub hold_limit_policy: HoldLimitPolicy,
    /// What one increment adds, in minor units; default: the hold amount.
    pub hold_increment_minor: Option<i64>,
    /// The most a hold may grow to by increments (shown to the driver on
    /// the pay page); required with `increment_authorization`.
    pub hold_max_minor: Option<i64>,
    /// The least headroom kept below the hold, in minor units: Joule acts
    /// when the running cost plus this (or plus the last meter interval's
    /// cost, if more) reaches the hold.
    pub hold_margin_minor: Option<i64>,
}

/// What happens when a session's running cost nears its card hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldLimitPolicy {
    #[default]
    StopSession,
    IncrementAuthorization,
}

impl From<HoldLimitPolicy> for DomainHoldLimitPolicy {
    fn from(p: HoldLimitPolicy) -> Self {
        match p {
            HoldLimitPolicy::StopSession => DomainHoldLimitPolicy::StopSession,
            HoldLimitPolicy::IncrementAuthorization => {
                DomainHoldLimitPolicy::IncrementAuthorization
            }
        }
    }
}

impl From<DomainHoldLimitPolicy> for HoldLimitPolicy {
    fn from(p: DomainHoldLimitPolicy) -> Self {
        match p {
            DomainHoldLimitPolicy::StopSession => HoldLimitPolicy::StopSession,
            DomainHoldLimitPolicy::IncrementAuthorization => {
                HoldLimitPolicy::IncrementAuthorization
            }
        }
    }
}

impl From<TariffExtensions> for Extensions {
    fn from(e: TariffExtensions) -> Self {
        Extensions {
            idle_grace_period_s: e.idle_grace_period_s,
            idle_fee_only_after_charging_finished: e.idle_fee_only_after_charging_finished,
            hold_amount_minor: e.hold_amount_minor,
            hold_limit_policy: e.hold_limit_policy.into(),
            hold_increment_minor: e.hold_increment_minor,
            hold_max_minor: e.hold_max_minor,
            hold_margin_minor: e.hold_margin_minor,
        }
    }
}

impl From<Extensions> for TariffExtensions {
    fn from(e: Extensions) -> Self {
        TariffExtensions {
            idle_grace_period_s: e.idle_grace_period_s,
            idle_fee_only_after_charging_finished: e.idle_fee_only_after_charging_finished,
            hold_amount_minor: e.hold_amount_minor,
            hold_limit_policy: e.hold_limit_policy.into(),
            hold_increment_minor: e.hold_increment_minor,
            hold_max_minor: e.hold_max_minor,
            hold_margin_minor: e.hold_margin_minor,
        }
    }
}

/// Body of `POST /tariffs` and `PUT /tariffs/{id}` (a full replacement).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffInput {
    /// An OCPI 2.2.1 Tariff object (`country_code`, `party_id`, `id`,
    /// `currency`, `elements`, `last_updated`, …), stored as given.
    #[schema(value_type = Object)]
    pub tariff: serde_json::Value,
    /// Joule's extensions; all defaults when absent.
    #[serde(default)]
    pub extensions: Option<TariffExtensions>,
}

impl TariffInput {
    /// Parses the OCPI object and runs the pricing engine's validator, so
    /// that every problem comes back at once with its field path
    /// (`tariff.elements[0].price_components[0].step_size`). `path_id` is
    /// the id of the tariff being replaced, if any.
    pub fn validate(self, path_id: Option<&str>) -> Result<NewTariff, ApiError> {
        let tariff: OcpiTariff = serde_path_to_error::deserialize(self.tariff).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "tariff".to_owned()
            } else {
                format!("tariff.{path}")
            };
            ApiError::field(field, e.into_inner().to_string())
        })?;
        let extensions: Extensions = self.extensions.unwrap_or_default().into();
        let mut errors: Vec<FieldError> = Vec::new();
        if let Err(problems) = ValidTariff::new(tariff.clone(), extensions) {
            errors.extend(problems.0.into_iter().map(|p| {
                let field = if p.path.starts_with("extensions") {
                    p.path
                } else {
                    format!("tariff.{}", p.path)
                };
                FieldError::new(field, p.message)
            }));
        }
        match path_id {
            Some(id) if tariff.id != id => errors.push(FieldError::new(
                "tariff.id",
                format!("must be the id in the path ({id:?}); a tariff's id cannot change"),
            )),
            None if tariff.id == DEFAULT_SEGMENT => errors.push(FieldError::new(
                "tariff.id",
                "\"default\" is reserved (it names the default-tariff resource)",
            )),
            _ => {}
        }
        if errors.is_empty() {
            Ok(NewTariff { tariff, extensions })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// A stored tariff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tariff {
    /// The OCPI tariff id (also `tariff.id`).
    pub id: String,
    /// The OCPI 2.2.1 Tariff object as stored.
    #[schema(value_type = Object)]
    pub tariff: serde_json::Value,
    pub extensions: TariffExtensions,
    /// 1 when created, +1 on each replacement.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<domain::StoredTariff> for Tariff {
    fn from(t: domain::StoredTariff) -> Self {
        Tariff {
            id: t.tariff.id.clone(),
            // Serializing a derived Serialize of plain data cannot fail.
            tariff: serde_json::to_value(&t.tariff).unwrap_or(serde_json::Value::Null),
            extensions: t.extensions.into(),
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Query of `GET /tariffs`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TariffQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Items to skip.
    pub offset: Option<String>,
}

impl TariffQuery {
    pub fn parse(self) -> Result<joule_domain::kernel::page::Page, ApiError> {
        let mut errors = QueryErrors::new();
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok(page)
    }
}

/// Body of `PUT /tariffs/default`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDefaultTariff {
    /// The tariff to use by default; `null` for none.
    pub tariff_id: Option<String>,
}

/// Body of `PUT /chargers/{id}/tariff`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetChargerTariff {
    /// The charger's own tariff, taking precedence over the default; `null`
    /// for none (the default applies).
    pub tariff_id: Option<String>,
}

/// A charger's own tariff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChargerTariff {
    pub charger_id: String,
    /// `null` when the charger has none (the default tariff applies).
    pub tariff_id: Option<String>,
}

/// The default tariff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DefaultTariff {
    /// `null` when no default is set.
    pub tariff_id: Option<String>,
    pub tariff: Option<Tariff>,
}

impl From<Option<domain::StoredTariff>> for DefaultTariff {
    fn from(t: Option<domain::StoredTariff>) -> Self {
        DefaultTariff {
            tariff_id: t.as_ref().map(|t| t.tariff.id.clone()),
            tariff: t.map(Tariff::from),
        }
    }
}

/// Query of the public price.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PriceQuery {
    /// Language of the tariff text (ISO 639-1, e.g. `es`); falls back to
    /// English, then to the first text.
    pub lang: Option<String>,
}

impl PriceQuery {
    pub fn parse(self) -> Result<Option<String>, ApiError> {
        match self.lang {
            Some(l) if l.len() == 2 && l.chars().all(|c| c.is_ascii_alphabetic()) => {
                Ok(Some(l.to_ascii_lowercase()))
            }
            Some(_) => Err(ApiError::field(
                "lang",
                "must be a two-letter ISO 639-1 code, e.g. es",
            )),
            None => Ok(None),
        }
    }
}

/// A unit price, exact (unit prices are not rounded to minor units).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct UnitPrice {
    /// Excluding VAT, in currency units.
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub excl_vat: Decimal,
    /// Including VAT (equal to `excl_vat` when no VAT applies).
    #[serde(with = "decimal_number")]
    #[schema(value_type = f64)]
    pub incl_vat: Decimal,
    /// VAT percentage; absent when no VAT applies.
    #[serde(
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<f64>)]
    pub vat: Option<Decimal>,
    /// Billed in blocks of this many Wh (energy) or seconds (time).
    pub step_size: i64,
    /// Whether the element carrying this price has restrictions (time of
    /// day, energy, …): then other prices may apply; see `elements`.
    pub restricted: bool,
}

/// What a driver pays at a connector, before charging: the default tariff
/// in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceQuote {
    pub charger_id: String,
    pub connector_id: u32,
    pub tariff_id: String,
    /// ISO 4217.
    pub currency: String,
    /// The tariff text in the requested language (else English, else the
    /// first one); absent when the tariff has none.
    pub text: Option<String>,
    /// The language of `text`.
    pub language: Option<String>,
    /// The price as one line, as a charger shows it: `text` when the tariff
    /// has one, else the unit prices written by Joule in the requested
    /// language (en, es, fr, de; else English), e.g.
    /// `0,30 EUR/kWh, 6,00 EUR/h de inactividad tras 10 min`.
    pub price_text: String,
    /// The language of `price_text` (ISO 639-1).
    pub price_text_language: String,
    pub tariff_alt_url: Option<String>,
    /// Per kWh.
    pub energy: Option<UnitPrice>,
    /// Per hour charging.
    pub time: Option<UnitPrice>,
    /// Per hour connected but not charging (the idle fee).
    pub parking_time: Option<UnitPrice>,
    /// Once per session.
    pub flat: Option<UnitPrice>,
    /// Idle seconds free before the idle fee starts.
    pub idle_grace_period_s: u32,
    pub idle_fee_only_after_charging_finished: bool,
    /// Amount held on a payment card for an ad hoc session, in minor units.
    pub hold_amount_minor: Option<i64>,
    /// The same in currency units.
    #[serde(with = "decimal_number::option")]
    #[schema(value_type = Option<f64>)]
    pub hold_amount: Option<Decimal>,
    /// What happens when the running cost nears the hold.
    pub hold_limit_policy: HoldLimitPolicy,
    /// With `increment_authorization`: what one increment adds, and the
    /// most the hold may grow to (minor units).
    pub hold_increment_minor: Option<i64>,
    pub hold_max_minor: Option<i64>,
    /// The OCPI tariff elements, for every price and its restrictions.
    #[schema(value_type = Object)]
    pub elements: serde_json::Value,
    /// IANA time zone the elements' times of day and days of week are read
    /// in: the charger's site's, else `UTC`.
    pub time_zone: String,
    /// `public`, or `restricted` when only members of the charger's allowed
    /// user groups may charge (private chargers are never quoted).
    pub access: String,
}

fn unit(t: &domain::StoredTariff, dimension: TariffDimensionType) -> Option<UnitPrice> {
    t.headline(dimension)
        .map(|(i, c): (usize, &PriceComponent)| UnitPrice {
            excl_vat: c.price.normalize(),
            incl_vat: price_incl_vat(c).normalize(),
            vat: c.vat.map(|v| v.normalize()),
            step_size: c.step_size,
            restricted: t.tariff.elements[i].restrictions.is_some(),
        })
}

impl PriceQuote {
    pub fn new(
        charger_id: String,
        connector_id: u32,
        t: &domain::StoredTariff,
        lang: Option<&str>,
        time_zone: chrono_tz::Tz,
        access: joule_domain::charging::user_group::ChargerAccess,
    ) -> Self {
        let text = t.text_in(lang);
        // Sites (and their language) are not modelled yet: no site language.
        let line = t.price_text(lang, None);
        let hold = t.hold_amount();
        PriceQuote {
            charger_id,
            connector_id,
            tariff_id: t.tariff.id.clone(),
            currency: t.tariff.currency.clone(),
            text: text.map(|x| x.text.clone()),
            language: text.map(|x| x.language.clone()),
            price_text: line.text,
            price_text_language: line.language,
            tariff_alt_url: t.tariff.tariff_alt_url.clone(),
            energy: unit(t, TariffDimensionType::Energy),
            time: unit(t, TariffDimensionType::Time),
            parking_time: unit(t, TariffDimensionType::ParkingTime),
            flat: unit(t, TariffDimensionType::Flat),
            idle_grace_period_s: t.extensions.idle_grace_period_s,
            idle_fee_only_after_charging_finished: t
                .extensions
                .idle_fee_only_after_charging_finished,
            hold_amount_minor: hold.map(|m| m.minor()),
            hold_amount: hold.map(|m| m.to_decimal()),
            hold_limit_policy: t.extensions.hold_limit_policy.into(),
            hold_increment_minor: t.extensions.hold_increment_minor,
            hold_max_minor: t.extensions.hold_max_minor,
            elements: serde_json::to_value(&t.tariff.elements).unwrap_or(serde_json::Value::Null),
            time_zone: time_zone.name().to_owned(),
            access: access.as_str().to_owned(),
        }
    }
}
