//! Sites (`SiteStore`).

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sql::{collect, db, exec, get, get_ts, limit_offset, one, ts, unique_as_conflict, R};
use super::user_group_table::require_groups;
use super::SqliteStore;
use crate::events;
use crate::scopes::{self as p};
use crate::statements;
use crate::values;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::charging::site::{NewSite, Site, SiteId};
use joule_domain::charging::user_group::{ChargerAccessRule, UserGroupId};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::ChargerId;
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::ports::store::{SiteStore, StoreResult};
use joule_domain::pricing::assignment::AssignmentFilter;
use rusqlite::{params, Connection, Row};

#[async_trait]
impl SiteStore for SqliteStore {
    async fn create_site(&self, new: NewSite, at: DateTime<Utc>) -> StoreResult<Site> {
        self.write(move |c| {
            let new = &new;
            let groups = values::normalized(new.access.allowed_groups.clone());
            require_groups(c, &groups)?;
            c.prepare_cached(
                "INSERT INTO sites (id, name, time_zone, language, address, access, created_at, \
                 updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )
            .map_err(db)?
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
            insert_event(c, &events::ev_site_created(&site))?;
            Ok(site)
        })
        .await
    }

    async fn get_site(&self, id: &SiteId) -> StoreResult<Option<Site>> {
        let id = id.clone();
        self.read(move |c| get_site(c, &id)).await
    }

    async fn list_sites(&self, page: Page) -> StoreResult<Paged<Site>> {
        self.read(move |c| {
            let (limit, offset) = limit_offset(page);
            let sql = format!("{SITE_COLS} ORDER BY id LIMIT ?1 OFFSET ?2");
            let rows = collect(c, &sql, params![limit, offset], site_row)?
                .into_iter()
                .map(|s| with_groups(c, s))
                .collect::<R<Vec<_>>>()?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn update_site(
        &self,
        id: &SiteId,
        new: NewSite,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Site>> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let new = &new;
            let groups = values::normalized(new.access.allowed_groups.clone());
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
            insert_event(c, &events::ev_site_updated(&site))?;
            Ok(Some(site))
        })
        .await
    }

    async fn delete_site(&self, id: &SiteId, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            if exec(c, statements::DELETE_SITE, [id.as_str()])? == 0 {
                return Ok(false);
            }
            exec(c, statements::DELETE_SITE_2, [id.as_str()])?;
            let chargers = collect(
                c,
                "SELECT id FROM chargers WHERE site_id = ?1 ORDER BY id",
                [id.as_str()],
                |row| values::charger_id(&get::<String>(row, 0)?),
            )?;
            exec(
                c,
                "UPDATE chargers SET site_id = NULL WHERE site_id = ?1",
                [id.as_str()],
            )?;
            for charger in &chargers {
                insert_event(c, &events::ev_charger_site_changed(charger, None, at))?;
            }
            let filter = AssignmentFilter {
                site_id: Some(id.clone()),
                ..AssignmentFilter::default()
            };
            delete_assignments_where(c, &filter, at)?;
            insert_event(c, &events::ev_site_deleted(id, at))?;
            Ok(true)
        })
        .await
    }

    async fn set_charger_site(
        &self,
        id: &ChargerId,
        site: Option<&SiteId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<SiteId>>> {
        let id = id.clone();
        let site = site.cloned();
        self.write(move |c| {
            let id = &id;
            let site = site.as_ref();
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
                insert_event(c, &events::ev_charger_site_changed(id, site, at))?;
            }
            Ok(Some(site.cloned()))
        })
        .await
    }
}

pub(super) const SITE_COLS: &str =
    "SELECT id, name, time_zone, language, address, access, created_at, updated_at FROM sites";

pub(super) fn site_row(row: &Row<'_>) -> R<Site> {
    Ok(Site {
        id: p::site_id(&get::<String>(row, 0)?)?,
        name: get(row, 1)?,
        time_zone: p::parse_tz(&get::<String>(row, 2)?)?,
        language: get(row, 3)?,
        address: p::parse_address(&get::<String>(row, 4)?)?,
        access: ChargerAccessRule {
            access: values::parse_access(&get::<String>(row, 5)?)?,
            allowed_groups: Vec::new(),
        },
        created_at: get_ts(row, 6)?,
        updated_at: get_ts(row, 7)?,
    })
}

pub(super) fn with_groups(c: &Connection, mut site: Site) -> R<Site> {
    site.access.allowed_groups = collect(
        c,
        "SELECT group_id FROM site_groups WHERE site_id = ?1 ORDER BY group_id",
        [site.id.as_str()],
        |row| values::parse_group_id(&get::<String>(row, 0)?),
    )?;
    Ok(site)
}

pub(crate) fn get_site(c: &Connection, id: &SiteId) -> R<Option<Site>> {
    let sql = format!("{SITE_COLS} WHERE id = ?1");
    one(c, &sql, [id.as_str()], site_row)?
        .map(|s| with_groups(c, s))
        .transpose()
}

pub(super) fn write_site_groups(c: &Connection, id: &SiteId, groups: &[UserGroupId]) -> R<()> {
    exec(c, statements::WRITE_SITE_GROUPS, [id.as_str()])?;
    for g in groups {
        exec(
            c,
            statements::WRITE_SITE_GROUPS_2,
            params![id.as_str(), g.as_str()],
        )?;
    }
    Ok(())
}
