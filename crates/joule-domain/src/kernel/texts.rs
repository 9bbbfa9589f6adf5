//! Driver-facing texts Joule writes itself (a price line when a tariff has no
//! text of its own, the itemized cost summary), in each [`Language`], with
//! numbers written as that language writes them (`0,36` in es, fr and de).
//!
//! One table per language, so a translator reads every string of a language
//! in one place and a new language cannot miss one (the match is exhaustive).

use crate::kernel::language::Language;
use crate::kernel::money::{Decimal, Money};

/// The strings of one language.
struct Strings {
    free_of_charge: &'static str,
    per_kwh: &'static str,
    per_hour: &'static str,
    per_hour_idle: &'static str,
    per_session: &'static str,
    /// Idle fee grace wording; `{}` is the number of minutes.
    idle_after_minutes: &'static str,
    idle_after_charging: &'static str,
    /// Both: `{}` is the number of minutes after charging ends.
    idle_minutes_after_charging: &'static str,
    energy: &'static str,
    time: &'static str,
    idle: &'static str,
    session_fee: &'static str,
    total: &'static str,
    incl_vat: &'static str,
    /// Between a label and its amount (French puts a space before the colon).
    colon: &'static str,
    /// A charger's offline price text (OCA offline policy 3); `{}` is the
    /// price.
    offline_price: &'static str,
    cost_so_far: &'static str,
    idle_fee_running: &'static str,
    decimal_comma: bool,
}

fn strings(language: Language) -> &'static Strings {
    match language {
        Language::En => &Strings {
            free_of_charge: "Free of charge",
            per_kwh: "/kWh",
            per_hour: "/h",
            per_hour_idle: "/h idle",
            per_session: "/session",
            idle_after_minutes: "after {} min",
            idle_after_charging: "after charging ends",
            idle_minutes_after_charging: "{} min after charging ends",
            energy: "Energy",
            time: "Time",
            idle: "Idle",
            session_fee: "Session fee",
            total: "Total",
            incl_vat: "incl. VAT",
            colon: ":",
            offline_price: "Offline: {}. The cost shown may differ from the invoice.",
            cost_so_far: "Cost so far",
            idle_fee_running: "Idle fee running.",
            decimal_comma: false,
        },
        Language::Es => &Strings {
            free_of_charge: "Gratuito",
            per_kwh: "/kWh",
            per_hour: "/h",
            per_hour_idle: "/h de inactividad",
            per_session: "/sesión",
            idle_after_minutes: "tras {} min",
            idle_after_charging: "al terminar la carga",
            idle_minutes_after_charging: "{} min después de terminar la carga",
            energy: "Energía",
            time: "Tiempo",
            idle: "Inactividad",
            session_fee: "Tarifa por sesión",
            total: "Total",
            incl_vat: "IVA incluido",
            colon: ":",
            offline_price: "Sin conexión: {}. El coste mostrado puede diferir de la factura.",
            cost_so_far: "Coste hasta ahora",
            idle_fee_running: "Tarifa de inactividad en curso.",
            decimal_comma: true,
        },
        Language::Fr => &Strings {
            free_of_charge: "Gratuit",
            per_kwh: "/kWh",
            per_hour: "/h",
            per_hour_idle: "/h d'inactivité",
            per_session: "/session",
            idle_after_minutes: "après {} min",
            idle_after_charging: "après la fin de la charge",
            idle_minutes_after_charging: "{} min après la fin de la charge",
            energy: "Énergie",
            time: "Temps",
            idle: "Inactivité",
            session_fee: "Frais de session",
            total: "Total",
            incl_vat: "TTC",
            colon: " :",
            offline_price: "Hors ligne : {}. Le coût affiché peut différer de la facture.",
            cost_so_far: "Coût à ce stade",
            idle_fee_running: "Frais d'inactivité en cours.",
            decimal_comma: true,
        },
        Language::De => &Strings {
            free_of_charge: "Kostenlos",
            per_kwh: "/kWh",
            per_hour: "/h",
            per_hour_idle: "/h Standzeit",
            per_session: "/Ladevorgang",
            idle_after_minutes: "nach {} Min.",
            idle_after_charging: "nach Ladeende",
            idle_minutes_after_charging: "{} Min. nach Ladeende",
            energy: "Energie",
            time: "Zeit",
            idle: "Standzeit",
            session_fee: "Startgebühr",
            total: "Gesamt",
            incl_vat: "inkl. MwSt.",
            colon: ":",
            offline_price: "Offline: {}. Der angezeigte Betrag kann von der Rechnung abweichen.",
            cost_so_far: "Bisherige Kosten",
            idle_fee_running: "Standgebühr läuft.",
            decimal_comma: true,
        },
    }
}

/// Joule's texts in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Texts {
    language: Language,
}

/// What a unit price is per, for [`Texts::unit_price`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceUnit {
    Kwh,
    Hour,
    HourIdle,
    Session,
}

/// A dimension of the cost summary, for [`Texts::cost_label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostLabel {
    Energy,
    Time,
    Idle,
    SessionFee,
}

impl Texts {
    pub fn new(language: Language) -> Texts {
        Texts { language }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    fn s(&self) -> &'static Strings {
        strings(self.language)
    }

    /// A decimal as the language writes it: `0.36` or `0,36` (no grouping
    /// of thousands: prices and volumes on a charger display are short).
    pub fn number(&self, value: Decimal) -> String {
        let text = value.to_string();
        if self.s().decimal_comma {
            text.replace('.', ",")
        } else {
            text
        }
    }

