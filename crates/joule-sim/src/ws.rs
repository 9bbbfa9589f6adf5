//! Opening an OCPP 1.6 WebSocket as a charge point does: `{base_url}/{id}`,
//! subprotocol `ocpp1.6`, optional HTTP Basic auth (OCPP 1.6 security
//! profile 1), `TCP_NODELAY`.
//!
//! Buffers are kept small on purpose: tungstenite's default 128 KiB read
//! buffer per socket would cost 2.5 GiB for 20,000 simulated chargers, while
//! OCPP frames are a few hundred bytes (the buffer still grows for a large
//! frame).

use std::time::Duration;

use base64::Engine as _;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

/// The OCPP 1.6 JSON subprotocol name (OCPP-J 1.6 §3.1.2).
pub const SUBPROTOCOL: &str = "ocpp1.6";

/// An open charger connection.
pub type Ws = WebSocketStream<TcpStream>;

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// Only `ws://` is built in (no TLS stack in the load generator: TLS
    /// termination belongs in front of the CSMS and would only measure the
    /// client's crypto).
    #[error("unsupported scheme in {0}: only ws:// is supported")]
    UnsupportedScheme(String),
    #[error("TCP connect failed: {0}")]
    Tcp(#[source] std::io::Error),
    #[error("server refused the upgrade with HTTP {0}")]
    Refused(StatusCode),
    #[error("WebSocket handshake failed: {0}")]
    Handshake(#[source] tokio_tungstenite::tungstenite::Error),
    #[error("connect timed out")]
    Timeout,
}

/// `{base_url}/{charger_id}`, without a doubled slash.
pub fn charger_url(base_url: &str, charger_id: &str) -> String {
    format!("{}/{}", base_url.trim_end_matches('/'), charger_id)
}

/// The `Authorization` header value for Basic auth with `id:password`.
pub fn basic_auth(charger_id: &str, password: &str) -> String {
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{charger_id}:{password}"));
    format!("Basic {token}")
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Opens the WebSocket of `charger_id`, TCP connect and handshake bounded by
/// `timeout` together.
pub async fn connect(
    base_url: &str,
    charger_id: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<Ws, ConnectError> {
    tokio::time::timeout(timeout, connect_inner(base_url, charger_id, password))
        .await
        .map_err(|_| ConnectError::Timeout)?
}

async fn connect_inner(
    base_url: &str,
    charger_id: &str,
    password: Option<&str>,
) -> Result<Ws, ConnectError> {
    let url = charger_url(base_url, charger_id);
    let invalid = |reason: String| ConnectError::InvalidUrl {
        url: url.clone(),
        reason,
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| invalid(e.to_string()))?;
    let uri = request.uri().clone();
    match uri.scheme_str() {
        Some("ws") => {}
        _ => return Err(ConnectError::UnsupportedScheme(url)),
    }
    let host = uri
        .host()
        .ok_or_else(|| invalid("no host".to_owned()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let headers = request.headers_mut();
    headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    if let Some(password) = password {
        let value = HeaderValue::from_str(&basic_auth(charger_id, password))
            .map_err(|e| invalid(e.to_string()))?;
        headers.insert(header::AUTHORIZATION, value);
    }
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(ConnectError::Tcp)?;
    // Small request/response frames: never wait for Nagle.
    let _ = tcp.set_nodelay(true);
    match tokio_tungstenite::client_async_with_config(request, tcp, Some(ws_config())).await {
        Ok((ws, _response)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(ConnectError::Refused(response.status()))
        }
        Err(e) => Err(ConnectError::Handshake(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_basic_auth() {
        assert_eq!(
            charger_url("ws://127.0.0.1:9000/ocpp/", "CP-0001"),
            "ws://127.0.0.1:9000/ocpp/CP-0001"
        );
        assert_eq!(charger_url("ws://h/ocpp", "CP-1"), "ws://h/ocpp/CP-1");
        // RFC 7617 example credentials.
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[tokio::test]
    async fn refuses_wss_and_bad_urls() {
        let err = connect(
            "wss://example.invalid/ocpp",
            "CP-1",
            None,
            Duration::from_secs(1),
        )
        .await;
        assert!(
            matches!(err, Err(ConnectError::UnsupportedScheme(_))),
            "{err:?}"
        );
        let err = connect("not a url", "CP-1", None, Duration::from_secs(1)).await;
        assert!(
            matches!(err, Err(ConnectError::InvalidUrl { .. })),
            "{err:?}"
        );
    }
}
