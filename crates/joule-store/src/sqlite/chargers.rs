//! Chargers (`ChargerStore`): registration, boot, connection, heartbeat,
//! connector status (current state and history) and free-text statuses.

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sql::{collect, db, exec, get, limit_offset, one, opt_ts, ts, unique_as_conflict, R};
use super::SqliteStore;
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
use rusqlite::{params, Connection, OptionalExtension};

#[async_trait]
impl ChargerStore for SqliteStore {
    async fn create_charger(&self, new: NewCharger, at: DateTime<Utc>) -> StoreResult<Charger> {
        self.write(move |c| create_charger(c, &new, at)).await
    }

    async fn get_charger(&self, id: &ChargerId) -> StoreResult<Option<Charger>> {
        let id = id.clone();
        self.read(move |c| get_charger(c, &id)).await
    }

    async fn list_chargers(&self, page: Page) -> StoreResult<Paged<Charger>> {
        self.read(move |c| {
            let (limit, offset) = limit_offset(page);
            let rows = collect(c, statements::LIST_CHARGERS, params![limit, offset], |r| {
                rows::charger(r)
            })?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn update_charger(
        &self,
        id: &ChargerId,
        patch: ChargerPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Charger>> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let patch = &patch;
            let Some(cur) = one(
                c,
                "SELECT label, location, registration, password_hash FROM chargers WHERE id = ?1",
                [id.as_str()],
                |row| {
                    Ok((
                        get::<Option<String>>(row, 0)?,
                        get::<Option<String>>(row, 1)?,
                        get::<String>(row, 2)?,
                        get::<Option<String>>(row, 3)?,
                    ))
                },
            )?
            else {
                return Ok(None);
            };
            let (mut label, mut location, mut registration, mut password_hash) = cur;
            if let Some(l) = &patch.label {
                label = l.clone();
            }
            if let Some(l) = &patch.location {
                location = location_text(l)?;
            }
            if let Some(r) = patch.registration {
                registration = r.as_str().to_owned();
            }
            if let Some(p) = &patch.password_hash {
                password_hash = p.clone();
            }
            exec(
                c,
                "UPDATE chargers SET label = ?2, location = ?3, registration = ?4, password_hash = ?5, \
                 updated_at = ?6 WHERE id = ?1",
                params![
                    id.as_str(),
                    label,
                    location,
                    registration,
                    password_hash,
                    ts(at)
                ],
            )?;
            let charger = loaded(c, id)?;
            insert_event(c, &events::ev_charger_updated(&charger, patch, at))?;
            Ok(Some(charger))
        })
        .await
    }

    async fn delete_charger(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            exec(c, statements::DELETE_CHARGER, [id.as_str()])?;
            exec(c, statements::DELETE_CHARGER_2, [id.as_str()])?;
            let n = exec(c, statements::DELETE_CHARGER_3, [id.as_str()])?;
            if n > 0 {
                let assigned = joule_domain::pricing::assignment::AssignmentFilter {
                    charger_id: Some(id.clone()),
                    ..Default::default()
                };
                delete_assignments_where(c, &assigned, at)?;
                insert_event(c, &events::ev_charger_deleted(id, at))?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn charger_credentials(&self, id: &ChargerId) -> StoreResult<Option<ChargerCredentials>> {
        let id = id.clone();
        self.read(move |c| charger_credentials(c, &id)).await
    }

    async fn auto_register_charger(
        &self,
        id: &ChargerId,
        at: DateTime<Utc>,
    ) -> StoreResult<Charger> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let n = exec(
                c,
                statements::AUTO_REGISTER_CHARGER,
                params![id.as_str(), ts(at)],
            )?;
            if n > 0 {
                insert_event(c, &events::ev_charger_auto_registered(id, at))?;
            }
            loaded(c, id)
        })
        .await
    }

