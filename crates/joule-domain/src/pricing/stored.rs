//! Stored tariffs: an OCPI tariff with its extensions, as the operator keeps
//! it (versioned), and the driver-facing quote derived from it.
//!
//! The pricing rules themselves are in [`crate::pricing`]; this module only
//! names what the [`TariffStore`](crate::ports::store::TariffStore) port keeps and
//! reads a tariff's headline prices for display. Which tariff applies where
//! is [`crate::pricing::assignment`]; looking it up through the store is
//! [`crate::services::tariff_lookup`] (an entity module never imports the store ports,
//! which import it: ADR 0011).

use chrono::{DateTime, Utc};

use crate::kernel::language::{choose_language, Language};
use crate::kernel::money::{Currency, Decimal, Money};
use crate::kernel::texts::{CostLabel, PriceUnit, Texts};
use crate::pricing::{
    DisplayText, PriceBreakdown, PriceComponent, Tariff, TariffDimensionType, TariffExtensions,
};

/// A tariff to create, or to replace a stored one with. Validate it
/// ([`crate::pricing::ValidTariff::new`]) before storing: the store keeps
/// what it is given.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTariff {
    pub tariff: Tariff,
    pub extensions: TariffExtensions,
}

/// A tariff as stored: keyed by its OCPI `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTariff {
    pub tariff: Tariff,
    pub extensions: TariffExtensions,
    /// 1 on creation, +1 on each replacement.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StoredTariff {
    /// Whether `at` lies within the tariff's OCPI `start_date_time`
    /// (inclusive) and `end_date_time` (exclusive).
    pub fn in_force_at(&self, at: DateTime<Utc>) -> bool {
        self.tariff.start_date_time.is_none_or(|s| s <= at)
            && self.tariff.end_date_time.is_none_or(|e| at < e)
    }

    /// The tariff text in `language` (ISO 639-1, case-insensitive), else
    /// English, else the first text.
    pub fn text_in(&self, language: Option<&str>) -> Option<&DisplayText> {
        let texts = &self.tariff.tariff_alt_text;
        let find = |lang: &str| texts.iter().find(|t| t.language.eq_ignore_ascii_case(lang));
        language
            .and_then(find)
            .or_else(|| find("en"))
            .or_else(|| texts.first())
    }

    /// The first component pricing `dimension`, in element order (what
    /// OCPI's first-match rule applies when no restriction decides), with
    /// the index of its element.
    pub fn headline(&self, dimension: TariffDimensionType) -> Option<(usize, &PriceComponent)> {
        self.tariff.elements.iter().enumerate().find_map(|(i, e)| {
            e.price_components
                .iter()
                .find(|c| c.dimension == dimension)
                .map(|c| (i, c))
        })
    }

    /// The pre-authorization amount of the extensions, in the tariff's
    /// currency; `None` when not set or the currency is unknown.
    pub fn hold_amount(&self) -> Option<Money> {
        let currency = crate::kernel::money::Currency::parse(&self.tariff.currency).ok()?;
        self.extensions
            .hold_amount_minor
            .map(|minor| Money::from_minor(minor, currency))
    }
}

/// A line of text for a driver and the language it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceText {
    pub text: String,
    /// ISO 639-1.
    pub language: String,
}

impl StoredTariff {
    /// The tariff text for a driver: in the driver's language, else the
    /// site's, else English, else the first one.
    pub fn text_for(&self, driver: Option<&str>, site: Option<&str>) -> Option<&DisplayText> {
        let texts = &self.tariff.tariff_alt_text;
        let find = |lang: &str| texts.iter().find(|t| t.language.eq_ignore_ascii_case(lang));
        driver
            .and_then(find)
            .or_else(|| site.and_then(find))
            .or_else(|| self.text_in(None))
    }

