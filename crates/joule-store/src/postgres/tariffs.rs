//! Tariffs, their versions, the default tariff and charger tariffs
//! (`TariffStore`).

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sql::{get, limit_offset, map_rows, pg, unique_as_conflict, R};
use super::PgStore;
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
use joule_domain::pricing::assignment::AssignmentFilter;
use joule_domain::pricing::stored::{NewTariff, StoredTariff};
use sqlx::PgConnection;

#[async_trait]
impl TariffStore for PgStore {
    async fn create_tariff(&self, new: NewTariff, at: DateTime<Utc>) -> StoreResult<StoredTariff> {
        in_tx!(self, c => async {
            let new = &new;
            let (body, ext) = values::tariff_json(new)?;
            sqlx::query(
                "INSERT INTO tariffs (id, body, extensions, version, created_at, updated_at) \
                 VALUES ($1, $2::jsonb, $3::jsonb, 1, $4, $4)",
            )
            .bind(&new.tariff.id)
            .bind(body)
            .bind(ext)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("tariff"))?;
            // Versions are never reused: a tariff re-created after a delete carries
            // on after its last version.
            sqlx::query(
                statements::CREATE_TARIFF,
            )
            .bind(&new.tariff.id)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let stored = get_tariff(c, &new.tariff.id)
                .await?
                .ok_or(StoreError::NotFound { entity: "tariff" })?;
            write_tariff_version(c, &stored).await?;
            insert_event(c, &events::ev_tariff_created(&stored)).await?;
            Ok(stored)
        })
    }

    async fn get_tariff(&self, id: &str) -> StoreResult<Option<StoredTariff>> {
        on_conn!(self, c => get_tariff(c, id))
    }

    async fn list_tariffs(&self, page: Page) -> StoreResult<Paged<StoredTariff>> {
        on_conn!(self, c => async {
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(
                "SELECT body::text, extensions::text, version, created_at, updated_at \
                 FROM tariffs ORDER BY id COLLATE \"C\" LIMIT $1 OFFSET $2",
            )
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Paged::from_overfetch(map_rows(rows, rows::tariff)?, page))
        })
    }

    async fn update_tariff(
        &self,
        id: &str,
        new: NewTariff,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>> {
        in_tx!(self, c => async {
            let new = &new;
            let (body, ext) = values::tariff_json(new)?;
            let n = sqlx::query(
                "UPDATE tariffs SET body = $2::jsonb, extensions = $3::jsonb, version = version + 1, \
                 updated_at = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(body)
            .bind(ext)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected();
            if n == 0 {
                return Ok(None);
            }
            let stored = get_tariff(c, id)
                .await?
                .ok_or(StoreError::NotFound { entity: "tariff" })?;
            write_tariff_version(c, &stored).await?;
            insert_event(c, &events::ev_tariff_updated(&stored)).await?;
            Ok(Some(stored))
        })
    }

    async fn delete_tariff(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => async {
            let n = sqlx::query(statements::DELETE_TARIFF)
                .bind(id)
                .execute(&mut *c)
                .await
                .map_err(pg)?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            insert_event(c, &events::ev_tariff_deleted(id, at)).await?;
            let assigned = AssignmentFilter {
                tariff_id: Some(id.to_owned()),
                ..AssignmentFilter::default()
            };
            delete_assignments_where(c, &assigned, at).await?;
            let chargers =
                sqlx::query("UPDATE chargers SET tariff_id = NULL WHERE tariff_id = $1 RETURNING id")
                    .bind(id)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(pg)?;
            let mut chargers = chargers
                .iter()
                .map(|row| get::<String>(row, 0))
                .collect::<R<Vec<_>>>()?;
            chargers.sort();
            for charger in chargers {
                let charger = values::charger_id(&charger)?;
                insert_event(c, &events::ev_charger_tariff_changed(&charger, None, at)).await?;
            }
            if default_tariff_id(c, true).await?.as_deref() == Some(id) {
                write_default(c, None, at).await?;
                insert_event(c, &events::ev_tariff_default_changed(Some(id), None, at)).await?;
            }
            Ok(true)
        })
    }

    async fn set_default_tariff(
        &self,
        id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>> {
        in_tx!(self, c => async {
            let previous = default_tariff_id(c, true).await?;
            let tariff = match id {
                Some(id) => Some(
                    get_tariff(c, id)
                        .await?
                        .ok_or(StoreError::NotFound { entity: "tariff" })?,
                ),
                None => None,
            };
            if previous.as_deref() != id {
                write_default(c, id, at).await?;
                insert_event(
                    c,
                    &events::ev_tariff_default_changed(previous.as_deref(), id, at),
                )
                .await?;
            }
            Ok(tariff)
        })
    }

    async fn default_tariff(&self) -> StoreResult<Option<StoredTariff>> {
        on_conn!(self, c => default_tariff(c))
    }

    async fn get_tariff_version(
        &self,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<StoredTariff>> {
        on_conn!(self, c => async {
            sqlx::query(
                "SELECT body::text, extensions::text, version, created_at, created_at \
                 FROM tariff_versions WHERE tariff_id = $1 AND version = $2",
            )
            .bind(id)
            .bind(version)
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .as_ref()
            .map(rows::tariff)
            .transpose()
        })
    }

    async fn set_charger_tariff(
        &self,
        id: &ChargerId,
        tariff_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>> {
        in_tx!(self, c => async {
            let Some(row) = sqlx::query("SELECT tariff_id FROM chargers WHERE id = $1 FOR UPDATE")
                .bind(id.as_str())
                .fetch_optional(&mut *c)
                .await
                .map_err(pg)?
            else {
                return Ok(None);
            };
            let previous: Option<String> = get(&row, 0)?;
            if let Some(t) = tariff_id {
                get_tariff(c, t)
                    .await?
                    .ok_or(StoreError::NotFound { entity: "tariff" })?;
            }
            if previous.as_deref() != tariff_id {
                sqlx::query("UPDATE chargers SET tariff_id = $2 WHERE id = $1")
                    .bind(id.as_str())
                    .bind(tariff_id)
                    .execute(&mut *c)
                    .await
                    .map_err(pg)?;
                insert_event(c, &events::ev_charger_tariff_changed(id, tariff_id, at)).await?;
            }
            Ok(Some(tariff_id.map(str::to_owned)))
        })
    }

    async fn charger_tariff(&self, id: &ChargerId) -> StoreResult<Option<Option<String>>> {
        on_conn!(self, c => charger_tariff(c, id))
    }
}

// Bodies are read back as text: the JSON numbers (prices) go to the exact
// decimal parser unchanged.
pub(crate) async fn get_tariff(c: &mut PgConnection, id: &str) -> R<Option<StoredTariff>> {
    sqlx::query(
        "SELECT body::text, extensions::text, version, created_at, updated_at \
         FROM tariffs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(rows::tariff)
    .transpose()
}

/// The default tariff id, with the settings row locked until commit when
/// `lock` (so that setting the default and deleting that tariff serialize).
pub(super) async fn default_tariff_id(c: &mut PgConnection, lock: bool) -> R<Option<String>> {
    let sql = if lock {
        "SELECT default_tariff_id FROM tariff_settings WHERE singleton = 1 FOR UPDATE"
    } else {
        statements::DEFAULT_TARIFF_ID
    };
    let row = sqlx::query(sql).fetch_optional(&mut *c).await.map_err(pg)?;
    Ok(match row {
        Some(row) => get::<Option<String>>(&row, 0)?,
        None => None,
    })
}

pub(super) async fn write_default(
    c: &mut PgConnection,
    id: Option<&str>,
    at: DateTime<Utc>,
) -> R<()> {
    sqlx::query(statements::WRITE_DEFAULT)
        .bind(id)
        .bind(at)
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    Ok(())
}

/// Keeps the version just written, immutable (frozen prices): a copy of the
/// row as stored, so the body keeps its exact JSON numbers.
pub(super) async fn write_tariff_version(c: &mut PgConnection, t: &StoredTariff) -> R<()> {
    sqlx::query(
        "INSERT INTO tariff_versions (tariff_id, version, body, extensions, created_at) \
         SELECT id, version, body, extensions, updated_at FROM tariffs \
         WHERE id = $1 AND version = $2",
    )
    .bind(&t.tariff.id)
    .bind(t.version)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}

/// The current version of the tariff the precedence rule chose for a new
/// session; `None` when it was deleted since.
pub(super) async fn current_version(
    c: &mut PgConnection,
    tariff_id: &str,
) -> R<Option<SessionTariff>> {
    let row = sqlx::query(statements::CURRENT_VERSION)
        .bind(tariff_id)
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?;
    row.map(|row| {
        Ok(SessionTariff {
            tariff_id: get(&row, 0)?,
            version: get(&row, 1)?,
        })
    })
    .transpose()
}

pub(crate) async fn charger_tariff(
    c: &mut PgConnection,
    id: &ChargerId,
) -> R<Option<Option<String>>> {
    sqlx::query(statements::CHARGER_TARIFF)
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .map(|row| get::<Option<String>>(&row, 0))
        .transpose()
}

pub(crate) async fn default_tariff(c: &mut PgConnection) -> R<Option<StoredTariff>> {
    match default_tariff_id(c, false).await? {
        Some(id) => get_tariff(c, &id).await,
        None => Ok(None),
    }
}
