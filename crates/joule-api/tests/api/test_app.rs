//! A test app: the real router over the real SQLite store in a temp
//! directory, a real Argon2 hasher, and a small in-process command responder.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::Argon2;
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use joule_api::pages::PagesConfig;
use joule_api::{generate_api_key, router, ApiState, PasswordHasher};
use joule_domain::ports::clock::ManualClock;
use joule_domain::ports::command::{ChargerCommand, CommandError, CommandReply, CommandRouter};
use joule_domain::ports::store::Store;
use joule_domain::receipts::receipt::OperatorInfo;
use joule_domain::ChargerId;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Argon2id with default parameters, as the binary wires it.
#[derive(Debug)]
pub struct Argon2Hasher;

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, plain: &str) -> Result<String, String> {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(plain.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    }
}

pub fn verify_password(hash: &str, plain: &str) -> bool {
    let parsed = PasswordHash::new(hash).unwrap();
    Argon2::default()
        .verify_password(plain.as_bytes(), &parsed)
        .is_ok()
}

/// The only charger with a "connection": answers per action so every
/// `CommandError` path of the API can be exercised. Every other charger is
/// offline.
#[derive(Debug)]
pub struct Responder {
    pub online: ChargerId,
}

pub const ONLINE: &str = "CP-ONLINE";

/// The public base URL the test app's pages and QR codes use.
pub const PUBLIC_BASE_URL: &str = "https://pay.joule.test/";

#[async_trait]
impl CommandRouter for Responder {
    async fn send(
        &self,
        charger: &ChargerId,
        command: ChargerCommand,
    ) -> Result<CommandReply, CommandError> {
        if *charger != self.online {
            return Err(CommandError::Offline(charger.clone()));
        }
        let (action, payload) = match command {
            // The payment service's start.
            ChargerCommand::StartCharging { .. } => return Ok(CommandReply::Accepted),
            ChargerCommand::Raw { action, payload } => (action, payload),
            other => return Err(CommandError::Unsupported(format!("{other:?}"))),
        };
        let answer = match action.as_str() {
            "ClearCache" => Ok(json!({"status": "Accepted"})),
            "Reset" => match payload.get("type").and_then(Value::as_str) {
                Some("Hard" | "Soft") => Ok(json!({"status": "Accepted"})),
                _ => Err(CommandError::InvalidPayload(
                    "type: must be Hard or Soft".to_owned(),
                )),
            },
            // Echoes the payload, so tests see what the API passed on.
            "DataTransfer" => Ok(json!({"status": "Accepted", "data": payload.to_string()})),
            "GetConfiguration" => Err(CommandError::Timeout(charger.clone())),
            "TriggerMessage" => Err(CommandError::Busy(charger.clone())),
            "UnlockConnector" => Err(CommandError::CallError {
                code: "NotSupported".to_owned(),
                description: "no motorised lock".to_owned(),
            }),
            "ChangeAvailability" => Err(CommandError::ConnectionClosed),
            "RemoteStartTransaction" => Ok(json!({"status": "Accepted"})),
            _ => Err(CommandError::Unsupported(action)),
        };
        answer.map(CommandReply::Data)
    }

    fn is_connected(&self, charger: &ChargerId) -> bool {
        *charger == self.online
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub db: joule_store::Database,
    pub clock: Arc<ManualClock>,
    pub key: String,
    gateway: Option<Arc<joule_payments::SimulatedGateway>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::build(false).await
    }

    /// With the payment service on the real simulated gateway.
    pub async fn with_payments() -> Self {
        Self::build(true).await
    }

    /// The simulated gateway of an app built [`TestApp::with_payments`].
    pub fn gateway(&self) -> Arc<joule_payments::SimulatedGateway> {
        self.gateway.clone().expect("built with payments")
    }

    async fn build(payments: bool) -> Self {
        let (dir, db, store) = test_support::TempDatabase::sqlite("joule.db")
            .await
            .into_parts();
        let clock = Arc::new(ManualClock::new(t0()));
        let (key, new_key) = generate_api_key("test");
        store.create_api_key(new_key, t0()).await.unwrap();
        let commands: Arc<dyn CommandRouter> = Arc::new(Responder {
            online: ChargerId::parse(ONLINE).unwrap(),
        });
        let gateway = payments.then(|| {
            Arc::new(joule_payments::SimulatedGateway::with_clock(
                joule_payments::SimulatedConfig::default(),
                clock.clone(),
            ))
        });
        let service = gateway.as_ref().map(|g| {
            joule_domain::services::payments::PaymentService::new(
                joule_domain::services::payments::PaymentPorts {
                    payments: store.clone(),
                    sessions: store.clone(),
                    tariffs: store.clone(),
                    chargers: store.clone(),
                    assignments: store.clone(),
                    commands: commands.clone(),
                    clock: clock.clone(),
                    random: Arc::new(test_support::UuidRandom),
                    faults: None,
                },
                joule_domain::services::payments::GatewayRegistry::new()
                    .with(g.clone())
                    .with_test_cards("simulated", g.clone()),
                joule_domain::services::payments::PaymentSettings {
                    public_base_url: PUBLIC_BASE_URL.trim_end_matches('/').to_owned(),
                    ..Default::default()
                },
            )
        });
        let state = ApiState {
            store: store.clone(),
            commands,
            clock: clock.clone(),
            password_hasher: Arc::new(Argon2Hasher),
            pages: Arc::new(PagesConfig::new(
                PUBLIC_BASE_URL,
                "http://stripe.test/v3/",
                OperatorInfo {
                    name: "Joule Test Charging".to_owned(),
                    address: vec!["1 Test Street".to_owned()],
                    vat_id: Some("ES-B12345678".to_owned()),
                    contact: Some("help@joule.test".to_owned()),
                    complaint_notice: None,
                },
            )),
            payments: service,
        };
        Self {
            router: router(state),
            store,
            db,
            clock,
            key,
            gateway,
            _dir: dir,
        }
    }

    /// Sends a raw request as is.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(
                headers[header::CONTENT_TYPE],
                "application/problem+json",
                "error without problem JSON: {body}"
            );
        }
        (status, headers, body)
    }

    /// An authenticated request with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key));
        let body = match body {
            Some(v) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (status, _, body) = self.send(builder.body(body).unwrap()).await;
        (status, body)
    }

    /// An authenticated request with a raw body and content type.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key));
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        let (status, _, body) = self
            .send(builder.body(Body::from(body.to_owned())).unwrap())
            .await;
        (status, body)
    }

    /// A request with another bearer key (a terminal's) and extra headers.
    pub async fn call_as(
        &self,
        bearer: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = match body {
            Some(v) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (status, _, body) = self.send(builder.body(body).unwrap()).await;
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a charger through the API.
    pub async fn charger(&self, id: &str) -> Value {
        let (status, body) = self.post("/api/v1/chargers", json!({"id": id})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

/// The `type` URI of a code.
pub fn problem_type(code: &str) -> String {
    format!("{}{code}", joule_api::problem::PROBLEM_TYPE_BASE)
}
