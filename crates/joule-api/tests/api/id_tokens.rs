//! `/api/v1/id-tokens`.

use axum::http::StatusCode;
use serde_json::json;

use crate::test_app::TestApp;

#[tokio::test]
async fn token_lifecycle() {
    let app = TestApp::new().await;
    let (status, created) = app
        .post(
            "/api/v1/id-tokens",
            json!({
                "id_tag": "04a1b2c3",
                "kind": "rfid",
                "expires_at": "2027-01-01T00:00:00Z",
                "parent_id_tag": "FLEET-1",
                "allowed_chargers": ["CP1", "CP2"],
                "label": "Driver card"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({
            "id_tag": "04a1b2c3",
            "token_type": "ISO14443",
            "kind": "rfid",
            "status": "accepted",
            "expires_at": "2027-01-01T00:00:00Z",
            "parent_id_tag": "FLEET-1",
            "allowed_chargers": ["CP1", "CP2"],
            "label": "Driver card",
            "language": null,
            "created_at": "2026-03-01T08:00:00Z",
            "updated_at": "2026-03-01T08:00:00Z"
        })
    );

    // Id tags are case-insensitive (OCPP CiString20Type / CiString36Type).
    let (status, fetched) = app.get("/api/v1/id-tokens/04A1B2C3").await;
    assert_eq!(status, StatusCode::OK);
    let mut with_groups = created.clone();
    with_groups["groups"] = json!([]);
    assert_eq!(fetched, with_groups);
    let (status, body) = app
        .post("/api/v1/id-tokens", json!({"id_tag": "04A1B2C3"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "conflict");

    let (status, patched) = app
        .patch(
            "/api/v1/id-tokens/04a1b2c3",
            json!({"status": "blocked", "expires_at": null, "allowed_chargers": [], "label": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["status"], "blocked");
    assert_eq!(patched["expires_at"], json!(null));
    assert_eq!(patched["allowed_chargers"], json!([]));
    assert_eq!(patched["label"], json!(null));
    assert_eq!(patched["parent_id_tag"], "FLEET-1");

    let (status, _) = app.delete("/api/v1/id-tokens/04a1b2c3").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/id-tokens/04a1b2c3").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "id_token_not_found");
}

/// A token is up to 36 characters with an OCPP 2.0.1 / OCPI type: given on
/// create, else the one its kind suggests; patched alone; spelled exactly.
#[tokio::test]
async fn token_types_and_36_character_ids() {
    let app = TestApp::new().await;
    let emaid = "NL-TNM-C00122045-K-0123456789-abcdef";
    let (status, created) = app
        .post(
            "/api/v1/id-tokens",
            json!({"id_tag": emaid, "token_type": "eMAID", "parent_id_tag": "F".repeat(36)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id_tag"], emaid);
    assert_eq!(created["token_type"], "eMAID");
    assert_eq!(created["kind"], "rfid");
    let (status, fetched) = app
        .get(&format!("/api/v1/id-tokens/{}", emaid.to_ascii_uppercase()))
        .await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    assert_eq!(fetched["token_type"], "eMAID");

    for (kind, expected) in [("rfid", "ISO14443"), ("app", "Central"), ("other", "Local")] {
        let (status, body) = app
            .post(
                "/api/v1/id-tokens",
                json!({"id_tag": format!("DEFAULT-{kind}"), "kind": kind}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["token_type"], expected, "{kind}");
    }

    let (status, patched) = app
        .patch(
            &format!("/api/v1/id-tokens/{emaid}"),
            json!({"token_type": "KeyCode"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["token_type"], "KeyCode");
    assert_eq!(patched["parent_id_tag"], "F".repeat(36));
    let (status, listed) = app
        .get(&format!(
            "/api/v1/id-tokens?parent_id_tag={}",
            "f".repeat(36)
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"][0]["token_type"], "KeyCode");

    let (status, body) = app
        .post(
            "/api/v1/id-tokens",
            json!({"id_tag": "T", "token_type": "emaid"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "token_type");
    let (status, body) = app
        .get(&format!("/api/v1/id-tokens/{}", "x".repeat(37)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// The driver's language: ISO 639-1, any case on input, lower case out;
/// 422 `validation_failed` naming `language` for anything else.
#[tokio::test]
async fn token_language_create_patch_clear_and_validation() {
    let app = TestApp::new().await;
    let (status, created) = app
        .post(
            "/api/v1/id-tokens",
            json!({"id_tag": "LANG1", "language": "ES"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["language"], "es");
    let (_, fetched) = app.get("/api/v1/id-tokens/lang1").await;
    assert_eq!(fetched["language"], "es");

    let (status, patched) = app
        .patch("/api/v1/id-tokens/LANG1", json!({"language": "de"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["language"], "de");
    let (_, untouched) = app
        .patch("/api/v1/id-tokens/LANG1", json!({"label": "x"}))
        .await;
    assert_eq!(untouched["language"], "de");
    let (_, cleared) = app
        .patch("/api/v1/id-tokens/LANG1", json!({"language": null}))
        .await;
    assert_eq!(cleared["language"], json!(null));

    for bad in ["xx", "spanish", "es-ES", ""] {
        let (status, problem) = app
            .post(
                "/api/v1/id-tokens",
                json!({"id_tag": "LANG2", "language": bad}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "language");
        let (status, problem) = app
            .patch("/api/v1/id-tokens/LANG1", json!({"language": bad}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "language");
    }
    let (status, _) = app.get("/api/v1/id-tokens/LANG2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_filters_by_status_and_parent() {
    let app = TestApp::new().await;
    for (tag, status, parent) in [
        ("T1", "accepted", Some("P")),
        ("T2", "blocked", Some("P")),
        ("T3", "accepted", None),
    ] {
        let (code, body) = app
            .post(
                "/api/v1/id-tokens",
                json!({"id_tag": tag, "status": status, "parent_id_tag": parent}),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }
    let tags = |body: &serde_json::Value| {
        let mut tags: Vec<String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id_tag"].as_str().unwrap().to_owned())
            .collect();
        tags.sort();
        tags
    };
    let (_, all) = app.get("/api/v1/id-tokens").await;
    assert_eq!(tags(&all), ["T1", "T2", "T3"]);
    let (_, accepted) = app.get("/api/v1/id-tokens?status=accepted").await;
    assert_eq!(tags(&accepted), ["T1", "T3"]);
    let (_, group) = app.get("/api/v1/id-tokens?parent_id_tag=p").await;
    assert_eq!(tags(&group), ["T1", "T2"]);
    let (status, body) = app.get("/api/v1/id-tokens?status=lost").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "status");
}

#[tokio::test]
async fn invalid_tokens_name_their_fields() {
    let app = TestApp::new().await;
    let (status, body) = app
        .post(
            "/api/v1/id-tokens",
            json!({
                "id_tag": "x".repeat(37),
                "kind": "rfid",
                "allowed_chargers": ["ok", "not ok"],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"],
        json!([
            {"field": "id_tag", "message": "id tag must be at most 36 characters"},
            {"field": "allowed_chargers[1]", "message": "charger id contains a character that is not allowed: ' '"}
        ])
    );
    let (status, body) = app
        .post("/api/v1/id-tokens", json!({"id_tag": "T", "kind": "nfc"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "kind");
}
