//! Chargers, their connectors' current states and status history.

use joule_domain::charging::charger::{
    BootInfo, Charger, ConnectionState, ConnectorState, ConnectorStatus, Location,
    RegistrationStatus, StatusReport,
};

use super::{RowRead, R};
use crate::values::{self, corrupt, parse_or_corrupt};

/// A row of `charger_cols!()`.
pub(crate) fn charger(row: &impl RowRead) -> R<Charger> {
    let location: Option<Location> = row
        .opt_json(2)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(corrupt)?;
    let booted_at = row.opt_ts(14)?;
    let boot = match booted_at {
        Some(_) => Some(BootInfo {
            vendor: row.opt_text(5)?.unwrap_or_default(),
            model: row.opt_text(6)?.unwrap_or_default(),
            charge_point_serial_number: row.opt_text(7)?,
            charge_box_serial_number: row.opt_text(8)?,
            firmware_version: row.opt_text(9)?,
            iccid: row.opt_text(10)?,
            imsi: row.opt_text(11)?,
            meter_type: row.opt_text(12)?,
            meter_serial_number: row.opt_text(13)?,
        }),
        None => None,
    };
    Ok(Charger {
        id: values::charger_id(&row.text(0)?)?,
        label: row.opt_text(1)?,
        location,
        registration: parse_or_corrupt(&row.text(3)?, "registration", RegistrationStatus::parse)?,
        has_password: row.opt_text(4)?.is_some(),
        boot,
        booted_at,
        last_heartbeat_at: row.opt_ts(15)?,
        connection: ConnectionState {
            connected: row.flag(16)?,
            protocol: row.opt_text(17)?,
            connected_at: row.opt_ts(18)?,
            disconnected_at: row.opt_ts(19)?,
            last_seen_at: row.opt_ts(20)?,
        },
        firmware_status: row.opt_text(21)?,
        diagnostics_status: row.opt_text(22)?,
        created_at: row.ts(23)?,
        updated_at: row.ts(24)?,
    })
}

/// A row of `state_cols!()`.
pub(crate) fn connector_state(row: &impl RowRead) -> R<ConnectorState> {
    Ok(ConnectorState {
        connector_id: row.connector(0)?,
        status: parse_or_corrupt(&row.text(1)?, "status", ConnectorStatus::parse)?,
        error_code: row.opt_text(2)?,
        info: row.opt_text(3)?,
        vendor_id: row.opt_text(4)?,
        vendor_error_code: row.opt_text(5)?,
        since: row.ts(6)?,
    })
}

/// A row of `status_cols!()`.
pub(crate) fn status_report(row: &impl RowRead) -> R<StatusReport> {
    Ok(StatusReport {
        connector_id: row.connector(0)?,
        status: parse_or_corrupt(&row.text(1)?, "status", ConnectorStatus::parse)?,
        error_code: row.opt_text(2)?,
        info: row.opt_text(3)?,
        vendor_id: row.opt_text(4)?,
        vendor_error_code: row.opt_text(5)?,
        reported_at: row.opt_ts(6)?,
        received_at: row.ts(7)?,
    })
}
