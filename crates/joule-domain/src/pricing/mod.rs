//! Pricing: tariffs, the pricing engine, which tariff applies to whom, and
//! the cost of a session.
//!
//! - [`stored`]: a tariff as stored, with its versions and price texts.
//! - [`assignment`]: which tariff applies to a charger, site, user group or
//!   token, and the rule that picks one.
//! - [`session_cost`]: a session's metered timeline and its price (pure; the
//!   store-reading half is `crate::services::session_cost`).
//! - [`display`]: the prices and texts a charger's display shows.
//!
//! - [`tariff`]: the OCPI 2.2.1 Tariff object (a superset: Joule's extensions
//!   live beside it in [`TariffExtensions`]).
//! - [`validate`]: every problem of a tariff with its field path, and the
//!   parsed [`ValidTariff`] that pricing requires.
//! - [`engine`]: prices a session timeline (OCPI CDR charging periods) under a
//!   tariff, exact to the currency's minor unit. Pure: the caller gives the
//!   time zone; nothing here reads a clock or a file.
//!
//! Import rule (checked by `scripts/check-domain-layers.py`): never imports
//! `crate::ports` or `crate::services`.
//!
//! The rules (element precedence, step size, rounding, VAT, price limits) are
//! in docs/pricing.md.

pub mod assignment;
pub mod display;
pub mod engine;
pub mod session_cost;
pub mod stored;
pub mod tariff;
pub mod validate;

#[cfg(test)]
mod examples;
#[cfg(test)]
mod properties;

/// The IANA time zone type sessions are priced in.
pub use chrono_tz::Tz;
pub use engine::{
    price_session, ChargingPeriod, ComponentRef, FlatFee, FreeReason, PriceAmount, PriceBreakdown,
    PriceCap, PriceCapKind, PricedLine, PricedSlice, PricingError, SessionTimeline, StepRounding,
    VatGroup,
};
pub use tariff::{
    DayOfWeek, DisplayText, HoldLimitPolicy, Price, PriceComponent, ReservationRestrictionType,
    Tariff, TariffDimensionType, TariffElement, TariffExtensions, TariffRestrictions, TariffType,
};
pub use validate::{TariffErrors, TariffProblem, ValidTariff};
