//! The SQL of the PostgreSQL backend. Write functions take the connection of
//! an open transaction; read-modify-write functions lock the row they start
//! from (`FOR UPDATE`) so concurrent nodes cannot interleave.

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
use joule_domain::tariff_assignment::AssignmentFilter;
use joule_domain::tariffs::{NewTariff, StoredTariff};
use joule_domain::token::{IdToken, IdTokenPatch, NewIdToken, TokenFilter, TokenKind, TokenStatus};
use joule_domain::user_group::{
    ChargerAccessRule, NewUserGroup, UserGroup, UserGroupId, UserGroupPatch,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::common::{self, corrupt, micros, parse_or_corrupt, STATUS_RANGE_LIMIT};

pub(crate) type R<T> = Result<T, StoreError>;

// ---- conversions -----------------------------------------------------------

pub(crate) fn pg(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        other => StoreError::Backend(other.to_string()),
    }
}

pub(crate) fn unique_as_conflict(entity: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict { entity },
        _ => pg(e),
    }
}

pub(crate) fn get<'r, T>(row: &'r PgRow, idx: usize) -> R<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(idx).map_err(|e| corrupt(e.to_string()))
}

/// Connector ids are at most `ConnectorId::MAX` (1000): they fit an INTEGER.
pub(super) fn cid(c: ConnectorId) -> i32 {
    i32::try_from(c.get()).unwrap_or(i32::MAX)
}

pub(super) fn connector(n: i32) -> R<ConnectorId> {
    u32::try_from(n)
        .ok()
        .and_then(|n| ConnectorId::new(n).ok())
        .ok_or_else(|| corrupt(format!("connector id {n}")))
}

fn transaction(n: i64) -> R<TransactionId> {
    TransactionId::new(n).map_err(corrupt)
}

pub(crate) fn limit_offset(page: Page) -> (i64, i64) {
    (
        i64::from(page.fetch_limit()),
        i64::try_from(page.offset).unwrap_or(i64::MAX),
    )
}

pub(crate) fn map_rows<T>(rows: Vec<PgRow>, f: impl Fn(&PgRow) -> R<T>) -> R<Vec<T>> {
    rows.iter().map(f).collect()
}

// ---- events ----------------------------------------------------------------

/// Key of the transaction-level advisory lock that orders outbox writes.
const OUTBOX_LOCK: i64 = 0x6a6f_756c_655f_6f62; // "joule_ob"

/// Writes an outbox event. Identity values are handed out at insert time but
/// become visible at commit, so two concurrent transactions could commit
/// their events out of id order and a consumer's cursor would skip the
/// slower one. Taking one transaction-scoped advisory lock before the insert
/// (held until commit) makes ids commit in order. Every caller writes its
/// event as the last statement of its transaction, so the lock is held only
/// for the insert and the commit, and never while waiting for a row lock
/// (no deadlock).
pub(crate) async fn insert_event(c: &mut PgConnection, e: &NewEvent) -> R<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(OUTBOX_LOCK)
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    sqlx::query(
        "INSERT INTO events (kind, charger_id, session_id, payload, occurred_at, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, now())",
    )
    .bind(e.kind.as_str())
    .bind(e.charger_id.as_ref().map(|c| c.as_str()))
    .bind(e.session_id.map(|s| s.as_uuid()))
    .bind(&e.payload)
    .bind(e.occurred_at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}

pub(crate) async fn events_after(
    c: &mut PgConnection,
    after: i64,
    limit: u32,
) -> R<Vec<StoredEvent>> {
    let rows = sqlx::query(
        "SELECT id, kind, charger_id, session_id, payload, occurred_at, recorded_at \
         FROM events WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    map_rows(rows, |row| {
        Ok(StoredEvent {
            id: get(row, 0)?,
            kind: StoredKind::from_stored(get(row, 1)?),
            charger_id: get(row, 2)?,
            session_id: get::<Option<Uuid>>(row, 3)?.map(|u| u.to_string()),
            payload: get(row, 4)?,
            occurred_at: get(row, 5)?,
            recorded_at: get(row, 6)?,
        })
    })
}

pub(crate) async fn latest_event_id(c: &mut PgConnection) -> R<i64> {
    let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0)::BIGINT FROM events")
        .fetch_one(&mut *c)
        .await
        .map_err(pg)?;
    Ok(id)
}

// ---- chargers --------------------------------------------------------------

fn charger_row(row: &PgRow) -> R<Charger> {
    let location: Option<serde_json::Value> = get(row, 2)?;
    let location: Option<Location> = location
        .map(serde_json::from_value)
        .transpose()
        .map_err(corrupt)?;
    let booted_at: Option<DateTime<Utc>> = get(row, 14)?;
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
        last_heartbeat_at: get(row, 15)?,
        connection: ConnectionState {
            connected: get(row, 16)?,
            protocol: get(row, 17)?,
            connected_at: get(row, 18)?,
            disconnected_at: get(row, 19)?,
            last_seen_at: get(row, 20)?,
        },
        firmware_status: get(row, 21)?,
        diagnostics_status: get(row, 22)?,
        created_at: get(row, 23)?,
        updated_at: get(row, 24)?,
    })
}

