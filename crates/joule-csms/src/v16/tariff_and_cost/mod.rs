//! Tariff and cost: the OCA "OCPP & California Pricing Requirements"
//! messages for OCPP 1.6 (STANDARDS.md §3), sent as `DataTransfer` with
//! vendorId `org.openchargealliance.costmsg` and the message as a JSON
//! string in `data`, plus the configuration keys of §3.1.
//!
//! What to show, and when, is the domain's
//! [`CostDisplay`](joule_domain::services::cost_display::CostDisplay); this module is
//! the connection extension that asks the charger whether it displays
//! prices and puts the domain's notices on the 1.6 wire ([`wire`]):
//!
//! - **Support**: after an Accepted BootNotification, on a reconnect of an
//!   Accepted charger, and when the tariff in force may have changed, the
//!   connection of a charger with a tariff in force asks
//!   `GetConfiguration` for [`PROBE_KEYS`]; chargers that do not declare
//!   `CustomDisplayCostAndPrice=true` get none of these messages.
//! - **Configuration**: `DefaultPrice`, `TimeOffset` (and the next DST
//!   transition), `CustomIdleFeeAfterStop`, and with multi-language support
//!   `Language` and `DefaultPriceText,<lang>`; only keys whose value changed
//!   since the last push are sent. A refused `CustomIdleFeeAfterStop` keeps
//!   idle time after the stop off the display.
//! - **`SetUserPrice`** after an Accepted Authorize, **`RunningCost`**
//!   during a session, **`FinalCost`** after the stop or the unplug.
//!
//! These calls go out through the connection's one-in-flight queue; their
//! answers and failures are only logged.

pub(crate) mod wire;

use std::sync::Arc;

use joule_domain::ports::command::CommandError;
use joule_domain::services::cost_display::{
    ChargerDisplay, CostDisplay, CostEvent, CostNotice, DisplaySupport,
};
use joule_ocpp::v16::{
    self, ChangeConfigurationRequest, ConfigurationStatus, DataTransferRequest,
    GetConfigurationRequest, GetConfigurationResponse, OcppRequest,
};
use serde_json::Value;

use super::handler::{Ctx, Handled};
use crate::connection::extension::{Answered, ConnectionExtension, Link, OwnCall};

/// The OCA cost-message vendor id.
pub(crate) const VENDOR_ID: &str = "org.openchargealliance.costmsg";
/// The configuration key a charger sets to `true` when it displays prices.
pub(crate) const SUPPORT_KEY: &str = "CustomDisplayCostAndPrice";
pub(crate) const IDLE_AFTER_STOP_KEY: &str = "CustomIdleFeeAfterStop";
const MULTI_LANGUAGE_KEY: &str = "CustomMultiLanguageMessages";
const SUPPORTED_LANGUAGES_KEY: &str = "SupportedLanguages";
/// What the support probe asks for.
pub(crate) const PROBE_KEYS: [&str; 4] = [
    SUPPORT_KEY,
    IDLE_AFTER_STOP_KEY,
    MULTI_LANGUAGE_KEY,
    SUPPORTED_LANGUAGES_KEY,
];

/// The `GetConfiguration.req` asking for support.
pub(crate) fn support_probe() -> GetConfigurationRequest {
    GetConfigurationRequest {
        key: Some(PROBE_KEYS.iter().map(|k| (*k).to_owned()).collect()),
    }
}

fn config_value<'a>(answer: &'a GetConfigurationResponse, key: &str) -> Option<&'a str> {
    answer
        .configuration_key
        .iter()
        .flatten()
        .find(|k| k.key == key)
        .map(|k| k.value.as_deref().unwrap_or(""))
}

