//! SQLite SQL for sites and tariff assignments (see `crate::placement` for
//! what both backends share).

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
use rusqlite::{params, Connection, Row};

use super::ops::{
    collect, default_tariff, exec, get, get_opt_ts, get_tariff, get_token, get_ts, get_user_group,
    insert_event, limit_offset, one, opt_ts, require_charger, require_groups, token_groups, ts,
    unique_as_conflict, R,
};
use crate::common;
use crate::placement::{self as p, ScopeCols};

// ---- sites -----------------------------------------------------------------

const SITE_COLS: &str =
    "SELECT id, name, time_zone, language, address, access, created_at, updated_at FROM sites";

fn site_row(row: &Row<'_>) -> R<Site> {
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
        created_at: get_ts(row, 6)?,
        updated_at: get_ts(row, 7)?,
    })
}

fn with_groups(c: &Connection, mut site: Site) -> R<Site> {
    site.access.allowed_groups = collect(
        c,
        "SELECT group_id FROM site_groups WHERE site_id = ?1 ORDER BY group_id",
        [site.id.as_str()],
        |row| common::parse_group_id(&get::<String>(row, 0)?),
    )?;
    Ok(site)
}

pub(crate) fn get_site(c: &Connection, id: &SiteId) -> R<Option<Site>> {
    let sql = format!("{SITE_COLS} WHERE id = ?1");
    one(c, &sql, [id.as_str()], site_row)?
        .map(|s| with_groups(c, s))
        .transpose()
}

pub(crate) fn list_sites(c: &Connection, page: Page) -> R<Paged<Site>> {
    let (limit, offset) = limit_offset(page);
    let sql = format!("{SITE_COLS} ORDER BY id LIMIT ?1 OFFSET ?2");
    let rows = collect(c, &sql, params![limit, offset], site_row)?
        .into_iter()
        .map(|s| with_groups(c, s))
        .collect::<R<Vec<_>>>()?;
    Ok(Paged::from_overfetch(rows, page))
}

fn write_site_groups(c: &Connection, id: &SiteId, groups: &[UserGroupId]) -> R<()> {
    exec(
        c,
        "DELETE FROM site_groups WHERE site_id = ?1",
        [id.as_str()],
    )?;
    for g in groups {
        exec(
            c,
            "INSERT INTO site_groups (site_id, group_id) VALUES (?1, ?2)",
            params![id.as_str(), g.as_str()],
        )?;
    }
    Ok(())
}

pub(crate) fn create_site(c: &Connection, new: &NewSite, at: DateTime<Utc>) -> R<Site> {
    let groups = common::normalized(new.access.allowed_groups.clone());
    require_groups(c, &groups)?;
    c.prepare_cached(
        "INSERT INTO sites (id, name, time_zone, language, address, access, created_at, \
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )
    .map_err(super::ops::db)?
    .execute(params![
        new.id.as_str(),
        new.name,
        new.time_zone.name(),
        new.language,
        p::address_json(&new.address)?,
        new.access.access.as_str(),
        ts(at)
    ])
    .map_err(unique_as_conflict("site"))?;
    write_site_groups(c, &new.id, &groups)?;
    let site = get_site(c, &new.id)?.ok_or(StoreError::NotFound { entity: "site" })?;
    insert_event(c, &p::ev_site_created(&site))?;
    Ok(site)
}

pub(crate) fn update_site(
    c: &Connection,
    id: &SiteId,
    new: &NewSite,
    at: DateTime<Utc>,
) -> R<Option<Site>> {
    let groups = common::normalized(new.access.allowed_groups.clone());
    require_groups(c, &groups)?;
    let n = exec(
        c,
        "UPDATE sites SET name = ?2, time_zone = ?3, language = ?4, address = ?5, access = ?6, \
         updated_at = ?7 WHERE id = ?1",
        params![
            id.as_str(),
            new.name,
            new.time_zone.name(),
            new.language,
            p::address_json(&new.address)?,
            new.access.access.as_str(),
            ts(at)
        ],
    )?;
    if n == 0 {
        return Ok(None);
    }
    write_site_groups(c, id, &groups)?;
    let site = get_site(c, id)?.ok_or(StoreError::NotFound { entity: "site" })?;
    insert_event(c, &p::ev_site_updated(&site))?;
    Ok(Some(site))
}

pub(crate) fn delete_site(c: &Connection, id: &SiteId, at: DateTime<Utc>) -> R<bool> {
    if exec(c, "DELETE FROM sites WHERE id = ?1", [id.as_str()])? == 0 {
        return Ok(false);
    }
    exec(
        c,
        "DELETE FROM site_groups WHERE site_id = ?1",
        [id.as_str()],
    )?;
    let chargers = collect(
        c,
        "SELECT id FROM chargers WHERE site_id = ?1 ORDER BY id",
        [id.as_str()],
        |row| common::charger_id(&get::<String>(row, 0)?),
    )?;
    exec(
        c,
        "UPDATE chargers SET site_id = NULL WHERE site_id = ?1",
        [id.as_str()],
    )?;
    for charger in &chargers {
        insert_event(c, &p::ev_charger_site_changed(charger, None, at))?;
    }
    let filter = AssignmentFilter {
        site_id: Some(id.clone()),
        ..AssignmentFilter::default()
    };
    delete_assignments_where(c, &filter, at)?;
    insert_event(c, &p::ev_site_deleted(id, at))?;
    Ok(true)
}

pub(crate) fn set_charger_site(
    c: &Connection,
    id: &ChargerId,
    site: Option<&SiteId>,
    at: DateTime<Utc>,
) -> R<Option<Option<SiteId>>> {
    let Some(previous) = one(
        c,
        "SELECT site_id FROM chargers WHERE id = ?1",
        [id.as_str()],
        |row| get::<Option<String>>(row, 0),
    )?
    else {
        return Ok(None);
    };
    if let Some(s) = site {
        get_site(c, s)?.ok_or(StoreError::NotFound { entity: "site" })?;
    }
    if previous.as_deref() != site.map(SiteId::as_str) {
        exec(
            c,
            "UPDATE chargers SET site_id = ?2 WHERE id = ?1",
            params![id.as_str(), site.map(SiteId::as_str)],
        )?;
        insert_event(c, &p::ev_charger_site_changed(id, site, at))?;
    }
    Ok(Some(site.cloned()))
}

// ---- tariff assignments ------------------------------------------------------

const ASSIGNMENT_COLS: &str = "SELECT id, tariff_id, scope, site_id, charger_id, connector_id, \
     group_id, id_tag, valid_from, valid_until, created_at FROM tariff_assignments";

fn assignment_row(row: &Row<'_>) -> R<TariffAssignment> {
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
        get_opt_ts(row, 8)?,
        get_opt_ts(row, 9)?,
        get_ts(row, 10)?,
    )
}

