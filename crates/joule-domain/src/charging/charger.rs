//! Chargers (charge points), their registration and connection state, and
//! what they report about their connectors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::kernel::ids::{ChargerId, ConnectorId};

/// Whether Joule lets a charger in. Drives the BootNotification answer
/// (OCPP 1.6 `RegistrationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// Known and allowed: its calls are served.
    Accepted,
    /// Known but waiting for an operator (e.g. auto-registered): it may only
    /// boot, and is told to try again later.
    Pending,
    /// Refused: it is told so at boot and nothing else it sends is served.
    Rejected,
}

impl RegistrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Pending => "pending",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "accepted" => Some(Self::Accepted),
            "pending" => Some(Self::Pending),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// Where a charger stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// What a charger said about itself in its last BootNotification.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BootInfo {
    pub vendor: String,
    pub model: String,
    pub charge_point_serial_number: Option<String>,
    pub charge_box_serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub meter_type: Option<String>,
    pub meter_serial_number: Option<String>,
}

/// A charger as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Charger {
    pub id: ChargerId,
    pub label: Option<String>,
    pub location: Option<Location>,
    pub registration: RegistrationStatus,
    pub has_password: bool,
    pub boot: Option<BootInfo>,
    pub booted_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub connection: ConnectionState,
    pub firmware_status: Option<String>,
    pub diagnostics_status: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether the charger has a live WebSocket, as last recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionState {
    pub connected: bool,
    /// Subprotocol negotiated on the current or last connection (`ocpp1.6`).
    pub protocol: Option<String>,
    pub connected_at: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
    /// Last time anything arrived from the charger.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A charger to create. The password is hashed before it gets here: the
/// domain never holds a plain charger password.
#[derive(Debug, Clone)]
pub struct NewCharger {
    pub id: ChargerId,
    pub label: Option<String>,
    pub location: Option<Location>,
    pub registration: RegistrationStatus,
    pub password_hash: Option<String>,
}

/// A partial update; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ChargerPatch {
    pub label: Option<Option<String>>,
    pub location: Option<Option<Location>>,
    pub registration: Option<RegistrationStatus>,
    pub password_hash: Option<Option<String>>,
}

/// What the connection layer needs at the handshake.
#[derive(Debug, Clone)]
pub struct ChargerCredentials {
    pub registration: RegistrationStatus,
    pub password_hash: Option<String>,
}

/// Connector status vocabulary. A superset across OCPP versions: 1.6 sends
/// these names directly; 2.0.1's `Occupied` maps to `Preparing`/`Charging` by
/// context in its adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConnectorStatus {
    Available,
    Preparing,
    Charging,
    SuspendedEVSE,
    SuspendedEV,
    Finishing,
    Reserved,
    Unavailable,
    Faulted,
}

impl ConnectorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::Preparing => "Preparing",
            Self::Charging => "Charging",
            Self::SuspendedEVSE => "SuspendedEVSE",
            Self::SuspendedEV => "SuspendedEV",
            Self::Finishing => "Finishing",
            Self::Reserved => "Reserved",
            Self::Unavailable => "Unavailable",
            Self::Faulted => "Faulted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "Available" => Self::Available,
            "Preparing" => Self::Preparing,
            "Charging" => Self::Charging,
            "SuspendedEVSE" => Self::SuspendedEVSE,
            "SuspendedEV" => Self::SuspendedEV,
            "Finishing" => Self::Finishing,
            "Reserved" => Self::Reserved,
            "Unavailable" => Self::Unavailable,
            "Faulted" => Self::Faulted,
            _ => return None,
        })
    }
}

/// One StatusNotification, kept as history: the raw material of uptime and
/// error-code reporting (NEVI, ChargeX MREC codes arrive in
/// `vendor_error_code`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub connector_id: ConnectorId,
    pub status: ConnectorStatus,
    /// Protocol error code (`NoError` is stored as `None`).
    pub error_code: Option<String>,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    /// The charger's timestamp, when it sent one.
    pub reported_at: Option<DateTime<Utc>>,
    /// When Joule received it.
    pub received_at: DateTime<Utc>,
}

