//! Charging session resources.

use chrono::{DateTime, Utc};
use joule_domain::auth::AuthorizationStatus as DomainAuthorization;
use joule_domain::page::Page;
use joule_domain::session as domain;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Started and not yet stopped (see `charger_connected` for orphans).
    Active,
    /// Stopped by the charger.
    Ended,
}

impl From<domain::SessionState> for SessionState {
    fn from(s: domain::SessionState) -> Self {
        match s {
            domain::SessionState::Active => Self::Active,
            domain::SessionState::Ended => Self::Ended,
        }
    }
}

/// The authorization given when the session started (OCPP names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum AuthorizationStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
    ConcurrentTx,
}

impl From<DomainAuthorization> for AuthorizationStatus {
    fn from(s: DomainAuthorization) -> Self {
        match s {
            DomainAuthorization::Accepted => Self::Accepted,
            DomainAuthorization::Blocked => Self::Blocked,
            DomainAuthorization::Expired => Self::Expired,
            DomainAuthorization::Invalid => Self::Invalid,
            DomainAuthorization::ConcurrentTx => Self::ConcurrentTx,
        }
    }
}

/// A charging session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Session {
    /// Joule's session id (UUIDv7).
    pub id: String,
    /// The OCPP transaction id the charger quotes.
    pub transaction_id: i64,
    pub charger_id: String,
    pub connector_id: u32,
    pub id_tag: String,
    /// A charger may start offline with a token Joule refused; the session
    /// exists all the same.
    pub start_authorization: AuthorizationStatus,
    pub state: SessionState,
    /// Whether the charger is connected now. An `active` session whose
    /// charger is not connected is orphaned: it is never closed silently.
    pub charger_connected: bool,
    pub reservation_id: Option<i64>,
    /// Charger clock.
    pub started_at: DateTime<Utc>,
    pub meter_start_wh: i64,
    pub stopped_at: Option<DateTime<Utc>>,
    pub meter_stop_wh: Option<i64>,
    pub stop_reason: Option<String>,
    pub stop_id_tag: Option<String>,
    /// Energy delivered so far (active) or in total (ended).
    pub energy_wh: i64,
    pub peak_power_w: Option<i64>,
    pub last_meter_at: Option<DateTime<Utc>>,
    pub last_meter_wh: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Session {
    pub fn from_domain(s: domain::Session, charger_connected: bool) -> Self {
        Self {
            energy_wh: s.energy_wh(),
            id: s.id.to_string(),
            transaction_id: s.transaction_id.get(),
            charger_id: s.charger_id.to_string(),
            connector_id: s.connector_id.get(),
            id_tag: s.id_tag.to_string(),
            start_authorization: s.start_authorization.into(),
            state: s.state.into(),
            charger_connected,
            reservation_id: s.reservation_id,
            started_at: s.started_at,
            meter_start_wh: s.meter_start_wh,
            stopped_at: s.stopped_at,
            meter_stop_wh: s.meter_stop_wh,
            stop_reason: s.stop_reason,
            stop_id_tag: s.stop_id_tag.map(|t| t.to_string()),
            peak_power_w: s.peak_power_w,
            last_meter_at: s.last_meter_at,
            last_meter_wh: s.last_meter_wh,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// One sampled value of a session, verbatim as the charger sent it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeterValue {
    /// Charger clock.
    pub timestamp: DateTime<Utc>,
    pub connector_id: u32,
    pub transaction_id: Option<i64>,
    /// The value as sent (a number as text, or signed data).
    pub value: String,
    pub context: Option<String>,
    pub format: Option<String>,
    /// Absent means `Energy.Active.Import.Register`.
    pub measurand: Option<String>,
    pub phase: Option<String>,
    pub location: Option<String>,
    pub unit: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl From<domain::StoredMeterValue> for MeterValue {
    fn from(m: domain::StoredMeterValue) -> Self {
        Self {
            timestamp: m.timestamp,
            connector_id: m.connector_id.get(),
            transaction_id: m.transaction_id.map(|t| t.get()),
            value: m.value.value,
            context: m.value.context,
            format: m.value.format,
            measurand: m.value.measurand,
            phase: m.value.phase,
            location: m.value.location,
            unit: m.value.unit,
            received_at: m.received_at,
        }
    }
}

/// A session with its meter values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: Session,
    /// In charger-time order.
    pub meter_values: Vec<MeterValue>,
}

/// Query of `GET /sessions`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    pub charger_id: Option<String>,
    pub id_tag: Option<String>,
    #[param(value_type = Option<SessionState>)]
    pub state: Option<String>,
    /// Sessions that started at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// Sessions that started before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

impl SessionQuery {
    pub fn parse(self) -> Result<(domain::SessionFilter, Page), ApiError> {
        let mut errors = QueryErrors::new();
        let charger_id = errors.charger_id("charger_id", self.charger_id.as_deref());
        let id_tag = errors.id_tag("id_tag", self.id_tag.as_deref());
        let state = errors.opt("state", self.state.as_deref(), |raw| {
            domain::SessionState::parse(raw).ok_or("must be active or ended")
        });
        let started_from = errors.time("from", self.from.as_deref());
        let started_to = errors.time("to", self.to.as_deref());
        if let (Some(from), Some(to)) = (started_from, started_to) {
            if from > to {
                errors.push("to", "must not be before from");
            }
        }
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok((
            domain::SessionFilter {
                charger_id,
                id_tag,
                state,
                started_from,
                started_to,
            },
            page,
        ))
    }
}
