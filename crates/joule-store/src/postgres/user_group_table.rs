//! The user-group rows other aggregates read: a site, charger or tariff
//! assignment names groups that must exist, and a token's groups decide its
//! tariff. Apart from `user_groups.rs` (the port, which reads sites for a
//! charger's rule) so those aggregates do not import each other in a circle.

use joule_domain::charging::user_group::{UserGroup, UserGroupId};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::IdToken;
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::sql::{get, map_rows, pg, R};
use crate::{rows, statements, values};

pub(crate) fn group_id_row(row: &PgRow) -> R<UserGroupId> {
    values::parse_group_id(&get::<String>(row, 0)?)
}

pub(crate) async fn get_user_group(c: &mut PgConnection, id: &UserGroupId) -> R<Option<UserGroup>> {
    sqlx::query(statements::GET_USER_GROUP)
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(rows::user_group)
        .transpose()
}

/// Fails with `NotFound` unless every group exists; the rows stay share-locked
/// until commit, so a concurrent delete cannot leave a dangling membership.
pub(crate) async fn require_groups(c: &mut PgConnection, groups: &[UserGroupId]) -> R<()> {
    for g in groups {
        let found = sqlx::query("SELECT 1 FROM user_groups WHERE id = $1 FOR SHARE")
            .bind(g.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?;
        if found.is_none() {
            return Err(StoreError::NotFound {
                entity: "user group",
            });
        }
    }
    Ok(())
}

pub(crate) async fn token_groups(c: &mut PgConnection, id_tag: &IdToken) -> R<Vec<UserGroupId>> {
    let rows = sqlx::query(
        "SELECT group_id FROM token_groups WHERE id_tag_key = $1 ORDER BY group_id COLLATE \"C\"",
    )
    .bind(id_tag.key())
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    map_rows(rows, group_id_row)
}
