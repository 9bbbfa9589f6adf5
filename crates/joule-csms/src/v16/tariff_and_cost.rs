//! Tariff and cost: the OCA "OCPP & California Pricing Requirements"
//! messages for OCPP 1.6 (STANDARDS.md §3), sent as `DataTransfer` with
//! vendorId `org.openchargealliance.costmsg` and the message as a JSON
//! string in `data`, plus the configuration keys of §3.1.
//!
//! - **Support**: after an Accepted BootNotification, on a reconnect of an
//!   Accepted charger, and when the tariff in force may have changed, the
//!   connection of a charger with a tariff in force asks
//!   `GetConfiguration` for [`PROBE_KEYS`]; chargers that do not declare
//!   `CustomDisplayCostAndPrice=true` get none of these messages.
//! - **Configuration** ([`configuration`]): `DefaultPrice`, `TimeOffset`
//!   (and the next DST transition), `CustomIdleFeeAfterStop`, and with
//!   multi-language support `Language` and `DefaultPriceText,<lang>`.
//! - **`SetUserPrice`** after an Accepted Authorize.
//! - **`RunningCost`** during a session (see [`running`]): at its start,
//!   after each of its MeterValues, every interval and at price boundaries.
//! - **`FinalCost`** after the stop, or after the unplug when idle time
//!   after the stop is billed.
//!
//! Cost is always computed here, never on the charger. These calls go out
//! through the connection's one-in-flight queue; their answers and failures
//! are only logged. Texts are in the driver's language (their id token's),
//! else the charger's site's, else English; time-of-day prices and
//! `TimeOffset` are read in the site's time zone (see [`Audience`]).

pub(crate) mod messages;
pub(crate) mod running;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use joule_domain::charger::StatusReport;
use joule_domain::language::{choose_language, Language};
use joule_domain::price_display::{
    offline_price_text, price_until_unplugged, unit_prices_at, utc_offset_at, SessionPoint,
};
use joule_domain::pricing::{Tz, ValidTariff};
use joule_domain::session::Session;
use joule_domain::session_cost::{bills_idle_after_stop, price_session_cost, status_range};
use joule_domain::store::{
    ChargerStore, EventLog, PaymentStore, SessionStore, TariffAssignmentStore, TariffStore,
    TokenStore,
};
use joule_domain::tariffs::{cost_summary, tariff_in_force, InForce, StoredTariff};
use joule_domain::{ChargerId, ConnectorId, IdTag};
use serde::Serialize;
use serde_json::{json, Value};

use self::messages::{ChargingPrice, DefaultPrice, DefaultPriceText, FinalCost, SetUserPrice};
use super::{Ctx, Handled};

/// The OCA cost-message vendor id.
pub(crate) const VENDOR_ID: &str = "org.openchargealliance.costmsg";
/// The configuration key a charger sets to `true` when it displays prices.
pub(crate) const SUPPORT_KEY: &str = "CustomDisplayCostAndPrice";
const IDLE_AFTER_STOP_KEY: &str = "CustomIdleFeeAfterStop";
const MULTI_LANGUAGE_KEY: &str = "CustomMultiLanguageMessages";
const SUPPORTED_LANGUAGES_KEY: &str = "SupportedLanguages";
/// What the support probe asks for.
pub(crate) const PROBE_KEYS: [&str; 4] = [
    SUPPORT_KEY,
    IDLE_AFTER_STOP_KEY,
    MULTI_LANGUAGE_KEY,
    SUPPORTED_LANGUAGES_KEY,
];
/// Where a charger's price texts are read and for whom: the time zone of
/// its site (time-of-day prices, `TimeOffset`) and the language chosen for
/// the driver ([`choose_language`]: their token's, else the site's, else
/// English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Audience {
    pub time_zone: Tz,
    pub language: Language,
}

impl Audience {
    /// A charger without a site, an unknown driver.
    pub(crate) const DEFAULT: Audience = Audience {
        time_zone: Tz::UTC,
        language: Language::En,
    };
}

/// What the price display needs beyond the charging service.
pub(crate) struct PriceDisplay {
    pub tariffs: Arc<dyn TariffStore>,
    /// The precedence rule's candidates, the site's time zone and language.
    pub assignments: Arc<dyn TariffAssignmentStore>,
    /// The driver's language.
    pub tokens: Arc<dyn TokenStore>,
    /// The connector's status history, for idle time.
    pub chargers: Arc<dyn ChargerStore>,
    /// The payment of a session, for its receipt link.
    pub payments: Arc<dyn PaymentStore>,
    pub sessions: Arc<dyn SessionStore>,
    /// Followed from the newest event at start-up to notice tariff changes.
    pub events: Arc<dyn EventLog>,
    /// `qrCodeText` is this + `/{receipt token}` of the session's payment.
    pub receipt_base_url: String,
    /// Period of `RunningCost` during a session.
    pub running_cost_interval: Duration,
}

