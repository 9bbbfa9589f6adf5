//! Receipts: what a driver gets after a paid session, as plain data.
//!
//! Weights-and-measures rules (STANDARDS.md §0.10, §7.2) and Eichrecht
//! transparency (§7.3) say what a receipt must show: the energy in kWh, the
//! unit prices and fees as applied, taxes, the total, start and end time, the
//! EVSE and operator, a transaction id, and the charger's signed meter data.
//! PCI DSS (§0.9, §7.1) says what it must not: the payment method is a
//! [`CardSummary`] (brand and last four digits) or a non-card method, so no
//! card number can reach a receipt. Rendering (HTML, PDF, email) lives in the
//! `joule-receipts` crate; this module only decides the content.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::charging::session::{Session, SessionState, StoredMeterValue};
use crate::kernel::ids::{ChargerId, ConnectorId, SessionId, TransactionId};
use crate::kernel::money::{Decimal, Money, MoneyError};
use crate::payments::card::CardSummary;
use crate::pricing::{PriceBreakdown, PriceCapKind, TariffDimensionType};

/// Longest receipt number accepted: it is printed and used in links.
const MAX_NUMBER_LEN: usize = 64;

/// Why a receipt could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// A receipt is for a finished session only: its energy and total are final.
    #[error("session {0} has not ended")]
    SessionNotEnded(SessionId),
    #[error("receipt number must be 1–{MAX_NUMBER_LEN} characters of A–Z, a–z, 0–9, '-' or '_'")]
    InvalidNumber,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The receipt's transaction number: printed on it, quoted by the driver when
/// they complain, and safe in a URL path or a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReceiptNumber(String);

impl ReceiptNumber {
    pub fn parse(raw: &str) -> Result<Self, ReceiptError> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_NUMBER_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ReceiptError::InvalidNumber)
        }
    }

    /// The number derived from the session id: unique without a counter, so
    /// issuing a receipt twice for one session gives the same number.
    pub fn for_session(session: &SessionId) -> Self {
        Self(format!("R-{}", session.as_uuid().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReceiptNumber {
    type Error = ReceiptError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ReceiptNumber> for String {
    fn from(value: ReceiptNumber) -> Self {
        value.0
    }
}

/// Receipts use Joule's languages (see [`crate::kernel::language`]); a driver's
/// language tag that is not one of them falls back to English rather than
/// failing a receipt.
pub use crate::kernel::language::Language;

/// Who sells the energy: from configuration, printed on every receipt
/// (business name and contact are required by weights-and-measures rules;
/// the VAT id by EU invoicing rules).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OperatorInfo {
    pub name: String,
    /// Postal address, one line per entry.
    #[serde(default)]
    pub address: Vec<String>,
    #[serde(default)]
    pub vat_id: Option<String>,
    /// Where a driver complains or asks (e-mail, phone or web address).
    #[serde(default)]
    pub contact: Option<String>,
    /// A jurisdiction's complaint notice (e.g. Texas 16 TAC §96.83), printed
    /// as given.
    #[serde(default)]
    pub complaint_notice: Option<String>,
}

/// Where the charger stands, when known.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SiteInfo {
    pub name: Option<String>,
    #[serde(default)]
    pub address: Vec<String>,
}

/// How the session was paid. Card details are a [`CardSummary`] only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaymentMethod {
    Card(CardSummary),
    /// Charged to a driver account (stored card or invoice).
    Account,
    /// An RFID card or app token billed by its issuer.
    Rfid,
}

/// A billed dimension in driver's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Per kWh.
    Energy,
    /// Per hour charging.
    ChargingTime,
    /// Per hour connected but not charging (the idle fee).
    IdleTime,
    /// Once per session.
    SessionFee,
}

impl From<TariffDimensionType> for Dimension {
    fn from(d: TariffDimensionType) -> Self {
        match d {
            TariffDimensionType::Energy => Dimension::Energy,
            TariffDimensionType::Time => Dimension::ChargingTime,
            TariffDimensionType::ParkingTime => Dimension::IdleTime,
            TariffDimensionType::Flat => Dimension::SessionFee,
        }
    }
}

