//! OCA California Pricing on OCPP 1.6 (STANDARDS.md §3): the support probe
//! after boot, `SetUserPrice` after an accepted Authorize and `FinalCost`
//! after the stop, over a real socket with the real SQLite store.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns, as in harness/

mod harness;

use harness::spawn;
use joule_domain::charging::charger::RegistrationStatus;
use joule_domain::ports::store::TariffStore;
use joule_domain::pricing::stored::NewTariff;
use serde_json::{json, Value};

async fn app_with_tariff() -> harness::App {
    let app = spawn(|s| s.receipt_base_url = "https://joule.example/receipts/".into()).await;
    app.csms.enable_price_display(app.sqlite.clone());
    app.add_charger("CP1", RegistrationStatus::Accepted, None)
        .await;
    let now = chrono::Utc::now();
    app.add_token("GOOD").await;
    let tariff = serde_json::from_value(json!({
        "country_code": "US", "party_id": "JOU", "id": "T1", "currency": "EUR",
        "elements": [{"price_components": [
            {"type": "ENERGY", "price": 0.30, "vat": 20, "step_size": 1}
        ]}],
        "last_updated": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    app.store()
        .create_tariff(
            NewTariff {
                tariff,
                extensions: Default::default(),
            },
            now,
        )
        .await
        .unwrap();
    app.store()
        .set_default_tariff(Some("T1"), now)
        .await
        .unwrap();
    app
}

/// Boots and answers the support probe with `answer` (a CALLRESULT or
/// CALLERROR frame built from the probe's id).
async fn boot_and_answer_probe(cp: &mut harness::Cp, answer: impl Fn(&Value) -> Value) {
    cp.boot().await;
    let probe = cp.recv().await;
    assert_eq!(probe[0], 2);
    assert_eq!(probe[2], "GetConfiguration");
    assert_eq!(
        probe[3],
        json!({"key": ["CustomDisplayCostAndPrice", "CustomIdleFeeAfterStop",
                       "CustomMultiLanguageMessages", "SupportedLanguages"]})
    );
    cp.send_text(&answer(&probe[1]).to_string()).await;
}

/// The next CALL from Joule, a ChangeConfiguration answered Accepted;
/// returns (key, value).
async fn config_change(cp: &mut harness::Cp) -> (String, String) {
    let call = cp.recv().await;
    assert_eq!(call[0], 2, "{call}");
    assert_eq!(call[2], "ChangeConfiguration");
    cp.send_text(&json!([3, call[1], {"status": "Accepted"}]).to_string())
        .await;
    (
        call[3]["key"].as_str().unwrap().to_owned(),
        call[3]["value"].as_str().unwrap().to_owned(),
    )
}

/// The next CALL from Joule, answered Accepted; returns (messageId, data).
async fn cost_message(cp: &mut harness::Cp) -> (String, Value) {
    let call = cp.recv().await;
    assert_eq!(call[0], 2, "{call}");
    assert_eq!(call[2], "DataTransfer");
    assert_eq!(call[3]["vendorId"], "org.openchargealliance.costmsg");
    cp.send_text(&json!([3, call[1], {"status": "Accepted"}]).to_string())
        .await;
    let data = serde_json::from_str(call[3]["data"].as_str().unwrap()).unwrap();
    (call[3]["messageId"].as_str().unwrap().to_owned(), data)
}

#[tokio::test]
async fn supporting_charger_gets_user_price_and_final_cost() {
    let app = app_with_tariff().await;
    let mut cp = app.connect("CP1").await;
    boot_and_answer_probe(&mut cp, |id| {
        json!([3, id, {"configurationKey": [
            {"key": "CustomDisplayCostAndPrice", "readonly": true, "value": "true"}
        ]}])
    })
    .await;
    let (key, value) = config_change(&mut cp).await;
    assert_eq!(key, "DefaultPrice");
    assert_eq!(
        serde_json::from_str::<Value>(&value).unwrap(),
        json!({"priceText": "0.36 EUR/kWh",
               "priceTextOffline": "Offline: 0.36 EUR/kWh. The cost shown may differ from the invoice.",
               "chargingPrice": {"kWhPrice": 0.36}})
    );
    assert_eq!(
        config_change(&mut cp).await,
        ("TimeOffset".to_owned(), "+00:00".to_owned())
    );
    cp.alive().await;

    let auth = cp.ok("Authorize", json!({"idTag": "GOOD"})).await;
    assert_eq!(auth["idTagInfo"]["status"], "Accepted");
    let (message, data) = cost_message(&mut cp).await;
    assert_eq!(message, "SetUserPrice");
    assert_eq!(
        data,
        json!({"idToken": "GOOD", "priceText": "0.36 EUR/kWh"})
    );

    // A refused token gets no price.
    let auth = cp.ok("Authorize", json!({"idTag": "NOPE"})).await;
    assert_eq!(auth["idTagInfo"]["status"], "Invalid");
    cp.alive().await;

    // Recent times: a session is priced up to now while it runs.
    let t0 = chrono::Utc::now() - chrono::Duration::hours(1);
    let t1 = t0 + chrono::Duration::minutes(30);
    let start = cp
        .ok(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "GOOD", "meterStart": 1000, "timestamp": t0}),
        )
        .await;
    let tx = start["transactionId"].as_i64().unwrap();
    let (message, data) = cost_message(&mut cp).await;
    assert_eq!(message, "RunningCost");
    assert_eq!(data["transactionId"], json!(tx));
    assert_eq!(data["meterValue"], json!(1000));
    assert_eq!(data["state"], "Charging");
    assert_eq!(data["chargingPrice"], json!({"kWhPrice": 0.36}));
    cp.ok(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 4000, "timestamp": t1}),
    )
    .await;
    let (message, data) = cost_message(&mut cp).await;
    assert_eq!(message, "FinalCost");
    assert_eq!(data["transactionId"], json!(tx));
    assert_eq!(data["cost"], json!(1.08));
    assert_eq!(
        data["priceText"],
        "Energy 3 kWh: 1.08 EUR; Total: 1.08 EUR incl. VAT"
    );
    // Not paid through Joule (an RFID driver): no receipt link.
    assert!(data.get("qrCodeText").is_none(), "{data}");

    // A repeated stop ends nothing: no second FinalCost.
    cp.ok(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 4000, "timestamp": "2026-03-01T11:00:00Z"}),
    )
    .await;
    cp.alive().await;
}

#[tokio::test]
async fn charger_without_support_gets_no_cost_messages() {
    let app = app_with_tariff().await;
    let mut cp = app.connect("CP1").await;
    boot_and_answer_probe(&mut cp, |id| {
        json!([4, id, "NotSupported", "GetConfiguration unsupported", {}])
    })
    .await;
    // `ok` checks the answer's id: a DataTransfer in between would fail it.
    cp.alive().await;
    let auth = cp.ok("Authorize", json!({"idTag": "GOOD"})).await;
    assert_eq!(auth["idTagInfo"]["status"], "Accepted");
    let start = cp
        .ok(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "GOOD", "meterStart": 0,
                   "timestamp": "2026-03-01T10:00:00Z"}),
        )
        .await;
    cp.ok(
        "StopTransaction",
        json!({"transactionId": start["transactionId"], "meterStop": 3000,
               "timestamp": "2026-03-01T11:00:00Z"}),
    )
    .await;
    cp.alive().await;
}
