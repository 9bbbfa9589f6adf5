//! User groups.

use joule_domain::charging::user_group::UserGroup;

use super::{RowRead, R};
use crate::values;

/// `id, name, created_at, updated_at` of a user group.
pub(crate) fn user_group(row: &impl RowRead) -> R<UserGroup> {
    Ok(UserGroup {
        id: values::parse_group_id(&row.text(0)?)?,
        name: row.text(1)?,
        created_at: row.ts(2)?,
        updated_at: row.ts(3)?,
    })
}