    /// The price as one line for a driver (a charger display, the OCA
    /// `SetUserPrice` text): the tariff's own text (see
    /// [`StoredTariff::text_for`]) when it has one, since the operator wrote
    /// it; else its headline unit prices including VAT in the language
    /// [`choose_language`] picks, e.g. `0.36 EUR/kWh, 1.00 EUR/session` or
    /// `0,36 EUR/kWh, 1,00 EUR/sesión`.
    pub fn price_text(&self, driver: Option<&str>, site: Option<&str>) -> PriceText {
        if let Some(text) = self.text_for(driver, site) {
            return PriceText {
                text: text.text.clone(),
                language: text.language.to_ascii_lowercase(),
            };
        }
        let texts = Texts::new(choose_language(driver, site));
        let currency = Currency::parse(&self.tariff.currency).ok();
        let code = &self.tariff.currency;
        let ext = &self.extensions;
        let parts: Vec<String> = [
            (TariffDimensionType::Energy, PriceUnit::Kwh),
            (TariffDimensionType::Time, PriceUnit::Hour),
            (TariffDimensionType::ParkingTime, PriceUnit::HourIdle),
            (TariffDimensionType::Flat, PriceUnit::Session),
        ]
        .into_iter()
        .filter_map(|(dimension, unit)| {
            let (_, c) = self.headline(dimension)?;
            let price = texts.number(unit_decimal(price_incl_vat(c), currency));
            let line = texts.unit_price(&price, code, unit);
            let start = (unit == PriceUnit::HourIdle)
                .then(|| {
                    texts.idle_fee_start(
                        ext.idle_grace_period_s,
                        ext.idle_fee_only_after_charging_finished,
                    )
                })
                .flatten();
            Some(match start {
                Some(start) => format!("{line} {start}"),
                None => line,
            })
        })
        .collect();
        let text = if parts.is_empty() {
            texts.free_of_charge().to_owned()
        } else {
            parts.join(", ")
        };
        PriceText {
            text,
            language: texts.language().code().to_owned(),
        }
    }
}

/// An itemized summary of a priced session for a driver (the OCA
/// `FinalCost` text) in `language`: energy, then each other billed
/// dimension, then the total including VAT, e.g.
/// `Energy 3 kWh: 1.08 EUR; Total: 1.08 EUR incl. VAT`.
pub fn cost_summary(breakdown: &PriceBreakdown, language: Language) -> String {
    let texts = Texts::new(language);
    let mut lines = Vec::new();
    let energy = texts.number(breakdown.total_energy_kwh.normalize());
    let hours = |s: Decimal| texts.number((s / Decimal::from(3600)).round_dp(2).normalize());
    for (label, volume, amount) in [
        (
            CostLabel::Energy,
            Some(format!("{energy} kWh")),
            &breakdown.total_energy_cost,
        ),
        (
            CostLabel::Time,
            Some(format!("{} h", hours(breakdown.total_charging_s))),
            &breakdown.total_time_cost,
        ),
        (
            CostLabel::Idle,
            Some(format!("{} h", hours(breakdown.total_idle_s))),
            &breakdown.total_parking_cost,
        ),
        (CostLabel::SessionFee, None, &breakdown.total_fixed_cost),
    ] {
        if amount.incl_vat.is_zero() && label != CostLabel::Energy {
            continue;
        }
        lines.push(texts.cost_line(label, volume.as_deref(), &amount.incl_vat));
    }
    lines.push(texts.total_line(&breakdown.total_cost.incl_vat));
    lines.join(texts.separator())
}

/// A unit price with at least the currency's decimals (`1.2` → `1.20`).
fn unit_decimal(price: Decimal, currency: Option<Currency>) -> Decimal {
    let mut price = price.normalize();
    if let Some(c) = currency {
        if price.scale() < c.exponent() {
            price.rescale(c.exponent());
        }
    }
    price
}

