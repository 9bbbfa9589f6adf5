//! Joule's minor units ↔ Stripe's integer amounts. They agree for almost
//! every currency, with Stripe's documented special cases: ISK is
//! zero-decimal in ISO 4217 but Stripe still takes it as two-decimal (a
//! multiple of 100), and three-decimal currencies (BHD, JOD, KWD, OMR, TND)
//! must end in 0. Converting here keeps those rules out of the domain.

use joule_domain::kernel::money::{Currency, Money};
use joule_domain::payments::gateway::GatewayError;

/// Currencies Stripe represents with two decimals though ISO 4217 has none.
const TWO_DECIMAL_AT_STRIPE: &[&str] = &["ISK"];

/// The `amount` parameter for `money`.
pub(crate) fn to_stripe(money: Money) -> Result<i64, GatewayError> {
    let currency = money.currency();
    if TWO_DECIMAL_AT_STRIPE.contains(&currency.code()) {
        return money
            .minor()
            .checked_mul(100)
            .ok_or_else(|| GatewayError::invalid("amount out of range"));
    }
    if currency.exponent() == 3 && money.minor() % 10 != 0 {
        return Err(GatewayError::invalid(format!(
            "Stripe takes {} amounts in multiples of 10 minor units",
            currency.code()
        )));
    }
    Ok(money.minor())
}

/// Money from a Stripe `amount` and lower-case `currency`.
pub(crate) fn from_stripe(amount: i64, currency: &str) -> Result<Money, GatewayError> {
    let currency = Currency::parse(&currency.to_ascii_uppercase()).map_err(|e| {
        GatewayError::InvalidResponse {
            message: e.to_string(),
        }
    })?;
    if TWO_DECIMAL_AT_STRIPE.contains(&currency.code()) {
        if amount % 100 != 0 {
            return Err(GatewayError::InvalidResponse {
                message: format!("{} amount {amount} is not whole", currency.code()),
            });
        }
        return Ok(Money::from_minor(amount / 100, currency));
    }
    Ok(Money::from_minor(amount, currency))
}

/// The `currency` parameter.
pub(crate) fn currency_param(currency: Currency) -> String {
    currency.code().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn most_currencies_pass_through() {
        let eur = Money::from_minor(1234, cur("EUR"));
        assert_eq!(to_stripe(eur), Ok(1234));
        assert_eq!(from_stripe(1234, "eur"), Ok(eur));
        let jpy = Money::from_minor(500, cur("JPY"));
        assert_eq!(to_stripe(jpy), Ok(500));
        assert_eq!(currency_param(cur("USD")), "usd");
    }

    #[test]
    fn isk_is_two_decimal_at_stripe() {
        let isk = Money::from_minor(1500, cur("ISK"));
        assert_eq!(to_stripe(isk), Ok(150_000));
        assert_eq!(from_stripe(150_000, "isk"), Ok(isk));
        assert!(from_stripe(150_050, "isk").is_err());
    }

    #[test]
    fn three_decimal_amounts_must_end_in_zero() {
        assert_eq!(to_stripe(Money::from_minor(1230, cur("KWD"))), Ok(1230));
        assert!(matches!(
            to_stripe(Money::from_minor(1234, cur("KWD"))),
            Err(GatewayError::InvalidRequest { .. })
        ));
        assert!(matches!(
            from_stripe(1, "xxx"),
            Err(GatewayError::InvalidResponse { .. })
        ));
    }
}
