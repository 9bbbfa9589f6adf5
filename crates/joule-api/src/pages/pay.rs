//! The pay page of one connector and the QR codes that lead to it.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use joule_domain::kernel::ids::{ChargerId, ConnectorId};
use joule_domain::kernel::language::Language;
use joule_domain::kernel::money::{Currency, Money};
use joule_domain::kernel::texts::{PriceUnit, Texts};
use joule_domain::services::tariff_lookup::tariff_in_force;
use maud::{html, Markup, PreEscaped};
use serde::Serialize;
use tracing::Instrument;

use super::labels::{labels, Labels};
use super::layout::{
    choose, content_security_policy, message_page, page, respond_with_csp, server_error, HTML,
};
use crate::dto::tariff::{HoldLimitPolicy, PriceQuote, UnitPrice};
use crate::extract::{path_charger_id, ApiPath};
use crate::problem::ApiError;
use crate::tariffs::{path_connector_id, quote};
use crate::ApiState;

/// `GET /pay/{charger_id}/{connector_id}`: the price, the hold, and the
/// card form. Unknown and private chargers get the same 404 page; a
/// charger without a tariff in force says it cannot be paid by card now.
pub async fn pay_page(
    State(state): State<ApiState>,
    ApiPath((charger, connector)): ApiPath<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let language = choose(query_param(query.as_deref(), "lang").as_deref(), &headers);
    let Some((charger, connector)) = parse_target(&charger, &connector) else {
        return not_found(language);
    };
    let span =
        tracing::info_span!("pay_page", charger_id = %charger, connector_id = connector.get());
    let quoted = quote(
        &state,
        &charger,
        connector,
        Some(language.code().to_owned()),
    )
    .instrument(span)
    .await;
    match quoted {
        Ok(q) => respond_with_csp(
            StatusCode::OK,
            render(&q, language, &state.pages.stripe_js_url).into_string(),
            HTML,
            &content_security_policy(Some(&state.pages.stripe_js_url)),
        ),
        Err(ApiError::ChargerNotFound(_)) => not_found(language),
        Err(ApiError::NoTariff(_)) => message_page(
            StatusCode::NOT_FOUND,
            language,
            |l| l.no_tariff_title,
            |l| l.no_tariff_text,
        ),
        Err(e) => server_error(language, &e),
    }
}

/// `GET /pay/{charger_id}/{connector_id}/qr.png`: the page's absolute URL
/// as a QR code, for the sticker on the charger.
pub async fn qr_png(
    State(state): State<ApiState>,
    ApiPath((charger, connector)): ApiPath<(String, String)>,
) -> Response {
    qr(&state, &charger, &connector, |url| {
        joule_receipts::qr_png(url).map(|png| (png, "image/png"))
    })
    .await
}

/// `GET /pay/{charger_id}/{connector_id}/qr.svg`: the same, scalable for print.
pub async fn qr_svg(
    State(state): State<ApiState>,
    ApiPath((charger, connector)): ApiPath<(String, String)>,
) -> Response {
    qr(&state, &charger, &connector, |url| {
        joule_receipts::qr_svg(url).map(|svg| (svg.into_bytes(), "image/svg+xml"))
    })
    .await
}

async fn qr(
    state: &ApiState,
    charger: &str,
    connector: &str,
    render: impl Fn(&str) -> Result<(Vec<u8>, &'static str), joule_receipts::QrError>,
) -> Response {
    let Some((charger, connector)) = parse_target(charger, connector) else {
        return not_found(Language::En);
    };
    // A QR code only for a charger the pay page would show.
    match tariff_in_force(
        state.store.as_ref(),
        &charger,
        connector,
        None,
        state.clock.now(),
    )
    .await
    {
        Ok(Some(f)) if f.access.is_publicly_visible() => {}
        Ok(_) => return not_found(Language::En),
        Err(e) => return server_error(Language::En, &e),
    }
    let url = pay_page_url(&state.pages.public_base_url, &charger, connector);
    match render(&url) {
        Ok((bytes, content_type)) => {
            let mut response = axum::response::IntoResponse::into_response(bytes);
            super::layout::secret_headers(response.headers_mut(), content_type);
            response
        }
        Err(e) => server_error(Language::En, &e),
    }
}

/// The absolute pay page URL of a connector. Charger ids may hold `|`,
/// which a URL path must percent-encode.
pub fn pay_page_url(base: &str, charger: &ChargerId, connector: ConnectorId) -> String {
    let mut id = String::new();
    for b in charger.as_str().bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~*=+@".contains(&b) {
            id.push(char::from(b));
        } else {
            id.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{base}/pay/{id}/{}", connector.get())
}

fn parse_target(charger: &str, connector: &str) -> Option<(ChargerId, ConnectorId)> {
    Some((
        path_charger_id(charger).ok()?,
        path_connector_id(connector).ok()?,
    ))
}

fn not_found(language: Language) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        language,
        |l| l.not_found_title,
        |l| l.not_found_text,
    )
}

/// One query parameter, percent-decoding not needed (language codes).
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// What the page's script needs, as JSON in the page.
#[derive(Serialize)]
struct PayData<'a> {
    charger_id: &'a str,
    connector_id: u32,
    language: &'static str,
    stripe_js_url: &'a str,
    /// Every label, so that the script writes the hold sentence and its
    /// errors in the page's language.
    labels: &'static Labels,
    currency: &'a str,
}