pub(crate) async fn get_charger(c: &mut PgConnection, id: &ChargerId) -> R<Option<Charger>> {
    sqlx::query(concat!(
        "SELECT ",
        charger_cols!(),
        " FROM chargers WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(charger_row)
    .transpose()
}

async fn loaded(c: &mut PgConnection, id: &ChargerId) -> R<Charger> {
    get_charger(c, id)
        .await?
        .ok_or(StoreError::NotFound { entity: "charger" })
}

/// Locks the charger row for the rest of the transaction, which serializes
/// every read-modify-write of that charger's state across nodes.
async fn lock_charger(c: &mut PgConnection, id: &ChargerId) -> R<()> {
    sqlx::query("SELECT 1 FROM chargers WHERE id = $1 FOR UPDATE")
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .map(|_| ())
        .ok_or(StoreError::NotFound { entity: "charger" })
}

pub(crate) async fn list_chargers(c: &mut PgConnection, page: Page) -> R<Paged<Charger>> {
    let (limit, offset) = limit_offset(page);
    let rows = sqlx::query(concat!(
        "SELECT ",
        charger_cols!(),
        " FROM chargers ORDER BY id LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    Ok(Paged::from_overfetch(map_rows(rows, charger_row)?, page))
}

fn location_json(l: &Option<Location>) -> R<Option<serde_json::Value>> {
    l.as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) async fn create_charger(
    c: &mut PgConnection,
    new: &NewCharger,
    at: DateTime<Utc>,
) -> R<Charger> {
    sqlx::query(
        "INSERT INTO chargers (id, label, location, registration, password_hash, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
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
    insert_event(c, &common::ev_charger_created(&charger)).await?;
    Ok(charger)
}

pub(crate) async fn update_charger(
    c: &mut PgConnection,
    id: &ChargerId,
    patch: &ChargerPatch,
    at: DateTime<Utc>,
) -> R<Option<Charger>> {
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
    insert_event(c, &common::ev_charger_updated(&charger, patch, at)).await?;
    Ok(Some(charger))
}

pub(crate) async fn delete_charger(
    c: &mut PgConnection,
    id: &ChargerId,
    at: DateTime<Utc>,
) -> R<bool> {
    sqlx::query("DELETE FROM connector_states WHERE charger_id = $1")
        .bind(id.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    sqlx::query("DELETE FROM charger_groups WHERE charger_id = $1")
        .bind(id.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    let n = sqlx::query("DELETE FROM chargers WHERE id = $1")
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
        super::placement::delete_assignments_where(c, &assigned, at).await?;
        insert_event(c, &common::ev_charger_deleted(id, at)).await?;
    }
    Ok(n > 0)
}

pub(crate) async fn charger_credentials(
    c: &mut PgConnection,
    id: &ChargerId,
) -> R<Option<ChargerCredentials>> {
    let Some(row) = sqlx::query("SELECT registration, password_hash FROM chargers WHERE id = $1")
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
}

pub(crate) async fn auto_register(
    c: &mut PgConnection,
    id: &ChargerId,
    at: DateTime<Utc>,
) -> R<Charger> {
    let n = sqlx::query(
        "INSERT INTO chargers (id, registration, created_at, updated_at) \
         VALUES ($1, 'pending', $2, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?
    .rows_affected();
    if n > 0 {
        insert_event(c, &common::ev_charger_auto_registered(id, at)).await?;
    }
    loaded(c, id).await
}

pub(crate) async fn record_boot(
    c: &mut PgConnection,
    id: &ChargerId,
    boot: &BootInfo,
    at: DateTime<Utc>,
) -> R<Option<RegistrationStatus>> {
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
    insert_event(c, &common::ev_charger_booted(id, boot, registration, at)).await?;
    Ok(Some(registration))
}

pub(crate) async fn record_heartbeat(
    c: &mut PgConnection,
    id: &ChargerId,
    at: DateTime<Utc>,
) -> R<()> {
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
}

pub(crate) async fn record_connection(
    c: &mut PgConnection,
    id: &ChargerId,
    protocol: Option<&str>,
    at: DateTime<Utc>,
) -> R<()> {
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
    insert_event(c, &common::ev_connection(id, protocol, at)).await
}

pub(crate) async fn mark_all_disconnected(c: &mut PgConnection, at: DateTime<Utc>) -> R<u64> {
    let rows = sqlx::query(
        "UPDATE chargers SET connected = FALSE, disconnected_at = $1 WHERE connected \
         RETURNING id",
    )
    .bind(at)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    let mut ids = map_rows(rows, |row| common::charger_id(&get::<String>(row, 0)?))?;
    ids.sort();
    for id in &ids {
        insert_event(c, &common::ev_connection(id, None, at)).await?;
    }
    Ok(ids.len() as u64)
}

fn state_row(row: &PgRow) -> R<ConnectorState> {
    Ok(ConnectorState {
        connector_id: connector(get(row, 0)?)?,
        status: parse_or_corrupt(&get::<String>(row, 1)?, "status", ConnectorStatus::parse)?,
        error_code: get(row, 2)?,
        info: get(row, 3)?,
        vendor_id: get(row, 4)?,
        vendor_error_code: get(row, 5)?,
        since: get(row, 6)?,
    })
}

pub(crate) async fn record_status(
    c: &mut PgConnection,
    id: &ChargerId,
    report: &StatusReport,
) -> R<()> {
    lock_charger(c, id).await?;
    let effective = micros(report.effective_at());
    sqlx::query(
        "INSERT INTO status_history (charger_id, connector_id, status, error_code, info, \
         vendor_id, vendor_error_code, reported_at, received_at, effective_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
    let current = sqlx::query(concat!(
        "SELECT ",
        state_cols!(),
        " FROM connector_states WHERE charger_id = $1 AND connector_id = $2"
    ))
    .bind(id.as_str())
    .bind(cid(report.connector_id))
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(state_row)
    .transpose()?;
    if current.as_ref().is_some_and(|cur| effective < cur.since) {
        // A late message: history only, the newer current state stands.
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO connector_states (charger_id, connector_id, status, error_code, info, \
         vendor_id, vendor_error_code, since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (charger_id, connector_id) DO UPDATE SET status = excluded.status, \
         error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id, \
         vendor_error_code = excluded.vendor_error_code, since = excluded.since",
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
    if common::status_differs(report, current.as_ref()) {
        insert_event(c, &common::ev_status_changed(id, report, current.as_ref())).await?;
    }
    Ok(())
}

pub(crate) async fn connector_states(
    c: &mut PgConnection,
    id: &ChargerId,
) -> R<Vec<ConnectorState>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        state_cols!(),
        " FROM connector_states WHERE charger_id = $1 ORDER BY connector_id"
    ))
    .bind(id.as_str())
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    map_rows(rows, state_row)
}

fn status_row(row: &PgRow) -> R<StatusReport> {
    Ok(StatusReport {
        connector_id: connector(get(row, 0)?)?,
        status: parse_or_corrupt(&get::<String>(row, 1)?, "status", ConnectorStatus::parse)?,
        error_code: get(row, 2)?,
        info: get(row, 3)?,
        vendor_id: get(row, 4)?,
        vendor_error_code: get(row, 5)?,
        reported_at: get(row, 6)?,
        received_at: get(row, 7)?,
    })
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
    Ok(Paged::from_overfetch(map_rows(rows, status_row)?, page))
}

pub(crate) async fn connector_status_range(
    c: &mut PgConnection,
    id: &ChargerId,
    connector_id: ConnectorId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> R<Vec<StatusReport>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        status_cols!(),
        " FROM status_history WHERE charger_id = $1 AND connector_id = $2 \
         AND effective_at >= $3 AND effective_at <= $4 \
         ORDER BY effective_at, id LIMIT $5"
    ))
    .bind(id.as_str())
    .bind(cid(connector_id))
    .bind(micros(from))
    .bind(micros(to))
    .bind(STATUS_RANGE_LIMIT)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    map_rows(rows, status_row)
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
            ChargerStatusField::Firmware => common::ev_firmware(id, status, at),
            ChargerStatusField::Diagnostics => common::ev_diagnostics(id, status, at),
        };
        insert_event(c, &event).await?;
    }
    Ok(())
}

// ---- tokens ----------------------------------------------------------------

fn token_row(row: &PgRow) -> R<IdToken> {
    let allowed: serde_json::Value = get(row, 5)?;
    let allowed: Vec<String> = serde_json::from_value(allowed).map_err(corrupt)?;
    Ok(IdToken {
        id_tag: common::id_tag(&get::<String>(row, 0)?)?,
        kind: parse_or_corrupt(&get::<String>(row, 1)?, "token kind", TokenKind::parse)?,
        status: parse_or_corrupt(&get::<String>(row, 2)?, "token status", TokenStatus::parse)?,
        expires_at: get(row, 3)?,
        parent_id_tag: get::<Option<String>>(row, 4)?
            .as_deref()
            .map(common::id_tag)
            .transpose()?,
        allowed_chargers: allowed
            .iter()
            .map(|s| common::charger_id(s))
            .collect::<R<_>>()?,
        label: get(row, 6)?,
        created_at: get(row, 7)?,
        updated_at: get(row, 8)?,
        language: get::<Option<String>>(row, 9)?
            .as_deref()
            .map(LanguageCode::parse)
            .transpose()
            .map_err(corrupt)?,
    })
}

fn allowed_json(list: &[ChargerId]) -> serde_json::Value {
    serde_json::Value::from(list.iter().map(|c| c.as_str()).collect::<Vec<_>>())
}

async fn token_by_key(c: &mut PgConnection, key: &str, lock: bool) -> R<Option<IdToken>> {
    let sql = if lock {
        concat!(
            "SELECT ",
            token_cols!(),
            " FROM id_tokens WHERE id_tag_key = $1 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            token_cols!(),
            " FROM id_tokens WHERE id_tag_key = $1"
        )
    };
    sqlx::query(sql)
        .bind(key)
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(token_row)
        .transpose()
}

pub(crate) async fn get_token(c: &mut PgConnection, id_tag: &IdTag) -> R<Option<IdToken>> {
    token_by_key(c, &id_tag.key(), false).await
}

pub(crate) async fn create_token(
    c: &mut PgConnection,
    new: &NewIdToken,
    at: DateTime<Utc>,
) -> R<IdToken> {
    sqlx::query(
        "INSERT INTO id_tokens (id_tag_key, id_tag, kind, status, expires_at, parent_id_tag, \
         allowed_chargers, label, created_at, updated_at, language) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
    )
    .bind(new.id_tag.key())
    .bind(new.id_tag.as_str())
    .bind(new.kind.as_str())
    .bind(new.status.as_str())
    .bind(new.expires_at)
    .bind(new.parent_id_tag.as_ref().map(|p| p.as_str()))
    .bind(allowed_json(&new.allowed_chargers))
    .bind(&new.label)
    .bind(at)
    .bind(new.language.as_ref().map(LanguageCode::as_str))
    .execute(&mut *c)
    .await
    .map_err(unique_as_conflict("id token"))?;
    let token = get_token(c, &new.id_tag)
        .await?
        .ok_or(StoreError::NotFound { entity: "id token" })?;
    insert_event(c, &common::ev_token_created(&token)).await?;
    Ok(token)
}

pub(crate) async fn update_token(
    c: &mut PgConnection,
    id_tag: &IdTag,
    patch: &IdTokenPatch,
    at: DateTime<Utc>,
) -> R<Option<IdToken>> {
    let Some(mut t) = token_by_key(c, &id_tag.key(), true).await? else {
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
    sqlx::query(
        "UPDATE id_tokens SET kind = $2, status = $3, expires_at = $4, parent_id_tag = $5, \
         allowed_chargers = $6, label = $7, updated_at = $8, language = $9 WHERE id_tag_key = $1",
    )
    .bind(id_tag.key())
    .bind(t.kind.as_str())
    .bind(t.status.as_str())
    .bind(t.expires_at)
    .bind(t.parent_id_tag.as_ref().map(|p| p.as_str()))
    .bind(allowed_json(&t.allowed_chargers))
    .bind(&t.label)
    .bind(at)
    .bind(t.language.as_ref().map(LanguageCode::as_str))
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    let token = get_token(c, id_tag)
        .await?
        .ok_or(StoreError::NotFound { entity: "id token" })?;
    insert_event(c, &common::ev_token_updated(&token, patch, at)).await?;
    Ok(Some(token))
}

pub(crate) async fn delete_token(
    c: &mut PgConnection,
    id_tag: &IdTag,
    at: DateTime<Utc>,
) -> R<bool> {
    sqlx::query("DELETE FROM token_groups WHERE id_tag_key = $1")
        .bind(id_tag.key())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    let n = sqlx::query("DELETE FROM id_tokens WHERE id_tag_key = $1")
        .bind(id_tag.key())
        .execute(&mut *c)
        .await
        .map_err(pg)?
        .rows_affected();
    if n > 0 {
        let assigned = AssignmentFilter {
            id_tag: Some(id_tag.clone()),
            ..AssignmentFilter::default()
        };
        super::placement::delete_assignments_where(c, &assigned, at).await?;
        insert_event(c, &common::ev_token_deleted(id_tag, at)).await?;
    }
    Ok(n > 0)
}

pub(crate) async fn list_tokens(
    c: &mut PgConnection,
    filter: &TokenFilter,
    page: Page,
) -> R<Paged<IdToken>> {
    let (limit, offset) = limit_offset(page);
    let rows = sqlx::query(concat!(
        "SELECT ",
        token_cols!(),
        " FROM id_tokens WHERE ($1::text IS NULL OR status = $1) \
         AND ($2::text IS NULL OR upper(parent_id_tag) = $2) \
         ORDER BY id_tag_key LIMIT $3 OFFSET $4"
    ))
    .bind(filter.status.map(|s| s.as_str()))
    .bind(filter.parent_id_tag.as_ref().map(|p| p.key()))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    Ok(Paged::from_overfetch(map_rows(rows, token_row)?, page))
}

// ---- sessions --------------------------------------------------------------

fn session_row(row: &PgRow) -> R<Session> {
    Ok(Session {
        transaction_id: transaction(get(row, 0)?)?,
        id: SessionId::from_uuid(get(row, 1)?),
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
        started_at: get(row, 8)?,
        meter_start_wh: get(row, 9)?,
        stopped_at: get(row, 10)?,
        meter_stop_wh: get(row, 11)?,
        stop_reason: get(row, 12)?,
        stop_id_tag: get::<Option<String>>(row, 13)?
            .as_deref()
            .map(common::id_tag)
            .transpose()?,
        last_meter_at: get(row, 14)?,
        last_meter_wh: get(row, 15)?,
        peak_power_w: get(row, 16)?,
        created_at: get(row, 17)?,
        updated_at: get(row, 18)?,
        tariff: common::session_tariff(get(row, 19)?, get(row, 20)?),
    })
}

pub(crate) async fn get_session(c: &mut PgConnection, id: SessionId) -> R<Option<Session>> {
    sqlx::query(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE id = $1"
    ))
    .bind(id.as_uuid())
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(session_row)
    .transpose()
}

pub(crate) async fn get_session_by_transaction(
    c: &mut PgConnection,
    tx: TransactionId,
) -> R<Option<Session>> {
    sqlx::query(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE transaction_id = $1"
    ))
    .bind(tx.get())
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(session_row)
    .transpose()
}

/// The session, locked for the rest of the transaction.
async fn session_of_charger(
    c: &mut PgConnection,
    tx: TransactionId,
    charger: &ChargerId,
) -> R<Option<Session>> {
    sqlx::query(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE transaction_id = $1 AND charger_id = $2 FOR UPDATE"
    ))
    .bind(tx.get())
    .bind(charger.as_str())
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(session_row)
    .transpose()
}

pub(crate) async fn start_session(c: &mut PgConnection, start: &StartSession) -> R<StartOutcome> {
    let key = start.id_tag.key();
    let tariff = match &start.tariff_id {
        Some(id) => current_version(c, id).await?,
        None => None,
    };
    let created = sqlx::query(
        "INSERT INTO sessions (id, charger_id, connector_id, id_tag, id_tag_key, \
         start_authorization, state, reservation_id, started_at, meter_start_wh, created_at, \
         updated_at, tariff_id, tariff_version) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $10, $11, $12) \
         ON CONFLICT (charger_id, connector_id, id_tag_key, started_at, meter_start_wh) \
         DO NOTHING",
    )
    .bind(SessionId::new_v7().as_uuid())
    .bind(start.charger_id.as_str())
    .bind(cid(start.connector_id))
    .bind(start.id_tag.as_str())
    .bind(&key)
    .bind(start.authorization.as_str())
    .bind(start.reservation_id)
    .bind(start.started_at)
    .bind(start.meter_start_wh)
    .bind(start.received_at)
    .bind(tariff.as_ref().map(|t| t.tariff_id.as_str()))
    .bind(tariff.as_ref().map(|t| t.version))
    .execute(&mut *c)
    .await
    .map_err(pg)?
    .rows_affected()
        > 0;
    let row = sqlx::query(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE charger_id = $1 AND connector_id = $2 AND id_tag_key = $3 \
         AND started_at = $4 AND meter_start_wh = $5"
    ))
    .bind(start.charger_id.as_str())
    .bind(cid(start.connector_id))
    .bind(&key)
    .bind(start.started_at)
    .bind(start.meter_start_wh)
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .ok_or_else(|| StoreError::Backend("started session vanished".into()))?;
    let session = session_row(&row)?;
    if created {
        insert_event(c, &common::ev_session_started(&session)).await?;
    }
    Ok(StartOutcome { session, created })
}

