//! `/api/v1/chargers`.

use axum::http::StatusCode;
use chrono::Duration;
use joule_domain::charging::charger::{BootInfo, ConnectorStatus, StatusReport};
use joule_domain::{ChargerId, ConnectorId};
use serde_json::json;

use crate::test_app::{problem_type, t0, verify_password, TestApp, ONLINE};

#[tokio::test]
async fn create_then_get_a_charger() {
    let app = TestApp::new().await;
    let (status, created) = app
        .post(
            "/api/v1/chargers",
            json!({
                "id": "CP-001",
                "password": "correct-horse-battery",
                "label": "  Lot A, bay 3 ",
                "location": {"latitude": 52.37, "longitude": 4.89, "address": "Dam 1, Amsterdam"}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({
            "id": "CP-001",
            "label": "Lot A, bay 3",
            "location": {"latitude": 52.37, "longitude": 4.89, "address": "Dam 1, Amsterdam"},
            "registration": "accepted",
            "has_password": true,
            "connection": {
                "connected": false, "protocol": null, "connected_at": null,
                "disconnected_at": null, "last_seen_at": null
            },
            "live": false,
            "last_heartbeat_at": null,
            "boot": null,
            "booted_at": null,
            "firmware_status": null,
            "diagnostics_status": null,
            "created_at": "2026-03-01T08:00:00Z",
            "updated_at": "2026-03-01T08:00:00Z",
            "connectors": [],
            "access": {"access": "public", "allowed_groups": []},
            "site_id": null
        })
    );
    let (status, fetched) = app.get("/api/v1/chargers/CP-001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    // Only an Argon2 hash of the password is stored.
    let id = ChargerId::parse("CP-001").unwrap();
    let credentials = app.store.charger_credentials(&id).await.unwrap().unwrap();
    let hash = credentials.password_hash.unwrap();
    assert!(hash.starts_with("$argon2"));
    assert!(verify_password(&hash, "correct-horse-battery"));
}

#[tokio::test]
async fn detail_shows_connection_boot_connectors_and_live() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    let id = ChargerId::parse(ONLINE).unwrap();
    let at = t0() + Duration::minutes(5);
    app.store
        .record_connection(&id, Some("ocpp1.6"), at)
        .await
        .unwrap();
    app.store
        .record_boot(
            &id,
            BootInfo {
                vendor: "Acme".into(),
                model: "Volt 22".into(),
                firmware_version: Some("1.2.3".into()),
                ..Default::default()
            },
            at,
        )
        .await
        .unwrap();
    app.store
        .record_heartbeat(&id, at + Duration::seconds(30))
        .await
        .unwrap();
    app.store
        .record_status(
            &id,
            StatusReport {
                connector_id: ConnectorId::new(1).unwrap(),
                status: ConnectorStatus::Charging,
                error_code: None,
                info: None,
                vendor_id: None,
                vendor_error_code: None,
                reported_at: Some(at),
                received_at: at,
            },
        )
        .await
        .unwrap();
    app.store
        .record_firmware_status(&id, "Installed", at)
        .await
        .unwrap();

    let (status, body) = app.get(&format!("/api/v1/chargers/{ONLINE}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["live"], true);
    assert_eq!(body["connection"]["connected"], true);
    assert_eq!(body["connection"]["protocol"], "ocpp1.6");
    assert_eq!(body["boot"]["vendor"], "Acme");
    assert_eq!(body["boot"]["firmware_version"], "1.2.3");
    assert_eq!(body["last_heartbeat_at"], "2026-03-01T08:05:30Z");
    assert_eq!(body["firmware_status"], "Installed");
    assert_eq!(
        body["connectors"],
        json!([{
            "connector_id": 1, "status": "Charging", "error_code": null, "info": null,
            "vendor_id": null, "vendor_error_code": null, "since": "2026-03-01T08:05:00Z"
        }])
    );

    let (status, history) = app
        .get(&format!(
            "/api/v1/chargers/{ONLINE}/status-history?connector=1"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["items"][0]["status"], "Charging");
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
    let (_, other) = app
        .get(&format!(
            "/api/v1/chargers/{ONLINE}/status-history?connector=2"
        ))
        .await;
    assert_eq!(other["items"], json!([]));
}

#[tokio::test]
async fn list_is_paginated() {
    let app = TestApp::new().await;
    for id in ["CP-A", "CP-B", "CP-C"] {
        app.charger(id).await;
    }
    let (status, first) = app.get("/api/v1/chargers?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["next_offset"], 2);
    let (_, second) = app.get("/api/v1/chargers?limit=2&offset=2").await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_offset"], json!(null));
    let mut ids: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["CP-A", "CP-B", "CP-C"]);
}

#[tokio::test]
async fn patch_sets_and_clears_fields() {
    let app = TestApp::new().await;
    app.post(
        "/api/v1/chargers",
        json!({"id": "CP1", "label": "old", "password": "0123456789abcdef", "location": {"latitude": 1.0, "longitude": 2.0}}),
    )
    .await;
    app.clock.advance(Duration::minutes(1));
    let (status, body) = app
        .patch(
            "/api/v1/chargers/CP1",
            json!({"label": null, "registration": "rejected", "password": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["label"], json!(null));
    assert_eq!(body["registration"], "rejected");
    assert_eq!(body["has_password"], false);
    assert_eq!(body["location"]["latitude"], 1.0, "absent fields stay");
    assert_eq!(body["updated_at"], "2026-03-01T08:01:00Z");

    let (status, body) = app
        .patch(
            "/api/v1/chargers/CP1",
            json!({"location": null, "password": "a-new-password-16"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["location"], json!(null));
    assert_eq!(body["has_password"], true);
    let id = ChargerId::parse("CP1").unwrap();
    let hash = app
        .store
        .charger_credentials(&id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(verify_password(&hash, "a-new-password-16"));

    let (status, body) = app
        .patch("/api/v1/chargers/NOPE", json!({"label": "x"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "charger_not_found");
}

#[tokio::test]
async fn delete_removes_the_charger() {
    let app = TestApp::new().await;
    app.charger("CP1").await;
    let (status, body) = app.delete("/api/v1/chargers/CP1").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, json!(null));
    let (status, body) = app.get("/api/v1/chargers/CP1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({
            "type": problem_type("charger_not_found"),
            "title": "Charger not found",
            "status": 404,
            "detail": "charger CP1 is not known",
            "code": "charger_not_found"
        })
    );
    let (status, _) = app.delete("/api/v1/chargers/CP1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_second_charger_with_the_same_id_conflicts() {
    let app = TestApp::new().await;
    app.charger("CP1").await;
    let (status, body) = app.post("/api/v1/chargers", json!({"id": "CP1"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({
            "type": problem_type("conflict"),
            "title": "Already exists",
            "status": 409,
            "detail": "charger CP1 already exists",
            "code": "conflict"
        })
    );
}

#[tokio::test]
async fn invalid_fields_are_all_reported() {
    let app = TestApp::new().await;
    let (status, body) = app
        .post(
            "/api/v1/chargers",
            json!({
                "id": "bad id",
                "password": "short",
                "label": "",
                "location": {"latitude": 91.0, "longitude": -181.0}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({
            "type": problem_type("validation_failed"),
            "title": "Validation failed",
            "status": 422,
            "detail": "5 fields are invalid; see `errors`",
            "code": "validation_failed",
            "errors": [
                {"field": "id", "message": "charger id contains a character that is not allowed: ' '"},
                {"field": "label", "message": "must not be empty (send null to clear it)"},
                {"field": "location.latitude", "message": "must be between -90 and 90"},
                {"field": "location.longitude", "message": "must be between -180 and 180"},
                {"field": "password", "message": "must be 16 to 40 printable ASCII characters without spaces"}
            ]
        })
    );

    for password in [
        "x".repeat(41),
        "sixteen chars ok".to_owned(),
        "pässwörd-sixteen-x".to_owned(),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/chargers",
                json!({"id": "CP2", "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{password}");
        assert_eq!(body["errors"][0]["field"], "password");
    }
    let (status, _) = app
        .post(
            "/api/v1/chargers",
            json!({"id": "CP2", "password": "x".repeat(40)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, body) = app.get("/api/v1/chargers/a:b").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "id");
}