impl PriceDisplay {
    /// The receipt page of the session: `{receipt_base_url}/{token}` of the
    /// payment that pays for it. `None` for a session not paid through Joule
    /// (an RFID or roaming driver is billed elsewhere; the whitepaper makes
    /// `qrCodeText` optional), or when the store fails (logged).
    pub(crate) async fn receipt_url(&self, session: &Session) -> Option<String> {
        match self.payments.payment_for_session(session.id).await {
            Ok(payment) => payment.map(|p| {
                format!(
                    "{}/{}",
                    self.receipt_base_url.trim_end_matches('/'),
                    p.receipt_token.as_str()
                )
            }),
            Err(error) => {
                tracing::warn!(session_id = %session.id, %error, "payment lookup failed: no receipt link");
                None
            }
        }
    }
}

/// Something a handled CALL tells the price display, acted on once its
/// CALLRESULT is written.
#[derive(Debug)]
pub(crate) enum CostMessage {
    SetUserPrice {
        id_tag: IdTag,
    },
    SessionStarted {
        session: Box<Session>,
    },
    SessionStopped {
        session: Box<Session>,
    },
    /// New meter values of a transaction: its RunningCost is due now.
    MeterValues {
        transaction_id: i64,
    },
    /// StatusNotification Available on a connector.
    ConnectorAvailable {
        connector_id: i32,
        at: DateTime<Utc>,
    },
    /// The OCA `ConnectorUnplugged` DataTransfer.
    Unplugged {
        transaction_id: i64,
        at: DateTime<Utc>,
    },
}

/// What a charger said about the customization in its probe answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChargerSupport {
    /// It knows `CustomIdleFeeAfterStop` (so Joule may switch it on).
    pub idle_after_stop_key: bool,
    /// `CustomMultiLanguageMessages=true`, with its `SupportedLanguages`.
    pub languages: Option<Vec<String>>,
}

/// The `GetConfiguration` payload asking for support.
pub(crate) fn support_probe() -> Value {
    json!({ "key": PROBE_KEYS })
}

fn config_value<'a>(answer: &'a Value, key: &str) -> Option<&'a str> {
    answer
        .get("configurationKey")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|k| k.get("key").and_then(Value::as_str) == Some(key))
        .map(|k| k.get("value").and_then(Value::as_str).unwrap_or(""))
}

fn is_true(value: Option<&str>) -> bool {
    // 1.6 booleans are often written in any case.
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The support a `GetConfiguration.conf` declares, or `None` when it does
/// not declare `CustomDisplayCostAndPrice=true`.
pub(crate) fn declared_support(answer: &Value) -> Option<ChargerSupport> {
    if !is_true(config_value(answer, SUPPORT_KEY)) {
        return None;
    }
    let languages = is_true(config_value(answer, MULTI_LANGUAGE_KEY)).then(|| {
        config_value(answer, SUPPORTED_LANGUAGES_KEY)
            .unwrap_or("")
            .split(',')
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    });
    Some(ChargerSupport {
        idle_after_stop_key: config_value(answer, IDLE_AFTER_STOP_KEY).is_some(),
        languages,
    })
}

/// A DataTransfer of the cost vendor from the charger: `ConnectorUnplugged`
/// is accepted (and may end an idle-after-stop extension); other message
/// ids are unknown.
pub(crate) fn from_charger(ctx: &Ctx<'_>, message_id: Option<&str>, data: Option<&str>) -> Handled {
    use joule_ocpp::v16::{encode, DataTransferResponse, DataTransferStatus};
    let reply = |status| Handled::reply(encode(&DataTransferResponse { status, data: None }));
    if message_id != Some("ConnectorUnplugged") {
        return reply(DataTransferStatus::UnknownMessageId);
    }
    match data.map(serde_json::from_str::<messages::ConnectorUnplugged>) {
        Some(Ok(unplugged)) => reply(DataTransferStatus::Accepted).with_cost(
            ctx,
            CostMessage::Unplugged {
                transaction_id: unplugged.transaction_id,
                at: unplugged.timestamp,
            },
        ),
        _ => reply(DataTransferStatus::Rejected).with_note(Some(
            "ConnectorUnplugged without a valid data object".to_owned(),
        )),
    }
}

/// A `DataTransfer.req` payload of the cost vendor.
pub(crate) fn data_transfer(message_id: &str, data: &impl Serialize) -> Option<Value> {
    let data = serde_json::to_string(data).ok()?;
    Some(json!({ "vendorId": VENDOR_ID, "messageId": message_id, "data": data }))
}

/// The tariff in force at `charger` now for the driver with `id_tag` (or
/// an anonymous one), with its audience; `None` (logged) without one.
/// Authorize names no connector, so connector assignments do not apply.
pub(crate) async fn in_force(
    display: &PriceDisplay,
    charger: &ChargerId,
    id_tag: Option<&IdTag>,
    now: DateTime<Utc>,
) -> Option<(StoredTariff, Audience)> {
    let found = tariff_in_force(
        display.assignments.as_ref(),
        charger,
        ConnectorId::WHOLE_CHARGER,
        id_tag,
        now,
    )
    .await;
    match found {
        Ok(Some(InForce {
            tariff: Some(tariff),
            time_zone,
            language,
            ..
        })) => {
            let language = driver_language(display, id_tag, language.as_deref()).await;
            Some((
                tariff,
                Audience {
                    time_zone,
                    language,
                },
            ))
        }
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "tariff lookup failed");
            None
        }
    }
}

