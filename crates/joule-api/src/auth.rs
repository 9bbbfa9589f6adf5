//! API-key authentication.
//!
//! A key reads `jk_<prefix>_<secret>`. The prefix is public and unique, so a
//! key is found with one indexed lookup; only the SHA-256 of the whole key is
//! stored. Keys are 256-bit random secrets, so a fast hash is enough (a slow
//! password hash would only cost latency on every request), and the stored
//! and computed digests are compared in constant time.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use joule_domain::access::api_key::{ApiKey, ApiScope, NewApiKey};
use joule_domain::payments::terminal::{Terminal, TerminalKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::problem::ApiError;
use crate::ApiState;

const KEY_PREFIX: &str = "jk_";
/// Terminal keys read `jt_<prefix>_<secret>`: a different prefix, so an
/// operator key and a terminal key can never be mistaken for each other.
const TERMINAL_KEY_PREFIX: &str = "jt_";
const PREFIX_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;
/// A key given by an operator (`JOULE_ADMIN_KEY`) must carry at least this
/// many secret characters (~128 bits of base64).
const MIN_SECRET_CHARS: usize = 22;

/// Why a plain key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("an API key must look like jk_<prefix>_<secret>")]
    Shape,
    #[error("the key prefix must be 4 to 32 ASCII letters or digits")]
    Prefix,
    #[error("the key secret must be at least {MIN_SECRET_CHARS} characters of [A-Za-z0-9_-]")]
    Secret,
}

/// A fresh admin key: the plain text (shown once, never stored) and what to
/// store.
pub fn generate_api_key(name: &str) -> (String, NewApiKey) {
    let mut rng = rand::rng();
    let mut prefix = [0u8; PREFIX_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    rng.fill_bytes(&mut prefix);
    rng.fill_bytes(&mut secret);
    let plain = format!(
        "{KEY_PREFIX}{}_{}",
        hex::encode(prefix),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let new = NewApiKey {
        name: name.to_owned(),
        prefix: hex::encode(prefix),
        secret_hash: hash_key(&plain),
        scopes: vec![ApiScope::Admin],
    };
    (plain, new)
}

/// An admin key from a plain key chosen by the operator (`JOULE_ADMIN_KEY`).
pub fn api_key_from_plain(name: &str, plain: &str) -> Result<NewApiKey, KeyFormatError> {
    let (prefix, secret) = split_key(plain).ok_or(KeyFormatError::Shape)?;
    if !(4..=32).contains(&prefix.len()) || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(KeyFormatError::Prefix);
    }
    if secret.len() < MIN_SECRET_CHARS
        || !secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(KeyFormatError::Secret);
    }
    Ok(NewApiKey {
        name: name.to_owned(),
        prefix: prefix.to_owned(),
        secret_hash: hash_key(plain),
        scopes: vec![ApiScope::Admin],
    })
}