async fn insert_samples(
    c: &mut PgConnection,
    charger: &ChargerId,
    connector_id: ConnectorId,
    transaction_id: Option<TransactionId>,
    session_id: Option<SessionId>,
    samples: &[MeterSample],
    received_at: DateTime<Utc>,
) -> R<()> {
    let samples: Vec<&MeterSample> = samples.iter().filter(|s| !s.values.is_empty()).collect();
    if samples.is_empty() {
        return Ok(());
    }
    let at: Vec<DateTime<Utc>> = samples.iter().map(|s| s.timestamp).collect();
    let values: Vec<String> = samples
        .iter()
        .map(|s| common::encode_sampled_values(&s.values))
        .collect();
    sqlx::query(
        "INSERT INTO meter_samples (session_id, charger_id, connector_id, transaction_id, \
         timestamp, sampled_values, received_at) \
         SELECT $1, $2, $3, $4, t.timestamp, t.sampled_values::jsonb, $7 \
         FROM UNNEST($5::timestamptz[], $6::text[]) WITH ORDINALITY \
         AS t(timestamp, sampled_values, n) ORDER BY n",
    )
    .bind(session_id.map(|s| s.as_uuid()))
    .bind(charger.as_str())
    .bind(cid(connector_id))
    .bind(transaction_id.map(TransactionId::get))
    .bind(at)
    .bind(values)
    .bind(received_at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}

async fn update_running_figures(
    c: &mut PgConnection,
    session: &mut Session,
    samples: &[MeterSample],
    at: DateTime<Utc>,
) -> R<()> {
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
        return Ok(());
    }
    sqlx::query(
        "UPDATE sessions SET last_meter_at = $2, last_meter_wh = $3, peak_power_w = $4, \
         updated_at = $5 WHERE transaction_id = $1",
    )
    .bind(session.transaction_id.get())
    .bind(session.last_meter_at)
    .bind(session.last_meter_wh)
    .bind(session.peak_power_w)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}