/// A unit price including VAT, exact (not rounded: a unit price such as
/// 0.2345 per kWh is shown as it is; amounts are rounded when priced).
pub fn price_incl_vat(component: &PriceComponent) -> Decimal {
    match component.vat {
        Some(vat) => component.price + component.price * vat / Decimal::from(100),
        None => component.price,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn stored(json: serde_json::Value) -> StoredTariff {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        StoredTariff {
            tariff: serde_json::from_value(json).unwrap(),
            extensions: TariffExtensions {
                hold_amount_minor: Some(5000),
                ..TariffExtensions::default()
            },
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    fn sample() -> StoredTariff {
        stored(serde_json::json!({
            "country_code": "ES", "party_id": "JOU", "id": "T1", "currency": "EUR",
            "tariff_alt_text": [
                {"language": "fr", "text": "Tarif"},
                {"language": "en", "text": "Tariff"},
                {"language": "es", "text": "Tarifa"}
            ],
            "elements": [
                {"price_components": [{"type": "TIME", "price": 1.2, "step_size": 60}],
                 "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
                {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}]}
            ],
            "end_date_time": "2027-01-01T00:00:00Z",
            "last_updated": "2026-01-01T00:00:00Z"
        }))
    }

    #[test]
    fn text_falls_back_to_english_then_first() {
        let t = sample();
        assert_eq!(t.text_in(Some("ES")).unwrap().text, "Tarifa");
        assert_eq!(t.text_in(Some("de")).unwrap().text, "Tariff");
        assert_eq!(t.text_in(None).unwrap().text, "Tariff");
        let mut no_en = t.clone();
        no_en.tariff.tariff_alt_text.retain(|x| x.language != "en");
        assert_eq!(no_en.text_in(Some("de")).unwrap().text, "Tarif");
    }

    #[test]
    fn headline_is_the_first_component_of_the_dimension() {
        let t = sample();
        let (i, energy) = t.headline(TariffDimensionType::Energy).unwrap();
        assert_eq!(i, 1);
        assert_eq!(price_incl_vat(energy), Decimal::new(363, 3));
        assert!(t.headline(TariffDimensionType::Flat).is_none());
        assert_eq!(t.hold_amount().unwrap().minor(), 5000);
    }

    #[test]
    fn price_text_is_the_tariff_text_else_the_unit_prices() {
        let t = sample();
        assert_eq!(t.price_text(Some("es"), None).text, "Tarifa");
        assert_eq!(t.price_text(Some("it"), Some("fr")).text, "Tarif");
        assert_eq!(t.price_text(Some("de"), None).language, "en");
        let mut bare = t.clone();
        bare.tariff.tariff_alt_text.clear();
        assert_eq!(
            bare.price_text(None, None).text,
            "0.363 EUR/kWh, 1.20 EUR/h"
        );
        let es = bare.price_text(Some("es"), None);
        assert_eq!(
            (es.text.as_str(), es.language.as_str()),
            ("0,363 EUR/kWh, 1,20 EUR/h", "es")
        );
        bare.tariff.elements.clear();
        assert_eq!(bare.price_text(None, None).text, "Free of charge");
        assert_eq!(bare.price_text(Some("it"), Some("de")).text, "Kostenlos");
    }

    #[test]
    fn price_text_names_the_idle_fee_and_its_grace_period() {
        let mut t = stored(serde_json::json!({
            "country_code": "ES", "party_id": "JOU", "id": "T2", "currency": "EUR",
            "elements": [{"price_components": [
                {"type": "ENERGY", "price": 0.30, "step_size": 1},
                {"type": "PARKING_TIME", "price": 6, "step_size": 60}
            ]}],
            "last_updated": "2026-01-01T00:00:00Z"
        }));
        t.extensions.idle_grace_period_s = 600;
        assert_eq!(
            t.price_text(None, None).text,
            "0.30 EUR/kWh, 6.00 EUR/h idle after 10 min"
        );
        assert_eq!(
            t.price_text(Some("fr"), None).text,
            "0,30 EUR/kWh, 6,00 EUR/h d'inactivité après 10 min"
        );
    }

    #[test]
    fn in_force_uses_start_inclusive_end_exclusive() {
        let t = sample();
        let end = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert!(t.in_force_at(end - chrono::Duration::seconds(1)));
        assert!(!t.in_force_at(end));
    }
}
