//! User groups, token memberships and charger access (`UserGroupStore`).

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sites::get_site;
use super::sql::{collect, db, exec, get, limit_offset, one, ts, unique_as_conflict, R};
use super::tokens::get_token;
use super::user_group_table::{get_user_group, require_groups, token_groups};
use super::SqliteStore;
use crate::events;
use crate::statements;
use crate::{rows, values};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::charging::user_group::{
    ChargerAccessRule, NewUserGroup, UserGroup, UserGroupId, UserGroupPatch,
};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, IdToken};
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::ports::store::{StoreResult, UserGroupStore};
use rusqlite::{params, Connection};

#[async_trait]
impl UserGroupStore for SqliteStore {
    async fn create_user_group(
        &self,
        new: NewUserGroup,
        at: DateTime<Utc>,
    ) -> StoreResult<UserGroup> {
        self.write(move |c| {
            let new = &new;
            c.prepare_cached(statements::CREATE_USER_GROUP)
                .map_err(db)?
                .execute(params![new.id.as_str(), new.name, ts(at)])
                .map_err(unique_as_conflict("user group"))?;
            let group = get_user_group(c, &new.id)?.ok_or(StoreError::NotFound {
                entity: "user group",
            })?;
            insert_event(c, &events::ev_user_group_created(&group))?;
            Ok(group)
        })
        .await
    }

    async fn get_user_group(&self, id: &UserGroupId) -> StoreResult<Option<UserGroup>> {
        let id = id.clone();
        self.read(move |c| get_user_group(c, &id)).await
    }

    async fn list_user_groups(&self, page: Page) -> StoreResult<Paged<UserGroup>> {
        self.read(move |c| {
            let (limit, offset) = limit_offset(page);
            let rows = collect(
                c,
                "SELECT id, name, created_at, updated_at FROM user_groups \
                 ORDER BY id LIMIT ?1 OFFSET ?2",
                params![limit, offset],
                |r| rows::user_group(r),
            )?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn update_user_group(
        &self,
        id: &UserGroupId,
        patch: UserGroupPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<UserGroup>> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let patch = &patch;
            let Some(mut group) = get_user_group(c, id)? else {
                return Ok(None);
            };
            if let Some(name) = &patch.name {
                group.name = name.clone();
            }
            exec(
                c,
                "UPDATE user_groups SET name = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.as_str(), group.name, ts(at)],
            )?;
            group.updated_at = at;
            insert_event(c, &events::ev_user_group_updated(&group))?;
            Ok(Some(group))
        })
        .await
    }

    async fn delete_user_group(&self, id: &UserGroupId, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let n = exec(c, statements::DELETE_USER_GROUP, [id.as_str()])?;
            if n == 0 {
                return Ok(false);
            }
            exec(c, statements::DELETE_USER_GROUP_2, [id.as_str()])?;
            exec(c, statements::DELETE_USER_GROUP_3, [id.as_str()])?;
            exec(c, statements::DELETE_USER_GROUP_4, [id.as_str()])?;
            let assigned = joule_domain::pricing::assignment::AssignmentFilter {
                group_id: Some(id.clone()),
                ..Default::default()
            };
            delete_assignments_where(c, &assigned, at)?;
            insert_event(c, &events::ev_user_group_deleted(id, at))?;
            Ok(true)
        })
        .await
    }

    async fn set_token_groups(
        &self,
        id_tag: &IdToken,
        groups: Vec<UserGroupId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<UserGroupId>>> {
        let id_tag = id_tag.clone();
        self.write(move |c| {
            let id_tag = &id_tag;
            let Some(token) = get_token(c, id_tag)? else {
                return Ok(None);
            };
            let groups = values::normalized(groups);
            require_groups(c, &groups)?;
            exec(c, statements::SET_TOKEN_GROUPS, [id_tag.key()])?;
            for g in &groups {
                exec(
                    c,
                    statements::SET_TOKEN_GROUPS_2,
                    params![id_tag.key(), g.as_str()],
                )?;
            }
            insert_event(
                c,
                &events::ev_token_groups_changed(&token.id_tag, &groups, at),
            )?;
            Ok(Some(groups))
        })
        .await
    }

    async fn token_groups(&self, id_tag: &IdToken) -> StoreResult<Vec<UserGroupId>> {
        let id_tag = id_tag.clone();
        self.read(move |c| token_groups(c, &id_tag)).await
    }

    async fn set_charger_access(
        &self,
        id: &ChargerId,
        rule: ChargerAccessRule,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<ChargerAccessRule>> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let rule = ChargerAccessRule {
                access: rule.access,
                allowed_groups: values::normalized(rule.allowed_groups),
            };
            require_groups(c, &rule.allowed_groups)?;
            let n = exec(
                c,
                "UPDATE chargers SET access = ?2, access_set = 1 WHERE id = ?1",
                params![id.as_str(), rule.access.as_str()],
            )?;
            if n == 0 {
                return Ok(None);
            }
            exec(c, statements::SET_CHARGER_ACCESS, [id.as_str()])?;
            for g in &rule.allowed_groups {
                exec(
                    c,
                    statements::SET_CHARGER_ACCESS_2,
                    params![id.as_str(), g.as_str()],
                )?;
            }
            insert_event(c, &events::ev_charger_access_changed(id, &rule, at))?;
            Ok(Some(rule))
        })
        .await
    }

    async fn charger_access(&self, id: &ChargerId) -> StoreResult<Option<ChargerAccessRule>> {
        let id = id.clone();
        self.read(move |c| charger_access(c, &id)).await
    }
}

/// The charger's effective rule: its own when set explicitly, else its
/// site's, else public.
pub(crate) fn charger_access(c: &Connection, id: &ChargerId) -> R<Option<ChargerAccessRule>> {
    let Some((access, access_set, site_id)) =
        one(c, statements::CHARGER_ACCESS, [id.as_str()], |row| {
            Ok((
                values::parse_access(&get::<String>(row, 0)?)?,
                get::<bool>(row, 1)?,
                get::<Option<String>>(row, 2)?,
            ))
        })?
    else {
        return Ok(None);
    };
    if !access_set {
        let site = match site_id.as_deref() {
            Some(s) => get_site(c, &crate::scopes::site_id(s)?)?,
            None => None,
        };
        return Ok(Some(site.map(|s| s.access).unwrap_or_default()));
    }
    let allowed_groups = collect(
        c,
        "SELECT group_id FROM charger_groups WHERE charger_id = ?1 ORDER BY group_id",
        [id.as_str()],
        |row| values::parse_group_id(&get::<String>(row, 0)?),
    )?;
    Ok(Some(ChargerAccessRule {
        access,
        allowed_groups,
    }))
}
