//! User groups and who may charge where.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::charging::user_group::{
    ChargerAccessRule, NewUserGroup, UserGroup, UserGroupId, UserGroupPatch,
};
use crate::kernel::ids::{ChargerId, IdToken};
use crate::kernel::page::{Page, Paged};

use super::StoreResult;

/// User groups, token memberships and charger access rules.
#[async_trait]
pub trait UserGroupStore: Send + Sync {
    /// Fails with `Conflict` when the id exists.
    async fn create_user_group(
        &self,
        new: NewUserGroup,
        at: DateTime<Utc>,
    ) -> StoreResult<UserGroup>;
    async fn get_user_group(&self, id: &UserGroupId) -> StoreResult<Option<UserGroup>>;
    /// Ordered by id.
    async fn list_user_groups(&self, page: Page) -> StoreResult<Paged<UserGroup>>;
    async fn update_user_group(
        &self,
        id: &UserGroupId,
        patch: UserGroupPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<UserGroup>>;
    /// Also removes the group from every token and every charger's allowed
    /// groups (a private charger whose only group goes admits nobody).
    async fn delete_user_group(&self, id: &UserGroupId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Replaces the token's groups (duplicates collapse) and returns them
    /// sorted. `None` when the token is unknown; `NotFound` (entity
    /// `user group`) when a group is unknown, changing nothing.
    async fn set_token_groups(
        &self,
        id_tag: &IdToken,
        groups: Vec<UserGroupId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<UserGroupId>>>;
    /// Sorted; empty for an unknown token.
    async fn token_groups(&self, id_tag: &IdToken) -> StoreResult<Vec<UserGroupId>>;
    /// Replaces the charger's access rule (allowed groups sorted, duplicates
    /// collapsed). `None` when the charger is unknown; `NotFound` (entity
    /// `user group`) when a group is unknown, changing nothing.
    async fn set_charger_access(
        &self,
        id: &ChargerId,
        rule: ChargerAccessRule,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<ChargerAccessRule>>;
    /// `None` when the charger is unknown; `Public` with no groups unless set.
    async fn charger_access(&self, id: &ChargerId) -> StoreResult<Option<ChargerAccessRule>>;
}