impl StatusReport {
    /// The instant the status took effect: the charger's clock when given
    /// (late messages are placed where they happened), else arrival.
    pub fn effective_at(&self) -> DateTime<Utc> {
        self.reported_at.unwrap_or(self.received_at)
    }
}

/// The latest known status of one connector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorState {
    pub connector_id: ConnectorId,
    pub status: ConnectorStatus,
    pub error_code: Option<String>,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub since: DateTime<Utc>,
}

/// What a status report does to its connector's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// Older than the current state (a late message): it goes into the
    /// history only, the newer current state stands.
    HistoryOnly,
    /// It becomes the current state. `announce` is true when what operators
    /// see changes (status or error code), which is worth an outbox event;
    /// a repeat of the same status only moves `since`.
    Replace { announce: bool },
}

/// The rule both stores apply to a StatusNotification: a report is placed
/// at the instant it took effect ([`StatusReport::effective_at`]), so one
/// that arrives after a newer report cannot overwrite it.
pub fn apply_status(current: Option<&ConnectorState>, report: &StatusReport) -> StatusChange {
    match current {
        Some(cur) if report.effective_at() < cur.since => StatusChange::HistoryOnly,
        Some(cur) => StatusChange::Replace {
            announce: cur.status != report.status || cur.error_code != report.error_code,
        },
        None => StatusChange::Replace { announce: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, second).unwrap()
    }

    fn report(status: ConnectorStatus, error: Option<&str>, second: u32) -> StatusReport {
        StatusReport {
            connector_id: ConnectorId::new(1).unwrap(),
            status,
            error_code: error.map(str::to_owned),
            info: None,
            vendor_id: None,
            vendor_error_code: None,
            reported_at: Some(at(second)),
            received_at: at(59),
        }
    }

    fn state(status: ConnectorStatus, error: Option<&str>, second: u32) -> ConnectorState {
        ConnectorState {
            connector_id: ConnectorId::new(1).unwrap(),
            status,
            error_code: error.map(str::to_owned),
            info: None,
            vendor_id: None,
            vendor_error_code: None,
            since: at(second),
        }
    }

    #[test]
    fn a_first_report_becomes_the_state_and_is_announced() {
        let r = report(ConnectorStatus::Available, None, 10);
        assert_eq!(
            apply_status(None, &r),
            StatusChange::Replace { announce: true }
        );
    }

    #[test]
    fn a_late_report_goes_to_history_only() {
        let cur = state(ConnectorStatus::Charging, None, 20);
        let r = report(ConnectorStatus::Preparing, None, 10);
        assert_eq!(apply_status(Some(&cur), &r), StatusChange::HistoryOnly);
    }

    #[test]
    fn a_report_at_the_same_instant_replaces() {
        let cur = state(ConnectorStatus::Preparing, None, 20);
        let r = report(ConnectorStatus::Charging, None, 20);
        assert_eq!(
            apply_status(Some(&cur), &r),
            StatusChange::Replace { announce: true }
        );
    }

    #[test]
    fn a_repeat_replaces_quietly_and_an_error_change_is_announced() {
        let cur = state(ConnectorStatus::Faulted, Some("GroundFailure"), 10);
        let same = report(ConnectorStatus::Faulted, Some("GroundFailure"), 20);
        assert_eq!(
            apply_status(Some(&cur), &same),
            StatusChange::Replace { announce: false }
        );
        let other = report(ConnectorStatus::Faulted, Some("OverVoltage"), 20);
        assert_eq!(
            apply_status(Some(&cur), &other),
            StatusChange::Replace { announce: true }
        );
    }

    #[test]
    fn without_a_charger_clock_the_arrival_places_the_report() {
        let cur = state(ConnectorStatus::Charging, None, 30);
        let mut r = report(ConnectorStatus::Available, None, 0);
        r.reported_at = None;
        assert_eq!(
            apply_status(Some(&cur), &r),
            StatusChange::Replace { announce: true }
        );
    }
}
