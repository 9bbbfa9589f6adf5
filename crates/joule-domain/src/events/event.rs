//! Domain events: the transactional outbox of DESIGN.md.
//!
//! Every state change is written together with one of these rows in the same
//! database transaction, so consumers (webhooks, OCPI pushes, payments,
//! reports) can follow the log with a durable cursor and never miss or invent
//! a change. Telemetry samples are deliberately *not* events; state changes
//! derived from them are.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::kernel::ids::{ChargerId, SessionId};

/// Declares [`EventKind`] with the text each kind is stored as, so the
/// variant, its text and [`EventKind::ALL`] are written in one place.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $kind:ident => $text:literal,)+) => {
        /// What happened. Stored as its text ([`EventKind::as_str`]), which
        /// never changes once written; consumers match on the variant,
        /// never on the text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($(#[$doc])* $kind,)+
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(Self::$kind,)+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$kind => $text,)+
                }
            }
        }
    };
}

event_kinds! {
    ChargerCreated => "charger.created",
    ChargerUpdated => "charger.updated",
    ChargerDeleted => "charger.deleted",
    /// An unknown charger connected and was registered as pending.
    ChargerAutoRegistered => "charger.auto_registered",
    ChargerBooted => "charger.booted",
    ChargerConnected => "charger.connected",
    ChargerDisconnected => "charger.disconnected",
    ConnectorStatusChanged => "connector.status_changed",
    FirmwareStatusChanged => "charger.firmware_status_changed",
    DiagnosticsStatusChanged => "charger.diagnostics_status_changed",
    TokenCreated => "token.created",
    TokenUpdated => "token.updated",
    TokenDeleted => "token.deleted",
    SessionStarted => "session.started",
    SessionEnded => "session.ended",
    /// A StopTransaction for a session that had already ended.
    SessionStopDuplicated => "session.stop_duplicated",
    /// A StopTransaction for a transaction Joule does not know.
    SessionStopUnmatched => "session.stop_unmatched",
    ApiKeyCreated => "api_key.created",
    TariffCreated => "tariff.created",
    /// A tariff was replaced (its version went up).
    TariffUpdated => "tariff.updated",
    TariffDeleted => "tariff.deleted",
    /// The default tariff was set, changed or cleared.
    TariffDefaultChanged => "tariff.default_changed",
    UserGroupCreated => "user_group.created",
    UserGroupUpdated => "user_group.updated",
    UserGroupDeleted => "user_group.deleted",
    /// A charger's access mode or allowed groups changed.
    ChargerAccessChanged => "charger.access_changed",
    /// A token's group memberships changed.
    TokenGroupsChanged => "token.groups_changed",
    /// A charger's own tariff was set, changed or cleared.
    ChargerTariffChanged => "charger.tariff_changed",
    PaymentCreated => "payment.created",
    /// The gateway's reference of a payment became known.
    PaymentGatewayRefRecorded => "payment.gateway_ref_recorded",
    /// A payment was linked to the session it pays for.
    PaymentSessionLinked => "payment.session_linked",
    /// A gateway step was recorded before its call (see docs/payments.md).
    PaymentStepIntended => "payment.step_intended",
    /// A hold was placed.
    PaymentAuthorized => "payment.authorized",
    /// An open hold was increased.
    PaymentAuthorizationIncremented => "payment.authorization_incremented",
    /// Money was taken: a capture or an off-session charge.
    PaymentCaptured => "payment.captured",
    PaymentVoided => "payment.voided",
    PaymentRefunded => "payment.refunded",
    /// The authorization or off-session charge was declined.
    PaymentFailed => "payment.failed",
    /// A later step (capture, void, refund, increment) was refused by the
    /// gateway; the payment is unchanged.
    PaymentStepFailed => "payment.step_failed",
    SiteCreated => "site.created",
    SiteUpdated => "site.updated",
    SiteDeleted => "site.deleted",
    /// A charger moved to a site, to another, or off any.
    ChargerSiteChanged => "charger.site_changed",
    TariffAssignmentCreated => "tariff_assignment.created",
    TariffAssignmentDeleted => "tariff_assignment.deleted",
    AccountCreated => "account.created",
    AccountUpdated => "account.updated",
    /// A card was saved on an account (brand, last 4, expiry only).
    AccountCardSaved => "account.card_saved",
    AccountTokenLinked => "account.token_linked",
    AccountTokenUnlinked => "account.token_unlinked",
    /// A session's charge to an account was recorded or changed status
    /// (pending, paid, debt).
    AccountChargeChanged => "account.charge_changed",
    TerminalCreated => "terminal.created",
    /// A terminal's name, site, scope, gateway or enabled flag changed.
    TerminalUpdated => "terminal.updated",
    /// A terminal was given a new key (the old one stops working).
    TerminalKeyRotated => "terminal.key_rotated",
}

