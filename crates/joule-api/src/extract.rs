//! Extractors whose rejections are problem JSON, never axum's plain text.
//!
//! Bodies are deserialized through `serde_path_to_error`, so a type error
//! names the offending field (`location.latitude`) in a `validation_failed`
//! problem; a syntax error is `invalid_json`. Query strings are taken as raw
//! strings and parsed field by field (see [`QueryErrors`]), for the same
//! reason.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use joule_domain::kernel::page::Page;
use joule_domain::{ChargerId, IdToken};
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, FieldError};

/// A JSON request body.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "the request body must be JSON (Content-Type: application/json)".to_owned(),
            ));
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Reads the whole body, mapping the size limit to 413.
pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::InvalidJson(rejection.body_text()),
        })
}

/// Whether the request says its body is JSON (`application/json` or any
/// `+json` type).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes a body, naming the field on a type error.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::field(field, strip_position(&inner.to_string()))
            }
            _ => ApiError::InvalidJson(format!("the request body is not valid JSON: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::InvalidJson(format!("the request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// serde_json appends " at line 1 column 42" to data errors; the field path
/// already says where, so drop it.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Path parameters. Values are always strings here; handlers parse them
/// into domain ids so errors name the parameter.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|rejection| ApiError::field("path", rejection.body_text()))
    }
}

/// A query string, deserialized into a struct of raw `Option<String>`
/// fields that the handler parses with [`QueryErrors`].
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|rejection| ApiError::field("query", rejection.body_text()))
    }
}

/// Collects every invalid input of a request before failing, so a client
/// sees all of its mistakes at once.
#[derive(Debug, Default)]
pub struct QueryErrors(Vec<FieldError>);

impl QueryErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Parses an optional value; on failure records the message and returns
    /// `None`.
    pub fn opt<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match raw.map(parse) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                self.push(field, e.to_string());
                None
            }
        }
    }

    pub fn page(&mut self, limit: Option<&str>, offset: Option<&str>) -> Page {
        let limit = self.opt("limit", limit, |raw| match raw.parse::<u32>() {
            Ok(n) if (1..=Page::MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!(
                "must be an integer between 1 and {}",
                Page::MAX_LIMIT
            )),
        });
        let offset = self.opt("offset", offset, |raw| {
            raw.parse::<u64>()
                .map_err(|_| "must be a non-negative integer")
        });
        Page::new(limit, offset)
    }

    pub fn time(&mut self, field: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
        self.opt(field, raw, |raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z")
        })
    }

    pub fn charger_id(&mut self, field: &str, raw: Option<&str>) -> Option<ChargerId> {
        self.opt(field, raw, ChargerId::parse)
    }

    pub fn id_tag(&mut self, field: &str, raw: Option<&str>) -> Option<IdToken> {
        self.opt(field, raw, IdToken::parse)
    }

    /// Ok when nothing was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Parses a charger id taken from the path.
pub fn path_charger_id(raw: &str) -> Result<ChargerId, ApiError> {
    ChargerId::parse(raw).map_err(|e| ApiError::field("id", e.to_string()))
}

/// Parses an id tag taken from the path.
pub fn path_id_tag(raw: &str) -> Result<IdToken, ApiError> {
    IdToken::parse(raw).map_err(|e| ApiError::field("id_tag", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        latitude: f64,
    }

    fn fields(error: ApiError) -> Vec<FieldError> {
        match error {
            ApiError::Validation(fields) => fields,
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn type_errors_name_the_field() {
        let error =
            parse_json::<Body>(br#"{"name":"a","inner":{"latitude":"north"}}"#).unwrap_err();
        let fields = fields(error);
        assert_eq!(fields[0].field, "inner.latitude");
        assert_eq!(
            fields[0].message,
            "invalid type: string \"north\", expected f64"
        );
    }

    #[test]
    fn missing_fields_are_reported_on_the_body() {
        let fields = fields(parse_json::<Body>(br#"{"inner":{"latitude":1}}"#).unwrap_err());
        assert_eq!(fields[0].field, "body");
        assert_eq!(fields[0].message, "missing field `name`");
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        assert!(matches!(
            parse_json::<Body>(b"{\"name\":").unwrap_err(),
            ApiError::InvalidJson(_)
        ));
        assert!(matches!(
            parse_json::<serde_json::Value>(b"{} {}").unwrap_err(),
            ApiError::InvalidJson(_)
        ));
    }

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(is_json(&headers));
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&headers));
    }

    #[test]
    fn page_and_times_collect_every_error() {
        let mut errors = QueryErrors::new();
        let page = errors.page(Some("0"), Some("-1"));
        let time = errors.time("from", Some("yesterday"));
        assert_eq!(page, Page::default());
        assert!(time.is_none());
        let fields = fields(errors.finish().unwrap_err());
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["limit", "offset", "from"]);
    }
}
