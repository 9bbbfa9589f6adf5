//! `/api/v1/chargers/{id}/messages`.

use axum::http::StatusCode;
use chrono::Duration;
use joule_domain::charging::message_log::{Direction, FrameKind, LogEntry};
use joule_domain::ChargerId;
use serde_json::json;

use crate::test_app::{t0, TestApp};

fn entry(direction: Direction, kind: FrameKind, action: &str, minutes: i64) -> LogEntry {
    LogEntry {
        charger_id: ChargerId::parse("CP1").unwrap(),
        direction,
        kind,
        action: Some(action.to_owned()),
        message_id: Some(format!("m{minutes}")),
        frame: format!("[2,\"m{minutes}\",\"{action}\",{{}}]"),
        note: None,
        at: t0() + Duration::minutes(minutes),
    }
}

#[tokio::test]
async fn message_log_is_listed_and_filtered() {
    let app = TestApp::new().await;
    app.charger("CP1").await;
    app.store
        .append_log(vec![
            entry(Direction::In, FrameKind::Call, "BootNotification", 0),
            entry(Direction::Out, FrameKind::CallResult, "BootNotification", 1),
            entry(Direction::In, FrameKind::Call, "Heartbeat", 2),
        ])
        .await
        .unwrap();
    app.db.flush().await.unwrap();

    let (status, body) = app.get("/api/v1/chargers/CP1/messages").await;
    assert_eq!(status, StatusCode::OK);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["action"], "Heartbeat", "newest first");
    assert_eq!(items[0]["direction"], "in");
    assert_eq!(items[0]["kind"], "call");
    assert_eq!(items[0]["frame"], "[2,\"m2\",\"Heartbeat\",{}]");
    assert_eq!(items[0]["at"], "2026-03-01T08:02:00Z");

    let (_, body) = app.get("/api/v1/chargers/CP1/messages?direction=out").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["kind"], "call_result");
    let (_, body) = app
        .get("/api/v1/chargers/CP1/messages?action=BootNotification&limit=1")
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["next_offset"], 1);
    let (_, body) = app
        .get("/api/v1/chargers/CP1/messages?from=2026-03-01T08:01:00Z&to=2026-03-01T08:02:00Z")
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["message_id"], "m1");

    let (status, body) = app.get("/api/v1/chargers/CP1/messages?direction=up").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"],
        json!([{"field": "direction", "message": "must be in or out"}])
    );
    let (status, body) = app.get("/api/v1/chargers/NOPE/messages").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "charger_not_found");
}
