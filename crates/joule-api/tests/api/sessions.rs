//! `/api/v1/sessions`: sessions are made by chargers, so the tests record
//! them through the store ports, as the CSMS adapter does.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use joule_domain::charging::auth::AuthorizationStatus;
use joule_domain::charging::charger::{ConnectorStatus, StatusReport};
use joule_domain::charging::meter::{MeterReport, MeterSample, SampledValue};
use joule_domain::charging::session::{StartSession, StopSession};
use joule_domain::{ChargerId, ConnectorId, IdToken, TransactionId};
use serde_json::json;

use crate::test_app::{t0, TestApp, ONLINE};

fn sampled(value: &str, measurand: Option<&str>, unit: &str) -> SampledValue {
    SampledValue {
        value: value.to_owned(),
        context: Some("Sample.Periodic".to_owned()),
        format: None,
        measurand: measurand.map(str::to_owned),
        phase: None,
        location: None,
        unit: Some(unit.to_owned()),
    }
}

async fn start(
    app: &TestApp,
    charger: &str,
    tag: &str,
    at: DateTime<Utc>,
) -> (String, TransactionId) {
    let charger_id = ChargerId::parse(charger).unwrap();
    let connector_id = ConnectorId::new(1).unwrap();
    let id_tag = IdToken::parse(tag).unwrap();
    // The tariff as the charging service chooses it.
    let tariff_id = app
        .store
        .tariff_candidates(&charger_id, Some(&id_tag))
        .await
        .unwrap()
        .and_then(|c| {
            c.resolve(&charger_id, connector_id, Some(&id_tag), at)
                .map(|r| r.tariff.tariff.id.clone())
        });
    let outcome = app
        .store
        .start_session(StartSession {
            charger_id,
            connector_id,
            id_tag,
            meter_start_wh: 1000,
            started_at: at,
            reservation_id: None,
            authorization: AuthorizationStatus::Accepted,
            received_at: at,
            tariff_id,
        })
        .await
        .unwrap();
    (
        outcome.session.id.to_string(),
        outcome.session.transaction_id,
    )
}

