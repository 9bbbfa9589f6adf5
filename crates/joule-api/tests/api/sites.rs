//! `/api/v1/sites`, `PUT /chargers/{id}/site`, `/api/v1/tariff-assignments`
//! and what they change in the public price quote.

use axum::http::StatusCode;
use serde_json::json;

use crate::tariffs::{body, public_get};
use crate::test_app::TestApp;

const QUOTE: &str = "/api/v1/public/chargers/CP1/connectors/1/price";

fn site(id: &str) -> serde_json::Value {
    json!({
        "id": id, "name": "Madrid Centro", "time_zone": "Europe/Madrid", "language": "es",
        "address": {"street": "Gran Via 1", "city": "Madrid", "postal_code": "28013", "country": "ESP"}
    })
}

#[tokio::test]
async fn site_lifecycle_and_problems() {
    let app = TestApp::new().await;
    let (status, created) = app.post("/api/v1/sites", site("madrid")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["time_zone"], "Europe/Madrid");
    assert_eq!(created["access"], "public");
    assert_eq!(created["address"]["city"], "Madrid");
    let (status, body) = app.post("/api/v1/sites", site("madrid")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "conflict");

    let (status, bad) = app
        .post(
            "/api/v1/sites",
            json!({"id": "Bad Id", "name": "", "time_zone": "Mars/Olympus", "language": "ESP",
                   "allowed_groups": ["Nope!"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["id", "name", "time_zone", "language", "allowed_groups[0]"]
    );
    let (status, bad) = app
        .post(
            "/api/v1/sites",
            json!({"id": "x", "name": "X", "time_zone": "UTC", "access": "private",
                   "allowed_groups": ["ghost"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "allowed_groups");

    let (status, got) = app.get("/api/v1/sites/madrid").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);
    let (_, list) = app.get("/api/v1/sites").await;
    assert_eq!(list["items"], json!([created]));

    let mut replaced = site("madrid");
    replaced["time_zone"] = json!("Atlantic/Canary");
    let (status, updated) = app.put("/api/v1/sites/madrid", replaced.clone()).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["time_zone"], "Atlantic/Canary");
    replaced["id"] = json!("other");
    let (status, bad) = app.put("/api/v1/sites/madrid", replaced).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "id");
    let (status, body) = app.put("/api/v1/sites/paris", site("paris")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "site_not_found");

    app.charger("CP1").await;
    let (status, set) = app
        .put("/api/v1/chargers/CP1/site", json!({"site_id": "madrid"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set, json!({"site_id": "madrid"}));
    let (status, bad) = app
        .put("/api/v1/chargers/CP1/site", json!({"site_id": "paris"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "site_id");
    let (status, body) = app
        .put("/api/v1/chargers/CP9/site", json!({"site_id": "madrid"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "charger_not_found");

    let (status, _) = app.delete("/api/v1/sites/madrid").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/sites/madrid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "site_not_found");
    let (status, body) = app.delete("/api/v1/sites/madrid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "site_not_found");
}

#[tokio::test]
async fn tariff_assignment_lifecycle_and_problems() {
    let app = TestApp::new().await;
    app.charger("CP1").await;
    let (status, _) = app.post("/api/v1/tariffs", body("T1")).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, created) = app
        .post(
            "/api/v1/tariff-assignments",
            json!({"tariff_id": "T1", "scope": "connector", "charger_id": "CP1", "connector_id": 2,
                   "valid_from": "2026-03-01T00:00:00Z", "valid_until": "2026-04-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["scope"], "connector");
    assert_eq!(created["connector_id"], 2);
    assert_eq!(created["valid_until"], "2026-04-01T00:00:00Z");
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, got) = app.get(&format!("/api/v1/tariff-assignments/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);
    let (_, list) = app
        .get("/api/v1/tariff-assignments?charger_id=CP1&scope=connector")
        .await;
    assert_eq!(list["items"], json!([created]));
    let (_, list) = app.get("/api/v1/tariff-assignments?scope=site").await;
    assert_eq!(list["items"], json!([]));
    let (status, bad) = app.get("/api/v1/tariff-assignments?scope=planet").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "scope");

    for (body, field) in [
        (
            json!({"tariff_id": "NOPE", "scope": "charger", "charger_id": "CP1"}),
            "tariff_id",
        ),
        (
            json!({"tariff_id": "T1", "scope": "charger", "charger_id": "CP9"}),
            "charger_id",
        ),
        (
            json!({"tariff_id": "T1", "scope": "site", "site_id": "nowhere"}),
            "site_id",
        ),
        (
            json!({"tariff_id": "T1", "scope": "user_group", "group_id": "ghosts"}),
            "group_id",
        ),
        (
            json!({"tariff_id": "T1", "scope": "id_token", "id_tag": "NOBODY"}),
            "id_tag",
        ),
        (json!({"tariff_id": "T1", "scope": "charger"}), "charger_id"),
        (
            json!({"tariff_id": "T1", "scope": "site", "site_id": "x", "charger_id": "CP1"}),
            "charger_id",
        ),
        (
            json!({"tariff_id": "T1", "scope": "charger", "charger_id": "CP1",
                   "valid_from": "2026-03-01T00:00:00Z", "valid_until": "2026-03-01T00:00:00Z"}),
            "valid_until",
        ),
    ] {
        let (status, problem) = app.post("/api/v1/tariff-assignments", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }

    let (status, _) = app
        .delete(&format!("/api/v1/tariff-assignments/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&format!("/api/v1/tariff-assignments/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "tariff_assignment_not_found");
    let (status, body) = app
        .delete(&format!("/api/v1/tariff-assignments/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "tariff_assignment_not_found");
    let (status, body) = app.get("/api/v1/tariff-assignments/not-a-uuid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "id");
}

#[tokio::test]
async fn the_quote_follows_site_assignments_time_zone_and_access() {
    let app = TestApp::new().await;
    app.charger("CP1").await;
    app.post("/api/v1/tariffs", body("T1")).await;
    app.post("/api/v1/tariffs", body("SITE")).await;
    app.put("/api/v1/tariffs/default", json!({"tariff_id": "T1"}))
        .await;
    let (_, quote) = public_get(&app, QUOTE).await;
    assert_eq!(quote["tariff_id"], "T1");
    assert_eq!(quote["time_zone"], "UTC");
    assert_eq!(quote["access"], "public");

    app.post("/api/v1/sites", site("madrid")).await;
    app.put("/api/v1/chargers/CP1/site", json!({"site_id": "madrid"}))
        .await;
    let (status, created) = app
        .post(
            "/api/v1/tariff-assignments",
            json!({"tariff_id": "SITE", "scope": "site", "site_id": "madrid"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, quote) = public_get(&app, QUOTE).await;
    assert_eq!(quote["tariff_id"], "SITE");
    assert_eq!(quote["time_zone"], "Europe/Madrid");
    // No `lang`: the site's language.
    assert_eq!(quote["language"], "es");

    app.post(
        "/api/v1/user-groups",
        json!({"id": "staff", "name": "Staff"}),
    )
    .await;
    let (status, _) = app
        .put(
            "/api/v1/chargers/CP1/access",
            json!({"access": "restricted", "allowed_groups": ["staff"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, quote) = public_get(&app, QUOTE).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(quote["access"], "restricted");

    // Private: not public, answered as unknown.
    app.put(
        "/api/v1/chargers/CP1/access",
        json!({"access": "private", "allowed_groups": ["staff"]}),
    )
    .await;
    let (status, problem) = public_get(&app, QUOTE).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], "charger_not_found");
    assert_eq!(
        problem["detail"],
        public_get(&app, "/api/v1/public/chargers/CP1X/connectors/1/price")
            .await
            .1["detail"]
            .as_str()
            .unwrap()
            .replace("CP1X", "CP1")
    );
}

#[tokio::test]
async fn a_charger_inherits_its_sites_access_rule() {
    let app = TestApp::new().await;
    app.charger("CP1").await;
    app.post("/api/v1/tariffs", body("T1")).await;
    app.put("/api/v1/tariffs/default", json!({"tariff_id": "T1"}))
        .await;
    app.post(
        "/api/v1/user-groups",
        json!({"id": "staff", "name": "Staff"}),
    )
    .await;
    let mut private = site("depot");
    private["access"] = json!("private");
    private["allowed_groups"] = json!(["staff"]);
    let (status, created) = app.post("/api/v1/sites", private).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    app.put("/api/v1/chargers/CP1/site", json!({"site_id": "depot"}))
        .await;
    let (status, problem) = public_get(&app, QUOTE).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], "charger_not_found");
    // The charger's own rule, once set, wins over the site's.
    app.put("/api/v1/chargers/CP1/access", json!({"access": "public"}))
        .await;
    let (status, _) = public_get(&app, QUOTE).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_chargers_site_is_set_on_create_and_patch() {
    let app = TestApp::new().await;
    app.post("/api/v1/sites", site("madrid")).await;
    let (status, created) = app
        .post(
            "/api/v1/chargers",
            json!({"id": "CP1", "site_id": "madrid"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["site_id"], "madrid");
    let (status, bad) = app
        .post("/api/v1/chargers", json!({"id": "CP2", "site_id": "paris"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "site_id");
    // Nothing was created.
    let (status, _) = app.get("/api/v1/chargers/CP2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, bad) = app
        .patch("/api/v1/chargers/CP1", json!({"site_id": "Not A Slug"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "site_id");
    let (status, patched) = app
        .patch("/api/v1/chargers/CP1", json!({"site_id": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["site_id"], json!(null));
    let (_, got) = app.get("/api/v1/chargers/CP1").await;
    assert_eq!(got["site_id"], json!(null));
}
