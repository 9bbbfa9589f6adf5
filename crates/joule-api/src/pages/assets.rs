//! The pages' own script and stylesheet, compiled into the binary: no build
//! step and no CDN, so a pay page works wherever Joule runs.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::extract::ApiPath;

const PAY_JS: &str = include_str!("static/pay.js");
const STATUS_JS: &str = include_str!("static/status.js");
const PAGES_CSS: &str = include_str!("static/pages.css");
const ACCOUNT_CARD_JS: &str = include_str!("static/account-card.js");

/// `GET /static/{file}`. Cached for an hour: a new release changes at most
/// this long after its start.
pub async fn asset(ApiPath(file): ApiPath<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "pay.js" => (PAY_JS, "text/javascript; charset=utf-8"),
        "status.js" => (STATUS_JS, "text/javascript; charset=utf-8"),
        "pages.css" => (PAGES_CSS, "text/css; charset=utf-8"),
        "account-card.js" => (ACCOUNT_CARD_JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
