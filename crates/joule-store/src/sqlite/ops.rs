//! The SQL of the SQLite backend: synchronous functions on a connection.
//! Write functions run inside the writer's transaction (and the job's
//! savepoint); read functions run on a pooled read-only connection.
//! Every statement goes through `prepare_cached`.

use chrono::{DateTime, Utc};
use joule_domain::api_key::{ApiKey, NewApiKey};
use joule_domain::charger::{
    BootInfo, Charger, ChargerCredentials, ChargerPatch, ConnectionState, ConnectorState,
    ConnectorStatus, Location, NewCharger, RegistrationStatus, StatusReport,
};
use joule_domain::error::StoreError;
use joule_domain::event::{NewEvent, StoredEvent, StoredKind};
use joule_domain::ids::{ChargerId, ConnectorId, IdTag, SessionId, TransactionId};
use joule_domain::language::LanguageCode;
use joule_domain::message_log::{Direction, FrameKind, LogEntry, LogFilter, StoredLogEntry};
use joule_domain::meter::{MeterReport, MeterSample, MeterSummary};
use joule_domain::page::{Page, Paged};
use joule_domain::session::{
    apply_meter_summary, Session, SessionFilter, SessionState, SessionTariff, StartOutcome,
    StartSession, StopOutcome, StopSession, StoredMeterValue,
};
use joule_domain::tariffs::{NewTariff, StoredTariff};
use joule_domain::token::{IdToken, IdTokenPatch, NewIdToken, TokenFilter, TokenKind, TokenStatus};
use joule_domain::user_group::{
    ChargerAccessRule, NewUserGroup, UserGroup, UserGroupId, UserGroupPatch,
};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row};

use crate::common::{self, corrupt, micros, parse_or_corrupt, STATUS_RANGE_LIMIT};

pub(crate) type R<T> = Result<T, StoreError>;

// ---- conversions -----------------------------------------------------------

/// Fixed-width RFC 3339 UTC with microseconds: text order is time order.
/// Written by hand: this runs several times per write on the hot path, and
/// chrono's strftime parses its pattern on every call. Years outside
/// 0..=9999 would break the fixed width; chargers do not send those (and
/// chrono's RFC 3339 output would not sort either).
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let mut out = String::with_capacity(27);
    // A leap second shows as nanosecond >= 1e9: keep it within the second.
    let micros = (at.nanosecond() / 1_000).min(999_999);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        micros
    );
    out
}

pub(crate) fn opt_ts(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(ts)
}

pub(super) fn parse_ts(raw: &str) -> R<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt(format!("timestamp {raw:?}: {e}")))
}

pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

fn is_unique(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

pub(crate) fn unique_as_conflict(entity: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| {
        if is_unique(&e) {
            StoreError::Conflict { entity }
        } else {
            db(e)
        }
    }
}

pub(crate) fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, idx: usize) -> R<T> {
    row.get(idx).map_err(db)
}

pub(crate) fn get_ts(row: &Row<'_>, idx: usize) -> R<DateTime<Utc>> {
    parse_ts(&get::<String>(row, idx)?)
}

pub(crate) fn get_opt_ts(row: &Row<'_>, idx: usize) -> R<Option<DateTime<Utc>>> {
    get::<Option<String>>(row, idx)?
        .as_deref()
        .map(parse_ts)
        .transpose()
}

pub(super) fn connector(n: i64) -> R<ConnectorId> {
    u32::try_from(n)
        .ok()
        .and_then(|n| ConnectorId::new(n).ok())
        .ok_or_else(|| corrupt(format!("connector id {n}")))
}

fn transaction(n: i64) -> R<TransactionId> {
    TransactionId::new(n).map_err(corrupt)
}

pub(crate) fn collect<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> R<T>,
) -> R<Vec<T>> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        out.push(map(row)?);
    }
    Ok(out)
}

pub(crate) fn one<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> R<T>,
) -> R<Option<T>> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn exec(c: &Connection, sql: &str, params: impl rusqlite::Params) -> R<usize> {
    c.prepare_cached(sql)
        .map_err(db)?
        .execute(params)
        .map_err(db)
}

