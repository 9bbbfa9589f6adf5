//! Tariffs and the pricing engine.
//!
//! - [`tariff`]: the OCPI 2.2.1 Tariff object (a superset: Joule's extensions
//!   live beside it in [`TariffExtensions`]).
//! - [`validate`]: every problem of a tariff with its field path, and the
//!   parsed [`ValidTariff`] that pricing requires.
//! - [`engine`]: prices a session timeline (OCPI CDR charging periods) under a
//!   tariff, exact to the currency's minor unit. Pure: the caller gives the
//!   time zone; nothing here reads a clock or a file.
//!
//! The rules (element precedence, step size, rounding, VAT, price limits) are
//! in docs/pricing.md.

pub mod engine;
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
    DayOfWeek, DisplayText, Price, PriceComponent, ReservationRestrictionType, Tariff,
    TariffDimensionType, TariffElement, TariffExtensions, TariffRestrictions, TariffType,
};
pub use validate::{TariffErrors, TariffProblem, ValidTariff};
