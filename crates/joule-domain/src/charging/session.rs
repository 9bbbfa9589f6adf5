//! Charging sessions: what a charger started and stopped, and what it
//! metered in between.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::charging::auth::AuthorizationStatus;
use crate::charging::meter::{MeterSample, MeterSummary};
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken, SessionId, TransactionId};

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
    pub id_tag: IdToken,
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
    pub stop_id_tag: Option<IdToken>,
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
    pub id_tag: IdToken,
    pub meter_start_wh: i64,
    pub started_at: DateTime<Utc>,
    pub reservation_id: Option<i64>,
    pub authorization: AuthorizationStatus,
    pub received_at: DateTime<Utc>,
    /// The tariff the precedence rule chose
    /// ([`crate::pricing::assignment::resolve_tariff`]); the store records its
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
    pub id_tag: Option<IdToken>,
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
    pub id_tag: Option<IdToken>,
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
    pub value: crate::charging::meter::SampledValue,
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

/// Which columns make two starts the same start: a charger that resends a
/// StartTransaction after a lost reply sends the same charger, connector, id
/// tag (compared case-folded), meter start and timestamp. The stores keep
/// one session per identity (a unique index on these columns) and answer a
/// resend with the session already recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartIdentity {
    pub charger_id: ChargerId,
    pub connector_id: ConnectorId,
    /// [`IdToken::key`]: the case-folded id tag.
    pub id_tag_key: String,
    pub started_at: DateTime<Utc>,
    pub meter_start_wh: i64,
}

impl StartIdentity {
    pub fn of(start: &StartSession) -> Self {
        Self {
            charger_id: start.charger_id.clone(),
            connector_id: start.connector_id,
            id_tag_key: start.id_tag.key(),
            started_at: start.started_at,
            meter_start_wh: start.meter_start_wh,
        }
    }

    /// Whether `session` was recorded from a start with this identity.
    pub fn matches(&self, session: &Session) -> bool {
        session.charger_id == self.charger_id
            && session.connector_id == self.connector_id
            && session.id_tag.key() == self.id_tag_key
            && session.started_at == self.started_at
            && session.meter_start_wh == self.meter_start_wh
    }
}

/// What recording a StopTransaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopDecision {
    /// No session of this transaction on this charger: nothing changes; an
    /// anomaly event (`session.stop_unmatched`) is written.
    Unmatched,
    /// The session was already stopped (a resend after a lost reply): the
    /// first stop stands; a `session.stop_duplicated` event is written.
    Duplicate,
    /// The session ends: its transaction data become samples, its running
    /// figures follow them, and `session.ended` is written.
    Stop,
}

/// The rule both stores apply to a stop. `existing` is the session with the
/// stop's transaction id, whichever charger it belongs to: a transaction id
/// another charger uses is not this charger's session.
pub fn stop_decision(existing: Option<&Session>, stop: &StopSession) -> StopDecision {
    match existing {
        Some(s) if s.charger_id != stop.charger_id => StopDecision::Unmatched,
        None => StopDecision::Unmatched,
        Some(s) if s.state == SessionState::Ended => StopDecision::Duplicate,
        Some(_) => StopDecision::Stop,
    }
}

/// The session the domain's tests start from: transaction 1 on connector 1
/// of charger `CP1` for token `TAG`, started at `started_at` with the
/// register at 1000 Wh, still active and without a tariff.
#[cfg(test)]
pub(crate) fn test_session(started_at: DateTime<Utc>) -> Session {
    Session {
        id: SessionId::new_v7(),
        transaction_id: TransactionId::new(1).unwrap_or_else(|_| unreachable!()),
        charger_id: ChargerId::parse("CP1").unwrap_or_else(|_| unreachable!()),
        connector_id: ConnectorId::new(1).unwrap_or_else(|_| unreachable!()),
        id_tag: IdToken::parse("TAG").unwrap_or_else(|_| unreachable!()),
        start_authorization: AuthorizationStatus::Accepted,
        state: SessionState::Active,
        reservation_id: None,
        started_at,
        meter_start_wh: 1000,
        stopped_at: None,
        meter_stop_wh: None,
        stop_reason: None,
        stop_id_tag: None,
        last_meter_at: None,
        last_meter_wh: None,
        peak_power_w: None,
        tariff: None,
        created_at: started_at,
        updated_at: started_at,
    }
}

/// [`test_session`] ended at `at` with the register at `meter_stop_wh`.
#[cfg(test)]
pub(crate) fn ended(mut session: Session, at: DateTime<Utc>, meter_stop_wh: i64) -> Session {
    session.state = SessionState::Ended;
    session.stopped_at = Some(at);
    session.meter_stop_wh = Some(meter_stop_wh);
    session
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn session() -> Session {
        test_session(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
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

    fn stop(charger: &str) -> StopSession {
        StopSession {
            charger_id: ChargerId::parse(charger).unwrap(),
            transaction_id: TransactionId::new(1).unwrap(),
            id_tag: None,
            meter_stop_wh: 2000,
            stopped_at: Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap(),
            reason: None,
            transaction_data: Vec::new(),
            received_at: Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_stop_ends_an_active_session_of_its_charger() {
        assert_eq!(
            stop_decision(Some(&session()), &stop("CP1")),
            StopDecision::Stop
        );
    }

    #[test]
    fn a_stop_of_an_ended_session_is_a_duplicate() {
        let mut s = session();
        s.state = SessionState::Ended;
        assert_eq!(
            stop_decision(Some(&s), &stop("CP1")),
            StopDecision::Duplicate
        );
    }

    #[test]
    fn an_unknown_transaction_or_another_chargers_is_unmatched() {
        assert_eq!(stop_decision(None, &stop("CP1")), StopDecision::Unmatched);
        let mut s = session();
        s.state = SessionState::Ended;
        assert_eq!(
            stop_decision(Some(&s), &stop("CP2")),
            StopDecision::Unmatched
        );
    }

    fn start() -> StartSession {
        let s = session();
        StartSession {
            charger_id: s.charger_id,
            connector_id: s.connector_id,
            id_tag: IdToken::parse("tag").unwrap(),
            meter_start_wh: s.meter_start_wh,
            started_at: s.started_at,
            reservation_id: None,
            authorization: AuthorizationStatus::Accepted,
            received_at: s.started_at,
            tariff_id: None,
        }
    }

    #[test]
    fn a_resent_start_is_the_same_start_whatever_the_tag_case() {
        let identity = StartIdentity::of(&start());
        assert_eq!(identity.id_tag_key, "TAG");
        assert!(identity.matches(&session()));
    }

    #[test]
    fn another_meter_start_connector_or_time_is_another_start() {
        let s = session();
        let mut other = start();
        other.meter_start_wh += 1;
        assert!(!StartIdentity::of(&other).matches(&s));
        let mut other = start();
        other.connector_id = ConnectorId::new(2).unwrap();
        assert!(!StartIdentity::of(&other).matches(&s));
        let mut other = start();
        other.started_at += chrono::Duration::seconds(1);
        assert!(!StartIdentity::of(&other).matches(&s));
        let mut other = start();
        other.id_tag = IdToken::parse("OTHER").unwrap();
        assert!(!StartIdentity::of(&other).matches(&s));
    }
}
