//! `Idempotency-Key` on money-moving POSTs (refunds, debt settlement,
//! terminal reports): one way to read the header, begin the record, replay
//! a stored answer and store the new one, so every such route behaves the
//! same for a client that retries (docs/payments.md, "API idempotency
//! records").

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use joule_domain::access::api_idempotency::{IdempotencyBegin, NewIdempotencyRecord};
use joule_domain::kernel::error::StoreError;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::problem::{ApiError, ApiResult, PROBLEM_CONTENT_TYPE};
use crate::ApiState;

/// Longest `Idempotency-Key` accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The request's `Idempotency-Key`: required (400 `idempotency_key_missing`)
/// and at most [`MAX_KEY_LEN`] characters.
pub fn idempotency_key(headers: &HeaderMap) -> ApiResult<&str> {
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
    Ok(key)
}

/// An answer as first given, status and JSON body.
pub type StoredAnswer = (StatusCode, serde_json::Value);

/// A money-moving request under its key: either a repeat (answer with
/// [`IdempotentCall::Repeat`]) or new (do it, then [`NewCall::complete`]).
pub enum IdempotentCall<'a> {
    Repeat(StoredAnswer),
    New(NewCall<'a>),
    /// The first request with this key began at the given time and never
    /// answered, longer ago than the route's `resume_after`: its process
    /// died. The route finishes or redoes its work (tied to what the first
    /// one recorded), then completes the record.
    Resume(NewCall<'a>, chrono::DateTime<chrono::Utc>),
}

/// A request seen for the first time under its key.
pub struct NewCall<'a> {
    state: &'a ApiState,
    scope: String,
    key: &'a str,
}

/// Begins the request `key` within `scope` (the caller and the route, so
/// two clients' keys never meet). `request` identifies what was asked: the
/// same key with another request is 422 `idempotency_key_reused`; a repeat
/// while the first is running, or after it died before answering, is 409
/// `request_in_progress`.
///
/// `resume_after`: for routes that can tie a repeat to the work the first
/// request recorded (issue 9), a repeat of a request still in progress after
/// this long is [`IdempotentCall::Resume`]d instead of refused.
pub async fn begin<'a>(
    state: &'a ApiState,
    scope: String,
    key: &'a str,
    request: &str,
    resume_after: Option<chrono::Duration>,
) -> ApiResult<IdempotentCall<'a>> {
    let begun = state
        .store
        .begin_idempotent(NewIdempotencyRecord {
            scope: scope.clone(),
            key: key.to_owned(),
            request_hash: hex::encode(Sha256::digest(request.as_bytes())),
            created_at: state.clock.now(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => ApiError::IdempotencyKeyReused,
            e => ApiError::Store(e),
        })?;
    match begun {
        IdempotencyBegin::Completed(record) => {
            let stored = record.response.ok_or(ApiError::RequestInProgress)?;
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            Ok(IdempotentCall::Repeat((status, stored.body)))
        }
        IdempotencyBegin::InProgress(record) => match resume_after {
            Some(after) if record.created_at <= state.clock.now() - after => Ok(
                IdempotentCall::Resume(NewCall { state, scope, key }, record.created_at),
            ),
            _ => Err(ApiError::RequestInProgress),
        },
        IdempotencyBegin::New(_) => Ok(IdempotentCall::New(NewCall { state, scope, key })),
    }
}

impl NewCall<'_> {
    /// Stores the answer to `outcome` (`ok` and the value, or the refusal's
    /// status and problem) so a repeat gets the same one, and returns it.
    pub async fn complete<T: Serialize>(
        self,
        outcome: ApiResult<T>,
        ok: StatusCode,
    ) -> ApiResult<StoredAnswer> {
        let (status, body) = match &outcome {
            Ok(value) => (ok, to_json(value)?),
            Err(e) => (e.code().status(), to_json(&e.problem())?),
        };
        self.state
            .store
            .complete_idempotent(
                &self.scope,
                self.key,
                status.as_u16(),
                body.clone(),
                self.state.clock.now(),
            )
            .await?;
        match outcome {
            Ok(_) => Ok((status, body)),
            Err(e) => Err(e),
        }
    }

    /// Forgets the record without an answer: for a request that recorded
    /// nothing and may simply be sent again with the same key.
    pub async fn release(self) -> ApiResult<()> {
        self.state
            .store
            .release_idempotent(&self.scope, self.key)
            .await?;
        Ok(())
    }
}

fn to_json<T: Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A stored answer as a response: a replayed refusal is problem JSON again.
pub fn stored_response((status, body): StoredAnswer) -> Response {
    let mut response = (status, Json(body)).into_response();
    if status.is_client_error() || status.is_server_error() {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
    }
    response
}