pub(crate) fn limit_offset(page: Page) -> (i64, i64) {
    (
        i64::from(page.fetch_limit()),
        i64::try_from(page.offset).unwrap_or(i64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let at = Utc.timestamp_opt(1_767_225_600, 123_456_789).unwrap();
        assert_eq!(ts(at), "2026-01-01T00:00:00.123456Z");
        assert_eq!(parse_ts(&ts(at)).unwrap(), micros(at));
        let early = Utc.with_ymd_and_hms(999, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(ts(early), "0999-01-02T03:04:05.000000Z");
        assert_eq!(ts(at), at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
    }
}

// ---- events ----------------------------------------------------------------

pub(crate) fn insert_event(c: &Connection, e: &NewEvent) -> R<()> {
    exec(
        c,
        "INSERT INTO events (kind, charger_id, session_id, payload, occurred_at, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            e.kind.as_str(),
            e.charger_id.as_ref().map(|c| c.as_str()),
            e.session_id.map(|s| s.to_string()),
            e.payload.to_string(),
            ts(e.occurred_at),
            ts(Utc::now()),
        ],
    )?;
    Ok(())
}

pub(crate) fn events_after(c: &Connection, after: i64, limit: u32) -> R<Vec<StoredEvent>> {
    collect(
        c,
        "SELECT id, kind, charger_id, session_id, payload, occurred_at, recorded_at \
         FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
        params![after, i64::from(limit)],
        |row| {
            let payload: String = get(row, 4)?;
            Ok(StoredEvent {
                id: get(row, 0)?,
                kind: StoredKind::from_stored(get(row, 1)?),
                charger_id: get(row, 2)?,
                session_id: get(row, 3)?,
                payload: serde_json::from_str(&payload).map_err(corrupt)?,
                occurred_at: get_ts(row, 5)?,
                recorded_at: get_ts(row, 6)?,
            })
        },
    )
}

pub(crate) fn latest_event_id(c: &Connection) -> R<i64> {
    c.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM events")
        .map_err(db)?
        .query_row([], |r| r.get(0))
        .map_err(db)
}

// ---- chargers --------------------------------------------------------------

fn charger_row(row: &Row<'_>) -> R<Charger> {
    let location: Option<String> = get(row, 2)?;
    let location: Option<Location> = location
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(corrupt)?;
    let booted_at = get_opt_ts(row, 14)?;
    let boot = match booted_at {
        Some(_) => Some(BootInfo {
            vendor: get::<Option<String>>(row, 5)?.unwrap_or_default(),
            model: get::<Option<String>>(row, 6)?.unwrap_or_default(),
            charge_point_serial_number: get(row, 7)?,
            charge_box_serial_number: get(row, 8)?,
            firmware_version: get(row, 9)?,
            iccid: get(row, 10)?,
            imsi: get(row, 11)?,
            meter_type: get(row, 12)?,
            meter_serial_number: get(row, 13)?,
        }),
        None => None,
    };
    Ok(Charger {
        id: common::charger_id(&get::<String>(row, 0)?)?,
        label: get(row, 1)?,
        location,
        registration: parse_or_corrupt(
            &get::<String>(row, 3)?,
            "registration",
            RegistrationStatus::parse,
        )?,
        has_password: get::<Option<String>>(row, 4)?.is_some(),
        boot,
        booted_at,
        last_heartbeat_at: get_opt_ts(row, 15)?,
        connection: ConnectionState {
            connected: get(row, 16)?,
            protocol: get(row, 17)?,
            connected_at: get_opt_ts(row, 18)?,
            disconnected_at: get_opt_ts(row, 19)?,
            last_seen_at: get_opt_ts(row, 20)?,
        },
        firmware_status: get(row, 21)?,
        diagnostics_status: get(row, 22)?,
        created_at: get_ts(row, 23)?,
        updated_at: get_ts(row, 24)?,
    })
}

pub(crate) fn get_charger(c: &Connection, id: &ChargerId) -> R<Option<Charger>> {
    one(
        c,
        concat!("SELECT ", charger_cols!(), " FROM chargers WHERE id = ?1"),
        [id.as_str()],
        charger_row,
    )
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

pub(crate) fn list_chargers(c: &Connection, page: Page) -> R<Paged<Charger>> {
    let (limit, offset) = limit_offset(page);
    let rows = collect(
        c,
        concat!(
            "SELECT ",
            charger_cols!(),
            " FROM chargers ORDER BY id LIMIT ?1 OFFSET ?2"
        ),
        params![limit, offset],
        charger_row,
    )?;
    Ok(Paged::from_overfetch(rows, page))
}

fn location_text(l: &Option<Location>) -> R<Option<String>> {
    l.as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Backend(e.to_string()))
}

fn loaded(c: &Connection, id: &ChargerId) -> R<Charger> {
    get_charger(c, id)?.ok_or(StoreError::NotFound { entity: "charger" })
}

pub(crate) fn create_charger(c: &Connection, new: &NewCharger, at: DateTime<Utc>) -> R<Charger> {
    c.prepare_cached(
        "INSERT INTO chargers (id, label, location, registration, password_hash, created_at, \
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )
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
    insert_event(c, &common::ev_charger_created(&charger))?;
    Ok(charger)
}

pub(crate) fn update_charger(
    c: &Connection,
    id: &ChargerId,
    patch: &ChargerPatch,
    at: DateTime<Utc>,
) -> R<Option<Charger>> {
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
    insert_event(c, &common::ev_charger_updated(&charger, patch, at))?;
    Ok(Some(charger))
}

pub(crate) fn delete_charger(c: &Connection, id: &ChargerId, at: DateTime<Utc>) -> R<bool> {
    exec(
        c,
        "DELETE FROM connector_states WHERE charger_id = ?1",
        [id.as_str()],
    )?;
    exec(
        c,
        "DELETE FROM charger_groups WHERE charger_id = ?1",
        [id.as_str()],
    )?;
    let n = exec(c, "DELETE FROM chargers WHERE id = ?1", [id.as_str()])?;
    if n > 0 {
        let assigned = joule_domain::tariff_assignment::AssignmentFilter {
            charger_id: Some(id.clone()),
            ..Default::default()
        };
        super::placement::delete_assignments_where(c, &assigned, at)?;
        insert_event(c, &common::ev_charger_deleted(id, at))?;
    }
    Ok(n > 0)
}

pub(crate) fn charger_credentials(c: &Connection, id: &ChargerId) -> R<Option<ChargerCredentials>> {
    one(
        c,
        "SELECT registration, password_hash FROM chargers WHERE id = ?1",
        [id.as_str()],
        |row| {
            Ok(ChargerCredentials {
                registration: parse_or_corrupt(
                    &get::<String>(row, 0)?,
                    "registration",
                    RegistrationStatus::parse,
                )?,
                password_hash: get(row, 1)?,
            })
        },
    )
}

pub(crate) fn auto_register(c: &Connection, id: &ChargerId, at: DateTime<Utc>) -> R<Charger> {
    let n = exec(
        c,
        "INSERT INTO chargers (id, registration, created_at, updated_at) \
         VALUES (?1, 'pending', ?2, ?2) ON CONFLICT (id) DO NOTHING",
        params![id.as_str(), ts(at)],
    )?;
    if n > 0 {
        insert_event(c, &common::ev_charger_auto_registered(id, at))?;
    }
    loaded(c, id)
}

pub(crate) fn record_boot(
    c: &Connection,
    id: &ChargerId,
    boot: &BootInfo,
    at: DateTime<Utc>,
) -> R<Option<RegistrationStatus>> {
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
        &common::ev_charger_booted(id, boot, creds.registration, at),
    )?;
    Ok(Some(creds.registration))
}

pub(crate) fn record_heartbeat(c: &Connection, id: &ChargerId, at: DateTime<Utc>) -> R<()> {
    let n = exec(
        c,
        "UPDATE chargers SET last_heartbeat_at = ?2, last_seen_at = ?2 WHERE id = ?1",
        params![id.as_str(), ts(at)],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound { entity: "charger" });
    }
    Ok(())
}

pub(crate) fn record_connection(
    c: &Connection,
    id: &ChargerId,
    protocol: Option<&str>,
    at: DateTime<Utc>,
) -> R<()> {
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
    insert_event(c, &common::ev_connection(id, protocol, at))
}

pub(crate) fn mark_all_disconnected(c: &Connection, at: DateTime<Utc>) -> R<u64> {
    let ids = collect(
        c,
        "UPDATE chargers SET connected = 0, disconnected_at = ?1 WHERE connected = 1 RETURNING id",
        [ts(at)],
        |row| common::charger_id(&get::<String>(row, 0)?),
    )?;
    for id in &ids {
        insert_event(c, &common::ev_connection(id, None, at))?;
    }
    Ok(ids.len() as u64)
}

fn state_row(row: &Row<'_>) -> R<ConnectorState> {
    Ok(ConnectorState {
        connector_id: connector(get(row, 0)?)?,
        status: parse_or_corrupt(&get::<String>(row, 1)?, "status", ConnectorStatus::parse)?,
        error_code: get(row, 2)?,
        info: get(row, 3)?,
        vendor_id: get(row, 4)?,
        vendor_error_code: get(row, 5)?,
        since: get_ts(row, 6)?,
    })
}

pub(crate) fn record_status(c: &Connection, id: &ChargerId, report: &StatusReport) -> R<()> {
    require_charger(c, id)?;
    let effective = micros(report.effective_at());
    exec(
        c,
        "INSERT INTO status_history (charger_id, connector_id, status, error_code, info, \
         vendor_id, vendor_error_code, reported_at, received_at, effective_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
        concat!(
            "SELECT ",
            state_cols!(),
            " FROM connector_states WHERE charger_id = ?1 AND connector_id = ?2"
        ),
        params![id.as_str(), report.connector_id.get()],
        state_row,
    )?;
    if current.as_ref().is_some_and(|cur| effective < cur.since) {
        // A late message: history only, the newer current state stands.
        return Ok(());
    }
    exec(
        c,
        "INSERT INTO connector_states (charger_id, connector_id, status, error_code, info, \
         vendor_id, vendor_error_code, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (charger_id, connector_id) DO UPDATE SET status = excluded.status, \
         error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id, \
         vendor_error_code = excluded.vendor_error_code, since = excluded.since",
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
    if common::status_differs(report, current.as_ref()) {
        insert_event(c, &common::ev_status_changed(id, report, current.as_ref()))?;
    }
    Ok(())
}

pub(crate) fn connector_states(c: &Connection, id: &ChargerId) -> R<Vec<ConnectorState>> {
    collect(
        c,
        concat!(
            "SELECT ",
            state_cols!(),
            " FROM connector_states WHERE charger_id = ?1 ORDER BY connector_id"
        ),
        [id.as_str()],
        state_row,
    )
}

fn status_row(row: &Row<'_>) -> R<StatusReport> {
    Ok(StatusReport {
        connector_id: connector(get(row, 0)?)?,
        status: parse_or_corrupt(&get::<String>(row, 1)?, "status", ConnectorStatus::parse)?,
        error_code: get(row, 2)?,
        info: get(row, 3)?,
        vendor_id: get(row, 4)?,
        vendor_error_code: get(row, 5)?,
        reported_at: get_opt_ts(row, 6)?,
        received_at: get_ts(row, 7)?,
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
            status_row,
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
            status_row,
        )?,
    };
    Ok(Paged::from_overfetch(rows, page))
}

pub(crate) fn connector_status_range(
    c: &Connection,
    id: &ChargerId,
    connector_id: ConnectorId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> R<Vec<StatusReport>> {
    collect(
        c,
        concat!(
            "SELECT ",
            status_cols!(),
            " FROM status_history WHERE charger_id = ?1 AND connector_id = ?2 \
             AND effective_at >= ?3 AND effective_at <= ?4 \
             ORDER BY effective_at, id LIMIT ?5"
        ),
        params![
            id.as_str(),
            connector_id.get(),
            ts(micros(from)),
            ts(micros(to)),
            STATUS_RANGE_LIMIT
        ],
        status_row,
    )
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
            ChargerStatusField::Firmware => common::ev_firmware(id, status, at),
            ChargerStatusField::Diagnostics => common::ev_diagnostics(id, status, at),
        };
        insert_event(c, &event)?;
    }
    Ok(())
}

// ---- tokens ----------------------------------------------------------------

fn token_row(row: &Row<'_>) -> R<IdToken> {
    let allowed: String = get(row, 5)?;
    let allowed: Vec<String> = serde_json::from_str(&allowed).map_err(corrupt)?;
    Ok(IdToken {
        id_tag: common::id_tag(&get::<String>(row, 0)?)?,
        kind: parse_or_corrupt(&get::<String>(row, 1)?, "token kind", TokenKind::parse)?,
        status: parse_or_corrupt(&get::<String>(row, 2)?, "token status", TokenStatus::parse)?,
        expires_at: get_opt_ts(row, 3)?,
        parent_id_tag: get::<Option<String>>(row, 4)?
            .as_deref()
            .map(common::id_tag)
            .transpose()?,
        allowed_chargers: allowed
            .iter()
            .map(|s| common::charger_id(s))
            .collect::<R<_>>()?,
        label: get(row, 6)?,
        created_at: get_ts(row, 7)?,
        updated_at: get_ts(row, 8)?,
        language: get::<Option<String>>(row, 9)?
            .as_deref()
            .map(LanguageCode::parse)
            .transpose()
            .map_err(corrupt)?,
    })
}

fn allowed_text(list: &[ChargerId]) -> String {
    serde_json::Value::from(list.iter().map(|c| c.as_str()).collect::<Vec<_>>()).to_string()
}

pub(crate) fn get_token(c: &Connection, id_tag: &IdTag) -> R<Option<IdToken>> {
    one(
        c,
        concat!(
            "SELECT ",
            token_cols!(),
            " FROM id_tokens WHERE id_tag_key = ?1"
        ),
        [id_tag.key()],
        token_row,
    )
}

pub(crate) fn create_token(c: &Connection, new: &NewIdToken, at: DateTime<Utc>) -> R<IdToken> {
    c.prepare_cached(
        "INSERT INTO id_tokens (id_tag_key, id_tag, kind, status, expires_at, parent_id_tag, \
         allowed_chargers, label, created_at, updated_at, language) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
    )
    .map_err(db)?
    .execute(params![
        new.id_tag.key(),
        new.id_tag.as_str(),
        new.kind.as_str(),
        new.status.as_str(),
        opt_ts(new.expires_at),
        new.parent_id_tag.as_ref().map(|p| p.as_str()),
        allowed_text(&new.allowed_chargers),
        new.label,
        ts(at),
        new.language.as_ref().map(LanguageCode::as_str),
    ])
    .map_err(unique_as_conflict("id token"))?;
    let token = get_token(c, &new.id_tag)?.ok_or(StoreError::NotFound { entity: "id token" })?;
    insert_event(c, &common::ev_token_created(&token))?;
    Ok(token)
}

pub(crate) fn update_token(
    c: &Connection,
    id_tag: &IdTag,
    patch: &IdTokenPatch,
    at: DateTime<Utc>,
) -> R<Option<IdToken>> {
    let Some(mut t) = get_token(c, id_tag)? else {
        return Ok(None);
    };
    if let Some(k) = patch.kind {
        t.kind = k;
    }
    if let Some(s) = patch.status {
        t.status = s;
    }
    if let Some(e) = patch.expires_at {
        t.expires_at = e;
    }
    if let Some(p) = &patch.parent_id_tag {
        t.parent_id_tag = p.clone();
    }
    if let Some(a) = &patch.allowed_chargers {
        t.allowed_chargers = a.clone();
    }
    if let Some(l) = &patch.label {
        t.label = l.clone();
    }
    if let Some(l) = &patch.language {
        t.language = l.clone();
    }
    exec(
        c,
        "UPDATE id_tokens SET kind = ?2, status = ?3, expires_at = ?4, parent_id_tag = ?5, \
         allowed_chargers = ?6, label = ?7, updated_at = ?8, language = ?9 WHERE id_tag_key = ?1",
        params![
            id_tag.key(),
            t.kind.as_str(),
            t.status.as_str(),
            opt_ts(t.expires_at),
            t.parent_id_tag.as_ref().map(|p| p.as_str()),
            allowed_text(&t.allowed_chargers),
            t.label,
            ts(at),
            t.language.as_ref().map(LanguageCode::as_str),
        ],
    )?;
    let token = get_token(c, id_tag)?.ok_or(StoreError::NotFound { entity: "id token" })?;
    insert_event(c, &common::ev_token_updated(&token, patch, at))?;
    Ok(Some(token))
}

pub(crate) fn delete_token(c: &Connection, id_tag: &IdTag, at: DateTime<Utc>) -> R<bool> {
    exec(
        c,
        "DELETE FROM token_groups WHERE id_tag_key = ?1",
        [id_tag.key()],
    )?;
    let n = exec(
        c,
        "DELETE FROM id_tokens WHERE id_tag_key = ?1",
        [id_tag.key()],
    )?;
    if n > 0 {
        let assigned = joule_domain::tariff_assignment::AssignmentFilter {
            id_tag: Some(id_tag.clone()),
            ..Default::default()
        };
        super::placement::delete_assignments_where(c, &assigned, at)?;
        insert_event(c, &common::ev_token_deleted(id_tag, at))?;
    }
    Ok(n > 0)
}

pub(crate) fn list_tokens(c: &Connection, filter: &TokenFilter, page: Page) -> R<Paged<IdToken>> {
    let (limit, offset) = limit_offset(page);
    let rows = collect(
        c,
        concat!(
            "SELECT ",
            token_cols!(),
            " FROM id_tokens WHERE (?1 IS NULL OR status = ?1) \
             AND (?2 IS NULL OR upper(parent_id_tag) = ?2) \
             ORDER BY id_tag_key LIMIT ?3 OFFSET ?4"
        ),
        params![
            filter.status.map(|s| s.as_str()),
            filter.parent_id_tag.as_ref().map(|p| p.key()),
            limit,
            offset
        ],
        token_row,
    )?;
    Ok(Paged::from_overfetch(rows, page))
}

// ---- sessions --------------------------------------------------------------

fn session_row(row: &Row<'_>) -> R<Session> {
    let id: String = get(row, 1)?;
    Ok(Session {
        transaction_id: transaction(get(row, 0)?)?,
        id: SessionId::parse(&id).map_err(corrupt)?,
        charger_id: common::charger_id(&get::<String>(row, 2)?)?,
        connector_id: connector(get(row, 3)?)?,
        id_tag: common::id_tag(&get::<String>(row, 4)?)?,
        start_authorization: common::parse_auth_status(&get::<String>(row, 5)?)?,
        state: parse_or_corrupt(
            &get::<String>(row, 6)?,
            "session state",
            SessionState::parse,
        )?,
        reservation_id: get(row, 7)?,
        started_at: get_ts(row, 8)?,
        meter_start_wh: get(row, 9)?,
        stopped_at: get_opt_ts(row, 10)?,
        meter_stop_wh: get(row, 11)?,
        stop_reason: get(row, 12)?,
        stop_id_tag: get::<Option<String>>(row, 13)?
            .as_deref()
            .map(common::id_tag)
            .transpose()?,
        last_meter_at: get_opt_ts(row, 14)?,
        last_meter_wh: get(row, 15)?,
        peak_power_w: get(row, 16)?,
        created_at: get_ts(row, 17)?,
        updated_at: get_ts(row, 18)?,
        tariff: common::session_tariff(get(row, 19)?, get(row, 20)?),
    })
}

pub(crate) fn get_session(c: &Connection, id: SessionId) -> R<Option<Session>> {
    one(
        c,
        concat!("SELECT ", session_cols!(), " FROM sessions WHERE id = ?1"),
        [id.to_string()],
        session_row,
    )
}

pub(crate) fn get_session_by_transaction(c: &Connection, tx: TransactionId) -> R<Option<Session>> {
    one(
        c,
        concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions WHERE transaction_id = ?1"
        ),
        [tx.get()],
        session_row,
    )
}

