//! Black-box tests of the whole application: the real `Application` on port 0
//! with a temporary SQLite database, driven over real sockets.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use joule::app::Application;
use joule::settings::Settings;
use joule_domain::kernel::ids::ChargerId;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

fn settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.database.url = format!("sqlite://{}/joule.db", dir.display());
    s.ocpp.listen = "127.0.0.1:0".parse().unwrap();
    s.api.listen = "127.0.0.1:0".parse().unwrap();
    s.ocpp.unknown_chargers = joule::settings::UnknownChargers::AutoRegister;
    s
}

async fn connect(
    app: &Application,
    id: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = format!("ws://{}/ocpp/{id}", app.ocpp_addr())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().unwrap());
    let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers().get("Sec-WebSocket-Protocol").unwrap(),
        "ocpp1.6"
    );
    ws
}

async fn call(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    frame: serde_json::Value,
) -> serde_json::Value {
    ws.send(Message::text(frame.to_string())).await.unwrap();
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn first_start_generates_an_admin_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(settings(dir.path())).await.unwrap();
    let key = app.generated_admin_key().unwrap().to_owned();
    assert!(key.starts_with("jk_"));
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("http://{}/api/v1/chargers", app.api_addr()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    app.shutdown_token().cancel();
    app.run_until_stopped().await.unwrap();

    // Second start on the same database: no new key is generated.
    let again = Application::build(settings(dir.path())).await.unwrap();
    assert!(again.generated_admin_key().is_none());
    again.shutdown_token().cancel();
    again.run_until_stopped().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_closes_chargers_and_keeps_their_writes() {
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(settings(dir.path())).await.unwrap();
    let mut ws = connect(&app, "SHUTDOWN-1").await;
    let boot = call(
        &mut ws,
        serde_json::json!([2, "1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]),
    )
    .await;
    assert_eq!(boot[2]["status"], "Pending"); // auto-registered

    let token = app.shutdown_token();
    let stopped = tokio::spawn(app.run_until_stopped());
    token.cancel();

    // The charger receives a close frame (going away), not a dropped socket.
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.unwrap().code, CloseCode::Away);
    stopped.await.unwrap().unwrap();

    // Everything written before the shutdown is in the database.
    let reopened = Application::build(settings(dir.path())).await.unwrap();
    let charger = reopened
        .store()
        .get_charger(&ChargerId::parse("SHUTDOWN-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charger.boot.unwrap().vendor, "V");
    assert!(!charger.connection.connected);
    reopened.shutdown_token().cancel();
    reopened.run_until_stopped().await.unwrap();
}

#[tokio::test]
async fn health_and_openapi_need_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(settings(dir.path())).await.unwrap();
    let client = reqwest::Client::new();
    let health: serde_json::Value = client
        .get(format!("http://{}/api/v1/health", app.api_addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["database"], "sqlite");
    let doc: serde_json::Value = client
        .get(format!("http://{}/api/v1/openapi.json", app.api_addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/chargers/{id}/commands/{action}"].is_object());
    app.shutdown_token().cancel();
    app.run_until_stopped().await.unwrap();
}

/// The public pay POSTs are rate limited per client address (the TCP peer)
/// and new payments per connector: past the burst, 429 `rate_limited` with
/// `Retry-After`, before any payment is looked at.
#[tokio::test]
async fn pay_posts_are_rate_limited_per_client_and_per_connector() {
    use joule_api::rate_limit::{Limit, PayRateLimits};
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.payments.gateway = joule::settings::GatewayKind::Simulated;
    s.api.pay_rate_limit = PayRateLimits {
        per_ip: Limit {
            per_minute: 1,
            burst: 4,
        },
        per_connector: Limit {
            per_minute: 1,
            burst: 2,
        },
        client_ip_header: None,
    };
    let app = Application::build(s).await.unwrap();
    let client = reqwest::Client::new();
    let post = |path: &str| {
        client
            .post(format!("http://{}{path}", app.api_addr()))
            .header("content-type", "application/json")
            .body("{}")
            .send()
    };
    // Two new payments at one connector (an unknown charger: 404), then
    // that connector is limited...
    for _ in 0..2 {
        let r = post("/pay/NO-SUCH/1/payments").await.unwrap();
        assert_eq!(r.status(), 404);
    }
    let r = post("/pay/NO-SUCH/1/payments").await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let problem: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "rate_limited");
    assert_eq!(problem["status"], 429);
    // ... and this client has one pay POST left, whatever the route.
    let r = post(&format!("/pay/payments/{}/confirm", "a".repeat(32)))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = post("/pay/NO-SUCH/2/payments").await.unwrap();
    assert_eq!(r.status(), 429);
    // The pages and the status feed are not limited.
    let r = client
        .get(format!("http://{}/pay/NO-SUCH/1", app.api_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.shutdown_token().cancel();
    app.run_until_stopped().await.unwrap();
}

/// The binary an operator builds has no crash points: `JOULE_FAULT`, which
/// a test build (`--features joule/fault-injection`) obeys by killing
/// itself with SIGKILL, is not even read. The payment created below
/// passes the first crash point of every web payment
/// (`authorize_intended`), and this test process lives on to see its
/// answer. (scripts/test runs it in a build without the feature.)
#[cfg(not(feature = "fault-injection"))]
#[tokio::test]
async fn the_default_build_ignores_joule_fault() {
    // Not a setting: only a test build's payment wiring would look at it.
    std::env::set_var("JOULE_FAULT", "crash_after:authorize_intended");
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.payments.gateway = joule::settings::GatewayKind::Simulated;
    let app = Application::build(s).await.unwrap();
    let store = app.store();
    let now = chrono::Utc::now();
    test_support::records::accepted_charger(store.as_ref(), "NO-FAULT-1", now, true).await;
    test_support::records::default_energy_tariff(
        store.as_ref(),
        "T1",
        joule_domain::pricing::TariffExtensions {
            hold_amount_minor: Some(3000),
            ..Default::default()
        },
        now,
    )
    .await;

    let r = reqwest::Client::new()
        .post(format!(
            "http://{}/pay/NO-FAULT-1/1/payments",
            app.api_addr()
        ))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    app.shutdown_token().cancel();
    app.run_until_stopped().await.unwrap();
}
