//! Tariffs, their versions, the default tariff and charger tariffs
//! (`TariffStore`).

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sql::{collect, db, exec, get, limit_offset, one, ts, unique_as_conflict, R};
use super::SqliteStore;
use crate::events;
use crate::statements;
use crate::{rows, values};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::charging::session::SessionTariff;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::ChargerId;
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::ports::store::{StoreResult, TariffStore};
use joule_domain::pricing::stored::{NewTariff, StoredTariff};
use rusqlite::{params, Connection};

#[async_trait]
impl TariffStore for SqliteStore {
    async fn create_tariff(&self, new: NewTariff, at: DateTime<Utc>) -> StoreResult<StoredTariff> {
        self.write(move |c| {
            let new = &new;
            let (body, ext) = values::tariff_json(new)?;
            c.prepare_cached(
                "INSERT INTO tariffs (id, body, extensions, version, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, 1, ?4, ?4)",
            )
            .map_err(db)?
            .execute(params![new.tariff.id, body, ext, ts(at)])
            .map_err(unique_as_conflict("tariff"))?;
            // Versions are never reused: a tariff re-created after a delete carries
            // on after its last version.
            exec(c, statements::CREATE_TARIFF, [&new.tariff.id])?;
            let stored =
                get_tariff(c, &new.tariff.id)?.ok_or(StoreError::NotFound { entity: "tariff" })?;
            write_tariff_version(c, &stored, &body, &ext)?;
            insert_event(c, &events::ev_tariff_created(&stored))?;
            Ok(stored)
        })
        .await
    }

    async fn get_tariff(&self, id: &str) -> StoreResult<Option<StoredTariff>> {
        let id = id.to_owned();
        self.read(move |c| get_tariff(c, &id)).await
    }

