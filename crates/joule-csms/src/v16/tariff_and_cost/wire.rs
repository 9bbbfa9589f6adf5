//! The OCA cost messages as they go on the wire (STANDARDS.md §3.2): field
//! names in camelCase, money and unit prices as JSON numbers, never floats;
//! and the domain's [`CostNotice`]s and [`DisplaySetting`]s encoded as them.

use chrono::{DateTime, Utc};
use joule_domain::kernel::money::{decimal_number, Decimal};
use joule_domain::pricing::display::UnitPrices;
use joule_domain::services::cost_display::{self, CostNotice, DisplaySetting};
use joule_ocpp::v16::DataTransferRequest;
use serde::{Deserialize, Serialize};

use super::{IDLE_AFTER_STOP_KEY, VENDOR_ID};

/// A `DataTransfer.req` payload of the cost vendor.
fn data_transfer(message_id: &str, data: &impl Serialize) -> Option<DataTransferRequest> {
    let data = serde_json::to_string(data).ok()?;
    Some(DataTransferRequest {
        vendor_id: VENDOR_ID.to_owned(),
        message_id: Some(message_id.to_owned()),
        data: Some(data),
    })
}

/// The `DataTransfer.req` of a cost message; `None` for the configuration
/// (see [`config_keys`]).
pub(crate) fn cost_message(notice: &CostNotice) -> Option<DataTransferRequest> {
    match notice {
        CostNotice::UserPrice { id_tag, price_text } => data_transfer(
            "SetUserPrice",
            &SetUserPrice {
                id_token: id_tag.as_str(),
                price_text: price_text.clone(),
            },
        ),
        CostNotice::RunningCost(cost) => data_transfer(
            "RunningCost",
            &RunningCost {
                transaction_id: cost.transaction_id,
                timestamp: cost.at,
                meter_value: cost.meter_wh,
                cost: cost.cost,
                state: match cost.state {
                    cost_display::CostState::Charging => CostState::Charging,
                    cost_display::CostState::Idle => CostState::Idle,
                },
                charging_price: ChargingPrice::of(&cost.prices),
                idle_price: IdlePrice::of(&cost.prices),
                next_period: cost.next_period.as_ref().map(|(at, prices)| NextPeriod {
                    at_time: *at,
                    charging_price: ChargingPrice::of(prices),
                    idle_price: IdlePrice::of(prices),
                }),
                trigger_meter_value: cost.reading_wanted_at.map(|at_time| Triggers { at_time }),
                price_text: cost.price_text.clone(),
                qr_code_text: cost.receipt_url.clone(),
            },
        ),
        CostNotice::FinalCost(cost) => data_transfer(
            "FinalCost",
            &FinalCost {
                transaction_id: cost.transaction_id,
                cost: cost.cost,
                price_text: cost.price_text.clone(),
                qr_code_text: cost.receipt_url.clone(),
            },
        ),
        CostNotice::Config(_) => None,
    }
}

/// The configuration keys and values of `settings`, in their order; `None`
/// when a value cannot be written.
pub(crate) fn config_keys(settings: &[DisplaySetting]) -> Option<Vec<(String, String)>> {
    settings
        .iter()
        .map(|setting| {
            Some(match setting {
                DisplaySetting::DefaultPrice {
                    price_text,
                    price_text_offline,
                    prices,
                } => (
                    "DefaultPrice".to_owned(),
                    serde_json::to_string(&DefaultPrice {
                        price_text: price_text.clone(),
                        price_text_offline: price_text_offline.clone(),
                        charging_price: ChargingPrice::of(prices),
                    })
                    .ok()?,
                ),
                DisplaySetting::TimeOffset(offset) => ("TimeOffset".to_owned(), offset.clone()),
                DisplaySetting::NextTimeOffsetAt(at) => (
                    "NextTimeOffsetTransitionDateTime".to_owned(),
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
                DisplaySetting::NextTimeOffset(offset) => {
                    ("TimeOffsetNextTransition".to_owned(), offset.clone())
                }
                DisplaySetting::IdleFeeAfterStop(billed) => {
                    (IDLE_AFTER_STOP_KEY.to_owned(), billed.to_string())
                }
                DisplaySetting::Language(language) => ("Language".to_owned(), language.clone()),
                DisplaySetting::DefaultPriceText {
                    language,
                    price_text,
                    price_text_offline,
                } => (
                    format!("DefaultPriceText,{language}"),
                    serde_json::to_string(&DefaultPriceText {
                        price_text: price_text.clone(),
                        price_text_offline: price_text_offline.clone(),
                    })
                    .ok()?,
                ),
            })
        })
        .collect()
}

/// `chargingPrice`: unit prices including VAT; absent ones are not priced.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChargingPrice {
    #[serde(
        rename = "kWhPrice",
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub kwh_price: Option<Decimal>,
    #[serde(
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub hour_price: Option<Decimal>,
    #[serde(
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub flat_fee: Option<Decimal>,
}

/// `idlePrice`: grace minutes counted from the change to idle, then per hour.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdlePrice {
    pub grace_minutes: u32,
    #[serde(with = "decimal_number")]
    pub hour_price: Decimal,
}

