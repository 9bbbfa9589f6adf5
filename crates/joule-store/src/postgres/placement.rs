//! PostgreSQL SQL for sites and tariff assignments (see `crate::placement`
//! for what both backends share).

use chrono::{DateTime, Utc};
use joule_domain::error::StoreError;
use joule_domain::ids::{ChargerId, IdTag};
use joule_domain::page::{Page, Paged};
use joule_domain::site::{NewSite, Site, SiteId};
use joule_domain::tariff_assignment::{
    AssignmentFilter, AssignmentId, AssignmentScope, NewTariffAssignment, TariffAssignment,
    TariffCandidates,
};
use joule_domain::user_group::{ChargerAccessRule, UserGroupId};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::ops::{
    charger_access, default_tariff, get, get_tariff, get_token, get_user_group, insert_event,
    limit_offset, map_rows, pg, require_groups, token_groups, unique_as_conflict, R,
};
use crate::common;
use crate::placement::{self as p, ScopeCols};

// ---- sites -----------------------------------------------------------------

macro_rules! site_cols {
    () => {
        "SELECT id, name, time_zone, language, address::text, access, created_at, updated_at \
         FROM sites"
    };
}

fn site_row(row: &PgRow) -> R<Site> {
    Ok(Site {
        id: p::site_id(&get::<String>(row, 0)?)?,
        name: get(row, 1)?,
        time_zone: p::parse_tz(&get::<String>(row, 2)?)?,
        language: get(row, 3)?,
        address: p::parse_address(&get::<String>(row, 4)?)?,
        access: ChargerAccessRule {
            access: common::parse_access(&get::<String>(row, 5)?)?,
            allowed_groups: Vec::new(),
        },
        created_at: get(row, 6)?,
        updated_at: get(row, 7)?,
    })
}

async fn with_groups(c: &mut PgConnection, mut site: Site) -> R<Site> {
    let rows = sqlx::query(
        "SELECT group_id FROM site_groups WHERE site_id = $1 ORDER BY group_id COLLATE \"C\"",
    )
    .bind(site.id.as_str())
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    site.access.allowed_groups =
        map_rows(rows, |row| common::parse_group_id(&get::<String>(row, 0)?))?;
    Ok(site)
}

