//! The HTTP upgrade, done by hand so that the credential check (a database
//! read and an Argon2 verification) can be async: read the request head with
//! `httparse` under a size limit, check path, WebSocket headers, subprotocol
//! and Basic auth, then write `101 Switching Protocols` ourselves.
//!
//! Refusals (OCPP-J 1.6 §3 and the 1.6 security whitepaper, profile 1):
//! path not `/ocpp/{id}` → 404; id not a valid charger identity → 400; not a
//! WebSocket upgrade → 400 (426 for a version other than 13); no `ocpp1.6`
//! offered → 400; unknown charger → 404 (or auto-registered); a charger with
//! a password and a missing/wrong one or a username other than its id → 401.
//! A charger with no password is let in without auth (security profile 0).

use std::sync::Arc;

use base64::Engine as _;
use joule_domain::charging::charger::RegistrationStatus;
use joule_domain::ChargerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::settings::UnknownChargerPolicy;
use crate::state::Inner;

/// The only subprotocol served today.
pub(crate) const OCPP16: &str = "ocpp1.6";
const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 32;

/// A charger that passed the handshake.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub charger: ChargerId,
    pub registration: RegistrationStatus,
    /// Bytes the client sent after the request head (normally none).
    pub rest: Vec<u8>,
}

/// Why the handshake failed; each maps to one HTTP answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("request head too large or malformed")]
    BadRequest(&'static str),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("unsupported websocket version")]
    Version,
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("internal: {0}")]
    Internal(String),
}

impl Refusal {
    fn response(&self) -> Option<&'static str> {
        Some(match self {
            Refusal::Io(_) => return None,
            Refusal::BadRequest(_) => "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Refusal::NotFound(_) => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Refusal::Version => "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Refusal::Unauthorized(_) => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Joule OCPP\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Refusal::Internal(_) => "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        })
    }
}

/// Runs the handshake on a fresh TCP connection. On refusal the HTTP error
/// has been written (best effort) and the reason is returned for logging.
pub(crate) async fn accept(
    inner: &Arc<Inner>,
    stream: &mut TcpStream,
) -> Result<Admitted, Refusal> {
    match negotiate(inner, stream).await {
        Ok((admitted, accept_key)) => {
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept_key}\r\nSec-WebSocket-Protocol: {OCPP16}\r\n\r\n"
            );
            stream.write_all(response.as_bytes()).await?;
            Ok(admitted)
        }
        Err(refusal) => {
            if let Some(response) = refusal.response() {
                // Best effort: the client may already be gone.
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
            Err(refusal)
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> Result<(Vec<u8>, usize), Refusal> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(Refusal::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => return Ok((buf, len)),
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => return Err(Refusal::BadRequest("head too large")),
            Err(_) => return Err(Refusal::BadRequest("malformed request head")),
        }
    }
}

fn header<'a>(req: &'a httparse::Request<'_, '_>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(str::trim)
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Decodes `%XX` escapes (chargers may escape `|`, `@`, `=`, ...).
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn negotiate(
    inner: &Arc<Inner>,
    stream: &mut TcpStream,
) -> Result<(Admitted, String), Refusal> {
    let (buf, head_len) = read_head(stream).await?;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(&buf)
        .map_err(|_| Refusal::BadRequest("malformed request head"))?;

    let path = req.path.unwrap_or_default();
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let raw_id = path
        .strip_prefix("/ocpp/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or(Refusal::NotFound("path is not /ocpp/{chargeBoxId}"))?;
    let charger = percent_decode(raw_id)
        .and_then(|id| ChargerId::parse(&id).ok())
        .ok_or(Refusal::BadRequest("invalid charge box identity"))?;
    let span = tracing::info_span!("handshake", charger_id = %charger);
    let _enter = span.enter();

    if req.method != Some("GET")
        || !has_token(header(&req, "upgrade"), "websocket")
        || !has_token(header(&req, "connection"), "upgrade")
    {
        return Err(Refusal::BadRequest("not a websocket upgrade"));
    }
    if header(&req, "sec-websocket-version") != Some("13") {
        return Err(Refusal::Version);
    }
    let key = header(&req, "sec-websocket-key")
        .filter(|k| !k.is_empty())
        .ok_or(Refusal::BadRequest("Sec-WebSocket-Key missing"))?;
    let offered: Vec<&str> = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-protocol"))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if !offered.contains(&OCPP16) {
        drop(_enter);
        tracing::warn!(
            charger_id = %charger,
            offered = ?offered,
            "handshake refused: no supported OCPP subprotocol offered (we speak ocpp1.6)"
        );
        return Err(Refusal::BadRequest("no supported subprotocol"));
    }
    let accept_key = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let authorization = header(&req, "authorization").map(str::to_owned);
    let rest = buf[head_len..].to_vec();
    drop(_enter);

    let registration = authenticate(inner, &charger, authorization.as_deref()).await?;
    Ok((
        Admitted {
            charger,
            registration,
            rest,
        },
        accept_key,
    ))
}

/// Decodes `Basic base64(user:password)`.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    // Profile 1 passwords are printable ASCII; anything not UTF-8 is refused.
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

async fn authenticate(
    inner: &Arc<Inner>,
    charger: &ChargerId,
    authorization: Option<&str>,
) -> Result<RegistrationStatus, Refusal> {
    let credentials = inner
        .chargers
        .charger_credentials(charger)
        .await
        .map_err(|e| Refusal::Internal(e.to_string()))?;
    let credentials = match credentials {
        Some(c) => c,
        None => match inner.settings.unknown_chargers {
            UnknownChargerPolicy::Reject => {
                tracing::info!(charger_id = %charger, "handshake refused: unknown charger");
                return Err(Refusal::NotFound("unknown charger"));
            }
            UnknownChargerPolicy::AutoRegisterPending => {
                let registered = inner
                    .chargers
                    .auto_register_charger(charger, inner.service.now())
                    .await
                    .map_err(|e| Refusal::Internal(e.to_string()))?;
                tracing::info!(charger_id = %charger, "unknown charger auto-registered as pending");
                if registered.has_password {
                    // Created meanwhile with a password: check it as usual.
                    return Box::pin(authenticate(inner, charger, authorization)).await;
                }
                return Ok(registered.registration);
            }
        },
    };
    let Some(phc) = credentials.password_hash else {
        // Security profile 0: no password configured for this charger.
        return Ok(credentials.registration);
    };
    let Some((user, password)) = authorization.and_then(basic_credentials) else {
        tracing::info!(charger_id = %charger, "handshake refused: password required");
        return Err(Refusal::Unauthorized("missing basic auth"));
    };
    if user != charger.as_str() {
        tracing::info!(charger_id = %charger, "handshake refused: username is not the charger id");
        return Err(Refusal::Unauthorized("username mismatch"));
    }
    let ok = inner
        .passwords
        .verify_charger(charger.as_str(), &password, &phc)
        .await;
    if !ok {
        tracing::info!(charger_id = %charger, "handshake refused: wrong password");
        return Err(Refusal::Unauthorized("wrong password"));
    }
    Ok(credentials.registration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_decoded() {
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("CP1:pa:ss")
        );
        assert_eq!(
            basic_credentials(&v),
            Some(("CP1".to_owned(), "pa:ss".to_owned()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("CP%7C1").as_deref(), Some("CP|1"));
        assert_eq!(percent_decode("CP%7"), None);
    }
}
