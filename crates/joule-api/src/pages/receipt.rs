//! `GET /receipts/{token}` and `/receipts/{token}.pdf`: the receipt of a
//! captured web payment, built from what is stored (the session, its frozen
//! tariff version priced with its status history, the card summary, the
//! operator) and rendered by `joule-receipts`. Before capture there is no
//! receipt: the page answers 404.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use joule_domain::charging::session::Session;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::language::Language;
use joule_domain::payments::payment::{Payment, PaymentState, ReceiptToken};
use joule_domain::pricing::session_cost::{
    price_session_cost, status_range, SessionCostError, SessionPrice,
};
use joule_domain::receipts::receipt::Receipt;
use joule_domain::services::receipt_source::{
    receipt_for_payment, ReceiptBuildError, ReceiptSources,
};
use joule_domain::services::tariff_lookup::charger_time_zone;
use joule_receipts::ReceiptRenderError;
use tracing::Instrument;

use super::layout::{choose, message_page, respond, secret_headers, server_error, HTML};
use crate::extract::ApiPath;
use crate::ApiState;

/// Why a receipt that should exist could not be built.
#[derive(Debug, thiserror::Error)]
pub(super) enum BuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the session cannot be priced: {0}")]
    Price(#[from] SessionCostError),
    #[error(transparent)]
    Receipt(#[from] ReceiptBuildError),
    #[error(transparent)]
    Render(#[from] ReceiptRenderError),
}

/// The receipt page, or its PDF when the path ends in `.pdf`.
pub async fn receipt(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    let fallback = choose(None, &headers);
    let (raw, pdf) = match raw.strip_suffix(".pdf") {
        Some(token) => (token, true),
        None => (raw.as_str(), false),
    };
    let Ok(token) = ReceiptToken::parse(raw) else {
        return missing(fallback);
    };
    let payment = match state.store.payment_by_receipt_token(&token).await {
        Ok(Some(p)) if p.state == PaymentState::Captured => p,
        Ok(_) => return missing(fallback),
        Err(e) => return server_error(fallback, &e),
    };
    let span = tracing::info_span!("receipt_page", payment_id = %payment.id,
        charger_id = %payment.charger_id, session_id = tracing::field::Empty);
    if let Some(s) = payment.session_id {
        span.record("session_id", tracing::field::display(s));
    }
    let language = Language::from_tag(&payment.language);
    match build(&state, &payment).instrument(span).await {
        Ok(Some(receipt)) if pdf => match joule_receipts::render_pdf(&receipt) {
            Ok(bytes) => {
                let mut response = bytes.into_response();
                secret_headers(response.headers_mut(), "application/pdf");
                let disposition = format!("inline; filename=\"{}.pdf\"", receipt.number.as_str());
                if let Ok(v) = HeaderValue::from_str(&disposition) {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_DISPOSITION, v);
                }
                response
            }
            Err(e) => server_error(language, &BuildError::from(e)),
        },
        Ok(Some(receipt)) => respond(StatusCode::OK, joule_receipts::render_html(&receipt), HTML),
        Ok(None) => missing(language),
        Err(e) => server_error(language, &e),
    }
}

/// A session priced as `GET /api/v1/sessions/{id}` prices it: its frozen
/// tariff version, its connector's status history (idle time), its site's
/// time zone. `None` (logged) when the session has no tariff or its version
/// is gone: a price must not be guessed.
pub(super) struct Priced {
    pub price: SessionPrice,
}

pub(super) async fn price_session(
    state: &ApiState,
    session: &Session,
) -> Result<Option<Priced>, BuildError> {
    let store = state.store.as_ref();
    let Some(frozen) = &session.tariff else {
        tracing::warn!("the payment's session has no tariff");
        return Ok(None);
    };
    let Some(tariff) = store
        .get_tariff_version(&frozen.tariff_id, frozen.version)
        .await?
    else {
        tracing::warn!(tariff_id = %frozen.tariff_id, version = frozen.version,
            "the session's tariff version is missing");
        return Ok(None);
    };
    let meter_values = store.session_meter_values(session.id).await?;
    let now = state.clock.now();
    let (from, to) = status_range(session, &tariff, now);
    let statuses = store
        .connector_status_range(&session.charger_id, session.connector_id, from, to)
        .await?;
    let time_zone = charger_time_zone(store, &session.charger_id).await?;
    let price = price_session_cost(session, &meter_values, &statuses, &tariff, time_zone, now)?;
    Ok(Some(Priced { price }))
}

/// The receipt of a captured payment (see
/// [`joule_domain::services::receipt_source`]: the same receipt the email carries).
async fn build(state: &ApiState, payment: &Payment) -> Result<Option<Receipt>, BuildError> {
    let sources = ReceiptSources::from(state.store.clone());
    Ok(receipt_for_payment(&sources, payment, &state.pages.operator, state.clock.now()).await?)
}

fn missing(language: Language) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        language,
        |l| l.receipt_missing_title,
        |l| l.receipt_missing_text,
    )
}