    async fn record_boot(
        &self,
        id: &ChargerId,
        boot: BootInfo,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<RegistrationStatus>> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let boot = &boot;
            let Some(creds) = charger_credentials(c, id)? else {
                return Ok(None);
            };
            exec(
                c,
                "UPDATE chargers SET boot_vendor = ?2, boot_model = ?3, boot_charge_point_serial = ?4, \
                 boot_charge_box_serial = ?5, boot_firmware_version = ?6, boot_iccid = ?7, \
                 boot_imsi = ?8, boot_meter_type = ?9, boot_meter_serial = ?10, booted_at = ?11, \
                 last_seen_at = ?11, updated_at = ?11 WHERE id = ?1",
                params![
                    id.as_str(),
                    boot.vendor,
                    boot.model,
                    boot.charge_point_serial_number,
                    boot.charge_box_serial_number,
                    boot.firmware_version,
                    boot.iccid,
                    boot.imsi,
                    boot.meter_type,
                    boot.meter_serial_number,
                    ts(at),
                ],
            )?;
            insert_event(
                c,
                &events::ev_charger_booted(id, boot, creds.registration, at),
            )?;
            Ok(Some(creds.registration))
        })
        .await
    }

    async fn record_heartbeat(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let n = exec(
                c,
                "UPDATE chargers SET last_heartbeat_at = ?2, last_seen_at = ?2 WHERE id = ?1",
                params![id.as_str(), ts(at)],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound { entity: "charger" });
            }
            Ok(())
        })
        .await
    }

    async fn record_connection(
        &self,
        id: &ChargerId,
        protocol: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let id = id.clone();
        let protocol = protocol.map(str::to_owned);
        self.write(move |c| {
            let id = &id;
            let protocol = protocol.as_deref();
            let n = match protocol {
                Some(p) => exec(
                    c,
                    "UPDATE chargers SET connected = 1, protocol = ?2, connected_at = ?3, \
                     last_seen_at = ?3 WHERE id = ?1",
                    params![id.as_str(), p, ts(at)],
                )?,
                None => exec(
                    c,
                    "UPDATE chargers SET connected = 0, disconnected_at = ?2 WHERE id = ?1",
                    params![id.as_str(), ts(at)],
                )?,
            };
            if n == 0 {
                return Err(StoreError::NotFound { entity: "charger" });
            }
            insert_event(c, &events::ev_connection(id, protocol, at))
        })
        .await
    }

    async fn mark_all_disconnected(&self, at: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |c| {
            let ids = collect(
                c,
                "UPDATE chargers SET connected = 0, disconnected_at = ?1 WHERE connected = 1 RETURNING id",
                [ts(at)],
                |row| values::charger_id(&get::<String>(row, 0)?),
            )?;
            for id in &ids {
                insert_event(c, &events::ev_connection(id, None, at))?;
            }
            Ok(ids.len() as u64)
        })
        .await
    }

    async fn record_status(&self, id: &ChargerId, report: StatusReport) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |c| {
            let id = &id;
            let report = &report;
            require_charger(c, id)?;
            let effective = micros(report.effective_at());
            exec(
                c,
                statements::RECORD_STATUS,
                params![
                    id.as_str(),
                    report.connector_id.get(),
                    report.status.as_str(),
                    report.error_code,
                    report.info,
                    report.vendor_id,
                    report.vendor_error_code,
                    opt_ts(report.reported_at),
                    ts(report.received_at),
                    ts(effective),
                ],
            )?;
            let current = one(
                c,
                statements::RECORD_STATUS_2,
                params![id.as_str(), report.connector_id.get()],
                |r| rows::connector_state(r),
            )?;
            let StatusChange::Replace { announce } = apply_status(current.as_ref(), report) else {
                return Ok(());
            };
            exec(
                c,
                statements::RECORD_STATUS_3,
                params![
                    id.as_str(),
                    report.connector_id.get(),
                    report.status.as_str(),
                    report.error_code,
                    report.info,
                    report.vendor_id,
                    report.vendor_error_code,
                    ts(effective),
                ],
            )?;
            if announce {
                insert_event(c, &events::ev_status_changed(id, report, current.as_ref()))?;
            }
            Ok(())
        })
        .await
    }

    async fn connector_states(&self, id: &ChargerId) -> StoreResult<Vec<ConnectorState>> {
        let id = id.clone();
        self.read(move |c| connector_states(c, &id)).await
    }

    async fn status_history(
        &self,
        id: &ChargerId,
        connector: Option<ConnectorId>,
        page: Page,
    ) -> StoreResult<Paged<StatusReport>> {
        let id = id.clone();
        self.read(move |c| status_history(c, &id, connector, page))
            .await
    }

    async fn connector_status_range(
        &self,
        id: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>> {
        let id = id.clone();
        self.read(move |c| {
            let id = &id;
            let connector_id = connector;
            collect(
                c,
                statements::CONNECTOR_STATUS_RANGE,
                params![
                    id.as_str(),
                    connector_id.get(),
                    ts(micros(from)),
                    ts(micros(to)),
                    STATUS_RANGE_LIMIT
                ],
                |r| rows::status_report(r),
            )
        })
        .await
    }

    async fn record_firmware_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let id = id.clone();
        let status = status.to_owned();
        self.write(move |c| {
            record_charger_status(c, &id, ChargerStatusField::Firmware, &status, at)
        })
        .await
    }

    async fn record_diagnostics_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let id = id.clone();
        let status = status.to_owned();
        self.write(move |c| {
            record_charger_status(c, &id, ChargerStatusField::Diagnostics, &status, at)
        })
        .await
    }
}