fn session_of_charger(
    c: &Connection,
    tx: TransactionId,
    charger: &ChargerId,
) -> R<Option<Session>> {
    one(
        c,
        concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions WHERE transaction_id = ?1 AND charger_id = ?2"
        ),
        params![tx.get(), charger.as_str()],
        session_row,
    )
}

pub(crate) fn start_session(c: &Connection, start: &StartSession) -> R<StartOutcome> {
    let started_at = ts(start.started_at);
    let key = start.id_tag.key();
    let tariff = match &start.tariff_id {
        Some(id) => current_version(c, id)?,
        None => None,
    };
    let created = exec(
        c,
        "INSERT INTO sessions (id, charger_id, connector_id, id_tag, id_tag_key, \
         start_authorization, state, reservation_id, started_at, meter_start_wh, created_at, \
         updated_at, tariff_id, tariff_version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8, ?9, ?10, ?10, ?11, ?12) \
         ON CONFLICT (charger_id, connector_id, id_tag_key, started_at, meter_start_wh) \
         DO NOTHING",
        params![
            SessionId::new_v7().to_string(),
            start.charger_id.as_str(),
            start.connector_id.get(),
            start.id_tag.as_str(),
            key,
            start.authorization.as_str(),
            start.reservation_id,
            started_at,
            start.meter_start_wh,
            ts(start.received_at),
            tariff.as_ref().map(|t| t.tariff_id.as_str()),
            tariff.as_ref().map(|t| t.version),
        ],
    )? > 0;
    let session = one(
        c,
        concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions WHERE charger_id = ?1 AND connector_id = ?2 AND id_tag_key = ?3 \
             AND started_at = ?4 AND meter_start_wh = ?5"
        ),
        params![
            start.charger_id.as_str(),
            start.connector_id.get(),
            key,
            started_at,
            start.meter_start_wh
        ],
        session_row,
    )?
    .ok_or_else(|| StoreError::Backend("started session vanished".into()))?;
    if created {
        insert_event(c, &common::ev_session_started(&session))?;
    }
    Ok(StartOutcome { session, created })
}