/// A unit price as applied to this session (a time-of-use tariff applies
/// several per dimension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitPrice {
    pub dimension: Dimension,
    /// Per kWh, per hour, or per session; excluding VAT.
    pub excl_vat: Decimal,
    /// VAT rate in percent; `None` when the tariff gives none.
    pub vat_percent: Option<Decimal>,
}

impl UnitPrice {
    /// The price including VAT, exact (unit prices are not money: they keep
    /// the tariff's decimals).
    pub fn incl_vat(&self) -> Decimal {
        match self.vat_percent {
            Some(vat) => self.excl_vat + self.excl_vat * vat / Decimal::ONE_HUNDRED,
            None => self.excl_vat,
        }
    }
}

/// One billed dimension at one VAT rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub dimension: Dimension,
    /// Billed volume: kWh for energy, seconds for time, 1 for the session fee.
    pub volume: Decimal,
    pub vat_percent: Option<Decimal>,
    pub excl_vat: Money,
    pub incl_vat: Money,
}

/// The tariff's minimum or maximum price, when it changed the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceAdjustment {
    /// `true` for the minimum price (adds), `false` for the maximum (takes off).
    pub minimum: bool,
    pub excl_vat: Money,
    pub incl_vat: Money,
}

/// VAT at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatLine {
    /// `None`: amounts the tariff gives no VAT rate for.
    pub rate_percent: Option<Decimal>,
    pub base: Money,
    pub vat: Money,
}

/// A signed meter value exactly as the charger sent it (OCMF or another
/// `signedMeterValue` encoding), for the driver's transparency software.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedMeterData {
    pub timestamp: DateTime<Utc>,
    /// `Transaction.Begin`, `Transaction.End`, `Sample.Periodic`, …
    pub context: Option<String>,
    pub measurand: String,
    /// Verbatim: never reformatted, or its signature would no longer verify.
    pub data: String,
}

/// Everything a receipt needs besides the session and its price.
#[derive(Debug, Clone)]
pub struct ReceiptContext<'a> {
    pub number: ReceiptNumber,
    pub operator: &'a OperatorInfo,
    pub site: Option<&'a SiteInfo>,
    /// The EVSE id printed on the charger (e.g. `DE*ABC*E123*1`), if known.
    pub evse_id: Option<String>,
    /// The charger's local time zone: times are shown in it.
    pub time_zone: Tz,
    pub payment: PaymentMethod,
    pub language: Language,
    /// The session's stored meter values; the signed ones go on the receipt.
    pub meter_values: &'a [StoredMeterValue],
    pub issued_at: DateTime<Utc>,
}

/// A receipt for one paid session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub number: ReceiptNumber,
    pub issued_at: DateTime<Utc>,
    pub language: Language,
    pub operator: OperatorInfo,
    pub site: Option<SiteInfo>,
    pub session_id: SessionId,
    pub transaction_id: TransactionId,
    #[serde(deserialize_with = "charger_id")]
    pub charger_id: ChargerId,
    pub connector_id: ConnectorId,
    pub evse_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// IANA name of the zone the times are shown in.
    #[serde(with = "tz_name")]
    pub time_zone: Tz,
    /// Energy delivered: the meter register difference, in kWh to 3 decimals
    /// (whole Wh), as the meter counted it.
    pub energy_kwh: Decimal,
    pub unit_prices: Vec<UnitPrice>,
    pub lines: Vec<ReceiptLine>,
    pub adjustment: Option<PriceAdjustment>,
    pub vat: Vec<VatLine>,
    pub total_excl_vat: Money,
    pub total_vat: Money,
    pub total_incl_vat: Money,
    pub payment: PaymentMethod,
    pub signed_meter_data: Vec<SignedMeterData>,
}