pub(crate) async fn stop_session(c: &mut PgConnection, stop: &StopSession) -> R<StopOutcome> {
    let Some(mut session) = session_of_charger(c, stop.transaction_id, &stop.charger_id).await?
    else {
        insert_event(c, &common::ev_stop_unmatched(stop)).await?;
        return Ok(StopOutcome::UnknownTransaction);
    };
    if session.state == SessionState::Ended {
        insert_event(c, &common::ev_stop_duplicated(&session, stop)).await?;
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
    )
    .await?;
    update_running_figures(c, &mut session, &stop.transaction_data, stop.received_at).await?;
    sqlx::query(
        "UPDATE sessions SET state = 'ended', stopped_at = $2, meter_stop_wh = $3, \
         stop_reason = $4, stop_id_tag = $5, updated_at = $6 WHERE transaction_id = $1",
    )
    .bind(stop.transaction_id.get())
    .bind(stop.stopped_at)
    .bind(stop.meter_stop_wh)
    .bind(&stop.reason)
    .bind(stop.id_tag.as_ref().map(|t| t.as_str()))
    .bind(stop.received_at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    let session = get_session_by_transaction(c, stop.transaction_id)
        .await?
        .ok_or(StoreError::NotFound { entity: "session" })?;
    insert_event(c, &common::ev_session_ended(&session)).await?;
    Ok(StopOutcome::Stopped(session))
}

pub(crate) async fn record_meter_values(
    c: &mut PgConnection,
    charger: &ChargerId,
    report: &MeterReport,
) -> R<()> {
    let mut session = match report.transaction_id {
        Some(tx) => session_of_charger(c, tx, charger).await?,
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
    )
    .await?;
    if let Some(s) = session.as_mut() {
        update_running_figures(c, s, &report.samples, report.received_at).await?;
    }
    Ok(())
}

pub(crate) async fn list_sessions(
    c: &mut PgConnection,
    filter: &SessionFilter,
    page: Page,
) -> R<Paged<Session>> {
    let (limit, offset) = limit_offset(page);
    let rows = sqlx::query(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE ($1::text IS NULL OR charger_id = $1) \
         AND ($2::text IS NULL OR id_tag_key = $2) AND ($3::text IS NULL OR state = $3) \
         AND ($4::timestamptz IS NULL OR started_at >= $4) \
         AND ($5::timestamptz IS NULL OR started_at < $5) \
         ORDER BY started_at DESC, transaction_id DESC LIMIT $6 OFFSET $7"
    ))
    .bind(filter.charger_id.as_ref().map(|c| c.as_str()))
    .bind(filter.id_tag.as_ref().map(|t| t.key()))
    .bind(filter.state.map(|s| s.as_str()))
    .bind(filter.started_from)
    .bind(filter.started_to)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    Ok(Paged::from_overfetch(map_rows(rows, session_row)?, page))
}

