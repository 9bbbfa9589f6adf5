//! Numbers, money, durations and dates as a driver of each language reads
//! them: a decimal comma for es/fr/de, the receipt's time zone for times.
//! Exact decimals throughout; nothing here goes through a float.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use joule_domain::kernel::money::{Decimal, Money, ROUNDING};
use joule_domain::receipts::receipt::{Dimension, Language, PaymentMethod};

use crate::labels::Labels;

/// `value` with exactly `dp` decimals, the language's decimal mark and
/// thousands separator.
pub fn decimal(value: Decimal, dp: u32, language: Language) -> String {
    let rounded = value.round_dp_with_strategy(dp, ROUNDING);
    let plain = format!("{:.*}", dp as usize, rounded.abs());
    let (int, frac) = plain.split_once('.').unwrap_or((plain.as_str(), ""));
    let (group, mark) = match language {
        Language::En => (',', '.'),
        Language::Es | Language::De => ('.', ','),
        // French groups with a narrow no-break space.
        Language::Fr => ('\u{202f}', ','),
    };
    let mut out = String::new();
    if rounded.is_sign_negative() && !rounded.is_zero() {
        out.push('-');
    }
    let digits = int.len();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(mark);
        out.push_str(frac);
    }
    out
}

/// An amount with its currency code: `12.30 EUR`, `12,30 EUR`.
pub fn money(amount: Money, language: Language) -> String {
    let currency = amount.currency();
    format!(
        "{}\u{a0}{}",
        decimal(amount.to_decimal(), currency.exponent(), language),
        currency.code()
    )
}

/// A unit price: the tariff's own decimals (0.2345), never fewer than the
/// currency's (0.40, not 0.4).
pub fn unit_price(price: Decimal, currency_exponent: u32, language: Language) -> String {
    let dp = price.normalize().scale().max(currency_exponent);
    decimal(price, dp, language)
}

/// Energy in kWh with 3 decimals (whole Wh), as the meter counts it.
pub fn kwh(value: Decimal, language: Language) -> String {
    format!("{}\u{a0}kWh", decimal(value, 3, language))
}

/// A VAT rate in percent: `19 %`, `5,5 %`.
pub fn percent(rate: Decimal, language: Language) -> String {
    let rate = rate.normalize();
    let text = decimal(rate, rate.scale(), language);
    match language {
        Language::En => format!("{text}%"),
        _ => format!("{text}\u{a0}%"),
    }
}

/// A duration in seconds as `1 h 30 min` (`45 s` below a minute).
pub fn duration(seconds: Decimal) -> String {
    let total: i64 = seconds
        .round_dp_with_strategy(0, ROUNDING)
        .try_into()
        .unwrap_or(0);
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}\u{a0}h"));
    }
    if m > 0 {
        parts.push(format!("{m}\u{a0}min"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}\u{a0}s"));
    }
    parts.join(" ")
}

/// The billed volume of a line in its unit.
pub fn volume(dimension: Dimension, value: Decimal, language: Language) -> String {
    match dimension {
        Dimension::Energy => kwh(value, language),
        Dimension::ChargingTime | Dimension::IdleTime => duration(value),
        Dimension::SessionFee => decimal(value, 0, language),
    }
}

/// A date and time in the receipt's zone, with the zone's abbreviation so
/// a driver abroad is not misled: `2026-03-02 11:00 CET`, `02.03.2026 11:00 CET`.
pub fn datetime(at: DateTime<Utc>, tz: Tz, language: Language) -> String {
    let local = at.with_timezone(&tz);
    let pattern = match language {
        Language::En => "%Y-%m-%d %H:%M:%S %Z",
        Language::Es | Language::Fr => "%d/%m/%Y %H:%M:%S %Z",
        Language::De => "%d.%m.%Y %H:%M:%S %Z",
    };
    local.format(pattern).to_string()
}

/// The payment method as printed: `Visa ending in 4242`. Only brand and
/// last four digits exist to print.
pub fn payment(method: &PaymentMethod, labels: &Labels) -> String {
    match method {
        PaymentMethod::Card(card) => {
            format!(
                "{} {} {}",
                brand_name(&card.brand),
                labels.card_ending,
                card.last4
            )
        }
        PaymentMethod::Account => labels.account.to_owned(),
        PaymentMethod::Rfid => labels.rfid.to_owned(),
    }
}

fn brand_name(brand: &str) -> String {
    match brand {
        "visa" => "Visa".to_owned(),
        "mastercard" => "Mastercard".to_owned(),
        "amex" => "American Express".to_owned(),
        "maestro" => "Maestro".to_owned(),
        "discover" => "Discover".to_owned(),
        "jcb" => "JCB".to_owned(),
        "unionpay" => "UnionPay".to_owned(),
        "diners" => "Diners Club".to_owned(),
        other => {
            let mut chars = other.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use joule_domain::kernel::money::Currency;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn decimal_comma_for_es_fr_de() {
        assert_eq!(decimal(d("1234.5"), 2, Language::En), "1,234.50");
        assert_eq!(decimal(d("1234.5"), 2, Language::De), "1.234,50");
        assert_eq!(decimal(d("1234.5"), 2, Language::Es), "1.234,50");
        assert_eq!(decimal(d("1234.5"), 2, Language::Fr), "1\u{202f}234,50");
        assert_eq!(decimal(d("-0.125"), 2, Language::En), "-0.13");
        assert_eq!(decimal(d("999"), 0, Language::De), "999");
        assert_eq!(decimal(d("1234567"), 0, Language::En), "1,234,567");
    }

    #[test]
    fn money_uses_the_currency_exponent() {
        let eur = Currency::parse("EUR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            money(Money::from_minor(1368, eur), Language::De),
            "13,68\u{a0}EUR"
        );
        assert_eq!(
            money(Money::from_minor(500, jpy), Language::En),
            "500\u{a0}JPY"
        );
        assert_eq!(unit_price(d("0.4"), 2, Language::Fr), "0,40");
        assert_eq!(unit_price(d("0.2345"), 2, Language::En), "0.2345");
    }

    #[test]
    fn durations_and_percentages() {
        assert_eq!(duration(d("5400")), "1\u{a0}h 30\u{a0}min");
        assert_eq!(duration(d("45")), "45\u{a0}s");
        assert_eq!(duration(d("0")), "0\u{a0}s");
        assert_eq!(percent(d("19.00"), Language::En), "19%");
        assert_eq!(percent(d("5.5"), Language::Fr), "5,5\u{a0}%");
    }

    #[test]
    fn times_are_shown_in_the_receipt_zone() {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            datetime(at, berlin, Language::En),
            "2026-03-02 11:00:00 CET"
        );
        assert_eq!(
            datetime(at, berlin, Language::De),
            "02.03.2026 11:00:00 CET"
        );
        assert_eq!(
            datetime(at, Tz::UTC, Language::Fr),
            "02/03/2026 10:00:00 UTC"
        );
    }
}
