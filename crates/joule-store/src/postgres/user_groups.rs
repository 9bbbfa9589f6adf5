//! User groups, token memberships and charger access (`UserGroupStore`).

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sites::get_site;
use super::sql::{get, limit_offset, map_rows, pg, unique_as_conflict, R};
use super::tokens::token_by_key;
use super::user_group_table::{get_user_group, group_id_row, require_groups, token_groups};
use super::PgStore;
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
use joule_domain::pricing::assignment::AssignmentFilter;
use sqlx::PgConnection;

#[async_trait]
impl UserGroupStore for PgStore {
    async fn create_user_group(
        &self,
        new: NewUserGroup,
        at: DateTime<Utc>,
    ) -> StoreResult<UserGroup> {
        in_tx!(self, c => async {
            let new = &new;
            sqlx::query(
                statements::CREATE_USER_GROUP,
            )
            .bind(new.id.as_str())
            .bind(&new.name)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("user group"))?;
            let group = get_user_group(c, &new.id)
                .await?
                .ok_or(StoreError::NotFound {
                    entity: "user group",
                })?;
            insert_event(c, &events::ev_user_group_created(&group)).await?;
            Ok(group)
        })
    }

    async fn get_user_group(&self, id: &UserGroupId) -> StoreResult<Option<UserGroup>> {
        on_conn!(self, c => get_user_group(c, id))
    }

    async fn list_user_groups(&self, page: Page) -> StoreResult<Paged<UserGroup>> {
        on_conn!(self, c => async {
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(
                "SELECT id, name, created_at, updated_at FROM user_groups \
                 ORDER BY id COLLATE \"C\" LIMIT $1 OFFSET $2",
            )
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Paged::from_overfetch(
                map_rows(rows, rows::user_group)?,
                page,
            ))
        })
    }

    async fn update_user_group(
        &self,
        id: &UserGroupId,
        patch: UserGroupPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<UserGroup>> {
        in_tx!(self, c => async {
            let patch = &patch;
            let n = sqlx::query(
                "UPDATE user_groups SET name = COALESCE($2, name), updated_at = $3 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(patch.name.as_deref())
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected();
            if n == 0 {
                return Ok(None);
            }
            let group = get_user_group(c, id).await?.ok_or(StoreError::NotFound {
                entity: "user group",
            })?;
            insert_event(c, &events::ev_user_group_updated(&group)).await?;
            Ok(Some(group))
        })
    }

    async fn delete_user_group(&self, id: &UserGroupId, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => async {
            let n = sqlx::query(statements::DELETE_USER_GROUP)
                .bind(id.as_str())
                .execute(&mut *c)
                .await
                .map_err(pg)?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            for sql in [
                statements::DELETE_USER_GROUP_2,
                statements::DELETE_USER_GROUP_3,
                statements::DELETE_USER_GROUP_4,
            ] {
                sqlx::query(sql)
                    .bind(id.as_str())
                    .execute(&mut *c)
                    .await
                    .map_err(pg)?;
            }
            let assigned = AssignmentFilter {
                group_id: Some(id.clone()),
                ..AssignmentFilter::default()
            };
            delete_assignments_where(c, &assigned, at).await?;
            insert_event(c, &events::ev_user_group_deleted(id, at)).await?;
            Ok(true)
        })
    }

    async fn set_token_groups(
        &self,
        id_tag: &IdToken,
        groups: Vec<UserGroupId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<UserGroupId>>> {
        in_tx!(self, c => async {
            let Some(token) = token_by_key(c, &id_tag.key(), true).await? else {
                return Ok(None);
            };
            let groups = values::normalized(groups);
            require_groups(c, &groups).await?;
            sqlx::query(statements::SET_TOKEN_GROUPS)
                .bind(id_tag.key())
                .execute(&mut *c)
                .await
                .map_err(pg)?;
            for g in &groups {
                sqlx::query(statements::SET_TOKEN_GROUPS_2)
                    .bind(id_tag.key())
                    .bind(g.as_str())
                    .execute(&mut *c)
                    .await
                    .map_err(pg)?;
            }
            insert_event(
                c,
                &events::ev_token_groups_changed(&token.id_tag, &groups, at),
            )
            .await?;
            Ok(Some(groups))
        })
    }

    async fn token_groups(&self, id_tag: &IdToken) -> StoreResult<Vec<UserGroupId>> {
        on_conn!(self, c => token_groups(c, id_tag))
    }

    async fn set_charger_access(
        &self,
        id: &ChargerId,
        rule: ChargerAccessRule,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<ChargerAccessRule>> {
        in_tx!(self, c => async {
            let rule = ChargerAccessRule {
                access: rule.access,
                allowed_groups: values::normalized(rule.allowed_groups),
            };
            require_groups(c, &rule.allowed_groups).await?;
            let n = sqlx::query("UPDATE chargers SET access = $2, access_set = TRUE WHERE id = $1")
                .bind(id.as_str())
                .bind(rule.access.as_str())
                .execute(&mut *c)
                .await
                .map_err(pg)?
                .rows_affected();
            if n == 0 {
                return Ok(None);
            }
            sqlx::query(statements::SET_CHARGER_ACCESS)
                .bind(id.as_str())
                .execute(&mut *c)
                .await
                .map_err(pg)?;
            for g in &rule.allowed_groups {
                sqlx::query(statements::SET_CHARGER_ACCESS_2)
                    .bind(id.as_str())
                    .bind(g.as_str())
                    .execute(&mut *c)
                    .await
                    .map_err(pg)?;
            }
            insert_event(c, &events::ev_charger_access_changed(id, &rule, at)).await?;
            Ok(Some(rule))
        })
    }

    async fn charger_access(&self, id: &ChargerId) -> StoreResult<Option<ChargerAccessRule>> {
        on_conn!(self, c => charger_access(c, id))
    }
}

pub(crate) async fn charger_access(
    c: &mut PgConnection,
    id: &ChargerId,
) -> R<Option<ChargerAccessRule>> {
    let Some(row) = sqlx::query(statements::CHARGER_ACCESS)
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
    else {
        return Ok(None);
    };
    let access = values::parse_access(&get::<String>(&row, 0)?)?;
    if !get::<bool>(&row, 1)? {
        let site = match get::<Option<String>>(&row, 2)? {
            Some(s) => get_site(c, &crate::scopes::site_id(&s)?).await?,
            None => None,
        };
        return Ok(Some(site.map(|s| s.access).unwrap_or_default()));
    }
    let rows = sqlx::query(
        "SELECT group_id FROM charger_groups WHERE charger_id = $1 ORDER BY group_id COLLATE \"C\"",
    )
    .bind(id.as_str())
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    Ok(Some(ChargerAccessRule {
        access,
        allowed_groups: map_rows(rows, group_id_row)?,
    }))
}
