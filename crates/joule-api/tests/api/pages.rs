//! The public driver pages: pay page (price, hold, language), QR codes,
//! the payment status page and the receipt of a captured payment. Payments
//! are recorded through the store ports, as the payment service does.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use chrono::Duration;
use joule_domain::charging::auth::AuthorizationStatus;
use joule_domain::charging::session::{StartSession, StopSession};
use joule_domain::kernel::money::Currency;
use joule_domain::payments::card::CardSummary;
use joule_domain::payments::payment::{
    NewPayment, PaymentChannel, PaymentId, ReceiptToken, StepOutcome, StepRequest, StepSuccess,
};
use joule_domain::pricing::HoldLimitPolicy;
use joule_domain::{ChargerId, ConnectorId, IdToken};
use serde_json::json;
use tower::ServiceExt;

use crate::tariffs::body as tariff_body;
use crate::test_app::{t0, TestApp};

/// A GET without an API key, as a driver's phone sends it.
async fn page(
    app: &TestApp,
    path: &str,
    accept_language: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(Method::GET).uri(path);
    if let Some(al) = accept_language {
        request = request.header(header::ACCEPT_LANGUAGE, al);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, bytes.to_vec())
}

async fn html(app: &TestApp, path: &str, al: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let (status, headers, bytes) = page(app, path, al).await;
    (status, headers, String::from_utf8(bytes).unwrap())
}

fn assert_secret_headers(headers: &HeaderMap) {
    assert_eq!(headers[header::CACHE_CONTROL], "private, no-store");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
}

