//! `/api/v1/payments`: the operator's view of payments with their gateway
//! steps, and refunds. A refund moves money, so it requires an
//! `Idempotency-Key` header and a repeat gets the stored response.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use joule_domain::access::api_key::ApiKey;
use joule_domain::payments::payment::PaymentId;

use crate::dto::payment::{PaymentDetail, PaymentQuery, RefundRequest};
use crate::dto::PaymentPage;
use crate::extract::{parse_json, ApiPath, ApiQuery};
use crate::idempotency::{self, idempotency_key, stored_response, IdempotentCall};
use crate::pay::service;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

fn payment_id(raw: &str) -> ApiResult<PaymentId> {
    PaymentId::parse(raw).map_err(|e| ApiError::field("id", e.to_string()))
}

/// List payments, newest first.
#[utoipa::path(
    get, path = "/api/v1/payments", tag = "payments",
    params(PaymentQuery),
    responses(
        (status = 200, description = "A page of payments", body = PaymentPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_payments(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<PaymentQuery>,
) -> ApiResult<Json<PaymentPage>> {
    let (filter, page) = query.parse()?;
    let paged = state.store.list_payments(filter, page).await?;
    Ok(Json(PaymentPage {
        items: paged.items.into_iter().map(Into::into).collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get a payment with the history of its gateway steps.
#[utoipa::path(
    get, path = "/api/v1/payments/{id}", tag = "payments",
    params(("id" = String, Path, description = "Payment id (UUID)")),
    responses(
        (status = 200, description = "The payment and its steps", body = PaymentDetail),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown payment (`payment_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_payment(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<PaymentDetail>> {
    let id = payment_id(&raw)?;
    let detail = state
        .store
        .get_payment(id)
        .await?
        .ok_or(ApiError::PaymentNotFound)?;
    Ok(Json(detail.into()))
}

/// Refund a captured payment, all that is refundable or `amount_minor`.
/// Never more than captured minus refunded.
#[utoipa::path(
    post, path = "/api/v1/payments/{id}/refund", tag = "payments",
    params(
        ("id" = String, Path, description = "Payment id (UUID)"),
        ("Idempotency-Key" = String, Header, description = "Required; a repeat with the same key returns the first response"),
    ),
    request_body(content = RefundRequest, description = "Optional; an empty body refunds everything refundable"),
    responses(
        (status = 200, description = "The payment after the refund", body = PaymentDetail),
        (status = 400, description = "No `Idempotency-Key` (`idempotency_key_missing`) or bad JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown payment (`payment_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not refundable now (`payment_step_refused`), or the first request with this key is still running (`request_in_progress`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used for another request (`idempotency_key_reused`) or invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The gateway refused (`gateway_error`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled or gateway down", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refund(
    State(state): State<ApiState>,
    Extension(api_key): Extension<ApiKey>,
    ApiPath(raw): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let id = payment_id(&raw)?;
    let request: RefundRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefundRequest::default()
    } else {
        parse_json(&body)?
    };
    let scope = format!("{}:refund", api_key.id);
    let request_id = format!("{id}:{:?}", request.amount_minor);
    // A repeat after the first request died is tied to the refund step it
    // made, once its claim on the payment has lapsed (recovery_after_s).
    let resume_after = state.payments.as_ref().map(|p| p.settings().recovery_after);
    let (call, resumed) =
        match idempotency::begin(&state, scope, key, &request_id, resume_after).await? {
            IdempotentCall::Repeat(answer) => return Ok(stored_response(answer)),
            IdempotentCall::New(call) => (call, None),
            IdempotentCall::Resume(call, since) => (call, Some(since)),
        };
    let outcome = match service(&state) {
        Ok(service) => match resumed {
            None => service.refund(id, request.amount_minor).await,
            Some(since) => service.resume_refund(id, request.amount_minor, since).await,
        }
        .map(PaymentDetail::from)
        .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    if let Err(e @ ApiError::PaymentBusy(_)) = outcome {
        // Nothing was recorded: the same key may simply be sent again.
        call.release().await?;
        return Err(e);
    }
    // Stored, success or refusal, so a repeat gets the same answer. A 503
    // (gateway outcome unknown) is stored too: the refund step stays
    // intended and the recovery worker finishes it; the payment (GET) shows
    // when it did.
    let answer = call.complete(outcome, StatusCode::OK).await?;
    Ok(stored_response(answer))
}