/// `jk_<prefix>_<secret>` → (prefix, secret). The secret may itself contain
/// `_` (URL-safe base64), the prefix never does.
fn split_key(plain: &str) -> Option<(&str, &str)> {
    let rest = plain.strip_prefix(KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    (!prefix.is_empty() && !secret.is_empty()).then_some((prefix, secret))
}

/// A fresh terminal key: the plain text (shown once, never stored) and
/// what to store, hashed like an API key.
pub fn generate_terminal_key(at: chrono::DateTime<chrono::Utc>) -> (String, TerminalKey) {
    let mut rng = rand::rng();
    let mut prefix = [0u8; PREFIX_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    rng.fill_bytes(&mut prefix);
    rng.fill_bytes(&mut secret);
    let plain = format!(
        "{TERMINAL_KEY_PREFIX}{}_{}",
        hex::encode(prefix),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let key = TerminalKey {
        prefix: hex::encode(prefix),
        secret_hash: hash_key(&plain),
        issued_at: at,
    };
    (plain, key)
}

/// `jt_<prefix>_<secret>` → prefix.
fn terminal_key_prefix(plain: &str) -> Option<&str> {
    let (prefix, secret) = plain.strip_prefix(TERMINAL_KEY_PREFIX)?.split_once('_')?;
    (!prefix.is_empty() && !secret.is_empty()).then_some(prefix)
}

/// Hex SHA-256 of the whole key, as stored.
pub fn hash_key(plain: &str) -> String {
    hex::encode(Sha256::digest(plain.as_bytes()))
}

/// Compares without an early exit, so timing does not reveal how many
/// leading characters of a guess were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Finds and checks the key of a request.
pub async fn authenticate(
    state: &ApiState,
    authorization: Option<&str>,
) -> Result<ApiKey, ApiError> {
    let header = authorization.ok_or(ApiError::Unauthorized(
        "send an API key as `Authorization: Bearer <key>`",
    ))?;
    let plain = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized(
            "the Authorization header must use the Bearer scheme",
        ))?;
    const INVALID: ApiError = ApiError::Unauthorized("the API key is not valid");
    let (prefix, _) = split_key(plain).ok_or(INVALID)?;
    let key = state.store.find_api_key(prefix).await?.ok_or(INVALID)?;
    let computed = hash_key(plain);
    if !constant_time_eq(computed.as_bytes(), key.secret_hash.as_bytes()) {
        return Err(INVALID);
    }
    Ok(key)
}

/// Finds and checks the terminal key of a request. A disabled terminal
/// still authenticates (it may read its payments); the payment service
/// refuses it new ones.
pub async fn authenticate_terminal(
    state: &ApiState,
    authorization: Option<&str>,
) -> Result<Terminal, ApiError> {
    let header = authorization.ok_or(ApiError::Unauthorized(
        "send the terminal's key as `Authorization: Bearer <key>`",
    ))?;
    let plain = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized(
            "the Authorization header must use the Bearer scheme",
        ))?;
    const INVALID: ApiError = ApiError::Unauthorized("the terminal key is not valid");
    let prefix = terminal_key_prefix(plain).ok_or(INVALID)?;
    let terminal = state
        .store
        .terminal_by_key_prefix(prefix)
        .await?
        .ok_or(INVALID)?;
    let stored = terminal.key.as_ref().ok_or(INVALID)?;
    if !constant_time_eq(hash_key(plain).as_bytes(), stored.secret_hash.as_bytes()) {
        return Err(INVALID);
    }
    Ok(terminal)
}

/// Middleware for the terminal-facing routes: authenticates the terminal
/// and leaves it in the request extensions. Operator keys are refused.
pub async fn require_terminal(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let terminal = authenticate_terminal(&state, authorization).await?;
    if let Some(key) = &terminal.key {
        tracing::Span::current().record("api_key", key.prefix.as_str());
    }
    request.extensions_mut().insert(terminal);
    Ok(next.run(request).await)
}

/// Middleware for every protected route: authenticates, requires the admin
/// scope (the only one today), and leaves the key in the request extensions.
pub async fn require_admin(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let key = authenticate(&state, authorization).await?;
    if !key.scopes.contains(&ApiScope::Admin) {
        return Err(ApiError::Forbidden(ApiScope::Admin.as_str()));
    }
    tracing::Span::current().record("api_key", key.prefix.as_str());
    request.extensions_mut().insert(key);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_to_the_same_record() {
        let (plain, new) = generate_api_key("admin");
        assert!(plain.starts_with("jk_"));
        let again = api_key_from_plain("admin", &plain).unwrap();
        assert_eq!(again.prefix, new.prefix);
        assert_eq!(again.secret_hash, new.secret_hash);
        assert_eq!(new.secret_hash.len(), 64);
        assert_eq!(new.scopes, vec![ApiScope::Admin]);
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(generate_api_key("admin").0, generate_api_key("admin").0);
    }

    #[test]
    fn plain_keys_are_checked() {
        assert_eq!(
            api_key_from_plain("x", "nope").unwrap_err(),
            KeyFormatError::Shape
        );
        assert_eq!(
            api_key_from_plain("x", "jk_a_bbbbbbbbbbbbbbbbbbbbbbbbbbbbb").unwrap_err(),
            KeyFormatError::Prefix
        );
        assert_eq!(
            api_key_from_plain("x", "jk_abcd_short").unwrap_err(),
            KeyFormatError::Secret
        );
        let ok = api_key_from_plain("x", "jk_demo1234_0123456789abcdefghijkl_-").unwrap();
        assert_eq!(ok.prefix, "demo1234");
    }

    #[test]
    fn terminal_keys_are_not_api_keys() {
        let at = chrono::Utc::now();
        let (plain, key) = generate_terminal_key(at);
        assert!(plain.starts_with("jt_"));
        assert_eq!(terminal_key_prefix(&plain), Some(key.prefix.as_str()));
        assert_eq!(key.secret_hash, hash_key(&plain));
        // Neither kind of key parses as the other.
        assert_eq!(split_key(&plain), None);
        let (api, _) = generate_api_key("admin");
        assert_eq!(terminal_key_prefix(&api), None);
        assert_ne!(generate_terminal_key(at).0, plain);
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