/// CP1 with tariff T1 as the default: 0.30 EUR/kWh, idle 6.00 EUR/h after
/// 10 min and 0.50 EUR per session, all + 21 % VAT; hold 50.00 EUR.
async fn priced_charger(app: &TestApp) {
    app.charger("CP1").await;
    let (status, _) = app.post("/api/v1/tariffs", tariff_body("T1")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .put("/api/v1/tariffs/default", json!({"tariff_id": "T1"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn pay_page_shows_prices_incl_vat_the_hold_and_speaks_the_drivers_language() {
    let app = TestApp::new().await;
    priced_charger(&app).await;

    let (status, headers, en) = html(&app, "/pay/CP1/1", None).await;
    assert_eq!(status, StatusCode::OK, "{en}");
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_secret_headers(&headers);
    assert!(en.contains(r#"<html lang="en">"#), "{en}");
    assert!(en.contains("0.363 EUR/kWh"), "{en}");
    assert!(en.contains("7.26 EUR/h idle after 10 min"), "{en}");
    assert!(en.contains("0.605 EUR/session"), "{en}");
    assert!(en.contains("a hold of 50.00 EUR on your card"), "{en}");
    assert!(en.contains("the rest of the hold is released"), "{en}");
    // The tariff's own text in the driver's language.
    assert!(en.contains("0.30 EUR/kWh, idle fee 6.00 EUR/h after 10 min"));
    assert!(en.contains(r#"src="/static/pay.js""#));
    assert!(
        en.contains(r#""stripe_js_url":"http://stripe.test/v3/""#),
        "{en}"
    );

    let (_, _, es) = html(&app, "/pay/CP1/1?lang=es", Some("de")).await;
    assert!(es.contains(r#"<html lang="es">"#));
    assert!(es.contains("0,363 EUR/kWh"), "{es}");
    assert!(es.contains("7,26 EUR/h de inactividad tras 10 min"), "{es}");
    assert!(es.contains("retenemos 50,00 EUR en su tarjeta"), "{es}");
    assert!(es.contains("0,30 EUR/kWh, 6,00 EUR/h de inactividad tras 10 min"));

    let (_, _, de) = html(&app, "/pay/CP1/2", Some("it, de-AT;q=0.8, fr;q=0.5")).await;
    assert!(de.contains(r#"<html lang="de">"#), "{de}");
    assert!(de.contains("0,363 EUR/kWh"));
    let (_, _, fr) = html(&app, "/pay/CP1/1?lang=xx", Some("fr-CH")).await;
    assert!(fr.contains(r#"<html lang="fr">"#), "{fr}");
}

#[tokio::test]
async fn unknown_private_and_unpriced_chargers_get_pages_not_json() {
    let app = TestApp::new().await;
    app.charger("CP1").await;
    let (status, headers, unpriced) = html(&app, "/pay/CP1/1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(
        unpriced.contains("cannot be paid by card right now"),
        "{unpriced}"
    );

    let (status, _, unknown) = html(&app, "/pay/NOPE/1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(unknown.contains("Charger not found"));
    let (status, _, bad) = html(&app, "/pay/CP1/0", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(bad.contains("Charger not found"));

    // A private charger looks exactly like an unknown one.
    priced_charger_private(&app).await;
    let (status, _, private) = html(&app, "/pay/CP-PRIV/1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(private, unknown);
    let (status, _, _) = page(&app, "/pay/CP-PRIV/1/qr.png", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn priced_charger_private(app: &TestApp) {
    app.charger("CP-PRIV").await;
    app.post("/api/v1/tariffs", tariff_body("T9")).await;
    app.put("/api/v1/tariffs/default", json!({"tariff_id": "T9"}))
        .await;
    app.post(
        "/api/v1/user-groups",
        json!({"id": "staff", "name": "Staff"}),
    )
    .await;
    let (status, body) = app
        .put(
            "/api/v1/chargers/CP-PRIV/access",
            json!({"access": "private", "allowed_groups": ["staff"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn decode_qr(png_bytes: &[u8]) -> Vec<String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    img.detect_grids()
        .iter()
        .map(|g| g.decode().unwrap().1)
        .collect()
}

#[tokio::test]
async fn qr_codes_hold_the_absolute_pay_page_url() {
    let app = TestApp::new().await;
    priced_charger(&app).await;
    let (status, headers, png) = page(&app, "/pay/CP1/2/qr.png", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    // The configured base URL's trailing slash is not doubled.
    assert_eq!(decode_qr(&png), vec!["https://pay.joule.test/pay/CP1/2"]);

    let (status, headers, svg) = html(&app, "/pay/CP1/2/qr.svg", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
    assert!(svg.contains("<svg"), "{svg}");

    let (status, _, _) = page(&app, "/pay/NOPE/1/qr.svg", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn static_script_and_style_are_served_by_joule() {
    let app = TestApp::new().await;
    for (file, content_type) in [
        ("pay.js", "text/javascript; charset=utf-8"),
        ("status.js", "text/javascript; charset=utf-8"),
        ("pages.css", "text/css; charset=utf-8"),
    ] {
        let (status, headers, body) = page(&app, &format!("/static/{file}"), None).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert_eq!(headers[header::CONTENT_TYPE], content_type);
        assert!(!body.is_empty());
    }
    let (status, _, _) = page(&app, "/static/secret.txt", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn token() -> ReceiptToken {
    ReceiptToken::from_random_bytes(*uuid::Uuid::new_v4().as_bytes())
}

/// A web payment on CP1/1 with a 50.00 EUR hold on a Visa •••• 4242,
/// linked to a session of 10 kWh from t0 to t0 + 60 min.
async fn paid_session(app: &TestApp) -> (PaymentId, ReceiptToken) {
    let charger = ChargerId::parse("CP1").unwrap();
    let connector = ConnectorId::new(1).unwrap();
    let token = token();
    let payment = app
        .store
        .create_payment(NewPayment {
            id: PaymentId::new_v7(),
            channel: PaymentChannel::Web,
            gateway: "simulated".into(),
            gateway_payment_ref: None,
            currency: Currency::parse("EUR").unwrap(),
            card: None,
            charger_id: charger.clone(),
            connector_id: connector,
            account_id: None,
            terminal_id: None,
            hold_limit_policy: HoldLimitPolicy::StopSession,
            receipt_token: token.clone(),
            language: "es".into(),
            id_tag: None,
            created_at: t0(),
        })
        .await
        .unwrap();
    let s = app.store.as_ref();
    let claim = test_support::claim_as_a_request(s, payment.id, t0()).await;
    let step = s
        .intend_step(
            payment.id,
            StepRequest::Authorize { amount_minor: 5000 },
            &claim,
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    s.finish_step(
        payment.id,
        step.seq,
        StepOutcome::Succeeded(StepSuccess {
            gateway_ref: Some("sim_pi_1".into()),
            card: Some(CardSummary::new("visa", "4242", Some(12), Some(2030)).unwrap()),
        }),
        &claim,
        t0(),
    )
    .await
    .unwrap();
    let started = s
        .start_session(StartSession {
            charger_id: charger.clone(),
            connector_id: connector,
            id_tag: IdToken::parse("WEB-1").unwrap(),
            meter_start_wh: 1000,
            started_at: t0(),
            reservation_id: None,
            authorization: AuthorizationStatus::Accepted,
            received_at: t0(),
            tariff_id: Some("T1".into()),
        })
        .await
        .unwrap();
    s.link_session(payment.id, started.session.id, t0())
        .await
        .unwrap();
    (payment.id, token)
}

async fn stop_and_capture(app: &TestApp, payment: PaymentId) {
    let s = app.store.as_ref();
    let session = s
        .get_payment(payment)
        .await
        .unwrap()
        .unwrap()
        .payment
        .session_id
        .unwrap();
    let session = s.get_session(session).await.unwrap().unwrap();
    let end = t0() + Duration::minutes(60);
    s.stop_session(StopSession {
        charger_id: session.charger_id.clone(),
        transaction_id: session.transaction_id,
        id_tag: None,
        meter_stop_wh: 11_000,
        stopped_at: end,
        reason: None,
        transaction_data: vec![],
        received_at: end,
    })
    .await
    .unwrap();
    // 10 kWh × 0.363 + 0.605 session fee = 4.235 → 4.24 EUR.
    let claim = test_support::claim_as_a_request(s, payment, end).await;
    let step = s
        .intend_step(
            payment,
            StepRequest::Capture { amount_minor: 424 },
            &claim,
            end,
        )
        .await
        .unwrap()
        .unwrap();
    s.finish_step(
        payment,
        step.seq,
        StepOutcome::succeeded(Some("sim_pi_1".into())),
        &claim,
        end,
    )
    .await
    .unwrap();
    app.clock.set(end + Duration::minutes(1));
}

#[tokio::test]
async fn status_page_renders_the_stored_state_and_refreshes_without_script() {
    let app = TestApp::new().await;
    priced_charger(&app).await;
    let (payment, token) = paid_session(&app).await;
    let path = format!("/pay/payments/{}", token.as_str());
    let (status, headers, charging) = html(&app, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{charging}");
    assert_secret_headers(&headers);
    // In the payment's language, whatever the browser says.
    assert!(charging.contains(r#"<html lang="es">"#));
    assert!(charging.contains(r#"data-state="charging""#), "{charging}");
    assert!(charging.contains("Cargando"));
    assert!(charging.contains("visa •••• 4242"));
    assert!(charging.contains("50,00 EUR"));
    assert!(charging.contains(r#"<noscript><meta http-equiv="refresh" content="5">"#));
    assert!(charging.contains(r#"src="/static/status.js""#));
    // Without script the running cost is rendered: the session fee so far.
    assert!(
        charging.contains(r#"<dd id="cost">0,61 EUR</dd>"#),
        "{charging}"
    );

    stop_and_capture(&app, payment).await;
    let (_, _, paid) = html(&app, &path, None).await;
    assert!(paid.contains(r#"data-state="captured""#), "{paid}");
    assert!(paid.contains("4,24 EUR"));
    assert!(paid.contains(r#"<dd id="energy">10 kWh</dd>"#), "{paid}");
    assert!(!paid.contains("http-equiv=\"refresh\""));
    assert!(paid.contains(&format!(r#"href="/receipts/{}""#, token.as_str())));

    let (status, _, missing) = html(&app, &format!("/pay/payments/{}", token_str()), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing.contains("Payment not found"));
    let (status, _, _) = html(&app, "/pay/payments/not-a-token", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn token_str() -> String {
    token().as_str().to_owned()
}

#[tokio::test]
async fn receipt_page_and_pdf_only_once_captured() {
    let app = TestApp::new().await;
    priced_charger(&app).await;
    let (payment, token) = paid_session(&app).await;
    let path = format!("/receipts/{}", token.as_str());
    let (status, headers, before) = html(&app, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_secret_headers(&headers);
    assert!(before.contains("Receipt not available"), "{before}");
    let (status, _, _) = page(&app, &format!("{path}.pdf"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    stop_and_capture(&app, payment).await;
    let (status, headers, receipt) = html(&app, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_secret_headers(&headers);
    assert!(receipt.contains(r#"lang="es""#), "{receipt}");
    assert!(receipt.contains("Joule Test Charging"), "{receipt}");
    assert!(receipt.contains("ES-B12345678"));
    assert!(receipt.contains("4242"));
    assert!(!receipt.contains("4000"));
    assert!(receipt.contains("4,24"), "{receipt}");
    assert!(receipt.contains("CP1"));

    let (status, headers, pdf) = page(&app, &format!("{path}.pdf"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_secret_headers(&headers);
    assert!(pdf.starts_with(b"%PDF"));

    let (status, _, _) = page(&app, &format!("/receipts/{}", token_str()), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
