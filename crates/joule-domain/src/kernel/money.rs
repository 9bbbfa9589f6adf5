//! Money: ISO 4217 currencies and amounts in integer minor units.
//!
//! An amount a driver pays is a [`Money`]: an `i64` count of the currency's
//! minor unit (cents, öre, yen, fils). Never a float. Unit prices and the
//! products of unit prices and volumes need more precision than that
//! (0.2345 EUR/kWh × 12.3456 kWh), so they are exact decimals
//! ([`Decimal`], re-exported from `rust_decimal`), and become [`Money`] in one
//! place only: [`Money::round_from`], which rounds half away from zero
//! ([`ROUNDING`]). See docs/pricing.md for where the pricing engine rounds.

use std::fmt;
use std::str::FromStr;

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How an exact decimal amount becomes minor units: half away from zero
/// ("commercial rounding", what a driver checking a receipt by hand does).
/// Amounts are never negative here, so this is plain half-up.
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// ISO 4217 codes Joule accepts, with their number of minor-unit digits.
/// The list is deliberately explicit: a typo like `EUD` must be refused,
/// not priced with a guessed exponent.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PLN", 2),
    ("RON", 2),
    ("RSD", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("ZAR", 2),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown ISO 4217 currency {0:?}")]
    UnknownCurrency(String),
    #[error("cannot combine {left} and {right}")]
    CurrencyMismatch {
        left: &'static str,
        right: &'static str,
    },
    #[error("amount out of range")]
    Overflow,
}

/// An ISO 4217 currency Joule knows, with its minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u32,
}

impl Currency {
    /// The currency for an upper-case ISO 4217 code (`"EUR"`).
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, exponent)| Currency { code, exponent })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point of the minor unit: 2 for EUR, 0 for
    /// JPY, 3 for KWD.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    /// Whether `amount` is a whole number of minor units.
    pub fn is_exact(&self, amount: Decimal) -> bool {
        amount.round_dp(self.exponent) == amount
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: integer minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money::from_minor(0, currency)
    }

    /// The exact decimal amount rounded to minor units with [`ROUNDING`].
    /// This is the only place a decimal amount becomes money.
    pub fn round_from(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let rounded = amount.round_dp_with_strategy(currency.exponent, ROUNDING);
        // round_dp never raises the scale: 7 stays "7" (scale 0) for EUR.
        let missing = currency.exponent.saturating_sub(rounded.scale());
        let minor = 10i128
            .checked_pow(missing)
            .and_then(|factor| rounded.mantissa().checked_mul(factor))
            .and_then(|m| i64::try_from(m).ok())
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in currency units, exactly (`12.30` for 1230 cents).
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent)
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency.code,
                right: other.currency.code,
            })
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency.code)
    }
}

/// Serde for OCPI `number` fields held as [`Decimal`]: read from a JSON
/// number (or a string), written as a JSON number. The domain crate turns on
/// serde_json's `float_roundtrip`, so `0.2345` in a file is read as exactly
/// 0.2345 (the shortest decimal of the nearest f64), never 0.23450000000000001.
pub mod decimal_number {
    use super::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::str::FromStr;

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        // Parsing the decimal's text gives the nearest f64, whose shortest
        // representation (what serde_json prints) is that same text for
        // every value with up to 15 significant digits.
        let text = value.normalize().to_string();
        match f64::from_str(&text) {
            Ok(number) => serializer.serialize_f64(number),
            Err(_) => serializer.serialize_str(&text),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        <Decimal as Deserialize>::deserialize(deserializer)
    }

