//! Chargers (`ChargerStore`): registration, boot, connection, heartbeat,
//! connector status (current state and history) and free-text statuses.

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sql::{cid, get, limit_offset, map_rows, pg, unique_as_conflict, R};
use super::PgStore;
use crate::events;
use crate::statements;
use crate::values::{micros, parse_or_corrupt, STATUS_RANGE_LIMIT};
use crate::{rows, values};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::charging::charger::{
    apply_status, BootInfo, Charger, ChargerCredentials, ChargerPatch, ConnectorState, Location,
    NewCharger, RegistrationStatus, StatusChange, StatusReport,
};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, ConnectorId};
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::ports::store::{ChargerStore, StoreResult};
use joule_domain::pricing::assignment::AssignmentFilter;
use sqlx::PgConnection;

#[async_trait]
impl ChargerStore for PgStore {
    async fn create_charger(&self, new: NewCharger, at: DateTime<Utc>) -> StoreResult<Charger> {
        in_tx!(self, c => async {
            let new = &new;
            sqlx::query(
                statements::CREATE_CHARGER,
            )
            .bind(new.id.as_str())
            .bind(&new.label)
            .bind(location_json(&new.location)?)
            .bind(new.registration.as_str())
            .bind(&new.password_hash)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("charger"))?;
            let charger = loaded(c, &new.id).await?;
            insert_event(c, &events::ev_charger_created(&charger)).await?;
            Ok(charger)
        })
    }

    async fn get_charger(&self, id: &ChargerId) -> StoreResult<Option<Charger>> {
        on_conn!(self, c => get_charger(c, id))
    }

    async fn list_chargers(&self, page: Page) -> StoreResult<Paged<Charger>> {
        on_conn!(self, c => async {
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(statements::LIST_CHARGERS)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Paged::from_overfetch(map_rows(rows, rows::charger)?, page))
        })
    }

    async fn update_charger(
        &self,
        id: &ChargerId,
        patch: ChargerPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Charger>> {
        in_tx!(self, c => async {
            let patch = &patch;
            let Some(row) = sqlx::query(
                "SELECT label, location, registration, password_hash FROM chargers WHERE id = $1 \
                 FOR UPDATE",
            )
            .bind(id.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            else {
                return Ok(None);
            };
            let mut label: Option<String> = get(&row, 0)?;
            let mut location: Option<serde_json::Value> = get(&row, 1)?;
            let mut registration: String = get(&row, 2)?;
            let mut password_hash: Option<String> = get(&row, 3)?;
            if let Some(l) = &patch.label {
                label = l.clone();
            }
            if let Some(l) = &patch.location {
                location = location_json(l)?;
            }
            if let Some(r) = patch.registration {
                registration = r.as_str().to_owned();
            }
            if let Some(p) = &patch.password_hash {
                password_hash = p.clone();
            }
            sqlx::query(
                "UPDATE chargers SET label = $2, location = $3, registration = $4, password_hash = $5, \
                 updated_at = $6 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(label)
            .bind(location)
            .bind(registration)
            .bind(password_hash)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let charger = loaded(c, id).await?;
            insert_event(c, &events::ev_charger_updated(&charger, patch, at)).await?;
            Ok(Some(charger))
        })
    }

    async fn delete_charger(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => async {
            sqlx::query(statements::DELETE_CHARGER)
                .bind(id.as_str())
                .execute(&mut *c)
                .await
                .map_err(pg)?;
            sqlx::query(statements::DELETE_CHARGER_2)
                .bind(id.as_str())
                .execute(&mut *c)
                .await
                .map_err(pg)?;
            let n = sqlx::query(statements::DELETE_CHARGER_3)
                .bind(id.as_str())
                .execute(&mut *c)
                .await
                .map_err(pg)?
                .rows_affected();
            if n > 0 {
                let assigned = AssignmentFilter {
                    charger_id: Some(id.clone()),
                    ..AssignmentFilter::default()
                };
                delete_assignments_where(c, &assigned, at).await?;
                insert_event(c, &events::ev_charger_deleted(id, at)).await?;
            }
            Ok(n > 0)
        })
    }

    async fn charger_credentials(&self, id: &ChargerId) -> StoreResult<Option<ChargerCredentials>> {
        on_conn!(self, c => async {
            let Some(row) = sqlx::query(statements::CHARGER_CREDENTIALS)
                .bind(id.as_str())
                .fetch_optional(&mut *c)
                .await
                .map_err(pg)?
            else {
                return Ok(None);
            };
            Ok(Some(ChargerCredentials {
                registration: parse_or_corrupt(
                    &get::<String>(&row, 0)?,
                    "registration",
                    RegistrationStatus::parse,
                )?,
                password_hash: get(&row, 1)?,
            }))
        })
    }

    async fn auto_register_charger(
        &self,
        id: &ChargerId,
        at: DateTime<Utc>,
    ) -> StoreResult<Charger> {
        in_tx!(self, c => async {
            let n = sqlx::query(
                statements::AUTO_REGISTER_CHARGER,
            )
            .bind(id.as_str())
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected();
            if n > 0 {
                insert_event(c, &events::ev_charger_auto_registered(id, at)).await?;
            }
            loaded(c, id).await
        })
    }

    async fn record_boot(
        &self,
        id: &ChargerId,
        boot: BootInfo,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<RegistrationStatus>> {
        in_tx!(self, c => async {
            let boot = &boot;
            let Some(row) = sqlx::query(
                "UPDATE chargers SET boot_vendor = $2, boot_model = $3, boot_charge_point_serial = $4, \
                 boot_charge_box_serial = $5, boot_firmware_version = $6, boot_iccid = $7, \
                 boot_imsi = $8, boot_meter_type = $9, boot_meter_serial = $10, booted_at = $11, \
                 last_seen_at = $11, updated_at = $11 WHERE id = $1 RETURNING registration",
            )
            .bind(id.as_str())
            .bind(&boot.vendor)
            .bind(&boot.model)
            .bind(&boot.charge_point_serial_number)
            .bind(&boot.charge_box_serial_number)
            .bind(&boot.firmware_version)
            .bind(&boot.iccid)
            .bind(&boot.imsi)
            .bind(&boot.meter_type)
            .bind(&boot.meter_serial_number)
            .bind(at)
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            else {
                return Ok(None);
            };
            let registration = parse_or_corrupt(
                &get::<String>(&row, 0)?,
                "registration",
                RegistrationStatus::parse,
            )?;
            insert_event(c, &events::ev_charger_booted(id, boot, registration, at)).await?;
            Ok(Some(registration))
        })
    }

    async fn record_heartbeat(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<()> {
        in_tx!(self, c => async {
            let n =
                sqlx::query("UPDATE chargers SET last_heartbeat_at = $2, last_seen_at = $2 WHERE id = $1")
                    .bind(id.as_str())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(pg)?
                    .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound { entity: "charger" });
            }
            Ok(())
        })
    }

    async fn record_connection(
        &self,
        id: &ChargerId,
        protocol: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => async {
            let q = match protocol {
                Some(p) => sqlx::query(
                    "UPDATE chargers SET connected = TRUE, protocol = $2, connected_at = $3, \
                     last_seen_at = $3 WHERE id = $1",
                )
                .bind(id.as_str())
                .bind(p)
                .bind(at),
                None => {
                    sqlx::query("UPDATE chargers SET connected = FALSE, disconnected_at = $2 WHERE id = $1")
                        .bind(id.as_str())
                        .bind(at)
                }
            };
            let n = q.execute(&mut *c).await.map_err(pg)?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound { entity: "charger" });
            }
            insert_event(c, &events::ev_connection(id, protocol, at)).await
        })
    }

    async fn mark_all_disconnected(&self, at: DateTime<Utc>) -> StoreResult<u64> {
        in_tx!(self, c => async {
            let rows = sqlx::query(
                "UPDATE chargers SET connected = FALSE, disconnected_at = $1 WHERE connected \
                 RETURNING id",
            )
            .bind(at)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            let mut ids = map_rows(rows, |row| values::charger_id(&get::<String>(row, 0)?))?;
            ids.sort();
            for id in &ids {
                insert_event(c, &events::ev_connection(id, None, at)).await?;
            }
            Ok(ids.len() as u64)
        })
    }

    async fn record_status(&self, id: &ChargerId, report: StatusReport) -> StoreResult<()> {
        in_tx!(self, c => async {
            let report = &report;
            lock_charger(c, id).await?;
            let effective = micros(report.effective_at());
            sqlx::query(
                statements::RECORD_STATUS,
            )
            .bind(id.as_str())
            .bind(cid(report.connector_id))
            .bind(report.status.as_str())
            .bind(&report.error_code)
            .bind(&report.info)
            .bind(&report.vendor_id)
            .bind(&report.vendor_error_code)
            .bind(report.reported_at)
            .bind(report.received_at)
            .bind(effective)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let current = sqlx::query(statements::RECORD_STATUS_2)
            .bind(id.as_str())
            .bind(cid(report.connector_id))
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .as_ref()
            .map(rows::connector_state)
            .transpose()?;
            let StatusChange::Replace { announce } = apply_status(current.as_ref(), report) else {
                return Ok(());
            };
            sqlx::query(
                statements::RECORD_STATUS_3,
            )
            .bind(id.as_str())
            .bind(cid(report.connector_id))
            .bind(report.status.as_str())
            .bind(&report.error_code)
            .bind(&report.info)
            .bind(&report.vendor_id)
            .bind(&report.vendor_error_code)
            .bind(effective)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            if announce {
                insert_event(c, &events::ev_status_changed(id, report, current.as_ref())).await?;
            }
            Ok(())
        })
    }

    async fn connector_states(&self, id: &ChargerId) -> StoreResult<Vec<ConnectorState>> {
        on_conn!(self, c => connector_states(c, id))
    }

    async fn status_history(
        &self,
        id: &ChargerId,
        connector: Option<ConnectorId>,
        page: Page,
    ) -> StoreResult<Paged<StatusReport>> {
        on_conn!(self, c => status_history(c, id, connector, page))
    }

    async fn connector_status_range(
        &self,
        id: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>> {
        on_conn!(self, c => async {
            let connector_id = connector;
            let rows = sqlx::query(statements::CONNECTOR_STATUS_RANGE)
            .bind(id.as_str())
            .bind(cid(connector_id))
            .bind(micros(from))
            .bind(micros(to))
            .bind(STATUS_RANGE_LIMIT)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            map_rows(rows, rows::status_report)
        })
    }

    async fn record_firmware_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => record_charger_status(c, id, ChargerStatusField::Firmware, status, at))
    }

    async fn record_diagnostics_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => record_charger_status(c, id, ChargerStatusField::Diagnostics, status, at))
    }
}

