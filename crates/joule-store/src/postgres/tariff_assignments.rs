//! Tariff assignments and the candidates of the precedence rule
//! (`TariffAssignmentStore`).

use super::assignment_table::{assignment_cols, assignment_row, get_assignment, select_where};
use super::outbox::insert_event;
use super::sites::get_site;
use super::sql::{get, map_rows, pg, R};
use super::tariffs::{default_tariff, get_tariff};
use super::tokens::get_token;
use super::user_group_table::{get_user_group, token_groups};
use super::user_groups::charger_access;
use super::PgStore;
use crate::events;
use crate::scopes::{self as p};
use crate::statements;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, IdToken};
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::ports::store::{StoreResult, TariffAssignmentStore};
use joule_domain::pricing::assignment::{
    AssignmentFilter, AssignmentId, AssignmentScope, NewTariffAssignment, TariffAssignment,
    TariffCandidates,
};
use sqlx::PgConnection;

#[async_trait]
impl TariffAssignmentStore for PgStore {
    async fn create_tariff_assignment(
        &self,
        new: NewTariffAssignment,
        at: DateTime<Utc>,
    ) -> StoreResult<TariffAssignment> {
        in_tx!(self, c => async {
            let new = &new;
            if get_tariff(c, &new.tariff_id).await?.is_none() {
                return Err(StoreError::NotFound { entity: "tariff" });
            }
            require_target(c, &new.scope).await?;
            let id = AssignmentId::new_v7();
            let cols = p::scope_cols(&new.scope);
            sqlx::query(
                statements::CREATE_TARIFF_ASSIGNMENT,
            )
            .bind(id.to_string())
            .bind(&new.tariff_id)
            .bind(new.scope.kind().as_str())
            .bind(&cols.site_id)
            .bind(&cols.charger_id)
            .bind(cols.connector_id)
            .bind(&cols.group_id)
            .bind(&cols.id_tag)
            .bind(&cols.id_tag_key)
            .bind(new.valid_from)
            .bind(new.valid_until)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let stored = get_assignment(c, id).await?.ok_or(StoreError::NotFound {
                entity: "tariff assignment",
            })?;
            insert_event(c, &events::ev_assignment_created(&stored)).await?;
            Ok(stored)
        })
    }

    async fn get_tariff_assignment(
        &self,
        id: AssignmentId,
    ) -> StoreResult<Option<TariffAssignment>> {
        on_conn!(self, c => get_assignment(c, id))
    }

    async fn list_tariff_assignments(
        &self,
        filter: AssignmentFilter,
        page: Page,
    ) -> StoreResult<Paged<TariffAssignment>> {
        on_conn!(self, c => async {
            let filter = &filter;
            let rows = select_where(c, filter, Some(page)).await?;
            Ok(Paged::from_overfetch(rows, page))
        })
    }

    async fn delete_tariff_assignment(
        &self,
        id: AssignmentId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        in_tx!(self, c => async {
            let Some(a) = get_assignment(c, id).await? else {
                return Ok(false);
            };
            sqlx::query(statements::DELETE_TARIFF_ASSIGNMENT)
                .bind(id.to_string())
                .execute(&mut *c)
                .await
                .map_err(pg)?;
            insert_event(c, &events::ev_assignment_deleted(&a, at)).await?;
            Ok(true)
        })
    }

    async fn tariff_candidates(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdToken>,
    ) -> StoreResult<Option<TariffCandidates>> {
        // One transaction (READ COMMITTED: each statement sees what was
        // committed when it started; a concurrent edit can at worst give a
        // mix of the before and after state, never a half-written one).
        in_tx!(self, c => async {
            let Some(row) = sqlx::query(statements::TARIFF_CANDIDATES)
                .bind(charger.as_str())
                .fetch_optional(&mut *c)
                .await
                .map_err(pg)?
            else {
                return Ok(None);
            };
            let site_id: Option<String> = get(&row, 0)?;
            let charger_tariff: Option<String> = get(&row, 1)?;
            let site = match site_id.as_deref() {
                Some(s) => get_site(c, &p::site_id(s)?).await?,
                None => None,
            };
            let access = charger_access(c, charger).await?.unwrap_or_default();
            let groups = match id_tag {
                Some(tag) => token_groups(c, tag).await?,
                None => Vec::new(),
            };
            let rows = sqlx::query(concat!(
                assignment_cols!(),
                " WHERE (charger_id = $1 AND scope IN ('charger', 'connector')) \
                 OR (scope = 'site' AND site_id = $2) \
                 OR (scope = 'id_token' AND id_tag_key = $3) \
                 OR (scope = 'user_group' AND group_id IN \
                     (SELECT group_id FROM token_groups WHERE id_tag_key = $3)) \
                 ORDER BY id COLLATE \"C\""
            ))
            .bind(charger.as_str())
            .bind(site_id.as_deref())
            .bind(id_tag.map(IdToken::key))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            let assignments = map_rows(rows, assignment_row)?;
            let mut ids: Vec<String> = assignments.iter().map(|a| a.tariff_id.clone()).collect();
            ids.extend(charger_tariff.clone());
            ids.sort_unstable();
            ids.dedup();
            let mut tariffs = Vec::with_capacity(ids.len());
            for id in &ids {
                tariffs.extend(get_tariff(c, id).await?);
            }
            Ok(Some(TariffCandidates {
                site,
                charger_tariff,
                groups,
                assignments,
                tariffs,
                default: default_tariff(c).await?,
                access,
            }))
        })
    }
}

pub(super) async fn require_target(c: &mut PgConnection, scope: &AssignmentScope) -> R<()> {
    let missing = |entity| Err(StoreError::NotFound { entity });
    match scope {
        AssignmentScope::IdToken { id_tag } => {
            if get_token(c, id_tag).await?.is_none() {
                return missing("id token");
            }
        }
        AssignmentScope::UserGroup { group_id, site_id } => {
            if get_user_group(c, group_id).await?.is_none() {
                return missing("user group");
            }
            if let Some(s) = site_id {
                if get_site(c, s).await?.is_none() {
                    return missing("site");
                }
            }
        }
        AssignmentScope::Connector { charger_id, .. } | AssignmentScope::Charger { charger_id } => {
            if charger_access(c, charger_id).await?.is_none() {
                return missing("charger");
            }
        }
        AssignmentScope::Site { site_id } => {
            if get_site(c, site_id).await?.is_none() {
                return missing("site");
            }
        }
    }
    Ok(())
}
