//! Idempotency of Joule's own money-moving API calls (`Idempotency-Key`
//! header, CONVENTIONS.md 13): the first request with a key is processed
//! and its response stored; a repeat gets the stored response instead of a
//! second refund. Gateway calls have their own keys
//! ([`crate::payments::idempotency`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A request that carries an idempotency key, as the API saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdempotencyRecord {
    /// Who and where: e.g. `{api key id}:POST /api/v1/payments/{id}/refund`,
    /// so two clients (or two routes) never share a key by accident.
    pub scope: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// A hash of the request body (and anything else that must match): the
    /// same key with a different request is a client error, not a repeat.
    pub request_hash: String,
    pub created_at: DateTime<Utc>,
}

/// The response stored for a completed request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

/// A stored idempotency record.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    /// `None` while the first request is still being processed.
    pub response: Option<StoredResponse>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// What [`begin`](crate::ports::store::ApiIdempotencyStore::begin_idempotent)
/// found.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyBegin {
    /// First time: process the request, then complete the record.
    New(IdempotencyRecord),
    /// A repeat of a request that is still being processed (or whose
    /// process died before completing): answer 409 and let the client retry.
    InProgress(IdempotencyRecord),
    /// A repeat of a completed request: answer with the stored response.
    Completed(IdempotencyRecord),
}
