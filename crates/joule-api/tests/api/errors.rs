//! Every failure is problem JSON, including the ones axum would answer in
//! plain text (bad JSON, bad query strings, unknown routes and methods).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::test_app::{problem_type, TestApp};

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::new().await;
    let (status, body) = app
        .call_raw(
            Method::POST,
            "/api/v1/chargers",
            Some("application/json"),
            "{\"id\": ",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "type": problem_type("invalid_json"),
            "title": "Malformed JSON body",
            "status": 400,
            "detail": "the request body is not valid JSON: EOF while parsing a value at line 1 column 7",
            "code": "invalid_json"
        })
    );
}

#[tokio::test]
async fn a_wrong_type_names_the_field() {
    let app = TestApp::new().await;
    let (status, body) = app
        .post(
            "/api/v1/chargers",
            json!({"id": "CP1", "location": {"latitude": "north", "longitude": 4.9}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({
            "type": problem_type("validation_failed"),
            "title": "Validation failed",
            "status": 422,
            "detail": "location.latitude: invalid type: string \"north\", expected f64",
            "code": "validation_failed",
            "errors": [{"field": "location.latitude", "message": "invalid type: string \"north\", expected f64"}]
        })
    );
}

#[tokio::test]
async fn unknown_fields_and_non_json_bodies_are_refused() {
    let app = TestApp::new().await;
    let (status, body) = app
        .post("/api/v1/chargers", json!({"id": "CP1", "lable": "typo"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "lable");

    let (status, body) = app
        .call_raw(Method::POST, "/api/v1/chargers", Some("text/plain"), "{}")
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "unsupported_media_type");

    let (status, body) = app
        .call_raw(Method::POST, "/api/v1/chargers", None, "{}")
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "unsupported_media_type");
}

#[tokio::test]
async fn bad_query_strings_list_every_field() {
    let app = TestApp::new().await;
    let (status, body) = app
        .get("/api/v1/sessions?limit=0&offset=x&state=paused&from=yesterday&charger_id=a:b")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"],
        json!([
            {"field": "charger_id", "message": "charger id contains a character that is not allowed: ':'"},
            {"field": "state", "message": "must be active or ended"},
            {"field": "from", "message": "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z"},
            {"field": "limit", "message": "must be an integer between 1 and 500"},
            {"field": "offset", "message": "must be a non-negative integer"}
        ])
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::new().await;
    let (status, body) = app.get("/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");

    let (status, body) = app.call(Method::PUT, "/api/v1/chargers", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::new().await;
    let big = format!(
        "{{\"id\":\"CP1\",\"label\":\"{}\"}}",
        "x".repeat(joule_api::BODY_LIMIT_BYTES)
    );
    let (status, body) = app
        .call_raw(
            Method::POST,
            "/api/v1/chargers",
            Some("application/json"),
            &big,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");
}