pub(crate) async fn get_charger(c: &mut PgConnection, id: &ChargerId) -> R<Option<Charger>> {
    sqlx::query(statements::GET_CHARGER)
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(rows::charger)
        .transpose()
}

pub(super) async fn loaded(c: &mut PgConnection, id: &ChargerId) -> R<Charger> {
    get_charger(c, id)
        .await?
        .ok_or(StoreError::NotFound { entity: "charger" })
}

/// Locks the charger row for the rest of the transaction, which serializes
/// every read-modify-write of that charger's state across nodes.
pub(super) async fn lock_charger(c: &mut PgConnection, id: &ChargerId) -> R<()> {
    sqlx::query("SELECT 1 FROM chargers WHERE id = $1 FOR UPDATE")
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .map(|_| ())
        .ok_or(StoreError::NotFound { entity: "charger" })
}

pub(super) fn location_json(l: &Option<Location>) -> R<Option<serde_json::Value>> {
    l.as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) async fn connector_states(
    c: &mut PgConnection,
    id: &ChargerId,
) -> R<Vec<ConnectorState>> {
    let rows = sqlx::query(statements::CONNECTOR_STATES)
        .bind(id.as_str())
        .fetch_all(&mut *c)
        .await
        .map_err(pg)?;
    map_rows(rows, rows::connector_state)
}