pub(crate) fn get_charger(c: &Connection, id: &ChargerId) -> R<Option<Charger>> {
    one(c, statements::GET_CHARGER, [id.as_str()], |r| {
        rows::charger(r)
    })
}

pub(crate) fn require_charger(c: &Connection, id: &ChargerId) -> R<()> {
    let found = c
        .prepare_cached("SELECT 1 FROM chargers WHERE id = ?1")
        .map_err(db)?
        .query_row([id.as_str()], |_| Ok(()))
        .optional()
        .map_err(db)?;
    found.ok_or(StoreError::NotFound { entity: "charger" })
}

pub(super) fn location_text(l: &Option<Location>) -> R<Option<String>> {
    l.as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Backend(e.to_string()))
}

pub(super) fn loaded(c: &Connection, id: &ChargerId) -> R<Charger> {
    get_charger(c, id)?.ok_or(StoreError::NotFound { entity: "charger" })
}

pub(crate) fn create_charger(c: &Connection, new: &NewCharger, at: DateTime<Utc>) -> R<Charger> {
    c.prepare_cached(statements::CREATE_CHARGER)
        .map_err(db)?
        .execute(params![
            new.id.as_str(),
            new.label,
            location_text(&new.location)?,
            new.registration.as_str(),
            new.password_hash,
            ts(at),
        ])
        .map_err(unique_as_conflict("charger"))?;
    let charger = loaded(c, &new.id)?;
    insert_event(c, &events::ev_charger_created(&charger))?;
    Ok(charger)
}

pub(crate) fn charger_credentials(c: &Connection, id: &ChargerId) -> R<Option<ChargerCredentials>> {
    one(c, statements::CHARGER_CREDENTIALS, [id.as_str()], |row| {
        Ok(ChargerCredentials {
            registration: parse_or_corrupt(
                &get::<String>(row, 0)?,
                "registration",
                RegistrationStatus::parse,
            )?,
            password_hash: get(row, 1)?,
        })
    })
}

pub(crate) fn connector_states(c: &Connection, id: &ChargerId) -> R<Vec<ConnectorState>> {
    collect(c, statements::CONNECTOR_STATES, [id.as_str()], |r| {
        rows::connector_state(r)
    })
}

pub(crate) fn status_history(
    c: &Connection,
    id: &ChargerId,
    connector_id: Option<ConnectorId>,
    page: Page,
) -> R<Paged<StatusReport>> {
    let (limit, offset) = limit_offset(page);
    let rows = match connector_id {
        Some(n) => collect(
            c,
            concat!(
                "SELECT ",
                status_cols!(),
                " FROM status_history WHERE charger_id = ?1 AND connector_id = ?2 \
                 ORDER BY effective_at DESC, id DESC LIMIT ?3 OFFSET ?4"
            ),
            params![id.as_str(), n.get(), limit, offset],
            |r| rows::status_report(r),
        )?,
        None => collect(
            c,
            concat!(
                "SELECT ",
                status_cols!(),
                " FROM status_history WHERE charger_id = ?1 \
                 ORDER BY effective_at DESC, id DESC LIMIT ?2 OFFSET ?3"
            ),
            params![id.as_str(), limit, offset],
            |r| rows::status_report(r),
        )?,
    };
    Ok(Paged::from_overfetch(rows, page))
}

/// Which of the charger's free-text statuses to set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChargerStatusField {
    Firmware,
    Diagnostics,
}

pub(crate) fn record_charger_status(
    c: &Connection,
    id: &ChargerId,
    field: ChargerStatusField,
    status: &str,
    at: DateTime<Utc>,
) -> R<()> {
    let (select, update) = match field {
        ChargerStatusField::Firmware => (
            "SELECT firmware_status FROM chargers WHERE id = ?1",
            "UPDATE chargers SET firmware_status = ?2, last_seen_at = ?3 WHERE id = ?1",
        ),
        ChargerStatusField::Diagnostics => (
            "SELECT diagnostics_status FROM chargers WHERE id = ?1",
            "UPDATE chargers SET diagnostics_status = ?2, last_seen_at = ?3 WHERE id = ?1",
        ),
    };
    let Some(previous) = one(c, select, [id.as_str()], |row| {
        get::<Option<String>>(row, 0)
    })?
    else {
        return Err(StoreError::NotFound { entity: "charger" });
    };
    exec(c, update, params![id.as_str(), status, ts(at)])?;
    if previous.as_deref() != Some(status) {
        let event = match field {
            ChargerStatusField::Firmware => events::ev_firmware(id, status, at),
            ChargerStatusField::Diagnostics => events::ev_diagnostics(id, status, at),
        };
        insert_event(c, &event)?;
    }
    Ok(())
}
