//! Validation: every problem of a tariff, each with its field path, and the
//! parsed form ([`ValidTariff`]) that the engine prices with.

use std::fmt;

use chrono::{NaiveDate, NaiveTime, Weekday};

use super::tariff::{
    HoldLimitPolicy, Price, PriceComponent, ReservationRestrictionType, Tariff,
    TariffDimensionType, TariffExtensions, TariffRestrictions,
};
use crate::kernel::money::{Currency, Decimal};

/// One thing wrong with a tariff: where (`elements[1].price_components[0].step_size`)
/// and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TariffProblem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for TariffProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a tariff (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct TariffErrors(pub Vec<TariffProblem>);

/// Restrictions parsed once, so pricing never re-parses strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Restrictions {
    pub start_time: Option<NaiveTime>,
    pub end_time: Option<NaiveTime>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub min_kwh: Option<Decimal>,
    pub max_kwh: Option<Decimal>,
    pub min_current: Option<Decimal>,
    pub max_current: Option<Decimal>,
    pub min_power: Option<Decimal>,
    pub max_power: Option<Decimal>,
    pub min_duration_s: Option<i64>,
    pub max_duration_s: Option<i64>,
    /// Empty: every day.
    pub days: Vec<Weekday>,
    pub reservation: Option<ReservationRestrictionType>,
}

impl Restrictions {
    /// Whether the element depends on the local clock or calendar.
    pub fn uses_local_time(&self) -> bool {
        self.start_time.is_some()
            || self.end_time.is_some()
            || self.start_date.is_some()
            || self.end_date.is_some()
            || !self.days.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Element {
    pub components: Vec<PriceComponent>,
    pub restrictions: Restrictions,
}

impl Element {
    /// The first component of a dimension, with its index.
    pub fn component(&self, dimension: TariffDimensionType) -> Option<(usize, &PriceComponent)> {
        self.components
            .iter()
            .enumerate()
            .find(|(_, c)| c.dimension == dimension)
    }
}

/// A tariff that passed validation, with its parsed parts and extensions.
/// The only way to price a session.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTariff {
    tariff: Tariff,
    extensions: TariffExtensions,
    currency: Currency,
    pub(crate) elements: Vec<Element>,
}

impl ValidTariff {
    /// Validates the tariff and its extensions together.
    pub fn new(tariff: Tariff, extensions: TariffExtensions) -> Result<ValidTariff, TariffErrors> {
        let mut problems = Problems::default();
        let compiled = compile(&tariff, &extensions, &mut problems);
        match compiled {
            Some((currency, elements)) if problems.0.is_empty() => Ok(ValidTariff {
                tariff,
                extensions,
                currency,
                elements,
            }),
            _ => Err(TariffErrors(problems.0)),
        }
    }

    pub fn tariff(&self) -> &Tariff {
        &self.tariff
    }