impl Receipt {
    /// The receipt of an ended session priced as `price`.
    ///
    /// Totals are the breakdown's (min/max price applied); VAT per rate is
    /// summed from the breakdown's groups, and a min/max price adjustment is
    /// carried into the VAT line when the session has a single rate (with
    /// several rates it is shown on its own and the VAT total is still exact).
    pub fn new(
        session: &Session,
        price: &PriceBreakdown,
        ctx: ReceiptContext<'_>,
    ) -> Result<Receipt, ReceiptError> {
        let ended_at = match (session.state, session.stopped_at) {
            (SessionState::Ended, Some(at)) => at,
            _ => return Err(ReceiptError::SessionNotEnded(session.id)),
        };
        let currency = price.currency;
        let lines: Vec<ReceiptLine> = price
            .groups
            .iter()
            .filter(|g| g.volume > Decimal::ZERO || !g.cost.incl_vat.is_zero())
            .map(|g| ReceiptLine {
                dimension: g.dimension.into(),
                volume: g.volume,
                vat_percent: g.vat,
                excl_vat: g.cost.excl_vat,
                incl_vat: g.cost.incl_vat,
            })
            .collect();
        let adjustment = price.price_cap.map(|cap| PriceAdjustment {
            minimum: cap.kind == PriceCapKind::MinPrice,
            excl_vat: Money::from_minor(cap.adjustment_excl_vat_minor, currency),
            incl_vat: Money::from_minor(cap.adjustment_incl_vat_minor, currency),
        });
        let total_excl_vat = price.total_cost.excl_vat;
        let total_incl_vat = price.total_cost.incl_vat;
        Ok(Receipt {
            number: ctx.number,
            issued_at: ctx.issued_at,
            language: ctx.language,
            operator: ctx.operator.clone(),
            site: ctx.site.cloned(),
            session_id: session.id,
            transaction_id: session.transaction_id,
            charger_id: session.charger_id.clone(),
            connector_id: session.connector_id,
            evse_id: ctx.evse_id,
            started_at: session.started_at,
            ended_at,
            time_zone: ctx.time_zone,
            energy_kwh: Decimal::new(session.energy_wh(), 3),
            unit_prices: unit_prices(price),
            vat: vat_lines(&lines, adjustment.as_ref())?,
            lines,
            adjustment,
            total_excl_vat,
            total_vat: total_incl_vat.checked_sub(total_excl_vat)?,
            total_incl_vat,
            payment: ctx.payment,
            signed_meter_data: signed_meter_data(session, ctx.meter_values),
        })
    }
}

/// Distinct prices per dimension in the order they first applied.
fn unit_prices(price: &PriceBreakdown) -> Vec<UnitPrice> {
    let mut out: Vec<UnitPrice> = Vec::new();
    let applied = price
        .slices
        .iter()
        .flat_map(|s| &s.lines)
        .filter(|l| l.priced_by.is_some())
        .map(|l| UnitPrice {
            dimension: l.dimension.into(),
            excl_vat: l.unit_price.normalize(),
            vat_percent: l.vat.map(|v| v.normalize()),
        })
        .chain(price.step_roundings.iter().map(|r| UnitPrice {
            dimension: r.dimension.into(),
            excl_vat: r.unit_price.normalize(),
            vat_percent: r.vat.map(|v| v.normalize()),
        }))
        .chain(price.flat_fee.iter().map(|f| UnitPrice {
            dimension: Dimension::SessionFee,
            excl_vat: f.price.normalize(),
            vat_percent: f.vat.map(|v| v.normalize()),
        }));
    for p in applied {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out.sort_by_key(|p| dimension_rank(p.dimension));
    out
}

fn dimension_rank(d: Dimension) -> u8 {
    match d {
        Dimension::Energy => 0,
        Dimension::ChargingTime => 1,
        Dimension::IdleTime => 2,
        Dimension::SessionFee => 3,
    }
}

fn vat_lines(
    lines: &[ReceiptLine],
    adjustment: Option<&PriceAdjustment>,
) -> Result<Vec<VatLine>, MoneyError> {
    let mut out: Vec<VatLine> = Vec::new();
    for line in lines {
        let rate = line.vat_percent.map(|v| v.normalize());
        let vat = line.incl_vat.checked_sub(line.excl_vat)?;
        match out.iter_mut().find(|v| v.rate_percent == rate) {
            Some(v) => {
                v.base = v.base.checked_add(line.excl_vat)?;
                v.vat = v.vat.checked_add(vat)?;
            }
            None => out.push(VatLine {
                rate_percent: rate,
                base: line.excl_vat,
                vat,
            }),
        }
    }
    if let (Some(adj), [only]) = (adjustment, out.as_mut_slice()) {
        only.base = only.base.checked_add(adj.excl_vat)?;
        let adj_vat = adj.incl_vat.checked_sub(adj.excl_vat)?;
        only.vat = only.vat.checked_add(adj_vat)?;
    }
    Ok(out)
}

/// The session's signed values, oldest first, without duplicates (a charger
/// resends MeterValues after a reconnect).
fn signed_meter_data(session: &Session, values: &[StoredMeterValue]) -> Vec<SignedMeterData> {
    let mut out: Vec<SignedMeterData> = values
        .iter()
        .filter(|m| m.value.is_signed())
        .filter(|m| m.transaction_id.is_none_or(|t| t == session.transaction_id))
        .filter(|m| m.connector_id == session.connector_id)
        .map(|m| SignedMeterData {
            timestamp: m.timestamp,
            context: m.value.context.clone(),
            measurand: m.value.measurand().to_owned(),
            data: m.value.value.clone(),
        })
        .collect();
    out.sort_by(|a, b| {
        a.timestamp
            .cmp(&b.timestamp)
            .then_with(|| a.data.cmp(&b.data))
    });
    out.dedup();
    out
}

fn charger_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ChargerId, D::Error> {
    let raw = String::deserialize(d)?;
    ChargerId::parse(&raw).map_err(serde::de::Error::custom)
}

mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>().map_err(serde::de::Error::custom)
    }
}

