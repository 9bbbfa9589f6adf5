//! Sites (`SiteStore`).

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sql::{get, limit_offset, map_rows, pg, unique_as_conflict, R};
use super::user_group_table::require_groups;
use super::PgStore;
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
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

macro_rules! site_cols {
    () => {
        "SELECT id, name, time_zone, language, address::text, access, created_at, updated_at \
         FROM sites"
    };
}

#[async_trait]
impl SiteStore for PgStore {
    async fn create_site(&self, new: NewSite, at: DateTime<Utc>) -> StoreResult<Site> {
        in_tx!(self, c => async {
            let new = &new;
            let groups = values::normalized(new.access.allowed_groups.clone());
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
            insert_event(c, &events::ev_site_created(&site)).await?;
            Ok(site)
        })
    }

    async fn get_site(&self, id: &SiteId) -> StoreResult<Option<Site>> {
        on_conn!(self, c => get_site(c, id))
    }

    async fn list_sites(&self, page: Page) -> StoreResult<Paged<Site>> {
        on_conn!(self, c => async {
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
        })
    }

    async fn update_site(
        &self,
        id: &SiteId,
        new: NewSite,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Site>> {
        in_tx!(self, c => async {
            let new = &new;
            let groups = values::normalized(new.access.allowed_groups.clone());
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
            insert_event(c, &events::ev_site_updated(&site)).await?;
            Ok(Some(site))
        })
    }

    async fn delete_site(&self, id: &SiteId, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => async {
            let n = sqlx::query(statements::DELETE_SITE)
                .bind(id.as_str())
                .execute(&mut *c)
                .await
                .map_err(pg)?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query(statements::DELETE_SITE_2)
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
                let charger = values::charger_id(&charger)?;
                insert_event(c, &events::ev_charger_site_changed(&charger, None, at)).await?;
            }
            let filter = AssignmentFilter {
                site_id: Some(id.clone()),
                ..AssignmentFilter::default()
            };
            delete_assignments_where(c, &filter, at).await?;
            insert_event(c, &events::ev_site_deleted(id, at)).await?;
            Ok(true)
        })
    }

    async fn set_charger_site(
        &self,
        id: &ChargerId,
        site: Option<&SiteId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<SiteId>>> {
        in_tx!(self, c => async {
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
                insert_event(c, &events::ev_charger_site_changed(id, site, at)).await?;
            }
            Ok(Some(site.cloned()))
        })
    }
}

pub(super) fn site_row(row: &PgRow) -> R<Site> {
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
        created_at: get(row, 6)?,
        updated_at: get(row, 7)?,
    })
}

pub(super) async fn with_groups(c: &mut PgConnection, mut site: Site) -> R<Site> {
    let rows = sqlx::query(
        "SELECT group_id FROM site_groups WHERE site_id = $1 ORDER BY group_id COLLATE \"C\"",
    )
    .bind(site.id.as_str())
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    site.access.allowed_groups =
        map_rows(rows, |row| values::parse_group_id(&get::<String>(row, 0)?))?;
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

pub(super) async fn write_site_groups(
    c: &mut PgConnection,
    id: &SiteId,
    groups: &[UserGroupId],
) -> R<()> {
    sqlx::query(statements::DELETE_SITE_2)
        .bind(id.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    for g in groups {
        sqlx::query(statements::WRITE_SITE_GROUPS_2)
            .bind(id.as_str())
            .bind(g.as_str())
            .execute(&mut *c)
            .await
            .map_err(pg)?;
    }
    Ok(())
}
