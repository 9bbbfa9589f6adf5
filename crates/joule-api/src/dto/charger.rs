//! Charger resources.

use chrono::{DateTime, Utc};
use joule_domain::charging::charger as domain;
use joule_domain::charging::site::SiteId;
use joule_domain::ChargerId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{check_label, double_option};
use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// Whether Joule lets the charger in (drives the BootNotification answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    Accepted,
    Pending,
    Rejected,
}

impl From<domain::RegistrationStatus> for Registration {
    fn from(r: domain::RegistrationStatus) -> Self {
        match r {
            domain::RegistrationStatus::Accepted => Self::Accepted,
            domain::RegistrationStatus::Pending => Self::Pending,
            domain::RegistrationStatus::Rejected => Self::Rejected,
        }
    }
}

impl From<Registration> for domain::RegistrationStatus {
    fn from(r: Registration) -> Self {
        match r {
            Registration::Accepted => Self::Accepted,
            Registration::Pending => Self::Pending,
            Registration::Rejected => Self::Rejected,
        }
    }
}

/// Where a charger stands (WGS 84).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Degrees, -90 to 90.
    pub latitude: f64,
    /// Degrees, -180 to 180.
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl From<domain::Location> for Location {
    fn from(l: domain::Location) -> Self {
        Self {
            latitude: l.latitude,
            longitude: l.longitude,
            address: l.address,
        }
    }
}

impl Location {
    fn into_domain(self, errors: &mut QueryErrors, field: &str) -> Option<domain::Location> {
        let before = errors.len();
        if !(self.latitude.is_finite() && (-90.0..=90.0).contains(&self.latitude)) {
            errors.push(&format!("{field}.latitude"), "must be between -90 and 90");
        }
        if !(self.longitude.is_finite() && (-180.0..=180.0).contains(&self.longitude)) {
            errors.push(
                &format!("{field}.longitude"),
                "must be between -180 and 180",
            );
        }
        let address = check_label(errors, &format!("{field}.address"), self.address);
        (errors.len() == before).then_some(domain::Location {
            latitude: self.latitude,
            longitude: self.longitude,
            address,
        })
    }
}

/// What the charger said about itself in its last BootNotification.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<domain::BootInfo> for BootInfo {
    fn from(b: domain::BootInfo) -> Self {
        Self {
            vendor: b.vendor,
            model: b.model,
            charge_point_serial_number: b.charge_point_serial_number,
            charge_box_serial_number: b.charge_box_serial_number,
            firmware_version: b.firmware_version,
            iccid: b.iccid,
            imsi: b.imsi,
            meter_type: b.meter_type,
            meter_serial_number: b.meter_serial_number,
        }
    }
}

/// The charger's WebSocket connection as last recorded in the database.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Connection {
    pub connected: bool,
    /// Subprotocol of the current or last connection, e.g. `ocpp1.6`.
    pub protocol: Option<String>,
    pub connected_at: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
    /// Last time anything arrived from the charger.
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl From<domain::ConnectionState> for Connection {
    fn from(c: domain::ConnectionState) -> Self {
        Self {
            connected: c.connected,
            protocol: c.protocol,
            connected_at: c.connected_at,
            disconnected_at: c.disconnected_at,
            last_seen_at: c.last_seen_at,
        }
    }
}

/// A charger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Charger {
    pub id: String,
    pub label: Option<String>,
    pub location: Option<Location>,
    pub registration: Registration,
    /// Whether a password is set (the password itself is never returned).
    pub has_password: bool,
    pub connection: Connection,
    /// Whether this node's command router holds a live connection now, i.e.
    /// whether commands can be sent.
    pub live: bool,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub boot: Option<BootInfo>,
    pub booted_at: Option<DateTime<Utc>>,
    /// Last FirmwareStatusNotification status.
    pub firmware_status: Option<String>,
    /// Last DiagnosticsStatusNotification status.
    pub diagnostics_status: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Charger {
    pub fn from_domain(c: domain::Charger, live: bool) -> Self {
        Self {
            id: c.id.to_string(),
            label: c.label,
            location: c.location.map(Into::into),
            registration: c.registration.into(),
            has_password: c.has_password,
            connection: c.connection.into(),
            live,
            last_heartbeat_at: c.last_heartbeat_at,
            boot: c.boot.map(Into::into),
            booted_at: c.booted_at,
            firmware_status: c.firmware_status,
            diagnostics_status: c.diagnostics_status,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Connector status (OCPP names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

impl From<domain::ConnectorStatus> for ConnectorStatus {
    fn from(s: domain::ConnectorStatus) -> Self {
        use domain::ConnectorStatus as D;
        match s {
            D::Available => Self::Available,
            D::Preparing => Self::Preparing,
            D::Charging => Self::Charging,
            D::SuspendedEVSE => Self::SuspendedEVSE,
            D::SuspendedEV => Self::SuspendedEV,
            D::Finishing => Self::Finishing,
            D::Reserved => Self::Reserved,
            D::Unavailable => Self::Unavailable,
            D::Faulted => Self::Faulted,
        }
    }
}

/// The latest known status of one connector (0 = the charger as a whole).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Connector {
    pub connector_id: u32,
    pub status: ConnectorStatus,
    /// OCPP error code; absent for `NoError`.
    pub error_code: Option<String>,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub since: DateTime<Utc>,
}

impl From<domain::ConnectorState> for Connector {
    fn from(c: domain::ConnectorState) -> Self {
        Self {
            connector_id: c.connector_id.get(),
            status: c.status.into(),
            error_code: c.error_code,
            info: c.info,
            vendor_id: c.vendor_id,
            vendor_error_code: c.vendor_error_code,
            since: c.since,
        }
    }
}

/// A charger with its connectors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChargerDetail {
    #[serde(flatten)]
    pub charger: Charger,
    pub connectors: Vec<Connector>,
    /// Who may charge here: the charger's own rule (set with `PUT
    /// /chargers/{id}/access`), else its site's.
    pub access: super::user_group::ChargerAccess,
    /// The site the charger stands at (its time zone prices sessions).
    pub site_id: Option<String>,
}

/// One StatusNotification as kept in history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusReport {
    pub connector_id: u32,
    pub status: ConnectorStatus,
    pub error_code: Option<String>,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    /// The charger's timestamp, when it sent one.
    pub reported_at: Option<DateTime<Utc>>,
    /// When Joule received it.
    pub received_at: DateTime<Utc>,
}

impl From<domain::StatusReport> for StatusReport {
    fn from(r: domain::StatusReport) -> Self {
        Self {
            connector_id: r.connector_id.get(),
            status: r.status.into(),
            error_code: r.error_code,
            info: r.info,
            vendor_id: r.vendor_id,
            vendor_error_code: r.vendor_error_code,
            reported_at: r.reported_at,
            received_at: r.received_at,
        }
    }
}

/// Shortest and longest charger password (OCPP security profile 1 Basic
/// auth; the 1.6 security whitepaper's AuthorizationKey / 2.0.1's
/// `BasicAuthPassword` are 16 to 40 characters).
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 16..=40;

/// Checks a charger password: 16 to 40 printable ASCII characters, no
/// spaces (HTTP Basic auth carries it; spaces are routinely mangled).
pub(crate) fn check_password(errors: &mut QueryErrors, raw: Option<String>) -> Option<String> {
    let raw = raw?;
    if !PASSWORD_CHARS.contains(&raw.len()) || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        errors.push(
            "password",
            "must be 16 to 40 printable ASCII characters without spaces",
        );
        return None;
    }
    Some(raw)
}

