//! Tariff and cost: the OCA "OCPP & California Pricing Requirements"
//! messages for OCPP 1.6 (STANDARDS.md §3), sent as `DataTransfer` with
//! vendorId `org.openchargealliance.costmsg` and the message as a JSON
//! string in `data`.
//!
//! - **Support**: after an Accepted BootNotification of a charger with a
//!   tariff in force, the connection asks
//!   `GetConfiguration(CustomDisplayCostAndPrice)` and remembers whether the
//!   answer is `true`; chargers that do not declare support get none of
//!   these messages.
//! - **`SetUserPrice`** after an Accepted Authorize: the price text of the
//!   tariff in force at the charger (see docs/pricing.md "Precedence").
//! - **`FinalCost`** after the StopTransaction that ended a session: the
//!   session priced with its frozen tariff version, an itemized text and the
//!   receipt URL as `qrCodeText`.
//!
//! Texts are English for now (driver or site language later). Cost is always
//! computed here, never on the charger. These calls go out after the
//! triggering CALLRESULT, through the connection's one-in-flight queue;
//! their answers and failures are only logged.

use std::sync::Arc;

use joule_domain::language::Language;
use joule_domain::money::decimal_number;
use joule_domain::money::Decimal;
use joule_domain::session::Session;
use joule_domain::session_cost::price_session_cost;
use joule_domain::store::{SessionStore, TariffAssignmentStore, TariffStore};
use joule_domain::tariffs::{charger_time_zone, cost_summary, tariff_in_force, InForce};
use joule_domain::{ChargerId, ConnectorId, IdTag};
use serde::Serialize;
use serde_json::{json, Value};

/// The OCA cost-message vendor id.
pub(crate) const VENDOR_ID: &str = "org.openchargealliance.costmsg";
/// The configuration key a charger sets to `true` when it displays prices.
pub(crate) const SUPPORT_KEY: &str = "CustomDisplayCostAndPrice";
/// Language of the texts until drivers and sites carry one.
const LANGUAGE: &str = "en";

/// What the price display needs beyond the charging service.
pub(crate) struct PriceDisplay {
    pub tariffs: Arc<dyn TariffStore>,
    /// Which tariff applies where (and the site's time zone).
    pub assignments: Arc<dyn TariffAssignmentStore>,
    pub sessions: Arc<dyn SessionStore>,
    /// `qrCodeText` of `FinalCost` is this + `/{session_id}`.
    pub receipt_base_url: String,
}

/// A cost message a handled CALL asks for, built and sent once its
/// CALLRESULT is written.
#[derive(Debug)]
pub(crate) enum CostMessage {
    SetUserPrice { id_tag: IdTag },
    FinalCost { session: Box<Session> },
}

/// The `GetConfiguration` payload asking for support.
pub(crate) fn support_probe() -> Value {
    json!({ "key": [SUPPORT_KEY] })
}

