//! Charging sessions: what a charger started and stopped, and what it
//! metered in between.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::AuthorizationStatus;
use crate::ids::{ChargerId, ConnectorId, IdTag, SessionId, TransactionId};
use crate::meter::{MeterSample, MeterSummary};

/// Where a session stands. Later issues add the money states of DESIGN.md
/// (priced, settled); a session here is either running or over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Started and not yet stopped. Whether the charger is still connected is
    /// shown beside it: a session whose charger went away stays `active` (it
    /// is never silently closed) and is flagged as orphaned in views.
    Active,
    /// Stopped by the charger.
    Ended,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Ended => "ended",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "ended" => Some(Self::Ended),
            _ => None,
        }
    }
}

/// A charging session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub id: SessionId,
    pub transaction_id: TransactionId,
    pub charger_id: ChargerId,
    pub connector_id: ConnectorId,
    pub id_tag: IdTag,
    /// The authorization status given at start; a charger may start with a
    /// token we refused (offline start), and the session still exists.
    pub start_authorization: AuthorizationStatus,
    pub state: SessionState,
    pub reservation_id: Option<i64>,
    /// Charger clock.
    pub started_at: DateTime<Utc>,
    pub meter_start_wh: i64,
    pub stopped_at: Option<DateTime<Utc>>,
    pub meter_stop_wh: Option<i64>,
    pub stop_reason: Option<String>,
    pub stop_id_tag: Option<IdTag>,
    /// Latest energy register seen (charger time and value).
    pub last_meter_at: Option<DateTime<Utc>>,
    pub last_meter_wh: Option<i64>,
    pub peak_power_w: Option<i64>,
    /// The tariff version in force when the session started (NEVI: its
    /// price never changes for this session); `None` when no tariff applied.
    pub tariff: Option<SessionTariff>,
    /// Server clock.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A reference to one immutable tariff version: what a session is priced
/// with, whatever happens to the tariff afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTariff {
    pub tariff_id: String,
    pub version: i64,
}

impl Session {
    /// Energy delivered so far (running) or in total (ended), in Wh.
    ///
    /// From the energy register only: `meterStop - meterStart` once ended,
    /// else the latest register minus `meterStart`. Never negative: a meter
    /// that was replaced or reset mid-session reports 0 rather than a credit.
    pub fn energy_wh(&self) -> i64 {
        let end = match self.state {
            SessionState::Ended => self.meter_stop_wh.or(self.last_meter_wh),
            SessionState::Active => self.last_meter_wh,
        };
        end.map_or(0, |end| (end - self.meter_start_wh).max(0))
    }
}

/// A charger's StartTransaction, in domain terms.
#[derive(Debug, Clone)]
pub struct StartSession {
    pub charger_id: ChargerId,
    pub connector_id: ConnectorId,
    pub id_tag: IdTag,
    pub meter_start_wh: i64,
    pub started_at: DateTime<Utc>,
    pub reservation_id: Option<i64>,
    pub authorization: AuthorizationStatus,
    pub received_at: DateTime<Utc>,
    /// The tariff the precedence rule chose
    /// ([`crate::tariff_assignment::resolve_tariff`]); the store records its
    /// current version with the session, or none if it was deleted since.
    pub tariff_id: Option<String>,
}

/// The result of recording a start.
#[derive(Debug, Clone)]
pub struct StartOutcome {
    pub session: Session,
    /// `false` when this start was a resend of one already recorded (same
    /// charger, connector, id tag, meter start and timestamp): the charger
    /// gets the same transaction id, and no second session exists.
    pub created: bool,
}

/// A charger's StopTransaction, in domain terms.
#[derive(Debug, Clone)]
pub struct StopSession {
    pub charger_id: ChargerId,
    pub transaction_id: TransactionId,
    pub id_tag: Option<IdTag>,
    pub meter_stop_wh: i64,
    pub stopped_at: DateTime<Utc>,
    pub reason: Option<String>,
    /// `transactionData`: kept like any MeterValues of the session.
    pub transaction_data: Vec<MeterSample>,
    pub received_at: DateTime<Utc>,
}

/// The result of recording a stop. Every variant is answered normally, so a
/// charger never retries a stop forever.
#[derive(Debug, Clone)]
pub enum StopOutcome {
    Stopped(Session),
    /// The session had been stopped before (a resend after a lost reply): the
    /// first stop stands and this one is recorded as a duplicate event.
    AlreadyStopped(Session),
    /// No such transaction on this charger: recorded as an anomaly event.
    UnknownTransaction,
}

/// Filters for listing sessions.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub charger_id: Option<ChargerId>,
    pub id_tag: Option<IdTag>,
    pub state: Option<SessionState>,
    /// Sessions that started at or after this instant.
    pub started_from: Option<DateTime<Utc>>,
    /// Sessions that started before this instant.
    pub started_to: Option<DateTime<Utc>>,
}

/// A stored sampled value with its context, for session detail views.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMeterValue {
    pub timestamp: DateTime<Utc>,
    pub connector_id: ConnectorId,
    pub transaction_id: Option<TransactionId>,
    pub value: crate::meter::SampledValue,
    pub received_at: DateTime<Utc>,
}

/// Helper for stores: the running figures after new samples arrive.
pub fn apply_meter_summary(session: &mut Session, summary: MeterSummary) {
    let current = MeterSummary {
        latest_register: session.last_meter_at.zip(session.last_meter_wh),
        peak_power_w: session.peak_power_w,
    };
    let merged = current.merge(summary);
    if let Some((at, wh)) = merged.latest_register {
        session.last_meter_at = Some(at);
        session.last_meter_wh = Some(wh);
    }
    session.peak_power_w = merged.peak_power_w;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn session() -> Session {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Session {
            id: SessionId::new_v7(),
            transaction_id: TransactionId::new(1).unwrap(),
            charger_id: ChargerId::parse("CP1").unwrap(),
            connector_id: ConnectorId::new(1).unwrap(),
            id_tag: IdTag::parse("TAG").unwrap(),
            start_authorization: AuthorizationStatus::Accepted,
            state: SessionState::Active,
            reservation_id: None,
            started_at: t,
            meter_start_wh: 1000,
            stopped_at: None,
            meter_stop_wh: None,
            stop_reason: None,
            stop_id_tag: None,
            last_meter_at: None,
            last_meter_wh: None,
            peak_power_w: None,
            tariff: None,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn energy_is_register_difference() {
        let mut s = session();
        assert_eq!(s.energy_wh(), 0);
        s.last_meter_wh = Some(3500);
        assert_eq!(s.energy_wh(), 2500);
        s.state = SessionState::Ended;
        s.meter_stop_wh = Some(4000);
        assert_eq!(s.energy_wh(), 3000);
    }

    #[test]
    fn meter_reset_never_gives_negative_energy() {
        let mut s = session();
        s.state = SessionState::Ended;
        s.meter_stop_wh = Some(10);
        assert_eq!(s.energy_wh(), 0);
    }
}