fn insert_samples(
    c: &Connection,
    charger: &ChargerId,
    connector_id: ConnectorId,
    transaction_id: Option<TransactionId>,
    session_id: Option<SessionId>,
    samples: &[MeterSample],
    received_at: DateTime<Utc>,
) -> R<()> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO meter_samples (session_id, charger_id, connector_id, transaction_id, \
             timestamp, sampled_values, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db)?;
    let session_id = session_id.map(|s| s.to_string());
    let received_at = ts(received_at);
    for sample in samples.iter().filter(|s| !s.values.is_empty()) {
        stmt.execute(params![
            session_id,
            charger.as_str(),
            connector_id.get(),
            transaction_id.map(TransactionId::get),
            ts(sample.timestamp),
            common::encode_sampled_values(&sample.values),
            received_at,
        ])
        .map_err(db)?;
    }
    Ok(())
}

/// Folds new samples into the session's running figures; writes only when
/// they changed.
fn update_running_figures(
    c: &Connection,
    session: &mut Session,
    samples: &[MeterSample],
    at: DateTime<Utc>,
) -> R<bool> {
    let before = (
        session.last_meter_at,
        session.last_meter_wh,
        session.peak_power_w,
    );
    apply_meter_summary(session, MeterSummary::of(samples));
    session.last_meter_at = session.last_meter_at.map(micros);
    let after = (
        session.last_meter_at,
        session.last_meter_wh,
        session.peak_power_w,
    );
    if before == after {
        return Ok(false);
    }
    exec(
        c,
        "UPDATE sessions SET last_meter_at = ?2, last_meter_wh = ?3, peak_power_w = ?4, \
         updated_at = ?5 WHERE transaction_id = ?1",
        params![
            session.transaction_id.get(),
            opt_ts(session.last_meter_at),
            session.last_meter_wh,
            session.peak_power_w,
            ts(at),
        ],
    )?;
    Ok(true)
}

