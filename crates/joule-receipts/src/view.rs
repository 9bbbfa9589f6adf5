//! A receipt laid out as localized text: the one place that decides what is
//! printed and in which order, so the HTML page, the PDF and the plain-text
//! email cannot disagree.

use joule_domain::receipts::receipt::Receipt;

use crate::format;
use crate::labels::{labels, Labels};

/// A label and its value.
pub type Field = (&'static str, String);

/// One unit price as applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPriceRow {
    /// "Energy, per kWh".
    pub what: String,
    pub excl_vat: String,
    pub incl_vat: String,
    /// "VAT 19%" or "no VAT".
    pub vat: String,
}

/// One row of the charges table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRow {
    pub item: String,
    pub quantity: String,
    pub excl_vat: String,
    pub incl_vat: String,
}

/// One signed meter value with its caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBlock {
    pub caption: String,
    pub data: String,
}

/// Everything printed on a receipt, in order, as text.
#[derive(Debug, Clone)]
pub struct View {
    pub lang: &'static str,
    pub labels: &'static Labels,
    pub title: String,
    pub number: String,
    /// Operator name, address lines, VAT id, contact.
    pub operator: Vec<String>,
    pub session: Vec<Field>,
    pub unit_prices: Vec<UnitPriceRow>,
    pub charges: Vec<ChargeRow>,
    pub vat: Vec<(String, String, String)>,
    pub totals: Vec<Field>,
    pub payment: String,
    pub signed: Vec<SignedBlock>,
    pub footer: Vec<Field>,
    pub complaint_notice: Option<String>,
}

impl View {
    pub fn of(r: &Receipt) -> View {
        let lang = r.language;
        let l = labels(lang);
        let exp = r.total_incl_vat.currency().exponent();
        let code = r.total_incl_vat.currency().code();
        let when = |at| format::datetime(at, r.time_zone, lang);

        let mut operator = vec![r.operator.name.clone()];
        operator.extend(r.operator.address.iter().cloned());
        if let Some(vat_id) = &r.operator.vat_id {
            operator.push(format!("{}: {vat_id}", l.vat_id));
        }
        if let Some(contact) = &r.operator.contact {
            operator.push(format!("{}: {contact}", l.contact));
        }

        let mut session: Vec<Field> = Vec::new();
        if let Some(site) = &r.site {
            let mut parts: Vec<String> = site.name.iter().cloned().collect();
            parts.extend(site.address.iter().cloned());
            if !parts.is_empty() {
                session.push((l.site, parts.join(", ")));
            }
        }
        if let Some(evse) = &r.evse_id {
            session.push((l.evse, evse.clone()));
        }
        session.push((
            l.charger,
            format!("{} · {} {}", r.charger_id, l.connector, r.connector_id),
        ));
        session.push((l.start, when(r.started_at)));
        session.push((l.end, when(r.ended_at)));
        session.push((l.energy, format::kwh(r.energy_kwh, lang)));
        session.push((l.transaction, r.transaction_id.to_string()));

        let unit_prices = r
            .unit_prices
            .iter()
            .map(|p| UnitPriceRow {
                what: l.unit_price(p.dimension),
                excl_vat: format!("{}\u{a0}{code}", format::unit_price(p.excl_vat, exp, lang)),
                incl_vat: format!(
                    "{}\u{a0}{code}",
                    format::unit_price(p.incl_vat(), exp, lang)
                ),
                vat: p.vat_percent.map_or_else(
                    || l.no_vat.to_owned(),
                    |v| format!("{} {}", l.vat, format::percent(v, lang)),
                ),
            })
            .collect();

        // The VAT table shows the rate; lines name theirs only when they differ.
        let several_rates = r.vat.len() > 1;
        let mut charges: Vec<ChargeRow> = r
            .lines
            .iter()
            .map(|line| ChargeRow {
                item: match line.vat_percent.filter(|_| several_rates) {
                    Some(v) => format!(
                        "{} ({} {})",
                        l.dimension(line.dimension),
                        l.vat,
                        format::percent(v, lang)
                    ),
                    None => l.dimension(line.dimension).to_owned(),
                },
                quantity: format::volume(line.dimension, line.volume, lang),
                excl_vat: format::money(line.excl_vat, lang),
                incl_vat: format::money(line.incl_vat, lang),
            })
            .collect();
        if let Some(adj) = &r.adjustment {
            charges.push(ChargeRow {
                item: if adj.minimum {
                    l.min_price
                } else {
                    l.max_price
                }
                .to_owned(),
                quantity: String::new(),
                excl_vat: format::money(adj.excl_vat, lang),
                incl_vat: format::money(adj.incl_vat, lang),
            });
        }

        let vat = r
            .vat
            .iter()
            .map(|v| {
                (
                    v.rate_percent
                        .map_or_else(|| l.no_vat.to_owned(), |p| format::percent(p, lang)),
                    format::money(v.base, lang),
                    format::money(v.vat, lang),
                )
            })
            .collect();

        let totals = vec![
            (l.total_excl_vat, format::money(r.total_excl_vat, lang)),
            (l.total_vat, format::money(r.total_vat, lang)),
            (l.total_incl_vat, format::money(r.total_incl_vat, lang)),
        ];

        let signed = r
            .signed_meter_data
            .iter()
            .map(|s| SignedBlock {
                caption: match &s.context {
                    Some(c) => format!("{} · {} · {c}", when(s.timestamp), s.measurand),
                    None => format!("{} · {}", when(s.timestamp), s.measurand),
                },
                data: s.data.clone(),
            })
            .collect();

        View {
            lang: lang.code(),
            labels: l,
            title: l.title.to_owned(),
            number: r.number.as_str().to_owned(),
            operator,
            session,
            unit_prices,
            charges,
            vat,
            totals,
            payment: format::payment(&r.payment, l),
            signed,
            footer: vec![
                (l.receipt_number, r.number.as_str().to_owned()),
                (l.issued, when(r.issued_at)),
            ],
            complaint_notice: r.operator.complaint_notice.clone(),
        }
    }
}
