//! `/api/v1/tariffs` and the public price quote.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::test_app::TestApp;

fn ocpi(id: &str) -> Value {
    json!({
        "country_code": "ES",
        "party_id": "JOU",
        "id": id,
        "currency": "EUR",
        "tariff_alt_text": [
            {"language": "en", "text": "0.30 EUR/kWh, idle fee 6.00 EUR/h after 10 min"},
            {"language": "es", "text": "0,30 EUR/kWh, 6,00 EUR/h de inactividad tras 10 min"}
        ],
        "elements": [
            {"price_components": [
                {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 6.00, "vat": 21.0, "step_size": 60}
            ]},
            {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 0}]}
        ],
        "last_updated": "2026-02-01T00:00:00Z"
    })
}

pub(crate) fn body(id: &str) -> Value {
    json!({
        "tariff": ocpi(id),
        "extensions": {"idle_grace_period_s": 600, "hold_amount_minor": 5000}
    })
}

/// An unauthenticated GET.
pub(crate) async fn public_get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = app.send(request).await;
    (status, body)
}

#[tokio::test]
async fn tariff_lifecycle() {
    let app = TestApp::new().await;
    let (status, created) = app.post("/api/v1/tariffs", body("T1")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "T1");
    assert_eq!(created["version"], 1);
    assert_eq!(created["tariff"], ocpi("T1"));
    assert_eq!(
        created["extensions"],
        json!({"idle_grace_period_s": 600, "idle_fee_only_after_charging_finished": false, "hold_amount_minor": 5000,
               "hold_limit_policy": "stop_session", "hold_increment_minor": null, "hold_max_minor": null,
               "hold_margin_minor": null})
    );
    assert_eq!(created["created_at"], "2026-03-01T08:00:00Z");

    let (status, conflict) = app.post("/api/v1/tariffs", body("T1")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(conflict["code"], "conflict");

    let (status, fetched) = app.get("/api/v1/tariffs/T1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    let mut replacement = ocpi("T1");
    replacement["elements"][0]["price_components"][0]["price"] = json!(0.35);
    let (status, updated) = app
        .put("/api/v1/tariffs/T1", json!({"tariff": replacement}))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(
        updated["tariff"]["elements"][0]["price_components"][0]["price"],
        0.35
    );
    // A full replacement: absent extensions are the defaults.
    assert_eq!(updated["extensions"]["hold_amount_minor"], json!(null));

    let (status, mismatch) = app.put("/api/v1/tariffs/T1", body("T2")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mismatch["errors"][0]["field"], "tariff.id");
    let (status, missing) = app.put("/api/v1/tariffs/T9", body("T9")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["code"], "tariff_not_found");

    app.post("/api/v1/tariffs", body("A0")).await;
    let (status, page) = app.get("/api/v1/tariffs?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"][0]["id"], "A0");
    assert_eq!(page["next_offset"], 1);

    let (status, _) = app.delete("/api/v1/tariffs/T1").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = app.get("/api/v1/tariffs/T1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gone["code"], "tariff_not_found");
    let (status, _) = app.delete("/api/v1/tariffs/T1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invalid_tariffs_name_every_field() {
    let app = TestApp::new().await;
    let tariff = json!({
        "country_code": "ES", "party_id": "JOU", "id": "BAD", "currency": "EUD",
        "elements": [
            {"price_components": [
                {"type": "ENERGY", "price": -0.30, "step_size": 1},
                {"type": "TIME", "price": 2.00, "step_size": 0}
            ]},
            {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}],
             "restrictions": {"start_time": "25:00", "end_time": "06:00"}},
            {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}],
             "restrictions": {"min_kwh": 20, "max_kwh": 10}}
        ],
        "last_updated": "2026-02-01T00:00:00Z"
    });
    let (status, problem) = app
        .post(
            "/api/v1/tariffs",
            json!({"tariff": tariff, "extensions": {"hold_amount_minor": -1}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for expected in [
        "tariff.currency",
        "tariff.elements[0].price_components[0].price",
        "tariff.elements[0].price_components[1].step_size",
        "tariff.elements[1].restrictions.start_time",
        "tariff.elements[2].restrictions.max_kwh",
        "extensions.hold_amount_minor",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing in {fields:?}"
        );
    }

    // A tariff with no element that can ever apply.
    let mut never = ocpi("NEVER");
    never["elements"] = json!([{"price_components": [{"type": "ENERGY", "price": 0.2, "step_size": 1}],
        "restrictions": {"reservation": "RESERVATION"}}]);
    let (status, problem) = app.post("/api/v1/tariffs", json!({"tariff": never})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["field"].as_str().unwrap().starts_with("tariff.elements")));

    // Type errors name the field too.
    let mut wrong = ocpi("W");
    wrong["elements"][0]["price_components"][0]["type"] = json!("VOLTS");
    let (status, problem) = app.post("/api/v1/tariffs", json!({"tariff": wrong})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem["errors"][0]["field"],
        "tariff.elements[0].price_components[0].type"
    );
    let (status, problem) = app.post("/api/v1/tariffs", body("default")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "tariff.id");

    let (_, list) = app.get("/api/v1/tariffs").await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn default_tariff_and_public_price() {
    let app = TestApp::new().await;
    app.charger("CP1").await;

    let (status, none) = public_get(&app, "/api/v1/public/chargers/CP1/connectors/1/price").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(none["code"], "no_tariff");

    let (status, _) = app.post("/api/v1/tariffs", body("T1")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, problem) = app
        .put("/api/v1/tariffs/default", json!({"tariff_id": "NOPE"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], "tariff_not_found");
    let (status, set) = app
        .put("/api/v1/tariffs/default", json!({"tariff_id": "T1"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["tariff_id"], "T1");
    let (_, got) = app.get("/api/v1/tariffs/default").await;
    assert_eq!(got["tariff"]["id"], "T1");

    let (status, quote) = public_get(
        &app,
        "/api/v1/public/chargers/CP1/connectors/1/price?lang=es",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(quote["tariff_id"], "T1");
    assert_eq!(quote["currency"], "EUR");
    assert_eq!(quote["language"], "es");
    assert_eq!(quote["price_text"], quote["text"]);
    assert_eq!(quote["price_text_language"], "es");
    assert_eq!(
        quote["text"],
        "0,30 EUR/kWh, 6,00 EUR/h de inactividad tras 10 min"
    );
    assert_eq!(
        quote["energy"],
        json!({"excl_vat": 0.3, "incl_vat": 0.363, "vat": 21.0, "step_size": 1, "restricted": false})
    );
    assert_eq!(quote["parking_time"]["incl_vat"], 7.26);
    assert_eq!(quote["flat"]["excl_vat"], 0.5);
    assert_eq!(quote["time"], json!(null));
    assert_eq!(quote["idle_grace_period_s"], 600);
    assert_eq!(quote["hold_amount_minor"], 5000);
    assert_eq!(quote["hold_amount"], 50.0);
    assert_eq!(quote["hold_limit_policy"], "stop_session");

    // Unknown language: English.
    let (_, quote) = public_get(
        &app,
        "/api/v1/public/chargers/CP1/connectors/2/price?lang=de",
    )
    .await;
    assert_eq!(quote["language"], "en");
    assert_eq!(quote["price_text_language"], "en");
    let (status, bad) = public_get(
        &app,
        "/api/v1/public/chargers/CP1/connectors/1/price?lang=spanish",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "lang");
    let (status, bad) = public_get(&app, "/api/v1/public/chargers/CP1/connectors/0/price").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "connector_id");
    let (status, unknown) =
        public_get(&app, "/api/v1/public/chargers/CP9/connectors/1/price").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(unknown["code"], "charger_not_found");

    // A default that has expired is not in force.
    let mut expired = ocpi("T1");
    expired["end_date_time"] = json!("2026-02-01T00:00:00Z");
    let (status, _) = app
        .put("/api/v1/tariffs/T1", json!({"tariff": expired}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, none) = public_get(&app, "/api/v1/public/chargers/CP1/connectors/1/price").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(none["code"], "no_tariff");

    // Clearing the default, and deleting the default tariff.
    let (status, cleared) = app
        .put("/api/v1/tariffs/default", json!({"tariff_id": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cleared, json!({"tariff_id": null, "tariff": null}));
    app.put("/api/v1/tariffs/default", json!({"tariff_id": "T1"}))
        .await;
    app.delete("/api/v1/tariffs/T1").await;
    let (_, got) = app.get("/api/v1/tariffs/default").await;
    assert_eq!(got["tariff_id"], json!(null));

    let kinds: Vec<String> = app
        .store
        .events_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str().to_owned())
        .filter(|k| k.starts_with("tariff."))
        .collect();
    assert_eq!(
        kinds,
        [
            "tariff.created",
            "tariff.default_changed",
            "tariff.updated",
            "tariff.default_changed",
            "tariff.default_changed",
            "tariff.deleted",
            "tariff.default_changed"
        ]
    );
}

#[tokio::test]
async fn tariffs_need_an_api_key_but_the_price_does_not() {
    let app = TestApp::new().await;
    let (status, problem) = public_get(&app, "/api/v1/tariffs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "unauthorized");
}

/// Precedence: a charger's own tariff over the default, for new sessions
/// and for the public quote.
#[tokio::test]
async fn charger_tariff_takes_precedence_over_the_default() {
    let app = TestApp::new().await;
    app.charger("CP1").await;
    for id in ["DEF", "OWN"] {
        let (status, b) = app.post("/api/v1/tariffs", body(id)).await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
    }
    app.put("/api/v1/tariffs/default", json!({"tariff_id": "DEF"}))
        .await;

    let (status, b) = app.get("/api/v1/chargers/CP1/tariff").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b, json!({"charger_id": "CP1", "tariff_id": null}));
    let (status, b) = app
        .put("/api/v1/chargers/CP1/tariff", json!({"tariff_id": "OWN"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b, json!({"charger_id": "CP1", "tariff_id": "OWN"}));
    let (_, quote) = public_get(&app, "/api/v1/public/chargers/CP1/connectors/1/price").await;
    assert_eq!(quote["tariff_id"], "OWN");

    let (status, b) = app
        .put("/api/v1/chargers/CP1/tariff", json!({"tariff_id": "NOPE"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(b["code"], "tariff_not_found");
    let (status, b) = app
        .put("/api/v1/chargers/CP9/tariff", json!({"tariff_id": "OWN"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(b["code"], "charger_not_found");
    let (status, b) = app.get("/api/v1/chargers/CP9/tariff").await;
    assert_eq!(
        (status, &b["code"]),
        (StatusCode::NOT_FOUND, &json!("charger_not_found"))
    );

    let (status, b) = app
        .put("/api/v1/chargers/CP1/tariff", json!({"tariff_id": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["tariff_id"], json!(null));
    let (_, quote) = public_get(&app, "/api/v1/public/chargers/CP1/connectors/1/price").await;
    assert_eq!(quote["tariff_id"], "DEF");
}

/// Hold limits (docs/payments.md, "Hold limits"): stored and returned, and
/// every bad setting named at once.
#[tokio::test]
async fn hold_limit_settings_are_validated_and_stored() {
    let app = TestApp::new().await;
    let mut good = body("HOLD1");
    good["extensions"] = json!({
        "hold_amount_minor": 2000, "hold_limit_policy": "increment_authorization",
        "hold_increment_minor": 1000, "hold_max_minor": 6000, "hold_margin_minor": 125
    });
    let (status, created) = app.post("/api/v1/tariffs", good).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let ext = &created["extensions"];
    assert_eq!(ext["hold_limit_policy"], "increment_authorization");
    assert_eq!(
        (
            ext["hold_increment_minor"].clone(),
            ext["hold_max_minor"].clone(),
            ext["hold_margin_minor"].clone()
        ),
        (json!(1000), json!(6000), json!(125))
    );
    // The public quote carries what the pay page shows the driver.
    app.charger("CP1").await;
    let (status, set) = app
        .put("/api/v1/tariffs/default", json!({"tariff_id": "HOLD1"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let (status, quote) = public_get(&app, "/api/v1/public/chargers/CP1/connectors/1/price").await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(quote["hold_limit_policy"], "increment_authorization");
    assert_eq!(
        (
            quote["hold_increment_minor"].clone(),
            quote["hold_max_minor"].clone()
        ),
        (json!(1000), json!(6000))
    );

    let mut bad = body("HOLD2");
    bad["extensions"] = json!({
        "hold_amount_minor": 2000, "hold_limit_policy": "increment_authorization",
        "hold_increment_minor": 0, "hold_margin_minor": -1
    });
    let (status, problem) = app.post("/api/v1/tariffs", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "extensions.hold_increment_minor",
            "extensions.hold_margin_minor",
            "extensions.hold_max_minor",
        ]
    );
    let mut below = body("HOLD3");
    below["extensions"] = json!({"hold_amount_minor": 2000, "hold_max_minor": 1000});
    let (status, problem) = app.post("/api/v1/tariffs", below).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "extensions.hold_max_minor");
    let mut unknown = body("HOLD4");
    unknown["extensions"] = json!({"hold_limit_policy": "charge_more"});
    let (status, problem) = app.post("/api/v1/tariffs", unknown).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}
