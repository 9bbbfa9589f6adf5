//! API keys (stored hashed).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::access::api_key::{ApiKey, NewApiKey};

use super::StoreResult;

/// API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn count_api_keys(&self) -> StoreResult<u64>;
    async fn create_api_key(&self, new: NewApiKey, at: DateTime<Utc>) -> StoreResult<ApiKey>;
    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>>;
}