pub(crate) fn stop_session(c: &Connection, stop: &StopSession) -> R<StopOutcome> {
    let Some(mut session) = session_of_charger(c, stop.transaction_id, &stop.charger_id)? else {
        insert_event(c, &common::ev_stop_unmatched(stop))?;
        return Ok(StopOutcome::UnknownTransaction);
    };
    if session.state == SessionState::Ended {
        insert_event(c, &common::ev_stop_duplicated(&session, stop))?;
        return Ok(StopOutcome::AlreadyStopped(session));
    }
    insert_samples(
        c,
        &stop.charger_id,
        session.connector_id,
        Some(stop.transaction_id),
        Some(session.id),
        &stop.transaction_data,
        stop.received_at,
    )?;
    update_running_figures(c, &mut session, &stop.transaction_data, stop.received_at)?;
    exec(
        c,
        "UPDATE sessions SET state = 'ended', stopped_at = ?2, meter_stop_wh = ?3, \
         stop_reason = ?4, stop_id_tag = ?5, updated_at = ?6 WHERE transaction_id = ?1",
        params![
            stop.transaction_id.get(),
            ts(stop.stopped_at),
            stop.meter_stop_wh,
            stop.reason,
            stop.id_tag.as_ref().map(|t| t.as_str()),
            ts(stop.received_at),
        ],
    )?;
    let session = get_session_by_transaction(c, stop.transaction_id)?
        .ok_or(StoreError::NotFound { entity: "session" })?;
    insert_event(c, &common::ev_session_ended(&session))?;
    Ok(StopOutcome::Stopped(session))
}

pub(crate) fn record_meter_values(
    c: &Connection,
    charger: &ChargerId,
    report: &MeterReport,
) -> R<()> {
    let mut session = match report.transaction_id {
        Some(tx) => session_of_charger(c, tx, charger)?,
        None => None,
    };
    insert_samples(
        c,
        charger,
        report.connector_id,
        report.transaction_id,
        session.as_ref().map(|s| s.id),
        &report.samples,
        report.received_at,
    )?;
    if let Some(s) = session.as_mut() {
        update_running_figures(c, s, &report.samples, report.received_at)?;
    }
    Ok(())
}

pub(crate) fn list_sessions(
    c: &Connection,
    filter: &SessionFilter,
    page: Page,
) -> R<Paged<Session>> {
    let (limit, offset) = limit_offset(page);
    let rows = collect(
        c,
        concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions WHERE (?1 IS NULL OR charger_id = ?1) \
             AND (?2 IS NULL OR id_tag_key = ?2) AND (?3 IS NULL OR state = ?3) \
             AND (?4 IS NULL OR started_at >= ?4) AND (?5 IS NULL OR started_at < ?5) \
             ORDER BY started_at DESC, transaction_id DESC LIMIT ?6 OFFSET ?7"
        ),
        params![
            filter.charger_id.as_ref().map(|c| c.as_str()),
            filter.id_tag.as_ref().map(|t| t.key()),
            filter.state.map(|s| s.as_str()),
            opt_ts(filter.started_from),
            opt_ts(filter.started_to),
            limit,
            offset,
        ],
        session_row,
    )?;
    Ok(Paged::from_overfetch(rows, page))
}