/// The driver's language (their token's), else the site's, else English.
async fn driver_language(
    display: &PriceDisplay,
    id_tag: Option<&IdTag>,
    site: Option<&str>,
) -> Language {
    let token = match id_tag {
        Some(tag) => display.tokens.get_token(tag).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "token lookup failed: site language");
            None
        }),
        None => None,
    };
    let driver = token.and_then(|t| t.language).map(|l| l.to_string());
    choose_language(driver.as_deref(), site)
}

/// The audience of a session's texts: its charger's site now, its driver.
pub(crate) async fn session_audience(display: &PriceDisplay, session: &Session) -> Audience {
    match display
        .assignments
        .tariff_candidates(&session.charger_id, None)
        .await
    {
        Ok(Some(candidates)) => Audience {
            time_zone: candidates.time_zone(),
            language: driver_language(
                display,
                Some(&session.id_tag),
                candidates.site.as_ref().map(|s| s.language.as_str()),
            )
            .await,
        },
        Ok(None) => Audience {
            language: driver_language(display, Some(&session.id_tag), None).await,
            ..Audience::DEFAULT
        },
        Err(error) => {
            tracing::warn!(session_id = %session.id, %error, "site lookup failed: UTC, English");
            Audience::DEFAULT
        }
    }
}

/// The session's connector status reports that pricing it needs (idle
/// time); none (all charging) when the store fails, logged.
pub(crate) async fn session_statuses(
    display: &PriceDisplay,
    session: &Session,
    tariff: &StoredTariff,
    now: DateTime<Utc>,
) -> Vec<StatusReport> {
    let (from, to) = status_range(session, tariff, now);
    display
        .chargers
        .connector_status_range(&session.charger_id, session.connector_id, from, to)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(session_id = %session.id, %error, "status history failed: no idle time");
            Vec::new()
        })
}

/// `SetUserPrice` for an accepted driver, or `None` without a tariff.
pub(crate) async fn set_user_price(
    display: &PriceDisplay,
    charger: &ChargerId,
    now: DateTime<Utc>,
    id_tag: &IdTag,
) -> Option<Value> {
    let Some((tariff, audience)) = in_force(display, charger, Some(id_tag), now).await else {
        tracing::debug!("no tariff in force: no SetUserPrice");
        return None;
    };
    let data = SetUserPrice {
        id_token: id_tag.as_str(),
        price_text: tariff.price_text(Some(audience.language.code()), None).text,
    };
    data_transfer("SetUserPrice", &data)
}