pub(crate) async fn session_meter_values(
    c: &mut PgConnection,
    id: SessionId,
) -> R<Vec<StoredMeterValue>> {
    let rows = sqlx::query(concat!(
        "SELECT timestamp, connector_id, transaction_id, sampled_values::text, received_at",
        " FROM meter_samples WHERE session_id = $1 ORDER BY timestamp, id"
    ))
    .bind(id.as_uuid())
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    let samples = map_rows(rows, |row| {
        Ok((
            get(row, 0)?,
            connector(get(row, 1)?)?,
            get::<Option<i64>>(row, 2)?.map(transaction).transpose()?,
            get::<String>(row, 3)?,
            get(row, 4)?,
        ))
    })?;
    common::flatten_samples(samples)
}

// ---- message log -----------------------------------------------------------

/// Inserts many rows with one statement (arrays unnested in order).
pub(crate) async fn append_log(c: &mut PgConnection, entries: &[LogEntry]) -> R<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = entries.len();
    let mut charger = Vec::with_capacity(n);
    let mut direction = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut action = Vec::with_capacity(n);
    let mut message_id = Vec::with_capacity(n);
    let mut frame = Vec::with_capacity(n);
    let mut note = Vec::with_capacity(n);
    let mut at = Vec::with_capacity(n);
    for e in entries {
        charger.push(e.charger_id.as_str().to_owned());
        direction.push(e.direction.as_str());
        kind.push(e.kind.as_str());
        action.push(e.action.clone());
        message_id.push(e.message_id.clone());
        frame.push(e.frame.clone());
        note.push(e.note.clone());
        at.push(e.at);
    }
    sqlx::query(
        "INSERT INTO message_log (charger_id, direction, kind, action, message_id, frame, note, \
         at) SELECT t.charger_id, t.direction, t.kind, t.action, t.message_id, t.frame, t.note, \
         t.at FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::timestamptz[]) WITH ORDINALITY AS t(charger_id, direction, \
         kind, action, message_id, frame, note, at, n) ORDER BY t.n",
    )
    .bind(charger)
    .bind(direction)
    .bind(kind)
    .bind(action)
    .bind(message_id)
    .bind(frame)
    .bind(note)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}