pub(crate) fn session_meter_values(c: &Connection, id: SessionId) -> R<Vec<StoredMeterValue>> {
    let samples = collect(
        c,
        concat!(
            "SELECT ",
            meter_cols!(),
            " FROM meter_samples WHERE session_id = ?1 ORDER BY timestamp, id"
        ),
        [id.to_string()],
        |row| {
            Ok((
                get_ts(row, 0)?,
                connector(get(row, 1)?)?,
                get::<Option<i64>>(row, 2)?.map(transaction).transpose()?,
                get::<String>(row, 3)?,
                get_ts(row, 4)?,
            ))
        },
    )?;
    common::flatten_samples(samples)
}

// ---- message log -----------------------------------------------------------

pub(crate) fn append_log(c: &Connection, entries: &[LogEntry]) -> R<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO message_log (charger_id, direction, kind, action, message_id, frame, \
             note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(db)?;
    for e in entries {
        stmt.execute(params![
            e.charger_id.as_str(),
            e.direction.as_str(),
            e.kind.as_str(),
            e.action,
            e.message_id,
            e.frame,
            e.note,
            ts(e.at),
        ])
        .map_err(db)?;
    }
    Ok(())
}

pub(crate) fn query_log(
    c: &Connection,
    charger: &ChargerId,
    filter: &LogFilter,
    page: Page,
) -> R<Paged<StoredLogEntry>> {
    let (limit, offset) = limit_offset(page);
    let rows = collect(
        c,
        concat!(
            "SELECT ",
            log_cols!(),
            " FROM message_log WHERE charger_id = ?1 AND (?2 IS NULL OR direction = ?2) \
             AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR at >= ?4) \
             AND (?5 IS NULL OR at < ?5) ORDER BY id DESC LIMIT ?6 OFFSET ?7"
        ),
        params![
            charger.as_str(),
            filter.direction.map(|d| d.as_str()),
            filter.action,
            opt_ts(filter.from),
            opt_ts(filter.to),
            limit,
            offset,
        ],
        |row| {
            Ok(StoredLogEntry {
                id: get(row, 0)?,
                entry: LogEntry {
                    charger_id: common::charger_id(&get::<String>(row, 1)?)?,
                    direction: parse_or_corrupt(
                        &get::<String>(row, 2)?,
                        "direction",
                        Direction::parse,
                    )?,
                    kind: parse_or_corrupt(
                        &get::<String>(row, 3)?,
                        "frame kind",
                        FrameKind::parse,
                    )?,
                    action: get(row, 4)?,
                    message_id: get(row, 5)?,
                    frame: get(row, 6)?,
                    note: get(row, 7)?,
                    at: get_ts(row, 8)?,
                },
            })
        },
    )?;
    Ok(Paged::from_overfetch(rows, page))
}

/// Log rows are appended in time order, so retention deletes an id range:
/// everything below the first row that is recent enough. This spares an
/// index on `at`, which every one of the many log inserts would maintain.
pub(crate) fn purge_log_before(c: &Connection, before: DateTime<Utc>) -> R<u64> {
    exec(
        c,
        "DELETE FROM message_log WHERE id < coalesce(\
           (SELECT id FROM message_log WHERE at >= ?1 ORDER BY id LIMIT 1),\
           (SELECT max(id) + 1 FROM message_log))",
        [ts(before)],
    )
    .map(|n| n as u64)
}

// ---- api keys --------------------------------------------------------------

fn api_key_row(row: &Row<'_>) -> R<ApiKey> {
    Ok(ApiKey {
        id: get(row, 0)?,
        name: get(row, 1)?,
        prefix: get(row, 2)?,
        secret_hash: get(row, 3)?,
        scopes: common::parse_api_scopes(&get::<String>(row, 4)?)?,
        created_at: get_ts(row, 5)?,
    })
}

pub(crate) fn count_api_keys(c: &Connection) -> R<u64> {
    let n: i64 = c
        .prepare_cached("SELECT count(*) FROM api_keys")
        .map_err(db)?
        .query_row([], |r| r.get(0))
        .map_err(db)?;
    Ok(n.max(0) as u64)
}

pub(crate) fn find_api_key(c: &Connection, prefix: &str) -> R<Option<ApiKey>> {
    one(
        c,
        "SELECT id, name, prefix, secret_hash, scopes, created_at FROM api_keys WHERE prefix = ?1",
        [prefix],
        api_key_row,
    )
}

