//! `GET /api/v1/kpis/payments`: payment KPIs per channel and per site,
//! over payments and gateway steps written through the store (the same
//! calls the payment service makes), with chargers and sites made through
//! the API.

use axum::http::StatusCode;
use chrono::Duration;
use joule_domain::kernel::money::Currency;
use joule_domain::payments::payment::{
    NewPayment, PaymentChannel, PaymentId, ReceiptToken, StepOutcome, StepRequest,
};
use joule_domain::pricing::HoldLimitPolicy;
use joule_domain::{ChargerId, ConnectorId};
use serde_json::json;

use crate::test_app::{problem_type, t0, TestApp};

/// A payment at `charger` whose steps are intended one minute apart from
/// `t0`, each finished with its outcome (`None`: left in progress).
async fn payment(
    app: &TestApp,
    channel: PaymentChannel,
    charger: &str,
    currency: &str,
    steps: &[(StepRequest, Option<StepOutcome>)],
) {
    let id = PaymentId::new_v7();
    app.store
        .create_payment(NewPayment {
            id,
            channel,
            gateway: "simulated".into(),
            gateway_payment_ref: Some(format!("sim_pi_{id}")),
            currency: Currency::parse(currency).unwrap(),
            card: None,
            charger_id: ChargerId::parse(charger).unwrap(),
            connector_id: ConnectorId::new(1).unwrap(),
            account_id: (channel == PaymentChannel::Account).then(|| "acct-1".into()),
            terminal_id: (channel == PaymentChannel::Terminal).then(|| "term-1".into()),
            hold_limit_policy: HoldLimitPolicy::StopSession,
            receipt_token: ReceiptToken::from_random_bytes(*id.as_uuid().as_bytes()),
            language: "en".into(),
            id_tag: None,
            created_at: t0(),
        })
        .await
        .unwrap();
    let claim = test_support::claim_as_a_request(app.store.as_ref(), id, t0()).await;
    for (i, (request, outcome)) in steps.iter().enumerate() {
        let at = t0() + Duration::minutes(i as i64);
        let step = app
            .store
            .intend_step(id, *request, &claim, at)
            .await
            .unwrap()
            .unwrap();
        if let Some(outcome) = outcome {
            app.store
                .finish_step(id, step.seq, outcome.clone(), &claim, at)
                .await
                .unwrap();
        }
    }
}

fn approved() -> Option<StepOutcome> {
    Some(StepOutcome::succeeded(Some("sim_ref".into())))
}

fn declined(code: &str) -> Option<StepOutcome> {
    Some(StepOutcome::failed(code, "declined"))
}