/// Whether a `GetConfiguration.conf` declares `CustomDisplayCostAndPrice`
/// as `true` (case-insensitive, as 1.6 booleans are often written).
pub(crate) fn declares_support(answer: &Value) -> bool {
    answer
        .get("configurationKey")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|k| {
            k.get("key").and_then(Value::as_str) == Some(SUPPORT_KEY)
                && k.get("value")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SetUserPrice<'a> {
    id_token: &'a str,
    price_text: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FinalCost {
    transaction_id: i64,
    #[serde(with = "decimal_number")]
    cost: Decimal,
    price_text: String,
    qr_code_text: String,
}

/// The `DataTransfer.req` payload for `message`, or `None` (logged) when
/// there is nothing to say: no tariff in force, a session without tariff,
/// a tariff version that cannot price it.
pub(crate) async fn build(
    display: &PriceDisplay,
    charger: &ChargerId,
    now: chrono::DateTime<chrono::Utc>,
    message: CostMessage,
) -> Option<Value> {
    let (message_id, data) = match message {
        CostMessage::SetUserPrice { id_tag } => {
            // Authorize names no connector: connector-level assignments
            // cannot apply to this text; the token's and its groups' do.
            let in_force = tariff_in_force(
                display.assignments.as_ref(),
                charger,
                ConnectorId::WHOLE_CHARGER,
                Some(&id_tag),
                now,
            )
            .await;
            let tariff = match in_force {
                Ok(Some(InForce {
                    tariff: Some(tariff),
                    ..
                })) => tariff,
                Ok(_) => {
                    tracing::debug!("no tariff in force: no SetUserPrice");
                    return None;
                }
                Err(error) => {
                    tracing::warn!(%error, "tariff lookup failed: no SetUserPrice");
                    return None;
                }
            };
            let data = SetUserPrice {
                id_token: id_tag.as_str(),
                price_text: tariff.price_text(Some(LANGUAGE), None).text,
            };
            ("SetUserPrice", serde_json::to_string(&data).ok()?)
        }
        CostMessage::FinalCost { session } => {
            let data = final_cost(display, &session, now).await?;
            ("FinalCost", serde_json::to_string(&data).ok()?)
        }
    };
    Some(json!({ "vendorId": VENDOR_ID, "messageId": message_id, "data": data }))
}

async fn final_cost(
    display: &PriceDisplay,
    session: &Session,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<FinalCost> {
    let frozen = session.tariff.as_ref()?;
    let loaded = async {
        let tariff = display
            .tariffs
            .get_tariff_version(&frozen.tariff_id, frozen.version)
            .await?;
        let meter_values = display.sessions.session_meter_values(session.id).await?;
        let time_zone =
            charger_time_zone(display.assignments.as_ref(), &session.charger_id).await?;
        Ok::<_, joule_domain::error::StoreError>((tariff, meter_values, time_zone))
    }
    .await;
    let (tariff, meter_values, time_zone) = match loaded {
        Ok((Some(tariff), meter_values, time_zone)) => (tariff, meter_values, time_zone),
        Ok((None, _, _)) => {
            tracing::warn!(session_id = %session.id, "the session's tariff version is missing: no FinalCost");
            return None;
        }
        Err(error) => {
            tracing::warn!(session_id = %session.id, %error, "store failed: no FinalCost");
            return None;
        }
    };
    match price_session_cost(session, &meter_values, &[], &tariff, time_zone, now)
        .map(|p| p.breakdown)
    {
        Ok(breakdown) => Some(FinalCost {
            transaction_id: session.transaction_id.get(),
            cost: breakdown.total_cost.incl_vat.to_decimal(),
            price_text: cost_summary(&breakdown, Language::En),
            qr_code_text: format!(
                "{}/{}",
                display.receipt_base_url.trim_end_matches('/'),
                session.id
            ),
        }),
        Err(error) => {
            tracing::warn!(session_id = %session.id, %error, "the session cannot be priced: no FinalCost");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_is_a_true_value_of_the_key() {
        let yes =
            json!({"configurationKey": [{"key": SUPPORT_KEY, "readonly": true, "value": "TRUE"}]});
        assert!(declares_support(&yes));
        let no =
            json!({"configurationKey": [{"key": SUPPORT_KEY, "readonly": true, "value": "false"}]});
        assert!(!declares_support(&no));
        assert!(!declares_support(&json!({"unknownKey": [SUPPORT_KEY]})));
        assert!(!declares_support(&json!({})));
    }

    #[test]
    fn final_cost_data_is_camel_case_with_a_decimal_number() {
        let data = FinalCost {
            transaction_id: 7,
            cost: Decimal::new(108, 2),
            price_text: "Total: 1.08 EUR incl. VAT".into(),
            qr_code_text: "http://x/receipts/s".into(),
        };
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"transactionId":7,"cost":1.08,"priceText":"Total: 1.08 EUR incl. VAT","qrCodeText":"http://x/receipts/s"}"#
        );
    }
}