/// `NotFound` naming what the scope points at when it does not exist.
fn require_target(c: &Connection, scope: &AssignmentScope) -> R<()> {
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

pub(crate) fn create_assignment(
    c: &Connection,
    new: &NewTariffAssignment,
    at: DateTime<Utc>,
) -> R<TariffAssignment> {
    if get_tariff(c, &new.tariff_id)?.is_none() {
        return Err(StoreError::NotFound { entity: "tariff" });
    }
    require_target(c, &new.scope)?;
    let id = AssignmentId::new_v7();
    let cols = p::scope_cols(&new.scope);
    exec(
        c,
        "INSERT INTO tariff_assignments (id, tariff_id, scope, site_id, charger_id, \
         connector_id, group_id, id_tag, id_tag_key, valid_from, valid_until, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
    insert_event(c, &p::ev_assignment_created(&stored))?;
    Ok(stored)
}

pub(crate) fn get_assignment(c: &Connection, id: AssignmentId) -> R<Option<TariffAssignment>> {
    let sql = format!("{ASSIGNMENT_COLS} WHERE id = ?1");
    one(c, &sql, [id.to_string()], assignment_row)
}

const FILTER: &str = "(?1 IS NULL OR tariff_id = ?1) AND (?2 IS NULL OR scope = ?2) \
     AND (?3 IS NULL OR site_id = ?3) AND (?4 IS NULL OR charger_id = ?4) \
     AND (?5 IS NULL OR group_id = ?5) AND (?6 IS NULL OR id_tag_key = ?6)";

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

pub(crate) fn list_assignments(
    c: &Connection,
    filter: &AssignmentFilter,
    page: Page,
) -> R<Paged<TariffAssignment>> {
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
}

pub(crate) fn delete_assignment(c: &Connection, id: AssignmentId, at: DateTime<Utc>) -> R<bool> {
    let Some(a) = get_assignment(c, id)? else {
        return Ok(false);
    };
    exec(
        c,
        "DELETE FROM tariff_assignments WHERE id = ?1",
        [id.to_string()],
    )?;
    insert_event(c, &p::ev_assignment_deleted(&a, at))?;
    Ok(true)
}

/// Deletes every assignment matching `filter`, one event each (a deleted
/// tariff, site, charger, group or token takes its assignments with it).
pub(crate) fn delete_assignments_where(
    c: &Connection,
    filter: &AssignmentFilter,
    at: DateTime<Utc>,
) -> R<()> {
    let [a, b, cc, d, e, f] = filter_params(filter);
    let sql = format!("{ASSIGNMENT_COLS} WHERE {FILTER} ORDER BY id");
    let doomed = collect(c, &sql, params![a, b, cc, d, e, f], assignment_row)?;
    for x in doomed {
        exec(
            c,
            "DELETE FROM tariff_assignments WHERE id = ?1",
            [x.id.to_string()],
        )?;
        insert_event(c, &p::ev_assignment_deleted(&x, at))?;
    }
    Ok(())
}

pub(crate) fn tariff_candidates(
    c: &Connection,
    charger: &ChargerId,
    id_tag: Option<&IdTag>,
) -> R<Option<TariffCandidates>> {
    let Some((site_id, charger_tariff)) = one(
        c,
        "SELECT site_id, tariff_id FROM chargers WHERE id = ?1",
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
    let access = super::ops::charger_access(c, charger)?.unwrap_or_default();
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
        params![charger.as_str(), site_id, id_tag.map(IdTag::key)],
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
}
