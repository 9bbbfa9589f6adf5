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
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use joule_domain::api_idempotency::{IdempotencyBegin, NewIdempotencyRecord};
use joule_domain::error::StoreError;
use joule_domain::payment::PaymentId;
use joule_domain::terminal::Terminal as DomainTerminal;
use sha2::{Digest, Sha256};

use crate::dto::terminal::{ReportTerminalPayment, Terminal, TerminalPayment};
use crate::extract::{parse_json, ApiPath};
use crate::pay::service;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// Longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 255;

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
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::IdempotencyKeyMissing)?;
    if key.len() > MAX_KEY_LEN {
        return Err(ApiError::field(
            "Idempotency-Key",
            format!("must be at most {MAX_KEY_LEN} characters"),
        ));
    }
    let request: ReportTerminalPayment = parse_json(&body)?;
    let (status, body) = report(&state, &terminal, key, &request).await?;
    Ok(stored_answer(status, body))
}

/// An answer as first given: a replayed refusal is problem JSON again.
fn stored_answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    if status.is_client_error() || status.is_server_error() {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(crate::problem::PROBLEM_CONTENT_TYPE),
        );
    }
    response
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
    let hash = hex::encode(Sha256::digest(
        format!(
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
        )
        .as_bytes(),
    ));
    let begun = state
        .store
        .begin_idempotent(NewIdempotencyRecord {
            scope: scope.clone(),
            key: key.to_owned(),
            request_hash: hash,
            created_at: state.clock.now(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => ApiError::IdempotencyKeyReused,
            e => ApiError::Store(e),
        })?;
    match begun {
        IdempotencyBegin::Completed(record) => {
            let Some(stored) = record.response else {
                return Err(ApiError::RequestInProgress);
            };
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            return Ok((status, stored.body));
        }
        IdempotencyBegin::InProgress(_) => return Err(ApiError::RequestInProgress),
        IdempotencyBegin::New(_) => {}
    }
    let outcome = service
        .report_terminal_payment(terminal, report)
        .await
        .map_err(ApiError::from);
    let (status, body) = match &outcome {
        Ok(reported) => (
            if reported.existing {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            },
            serde_json::to_value(TerminalPayment::from(reported.status.clone()))
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        ),
        Err(e) if e.code().status().is_server_error() => {
            // Nothing to replay: the report is idempotent by its hold
            // anyway, so the same key may simply be sent again.
            state.store.release_idempotent(&scope, key).await?;
            return Err(outcome.err().unwrap_or(ApiError::GatewayUnavailable));
        }
        Err(e) => (
            e.code().status(),
            serde_json::to_value(e.problem()).map_err(|e| ApiError::Internal(e.to_string()))?,
        ),
    };
    state
        .store
        .complete_idempotent(
            &scope,
            key,
            status.as_u16(),
            body.clone(),
            state.clock.now(),
        )
        .await?;
    match outcome {
        Ok(_) => Ok((status, body)),
        Err(e) => Err(e),
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