pub(crate) fn create_api_key(c: &Connection, new: &NewApiKey, at: DateTime<Utc>) -> R<ApiKey> {
    c.prepare_cached(
        "INSERT INTO api_keys (name, prefix, secret_hash, scopes, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(db)?
    .execute(params![
        new.name,
        new.prefix,
        new.secret_hash,
        common::api_scopes_text(&new.scopes),
        ts(at),
    ])
    .map_err(unique_as_conflict("api key"))?;
    let key = find_api_key(c, &new.prefix)?.ok_or(StoreError::NotFound { entity: "api key" })?;
    insert_event(c, &common::ev_api_key_created(&key))?;
    Ok(key)
}

// ---- tariffs ---------------------------------------------------------------

fn tariff_row(row: &Row<'_>) -> R<StoredTariff> {
    common::parse_tariff(
        &get::<String>(row, 0)?,
        &get::<String>(row, 1)?,
        get(row, 2)?,
        get_ts(row, 3)?,
        get_ts(row, 4)?,
    )
}

pub(crate) fn get_tariff(c: &Connection, id: &str) -> R<Option<StoredTariff>> {
    one(
        c,
        "SELECT body, extensions, version, created_at, updated_at FROM tariffs WHERE id = ?1",
        [id],
        tariff_row,
    )
}

pub(crate) fn list_tariffs(c: &Connection, page: Page) -> R<Paged<StoredTariff>> {
    let (limit, offset) = limit_offset(page);
    let rows = collect(
        c,
        "SELECT body, extensions, version, created_at, updated_at FROM tariffs \
         ORDER BY id LIMIT ?1 OFFSET ?2",
        params![limit, offset],
        tariff_row,
    )?;
    Ok(Paged::from_overfetch(rows, page))
}

pub(crate) fn create_tariff(c: &Connection, new: &NewTariff, at: DateTime<Utc>) -> R<StoredTariff> {
    let (body, ext) = common::tariff_json(new)?;
    c.prepare_cached(
        "INSERT INTO tariffs (id, body, extensions, version, created_at, updated_at) \
         VALUES (?1, ?2, ?3, 1, ?4, ?4)",
    )
    .map_err(db)?
    .execute(params![new.tariff.id, body, ext, ts(at)])
    .map_err(unique_as_conflict("tariff"))?;
    // Versions are never reused: a tariff re-created after a delete carries
    // on after its last version.
    exec(
        c,
        "UPDATE tariffs SET version = 1 + COALESCE( \
         (SELECT MAX(version) FROM tariff_versions WHERE tariff_id = ?1), 0) WHERE id = ?1",
        [&new.tariff.id],
    )?;
    let stored = get_tariff(c, &new.tariff.id)?.ok_or(StoreError::NotFound { entity: "tariff" })?;
    write_tariff_version(c, &stored, &body, &ext)?;
    insert_event(c, &common::ev_tariff_created(&stored))?;
    Ok(stored)
}

pub(crate) fn update_tariff(
    c: &Connection,
    id: &str,
    new: &NewTariff,
    at: DateTime<Utc>,
) -> R<Option<StoredTariff>> {
    let (body, ext) = common::tariff_json(new)?;
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
    insert_event(c, &common::ev_tariff_updated(&stored))?;
    Ok(Some(stored))
}

fn default_tariff_id(c: &Connection) -> R<Option<String>> {
    Ok(one(
        c,
        "SELECT default_tariff_id FROM tariff_settings WHERE singleton = 1",
        [],
        |row| get::<Option<String>>(row, 0),
    )?
    .flatten())
}

fn write_default(c: &Connection, id: Option<&str>, at: DateTime<Utc>) -> R<()> {
    exec(
        c,
        "UPDATE tariff_settings SET default_tariff_id = ?1, updated_at = ?2 WHERE singleton = 1",
        params![id, ts(at)],
    )?;
    Ok(())
}

pub(crate) fn delete_tariff(c: &Connection, id: &str, at: DateTime<Utc>) -> R<bool> {
    let n = exec(c, "DELETE FROM tariffs WHERE id = ?1", [id])?;
    if n == 0 {
        return Ok(false);
    }
    insert_event(c, &common::ev_tariff_deleted(id, at))?;
    let assigned = joule_domain::tariff_assignment::AssignmentFilter {
        tariff_id: Some(id.to_owned()),
        ..Default::default()
    };
    super::placement::delete_assignments_where(c, &assigned, at)?;
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
        let charger = common::charger_id(&charger)?;
        insert_event(c, &common::ev_charger_tariff_changed(&charger, None, at))?;
    }
    if default_tariff_id(c)?.as_deref() == Some(id) {
        write_default(c, None, at)?;
        insert_event(c, &common::ev_tariff_default_changed(Some(id), None, at))?;
    }
    Ok(true)
}

pub(crate) fn set_default_tariff(
    c: &Connection,
    id: Option<&str>,
    at: DateTime<Utc>,
) -> R<Option<StoredTariff>> {
    let tariff = match id {
        Some(id) => Some(get_tariff(c, id)?.ok_or(StoreError::NotFound { entity: "tariff" })?),
        None => None,
    };
    let previous = default_tariff_id(c)?;
    if previous.as_deref() != id {
        write_default(c, id, at)?;
        insert_event(
            c,
            &common::ev_tariff_default_changed(previous.as_deref(), id, at),
        )?;
    }
    Ok(tariff)
}

/// Keeps the version just written, immutable (frozen prices).
fn write_tariff_version(c: &Connection, t: &StoredTariff, body: &str, ext: &str) -> R<()> {
    exec(
        c,
        "INSERT INTO tariff_versions (tariff_id, version, body, extensions, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![t.tariff.id, t.version, body, ext, ts(t.updated_at)],
    )?;
    Ok(())
}

pub(crate) fn get_tariff_version(
    c: &Connection,
    id: &str,
    version: i64,
) -> R<Option<StoredTariff>> {
    one(
        c,
        "SELECT body, extensions, version, created_at, created_at FROM tariff_versions \
         WHERE tariff_id = ?1 AND version = ?2",
        params![id, version],
        tariff_row,
    )
}

/// The current version of the tariff the precedence rule chose for a new
/// session; `None` when it was deleted since.
fn current_version(c: &Connection, tariff_id: &str) -> R<Option<SessionTariff>> {
    one(
        c,
        "SELECT id, version FROM tariffs WHERE id = ?1",
        [tariff_id],
        |row| {
            Ok(SessionTariff {
                tariff_id: get(row, 0)?,
                version: get(row, 1)?,
            })
        },
    )
}

pub(crate) fn set_charger_tariff(
    c: &Connection,
    id: &ChargerId,
    tariff_id: Option<&str>,
    at: DateTime<Utc>,
) -> R<Option<Option<String>>> {
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
        insert_event(c, &common::ev_charger_tariff_changed(id, tariff_id, at))?;
    }
    Ok(Some(tariff_id.map(str::to_owned)))
}

pub(crate) fn charger_tariff(c: &Connection, id: &ChargerId) -> R<Option<Option<String>>> {
    one(
        c,
        "SELECT tariff_id FROM chargers WHERE id = ?1",
        [id.as_str()],
        |row| get::<Option<String>>(row, 0),
    )
}

pub(crate) fn default_tariff(c: &Connection) -> R<Option<StoredTariff>> {
    match default_tariff_id(c)? {
        Some(id) => get_tariff(c, &id),
        None => Ok(None),
    }
}

// ---- user groups -------------------------------------------------------------

fn group_row(row: &Row<'_>) -> R<UserGroup> {
    Ok(UserGroup {
        id: common::parse_group_id(&get::<String>(row, 0)?)?,
        name: get(row, 1)?,
        created_at: get_ts(row, 2)?,
        updated_at: get_ts(row, 3)?,
    })
}

pub(crate) fn get_user_group(c: &Connection, id: &UserGroupId) -> R<Option<UserGroup>> {
    one(
        c,
        "SELECT id, name, created_at, updated_at FROM user_groups WHERE id = ?1",
        [id.as_str()],
        group_row,
    )
}

