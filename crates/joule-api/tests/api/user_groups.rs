//! `/api/v1/user-groups`, `PUT /id-tokens/{id_tag}/groups` and
//! `PUT /chargers/{id}/access`.

use axum::http::StatusCode;
use serde_json::json;

use crate::test_app::TestApp;

#[tokio::test]
async fn user_group_lifecycle() {
    let app = TestApp::new().await;
    let (status, created) = app
        .post(
            "/api/v1/user-groups",
            json!({"id": "staff", "name": " Staff "}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({
            "id": "staff",
            "name": "Staff",
            "created_at": "2026-03-01T08:00:00Z",
            "updated_at": "2026-03-01T08:00:00Z"
        })
    );
    let (status, body) = app
        .post(
            "/api/v1/user-groups",
            json!({"id": "staff", "name": "Again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "conflict");

    let (status, fetched) = app.get("/api/v1/user-groups/staff").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    let (status, list) = app.get("/api/v1/user-groups").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([created]));

    let (status, patched) = app
        .patch("/api/v1/user-groups/staff", json!({"name": "Employees"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Employees");

    let (status, _) = app.delete("/api/v1/user-groups/staff").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/user-groups/staff").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "user_group_not_found");
    let (status, body) = app.delete("/api/v1/user-groups/staff").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "user_group_not_found");
}

#[tokio::test]
async fn bad_group_ids_are_validation_errors() {
    let app = TestApp::new().await;
    let (status, body) = app
        .post(
            "/api/v1/user-groups",
            json!({"id": "Not A Slug", "name": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation_failed");
    let fields: Vec<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["id", "name"]);
    let (status, body) = app.get("/api/v1/user-groups/UPPER").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "id");
}

#[tokio::test]
async fn token_groups_are_set_and_shown() {
    let app = TestApp::new().await;
    for id in ["staff", "fleet"] {
        let (status, _) = app
            .post("/api/v1/user-groups", json!({"id": id, "name": id}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = app
        .post("/api/v1/id-tokens", json!({"id_tag": "TAG1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, body) = app
        .put(
            "/api/v1/id-tokens/tag1/groups",
            json!({"groups": ["staff", "fleet", "staff"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"groups": ["fleet", "staff"]}));
    let (_, token) = app.get("/api/v1/id-tokens/TAG1").await;
    assert_eq!(token["groups"], json!(["fleet", "staff"]));

    // An unknown group in the body is a 422 naming the entry; nothing changes.
    let (status, body) = app
        .put(
            "/api/v1/id-tokens/TAG1/groups",
            json!({"groups": ["staff", "ghost"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"][0]["field"], "groups[1]");
    let (_, token) = app.get("/api/v1/id-tokens/TAG1").await;
    assert_eq!(token["groups"], json!(["fleet", "staff"]));

    let (status, body) = app
        .put("/api/v1/id-tokens/NOBODY/groups", json!({"groups": []}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "id_token_not_found");

    // Deleting a group removes it from the token.
    app.delete("/api/v1/user-groups/fleet").await;
    let (_, token) = app.get("/api/v1/id-tokens/TAG1").await;
    assert_eq!(token["groups"], json!(["staff"]));
}

#[tokio::test]
async fn charger_access_is_set_and_shown() {
    let app = TestApp::new().await;
    app.post(
        "/api/v1/user-groups",
        json!({"id": "staff", "name": "Staff"}),
    )
    .await;
    let (status, _) = app.post("/api/v1/chargers", json!({"id": "CP1"})).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, body) = app
        .put(
            "/api/v1/chargers/CP1/access",
            json!({"access": "private", "allowed_groups": ["staff"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"access": "private", "allowed_groups": ["staff"]})
    );
    let (_, charger) = app.get("/api/v1/chargers/CP1").await;
    assert_eq!(charger["access"], body);

    let (status, body) = app
        .put(
            "/api/v1/chargers/CP1/access",
            json!({"access": "restricted", "allowed_groups": ["ghost"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "allowed_groups[0]");

    let (status, body) = app
        .put("/api/v1/chargers/CP1/access", json!({"access": "secret"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = app
        .put("/api/v1/chargers/NOPE/access", json!({"access": "public"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "charger_not_found");

    let (status, body) = app
        .put("/api/v1/chargers/CP1/access", json!({"access": "public"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"access": "public", "allowed_groups": []}));
}