    /// The same for `Option<Decimal>` (`null` or absent is `None`).
    pub mod option {
        use super::Decimal;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            value: &Option<Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => super::serialize(v, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Decimal>, D::Error> {
            Option::<Decimal>::deserialize(deserializer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn currencies_have_their_minor_unit_exponents() {
        assert_eq!(Currency::parse("EUR").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("BHD").unwrap().exponent(), 3);
        for code in [
            "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "CAD", "AUD",
        ] {
            assert_eq!(Currency::parse(code).unwrap().exponent(), 2, "{code}");
        }
    }

    #[test]
    fn unknown_and_lower_case_codes_are_refused() {
        for code in ["EUD", "eur", "", "EURO", "XXX"] {
            assert!(
                matches!(Currency::parse(code), Err(MoneyError::UnknownCurrency(_))),
                "{code}"
            );
        }
    }

    #[test]
    fn rounds_half_away_from_zero_to_minor_units() {
        let cases = [
            ("0.125", "EUR", 13),
            ("0.124999", "EUR", 12),
            ("2.5", "JPY", 3),
            ("1.0005", "KWD", 1001),
            ("7", "EUR", 700),
            ("0.004", "EUR", 0),
        ];
        for (amount, code, minor) in cases {
            let c = Currency::parse(code).unwrap();
            assert_eq!(
                Money::round_from(dec(amount), c).unwrap().minor(),
                minor,
                "{amount} {code}"
            );
        }
    }

    #[test]
    fn displays_with_the_currency_exponent() {
        assert_eq!(Money::from_minor(1230, eur()).to_string(), "12.30 EUR");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::from_minor(500, jpy).to_string(), "500 JPY");
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let usd = Currency::parse("USD").unwrap();
        let r = Money::from_minor(1, eur()).checked_add(Money::from_minor(1, usd));
        assert!(matches!(r, Err(MoneyError::CurrencyMismatch { .. })));
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let big = Money::from_minor(i64::MAX, eur());
        assert_eq!(big.checked_add(big), Err(MoneyError::Overflow));
        assert_eq!(
            Money::round_from(Decimal::MAX, eur()),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn decimal_numbers_read_exactly_from_json() {
        #[derive(Deserialize, Serialize)]
        struct P {
            #[serde(with = "decimal_number")]
            price: Decimal,
        }
        for text in ["0.2345", "0.1", "1e-2", "12.35", "3"] {
            let p: P = serde_json::from_str(&format!(r#"{{"price": {text}}}"#)).unwrap();
            assert_eq!(
                p.price,
                Decimal::from_scientific(text).unwrap_or_else(|_| dec(text))
            );
        }
        let p = P {
            price: dec("0.2345"),
        };
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"price":0.2345}"#);
    }

    proptest! {
        #[test]
        fn minor_units_round_trip_through_decimal(minor in -1_000_000_000_000i64..1_000_000_000_000, code in prop::sample::select(vec!["EUR", "JPY", "KWD"])) {
            let c = Currency::parse(code).unwrap();
            let m = Money::from_minor(minor, c);
            prop_assert_eq!(Money::round_from(m.to_decimal(), c).unwrap(), m);
            prop_assert!(c.is_exact(m.to_decimal()));
        }

        #[test]
        fn rounding_error_is_at_most_half_a_minor_unit(mantissa in 0i64..10_000_000_000, scale in 0u32..8) {
            let amount = Decimal::new(mantissa, scale);
            let m = Money::round_from(amount, eur()).unwrap();
            let error = (m.to_decimal() - amount).abs();
            prop_assert!(error <= dec("0.005"));
        }

        #[test]
        fn rounding_is_monotone(a in 0i64..10_000_000, b in 0i64..10_000_000, scale in 0u32..6) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let lo_m = Money::round_from(Decimal::new(lo, scale), eur()).unwrap();
            let hi_m = Money::round_from(Decimal::new(hi, scale), eur()).unwrap();
            prop_assert!(lo_m.minor() <= hi_m.minor());
        }

        #[test]
        fn addition_is_exact_and_commutative(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let (x, y) = (Money::from_minor(a, eur()), Money::from_minor(b, eur()));
            let s = x.checked_add(y).unwrap();
            prop_assert_eq!(s, y.checked_add(x).unwrap());
            prop_assert_eq!(s.to_decimal(), x.to_decimal() + y.to_decimal());
            prop_assert_eq!(s.checked_sub(y).unwrap(), x);
        }
    }
}
