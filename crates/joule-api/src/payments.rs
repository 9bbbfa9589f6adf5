//! `/api/v1/payments`: the operator's view of payments with their gateway
//! steps, and refunds. A refund moves money, so it requires an
//! `Idempotency-Key` header and a repeat gets the stored response.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use joule_domain::api_idempotency::{IdempotencyBegin, NewIdempotencyRecord};
use joule_domain::api_key::ApiKey;
use joule_domain::error::StoreError;
use joule_domain::payment::PaymentId;
use sha2::{Digest, Sha256};

use crate::dto::payment::{PaymentDetail, PaymentQuery, RefundRequest};
use crate::dto::PaymentPage;
use crate::extract::{parse_json, ApiPath, ApiQuery};
use crate::pay::service;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// Longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 255;

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
    let id = payment_id(&raw)?;
    let request: RefundRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefundRequest::default()
    } else {
        parse_json(&body)?
    };
    let scope = format!("{}:refund", api_key.id);
    let hash = hex::encode(Sha256::digest(
        format!("{id}:{:?}", request.amount_minor).as_bytes(),
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
            return Ok((status, Json(stored.body)).into_response());
        }
        IdempotencyBegin::InProgress(_) => return Err(ApiError::RequestInProgress),
        IdempotencyBegin::New(_) => {}
    }
    let outcome = match service(&state) {
        Ok(service) => service
            .refund(id, request.amount_minor)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    // Store the answer, success or refusal, so a repeat gets the same one.
    // A 503 (gateway outcome unknown) is stored too: the refund step stays
    // intended and the recovery worker finishes it; the payment (GET) shows
    // when it did.
    let (status, body) = match &outcome {
        Ok(detail) => (
            StatusCode::OK,
            serde_json::to_value(PaymentDetail::from(detail.clone()))
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        ),
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
        Ok(_) => Ok((status, Json(body)).into_response()),
        Err(e) => Err(e),
    }
}
