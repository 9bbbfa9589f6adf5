//! Tariff assignments and the candidates of the precedence rule
//! (`TariffAssignmentStore`).

use super::assignment_table::{
    assignment_row, filter_params, get_assignment, ASSIGNMENT_COLS, FILTER,
};
use super::chargers::require_charger;
use super::outbox::insert_event;
use super::sites::get_site;
use super::sql::{collect, exec, get, limit_offset, one, opt_ts, ts, R};
use super::tariffs::{default_tariff, get_tariff};
use super::tokens::get_token;
use super::user_group_table::{get_user_group, token_groups};
use super::user_groups::charger_access;
use super::SqliteStore;
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
use rusqlite::{params, Connection};

#[async_trait]
impl TariffAssignmentStore for SqliteStore {
    async fn create_tariff_assignment(
        &self,
        new: NewTariffAssignment,
        at: DateTime<Utc>,
    ) -> StoreResult<TariffAssignment> {
        self.write(move |c| {
            let new = &new;
            if get_tariff(c, &new.tariff_id)?.is_none() {
                return Err(StoreError::NotFound { entity: "tariff" });
            }
            require_target(c, &new.scope)?;
            let id = AssignmentId::new_v7();
            let cols = p::scope_cols(&new.scope);
            exec(
                c,
                statements::CREATE_TARIFF_ASSIGNMENT,
                params![
                    id.to_string(),
                    new.tariff_id,
                    new.scope.kind().as_str(),
                    cols.site_id,
                    cols.charger_id,
                    cols.connector_id,
                    cols.group_id,
                    cols.id_tag,
                    cols.id_tag_key,
                    opt_ts(new.valid_from),
                    opt_ts(new.valid_until),
                    ts(at),
                ],
            )?;
            let stored = get_assignment(c, id)?.ok_or(StoreError::NotFound {
                entity: "tariff assignment",
            })?;
            insert_event(c, &events::ev_assignment_created(&stored))?;
            Ok(stored)
        })
        .await
    }

    async fn get_tariff_assignment(
        &self,
        id: AssignmentId,
    ) -> StoreResult<Option<TariffAssignment>> {
        self.read(move |c| get_assignment(c, id)).await
    }

    async fn list_tariff_assignments(
        &self,
        filter: AssignmentFilter,
        page: Page,
    ) -> StoreResult<Paged<TariffAssignment>> {
        self.read(move |c| {
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let [a, b, cc, d, e, f] = filter_params(filter);
            let sql = format!("{ASSIGNMENT_COLS} WHERE {FILTER} ORDER BY id LIMIT ?7 OFFSET ?8");
            let rows = collect(
                c,
                &sql,
                params![a, b, cc, d, e, f, limit, offset],
                assignment_row,
            )?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn delete_tariff_assignment(
        &self,
        id: AssignmentId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(move |c| {
            let Some(a) = get_assignment(c, id)? else {
                return Ok(false);
            };
            exec(c, statements::DELETE_TARIFF_ASSIGNMENT, [id.to_string()])?;
            insert_event(c, &events::ev_assignment_deleted(&a, at))?;
            Ok(true)
        })
        .await
    }

    async fn tariff_candidates(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdToken>,
    ) -> StoreResult<Option<TariffCandidates>> {
        let charger = charger.clone();
        let id_tag = id_tag.cloned();
        self.read(move |c| {
            let charger = &charger;
            let id_tag = id_tag.as_ref();
            let Some((site_id, charger_tariff)) = one(
                c,
                statements::TARIFF_CANDIDATES,
                [charger.as_str()],
                |row| {
                    Ok((
                        get::<Option<String>>(row, 0)?,
                        get::<Option<String>>(row, 1)?,
                    ))
                },
            )?
            else {
                return Ok(None);
            };
            let site = match site_id.as_deref() {
                Some(s) => get_site(c, &p::site_id(s)?)?,
                None => None,
            };
            let access = charger_access(c, charger)?.unwrap_or_default();
            let groups = match id_tag {
                Some(tag) => token_groups(c, tag)?,
                None => Vec::new(),
            };
            let sql = format!(
                "{ASSIGNMENT_COLS} WHERE (charger_id = ?1 AND scope IN ('charger', 'connector')) \
                 OR (scope = 'site' AND site_id = ?2) \
                 OR (scope = 'id_token' AND id_tag_key = ?3) \
                 OR (scope = 'user_group' AND group_id IN \
                     (SELECT group_id FROM token_groups WHERE id_tag_key = ?3)) \
                 ORDER BY id"
            );
            let assignments = collect(
                c,
                &sql,
                params![charger.as_str(), site_id, id_tag.map(IdToken::key)],
                assignment_row,
            )?;
            let mut ids: Vec<&str> = assignments.iter().map(|a| a.tariff_id.as_str()).collect();
            ids.extend(charger_tariff.as_deref());
            ids.sort_unstable();
            ids.dedup();
            let mut tariffs = Vec::with_capacity(ids.len());
            for id in ids {
                tariffs.extend(get_tariff(c, id)?);
            }
            Ok(Some(TariffCandidates {
                site,
                charger_tariff,
                groups,
                assignments,
                tariffs,
                default: default_tariff(c)?,
                access,
            }))
        })
        .await
    }
}

/// `NotFound` naming what the scope points at when it does not exist.
pub(super) fn require_target(c: &Connection, scope: &AssignmentScope) -> R<()> {
    let missing = |entity| Err(StoreError::NotFound { entity });
    match scope {
        AssignmentScope::IdToken { id_tag } => {
            if get_token(c, id_tag)?.is_none() {
                return missing("id token");
            }
        }
        AssignmentScope::UserGroup { group_id, site_id } => {
            if get_user_group(c, group_id)?.is_none() {
                return missing("user group");
            }
            if let Some(s) = site_id {
                if get_site(c, s)?.is_none() {
                    return missing("site");
                }
            }
        }
        AssignmentScope::Connector { charger_id, .. } | AssignmentScope::Charger { charger_id } => {
            require_charger(c, charger_id)?;
        }
        AssignmentScope::Site { site_id } => {
            if get_site(c, site_id)?.is_none() {
                return missing("site");
            }
        }
    }
    Ok(())
}