/// The configuration keys to set on a supporting charger for the tariff in
/// force now (an anonymous driver's price), in the order they are sent;
/// `None` when no tariff is in force or it does not validate.
pub(crate) fn configuration(
    tariff: &StoredTariff,
    support: &ChargerSupport,
    audience: Audience,
    now: DateTime<Utc>,
) -> Option<Vec<(String, String)>> {
    let valid = match ValidTariff::new(tariff.tariff.clone(), tariff.extensions) {
        Ok(valid) => valid,
        Err(error) => {
            tracing::warn!(tariff_id = %tariff.tariff.id, %error, "tariff does not validate: no DefaultPrice");
            return None;
        }
    };
    let prices = unit_prices_at(&valid, audience.time_zone, now, SessionPoint::fresh(now));
    let language = audience.language;
    let default_price = DefaultPrice {
        price_text: tariff.price_text(Some(language.code()), None).text,
        price_text_offline: offline_price_text(tariff, language),
        charging_price: ChargingPrice::of(&prices),
    };
    let mut keys = vec![(
        "DefaultPrice".to_owned(),
        serde_json::to_string(&default_price).ok()?,
    )];
    let offset = utc_offset_at(audience.time_zone, now);
    keys.push(("TimeOffset".to_owned(), offset.offset));
    if let Some((at, after)) = offset.next_transition {
        keys.push((
            "NextTimeOffsetTransitionDateTime".to_owned(),
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ));
        keys.push(("TimeOffsetNextTransition".to_owned(), after));
    }
    if support.idle_after_stop_key {
        keys.push((
            IDLE_AFTER_STOP_KEY.to_owned(),
            bills_idle_after_stop(tariff).to_string(),
        ));
    }
    if let Some(languages) = &support.languages {
        let default = language.code();
        if languages.iter().any(|l| l.eq_ignore_ascii_case(default)) {
            keys.push(("Language".to_owned(), default.to_owned()));
        }
        for lang in languages {
            let has_text = tariff
                .tariff
                .tariff_alt_text
                .iter()
                .any(|t| t.language.eq_ignore_ascii_case(lang));
            if !has_text {
                continue;
            }
            let text = DefaultPriceText {
                price_text: tariff.price_text(Some(lang), None).text,
                price_text_offline: offline_price_text(tariff, Language::from_tag(lang)),
            };
            keys.push((
                format!("DefaultPriceText,{lang}"),
                serde_json::to_string(&text).ok()?,
            ));
        }
    }
    Some(keys)
}