    async fn list_tariffs(&self, page: Page) -> StoreResult<Paged<StoredTariff>> {
        self.read(move |c| {
            let (limit, offset) = limit_offset(page);
            let rows = collect(
                c,
                "SELECT body, extensions, version, created_at, updated_at FROM tariffs \
                 ORDER BY id LIMIT ?1 OFFSET ?2",
                params![limit, offset],
                |r| rows::tariff(r),
            )?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn update_tariff(
        &self,
        id: &str,
        new: NewTariff,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>> {
        let id = id.to_owned();
        self.write(move |c| {
            let id = &id;
            let new = &new;
            let (body, ext) = values::tariff_json(new)?;
            let n = exec(
                c,
                "UPDATE tariffs SET body = ?2, extensions = ?3, version = version + 1, updated_at = ?4 \
                 WHERE id = ?1",
                params![id, body, ext, ts(at)],
            )?;
            if n == 0 {
                return Ok(None);
            }
            let stored = get_tariff(c, id)?.ok_or(StoreError::NotFound { entity: "tariff" })?;
            write_tariff_version(c, &stored, &body, &ext)?;
            insert_event(c, &events::ev_tariff_updated(&stored))?;
            Ok(Some(stored))
        })
        .await
    }

    async fn delete_tariff(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let id = &id;
            let n = exec(c, statements::DELETE_TARIFF, [id])?;
            if n == 0 {
                return Ok(false);
            }
            insert_event(c, &events::ev_tariff_deleted(id, at))?;
            let assigned = joule_domain::pricing::assignment::AssignmentFilter {
                tariff_id: Some(id.to_owned()),
                ..Default::default()
            };
            delete_assignments_where(c, &assigned, at)?;
            let chargers = collect(
                c,
                "SELECT id FROM chargers WHERE tariff_id = ?1 ORDER BY id",
                [id],
                |row| get::<String>(row, 0),
            )?;
            for charger in chargers {
                exec(
                    c,
                    "UPDATE chargers SET tariff_id = NULL WHERE id = ?1",
                    [&charger],
                )?;
                let charger = values::charger_id(&charger)?;
                insert_event(c, &events::ev_charger_tariff_changed(&charger, None, at))?;
            }
            if default_tariff_id(c)?.as_deref() == Some(id) {
                write_default(c, None, at)?;
                insert_event(c, &events::ev_tariff_default_changed(Some(id), None, at))?;
            }
            Ok(true)
        })
        .await
    }

    async fn set_default_tariff(
        &self,
        id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>> {
        let id = id.map(str::to_owned);
        self.write(move |c| {
            let id = id.as_deref();
            let tariff = match id {
                Some(id) => {
                    Some(get_tariff(c, id)?.ok_or(StoreError::NotFound { entity: "tariff" })?)
                }
                None => None,
            };
            let previous = default_tariff_id(c)?;
            if previous.as_deref() != id {
                write_default(c, id, at)?;
                insert_event(
                    c,
                    &events::ev_tariff_default_changed(previous.as_deref(), id, at),
                )?;
            }
            Ok(tariff)
        })
        .await
    }

    async fn default_tariff(&self) -> StoreResult<Option<StoredTariff>> {
        self.read(default_tariff).await
    }

    async fn get_tariff_version(
        &self,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<StoredTariff>> {
        let id = id.to_owned();
        self.read(move |c| {
            let id = &id;
            one(
                c,
                "SELECT body, extensions, version, created_at, created_at FROM tariff_versions \
                 WHERE tariff_id = ?1 AND version = ?2",
                params![id, version],
                |r| rows::tariff(r),
            )
        })
        .await
    }

    async fn set_charger_tariff(
        &self,
        id: &ChargerId,
        tariff_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>> {
        let id = id.clone();
        let tariff_id = tariff_id.map(str::to_owned);
        self.write(move |c| {
            let id = &id;
            let tariff_id = tariff_id.as_deref();
            let Some(previous) = charger_tariff(c, id)? else {
                return Ok(None);
            };
            if let Some(t) = tariff_id {
                get_tariff(c, t)?.ok_or(StoreError::NotFound { entity: "tariff" })?;
            }
            if previous.as_deref() != tariff_id {
                exec(
                    c,
                    "UPDATE chargers SET tariff_id = ?2 WHERE id = ?1",
                    params![id.as_str(), tariff_id],
                )?;
                insert_event(c, &events::ev_charger_tariff_changed(id, tariff_id, at))?;
            }
            Ok(Some(tariff_id.map(str::to_owned)))
        })
        .await
    }

    async fn charger_tariff(&self, id: &ChargerId) -> StoreResult<Option<Option<String>>> {
        let id = id.clone();
        self.read(move |c| charger_tariff(c, &id)).await
    }
}

pub(crate) fn get_tariff(c: &Connection, id: &str) -> R<Option<StoredTariff>> {
    one(
        c,
        "SELECT body, extensions, version, created_at, updated_at FROM tariffs WHERE id = ?1",
        [id],
        |r| rows::tariff(r),
    )
}

pub(super) fn default_tariff_id(c: &Connection) -> R<Option<String>> {
    Ok(one(c, statements::DEFAULT_TARIFF_ID, [], |row| {
        get::<Option<String>>(row, 0)
    })?
    .flatten())
}

pub(super) fn write_default(c: &Connection, id: Option<&str>, at: DateTime<Utc>) -> R<()> {
    exec(c, statements::WRITE_DEFAULT, params![id, ts(at)])?;
    Ok(())
}

/// Keeps the version just written, immutable (frozen prices).
pub(super) fn write_tariff_version(
    c: &Connection,
    t: &StoredTariff,
    body: &str,
    ext: &str,
) -> R<()> {
    exec(
        c,
        "INSERT INTO tariff_versions (tariff_id, version, body, extensions, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![t.tariff.id, t.version, body, ext, ts(t.updated_at)],
    )?;
    Ok(())
}

/// The current version of the tariff the precedence rule chose for a new
/// session; `None` when it was deleted since.
pub(super) fn current_version(c: &Connection, tariff_id: &str) -> R<Option<SessionTariff>> {
    one(c, statements::CURRENT_VERSION, [tariff_id], |row| {
        Ok(SessionTariff {
            tariff_id: get(row, 0)?,
            version: get(row, 1)?,
        })
    })
}

pub(crate) fn charger_tariff(c: &Connection, id: &ChargerId) -> R<Option<Option<String>>> {
    one(c, statements::CHARGER_TARIFF, [id.as_str()], |row| {
        get::<Option<String>>(row, 0)
    })
}

pub(crate) fn default_tariff(c: &Connection) -> R<Option<StoredTariff>> {
    match default_tariff_id(c)? {
        Some(id) => get_tariff(c, &id),
        None => Ok(None),
    }
}