    pub fn extensions(&self) -> &TariffExtensions {
        &self.extensions
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub(crate) fn uses_local_time(&self) -> bool {
        self.elements
            .iter()
            .any(|e| e.restrictions.uses_local_time())
    }
}

impl Tariff {
    /// Every problem of this tariff with its field path; `Ok` when it can be
    /// priced. Extensions are checked by [`ValidTariff::new`].
    pub fn validate(&self) -> Result<(), TariffErrors> {
        ValidTariff::new(self.clone(), TariffExtensions::default()).map(|_| ())
    }
}

#[derive(Default)]
struct Problems(Vec<TariffProblem>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(TariffProblem {
            path: path.into(),
            message: message.into(),
        });
    }
}

fn compile(
    tariff: &Tariff,
    extensions: &TariffExtensions,
    problems: &mut Problems,
) -> Option<(Currency, Vec<Element>)> {
    let currency = match Currency::parse(&tariff.currency) {
        Ok(c) => Some(c),
        Err(_) => {
            problems.push(
                "currency",
                format!("unknown ISO 4217 currency {:?}", tariff.currency),
            );
            None
        }
    };
    check_identity(tariff, problems);
    for (i, text) in tariff.tariff_alt_text.iter().enumerate() {
        if !is_letters(&text.language, 2) {
            problems.push(
                format!("tariff_alt_text[{i}].language"),
                format!(
                    "{:?} is not an ISO 639-1 language code (two letters)",
                    text.language
                ),
            );
        }
    }
    check_price("min_price", tariff.min_price.as_ref(), currency, problems);
    check_price("max_price", tariff.max_price.as_ref(), currency, problems);
    if let (Some(min), Some(max)) = (&tariff.min_price, &tariff.max_price) {
        if min.excl_vat > max.excl_vat {
            problems.push(
                "min_price.excl_vat",
                format!(
                    "{} is greater than max_price.excl_vat {}",
                    min.excl_vat, max.excl_vat
                ),
            );
        }
        if let (Some(a), Some(b)) = (min.incl_vat, max.incl_vat) {
            if a > b {
                problems.push(
                    "min_price.incl_vat",
                    format!("{a} is greater than max_price.incl_vat {b}"),
                );
            }
        }
    }
    if let (Some(start), Some(end)) = (tariff.start_date_time, tariff.end_date_time) {
        if end <= start {
            problems.push("end_date_time", "is not after start_date_time");
        }
    }
    if let Some(hold) = extensions.hold_amount_minor {
        if hold < 0 {
            problems.push("extensions.hold_amount_minor", "must not be negative");
        }
    }
    check_hold_limits(problems, extensions);

    if tariff.elements.is_empty() {
        problems.push("elements", "a tariff needs at least one element");
    }
    let mut elements = Vec::with_capacity(tariff.elements.len());
    let mut any_can_apply = false;
    for (i, element) in tariff.elements.iter().enumerate() {
        let path = format!("elements[{i}]");
        if element.price_components.is_empty() {
            problems.push(
                format!("{path}.price_components"),
                "an element needs at least one price component",
            );
        }
        for (j, component) in element.price_components.iter().enumerate() {
            check_component(
                &format!("{path}.price_components[{j}]"),
                component,
                problems,
            );
        }
        let defaults = TariffRestrictions::default();
        let raw = element.restrictions.as_ref().unwrap_or(&defaults);
        let (restrictions, can_apply) =
            compile_restrictions(&format!("{path}.restrictions"), raw, problems);
        if restrictions.reservation.is_some() {
            for (j, component) in element.price_components.iter().enumerate() {
                if !matches!(
                    component.dimension,
                    TariffDimensionType::Flat | TariffDimensionType::Time
                ) {
                    problems.push(
                        format!("{path}.price_components[{j}].type"),
                        format!(
                            "a reservation element can only have FLAT and TIME components, not {}",
                            component.dimension.as_str()
                        ),
                    );
                }
            }
        } else if can_apply && !element.price_components.is_empty() {
            any_can_apply = true;
        }
        elements.push(Element {
            components: element.price_components.clone(),
            restrictions,
        });
    }
    if !tariff.elements.is_empty() && !any_can_apply {
        problems.push(
            "elements",
            "no element can ever apply to a charging session",
        );
    }
    currency.map(|c| (c, elements))
}

fn check_identity(tariff: &Tariff, problems: &mut Problems) {
    if !is_letters(&tariff.country_code, 2) {
        problems.push(
            "country_code",
            format!("{:?} is not an ISO 3166 alpha-2 code", tariff.country_code),
        );
    }
    if tariff.party_id.len() != 3 || !tariff.party_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        problems.push(
            "party_id",
            format!("{:?} is not 3 letters or digits", tariff.party_id),
        );
    }
    if tariff.id.is_empty()
        || tariff.id.len() > 36
        || !tariff.id.chars().all(|c| c.is_ascii_graphic())
    {
        problems.push(
            "id",
            "must be 1 to 36 printable ASCII characters without spaces",
        );
    }
}

fn is_letters(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| c.is_ascii_alphabetic())
}

fn check_price(
    path: &str,
    price: Option<&Price>,
    currency: Option<Currency>,
    problems: &mut Problems,
) {
    let Some(price) = price else { return };
    for (field, value) in [
        ("excl_vat", Some(price.excl_vat)),
        ("incl_vat", price.incl_vat),
    ] {
        let Some(value) = value else { continue };
        if value.is_sign_negative() && !value.is_zero() {
            problems.push(format!("{path}.{field}"), "must not be negative");
        } else if let Some(c) = currency {
            if !c.is_exact(value) {
                problems.push(
                    format!("{path}.{field}"),
                    format!(
                        "{value} has more decimals than {} has ({})",
                        c.code(),
                        c.exponent()
                    ),
                );
            }
        }
    }
    if let Some(incl) = price.incl_vat {
        if incl < price.excl_vat {
            problems.push(
                format!("{path}.incl_vat"),
                format!("{incl} is less than excl_vat {}", price.excl_vat),
            );
        }
    }
}

fn check_component(path: &str, component: &PriceComponent, problems: &mut Problems) {
    if component.price.is_sign_negative() && !component.price.is_zero() {
        problems.push(format!("{path}.price"), "a price must not be negative");
    }
    if let Some(vat) = component.vat {
        if (vat.is_sign_negative() && !vat.is_zero()) || vat > Decimal::ONE_HUNDRED {
            problems.push(
                format!("{path}.vat"),
                format!("{vat} is not a percentage between 0 and 100"),
            );
        }
    }
    let flat = component.dimension == TariffDimensionType::Flat;
    if component.step_size < 0 || (!flat && component.step_size == 0) {
        let unit = match component.dimension {
            TariffDimensionType::Energy => "Wh",
            _ => "seconds",
        };
        problems.push(
            format!("{path}.step_size"),
            format!(
                "must be at least 1 ({unit}) for {}, got {}",
                component.dimension.as_str(),
                component.step_size
            ),
        );
    }
}