pub(crate) async fn status_history(
    c: &mut PgConnection,
    id: &ChargerId,
    connector_id: Option<ConnectorId>,
    page: Page,
) -> R<Paged<StatusReport>> {
    let (limit, offset) = limit_offset(page);
    let rows = sqlx::query(concat!(
        "SELECT ",
        status_cols!(),
        " FROM status_history WHERE charger_id = $1 \
         AND ($2::integer IS NULL OR connector_id = $2) \
         ORDER BY effective_at DESC, id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(id.as_str())
    .bind(connector_id.map(cid))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    Ok(Paged::from_overfetch(
        map_rows(rows, rows::status_report)?,
        page,
    ))
}

/// Which of the charger's free-text statuses to set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChargerStatusField {
    Firmware,
    Diagnostics,
}

pub(crate) async fn record_charger_status(
    c: &mut PgConnection,
    id: &ChargerId,
    field: ChargerStatusField,
    status: &str,
    at: DateTime<Utc>,
) -> R<()> {
    let (select, update) = match field {
        ChargerStatusField::Firmware => (
            "SELECT firmware_status FROM chargers WHERE id = $1 FOR UPDATE",
            "UPDATE chargers SET firmware_status = $2, last_seen_at = $3 WHERE id = $1",
        ),
        ChargerStatusField::Diagnostics => (
            "SELECT diagnostics_status FROM chargers WHERE id = $1 FOR UPDATE",
            "UPDATE chargers SET diagnostics_status = $2, last_seen_at = $3 WHERE id = $1",
        ),
    };
    let Some(row) = sqlx::query(select)
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
    else {
        return Err(StoreError::NotFound { entity: "charger" });
    };
    let previous: Option<String> = get(&row, 0)?;
    sqlx::query(update)
        .bind(id.as_str())
        .bind(status)
        .bind(at)
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    if previous.as_deref() != Some(status) {
        let event = match field {
            ChargerStatusField::Firmware => events::ev_firmware(id, status, at),
            ChargerStatusField::Diagnostics => events::ev_diagnostics(id, status, at),
        };
        insert_event(c, &event).await?;
    }
    Ok(())
}