/// Fixtures shared by this crate's tests and by renderers' tests (feature
/// `test-fixtures`, for dev-dependencies only).
#[cfg(any(test, feature = "test-fixtures"))]
#[allow(clippy::unwrap_used)]
pub mod fixtures {
    use super::*;
    use crate::charging::auth::AuthorizationStatus;
    use crate::kernel::ids::IdToken;
    use crate::kernel::money::Currency;
    use crate::pricing::{ComponentRef, FlatFee, PriceAmount, PricedLine, PricedSlice, VatGroup};
    use chrono::TimeZone;

    /// An ended session: 10:00–11:30 UTC on 2026-03-02, meter 1 000 → 24 567 Wh.
    pub fn ended_session() -> Session {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let end = start + chrono::Duration::minutes(90);
        Session {
            id: SessionId::new_v7(),
            transaction_id: TransactionId::new(42).unwrap(),
            charger_id: ChargerId::parse("CP-0001").unwrap(),
            connector_id: ConnectorId::new(2).unwrap(),
            id_tag: IdToken::parse("PAYWEB").unwrap(),
            start_authorization: AuthorizationStatus::Accepted,
            state: SessionState::Ended,
            reservation_id: None,
            started_at: start,
            meter_start_wh: 1_000,
            stopped_at: Some(end),
            meter_stop_wh: Some(24_567),
            stop_reason: None,
            stop_id_tag: None,
            last_meter_at: Some(end),
            last_meter_wh: Some(24_567),
            peak_power_w: Some(22_000),
            tariff: None,
            created_at: start,
            updated_at: end,
        }
    }

    fn amount(excl: i64, incl: i64, c: Currency) -> PriceAmount {
        PriceAmount {
            excl_vat: Money::from_minor(excl, c),
            incl_vat: Money::from_minor(incl, c),
        }
    }