    /// An amount with its currency code: `3.60 EUR` / `3,60 EUR`.
    pub fn money(&self, amount: &Money) -> String {
        format!("{} {}", self.number(amount.to_decimal()), amount.currency())
    }

    /// `0.36 EUR/kWh`, `6,00 EUR/h de inactividad`.
    pub fn unit_price(&self, price: &str, currency: &str, unit: PriceUnit) -> String {
        let s = self.s();
        let per = match unit {
            PriceUnit::Kwh => s.per_kwh,
            PriceUnit::Hour => s.per_hour,
            PriceUnit::HourIdle => s.per_hour_idle,
            PriceUnit::Session => s.per_session,
        };
        format!("{price} {currency}{per}")
    }

    /// When the idle fee starts: `after 10 min`, `tras 10 min`; after the
    /// last charging period when `only_after_charging` says so.
    pub fn idle_fee_start(&self, grace_s: u32, only_after_charging: bool) -> Option<String> {
        let s = self.s();
        let minutes = self.number((Decimal::from(grace_s) / Decimal::from(60)).normalize());
        match (only_after_charging, grace_s > 0) {
            (true, true) => Some(s.idle_minutes_after_charging.replace("{}", &minutes)),
            (true, false) => Some(s.idle_after_charging.to_owned()),
            (false, true) => Some(s.idle_after_minutes.replace("{}", &minutes)),
            (false, false) => None,
        }
    }

    pub fn free_of_charge(&self) -> &'static str {
        self.s().free_of_charge
    }

    pub fn cost_label(&self, label: CostLabel) -> &'static str {
        let s = self.s();
        match label {
            CostLabel::Energy => s.energy,
            CostLabel::Time => s.time,
            CostLabel::Idle => s.idle,
            CostLabel::SessionFee => s.session_fee,
        }
    }

    /// `Energy 3 kWh: 1.08 EUR` (or without a volume: `Session fee: 1.00 EUR`).
    pub fn cost_line(&self, label: CostLabel, volume: Option<&str>, amount: &Money) -> String {
        let label = self.cost_label(label);
        let colon = self.s().colon;
        match volume {
            Some(v) => format!("{label} {v}{colon} {}", self.money(amount)),
            None => format!("{label}{colon} {}", self.money(amount)),
        }
    }

    /// `Total: 1.08 EUR incl. VAT`.
    pub fn total_line(&self, amount: &Money) -> String {
        let s = self.s();
        format!(
            "{}{} {} {}",
            s.total,
            s.colon,
            self.money(amount),
            s.incl_vat
        )
    }

    /// What a charger shows while it cannot reach Joule: the price and the
    /// warning that the cost shown may differ from the invoice.
    pub fn offline_price(&self, price_text: &str) -> String {
        self.s().offline_price.replace("{}", price_text)
    }

    /// `Cost so far: 1.08 EUR incl. VAT` (a charger's running cost).
    pub fn cost_so_far(&self, amount: &Money) -> String {
        let s = self.s();
        format!(
            "{}{} {} {}",
            s.cost_so_far,
            s.colon,
            self.money(amount),
            s.incl_vat
        )
    }

    /// `Idle fee running. Cost so far: 2.10 EUR incl. VAT`.
    pub fn idle_cost_so_far(&self, amount: &Money) -> String {
        format!("{} {}", self.s().idle_fee_running, self.cost_so_far(amount))
    }

    /// Separates the lines of a one-line summary.
    pub fn separator(&self) -> &'static str {
        if self.language == Language::Fr {
            " ; "
        } else {
            "; "
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::money::Currency;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("EUR").unwrap())
    }

    #[test]
    fn numbers_use_a_decimal_comma_in_es_fr_de() {
        let d = Decimal::new(36, 2);
        assert_eq!(Texts::new(Language::En).number(d), "0.36");
        for l in [Language::Es, Language::Fr, Language::De] {
            assert_eq!(Texts::new(l).number(d), "0,36");
        }
        assert_eq!(Texts::new(Language::De).money(&eur(360)), "3,60 EUR");
    }

    #[test]
    fn every_language_has_every_text() {
        for l in Language::ALL {
            let t = Texts::new(l);
            assert!(!t.free_of_charge().is_empty());
            for label in [
                CostLabel::Energy,
                CostLabel::Time,
                CostLabel::Idle,
                CostLabel::SessionFee,
            ] {
                assert!(!t.cost_label(label).is_empty());
            }
            assert!(t.total_line(&eur(1)).contains("0"));
            assert!(t.idle_fee_start(600, false).unwrap().contains("10"));
        }
    }

    #[test]
    fn lines_per_language() {
        let en = Texts::new(Language::En);
        assert_eq!(
            en.cost_line(CostLabel::Energy, Some("3 kWh"), &eur(108)),
            "Energy 3 kWh: 1.08 EUR"
        );
        assert_eq!(en.total_line(&eur(108)), "Total: 1.08 EUR incl. VAT");
        let fr = Texts::new(Language::Fr);
        assert_eq!(fr.total_line(&eur(108)), "Total : 1,08 EUR TTC");
        let es = Texts::new(Language::Es);
        assert_eq!(
            es.unit_price("6,00", "EUR", PriceUnit::HourIdle),
            "6,00 EUR/h de inactividad"
        );
        assert_eq!(es.idle_fee_start(90, false).unwrap(), "tras 1,5 min");
        assert_eq!(en.idle_fee_start(0, false), None);
        assert_eq!(
            Texts::new(Language::De).idle_fee_start(600, true).unwrap(),
            "10 Min. nach Ladeende"
        );
    }
}
