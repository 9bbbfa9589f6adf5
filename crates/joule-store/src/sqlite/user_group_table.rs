//! The user-group rows other aggregates read: a site, charger or tariff
//! assignment names groups that must exist, and a token's groups decide its
//! tariff. Apart from `user_groups.rs` (the port, which reads sites for a
//! charger's rule) so those aggregates do not import each other in a circle.

use joule_domain::charging::user_group::{UserGroup, UserGroupId};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::IdToken;
use rusqlite::Connection;

use super::sql::{collect, get, one, R};
use crate::{rows, statements, values};

pub(crate) fn get_user_group(c: &Connection, id: &UserGroupId) -> R<Option<UserGroup>> {
    one(c, statements::GET_USER_GROUP, [id.as_str()], |r| {
        rows::user_group(r)
    })
}

pub(crate) fn require_groups(c: &Connection, groups: &[UserGroupId]) -> R<()> {
    for g in groups {
        if get_user_group(c, g)?.is_none() {
            return Err(StoreError::NotFound {
                entity: "user group",
            });
        }
    }
    Ok(())
}

pub(crate) fn token_groups(c: &Connection, id_tag: &IdToken) -> R<Vec<UserGroupId>> {
    collect(
        c,
        "SELECT group_id FROM token_groups WHERE id_tag_key = ?1 ORDER BY group_id",
        [id_tag.key()],
        |row| values::parse_group_id(&get::<String>(row, 0)?),
    )
}
