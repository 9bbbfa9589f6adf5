//! `/api/v1/payments` and the pay routes without a gateway configured:
//! payments listed from the store, problem codes for bad input, and the pay
//! routes off (503 `payments_disabled`). The flows with a gateway run in
//! crates/joule/tests/payments.rs and tests/interop/test_web_payments.py.

use axum::http::{Method, StatusCode};
use joule_domain::kernel::money::Currency;
use joule_domain::payments::payment::{NewPayment, PaymentChannel, PaymentId, ReceiptToken};
use joule_domain::pricing::HoldLimitPolicy;
use joule_domain::{ChargerId, ConnectorId};
use serde_json::json;

use crate::test_app::{problem_type, t0, TestApp};

async fn stored_payment(app: &TestApp) -> PaymentId {
    let id = PaymentId::new_v7();
    app.store
        .create_payment(NewPayment {
            id,
            channel: PaymentChannel::Web,
            gateway: "simulated".into(),
            gateway_payment_ref: Some("sim_pi_9".into()),
            currency: Currency::parse("EUR").unwrap(),
            card: None,
            charger_id: ChargerId::parse("CP-1").unwrap(),
            connector_id: ConnectorId::new(1).unwrap(),
            account_id: None,
            terminal_id: None,
            hold_limit_policy: HoldLimitPolicy::StopSession,
            receipt_token: ReceiptToken::from_random_bytes([9; 16]),
            language: "en".into(),
            id_tag: None,
            created_at: t0(),
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn payments_are_listed_and_read_with_their_steps() {
    let app = TestApp::new().await;
    let id = stored_payment(&app).await;
    let (status, page) = app.get("/api/v1/payments?channel=web&state=created").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["id"], json!(id.to_string()));
    assert_eq!(page["items"][0]["refund_state"], json!("none"));
    let (status, page) = app.get("/api/v1/payments?state=captured").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"], json!([]));
    let (status, detail) = app.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["steps"], json!([]));
    assert_eq!(detail["gateway_payment_ref"], json!("sim_pi_9"));

    let (status, problem) = app.get("/api/v1/payments?state=refunded").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], json!("state"));
    let (status, problem) = app
        .get(&format!("/api/v1/payments/{}", PaymentId::new_v7()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["type"], json!(problem_type("payment_not_found")));
}

#[tokio::test]
async fn refunds_require_an_idempotency_key() {
    let app = TestApp::new().await;
    let id = stored_payment(&app).await;
    let (status, problem) = app
        .post(&format!("/api/v1/payments/{id}/refund"), json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], json!("idempotency_key_missing"));
}

#[tokio::test]
async fn pay_routes_are_off_without_a_gateway() {
    let app = TestApp::new().await;
    for (method, path) in [
        (Method::POST, "/pay/CP-1/1/payments".to_owned()),
        (
            Method::POST,
            format!("/pay/payments/{}/confirm", "a".repeat(32)),
        ),
        (
            Method::GET,
            format!("/pay/payments/{}/status", "a".repeat(32)),
        ),
        (Method::POST, "/webhooks/stripe".to_owned()),
    ] {
        let (status, problem) = app.call(method, &path, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {problem}");
        assert_eq!(problem["code"], json!("payments_disabled"));
    }
}
