//! Id tokens (RFID cards, app tokens) and their authorization data.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::charging::token::{NewToken, Token, TokenFilter, TokenPatch};
use crate::kernel::ids::IdToken;
use crate::kernel::page::{Page, Paged};

use super::StoreResult;

/// Id tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Fails with `Conflict` when a token with the same (case-insensitive)
    /// id tag exists.
    async fn create_token(&self, new: NewToken, at: DateTime<Utc>) -> StoreResult<Token>;
    async fn get_token(&self, id_tag: &IdToken) -> StoreResult<Option<Token>>;
    async fn list_tokens(&self, filter: TokenFilter, page: Page) -> StoreResult<Paged<Token>>;
    async fn update_token(
        &self,
        id_tag: &IdToken,
        patch: TokenPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Token>>;
    async fn delete_token(&self, id_tag: &IdToken, at: DateTime<Utc>) -> StoreResult<bool>;
}
