//! The page shell, the driver's language, and the headers every page sends.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use joule_domain::kernel::language::Language;
use maud::{html, Markup, DOCTYPE};

use super::labels::{labels, Labels};

/// The page's language: `?lang=` when Joule has texts in it, else the
/// first supported entry of `Accept-Language` by preference, else English.
pub fn choose(lang: Option<&str>, headers: &HeaderMap) -> Language {
    if let Some(l) = lang.and_then(Language::supported) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut ranked: Vec<(u16, usize, Language)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, entry)| {
            let mut parts = entry.split(';');
            let tag = parts.next()?.trim();
            let primary = tag.split(['-', '_']).next()?;
            let language = Language::supported(primary)?;
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, parse_q);
            (q > 0).then_some((q, i, language))
        })
        .collect();
    // Highest q first; the header's order among equals.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.first().map_or(Language::En, |r| r.2)
}

/// A q-value in thousandths (`0.8` → 800); 0 when malformed.
fn parse_q(raw: &str) -> u16 {
    let raw = raw.trim();
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let whole: u16 = match int {
        "1" => 1000,
        "0" | "" => 0,
        _ => return 0,
    };
    let digits: String = frac.chars().take(3).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return 0;
    }
    let frac: u16 = format!("{digits:0<3}").parse().unwrap_or(0);
    (whole + frac).min(1000)
}

/// A whole page: language, viewport for phones, the shared stylesheet.
pub fn page(language: Language, title: &str, head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(language.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                // No icon: saves the phone a request (and a 404) per page.
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/static/pages.css";
                (head)
            }
            body {
                main { (body) }
            }
        }
    }
}

/// A page answer with the headers every driver page sends: a payment token
/// in the URL is a secret, so nothing is cached or sent on as a referrer;
/// and the page runs only Joule's own scripts and cannot be framed.
pub fn respond(status: StatusCode, body: String, content_type: &'static str) -> Response {
    respond_with_csp(status, body, content_type, &content_security_policy(None))
}

/// [`respond`] with a page's own Content-Security-Policy.
pub fn respond_with_csp(
    status: StatusCode,
    body: String,
    content_type: &'static str,
    csp: &str,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    secret_headers(headers, content_type);
    if let Ok(v) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

/// Joule's own scripts only, plus, for the pay page, Stripe.js's origin
/// (script, its card frames, its API calls; Stripe's own frames and API
/// hosts when it is Stripe's). Inline styles stay allowed: the receipt
/// page carries its stylesheet inline and Stripe Elements sets styles.
pub fn content_security_policy(stripe_js_url: Option<&str>) -> String {
    let stripe = stripe_js_url.and_then(origin);
    let (script, frame, connect) = match stripe.as_deref() {
        Some(o) if o == "https://js.stripe.com" => (
            format!(" {o}"),
            format!("{o} https://hooks.stripe.com"),
            format!(" {o} https://api.stripe.com"),
        ),
        Some(o) => (format!(" {o}"), o.to_owned(), format!(" {o}")),
        None => (String::new(), "'none'".to_owned(), String::new()),
    };
    format!(
        "default-src 'self'; script-src 'self'{script}; frame-src {frame}; \
         connect-src 'self'{connect}; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// Sets content type, `Cache-Control: private, no-store`,
/// `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`.
pub fn secret_headers(headers: &mut HeaderMap, content_type: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

pub const HTML: &str = "text/html; charset=utf-8";

/// A page with a title and one paragraph (not found, unavailable, …).
pub fn message_page(
    status: StatusCode,
    language: Language,
    title: impl Fn(&Labels) -> &'static str,
    text: impl Fn(&Labels) -> &'static str,
) -> Response {
    let l = labels(language);
    let markup = page(
        language,
        title(l),
        html! {},
        html! {
            h1 { (title(l)) }
            p { (text(l)) }
        },
    );
    respond(status, markup.into_string(), HTML)
}

/// The answer when the store failed: logged, and a plain page for the driver.
pub fn server_error(language: Language, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "a driver page could not be built");
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        language,
        |l| l.server_error_title,
        |l| l.server_error_text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
        );
        h
    }

    #[test]
    fn the_pay_page_may_load_stripe_js_from_its_origin_only() {
        let real = content_security_policy(Some("https://js.stripe.com/v3/"));
        assert!(
            real.contains("script-src 'self' https://js.stripe.com;"),
            "{real}"
        );
        assert!(real.contains("frame-src https://js.stripe.com https://hooks.stripe.com;"));
        assert!(real.contains("connect-src 'self' https://js.stripe.com https://api.stripe.com;"));
        let local = content_security_policy(Some("http://127.0.0.1:8420/js.stripe.com/v3/"));
        assert!(
            local.contains("script-src 'self' http://127.0.0.1:8420;"),
            "{local}"
        );
        let none = content_security_policy(None);
        assert!(none.contains("script-src 'self';") && none.contains("frame-src 'none';"));
        assert!(none.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn query_then_accept_language_by_preference_then_english() {
        assert_eq!(choose(Some("es"), &accept("de")), Language::Es);
        assert_eq!(choose(Some("it"), &accept("fr-CH, de;q=0.5")), Language::Fr);
        assert_eq!(
            choose(None, &accept("it, de;q=0.4, es;q=0.9")),
            Language::Es
        );
        assert_eq!(choose(None, &accept("it;q=1, pt")), Language::En);
        assert_eq!(choose(None, &accept("de;q=0, fr;q=0.1")), Language::Fr);
        assert_eq!(choose(None, &HeaderMap::new()), Language::En);
    }
}