pub(crate) async fn query_log(
    c: &mut PgConnection,
    charger: &ChargerId,
    filter: &LogFilter,
    page: Page,
) -> R<Paged<StoredLogEntry>> {
    let (limit, offset) = limit_offset(page);
    let rows = sqlx::query(concat!(
        "SELECT ",
        log_cols!(),
        " FROM message_log WHERE charger_id = $1 AND ($2::text IS NULL OR direction = $2) \
         AND ($3::text IS NULL OR action = $3) AND ($4::timestamptz IS NULL OR at >= $4) \
         AND ($5::timestamptz IS NULL OR at < $5) ORDER BY id DESC LIMIT $6 OFFSET $7"
    ))
    .bind(charger.as_str())
    .bind(filter.direction.map(|d| d.as_str()))
    .bind(&filter.action)
    .bind(filter.from)
    .bind(filter.to)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    let rows = map_rows(rows, |row| {
        Ok(StoredLogEntry {
            id: get(row, 0)?,
            entry: LogEntry {
                charger_id: common::charger_id(&get::<String>(row, 1)?)?,
                direction: parse_or_corrupt(
                    &get::<String>(row, 2)?,
                    "direction",
                    Direction::parse,
                )?,
                kind: parse_or_corrupt(&get::<String>(row, 3)?, "frame kind", FrameKind::parse)?,
                action: get(row, 4)?,
                message_id: get(row, 5)?,
                frame: get(row, 6)?,
                note: get(row, 7)?,
                at: get(row, 8)?,
            },
        })
    })?;
    Ok(Paged::from_overfetch(rows, page))
}

/// Deletes an id range, as on SQLite: log rows are appended in time order,
/// so no index on `at` is kept for the hot insert path.
pub(crate) async fn purge_log_before(c: &mut PgConnection, before: DateTime<Utc>) -> R<u64> {
    Ok(sqlx::query(
        "DELETE FROM message_log WHERE id < coalesce(\
           (SELECT id FROM message_log WHERE at >= $1 ORDER BY id LIMIT 1),\
           (SELECT max(id) + 1 FROM message_log))",
    )
    .bind(before)
    .execute(&mut *c)
    .await
    .map_err(pg)?
    .rows_affected())
}

// ---- api keys --------------------------------------------------------------

fn api_key_row(row: &PgRow) -> R<ApiKey> {
    Ok(ApiKey {
        id: get(row, 0)?,
        name: get(row, 1)?,
        prefix: get(row, 2)?,
        secret_hash: get(row, 3)?,
        scopes: common::parse_api_scopes(&get::<String>(row, 4)?)?,
        created_at: get(row, 5)?,
    })
}

pub(crate) async fn count_api_keys(c: &mut PgConnection) -> R<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(&mut *c)
        .await
        .map_err(pg)?;
    Ok(n.max(0) as u64)
}

pub(crate) async fn find_api_key(c: &mut PgConnection, prefix: &str) -> R<Option<ApiKey>> {
    sqlx::query(
        "SELECT id, name, prefix, secret_hash, scopes, created_at FROM api_keys WHERE prefix = $1",
    )
    .bind(prefix)
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(api_key_row)
    .transpose()
}

pub(crate) async fn create_api_key(
    c: &mut PgConnection,
    new: &NewApiKey,
    at: DateTime<Utc>,
) -> R<ApiKey> {
    let row = sqlx::query(
        "INSERT INTO api_keys (name, prefix, secret_hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, prefix, secret_hash, scopes, created_at",
    )
    .bind(&new.name)
    .bind(&new.prefix)
    .bind(&new.secret_hash)
    .bind(common::api_scopes_text(&new.scopes))
    .bind(at)
    .fetch_one(&mut *c)
    .await
    .map_err(unique_as_conflict("api key"))?;
    let key = api_key_row(&row)?;
    insert_event(c, &common::ev_api_key_created(&key)).await?;
    Ok(key)
}

// ---- tariffs ---------------------------------------------------------------

fn tariff_row(row: &PgRow) -> R<StoredTariff> {
    common::parse_tariff(
        &get::<String>(row, 0)?,
        &get::<String>(row, 1)?,
        get(row, 2)?,
        get(row, 3)?,
        get(row, 4)?,
    )
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
    .map(tariff_row)
    .transpose()
}

pub(crate) async fn list_tariffs(c: &mut PgConnection, page: Page) -> R<Paged<StoredTariff>> {
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
    Ok(Paged::from_overfetch(map_rows(rows, tariff_row)?, page))
}