#[tokio::test]
async fn list_filters_sessions() {
    let app = TestApp::new().await;
    app.charger("CP-OFF").await;
    app.charger(ONLINE).await;
    let (s1, _) = start(&app, "CP-OFF", "TAG1", t0()).await;
    let (s2, tx2) = start(&app, ONLINE, "TAG2", t0() + Duration::hours(1)).await;
    let (s3, _) = start(&app, ONLINE, "TAG1", t0() + Duration::hours(2)).await;
    app.store
        .stop_session(StopSession {
            charger_id: ChargerId::parse(ONLINE).unwrap(),
            transaction_id: tx2,
            id_tag: None,
            meter_stop_wh: 4000,
            stopped_at: t0() + Duration::minutes(90),
            reason: Some("Local".into()),
            transaction_data: vec![],
            received_at: t0() + Duration::minutes(90),
        })
        .await
        .unwrap();

    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = app.get("/api/v1/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ids(&all),
        [s3.clone(), s2.clone(), s1.clone()],
        "newest first"
    );

    let (_, body) = app
        .get(&format!("/api/v1/sessions?charger_id={ONLINE}"))
        .await;
    assert_eq!(ids(&body), [s3.clone(), s2.clone()]);
    let (_, body) = app.get("/api/v1/sessions?id_tag=tag1").await;
    assert_eq!(ids(&body), [s3.clone(), s1.clone()]);
    let (_, body) = app.get("/api/v1/sessions?state=ended").await;
    assert_eq!(ids(&body), std::slice::from_ref(&s2));
    assert_eq!(body["items"][0]["energy_wh"], 3000);
    assert_eq!(body["items"][0]["state"], "ended");
    assert_eq!(body["items"][0]["stop_reason"], "Local");
    let (_, body) = app.get("/api/v1/sessions?state=active").await;
    assert_eq!(ids(&body), [s3.clone(), s1.clone()]);
    let (_, body) = app
        .get("/api/v1/sessions?from=2026-03-01T08:30:00Z&to=2026-03-01T09:30:00Z")
        .await;
    assert_eq!(ids(&body), std::slice::from_ref(&s2));
    let (_, body) = app.get("/api/v1/sessions?limit=1&offset=1").await;
    assert_eq!(ids(&body), [s2]);
    assert_eq!(body["next_offset"], 2);

    // An active session whose charger is gone is shown as such.
    let (_, body) = app.get("/api/v1/sessions?charger_id=CP-OFF").await;
    assert_eq!(body["items"][0]["state"], "active");
    assert_eq!(body["items"][0]["charger_connected"], false);

    let (status, body) = app
        .get("/api/v1/sessions?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "to");
}

#[tokio::test]
async fn detail_has_energy_peak_power_and_meter_values() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    let (id, tx) = start(&app, ONLINE, "TAG1", t0()).await;
    app.store
        .record_meter_values(
            &ChargerId::parse(ONLINE).unwrap(),
            MeterReport {
                connector_id: ConnectorId::new(1).unwrap(),
                transaction_id: Some(tx),
                samples: vec![MeterSample {
                    timestamp: t0() + Duration::minutes(10),
                    values: vec![
                        sampled("2.5", None, "kWh"),
                        sampled("7200", Some("Power.Active.Import"), "W"),
                    ],
                }],
                received_at: t0() + Duration::minutes(10),
            },
        )
        .await
        .unwrap();

    let (status, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id);
    assert_eq!(body["transaction_id"], tx.get());
    assert_eq!(body["state"], "active");
    assert_eq!(body["charger_connected"], true);
    assert_eq!(body["start_authorization"], "Accepted");
    assert_eq!(body["energy_wh"], 1500);
    assert_eq!(body["peak_power_w"], 7200);
    assert_eq!(
        body["meter_values"],
        json!([
            {
                "timestamp": "2026-03-01T08:10:00Z", "connector_id": 1, "transaction_id": tx.get(),
                "value": "2.5", "context": "Sample.Periodic", "format": null, "measurand": null,
                "phase": null, "location": null, "unit": "kWh", "received_at": "2026-03-01T08:10:00Z"
            },
            {
                "timestamp": "2026-03-01T08:10:00Z", "connector_id": 1, "transaction_id": tx.get(),
                "value": "7200", "context": "Sample.Periodic", "format": null,
                "measurand": "Power.Active.Import", "phase": null, "location": null, "unit": "W",
                "received_at": "2026-03-01T08:10:00Z"
            }
        ])
    );
}

#[tokio::test]
async fn unknown_and_malformed_session_ids() {
    let app = TestApp::new().await;
    let (status, body) = app
        .get("/api/v1/sessions/0190f5a0-0000-7000-8000-000000000000")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "session_not_found");
    let (status, body) = app.get("/api/v1/sessions/42").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"],
        json!([{"field": "id", "message": "session id is not a valid UUID"}])
    );
}

fn energy_tariff(price: f64) -> serde_json::Value {
    json!({"tariff": {
        "country_code": "DE", "party_id": "JOU", "id": "T1", "currency": "EUR",
        "elements": [{"price_components": [
            {"type": "ENERGY", "price": price, "vat": 20, "step_size": 1}
        ]}],
        "last_updated": "2026-01-01T00:00:00Z"
    }})
}

