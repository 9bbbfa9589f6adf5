//! `Idempotency-Key` records of API requests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::access::api_idempotency::{IdempotencyBegin, IdempotencyRecord, NewIdempotencyRecord};

use super::StoreResult;

/// Stored responses of money-moving API calls, keyed by the client's
/// `Idempotency-Key` within a scope (see [`crate::access::api_idempotency`]).
#[async_trait]
pub trait ApiIdempotencyStore: Send + Sync {
    /// Inserts the record, or returns the existing one for the same scope
    /// and key. `Conflict` when that one has a different request hash.
    async fn begin_idempotent(&self, new: NewIdempotencyRecord) -> StoreResult<IdempotencyBegin>;
    /// Stores the response of the first request. Completing again with the
    /// same response is harmless; a different one is a `Conflict`.
    /// `NotFound` for an unknown record.
    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyRecord>;
    /// Forgets a record that has no response yet, so the client may retry
    /// with the same key: for a request that failed before it changed
    /// anything (the gateway could not be reached to verify a terminal's
    /// hold). Returns whether a record was removed; a completed record is
    /// never removed.
    async fn release_idempotent(&self, scope: &str, key: &str) -> StoreResult<bool>;
}
