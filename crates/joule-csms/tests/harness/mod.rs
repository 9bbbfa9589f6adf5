//! Test harness: the real server on port 0 over a temp SQLite database, and
//! a scripted charger on a real WebSocket.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use joule_csms::{Argon2Passwords, Csms, CsmsSettings};
use joule_domain::charging::charger::{NewCharger, RegistrationStatus};
use joule_domain::ports::clock::SystemClock;
use joule_domain::ports::store::ChargerStore as _;
use joule_domain::ports::store::TokenStore as _;
use joule_domain::services::charging::{ChargingPorts, ChargingService, ChargingSettings};
use joule_domain::ChargerId;
use joule_store::sqlite::SqliteStore;
use joule_store::Database;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

pub struct App {
    pub addr: std::net::SocketAddr,
    pub csms: Arc<Csms>,
    pub db: Database,
    pub sqlite: Arc<SqliteStore>,
    pub hasher: Arc<Argon2Passwords>,
    pub server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

pub async fn spawn(configure: impl FnOnce(&mut CsmsSettings)) -> App {
    let (dir, db, _) = test_support::TempDatabase::sqlite("j.db")
        .await
        .into_parts();
    let Database::Sqlite(sqlite) = &db else {
        panic!("not sqlite")
    };
    let sqlite = Arc::clone(sqlite);
    let service = ChargingService::new(
        ChargingPorts::from(sqlite.clone() as Arc<dyn joule_domain::ports::store::Store>),
        Arc::new(SystemClock),
        ChargingSettings::default(),
    );
    let mut settings = CsmsSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..CsmsSettings::default()
    };
    configure(&mut settings);
    let hasher = Arc::new(Argon2Passwords::new());
    let csms = Csms::new(
        settings,
        service,
        sqlite.clone(),
        sqlite.clone(),
        hasher.clone(),
    );
    let (addr, serve) = csms.bind().await.unwrap();
    let server = tokio::spawn(serve);
    App {
        addr,
        csms,
        db,
        sqlite,
        hasher,
        server,
        _dir: dir,
    }
}

impl App {
    pub fn store(&self) -> &SqliteStore {
        &self.sqlite
    }

    pub async fn add_charger(
        &self,
        id: &str,
        registration: RegistrationStatus,
        password: Option<&str>,
    ) {
        let password_hash = password.map(|p| self.hasher.hash(p).unwrap());
        self.sqlite
            .create_charger(
                NewCharger {
                    id: ChargerId::parse(id).unwrap(),
                    label: None,
                    location: None,
                    registration,
                    password_hash,
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
    }

    /// Registers an accepted RFID token.
    pub async fn add_token(&self, id_tag: &str) {
        self.sqlite
            .create_token(
                joule_domain::charging::token::NewToken {
                    id_tag: joule_domain::kernel::ids::IdToken::parse(id_tag).unwrap(),
                    token_type: joule_domain::charging::token::IdTokenType::Iso14443,
                    kind: joule_domain::charging::token::TokenKind::Rfid,
                    status: joule_domain::charging::token::TokenStatus::Accepted,
                    expires_at: None,
                    parent_id_tag: None,
                    allowed_chargers: vec![],
                    label: None,
                    language: None,
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
    }

    pub fn url(&self, id: &str) -> String {
        format!("ws://{}/ocpp/{id}", self.addr)
    }

    /// Connects with `ocpp1.6` and no password.
    pub async fn connect(&self, id: &str) -> Cp {
        self.connect_with(&self.url(id), Some("ocpp1.6"), None)
            .await
            .unwrap_or_else(|status| panic!("refused: {status}"))
    }

    /// Connects; `Err(http status)` when the handshake is refused.
    pub async fn connect_with(
        &self,
        url: &str,
        protocol: Option<&str>,
        basic: Option<(&str, &str)>,
    ) -> Result<Cp, u16> {
        let mut request = url.into_client_request().unwrap();
        if let Some(p) = protocol {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
        }
        if let Some((user, password)) = basic {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request
                .headers_mut()
                .insert("Authorization", format!("Basic {token}").parse().unwrap());
        }
        let stream = TcpStream::connect(self.addr).await.unwrap();
        match tokio_tungstenite::client_async(request, stream).await {
            Ok((ws, response)) => {
                assert_eq!(
                    response
                        .headers()
                        .get("sec-websocket-protocol")
                        .and_then(|v| v.to_str().ok()),
                    Some("ocpp1.6")
                );
                Ok(Cp { ws, next_id: 0 })
            }
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("handshake failed: {other}"),
        }
    }

    /// Waits (bounded) until only `n` connection tasks are alive.
    pub async fn wait_for_tasks(&self, n: usize) {
        for _ in 0..1000 {
            if self.csms.connection_tasks() == n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("connection tasks did not settle at {n}");
    }
}

/// A scripted charger.
pub struct Cp {
    pub ws: WebSocketStream<TcpStream>,
    next_id: u64,
}

impl Cp {
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_owned())).await.unwrap();
    }

    /// The next text frame, parsed.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Sends a CALL and returns the answer frame (`[3,..]` or `[4,..]`).
    pub async fn call(&mut self, action: &str, payload: Value) -> Value {
        self.next_id += 1;
        let id = format!("m{}", self.next_id);
        self.send_text(&json!([2, id, action, payload]).to_string())
            .await;
        let answer = self.recv().await;
        assert_eq!(answer[1], json!(id), "answer to another id: {answer}");
        answer
    }

    /// The CALLRESULT payload of a CALL (panics on CALLERROR).
    pub async fn ok(&mut self, action: &str, payload: Value) -> Value {
        let answer = self.call(action, payload).await;
        assert_eq!(answer[0], json!(3), "expected CALLRESULT, got {answer}");
        answer[2].clone()
    }

    pub async fn boot(&mut self) -> Value {
        self.ok(
            "BootNotification",
            json!({"chargePointVendor": "Joule", "chargePointModel": "Test"}),
        )
        .await
    }

    /// Heartbeat answered with a CALLRESULT: the connection still works.
    pub async fn alive(&mut self) {
        let r = self.ok("Heartbeat", json!({})).await;
        assert!(r["currentTime"].is_string());
    }

    /// Reads until a Close frame; returns its code.
    pub async fn expect_close(&mut self) -> Option<CloseCode> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }
}

pub fn cid(id: &str) -> ChargerId {
    ChargerId::parse(id).unwrap()
}

pub fn error_code(answer: &Value) -> &str {
    assert_eq!(answer[0], json!(4), "expected CALLERROR, got {answer}");
    answer[2].as_str().unwrap()
}