pub(crate) async fn create_tariff(
    c: &mut PgConnection,
    new: &NewTariff,
    at: DateTime<Utc>,
) -> R<StoredTariff> {
    let (body, ext) = common::tariff_json(new)?;
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
        "UPDATE tariffs SET version = 1 + COALESCE( \
         (SELECT MAX(version) FROM tariff_versions WHERE tariff_id = $1), 0) WHERE id = $1",
    )
    .bind(&new.tariff.id)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    let stored = get_tariff(c, &new.tariff.id)
        .await?
        .ok_or(StoreError::NotFound { entity: "tariff" })?;
    write_tariff_version(c, &stored).await?;
    insert_event(c, &common::ev_tariff_created(&stored)).await?;
    Ok(stored)
}

pub(crate) async fn update_tariff(
    c: &mut PgConnection,
    id: &str,
    new: &NewTariff,
    at: DateTime<Utc>,
) -> R<Option<StoredTariff>> {
    let (body, ext) = common::tariff_json(new)?;
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
    insert_event(c, &common::ev_tariff_updated(&stored)).await?;
    Ok(Some(stored))
}

/// The default tariff id, with the settings row locked until commit when
/// `lock` (so that setting the default and deleting that tariff serialize).
async fn default_tariff_id(c: &mut PgConnection, lock: bool) -> R<Option<String>> {
    let sql = if lock {
        "SELECT default_tariff_id FROM tariff_settings WHERE singleton = 1 FOR UPDATE"
    } else {
        "SELECT default_tariff_id FROM tariff_settings WHERE singleton = 1"
    };
    let row = sqlx::query(sql).fetch_optional(&mut *c).await.map_err(pg)?;
    Ok(match row {
        Some(row) => get::<Option<String>>(&row, 0)?,
        None => None,
    })
}

async fn write_default(c: &mut PgConnection, id: Option<&str>, at: DateTime<Utc>) -> R<()> {
    sqlx::query(
        "UPDATE tariff_settings SET default_tariff_id = $1, updated_at = $2 WHERE singleton = 1",
    )
    .bind(id)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}

pub(crate) async fn delete_tariff(c: &mut PgConnection, id: &str, at: DateTime<Utc>) -> R<bool> {
    let n = sqlx::query("DELETE FROM tariffs WHERE id = $1")
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(pg)?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    insert_event(c, &common::ev_tariff_deleted(id, at)).await?;
    let assigned = AssignmentFilter {
        tariff_id: Some(id.to_owned()),
        ..AssignmentFilter::default()
    };
    super::placement::delete_assignments_where(c, &assigned, at).await?;
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
        let charger = common::charger_id(&charger)?;
        insert_event(c, &common::ev_charger_tariff_changed(&charger, None, at)).await?;
    }
    if default_tariff_id(c, true).await?.as_deref() == Some(id) {
        write_default(c, None, at).await?;
        insert_event(c, &common::ev_tariff_default_changed(Some(id), None, at)).await?;
    }
    Ok(true)
}

pub(crate) async fn set_default_tariff(
    c: &mut PgConnection,
    id: Option<&str>,
    at: DateTime<Utc>,
) -> R<Option<StoredTariff>> {
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
            &common::ev_tariff_default_changed(previous.as_deref(), id, at),
        )
        .await?;
    }
    Ok(tariff)
}