pub(crate) fn list_user_groups(c: &Connection, page: Page) -> R<Paged<UserGroup>> {
    let (limit, offset) = limit_offset(page);
    let rows = collect(
        c,
        "SELECT id, name, created_at, updated_at FROM user_groups \
         ORDER BY id LIMIT ?1 OFFSET ?2",
        params![limit, offset],
        group_row,
    )?;
    Ok(Paged::from_overfetch(rows, page))
}

pub(crate) fn create_user_group(
    c: &Connection,
    new: &NewUserGroup,
    at: DateTime<Utc>,
) -> R<UserGroup> {
    c.prepare_cached(
        "INSERT INTO user_groups (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
    )
    .map_err(db)?
    .execute(params![new.id.as_str(), new.name, ts(at)])
    .map_err(unique_as_conflict("user group"))?;
    let group = get_user_group(c, &new.id)?.ok_or(StoreError::NotFound {
        entity: "user group",
    })?;
    insert_event(c, &common::ev_user_group_created(&group))?;
    Ok(group)
}

pub(crate) fn update_user_group(
    c: &Connection,
    id: &UserGroupId,
    patch: &UserGroupPatch,
    at: DateTime<Utc>,
) -> R<Option<UserGroup>> {
    let Some(mut group) = get_user_group(c, id)? else {
        return Ok(None);
    };
    if let Some(name) = &patch.name {
        group.name = name.clone();
    }
    exec(
        c,
        "UPDATE user_groups SET name = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.as_str(), group.name, ts(at)],
    )?;
    group.updated_at = at;
    insert_event(c, &common::ev_user_group_updated(&group))?;
    Ok(Some(group))
}

pub(crate) fn delete_user_group(c: &Connection, id: &UserGroupId, at: DateTime<Utc>) -> R<bool> {
    let n = exec(c, "DELETE FROM user_groups WHERE id = ?1", [id.as_str()])?;
    if n == 0 {
        return Ok(false);
    }
    exec(
        c,
        "DELETE FROM token_groups WHERE group_id = ?1",
        [id.as_str()],
    )?;
    exec(
        c,
        "DELETE FROM charger_groups WHERE group_id = ?1",
        [id.as_str()],
    )?;
    exec(
        c,
        "DELETE FROM site_groups WHERE group_id = ?1",
        [id.as_str()],
    )?;
    let assigned = joule_domain::tariff_assignment::AssignmentFilter {
        group_id: Some(id.clone()),
        ..Default::default()
    };
    super::placement::delete_assignments_where(c, &assigned, at)?;
    insert_event(c, &common::ev_user_group_deleted(id, at))?;
    Ok(true)
}

pub(crate) fn require_groups(c: &Connection, groups: &[UserGroupId]) -> R<()> {
    for g in groups {
        if get_user_group(c, g)?.is_none() {
            return Err(StoreError::NotFound {
                entity: "user group",
            });
        }
    }
    Ok(())
}

pub(crate) fn token_groups(c: &Connection, id_tag: &IdTag) -> R<Vec<UserGroupId>> {
    collect(
        c,
        "SELECT group_id FROM token_groups WHERE id_tag_key = ?1 ORDER BY group_id",
        [id_tag.key()],
        |row| common::parse_group_id(&get::<String>(row, 0)?),
    )
}

pub(crate) fn set_token_groups(
    c: &Connection,
    id_tag: &IdTag,
    groups: Vec<UserGroupId>,
    at: DateTime<Utc>,
) -> R<Option<Vec<UserGroupId>>> {
    let Some(token) = get_token(c, id_tag)? else {
        return Ok(None);
    };
    let groups = common::normalized(groups);
    require_groups(c, &groups)?;
    exec(
        c,
        "DELETE FROM token_groups WHERE id_tag_key = ?1",
        [id_tag.key()],
    )?;
    for g in &groups {
        exec(
            c,
            "INSERT INTO token_groups (id_tag_key, group_id) VALUES (?1, ?2)",
            params![id_tag.key(), g.as_str()],
        )?;
    }
    insert_event(
        c,
        &common::ev_token_groups_changed(&token.id_tag, &groups, at),
    )?;
    Ok(Some(groups))
}

/// The charger's effective rule: its own when set explicitly, else its
/// site's, else public.
pub(crate) fn charger_access(c: &Connection, id: &ChargerId) -> R<Option<ChargerAccessRule>> {
    let Some((access, access_set, site_id)) = one(
        c,
        "SELECT access, access_set, site_id FROM chargers WHERE id = ?1",
        [id.as_str()],
        |row| {
            Ok((
                common::parse_access(&get::<String>(row, 0)?)?,
                get::<bool>(row, 1)?,
                get::<Option<String>>(row, 2)?,
            ))
        },
    )?
    else {
        return Ok(None);
    };
    if !access_set {
        let site = match site_id.as_deref() {
            Some(s) => super::placement::get_site(c, &crate::placement::site_id(s)?)?,
            None => None,
        };
        return Ok(Some(site.map(|s| s.access).unwrap_or_default()));
    }
    let allowed_groups = collect(
        c,
        "SELECT group_id FROM charger_groups WHERE charger_id = ?1 ORDER BY group_id",
        [id.as_str()],
        |row| common::parse_group_id(&get::<String>(row, 0)?),
    )?;
    Ok(Some(ChargerAccessRule {
        access,
        allowed_groups,
    }))
}

pub(crate) fn set_charger_access(
    c: &Connection,
    id: &ChargerId,
    rule: ChargerAccessRule,
    at: DateTime<Utc>,
) -> R<Option<ChargerAccessRule>> {
    let rule = ChargerAccessRule {
        access: rule.access,
        allowed_groups: common::normalized(rule.allowed_groups),
    };
    require_groups(c, &rule.allowed_groups)?;
    let n = exec(
        c,
        "UPDATE chargers SET access = ?2, access_set = 1 WHERE id = ?1",
        params![id.as_str(), rule.access.as_str()],
    )?;
    if n == 0 {
        return Ok(None);
    }
    exec(
        c,
        "DELETE FROM charger_groups WHERE charger_id = ?1",
        [id.as_str()],
    )?;
    for g in &rule.allowed_groups {
        exec(
            c,
            "INSERT INTO charger_groups (charger_id, group_id) VALUES (?1, ?2)",
            params![id.as_str(), g.as_str()],
        )?;
    }
    insert_event(c, &common::ev_charger_access_changed(id, &rule, at))?;
    Ok(Some(rule))
}
