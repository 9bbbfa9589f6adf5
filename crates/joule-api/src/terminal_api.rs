//! `/api/v1/terminal/…`: the routes a payment terminal (or its vendor's
//! cloud) calls with its own key (docs/terminals.md). A terminal sees only
//! itself and its own payments.
//!
//! Reporting a hold moves money (Joule will capture it), so it requires an
//! `Idempotency-Key`; a repeat gets the stored answer. Answers that recorded
//! nothing and may succeed later (the gateway could not be reached to
//! verify the hold) are not stored, so the same key can be retried.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use joule_domain::payments::payment::PaymentId;
use joule_domain::payments::terminal::Terminal as DomainTerminal;

use crate::dto::terminal::{ReportTerminalPayment, Terminal, TerminalPayment};
use crate::extract::{parse_json, ApiPath};
use crate::idempotency::{self, idempotency_key, stored_response, IdempotentCall};
use crate::pay::service;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// The calling terminal: its name, site and what it may start (to offer
/// the driver only connectors Joule will accept).
#[utoipa::path(
    get, path = "/api/v1/terminal", tag = "terminal",
    responses(
        (status = 200, description = "The terminal whose key this is", body = Terminal),
        (status = 401, description = "Missing or invalid terminal key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("terminal_key" = []))
)]
pub async fn whoami(Extension(terminal): Extension<DomainTerminal>) -> Json<Terminal> {
    Json(terminal.into())
}

/// Report a hold the terminal placed and the connector the driver chose:
/// Joule verifies the hold at the gateway, records the payment and starts
/// the connector. From a 2xx answer on, Joule owns the hold (it captures
/// the session's cost or voids it); on a 4xx nothing was recorded and the
/// terminal must release its hold.
#[utoipa::path(
    post, path = "/api/v1/terminal/payments", tag = "terminal",
    params(("Idempotency-Key" = String, Header, description = "Required; a repeat with the same key returns the first answer")),
    request_body = ReportTerminalPayment,
    responses(
        (status = 201, description = "Recorded; the charger was asked to start (or refused, and the hold was voided: state `voided`)", body = TerminalPayment),
        (status = 200, description = "This hold was reported before by this terminal for this connector: the payment as it stands", body = TerminalPayment),
        (status = 400, description = "No `Idempotency-Key` (`idempotency_key_missing`) or bad JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid terminal key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The terminal is disabled (`terminal_disabled`) or may not start this connector (`charger_not_allowed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`) or no tariff in force there (`no_tariff`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Connector not available (`connector_busy`), hold already used (`hold_already_used`), or the first request with this key still running (`request_in_progress`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`), the hold not usable (`hold_not_usable`), or the key reused for another request (`idempotency_key_reused`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled, or the gateway could not be reached (`gateway_unavailable`; nothing recorded, retry with the same key)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("terminal_key" = []))
)]
pub async fn report_payment(
    State(state): State<ApiState>,
    Extension(terminal): Extension<DomainTerminal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let request: ReportTerminalPayment = parse_json(&body)?;
    let (status, body) = report(&state, &terminal, key, &request).await?;
    Ok(stored_response((status, body)))
}

/// The report, with its idempotency record: what the route does, and what
/// the demo terminal page calls after placing its simulated hold, so both
/// go the same way.
pub(crate) async fn report(
    state: &ApiState,
    terminal: &DomainTerminal,
    key: &str,
    request: &ReportTerminalPayment,
) -> ApiResult<(StatusCode, serde_json::Value)> {
    let report = request.validate()?;
    let service = service(state)?;
    let scope = format!("terminal:{}:payments", terminal.id);
    let request_id = format!(
        "{}|{}|{}|{}|{}|{:?}|{:?}|{}|{}|{:?}",
        request.gateway_payment_ref,
        request.amount_minor,
        request.currency,
        request.card.brand,
        request.card.last4,
        request.card.exp_month,
        request.card.exp_year,
        request.charger_id,
        request.connector_id,
        request.language
    );
    let call = match idempotency::begin(state, scope, key, &request_id, None).await? {
        IdempotentCall::Repeat(answer) => return Ok(answer),
        IdempotentCall::New(call) | IdempotentCall::Resume(call, _) => call,
    };
    let outcome = service
        .report_terminal_payment(terminal, report)
        .await
        .map_err(ApiError::from);
    match outcome {
        Err(e) if e.code().status().is_server_error() => {
            // Nothing to replay: the report is idempotent by its hold
            // anyway, so the same key may simply be sent again.
            call.release().await?;
            Err(e)
        }
        Ok(reported) => {
            let ok = if reported.existing {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            call.complete(Ok(TerminalPayment::from(reported.status)), ok)
                .await
        }
        Err(e) => {
            call.complete(Err::<TerminalPayment, _>(e), StatusCode::OK)
                .await
        }
    }
}

/// Poll one of this terminal's payments: state, energy, running then final
/// cost, captured amount, and the receipt link once captured.
#[utoipa::path(
    get, path = "/api/v1/terminal/payments/{id}", tag = "terminal",
    params(("id" = String, Path, description = "Payment id (UUID), from the report's answer")),
    responses(
        (status = 200, description = "The payment as it stands", body = TerminalPayment),
        (status = 401, description = "Missing or invalid terminal key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No payment of this terminal with this id (`payment_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled (`payments_disabled`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("terminal_key" = []))
)]
pub async fn get_payment(
    State(state): State<ApiState>,
    Extension(terminal): Extension<DomainTerminal>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<TerminalPayment>> {
    let id = PaymentId::parse(&raw).map_err(|e| ApiError::field("id", e.to_string()))?;
    let service = service(&state)?;
    let view = service.terminal_payment(&terminal, id).await?;
    Ok(Json(view.into()))
}