pub(crate) async fn get_site(c: &mut PgConnection, id: &SiteId) -> R<Option<Site>> {
    let row = sqlx::query(concat!(site_cols!(), " WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?;
    match row {
        Some(row) => Ok(Some(with_groups(c, site_row(&row)?).await?)),
        None => Ok(None),
    }
}

pub(crate) async fn list_sites(c: &mut PgConnection, page: Page) -> R<Paged<Site>> {
    let (limit, offset) = limit_offset(page);
    let rows = sqlx::query(concat!(
        site_cols!(),
        " ORDER BY id COLLATE \"C\" LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    let mut sites = Vec::with_capacity(rows.len());
    for site in map_rows(rows, site_row)? {
        sites.push(with_groups(c, site).await?);
    }
    Ok(Paged::from_overfetch(sites, page))
}

async fn write_site_groups(c: &mut PgConnection, id: &SiteId, groups: &[UserGroupId]) -> R<()> {
    sqlx::query("DELETE FROM site_groups WHERE site_id = $1")
        .bind(id.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    for g in groups {
        sqlx::query("INSERT INTO site_groups (site_id, group_id) VALUES ($1, $2)")
            .bind(id.as_str())
            .bind(g.as_str())
            .execute(&mut *c)
            .await
            .map_err(pg)?;
    }
    Ok(())
}

pub(crate) async fn create_site(c: &mut PgConnection, new: &NewSite, at: DateTime<Utc>) -> R<Site> {
    let groups = common::normalized(new.access.allowed_groups.clone());
    require_groups(c, &groups).await?;
    sqlx::query(
        "INSERT INTO sites (id, name, time_zone, language, address, access, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $7)",
    )
    .bind(new.id.as_str())
    .bind(&new.name)
    .bind(new.time_zone.name())
    .bind(&new.language)
    .bind(p::address_json(&new.address)?)
    .bind(new.access.access.as_str())
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_conflict("site"))?;
    write_site_groups(c, &new.id, &groups).await?;
    let site = get_site(c, &new.id)
        .await?
        .ok_or(StoreError::NotFound { entity: "site" })?;
    insert_event(c, &p::ev_site_created(&site)).await?;
    Ok(site)
}

pub(crate) async fn update_site(
    c: &mut PgConnection,
    id: &SiteId,
    new: &NewSite,
    at: DateTime<Utc>,
) -> R<Option<Site>> {
    let groups = common::normalized(new.access.allowed_groups.clone());
    require_groups(c, &groups).await?;
    let n = sqlx::query(
        "UPDATE sites SET name = $2, time_zone = $3, language = $4, address = $5::jsonb, \
         access = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(&new.name)
    .bind(new.time_zone.name())
    .bind(&new.language)
    .bind(p::address_json(&new.address)?)
    .bind(new.access.access.as_str())
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?
    .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    write_site_groups(c, id, &groups).await?;
    let site = get_site(c, id)
        .await?
        .ok_or(StoreError::NotFound { entity: "site" })?;
    insert_event(c, &p::ev_site_updated(&site)).await?;
    Ok(Some(site))
}

pub(crate) async fn delete_site(c: &mut PgConnection, id: &SiteId, at: DateTime<Utc>) -> R<bool> {
    let n = sqlx::query("DELETE FROM sites WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM site_groups WHERE site_id = $1")
        .bind(id.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    let rows = sqlx::query("UPDATE chargers SET site_id = NULL WHERE site_id = $1 RETURNING id")
        .bind(id.as_str())
        .fetch_all(&mut *c)
        .await
        .map_err(pg)?;
    let mut chargers = map_rows(rows, |row| get::<String>(row, 0))?;
    chargers.sort();
    for charger in chargers {
        let charger = common::charger_id(&charger)?;
        insert_event(c, &p::ev_charger_site_changed(&charger, None, at)).await?;
    }
    let filter = AssignmentFilter {
        site_id: Some(id.clone()),
        ..AssignmentFilter::default()
    };
    delete_assignments_where(c, &filter, at).await?;
    insert_event(c, &p::ev_site_deleted(id, at)).await?;
    Ok(true)
}

pub(crate) async fn set_charger_site(
    c: &mut PgConnection,
    id: &ChargerId,
    site: Option<&SiteId>,
    at: DateTime<Utc>,
) -> R<Option<Option<SiteId>>> {
    let Some(row) = sqlx::query("SELECT site_id FROM chargers WHERE id = $1 FOR UPDATE")
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
    else {
        return Ok(None);
    };
    let previous: Option<String> = get(&row, 0)?;
    if let Some(s) = site {
        get_site(c, s)
            .await?
            .ok_or(StoreError::NotFound { entity: "site" })?;
    }
    if previous.as_deref() != site.map(SiteId::as_str) {
        sqlx::query("UPDATE chargers SET site_id = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(site.map(SiteId::as_str))
            .execute(&mut *c)
            .await
            .map_err(pg)?;
        insert_event(c, &p::ev_charger_site_changed(id, site, at)).await?;
    }
    Ok(Some(site.cloned()))
}

// ---- tariff assignments ------------------------------------------------------

macro_rules! assignment_cols {
    () => {
        "SELECT id, tariff_id, scope, site_id, charger_id, connector_id, group_id, id_tag, \
         valid_from, valid_until, created_at FROM tariff_assignments"
    };
}

fn assignment_row(row: &PgRow) -> R<TariffAssignment> {
    p::assignment(
        &get::<String>(row, 0)?,
        get(row, 1)?,
        &get::<String>(row, 2)?,
        ScopeCols {
            site_id: get(row, 3)?,
            charger_id: get(row, 4)?,
            connector_id: get(row, 5)?,
            group_id: get(row, 6)?,
            id_tag: get(row, 7)?,
            id_tag_key: None,
        },
        get(row, 8)?,
        get(row, 9)?,
        get(row, 10)?,
    )
}

async fn require_target(c: &mut PgConnection, scope: &AssignmentScope) -> R<()> {
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

pub(crate) async fn create_assignment(
    c: &mut PgConnection,
    new: &NewTariffAssignment,
    at: DateTime<Utc>,
) -> R<TariffAssignment> {
    if get_tariff(c, &new.tariff_id).await?.is_none() {
        return Err(StoreError::NotFound { entity: "tariff" });
    }
    require_target(c, &new.scope).await?;
    let id = AssignmentId::new_v7();
    let cols = p::scope_cols(&new.scope);
    sqlx::query(
        "INSERT INTO tariff_assignments (id, tariff_id, scope, site_id, charger_id, \
         connector_id, group_id, id_tag, id_tag_key, valid_from, valid_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    insert_event(c, &p::ev_assignment_created(&stored)).await?;
    Ok(stored)
}

pub(crate) async fn get_assignment(
    c: &mut PgConnection,
    id: AssignmentId,
) -> R<Option<TariffAssignment>> {
    sqlx::query(concat!(assignment_cols!(), " WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(assignment_row)
        .transpose()
}

macro_rules! filter {
    () => {
        "($1::text IS NULL OR tariff_id = $1) AND ($2::text IS NULL OR scope = $2) \
         AND ($3::text IS NULL OR site_id = $3) AND ($4::text IS NULL OR charger_id = $4) \
         AND ($5::text IS NULL OR group_id = $5) AND ($6::text IS NULL OR id_tag_key = $6)"
    };
}

fn filter_params(f: &AssignmentFilter) -> [Option<String>; 6] {
    [
        f.tariff_id.clone(),
        f.scope.map(|s| s.as_str().to_owned()),
        f.site_id.as_ref().map(|s| s.as_str().to_owned()),
        f.charger_id.as_ref().map(|s| s.as_str().to_owned()),
        f.group_id.as_ref().map(|s| s.as_str().to_owned()),
        f.id_tag.as_ref().map(IdTag::key),
    ]
}

async fn select_where(
    c: &mut PgConnection,
    filter: &AssignmentFilter,
    page: Option<Page>,
) -> R<Vec<TariffAssignment>> {
    let (limit, offset) = page.map_or((i64::MAX, 0), limit_offset);
    let mut q = sqlx::query(concat!(
        assignment_cols!(),
        " WHERE ",
        filter!(),
        " ORDER BY id COLLATE \"C\" LIMIT $7 OFFSET $8"
    ));
    for v in filter_params(filter) {
        q = q.bind(v);
    }
    let rows = q
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *c)
        .await
        .map_err(pg)?;
    map_rows(rows, assignment_row)
}

pub(crate) async fn list_assignments(
    c: &mut PgConnection,
    filter: &AssignmentFilter,
    page: Page,
) -> R<Paged<TariffAssignment>> {
    let rows = select_where(c, filter, Some(page)).await?;
    Ok(Paged::from_overfetch(rows, page))
}

pub(crate) async fn delete_assignment(
    c: &mut PgConnection,
    id: AssignmentId,
    at: DateTime<Utc>,
) -> R<bool> {
    let Some(a) = get_assignment(c, id).await? else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM tariff_assignments WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    insert_event(c, &p::ev_assignment_deleted(&a, at)).await?;
    Ok(true)
}

/// Deletes every assignment matching `filter`, one event each.
pub(crate) async fn delete_assignments_where(
    c: &mut PgConnection,
    filter: &AssignmentFilter,
    at: DateTime<Utc>,
) -> R<()> {
    for a in select_where(c, filter, None).await? {
        sqlx::query("DELETE FROM tariff_assignments WHERE id = $1")
            .bind(a.id.to_string())
            .execute(&mut *c)
            .await
            .map_err(pg)?;
        insert_event(c, &p::ev_assignment_deleted(&a, at)).await?;
    }
    Ok(())
}

pub(crate) async fn tariff_candidates(
    c: &mut PgConnection,
    charger: &ChargerId,
    id_tag: Option<&IdTag>,
) -> R<Option<TariffCandidates>> {
    let Some(row) = sqlx::query("SELECT site_id, tariff_id FROM chargers WHERE id = $1")
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
    .bind(id_tag.map(IdTag::key))
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
}