    /// A breakdown of that session: 23.567 kWh at 0.39 EUR, 1.5 h at
    /// 1.20 EUR/h, a 0.50 EUR session fee, 19 % VAT on each.
    pub fn breakdown(session: &Session) -> PriceBreakdown {
        let c = Currency::parse("EUR").unwrap();
        let vat = Some(Decimal::new(19, 0));
        let kwh = Decimal::new(23_567, 3);
        let secs = Decimal::new(5_400, 0);
        let by = Some(ComponentRef {
            element: 0,
            component: 0,
        });
        let end = session.stopped_at.unwrap_or(session.started_at);
        // 23.567 × 0.39 = 9.19113 → 9.19; VAT 1.7461 → 1.75.
        // 1.5 × 1.20 = 1.80; VAT 0.342 → 0.34. Fee 0.50; VAT 0.095 → 0.10.
        let groups = vec![
            VatGroup {
                dimension: TariffDimensionType::Energy,
                vat,
                volume: kwh,
                exact_excl_vat: Decimal::new(919_113, 5),
                cost: amount(919, 1094, c),
            },
            VatGroup {
                dimension: TariffDimensionType::Time,
                vat,
                volume: secs,
                exact_excl_vat: Decimal::new(180, 2),
                cost: amount(180, 214, c),
            },
            VatGroup {
                dimension: TariffDimensionType::Flat,
                vat,
                volume: Decimal::ONE,
                exact_excl_vat: Decimal::new(50, 2),
                cost: amount(50, 60, c),
            },
        ];
        PriceBreakdown {
            currency: c,
            slices: vec![PricedSlice {
                period: 0,
                start: session.started_at,
                end,
                energy_before_kwh: Decimal::ZERO,
                lines: vec![
                    PricedLine {
                        dimension: TariffDimensionType::Energy,
                        priced_by: by,
                        volume: kwh,
                        free_volume: Decimal::ZERO,
                        free_reason: None,
                        unit_price: Decimal::new(39, 2),
                        vat,
                        amount_excl_vat: Decimal::new(919_113, 5),
                    },
                    PricedLine {
                        dimension: TariffDimensionType::Time,
                        priced_by: by,
                        volume: secs,
                        free_volume: Decimal::ZERO,
                        free_reason: None,
                        unit_price: Decimal::new(120, 2),
                        vat,
                        amount_excl_vat: Decimal::new(180, 2),
                    },
                ],
            }],
            flat_fee: Some(FlatFee {
                priced_by: ComponentRef {
                    element: 0,
                    component: 2,
                },
                price: Decimal::new(50, 2),
                vat,
            }),
            step_roundings: Vec::new(),
            groups,
            total_energy_cost: amount(919, 1094, c),
            total_time_cost: amount(180, 214, c),
            total_parking_cost: amount(0, 0, c),
            total_fixed_cost: amount(50, 60, c),
            subtotal: amount(1149, 1368, c),
            price_cap: None,
            total_cost: amount(1149, 1368, c),
            total_energy_kwh: kwh,
            session_duration_s: secs,
            total_charging_s: secs,
            total_idle_s: Decimal::ZERO,
        }
    }