impl EventKind {
    /// The kind a stored text names; `None` for a text this version of
    /// Joule does not know (written by a newer one).
    pub fn parse(text: &str) -> Option<EventKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == text)
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The kind of an event read back from the outbox. A text this version
/// does not know (a newer node wrote it during a rolling upgrade) is kept
/// as [`StoredKind::Unknown`] rather than failing the read: no consumer
/// wants it, so the runner passes it and every cursor moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredKind {
    Known(EventKind),
    Unknown(String),
}

impl StoredKind {
    /// Reads the text stored in the outbox row.
    pub fn from_stored(text: String) -> Self {
        match EventKind::parse(&text) {
            Some(kind) => Self::Known(kind),
            None => Self::Unknown(text),
        }
    }

    /// The kind, when this version knows it.
    pub fn known(&self) -> Option<EventKind> {
        match self {
            Self::Known(kind) => Some(*kind),
            Self::Unknown(_) => None,
        }
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(kind) => kind.as_str(),
            Self::Unknown(text) => text,
        }
    }
}

impl From<EventKind> for StoredKind {
    fn from(kind: EventKind) -> Self {
        Self::Known(kind)
    }
}

impl PartialEq<EventKind> for StoredKind {
    fn eq(&self, other: &EventKind) -> bool {
        self.known() == Some(*other)
    }
}

impl std::fmt::Display for StoredKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StoredKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An event to be written with the state change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub charger_id: Option<ChargerId>,
    pub session_id: Option<SessionId>,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

impl NewEvent {
    pub fn new(kind: EventKind, occurred_at: DateTime<Utc>) -> Self {
        Self {
            kind,
            charger_id: None,
            session_id: None,
            payload: serde_json::Value::Null,
            occurred_at,
        }
    }

    pub fn charger(mut self, id: &ChargerId) -> Self {
        self.charger_id = Some(id.clone());
        self
    }

    pub fn session(mut self, id: SessionId) -> Self {
        self.session_id = Some(id);
        self
    }

    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}

/// An event as read back from the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Monotonic position in the log; consumers keep the last one they
    /// processed as their cursor.
    pub id: i64,
    pub kind: StoredKind,
    pub charger_id: Option<String>,
    pub session_id: Option<String>,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_text() {
        for &kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                StoredKind::from_stored(kind.as_str().to_owned()),
                StoredKind::Known(kind)
            );
        }
    }

    #[test]
    fn texts_are_unique() {
        let texts: std::collections::HashSet<_> =
            EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(texts.len(), EventKind::ALL.len());
    }

    #[test]
    fn an_unknown_text_is_kept_not_refused() {
        let kind = StoredKind::from_stored("charger.teleported".to_owned());
        assert_eq!(kind, StoredKind::Unknown("charger.teleported".to_owned()));
        assert_eq!(kind.known(), None);
        assert_eq!(kind.as_str(), "charger.teleported");
        assert_eq!(
            serde_json::to_value(&kind).ok(),
            Some(serde_json::json!("charger.teleported"))
        );
    }

    #[test]
    fn kinds_serialize_as_their_stored_text() {
        assert_eq!(
            serde_json::to_value(EventKind::PaymentCaptured).ok(),
            Some(serde_json::json!("payment.captured"))
        );
    }
}