/// Body of `POST /chargers`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCharger {
    /// The charge point identity: the last segment of its WebSocket URL.
    /// Up to 48 characters of `A-Z a-z 0-9 * - _ = + | @ .`.
    pub id: String,
    /// Password for OCPP security profile 1 (HTTP Basic auth), 16 to 40
    /// printable ASCII characters. Stored as an Argon2 hash only.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub location: Option<Location>,
    /// Defaults to `accepted`.
    #[serde(default)]
    pub registration: Option<Registration>,
    /// The site the charger stands at.
    #[serde(default)]
    pub site_id: Option<String>,
}

/// A validated create request; the password is still plain, hashed by the
/// handler off the async runtime.
pub struct ValidCreateCharger {
    pub id: ChargerId,
    pub label: Option<String>,
    pub location: Option<domain::Location>,
    pub registration: domain::RegistrationStatus,
    pub password: Option<String>,
    pub site_id: Option<SiteId>,
}

impl CreateCharger {
    pub fn validate(self) -> Result<ValidCreateCharger, ApiError> {
        let mut errors = QueryErrors::new();
        let id = errors.charger_id("id", Some(&self.id));
        let label = check_label(&mut errors, "label", self.label);
        let location = self
            .location
            .and_then(|l| l.into_domain(&mut errors, "location"));
        let password = check_password(&mut errors, self.password);
        let site_id = errors.opt("site_id", self.site_id.as_deref(), SiteId::parse);
        errors.finish()?;
        let id = id.ok_or_else(|| ApiError::field("id", "is invalid"))?;
        Ok(ValidCreateCharger {
            id,
            label,
            location,
            registration: self
                .registration
                .map_or(domain::RegistrationStatus::Accepted, Into::into),
            password,
            site_id,
        })
    }
}

/// Body of `PATCH /chargers/{id}`. Absent fields stay as they are; `null`
/// clears `label`, `location` and `password`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCharger {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub label: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Location>)]
    pub location: Option<Option<Location>>,
    #[serde(default)]
    pub registration: Option<Registration>,
    /// A new password, or `null` to remove it (the charger then connects
    /// without Basic auth).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<String>>,
    /// Move the charger to this site, or `null` to take it off any.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub site_id: Option<Option<String>>,
}

/// A validated patch; `password` is plain until the handler hashes it.
pub struct ValidUpdateCharger {
    pub label: Option<Option<String>>,
    pub location: Option<Option<domain::Location>>,
    pub registration: Option<domain::RegistrationStatus>,
    pub password: Option<Option<String>>,
    pub site_id: Option<Option<SiteId>>,
}

impl UpdateCharger {
    pub fn validate(self) -> Result<ValidUpdateCharger, ApiError> {
        let mut errors = QueryErrors::new();
        let label = self
            .label
            .map(|label| check_label(&mut errors, "label", label));
        let location = self
            .location
            .map(|l| l.and_then(|l| l.into_domain(&mut errors, "location")));
        let password = self.password.map(|p| check_password(&mut errors, p));
        let site_id = self
            .site_id
            .map(|s| errors.opt("site_id", s.as_deref(), SiteId::parse));
        errors.finish()?;
        Ok(ValidUpdateCharger {
            label,
            location,
            registration: self.registration.map(Into::into),
            password,
            site_id,
        })
    }
}

/// Query of `GET /chargers`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Items to skip (default 0); use `next_offset` of the previous page.
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

/// Query of `GET /chargers/{id}/status-history`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusHistoryQuery {
    /// Only this connector (0 = the charger as a whole).
    #[param(value_type = Option<u32>)]
    pub connector: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}
