//! Id tokens (RFID cards, app tokens) and their authorization data.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::IdTag;
use crate::page::{Page, Paged};
use crate::token::{IdToken, IdTokenPatch, NewIdToken, TokenFilter};

use super::StoreResult;

/// Id tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Fails with `Conflict` when a token with the same (case-insensitive)
    /// id tag exists.
    async fn create_token(&self, new: NewIdToken, at: DateTime<Utc>) -> StoreResult<IdToken>;
    async fn get_token(&self, id_tag: &IdTag) -> StoreResult<Option<IdToken>>;
    async fn list_tokens(&self, filter: TokenFilter, page: Page) -> StoreResult<Paged<IdToken>>;
    async fn update_token(
        &self,
        id_tag: &IdTag,
        patch: IdTokenPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdToken>>;
    async fn delete_token(&self, id_tag: &IdTag, at: DateTime<Utc>) -> StoreResult<bool>;
}
