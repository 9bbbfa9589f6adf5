//! `/api/v1/chargers/{id}/commands/{action}`, against an in-process
//! responder standing in for the charger connection.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::test_app::{problem_type, TestApp, ONLINE};

fn path(charger: &str, action: &str) -> String {
    format!("/api/v1/chargers/{charger}/commands/{action}")
}

#[tokio::test]
async fn the_chargers_answer_is_the_response() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    let (status, body) = app
        .call(Method::POST, &path(ONLINE, "ClearCache"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "Accepted"}));

    let (status, body) = app
        .post(&path(ONLINE, "Reset"), json!({"type": "Soft"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "Accepted"}));

    // An empty body is sent as {}.
    let (status, body) = app
        .call_raw(Method::POST, &path(ONLINE, "DataTransfer"), None, "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], "{}");
}

#[tokio::test]
async fn unknown_actions_and_chargers_are_404() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    let (status, body) = app
        .call(Method::POST, &path(ONLINE, "SelfDestruct"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({
            "type": problem_type("unknown_command"),
            "title": "Unknown command",
            "status": 404,
            "detail": "SelfDestruct is not a command Joule can send; see the OpenAPI document for the list",
            "code": "unknown_command"
        })
    );
    let (status, body) = app
        .call(Method::POST, &path("NOPE", "ClearCache"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "charger_not_found");
}

#[tokio::test]
async fn command_errors_map_to_statuses() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    app.charger("CP-OFF").await;

    let (status, body) = app
        .call(Method::POST, &path("CP-OFF", "ClearCache"), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("charger_offline"))
    );

    let cases = [
        (
            "GetConfiguration",
            json!({}),
            StatusCode::GATEWAY_TIMEOUT,
            "charger_timeout",
        ),
        (
            "TriggerMessage",
            json!({"requestedMessage": "Heartbeat"}),
            StatusCode::TOO_MANY_REQUESTS,
            "charger_busy",
        ),
        (
            "Reset",
            json!({"type": "Sideways"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_command_payload",
        ),
        (
            "ChangeAvailability",
            json!({"connectorId": 0, "type": "Inoperative"}),
            StatusCode::SERVICE_UNAVAILABLE,
            "charger_disconnected",
        ),
        (
            "GetDiagnostics",
            json!({"location": "ftp://x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "command_unsupported",
        ),
    ];
    for (action, payload, expected_status, code) in cases {
        let (status, body) = app.post(&path(ONLINE, action), payload).await;
        assert_eq!(status, expected_status, "{action}: {body}");
        assert_eq!(body["code"], code, "{action}");
    }

    let (status, body) = app
        .post(&path(ONLINE, "UnlockConnector"), json!({"connectorId": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        body,
        json!({
            "type": problem_type("command_rejected"),
            "title": "Charger answered with an error",
            "status": 502,
            "detail": "the charger answered with an error: NotSupported: no motorised lock",
            "code": "command_rejected",
            "charger_error": {"code": "NotSupported", "description": "no motorised lock"}
        })
    );
}

#[tokio::test]
async fn payloads_must_be_json_objects() {
    let app = TestApp::new().await;
    app.charger(ONLINE).await;
    let (status, body) = app.post(&path(ONLINE, "Reset"), json!(["Hard"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_command_payload");
    let (status, body) = app
        .call_raw(
            Method::POST,
            &path(ONLINE, "Reset"),
            Some("application/json"),
            "{type:",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_json");
    let (status, body) = app
        .call_raw(
            Method::POST,
            &path(ONLINE, "Reset"),
            Some("text/plain"),
            "{}",
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "unsupported_media_type");
}
