//! The live status page of one web payment: what the driver watches while
//! charging. Rendered from the stored payment (so it works without
//! JavaScript, refreshing itself), then kept current by `status.js`, which
//! polls `GET /pay/payments/{token}/status` every 2 s until the state is final.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use joule_domain::charging::session::{Session, SessionState};
use joule_domain::kernel::language::Language;
use joule_domain::kernel::money::{Decimal, Money};
use joule_domain::kernel::texts::Texts;
use joule_domain::payments::payment::{Payment, PaymentState, ReceiptToken};
use maud::html;
use tracing::Instrument;

use super::labels::labels;
use super::layout::{choose, message_page, page, respond, server_error, HTML};
use super::receipt::{price_session, BuildError};
use crate::extract::ApiPath;
use crate::ApiState;

/// Seconds between refreshes of the page without JavaScript.
const NO_SCRIPT_REFRESH_S: u32 = 5;

/// `GET /pay/payments/{token}`.
pub async fn status_page(
    State(state): State<ApiState>,
    ApiPath(token): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    let fallback = choose(None, &headers);
    let Ok(token) = ReceiptToken::parse(&token) else {
        return not_found(fallback);
    };
    let payment = match state.store.payment_by_receipt_token(&token).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(fallback),
        Err(e) => return server_error(fallback, &e),
    };
    let span = tracing::info_span!("status_page", payment_id = %payment.id,
        charger_id = %payment.charger_id, session_id = tracing::field::Empty);
    if let Some(s) = payment.session_id {
        span.record("session_id", tracing::field::display(s));
    }
    match current(&state, &payment).instrument(span).await {
        Ok(now) => respond(StatusCode::OK, render(&payment, &token, &now), HTML),
        Err(e) => server_error(fallback, &e),
    }
}

/// What the page shows now, without script: the state, and once a session
/// runs its energy and running (then final) cost.
struct Now {
    state: &'static str,
    energy_kwh: Option<Decimal>,
    cost: Option<Money>,
}

async fn current(state: &ApiState, payment: &Payment) -> Result<Now, BuildError> {
    let session = match payment.session_id {
        Some(id) => state.store.get_session(id).await?,
        None => None,
    };
    let current = driver_state(payment, session.as_ref());
    let Some(session) = session else {
        return Ok(Now {
            state: current,
            energy_kwh: None,
            cost: None,
        });
    };
    let energy_kwh = session
        .meter_stop_wh
        .or(session.last_meter_wh)
        .map(|wh| Decimal::new(wh - session.meter_start_wh, 3).normalize());
    // A session that cannot be priced still has a status page.
    let cost = match price_session(state, &session).await {
        Ok(priced) => priced.map(|p| p.price.breakdown.total_cost.incl_vat),
        Err(BuildError::Price(e)) => {
            tracing::warn!(error = %e, "the session cannot be priced");
            None
        }
        Err(e) => return Err(e),
    };
    Ok(Now {
        state: current,
        energy_kwh,
        cost,
    })
}

/// The state as the status JSON names it, from what is stored: the
/// payment's own state, and for an open hold whether its session runs.
fn driver_state(payment: &Payment, session: Option<&Session>) -> &'static str {
    match payment.state {
        PaymentState::Created => "awaiting_card",
        PaymentState::Captured => "captured",
        PaymentState::Voided => "voided",
        PaymentState::Failed => "failed",
        PaymentState::Authorized => match session {
            None => "starting",
            Some(s) if s.state == SessionState::Ended => "finished",
            Some(_) => "charging",
        },
    }
}

fn is_final(state: &str) -> bool {
    matches!(state, "captured" | "voided" | "failed")
}

fn render(payment: &Payment, token: &ReceiptToken, now: &Now) -> String {
    let current = now.state;
    let language = Language::from_tag(&payment.language);
    let l = labels(language);
    let texts = Texts::new(language);
    let receipt_url = format!("/receipts/{}", token.as_str());
    let captured = payment.state == PaymentState::Captured;
    let head = html! {
        @if !is_final(current) {
            noscript { meta http-equiv="refresh" content=(NO_SCRIPT_REFRESH_S); }
        }
        script src="/static/status.js" defer {}
    };
    let body = html! {
        h1 { (l.status_title) }
        p.where {
            (l.charger) " " strong { (payment.charger_id) } " · "
            (l.connector) " " strong { (payment.connector_id.get()) }
        }
        div #status data-token=(token.as_str()) data-state=(current)
            data-final=(if is_final(current) { "true" } else { "false" }) {
            dl.prices {
                dt { (l.state) }
                dd #state aria-live="polite" { (l.state_label(current)) }
                dt { (l.energy_delivered) }
                dd #energy {
                    @match now.energy_kwh {
                        Some(kwh) => { (texts.number(kwh)) " kWh" }
                        None => { "–" }
                    }
                }
                dt #cost-label { @if captured { (l.cost_final) } @else { (l.cost_running) } }
                dd #cost {
                    @if captured { (texts.money(&payment.captured())) }
                    @else if let Some(cost) = &now.cost { (texts.money(cost)) }
                    @else { "–" }
                }
                dt { (l.hold) }
                dd #hold { (texts.money(&payment.authorized())) }
                dt { (l.card) }
                dd #card {
                    @if let Some(card) = &payment.card {
                        (card.brand) " •••• " (card.last4)
                    } @else { "–" }
                }
            }
            p #message role="status" aria-live="polite" {}
            p #receipt hidden[!captured] {
                a #receipt-link href=(receipt_url) { (l.receipt_link) }
                " · "
                a #receipt-pdf href=(format!("{receipt_url}.pdf")) { (l.receipt_pdf) }
            }
            @if !is_final(current) {
                p.note #updates { (l.updates_automatically) }
            }
        }
        script #status-labels type="application/json" {
            (maud::PreEscaped(serde_json::to_string(l).unwrap_or_else(|_| "{}".to_owned()).replace('<', "\\u003c")))
        }
    };
    page(language, l.status_title, head, body).into_string()
}

fn not_found(language: Language) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        language,
        |l| l.payment_missing_title,
        |l| l.payment_missing_text,
    )
}
