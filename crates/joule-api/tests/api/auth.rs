//! Authentication: every protected route needs `Authorization: Bearer`.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

use crate::test_app::{problem_type, TestApp};

fn get(path: &str, authorization: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().uri(path);
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn missing_key_is_a_401_problem_asking_for_bearer() {
    let app = TestApp::new().await;
    let (status, headers, body) = app.send(get("/api/v1/chargers", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(
        body,
        json!({
            "type": problem_type("unauthorized"),
            "title": "Missing or invalid API key",
            "status": 401,
            "detail": "send an API key as `Authorization: Bearer <key>`",
            "code": "unauthorized"
        })
    );
}

#[tokio::test]
async fn wrong_keys_are_refused_alike() {
    let app = TestApp::new().await;
    let prefix = app.key.split('_').nth(1).unwrap().to_owned();
    let wrong_secret = format!("Bearer jk_{prefix}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let basic = format!("Basic {}", app.key);
    for authorization in [
        "Bearer jk_unknown_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer not-a-key",
        wrong_secret.as_str(),
        basic.as_str(),
    ] {
        let (status, _, body) = app
            .send(get("/api/v1/id-tokens", Some(authorization)))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization}");
        assert_eq!(body["code"], "unauthorized");
    }
}

#[tokio::test]
async fn the_right_key_is_accepted_and_every_response_has_a_request_id() {
    let app = TestApp::new().await;
    let authorization = format!("Bearer {}", app.key);
    let (status, headers, body) = app
        .send(get("/api/v1/chargers", Some(&authorization)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"items": [], "next_offset": null}));
    assert!(!headers["x-request-id"].is_empty());

    let request = Request::builder()
        .uri("/api/v1/health")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = app.send(request).await;
    assert_eq!(headers["x-request-id"], "req-42");
}

#[tokio::test]
async fn health_and_openapi_need_no_key() {
    let app = TestApp::new().await;
    let (status, _, body) = app.send(get("/api/v1/health", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok", "database": "sqlite"}));

    let (status, _, body) = app.send(get("/api/v1/openapi.json", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::to_value(joule_api::openapi()).unwrap());
}