/// Keeps the version just written, immutable (frozen prices): a copy of the
/// row as stored, so the body keeps its exact JSON numbers.
async fn write_tariff_version(c: &mut PgConnection, t: &StoredTariff) -> R<()> {
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

pub(crate) async fn get_tariff_version(
    c: &mut PgConnection,
    id: &str,
    version: i64,
) -> R<Option<StoredTariff>> {
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
    .map(tariff_row)
    .transpose()
}

/// The current version of the tariff the precedence rule chose for a new
/// session; `None` when it was deleted since.
async fn current_version(c: &mut PgConnection, tariff_id: &str) -> R<Option<SessionTariff>> {
    let row = sqlx::query("SELECT id, version FROM tariffs WHERE id = $1")
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

pub(crate) async fn set_charger_tariff(
    c: &mut PgConnection,
    id: &ChargerId,
    tariff_id: Option<&str>,
    at: DateTime<Utc>,
) -> R<Option<Option<String>>> {
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
        insert_event(c, &common::ev_charger_tariff_changed(id, tariff_id, at)).await?;
    }
    Ok(Some(tariff_id.map(str::to_owned)))
}

pub(crate) async fn charger_tariff(
    c: &mut PgConnection,
    id: &ChargerId,
) -> R<Option<Option<String>>> {
    sqlx::query("SELECT tariff_id FROM chargers WHERE id = $1")
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

// ---- user groups -------------------------------------------------------------

fn group_row(row: &PgRow) -> R<UserGroup> {
    Ok(UserGroup {
        id: common::parse_group_id(&get::<String>(row, 0)?)?,
        name: get(row, 1)?,
        created_at: get(row, 2)?,
        updated_at: get(row, 3)?,
    })
}

fn group_id_row(row: &PgRow) -> R<UserGroupId> {
    common::parse_group_id(&get::<String>(row, 0)?)
}

pub(crate) async fn get_user_group(c: &mut PgConnection, id: &UserGroupId) -> R<Option<UserGroup>> {
    sqlx::query("SELECT id, name, created_at, updated_at FROM user_groups WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(group_row)
        .transpose()
}

pub(crate) async fn list_user_groups(c: &mut PgConnection, page: Page) -> R<Paged<UserGroup>> {
    let (limit, offset) = limit_offset(page);
    let rows = sqlx::query(
        "SELECT id, name, created_at, updated_at FROM user_groups \
         ORDER BY id COLLATE \"C\" LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    Ok(Paged::from_overfetch(map_rows(rows, group_row)?, page))
}

pub(crate) async fn create_user_group(
    c: &mut PgConnection,
    new: &NewUserGroup,
    at: DateTime<Utc>,
) -> R<UserGroup> {
    sqlx::query(
        "INSERT INTO user_groups (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(new.id.as_str())
    .bind(&new.name)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_conflict("user group"))?;
    let group = get_user_group(c, &new.id)
        .await?
        .ok_or(StoreError::NotFound {
            entity: "user group",
        })?;
    insert_event(c, &common::ev_user_group_created(&group)).await?;
    Ok(group)
}

pub(crate) async fn update_user_group(
    c: &mut PgConnection,
    id: &UserGroupId,
    patch: &UserGroupPatch,
    at: DateTime<Utc>,
) -> R<Option<UserGroup>> {
    let n = sqlx::query(
        "UPDATE user_groups SET name = COALESCE($2, name), updated_at = $3 WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(patch.name.as_deref())
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?
    .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    let group = get_user_group(c, id).await?.ok_or(StoreError::NotFound {
        entity: "user group",
    })?;
    insert_event(c, &common::ev_user_group_updated(&group)).await?;
    Ok(Some(group))
}

pub(crate) async fn delete_user_group(
    c: &mut PgConnection,
    id: &UserGroupId,
    at: DateTime<Utc>,
) -> R<bool> {
    let n = sqlx::query("DELETE FROM user_groups WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    for sql in [
        "DELETE FROM token_groups WHERE group_id = $1",
        "DELETE FROM charger_groups WHERE group_id = $1",
        "DELETE FROM site_groups WHERE group_id = $1",
    ] {
        sqlx::query(sql)
            .bind(id.as_str())
            .execute(&mut *c)
            .await
            .map_err(pg)?;
    }
    let assigned = AssignmentFilter {
        group_id: Some(id.clone()),
        ..AssignmentFilter::default()
    };
    super::placement::delete_assignments_where(c, &assigned, at).await?;
    insert_event(c, &common::ev_user_group_deleted(id, at)).await?;
    Ok(true)
}

/// Fails with `NotFound` unless every group exists; the rows stay share-locked
/// until commit, so a concurrent delete cannot leave a dangling membership.
pub(crate) async fn require_groups(c: &mut PgConnection, groups: &[UserGroupId]) -> R<()> {
    for g in groups {
        let found = sqlx::query("SELECT 1 FROM user_groups WHERE id = $1 FOR SHARE")
            .bind(g.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?;
        if found.is_none() {
            return Err(StoreError::NotFound {
                entity: "user group",
            });
        }
    }
    Ok(())
}

pub(crate) async fn token_groups(c: &mut PgConnection, id_tag: &IdTag) -> R<Vec<UserGroupId>> {
    let rows = sqlx::query(
        "SELECT group_id FROM token_groups WHERE id_tag_key = $1 ORDER BY group_id COLLATE \"C\"",
    )
    .bind(id_tag.key())
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    map_rows(rows, group_id_row)
}

pub(crate) async fn set_token_groups(
    c: &mut PgConnection,
    id_tag: &IdTag,
    groups: Vec<UserGroupId>,
    at: DateTime<Utc>,
) -> R<Option<Vec<UserGroupId>>> {
    let Some(token) = token_by_key(c, &id_tag.key(), true).await? else {
        return Ok(None);
    };
    let groups = common::normalized(groups);
    require_groups(c, &groups).await?;
    sqlx::query("DELETE FROM token_groups WHERE id_tag_key = $1")
        .bind(id_tag.key())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    for g in &groups {
        sqlx::query("INSERT INTO token_groups (id_tag_key, group_id) VALUES ($1, $2)")
            .bind(id_tag.key())
            .bind(g.as_str())
            .execute(&mut *c)
            .await
            .map_err(pg)?;
    }
    insert_event(
        c,
        &common::ev_token_groups_changed(&token.id_tag, &groups, at),
    )
    .await?;
    Ok(Some(groups))
}

pub(crate) async fn charger_access(
    c: &mut PgConnection,
    id: &ChargerId,
) -> R<Option<ChargerAccessRule>> {
    let Some(row) = sqlx::query("SELECT access, access_set, site_id FROM chargers WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
    else {
        return Ok(None);
    };
    let access = common::parse_access(&get::<String>(&row, 0)?)?;
    if !get::<bool>(&row, 1)? {
        let site = match get::<Option<String>>(&row, 2)? {
            Some(s) => super::placement::get_site(c, &crate::placement::site_id(&s)?).await?,
            None => None,
        };
        return Ok(Some(site.map(|s| s.access).unwrap_or_default()));
    }
    let rows = sqlx::query(
        "SELECT group_id FROM charger_groups WHERE charger_id = $1 ORDER BY group_id COLLATE \"C\"",
    )
    .bind(id.as_str())
    .fetch_all(&mut *c)
    .await
    .map_err(pg)?;
    Ok(Some(ChargerAccessRule {
        access,
        allowed_groups: map_rows(rows, group_id_row)?,
    }))
}

pub(crate) async fn set_charger_access(
    c: &mut PgConnection,
    id: &ChargerId,
    rule: ChargerAccessRule,
    at: DateTime<Utc>,
) -> R<Option<ChargerAccessRule>> {
    let rule = ChargerAccessRule {
        access: rule.access,
        allowed_groups: common::normalized(rule.allowed_groups),
    };
    require_groups(c, &rule.allowed_groups).await?;
    let n = sqlx::query("UPDATE chargers SET access = $2, access_set = TRUE WHERE id = $1")
        .bind(id.as_str())
        .bind(rule.access.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?
        .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    sqlx::query("DELETE FROM charger_groups WHERE charger_id = $1")
        .bind(id.as_str())
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    for g in &rule.allowed_groups {
        sqlx::query("INSERT INTO charger_groups (charger_id, group_id) VALUES ($1, $2)")
            .bind(id.as_str())
            .bind(g.as_str())
            .execute(&mut *c)
            .await
            .map_err(pg)?;
    }
    insert_event(c, &common::ev_charger_access_changed(id, &rule, at)).await?;
    Ok(Some(rule))
}