/// Parses the restrictions; the flag says whether the element can ever apply.
fn compile_restrictions(
    path: &str,
    raw: &TariffRestrictions,
    problems: &mut Problems,
) -> (Restrictions, bool) {
    let mut can_apply = true;
    let mut never = |problems: &mut Problems, field: &str, why: String| {
        can_apply = false;
        problems.push(
            format!("{path}.{field}"),
            format!("{why}: the element can never apply"),
        );
    };
    let start_time = parse_time(path, "start_time", raw.start_time.as_deref(), problems);
    let end_time = parse_time(path, "end_time", raw.end_time.as_deref(), problems);
    if let (Some(s), Some(e)) = (start_time, end_time) {
        if s == e {
            never(
                problems,
                "end_time",
                "equals start_time (write no times for all day)".to_owned(),
            );
        }
    }
    let start_date = parse_date(path, "start_date", raw.start_date.as_deref(), problems);
    let end_date = parse_date(path, "end_date", raw.end_date.as_deref(), problems);
    if let (Some(s), Some(e)) = (start_date, end_date) {
        if e <= s {
            never(
                problems,
                "end_date",
                format!("{e} is not after start_date {s} (end_date is exclusive)"),
            );
        }
    }
    for (lo_name, hi_name, lo, hi) in [
        ("min_kwh", "max_kwh", raw.min_kwh, raw.max_kwh),
        (
            "min_current",
            "max_current",
            raw.min_current,
            raw.max_current,
        ),
        ("min_power", "max_power", raw.min_power, raw.max_power),
        (
            "min_duration",
            "max_duration",
            raw.min_duration.map(Decimal::from),
            raw.max_duration.map(Decimal::from),
        ),
    ] {
        for (name, value) in [(lo_name, lo), (hi_name, hi)] {
            if let Some(v) = value {
                if v.is_sign_negative() && !v.is_zero() {
                    problems.push(format!("{path}.{name}"), "must not be negative");
                }
            }
        }
        match (lo, hi) {
            (Some(l), Some(h)) if l >= h => never(
                problems,
                hi_name,
                format!("{h} is not above {lo_name} {l} ({hi_name} is exclusive)"),
            ),
            (_, Some(h)) if h.is_zero() => never(
                problems,
                hi_name,
                format!("is 0 and {hi_name} is exclusive"),
            ),
            _ => {}
        }
    }
    let mut days: Vec<Weekday> = raw.day_of_week.iter().map(|d| d.weekday()).collect();
    days.sort_by_key(|d| d.num_days_from_monday());
    days.dedup();
    let restrictions = Restrictions {
        start_time,
        end_time,
        start_date,
        end_date,
        min_kwh: raw.min_kwh,
        max_kwh: raw.max_kwh,
        min_current: raw.min_current,
        max_current: raw.max_current,
        min_power: raw.min_power,
        max_power: raw.max_power,
        min_duration_s: raw.min_duration,
        max_duration_s: raw.max_duration,
        days,
        reservation: raw.reservation,
    };
    (restrictions, can_apply)
}

/// OCPI: `([0-1][0-9]|2[0-3]):[0-5][0-9]`, exactly.
fn parse_time(
    path: &str,
    field: &str,
    raw: Option<&str>,
    problems: &mut Problems,
) -> Option<NaiveTime> {
    let raw = raw?;
    let parsed = (raw.len() == 5 && raw.as_bytes()[2] == b':')
        .then(|| NaiveTime::parse_from_str(raw, "%H:%M").ok())
        .flatten();
    if parsed.is_none() {
        problems.push(
            format!("{path}.{field}"),
            format!("{raw:?} is not a time of day HH:MM (00:00 to 23:59)"),
        );
    }
    parsed
}

/// OCPI: `YYYY-MM-DD`, exactly.
fn parse_date(
    path: &str,
    field: &str,
    raw: Option<&str>,
    problems: &mut Problems,
) -> Option<NaiveDate> {
    let raw = raw?;
    let parsed = (raw.len() == 10)
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten();
    if parsed.is_none() {
        problems.push(
            format!("{path}.{field}"),
            format!("{raw:?} is not a date YYYY-MM-DD"),
        );
    }
    parsed
}

/// The hold-limit settings (docs/payments.md, "Hold limits"): positive
/// steps, a non-negative margin, and a maximum (the driver's consent to
/// increments) that increments need and that is not below the hold.
fn check_hold_limits(problems: &mut Problems, e: &TariffExtensions) {
    if e.hold_increment_minor.is_some_and(|v| v <= 0) {
        problems.push("extensions.hold_increment_minor", "must be positive");
    }
    if e.hold_margin_minor.is_some_and(|v| v < 0) {
        problems.push("extensions.hold_margin_minor", "must not be negative");
    }
    match (e.hold_max_minor, e.hold_amount_minor) {
        (Some(max), _) if max <= 0 => {
            problems.push("extensions.hold_max_minor", "must be positive")
        }
        (Some(max), Some(hold)) if max < hold => problems.push(
            "extensions.hold_max_minor",
            format!("must not be less than hold_amount_minor {hold}"),
        ),
        _ => {}
    }
    if e.hold_limit_policy == HoldLimitPolicy::IncrementAuthorization && e.hold_max_minor.is_none()
    {
        problems.push(
            "extensions.hold_max_minor",
            "is required with hold_limit_policy increment_authorization (the most the driver agrees to)",
        );
    }
}