fn render(q: &PriceQuote, language: Language, stripe_js_url: &str) -> Markup {
    let l = labels(language);
    let texts = Texts::new(language);
    let price = |p: &Option<UnitPrice>, unit| {
        p.as_ref()
            .map(|p| texts.unit_price(&texts.number(p.incl_vat), &q.currency, unit))
    };
    let hold = q.hold_amount_minor.and_then(|minor| {
        Currency::parse(&q.currency)
            .ok()
            .map(|c| texts.money(&Money::from_minor(minor, c)))
    });
    // What happens at the hold (docs/payments.md, "Hold limits"): the
    // driver's consent to increments is the maximum shown here.
    let money = |minor: Option<i64>| {
        minor.and_then(|m| {
            Currency::parse(&q.currency)
                .ok()
                .map(|c| texts.money(&Money::from_minor(m, c)))
        })
    };
    let hold_limit = hold.as_ref().map(|_| match q.hold_limit_policy {
        HoldLimitPolicy::StopSession => l.hold_limit_stop.to_owned(),
        HoldLimitPolicy::IncrementAuthorization => {
            match (
                money(q.hold_increment_minor.or(q.hold_amount_minor)),
                money(q.hold_max_minor),
            ) {
                (Some(step), Some(max)) => l
                    .hold_limit_increment
                    .replace("{step}", &step)
                    .replace("{max}", &max),
                _ => l.hold_limit_stop.to_owned(),
            }
        }
    });
    let idle_start = texts.idle_fee_start(
        q.idle_grace_period_s,
        q.idle_fee_only_after_charging_finished,
    );
    let data = PayData {
        charger_id: &q.charger_id,
        connector_id: q.connector_id,
        language: language.code(),
        stripe_js_url,
        labels: l,
        currency: &q.currency,
    };
    // JSON inside <script>: `<` escaped so no `</script>` can close it.
    let data = serde_json::to_string(&data)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c");
    let title = format!("{} · {} {}", l.pay_title, q.charger_id, q.connector_id);
    page(
        language,
        &title,
        html! { script src="/static/pay.js" defer {} },
        html! {
            h1 { (l.pay_title) }
            p.where {
                (l.charger) " " strong { (q.charger_id) } " · "
                (l.connector) " " strong { (q.connector_id) }
            }
            section aria-labelledby="price-heading" {
                h2 #price-heading { (l.price) }
                p #price-text { (q.price_text) }
                dl.prices {
                    @if let Some(p) = price(&q.energy, PriceUnit::Kwh) {
                        dt { (l.energy) } dd #price-energy { (p) }
                    }
                    @if let Some(p) = price(&q.time, PriceUnit::Hour) {
                        dt { (l.charging_time) } dd #price-time { (p) }
                    }
                    @if let Some(p) = price(&q.parking_time, PriceUnit::HourIdle) {
                        dt { (l.idle_fee) }
                        dd #price-idle {
                            (p)
                            @if let Some(start) = &idle_start { " " (start) }
                        }
                    }
                    @if let Some(p) = price(&q.flat, PriceUnit::Session) {
                        dt { (l.session_fee) } dd #price-session { (p) }
                    }
                }
                p.note { (l.prices_incl_vat) }
                @if let Some(url) = &q.tariff_alt_url {
                    p { a href=(url) rel="noreferrer" { (l.tariff_details) } }
                }
            }
            section aria-labelledby="hold-heading" {
                h2 #hold-heading { (l.hold_heading) }
                p #hold-text {
                    @match &hold {
                        Some(amount) => (l.hold_text.replace("{}", amount)),
                        None => (l.hold_text_unknown),
                    }
                }
                p { (l.hold_release) }
                @if let Some(limit) = &hold_limit {
                    p #hold-limit { (limit) }
                }
            }
            section #pay aria-labelledby="card-heading" {
                h2 #card-heading { (l.card_heading) }
                p.note { (l.card_safety) }
                div #card-area hidden {
                    span #card-label .label { (l.card_label) }
                    div #card-element role="group" aria-labelledby="card-label" {}
                    button #pay-button type="button" { (l.pay_button) }
                }
                div #demo hidden {
                    h3 { (l.demo_heading) }
                    p { (l.demo_text) }
                    button type="button" data-card="sim_visa" { (l.demo_visa) }
                    button type="button" .secondary data-card="sim_declined" { (l.demo_declined) }
                }
                div.field {
                    label for="email" { (l.email_label) }
                    input #email type="email" name="email" autocomplete="email"
                        inputmode="email" maxlength="254" aria-describedby="email-hint";
                    p #email-hint .note { (l.email_hint) }
                }
                button #start type="button" { (l.start_button) }
                p #message role="status" aria-live="polite" {}
                noscript { p { (l.error_generic) } }
            }
            script #pay-data type="application/json" { (PreEscaped(data)) }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pay_page_url_percent_encodes_what_a_path_cannot_hold() {
        let id = ChargerId::parse("CP|1*a@b").unwrap_or_else(|e| panic!("{e}"));
        let c = ConnectorId::new(2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pay_page_url("https://pay.example", &id, c),
            "https://pay.example/pay/CP%7C1*a@b/2"
        );
    }

    #[test]
    fn query_param_finds_lang() {
        assert_eq!(
            query_param(Some("x=1&lang=es"), "lang").as_deref(),
            Some("es")
        );
        assert_eq!(query_param(None, "lang"), None);
    }
}