impl ChargingPrice {
    pub(crate) fn of(prices: &UnitPrices) -> Self {
        Self {
            kwh_price: prices.kwh,
            hour_price: prices.hour,
            flat_fee: prices.flat,
        }
    }
}

impl IdlePrice {
    /// `None` when nothing prices idle time then.
    pub(crate) fn of(prices: &UnitPrices) -> Option<Self> {
        prices.idle_hour.map(|hour_price| Self {
            grace_minutes: prices.idle_grace_minutes,
            hour_price,
        })
    }
}

/// `DefaultPrice` configuration value: what a charger shows before the
/// driver identifies and uses offline.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DefaultPrice {
    pub price_text: String,
    pub price_text_offline: String,
    pub charging_price: ChargingPrice,
}

/// `DefaultPriceText,<lang>` configuration value.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DefaultPriceText {
    pub price_text: String,
    pub price_text_offline: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetUserPrice<'a> {
    pub id_token: &'a str,
    pub price_text: String,
}

/// `RunningCost.state`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) enum CostState {
    Charging,
    Idle,
}

/// `nextPeriod`: the prices from `atTime` on.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NextPeriod {
    pub at_time: DateTime<Utc>,
    pub charging_price: ChargingPrice,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_price: Option<IdlePrice>,
}

/// `triggerMeterValue`: asks the charger for an extra MeterValues.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Triggers {
    pub at_time: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunningCost {
    pub transaction_id: i64,
    pub timestamp: DateTime<Utc>,
    pub meter_value: i64,
    #[serde(with = "decimal_number")]
    pub cost: Decimal,
    pub state: CostState,
    pub charging_price: ChargingPrice,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_price: Option<IdlePrice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_period: Option<NextPeriod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_meter_value: Option<Triggers>,
    pub price_text: String,
    /// The receipt link, for a session paid through Joule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code_text: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FinalCost {
    pub transaction_id: i64,
    #[serde(with = "decimal_number")]
    pub cost: Decimal,
    pub price_text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code_text: Option<String>,
}

/// `ConnectorUnplugged` from the charger.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConnectorUnplugged {
    pub transaction_id: i64,
    pub timestamp: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn final_cost_data_is_camel_case_with_a_decimal_number() {
        let data = FinalCost {
            transaction_id: 7,
            cost: Decimal::new(108, 2),
            price_text: "Total: 1.08 EUR incl. VAT".into(),
            qr_code_text: Some("http://x/receipts/s".into()),
        };
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"transactionId":7,"cost":1.08,"priceText":"Total: 1.08 EUR incl. VAT","qrCodeText":"http://x/receipts/s"}"#
        );
    }

    #[test]
    fn running_cost_has_the_whitepaper_shape() {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 21, 30, 0).unwrap();
        let boundary = Utc.with_ymd_and_hms(2026, 3, 2, 22, 0, 0).unwrap();
        let data = RunningCost {
            transaction_id: 3,
            timestamp: at,
            meter_value: 4000,
            cost: Decimal::new(132, 2),
            state: CostState::Charging,
            charging_price: ChargingPrice {
                kwh_price: Some(Decimal::new(44, 2)),
                hour_price: None,
                flat_fee: Some(Decimal::ONE),
            },
            idle_price: Some(IdlePrice {
                grace_minutes: 10,
                hour_price: Decimal::new(6, 0),
            }),
            next_period: Some(NextPeriod {
                at_time: boundary,
                charging_price: ChargingPrice {
                    kwh_price: Some(Decimal::new(2, 1)),
                    hour_price: None,
                    flat_fee: None,
                },
                idle_price: None,
            }),
            trigger_meter_value: Some(Triggers { at_time: boundary }),
            price_text: "Cost so far: 1.32 USD incl. VAT".into(),
            qr_code_text: Some("http://x/receipts/s".into()),
        };
        assert_eq!(
            serde_json::to_value(&data).unwrap(),
            serde_json::json!({
                "transactionId": 3, "timestamp": "2026-03-02T21:30:00Z", "meterValue": 4000,
                "cost": 1.32, "state": "Charging",
                "chargingPrice": {"kWhPrice": 0.44, "flatFee": 1.0},
                "idlePrice": {"graceMinutes": 10, "hourPrice": 6.0},
                "nextPeriod": {"atTime": "2026-03-02T22:00:00Z", "chargingPrice": {"kWhPrice": 0.2}},
                "triggerMeterValue": {"atTime": "2026-03-02T22:00:00Z"},
                "priceText": "Cost so far: 1.32 USD incl. VAT",
                "qrCodeText": "http://x/receipts/s"
            })
        );
    }

    #[test]
    fn default_price_has_offline_text_and_unit_prices() {
        let data = DefaultPrice {
            price_text: "0.36 EUR/kWh".into(),
            price_text_offline: "Offline: 0.36 EUR/kWh.".into(),
            charging_price: ChargingPrice {
                kwh_price: Some(Decimal::new(36, 2)),
                hour_price: None,
                flat_fee: None,
            },
        };
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"priceText":"0.36 EUR/kWh","priceTextOffline":"Offline: 0.36 EUR/kWh.","chargingPrice":{"kWhPrice":0.36}}"#
        );
    }
}