/// `FinalCost` of an ended session priced with its frozen tariff version,
/// up to `unplugged_at` when idle time after the stop is billed; `None`
/// (logged) for a session without tariff or that cannot be priced.
pub(crate) async fn final_cost(
    display: &PriceDisplay,
    session: &Session,
    tariff: Option<&StoredTariff>,
    unplugged_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Value> {
    let loaded = match tariff {
        Some(tariff) => Some(tariff.clone()),
        None => frozen_tariff(display, session).await,
    };
    let tariff = loaded?;
    let meter_values = match display.sessions.session_meter_values(session.id).await {
        Ok(values) => values,
        Err(error) => {
            tracing::warn!(session_id = %session.id, %error, "store failed: no FinalCost");
            return None;
        }
    };
    let audience = session_audience(display, session).await;
    let statuses = session_statuses(display, session, &tariff, now).await;
    let tz = audience.time_zone;
    let priced = match unplugged_at {
        Some(at) => price_until_unplugged(session, &meter_values, &statuses, &tariff, tz, at),
        None => price_session_cost(session, &meter_values, &statuses, &tariff, tz, now)
            .map(|p| p.breakdown),
    };
    match priced {
        Ok(breakdown) => data_transfer(
            "FinalCost",
            &FinalCost {
                transaction_id: session.transaction_id.get(),
                cost: breakdown.total_cost.incl_vat.to_decimal(),
                price_text: cost_summary(&breakdown, audience.language),
                qr_code_text: display.receipt_url(session).await,
            },
        ),
        Err(error) => {
            tracing::warn!(session_id = %session.id, %error, "the session cannot be priced: no FinalCost");
            None
        }
    }
}

/// The tariff version frozen on the session, or `None` (logged).
pub(crate) async fn frozen_tariff(
    display: &PriceDisplay,
    session: &Session,
) -> Option<StoredTariff> {
    let frozen = session.tariff.as_ref()?;
    match display
        .tariffs
        .get_tariff_version(&frozen.tariff_id, frozen.version)
        .await
    {
        Ok(Some(tariff)) => Some(tariff),
        Ok(None) => {
            tracing::warn!(session_id = %session.id, "the session's tariff version is missing");
            None
        }
        Err(error) => {
            tracing::warn!(session_id = %session.id, %error, "store failed reading the tariff version");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn support_is_a_true_value_of_the_key() {
        let yes =
            json!({"configurationKey": [{"key": SUPPORT_KEY, "readonly": true, "value": "TRUE"}]});
        assert_eq!(declared_support(&yes), Some(ChargerSupport::default()));
        let no =
            json!({"configurationKey": [{"key": SUPPORT_KEY, "readonly": true, "value": "false"}]});
        assert_eq!(declared_support(&no), None);
        assert_eq!(
            declared_support(&json!({"unknownKey": [SUPPORT_KEY]})),
            None
        );
        assert_eq!(declared_support(&json!({})), None);
        let all = json!({"configurationKey": [
            {"key": SUPPORT_KEY, "readonly": true, "value": "true"},
            {"key": IDLE_AFTER_STOP_KEY, "readonly": false, "value": "false"},
            {"key": MULTI_LANGUAGE_KEY, "readonly": true, "value": "true"},
            {"key": SUPPORTED_LANGUAGES_KEY, "readonly": true, "value": "en, es"}
        ]});
        assert_eq!(
            declared_support(&all),
            Some(ChargerSupport {
                idle_after_stop_key: true,
                languages: Some(vec!["en".to_owned(), "es".to_owned()]),
            })
        );
    }

    fn tariff(json: Value) -> StoredTariff {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        StoredTariff {
            tariff: serde_json::from_value(json).unwrap(),
            extensions: Default::default(),
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn configuration_has_default_price_offset_and_languages() {
        let t = tariff(json!({
            "country_code": "US", "party_id": "JOU", "id": "T", "currency": "USD",
            "tariff_alt_text": [{"language": "en", "text": "0.36 USD/kWh, idle 6.00 USD/h"},
                                {"language": "es", "text": "0,36 USD/kWh, inactivo 6,00 USD/h"}],
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20, "step_size": 1}]},
                {"price_components": [{"type": "PARKING_TIME", "price": 6, "step_size": 60}]}
            ],
            "last_updated": "2026-01-01T00:00:00Z"
        }));
        let support = ChargerSupport {
            idle_after_stop_key: true,
            languages: Some(vec!["en".into(), "es".into(), "de".into()]),
        };
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap();
        let keys = configuration(&t, &support, Audience::DEFAULT, now).unwrap();
        let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(keys[0].0, "DefaultPrice");
        let default: Value = serde_json::from_str(keys[0].1).unwrap();
        assert_eq!(
            default,
            json!({"priceText": "0.36 USD/kWh, idle 6.00 USD/h",
                   "priceTextOffline": "Offline: 0.36 USD/kWh, idle 6.00 USD/h. The cost shown may differ from the invoice.",
                   "chargingPrice": {"kWhPrice": 0.36}})
        );
        assert_eq!(
            &keys[1..4],
            &[
                ("TimeOffset", "+00:00"),
                ("CustomIdleFeeAfterStop", "true"),
                ("Language", "en"),
            ]
        );
        // A text per supported language the tariff has ("de" it has not).
        assert_eq!(keys[4].0, "DefaultPriceText,en");
        assert_eq!(keys[5].0, "DefaultPriceText,es");
        assert_eq!(
            serde_json::from_str::<Value>(keys[5].1).unwrap()["priceText"],
            "0,36 USD/kWh, inactivo 6,00 USD/h"
        );
        assert_eq!(keys.len(), 6);
        let plain = configuration(&t, &ChargerSupport::default(), Audience::DEFAULT, now).unwrap();
        assert_eq!(plain.len(), 2);
    }

    #[test]
    fn configuration_is_in_the_sites_zone_and_language() {
        let t = tariff(json!({
            "country_code": "ES", "party_id": "JOU", "id": "T", "currency": "EUR",
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}]}
            ],
            "last_updated": "2026-01-01T00:00:00Z"
        }));
        let madrid = Audience {
            time_zone: Tz::Europe__Madrid,
            language: Language::Es,
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let keys = configuration(&t, &ChargerSupport::default(), madrid, now).unwrap();
        let default: Value = serde_json::from_str(&keys[0].1).unwrap();
        assert_eq!(default["priceText"], "0,363 EUR/kWh");
        assert!(default["priceTextOffline"]
            .as_str()
            .unwrap()
            .starts_with("Sin conexión: 0,363 EUR/kWh"));
        assert_eq!(keys[1], ("TimeOffset".to_owned(), "+01:00".to_owned()));
        // CET ends with the next summer time, on 2027-03-28 at 01:00 UTC.
        assert_eq!(keys[2].0, "NextTimeOffsetTransitionDateTime");
        assert_eq!(keys[2].1, "2027-03-28T01:00:00Z");
    }
}