    /// A receipt of [`ended_session`] with every optional part filled in.
    pub fn receipt(language: Language) -> Receipt {
        let session = ended_session();
        let price = breakdown(&session);
        let operator = OperatorInfo {
            name: "Joule Charging GmbH".into(),
            address: vec!["Hauptstraße 1".into(), "10115 Berlin".into()],
            vat_id: Some("DE123456789".into()),
            contact: Some("support@joule.example".into()),
            complaint_notice: None,
        };
        let site = SiteInfo {
            name: Some("Parkhaus Süd".into()),
            address: vec!["Bahnhofstraße 5, 10115 Berlin".into()],
        };
        let signed = StoredMeterValue {
            timestamp: session.stopped_at.unwrap_or(session.started_at),
            connector_id: session.connector_id,
            transaction_id: Some(session.transaction_id),
            value: crate::charging::meter::SampledValue {
                value: r#"OCMF|{"FV":"1.0","GI":"ABL","RD":[{"TM":"2026-03-02T11:30:00,000+0000 S","TX":"E","RV":24.567,"RI":"1-b:1.8.0","RU":"kWh"}]}|{"SD":"3045022100ABCDEF"}"#.into(),
                context: Some("Transaction.End".into()),
                format: Some("SignedData".into()),
                measurand: None,
                phase: None,
                location: None,
                unit: None,
            },
            received_at: session.stopped_at.unwrap_or(session.started_at),
        };
        let card = CardSummary::new("visa", "4242", Some(12), Some(2030));
        let payment = card.map_or(PaymentMethod::Account, PaymentMethod::Card);
        let ctx = ReceiptContext {
            number: ReceiptNumber::for_session(&session.id),
            operator: &operator,
            site: Some(&site),
            evse_id: Some("DE*JOU*E0001*2".into()),
            time_zone: chrono_tz::Europe::Berlin,
            payment,
            language,
            meter_values: std::slice::from_ref(&signed),
            issued_at: session.stopped_at.unwrap_or(session.started_at),
        };
        Receipt::new(&session, &price, ctx).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::pricing::PriceCap;

    fn ctx<'a>(operator: &'a OperatorInfo, values: &'a [StoredMeterValue]) -> ReceiptContext<'a> {
        ReceiptContext {
            number: ReceiptNumber::parse("R-1").unwrap(),
            operator,
            site: None,
            evse_id: None,
            time_zone: Tz::UTC,
            payment: PaymentMethod::Rfid,
            language: Language::En,
            meter_values: values,
            issued_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn receipt_carries_every_required_figure() {
        let r = receipt(Language::De);
        assert_eq!(r.energy_kwh.to_string(), "23.567");
        assert_eq!(r.total_excl_vat.minor(), 1149);
        assert_eq!(r.total_incl_vat.minor(), 1368);
        assert_eq!(r.total_vat.minor(), 219);
        assert_eq!(r.lines.len(), 3);
        assert_eq!(r.lines[0].dimension, Dimension::Energy);
        assert_eq!(r.lines[1].volume, Decimal::new(5400, 0));
        assert_eq!(
            r.unit_prices
                .iter()
                .map(|p| (p.dimension, p.excl_vat.to_string()))
                .collect::<Vec<_>>(),
            vec![
                (Dimension::Energy, "0.39".to_owned()),
                (Dimension::ChargingTime, "1.2".to_owned()),
                (Dimension::SessionFee, "0.5".to_owned()),
            ]
        );
        assert_eq!(r.unit_prices[0].incl_vat(), Decimal::new(4641, 4));
        assert_eq!(
            r.vat,
            vec![VatLine {
                rate_percent: Some(Decimal::new(19, 0)),
                base: r.total_excl_vat,
                vat: r.total_vat,
            }]
        );
        assert_eq!(r.signed_meter_data.len(), 1);
        assert!(r.signed_meter_data[0].data.starts_with("OCMF|"));
        assert_eq!(r.time_zone, chrono_tz::Europe::Berlin);
        assert!(matches!(&r.payment, PaymentMethod::Card(c) if c.last4 == "4242"));
    }

    #[test]
    fn a_running_session_has_no_receipt() {
        let mut s = ended_session();
        let price = breakdown(&s);
        s.state = SessionState::Active;
        s.stopped_at = None;
        let op = OperatorInfo::default();
        assert_eq!(
            Receipt::new(&s, &price, ctx(&op, &[])),
            Err(ReceiptError::SessionNotEnded(s.id))
        );
    }

    #[test]
    fn a_price_cap_is_carried_into_the_single_vat_rate() {
        let s = ended_session();
        let mut price = breakdown(&s);
        let c = price.currency;
        price.price_cap = Some(PriceCap {
            kind: PriceCapKind::MaxPrice,
            adjustment_excl_vat_minor: -149,
            adjustment_incl_vat_minor: -178,
        });
        price.total_cost.excl_vat = Money::from_minor(1000, c);
        price.total_cost.incl_vat = Money::from_minor(1190, c);
        let op = OperatorInfo::default();
        let r = Receipt::new(&s, &price, ctx(&op, &[])).unwrap();
        let adj = r.adjustment.unwrap();
        assert!(!adj.minimum);
        assert_eq!(adj.incl_vat.minor(), -178);
        assert_eq!(r.vat[0].base.minor(), 1000);
        assert_eq!(r.vat[0].vat.minor(), 190);
        assert_eq!(r.total_vat.minor(), 190);
    }

    #[test]
    fn signed_values_of_other_transactions_and_plain_values_are_left_out() {
        let s = ended_session();
        let price = breakdown(&s);
        let mk = |value: &str, format: Option<&str>, tx: i64| StoredMeterValue {
            timestamp: s.started_at,
            connector_id: s.connector_id,
            transaction_id: Some(TransactionId::new(tx).unwrap()),
            value: crate::charging::meter::SampledValue {
                value: value.into(),
                context: Some("Transaction.Begin".into()),
                format: format.map(Into::into),
                measurand: None,
                phase: None,
                location: None,
                unit: None,
            },
            received_at: s.started_at,
        };
        let values = vec![
            mk("OCMF|mine|sig", Some("SignedData"), 42),
            mk("OCMF|mine|sig", Some("SignedData"), 42),
            mk("OCMF|other|sig", Some("SignedData"), 7),
            mk("1000", None, 42),
        ];
        let op = OperatorInfo::default();
        let r = Receipt::new(&s, &price, ctx(&op, &values)).unwrap();
        assert_eq!(r.signed_meter_data.len(), 1);
        assert_eq!(r.signed_meter_data[0].data, "OCMF|mine|sig");
        assert_eq!(
            r.signed_meter_data[0].context.as_deref(),
            Some("Transaction.Begin")
        );
    }

    /// From the real pricing engine: a time-of-use energy price (0.30 before
    /// 11:00 UTC, 0.40 after), a session fee, 19 % VAT.
    #[test]
    fn receipt_of_an_engine_priced_time_of_use_session() {
        use crate::pricing::session_cost::session_timeline;
        use crate::pricing::{price_session, Tariff, TariffExtensions, ValidTariff};
        let tariff: Tariff = serde_json::from_value(serde_json::json!({
            "country_code": "DE", "party_id": "JOU", "id": "TOU",
            "currency": "EUR", "last_updated": "2026-01-01T00:00:00Z",
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19, "step_size": 1}],
                 "restrictions": {"end_time": "11:00"}},
                {"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 19, "step_size": 1},
                                      {"type": "FLAT", "price": 0.50, "vat": 19, "step_size": 1}]}
            ]
        }))
        .unwrap();
        let valid = ValidTariff::new(tariff, TariffExtensions::default()).unwrap();
        let s = ended_session();
        let mid = StoredMeterValue {
            timestamp: s.started_at + chrono::Duration::minutes(60),
            connector_id: s.connector_id,
            transaction_id: Some(s.transaction_id),
            value: crate::charging::meter::SampledValue {
                value: "16000".into(),
                context: Some("Sample.Periodic".into()),
                format: None,
                measurand: None,
                phase: None,
                location: None,
                unit: Some("Wh".into()),
            },
            received_at: s.started_at,
        };
        let timeline = session_timeline(
            &s,
            std::slice::from_ref(&mid),
            &[],
            chrono_tz::Tz::UTC,
            chrono::Utc::now(),
        );
        let price = price_session(&valid, &timeline).unwrap();
        let op = OperatorInfo::default();
        let r = Receipt::new(&s, &price, ctx(&op, std::slice::from_ref(&mid))).unwrap();

        let energy: Vec<String> = r
            .unit_prices
            .iter()
            .filter(|p| p.dimension == Dimension::Energy)
            .map(|p| p.excl_vat.to_string())
            .collect();
        assert_eq!(energy, vec!["0.3", "0.4"]);
        assert!(r
            .unit_prices
            .iter()
            .any(|p| p.dimension == Dimension::SessionFee));
        // 15 kWh × 0.30 + 8.567 kWh × 0.40 = 7.9268 → 7.93; + 0.50 fee.
        assert_eq!(r.energy_kwh, Decimal::new(23_567, 3));
        assert_eq!(r.total_excl_vat, price.total_cost.excl_vat);
        assert_eq!(r.total_excl_vat.minor(), 793 + 50);
        assert_eq!(r.total_incl_vat, price.total_cost.incl_vat);
        let vat_sum: i64 = r.vat.iter().map(|v| v.vat.minor()).sum();
        let base_sum: i64 = r.vat.iter().map(|v| v.base.minor()).sum();
        assert_eq!(vat_sum, r.total_vat.minor());
        assert_eq!(base_sum, r.total_excl_vat.minor());
        // A plain register value is not signed data.
        assert!(r.signed_meter_data.is_empty());
    }

    #[test]
    fn receipt_numbers_are_url_safe() {
        assert!(ReceiptNumber::parse("R-0001_a").is_ok());
        for bad in ["", "a b", "../x", "é", &"x".repeat(65)] {
            assert_eq!(ReceiptNumber::parse(bad), Err(ReceiptError::InvalidNumber));
        }
        let s = ended_session();
        let n = ReceiptNumber::for_session(&s.id);
        assert_eq!(ReceiptNumber::parse(n.as_str()), Ok(n));
    }

    #[test]
    fn languages_come_from_tags_with_english_fallback() {
        assert_eq!(Language::from_tag("fr-CA"), Language::Fr);
        assert_eq!(Language::from_tag("DE_at"), Language::De);
        assert_eq!(Language::from_tag("es;q=0.8"), Language::Es);
        assert_eq!(Language::from_tag("it"), Language::En);
        assert_eq!(Language::from_tag(""), Language::En);
    }

    #[test]
    fn receipts_round_trip_through_json() {
        let r = receipt(Language::Fr);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""time_zone":"Europe/Berlin""#));
        let back: Receipt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