fn is_true(value: Option<&str>) -> bool {
    // 1.6 booleans are often written in any case.
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The support a `GetConfiguration.conf` declares, or `None` when it does
/// not declare `CustomDisplayCostAndPrice=true`.
pub(crate) fn declared_support(answer: &GetConfigurationResponse) -> Option<DisplaySupport> {
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
    Some(DisplaySupport {
        idle_after_stop_setting: config_value(answer, IDLE_AFTER_STOP_KEY).is_some(),
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
    match data.map(serde_json::from_str::<wire::ConnectorUnplugged>) {
        Some(Ok(unplugged)) => reply(DataTransferStatus::Accepted).with_cost(
            ctx,
            CostEvent::Unplugged {
                transaction_id: unplugged.transaction_id,
                at: unplugged.timestamp,
            },
        ),
        _ => reply(DataTransferStatus::Rejected).with_note(Some(
            "ConnectorUnplugged without a valid data object".to_owned(),
        )),
    }
}

/// The typed answer to one of the extension's own `R` calls.
fn answer_to<R: OcppRequest>(
    result: Result<Value, CommandError>,
) -> Result<R::Response, CommandError> {
    v16::decode_response_to::<R>(result?).map_err(|v| CommandError::InvalidResponse(v.description))
}

/// Where the price display support probe stands on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    NotAsked,
    /// No tariff was in force when looked at: asked when that changes.
    NoTariff,
    Asked,
    /// Answered: the charger does not display prices (until it reboots).
    Declined,
    /// Answered: it does (`CostExtension::shown` is set).
    Supported,
}

/// A supporting charger's display and the configuration last sent to it,
/// so an unchanged tariff is not re-sent.
struct Shown {
    display: ChargerDisplay,
    last_config: Option<Vec<(String, String)>>,
}

/// One of the extension's own calls.
pub(crate) enum CostCall {
    /// `GetConfiguration` of [`PROBE_KEYS`]: the support probe.
    Support,
    /// An OCA cost message: answer only logged.
    Message,
    /// `ChangeConfiguration` of a price display key: answer logged, and a
    /// refusal of `CustomIdleFeeAfterStop` remembered.
    Config { key: String, value: String },
}

type Calls = Vec<OwnCall<CostCall>>;

/// The price display on one connection (small while the charger does not
/// display prices: most never do).
pub(crate) struct CostExtension {
    /// `None` when price display is not enabled.
    service: Option<Arc<CostDisplay>>,
    probe: Probe,
    shown: Option<Box<Shown>>,
}

impl CostExtension {
    pub(crate) fn new(service: Option<Arc<CostDisplay>>) -> Self {
        Self {
            service,
            probe: Probe::NotAsked,
            shown: None,
        }
    }

    /// Asks a charger with a tariff in force whether it displays prices (see
    /// [`CostDisplay::has_price`]); a charger whose tariff is set later is
    /// asked then.
    async fn probe(&mut self, link: &Link<'_>) -> Calls {
        let Some(service) = &self.service else {
            return Vec::new();
        };
        if !service.has_price(link.charger).await {
            self.probe = Probe::NoTariff;
            return Vec::new();
        }
        self.probe = Probe::Asked;
        vec![OwnCall::request(&support_probe(), CostCall::Support)]
    }

    /// Sets `DefaultPrice` and the related keys for the tariff in force
    /// now, unless they are what was last sent.
    async fn push_config(&mut self, link: &Link<'_>) -> Calls {
        let (Some(service), Some(shown)) = (&self.service, self.shown.as_mut()) else {
            return Vec::new();
        };
        let notices = service.configure(link.charger, &mut shown.display).await;
        shown.encode(notices)
    }
}

impl Shown {
    /// The 1.6 calls that put `notices` on the charger.
    fn encode(&mut self, notices: Vec<CostNotice>) -> Calls {
        let mut calls = Vec::new();
        for notice in notices {
            if let CostNotice::Config(settings) = &notice {
                let Some(keys) = wire::config_keys(settings) else {
                    continue;
                };
                // Only what changed since the last push goes out.
                let previous = self.last_config.replace(keys.clone()).unwrap_or_default();
                calls.extend(keys.into_iter().filter(|kv| !previous.contains(kv)).map(
                    |(key, value)| {
                        let request = ChangeConfigurationRequest {
                            key: key.clone(),
                            value: value.clone(),
                        };
                        OwnCall::request(&request, CostCall::Config { key, value })
                    },
                ));
            } else if let Some(request) = wire::cost_message(&notice) {
                calls.push(OwnCall::request(&request, CostCall::Message));
            }
        }
        calls
    }
}

impl ConnectionExtension for CostExtension {
    type Tag = CostCall;

    fn listening(&self) -> bool {
        self.shown.is_some()
    }

    fn next_wake(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.shown.as_ref().and_then(|s| s.display.next_wake())
    }

    async fn after_call(&mut self, link: &Link<'_>, answered: Answered) -> Calls {
        if self.service.is_none() {
            return Vec::new();
        }
        if answered.boot.is_some() {
            // A (re)boot may come with new firmware: ask again.
            self.shown = None;
            self.probe = Probe::NotAsked;
            if link.accepted {
                return self.probe(link).await;
            }
            return Vec::new();
        }
        if self.probe == Probe::NotAsked {
            // An Accepted charger reconnecting without a boot: its first
            // CALL (not a boot, which probes itself) sets up the price
            // display, once per connection.
            return self.probe(link).await;
        }
        let (Some(service), Some(shown), Some(event)) =
            (&self.service, self.shown.as_mut(), answered.cost)
        else {
            return Vec::new();
        };
        let notices = service
            .on_event(link.charger, &mut shown.display, event)
            .await;
        shown.encode(notices)
    }

    async fn on_tick(&mut self, link: &Link<'_>) -> Calls {
        let (Some(service), Some(shown)) = (&self.service, self.shown.as_mut()) else {
            return Vec::new();
        };
        let notices = service.tick(link.charger, &mut shown.display).await;
        shown.encode(notices)
    }

    async fn on_price_changed(&mut self, link: &Link<'_>) -> Calls {
        match self.probe {
            Probe::Supported => self.push_config(link).await,
            Probe::NotAsked | Probe::NoTariff if link.accepted => self.probe(link).await,
            Probe::NotAsked | Probe::NoTariff | Probe::Asked | Probe::Declined => Vec::new(),
        }
    }

    async fn on_own_reply(
        &mut self,
        link: &Link<'_>,
        tag: CostCall,
        result: Result<Value, CommandError>,
    ) -> Calls {
        match tag {
            CostCall::Support => {
                let result = answer_to::<GetConfigurationRequest>(result);
                let support = result.as_ref().ok().and_then(declared_support);
                match &result {
                    Ok(_) => tracing::info!(supported = support.is_some(), "price display support"),
                    Err(error) => tracing::info!(%error, "price display support unknown: off"),
                }
                match support {
                    Some(support) => {
                        self.probe = Probe::Supported;
                        self.shown = Some(Box::new(Shown {
                            display: ChargerDisplay::new(support),
                            last_config: None,
                        }));
                        return self.push_config(link).await;
                    }
                    None => {
                        self.probe = Probe::Declined;
                        self.shown = None;
                    }
                }
            }
            CostCall::Message => match answer_to::<DataTransferRequest>(result) {
                Ok(answer) => tracing::info!(status = ?answer.status, "cost message answered"),
                Err(error) => tracing::warn!(%error, "cost message failed"),
            },
            CostCall::Config { key, value } => {
                let set = match answer_to::<ChangeConfigurationRequest>(result) {
                    Ok(answer) if answer.status == ConfigurationStatus::Accepted => {
                        tracing::info!(%key, "price display key set");
                        true
                    }
                    Ok(answer) => {
                        tracing::warn!(%key, status = ?answer.status, "price display key refused");
                        false
                    }
                    Err(error) => {
                        tracing::warn!(%key, %error, "price display key not set");
                        false
                    }
                };
                if key == IDLE_AFTER_STOP_KEY {
                    if let Some(shown) = self.shown.as_mut() {
                        shown.display.idle_after_stop = set && value == "true";
                    }
                }
            }
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use joule_domain::kernel::language::Language;
    use joule_domain::pricing::stored::StoredTariff;
    use joule_domain::pricing::Tz;
    use joule_domain::services::cost_display::Audience;
    use serde_json::json;

    type ChargerSupport = DisplaySupport;

    /// The keys the domain's settings become on the 1.6 wire.
    fn configuration(
        tariff: &StoredTariff,
        support: &DisplaySupport,
        audience: Audience,
        now: DateTime<Utc>,
    ) -> Option<Vec<(String, String)>> {
        let settings =
            joule_domain::services::cost_display::configuration(tariff, support, audience, now)?;
        wire::config_keys(&settings)
    }

    /// The support a `GetConfiguration.conf` payload declares.
    fn declared(answer: &Value) -> Option<DisplaySupport> {
        let answer = v16::decode_response_to::<GetConfigurationRequest>(answer.clone()).unwrap();
        declared_support(&answer)
    }

    #[test]
    fn support_is_a_true_value_of_the_key() {
        let yes =
            json!({"configurationKey": [{"key": SUPPORT_KEY, "readonly": true, "value": "TRUE"}]});
        assert_eq!(declared(&yes), Some(ChargerSupport::default()));
        let no =
            json!({"configurationKey": [{"key": SUPPORT_KEY, "readonly": true, "value": "false"}]});
        assert_eq!(declared(&no), None);
        assert_eq!(declared(&json!({"unknownKey": [SUPPORT_KEY]})), None);
        assert_eq!(declared(&json!({})), None);
        let all = json!({"configurationKey": [
            {"key": SUPPORT_KEY, "readonly": true, "value": "true"},
            {"key": IDLE_AFTER_STOP_KEY, "readonly": false, "value": "false"},
            {"key": MULTI_LANGUAGE_KEY, "readonly": true, "value": "true"},
            {"key": SUPPORTED_LANGUAGES_KEY, "readonly": true, "value": "en, es"}
        ]});
        assert_eq!(
            declared(&all),
            Some(ChargerSupport {
                idle_after_stop_setting: true,
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
            idle_after_stop_setting: true,
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