/// NEVI frozen price: the session is priced with the tariff version in force
/// at its start, running and final, even after the tariff is replaced.
#[tokio::test]
async fn detail_has_running_and_final_cost_at_the_frozen_price() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    let (status, body) = app.post("/api/v1/tariffs", energy_tariff(0.30)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .put("/api/v1/tariffs/default", json!({"tariff_id": "T1"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Without a tariff a session has no cost.
    app.store.set_default_tariff(None, t0()).await.unwrap();
    let (free, _) = start(&app, ONLINE, "FREE", t0() - Duration::hours(2)).await;
    let (_, body) = app.get(&format!("/api/v1/sessions/{free}")).await;
    assert_eq!(
        (&body["tariff"], &body["cost"]),
        (&json!(null), &json!(null))
    );
    app.store
        .set_default_tariff(Some("T1"), t0())
        .await
        .unwrap();

    let (id, tx) = start(&app, ONLINE, "TAG1", t0()).await;
    app.store
        .record_meter_values(
            &ChargerId::parse(ONLINE).unwrap(),
            MeterReport {
                connector_id: ConnectorId::new(1).unwrap(),
                transaction_id: Some(tx),
                samples: vec![MeterSample {
                    timestamp: t0() + Duration::minutes(30),
                    values: vec![sampled("6", None, "kWh")],
                }],
                received_at: t0() + Duration::minutes(30),
            },
        )
        .await
        .unwrap();

    // Running: 5 kWh so far × 0.30 = 1.50, + 20 % VAT = 1.80.
    app.clock.set(t0() + Duration::minutes(45));
    let (status, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tariff"], json!({"id": "T1", "version": 1}));
    let cost = &body["cost"];
    assert_eq!(cost["is_final"], false);
    assert_eq!(cost["currency"], "EUR");
    assert_eq!(cost["total_excl_vat"], json!(1.5));
    assert_eq!(cost["total_incl_vat"], json!(1.8));
    assert_eq!(cost["total_incl_vat_minor"], 180);
    assert_eq!(cost["total_time"], json!(0.75));

    app.store
        .stop_session(StopSession {
            charger_id: ChargerId::parse(ONLINE).unwrap(),
            transaction_id: tx,
            id_tag: None,
            meter_stop_wh: 11_000,
            stopped_at: t0() + Duration::minutes(60),
            reason: None,
            transaction_data: vec![],
            received_at: t0() + Duration::minutes(60),
        })
        .await
        .unwrap();

    // Final: 10 kWh × 0.30 = 3.00, VAT 0.60, 3.60.
    let expected = json!({
        "currency": "EUR",
        "is_final": true,
        "priced_until": (t0() + Duration::minutes(60)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "total_excl_vat": 3.0,
        "total_incl_vat": 3.6,
        "total_excl_vat_minor": 300,
        "total_incl_vat_minor": 360,
        "total_energy_cost": {"excl_vat": 3.0, "incl_vat": 3.6, "excl_vat_minor": 300, "incl_vat_minor": 360},
        "total_time_cost": {"excl_vat": 0.0, "incl_vat": 0.0, "excl_vat_minor": 0, "incl_vat_minor": 0},
        "total_parking_cost": {"excl_vat": 0.0, "incl_vat": 0.0, "excl_vat_minor": 0, "incl_vat_minor": 0},
        "total_fixed_cost": {"excl_vat": 0.0, "incl_vat": 0.0, "excl_vat_minor": 0, "incl_vat_minor": 0},
        "total_energy": 10.0,
        "total_time": 1.0,
        "total_parking_time": 0.0,
        "breakdown": [{
            "dimension": "ENERGY", "vat": 20.0, "volume": 10.0,
            "cost": {"excl_vat": 3.0, "incl_vat": 3.6, "excl_vat_minor": 300, "incl_vat_minor": 360}
        }],
        "price_cap": null,
        "idle_periods": []
    });
    app.clock.set(t0() + Duration::hours(5));
    let (_, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(body["cost"], expected, "{body}");

    // Replacing the tariff changes nothing for this session…
    let (status, body) = app.put("/api/v1/tariffs/T1", energy_tariff(0.50)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    let (_, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(body["tariff"], json!({"id": "T1", "version": 1}));
    assert_eq!(body["cost"], expected);
    // …while a session started now gets the new version.
    let (next, _) = start(&app, ONLINE, "TAG2", t0() + Duration::hours(5)).await;
    let (_, body) = app.get(&format!("/api/v1/sessions/{next}")).await;
    assert_eq!(body["tariff"], json!({"id": "T1", "version": 2}));
    assert_eq!(body["cost"]["total_incl_vat_minor"], 0);
}

#[tokio::test]
async fn a_session_gets_its_chargers_own_tariff() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    app.post("/api/v1/tariffs", energy_tariff(0.30)).await;
    let (status, b) = app
        .put(
            &format!("/api/v1/chargers/{ONLINE}/tariff"),
            json!({"tariff_id": "T1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    // No default tariff; the charger's own applies.
    let (id, _) = start(&app, ONLINE, "TAG1", t0()).await;
    let (_, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(body["tariff"], json!({"id": "T1", "version": 1}));
}

fn report(at: DateTime<Utc>, status: ConnectorStatus) -> StatusReport {
    StatusReport {
        connector_id: ConnectorId::new(1).unwrap(),
        status,
        error_code: None,
        info: None,
        vendor_id: None,
        vendor_error_code: None,
        reported_at: Some(at),
        received_at: at,
    }
}

/// Idle time from the connector's status reports (docs/pricing.md,
/// "Idle"): 0.30 EUR/kWh and 6.00 EUR/h idle after 10 free minutes. Full at
/// :50 (Finishing), stopped at :60, unplugged at :90: 40 minutes idle, 30
/// billed = 3.00 EUR. While the cable is still in after the stop, the cost
/// runs to now and is not final.
#[tokio::test]
async fn idle_time_from_status_reports_is_billed_after_the_grace_period() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    let tariff = json!({"tariff": {
        "country_code": "DE", "party_id": "JOU", "id": "IDLE", "currency": "EUR",
        "elements": [{"price_components": [
            {"type": "ENERGY", "price": 0.30, "step_size": 1},
            {"type": "PARKING_TIME", "price": 6.00, "step_size": 60}
        ]}],
        "last_updated": "2026-01-01T00:00:00Z"
    }, "extensions": {"idle_grace_period_s": 600}});
    let (status, body) = app.post("/api/v1/tariffs", tariff).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.store
        .set_default_tariff(Some("IDLE"), t0())
        .await
        .unwrap();
    let charger = ChargerId::parse(ONLINE).unwrap();
    let (id, tx) = start(&app, ONLINE, "TAG1", t0()).await;
    for (min, s) in [
        (0, ConnectorStatus::Charging),
        (50, ConnectorStatus::Finishing),
    ] {
        app.store
            .record_status(&charger, report(t0() + Duration::minutes(min), s))
            .await
            .unwrap();
    }
    app.store
        .stop_session(StopSession {
            charger_id: charger.clone(),
            transaction_id: tx,
            id_tag: None,
            meter_stop_wh: 11_000,
            stopped_at: t0() + Duration::minutes(60),
            reason: None,
            transaction_data: vec![],
            received_at: t0() + Duration::minutes(60),
        })
        .await
        .unwrap();

    // Still plugged in at :75: idle so far 25 min, 15 billed = 1.50.
    app.clock.set(t0() + Duration::minutes(75));
    let (_, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    let cost = &body["cost"];
    assert_eq!(cost["is_final"], false, "{body}");
    assert_eq!(cost["total_parking_cost"]["incl_vat_minor"], 150);
    assert_eq!(
        cost["priced_until"],
        (t0() + Duration::minutes(75)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );

    app.store
        .record_status(
            &charger,
            report(t0() + Duration::minutes(90), ConnectorStatus::Available),
        )
        .await
        .unwrap();
    app.clock.set(t0() + Duration::hours(5));
    let (_, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    let cost = &body["cost"];
    assert_eq!(cost["is_final"], true, "{body}");
    assert_eq!(cost["total_energy_cost"]["incl_vat_minor"], 300);
    assert_eq!(cost["total_parking_cost"]["incl_vat_minor"], 300);
    assert_eq!(cost["total_incl_vat_minor"], 600);
    assert_eq!(cost["total_parking_time"], json!(0.6667));
    let at =
        |m: i64| (t0() + Duration::minutes(m)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    assert_eq!(cost["priced_until"], at(90));
    assert_eq!(
        cost["idle_periods"],
        json!([
            {"start": at(50), "end": at(60), "after_stop": false, "billed_s": 0.0, "free_s": 600.0},
            {"start": at(60), "end": at(90), "after_stop": true, "billed_s": 1800.0, "free_s": 0.0}
        ])
    );

    // Another connector's reports and a tariff without an idle price
    // change nothing: the idle-free session is priced to its stop.
    let (status, _) = app
        .put(
            "/api/v1/tariffs/IDLE",
            json!({"tariff": {
                "country_code": "DE", "party_id": "JOU", "id": "IDLE", "currency": "EUR",
                "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}],
                "last_updated": "2026-01-01T00:00:00Z"
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (next, tx2) = start(&app, ONLINE, "TAG2", t0() + Duration::hours(6)).await;
    app.store
        .stop_session(StopSession {
            charger_id: charger.clone(),
            transaction_id: tx2,
            id_tag: None,
            meter_stop_wh: 2000,
            stopped_at: t0() + Duration::hours(7),
            reason: None,
            transaction_data: vec![],
            received_at: t0() + Duration::hours(7),
        })
        .await
        .unwrap();
    app.store
        .record_status(
            &charger,
            report(t0() + Duration::hours(7), ConnectorStatus::Finishing),
        )
        .await
        .unwrap();
    app.clock.set(t0() + Duration::hours(8));
    let (_, body) = app.get(&format!("/api/v1/sessions/{next}")).await;
    assert_eq!(body["cost"]["is_final"], true, "{body}");
    assert_eq!(body["cost"]["priced_until"], at(7 * 60));
    assert_eq!(body["cost"]["idle_periods"], json!([]));
}

/// Time-of-day restrictions are read in the charger's site's time zone:
/// 08:00–09:00 UTC is 09:00–10:00 in Madrid (CET), the cheap hour.
#[tokio::test]
async fn a_session_is_priced_in_its_sites_time_zone() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    let tariff = json!({"tariff": {
        "country_code": "ES", "party_id": "JOU", "id": "TOD", "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.10, "step_size": 1}],
             "restrictions": {"start_time": "09:00", "end_time": "10:00"}},
            {"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}
        ],
        "last_updated": "2026-01-01T00:00:00Z"
    }});
    let (status, body) = app.post("/api/v1/tariffs", tariff).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.put("/api/v1/tariffs/default", json!({"tariff_id": "TOD"}))
        .await;
    let (status, body) = app
        .post(
            "/api/v1/sites",
            json!({"id": "madrid", "name": "Madrid", "time_zone": "Europe/Madrid"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.put(
        &format!("/api/v1/chargers/{ONLINE}/site"),
        json!({"site_id": "madrid"}),
    )
    .await;

    let (id, tx) = start(&app, ONLINE, "TAG1", t0()).await;
    app.store
        .stop_session(StopSession {
            charger_id: ChargerId::parse(ONLINE).unwrap(),
            transaction_id: tx,
            id_tag: None,
            meter_stop_wh: 11_000,
            stopped_at: t0() + Duration::minutes(60),
            reason: None,
            transaction_data: vec![],
            received_at: t0() + Duration::minutes(60),
        })
        .await
        .unwrap();
    let (_, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(body["tariff"], json!({"id": "TOD", "version": 1}));
    // 10 kWh at the Madrid 09:00–10:00 rate.
    assert_eq!(body["cost"]["total_excl_vat"], json!(1.0), "{body}");

    // Without a site the same hour is 08:00–09:00 UTC: the day rate.
    app.put(
        &format!("/api/v1/chargers/{ONLINE}/site"),
        json!({"site_id": null}),
    )
    .await;
    let (_, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(body["cost"]["total_excl_vat"], json!(3.0), "{body}");
}
