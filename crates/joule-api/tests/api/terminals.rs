//! Payment terminals (docs/terminals.md): the operator's
//! `/api/v1/terminals`, the terminal's own `/api/v1/terminal/…` with its
//! key, scoped to itself, and the SIMULATED demo terminal page — over the
//! real SQLite store and the real simulated gateway. The charger answers
//! RemoteStartTransaction with Accepted when online (CP-ONLINE); any other
//! charger is offline.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use joule_domain::charging::charger::{ConnectorStatus, StatusReport};
use joule_domain::kernel::money::{Currency, Money};
use joule_domain::payments::gateway::{HoldRequest, IntentRef, IntentStatus, PaymentGateway};
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_domain::payments::payment::{
    PaymentChannel, PaymentFilter, PaymentId, StepKind, StepStatus,
};
use joule_domain::{ChargerId, ConnectorId};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::test_app::{problem_type, t0, TestApp, ONLINE};

const OFFLINE: &str = "CP-OFFLINE";
const UNLISTED: &str = "CP-UNLISTED";

/// Three chargers with connector 1 Available, a default tariff of 0.30
/// EUR/kWh with a 30.00 EUR hold.
async fn priced(app: &TestApp) {
    for id in [ONLINE, OFFLINE, UNLISTED] {
        app.charger(id).await;
        app.store
            .record_status(
                &ChargerId::parse(id).unwrap(),
                StatusReport {
                    connector_id: ConnectorId::new(1).unwrap(),
                    status: ConnectorStatus::Available,
                    error_code: None,
                    info: None,
                    vendor_id: None,
                    vendor_error_code: None,
                    reported_at: Some(t0()),
                    received_at: t0(),
                },
            )
            .await
            .unwrap();
    }
    let (status, body) = app
        .post(
            "/api/v1/tariffs",
            json!({
                "tariff": {
                    "country_code": "DE", "party_id": "JOU", "id": "T1", "currency": "EUR",
                    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}],
                    "last_updated": "2026-01-01T00:00:00Z"
                },
                "extensions": {"hold_amount_minor": 3000}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app
        .put("/api/v1/tariffs/default", json!({"tariff_id": "T1"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A terminal that may start `chargers` (connector 1 of each), with its key.
async fn terminal(app: &TestApp, name: &str, chargers: &[&str]) -> (String, String) {
    let targets: Vec<Value> = chargers
        .iter()
        .map(|c| json!({"charger_id": c, "connector_id": 1}))
        .collect();
    let (status, body) = app
        .post(
            "/api/v1/terminals",
            json!({"name": name, "scope": "chargers", "chargers": targets}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["gateway"], json!("simulated"));
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, issued) = app
        .post(&format!("/api/v1/terminals/{id}/key"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    (id, issued["key"].as_str().unwrap().to_owned())
}

/// What a terminal does before reporting: a manual-capture hold at the
/// gateway, confirmed with the card the driver tapped.
async fn hold(app: &TestApp, minor: i64, card: Option<&str>) -> IntentRef {
    let gateway = app.gateway();
    let created = gateway
        .create_hold(
            &HoldRequest {
                amount: Money::from_minor(minor, Currency::parse("EUR").unwrap()),
                reference: "terminal-test".into(),
            },
            &IdempotencyKey::derive(uuid::Uuid::new_v4(), "hold"),
        )
        .await
        .unwrap();
    if let Some(card) = card {
        gateway.confirm_hold(&created.intent, card).unwrap();
    }
    created.intent
}

fn report(intent: &IntentRef, charger: &str, amount: i64) -> Value {
    json!({
        "gateway_payment_ref": intent.as_str(),
        "amount_minor": amount,
        "currency": "EUR",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
        "charger_id": charger,
        "connector_id": 1,
        "language": "de"
    })
}

async fn post_report(
    app: &TestApp,
    key: &str,
    idem: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let headers: Vec<(&str, &str)> = idem.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    app.call_as(
        key,
        Method::POST,
        "/api/v1/terminal/payments",
        &headers,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn operators_create_list_patch_and_key_terminals() {
    let app = TestApp::with_payments().await;
    app.post(
        "/api/v1/sites",
        json!({"id": "depot", "name": "Depot", "time_zone": "Europe/Berlin"}),
    )
    .await;
    let (status, site) = app
        .post(
            "/api/v1/terminals",
            json!({"name": "Depot kiosk", "site_id": "depot", "scope": "site"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    assert_eq!(site["scope"], json!("site"));
    assert_eq!(site["chargers"], json!([]));
    assert_eq!(site["enabled"], json!(true));
    assert_eq!(site["key_prefix"], Value::Null);
    let id = site["id"].as_str().unwrap();

    // Bad input is a 422 naming the field, and nothing is created.
    for (body, field) in [
        (json!({"name": "X", "scope": "site"}), "site_id"),
        (
            json!({"name": "X", "site_id": "ghost", "scope": "site"}),
            "site_id",
        ),
        (
            json!({"name": " ", "site_id": "depot", "scope": "site"}),
            "name",
        ),
        (json!({"name": "X", "scope": "chargers"}), "chargers"),
        (
            json!({"name": "X", "scope": "chargers", "chargers": [{"charger_id": "CP 1"}]}),
            "chargers[0].charger_id",
        ),
        (
            json!({"name": "X", "scope": "chargers", "chargers": [{"charger_id": "CP1", "connector_id": 0}]}),
            "chargers[0].connector_id",
        ),
        (
            json!({"name": "X", "site_id": "depot", "scope": "site", "gateway": "stripe"}),
            "gateway",
        ),
    ] {
        let (status, problem) = app.post("/api/v1/terminals", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(
            problem["errors"][0]["field"],
            json!(field),
            "{body}: {problem}"
        );
    }
    let (status, page) = app.get("/api/v1/terminals").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    // Disable, and re-scope to a list.
    let (status, patched) = app
        .patch(
            &format!("/api/v1/terminals/{id}"),
            json!({"enabled": false, "scope": "chargers", "chargers": [{"charger_id": "CP-9"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["enabled"], json!(false));
    assert_eq!(
        patched["chargers"],
        json!([{"charger_id": "CP-9", "connector_id": null}])
    );
    let (status, problem) = app
        .patch(
            &format!("/api/v1/terminals/{id}"),
            json!({"site_id": null, "scope": "site"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], json!("site_id"));

    // The key is shown once; reading the terminal shows its prefix only.
    let (status, issued) = app
        .post(&format!("/api/v1/terminals/{id}/key"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = issued["key"].as_str().unwrap();
    assert!(key.starts_with("jt_"));
    let (_, got) = app.get(&format!("/api/v1/terminals/{id}")).await;
    assert_eq!(got["key_prefix"], issued["key_prefix"]);
    assert!(!got.to_string().contains(key));
    let (status, me) = app
        .call_as(key, Method::GET, "/api/v1/terminal", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], json!(id));
    // Rotation: the old key stops working at once.
    let (_, rotated) = app
        .post(&format!("/api/v1/terminals/{id}/key"), json!({}))
        .await;
    let (status, problem) = app
        .call_as(key, Method::GET, "/api/v1/terminal", &[], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], json!("unauthorized"));
    let new_key = rotated["key"].as_str().unwrap();
    assert_eq!(
        app.call_as(new_key, Method::GET, "/api/v1/terminal", &[], None)
            .await
            .0,
        StatusCode::OK
    );

    let unknown = format!("/api/v1/terminals/{}", uuid::Uuid::now_v7());
    let (status, problem) = app.get(&unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["type"], json!(problem_type("terminal_not_found")));
    let (status, _) = app.post(&format!("{unknown}/key"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/v1/terminals/lobby").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn terminal_and_operator_keys_open_only_their_own_routes() {
    let app = TestApp::with_payments().await;
    priced(&app).await;
    let (_, key) = terminal(&app, "A", &[ONLINE]).await;
    // A terminal key is not an operator key, and the other way round.
    let (status, _) = app
        .call_as(&key, Method::GET, "/api/v1/chargers", &[], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call_as(&key, Method::GET, "/api/v1/terminals", &[], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get("/api/v1/terminal").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call_as("jt_abcdef_nope", Method::GET, "/api/v1/terminal", &[], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let no_auth = Request::builder()
        .uri("/api/v1/terminal")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = app.send(no_auth).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn a_reported_hold_is_verified_recorded_and_starts_the_charger_once() {
    let app = TestApp::with_payments().await;
    priced(&app).await;
    let (terminal_id, key) = terminal(&app, "Kiosk", &[ONLINE, OFFLINE]).await;
    let intent = hold(&app, 3000, Some("sim_visa")).await;
    let body = report(&intent, ONLINE, 3000);

    let (status, problem) = post_report(&app, &key, None, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], json!("idempotency_key_missing"));

    let (status, first) = post_report(&app, &key, Some("tap-1"), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["state"], json!("starting"));
    assert_eq!(first["authorized_minor"], json!(3000));
    assert_eq!(first["captured_minor"], json!(0));
    assert_eq!(first["card"], json!({"brand": "visa", "last4": "4242"}));
    assert_eq!(first["gateway_payment_ref"], json!(intent.as_str()));
    assert_eq!(first["receipt_url"], Value::Null);
    assert!(first["status_url"]
        .as_str()
        .unwrap()
        .starts_with("https://pay.joule.test/pay/payments/"));

    // What was recorded: a terminal payment with its verified Authorize step.
    let id = PaymentId::parse(first["payment_id"].as_str().unwrap()).unwrap();
    let detail = app.store.get_payment(id).await.unwrap().unwrap();
    assert_eq!(detail.payment.channel, PaymentChannel::Terminal);
    assert_eq!(
        detail.payment.terminal_id.as_deref(),
        Some(terminal_id.as_str())
    );
    assert_eq!(detail.payment.language, "de");
    assert!(detail
        .payment
        .id_tag
        .as_ref()
        .unwrap()
        .as_str()
        .starts_with("PAY"));
    assert_eq!(detail.steps.len(), 1);
    assert_eq!(detail.steps[0].kind, StepKind::Authorize);
    assert_eq!(detail.steps[0].status, StepStatus::Succeeded);
    assert_eq!(detail.steps[0].amount_minor, 3000);
    assert_eq!(
        detail.steps[0].gateway_ref.as_deref(),
        Some(intent.as_str())
    );
    // The operator sees which terminal took it.
    let (_, listed) = app.get("/api/v1/payments?channel=terminal").await;
    assert_eq!(listed["items"][0]["terminal_id"], json!(terminal_id));

    // The same key and body: the stored answer, nothing new.
    let (status, again) = post_report(&app, &key, Some("tap-1"), body.clone()).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    // The same key with another body is a client error.
    let (status, problem) =
        post_report(&app, &key, Some("tap-1"), report(&intent, OFFLINE, 3000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], json!("idempotency_key_reused"));
    // A new key for the same hold: the payment as it stands (200).
    let (status, existing) = post_report(&app, &key, Some("tap-2"), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{existing}");
    assert_eq!(existing["payment_id"], first["payment_id"]);
    let all = app
        .store
        .list_payments(PaymentFilter::default(), Default::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    let detail = app.store.get_payment(id).await.unwrap().unwrap();
    assert_eq!(detail.steps.len(), 1);

    // Polling.
    let path = format!("/api/v1/terminal/payments/{id}");
    let (status, polled) = app.call_as(&key, Method::GET, &path, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(polled["payment_id"], first["payment_id"]);
    assert_eq!(polled["state"], json!("starting"));

    // Another terminal sees neither the payment nor may it reuse the hold.
    let (_, other_key) = terminal(&app, "Other", &[ONLINE]).await;
    let (status, problem) = app.call_as(&other_key, Method::GET, &path, &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], json!("payment_not_found"));
    let (status, problem) = post_report(&app, &other_key, Some("tap-1"), body.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], json!("hold_already_used"));
    // Nor may the first terminal move it to another connector.
    let (status, problem) =
        post_report(&app, &key, Some("tap-3"), report(&intent, OFFLINE, 3000)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], json!("hold_already_used"));
}

#[tokio::test]
async fn refusals_record_nothing_and_leave_the_hold_to_the_terminal() {
    let app = TestApp::with_payments().await;
    priced(&app).await;
    let (id, key) = terminal(&app, "Kiosk", &[ONLINE]).await;
    let intent = hold(&app, 3000, Some("sim_visa")).await;
    let unconfirmed = hold(&app, 3000, None).await;
    let mut card_number = report(&intent, ONLINE, 3000);
    card_number["card"]["last4"] = json!("4242424242424242");
    let mut zero = report(&intent, ONLINE, 3000);
    zero["amount_minor"] = json!(0);
    let mut bad_ref = report(&intent, ONLINE, 3000);
    bad_ref["gateway_payment_ref"] = json!("");
    let cases = [
        (
            card_number,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (zero, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (
            bad_ref,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            report(&intent, UNLISTED, 3000),
            StatusCode::FORBIDDEN,
            "charger_not_allowed",
        ),
        (
            report(&intent, "CP-GHOST", 3000),
            StatusCode::FORBIDDEN,
            "charger_not_allowed",
        ),
        (
            report(&intent, ONLINE, 2500),
            StatusCode::UNPROCESSABLE_ENTITY,
            "hold_not_usable",
        ),
        (
            report(&unconfirmed, ONLINE, 3000),
            StatusCode::UNPROCESSABLE_ENTITY,
            "hold_not_usable",
        ),
        (
            report(&IntentRef::parse("sim_pi_unknown").unwrap(), ONLINE, 3000),
            StatusCode::UNPROCESSABLE_ENTITY,
            "hold_not_usable",
        ),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let idem = format!("bad-{i}");
        let (got, problem) = post_report(&app, &key, Some(&idem), body.clone()).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{body}: {problem}"
        );
    }
    // A card number never reaches the store; no payment was recorded.
    let all = app
        .store
        .list_payments(PaymentFilter::default(), Default::default())
        .await
        .unwrap();
    assert!(all.items.is_empty());
    // The hold is untouched: still the terminal's to use or release.
    let state = app.gateway().read_intent(&intent).await.unwrap();
    assert!(
        matches!(state.status, IntentStatus::Authorized { .. }),
        "{state:?}"
    );

    // A disabled terminal reports nothing new.
    let (status, _) = app
        .patch(
            &format!("/api/v1/terminals/{id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) =
        post_report(&app, &key, Some("off-1"), report(&intent, ONLINE, 3000)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["code"], json!("terminal_disabled"));
}

#[tokio::test]
async fn an_offline_charger_voids_the_hold_at_once() {
    let app = TestApp::with_payments().await;
    priced(&app).await;
    let (_, key) = terminal(&app, "Kiosk", &[OFFLINE]).await;
    let intent = hold(&app, 3000, Some("sim_mastercard")).await;
    // The terminal misread the brand; the last 4 digits match.
    let mut body = report(&intent, OFFLINE, 3000);
    body["card"]["last4"] = json!("4444");
    let (status, answer) = post_report(&app, &key, Some("tap-1"), body).await;
    // Recorded (Joule owned the hold), then released at once.
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["state"], json!("voided"));
    assert!(answer["message"].as_str().unwrap().contains("freigegeben"));
    let id = PaymentId::parse(answer["payment_id"].as_str().unwrap()).unwrap();
    let detail = app.store.get_payment(id).await.unwrap().unwrap();
    let kinds: Vec<_> = detail.steps.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, vec![StepKind::Authorize, StepKind::Void]);
    // The gateway's own card wins over the reported one.
    assert_eq!(detail.payment.card.unwrap().brand, "mastercard");
    let state = app.gateway().read_intent(&intent).await.unwrap();
    assert_eq!(state.status, IntentStatus::Canceled);
}

#[tokio::test]
async fn the_simulated_demo_terminal_reports_through_the_terminal_path() {
    let app = TestApp::with_payments().await;
    priced(&app).await;
    let (id, _) = terminal(&app, "Demo kiosk", &[ONLINE]).await;
    let page = Request::builder()
        .uri(format!("/demo/terminal/{id}"))
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(page).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(html.contains("SIMULATED"), "{html}");
    assert!(html.contains(ONLINE));

    let tap = |card: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("/demo/terminal/{id}/tap"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "charger_id={ONLINE}&connector_id=1&card={card}"
            )))
            .unwrap()
    };
    // A declined card reports nothing.
    let response = app
        .router
        .clone()
        .oneshot(tap("sim_declined"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let all = app
        .store
        .list_payments(PaymentFilter::default(), Default::default())
        .await
        .unwrap();
    assert!(all.items.is_empty());

    let response = app.router.clone().oneshot(tap("sim_visa")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        location.starts_with("https://pay.joule.test/pay/payments/"),
        "{location}"
    );
    let all = app
        .store
        .list_payments(PaymentFilter::default(), Default::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    let p = &all.items[0];
    assert_eq!(p.channel, PaymentChannel::Terminal);
    assert_eq!(p.terminal_id.as_deref(), Some(id.as_str()));
    assert_eq!(p.authorized_minor, 3000);
    assert!(location.ends_with(p.receipt_token.as_str()));

    // Not a terminal, or disabled: no demo page.
    for path in [
        format!("/demo/terminal/{}", uuid::Uuid::now_v7()),
        "/demo/terminal/nope".to_owned(),
    ] {
        let r = Request::builder().uri(path).body(Body::empty()).unwrap();
        assert_eq!(
            app.router.clone().oneshot(r).await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn without_payments_the_terminal_routes_say_so() {
    let app = TestApp::new().await;
    let (status, body) = app
        .post(
            "/api/v1/terminals",
            json!({"name": "X", "scope": "chargers", "chargers": [{"charger_id": "CP1"}]}),
        )
        .await;
    // No gateway configured and none given.
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], json!("gateway"));
    let (status, body) = app
        .post(
            "/api/v1/terminals",
            json!({"name": "X", "scope": "chargers", "chargers": [{"charger_id": "CP1"}], "gateway": "stripe"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap();
    let (_, issued) = app
        .post(&format!("/api/v1/terminals/{id}/key"), json!({}))
        .await;
    let key = issued["key"].as_str().unwrap();
    let (status, problem) = post_report(
        &app,
        key,
        Some("k"),
        report(&IntentRef::parse("pi_1").unwrap(), "CP1", 100),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["code"], json!("payments_disabled"));
}