async fn seeded() -> TestApp {
    let app = TestApp::new().await;
    app.charger("CP-MAD").await;
    app.charger("CP-LOOSE").await;
    let (status, body) = app
        .post(
            "/api/v1/sites",
            json!({"id": "madrid", "name": "Madrid", "time_zone": "Europe/Madrid", "language": "es"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .put("/api/v1/chargers/CP-MAD/site", json!({"site_id": "madrid"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    use StepRequest::*;
    // Madrid, web: captured 6.30 EUR; declined; voided after no start.
    payment(
        &app,
        PaymentChannel::Web,
        "CP-MAD",
        "EUR",
        &[
            (Authorize { amount_minor: 5000 }, approved()),
            (Capture { amount_minor: 630 }, approved()),
        ],
    )
    .await;
    payment(
        &app,
        PaymentChannel::Web,
        "CP-MAD",
        "EUR",
        &[(Authorize { amount_minor: 5000 }, declined("card_declined"))],
    )
    .await;
    payment(
        &app,
        PaymentChannel::Web,
        "CP-MAD",
        "EUR",
        &[
            (Authorize { amount_minor: 5000 }, approved()),
            (Void, approved()),
        ],
    )
    .await;
    // Madrid, terminal: captured 12.00 EUR.
    payment(
        &app,
        PaymentChannel::Terminal,
        "CP-MAD",
        "EUR",
        &[
            (Authorize { amount_minor: 8000 }, approved()),
            (Capture { amount_minor: 1200 }, approved()),
        ],
    )
    .await;
    // No site, account: 9.00 USD charged; one insufficient_funds; one in progress.
    payment(
        &app,
        PaymentChannel::Account,
        "CP-LOOSE",
        "USD",
        &[(ChargeOffSession { amount_minor: 900 }, approved())],
    )
    .await;
    payment(
        &app,
        PaymentChannel::Account,
        "CP-LOOSE",
        "USD",
        &[(
            ChargeOffSession { amount_minor: 900 },
            declined("insufficient_funds"),
        )],
    )
    .await;
    payment(
        &app,
        PaymentChannel::Account,
        "CP-LOOSE",
        "USD",
        &[(ChargeOffSession { amount_minor: 900 }, None)],
    )
    .await;
    app
}

#[tokio::test]
async fn kpis_per_channel_count_attempts_declines_and_captured_amounts() {
    let app = seeded().await;
    let (status, report) = app
        .get("/api/v1/kpis/payments?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["group_by"], json!("channel"));
    assert!(report["success_rate_definition"]
        .as_str()
        .unwrap()
        .starts_with("approvals / authorization_attempts"));
    let groups = report["groups"].as_array().unwrap();
    let channels: Vec<_> = groups.iter().map(|g| g["channel"].clone()).collect();
    assert_eq!(
        channels,
        [json!("web"), json!("terminal"), json!("account")]
    );
    let web = &groups[0];
    assert_eq!(web["authorization_attempts"], json!(3));
    assert_eq!(web["approvals"], json!(2));
    assert_eq!(web["declines"], json!(1));
    assert_eq!(web["declines_by_code"], json!({"card_declined": 1}));
    assert_eq!(web["captures"], json!(1));
    assert_eq!(web["voids"], json!(1));
    assert_eq!(web["captured_minor"], json!({"EUR": 630}));
    let rate = web["success_rate"].as_f64().unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    let account = &groups[2];
    assert_eq!(account["authorization_attempts"], json!(3));
    assert_eq!(account["in_progress"], json!(1));
    assert_eq!(
        account["declines_by_code"],
        json!({"insufficient_funds": 1})
    );
    assert_eq!(account["captured_minor"], json!({"USD": 900}));
    let rate = account["success_rate"].as_f64().unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{rate}");
}

#[tokio::test]
async fn kpis_per_site_put_chargers_without_a_site_last() {
    let app = seeded().await;
    let (status, report) = app
        .get(
            "/api/v1/kpis/payments?group_by=site&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let madrid = &groups[0];
    assert_eq!(madrid["site_id"], json!("madrid"));
    assert_eq!(madrid["channel"], json!(null));
    assert_eq!(madrid["authorization_attempts"], json!(4));
    assert_eq!(madrid["approvals"], json!(3));
    assert_eq!(madrid["success_rate"], json!(0.75));
    assert_eq!(madrid["captures"], json!(2));
    assert_eq!(madrid["captured_minor"], json!({"EUR": 1830}));
    let loose = &groups[1];
    assert_eq!(loose["site_id"], json!(null));
    assert_eq!(loose["captured_minor"], json!({"USD": 900}));
}

#[tokio::test]
async fn kpis_default_to_the_last_30_days_and_count_only_the_range() {
    let app = seeded().await;
    // The test clock stands at t0, when the steps were intended: they are
    // in no range that ends at t0.
    let (status, report) = app.get("/api/v1/kpis/payments").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["to"], json!("2026-03-01T08:00:00Z"));
    assert_eq!(report["from"], json!("2026-01-30T08:00:00Z"));
    assert_eq!(report["groups"][0]["authorization_attempts"], json!(0));
    assert_eq!(report["groups"][0]["success_rate"], json!(null));
    app.clock.advance(Duration::hours(1));
    let (_, report) = app.get("/api/v1/kpis/payments").await;
    assert_eq!(report["groups"][0]["authorization_attempts"], json!(3));
}

#[tokio::test]
async fn bad_kpi_queries_are_422_problems() {
    let app = TestApp::new().await;
    for (query, field) in [
        ("group_by=connector", "group_by"),
        ("from=yesterday", "from"),
        ("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to"),
        ("from=2024-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
    ] {
        let (status, problem) = app.get(&format!("/api/v1/kpis/payments?{query}")).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        assert_eq!(problem["type"], json!(problem_type("validation_failed")));
        assert_eq!(problem["errors"][0]["field"], json!(field), "{query}");
    }
    let request = axum::http::Request::builder()
        .uri("/api/v1/kpis/payments")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, _) = app.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
