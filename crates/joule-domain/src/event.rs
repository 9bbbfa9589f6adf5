//! Domain events: the transactional outbox of DESIGN.md.
//!
//! Every state change is written together with one of these rows in the same
//! database transaction, so consumers (webhooks, OCPI pushes, payments,
//! reports) can follow the log with a durable cursor and never miss or invent
//! a change. Telemetry samples are deliberately *not* events; state changes
//! derived from them are.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{ChargerId, SessionId};

/// What happened. The string form is the stable name consumers match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventKind {
    ChargerCreated,
    ChargerUpdated,
    ChargerDeleted,
    /// An unknown charger connected and was registered as pending.
    ChargerAutoRegistered,
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ConnectorStatusChanged,
    FirmwareStatusChanged,
    DiagnosticsStatusChanged,
    TokenCreated,
    TokenUpdated,
    TokenDeleted,
    SessionStarted,
    SessionEnded,
    /// A StopTransaction for a session that had already ended.
    SessionStopDuplicated,
    /// A StopTransaction for a transaction Joule does not know.
    SessionStopUnmatched,
    ApiKeyCreated,
    TariffCreated,
    /// A tariff was replaced (its version went up).
    TariffUpdated,
    TariffDeleted,
    /// The default tariff was set, changed or cleared.
    TariffDefaultChanged,
    UserGroupCreated,
    UserGroupUpdated,
    UserGroupDeleted,
    /// A charger's access mode or allowed groups changed.
    ChargerAccessChanged,
    /// A token's group memberships changed.
    TokenGroupsChanged,
    /// A charger's own tariff was set, changed or cleared.
    ChargerTariffChanged,
    PaymentCreated,
    /// The gateway's reference of a payment became known.
    PaymentGatewayRefRecorded,
    /// A payment was linked to the session it pays for.
    PaymentSessionLinked,
    /// A gateway step was recorded before its call (see docs/payments.md).
    PaymentStepIntended,
    /// A hold was placed.
    PaymentAuthorized,
    /// An open hold was increased.
    PaymentAuthorizationIncremented,
    /// Money was taken: a capture or an off-session charge.
    PaymentCaptured,
    PaymentVoided,
    PaymentRefunded,
    /// The authorization or off-session charge was declined.
    PaymentFailed,
    /// A later step (capture, void, refund, increment) was refused by the
    /// gateway; the payment is unchanged.
    PaymentStepFailed,
    SiteCreated,
    SiteUpdated,
    SiteDeleted,
    /// A charger moved to a site, to another, or off any.
    ChargerSiteChanged,
    TariffAssignmentCreated,
    TariffAssignmentDeleted,
    AccountCreated,
    AccountUpdated,
    /// A card was saved on an account (brand, last 4, expiry only).
    AccountCardSaved,
    AccountTokenLinked,
    AccountTokenUnlinked,
    /// A session's charge to an account was recorded or changed status
    /// (pending, paid, debt).
    AccountChargeChanged,
    TerminalCreated,
    /// A terminal's name, site, scope, gateway or enabled flag changed.
    TerminalUpdated,
    /// A terminal was given a new key (the old one stops working).
    TerminalKeyRotated,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChargerCreated => "charger.created",
            Self::ChargerUpdated => "charger.updated",
            Self::ChargerDeleted => "charger.deleted",
            Self::ChargerAutoRegistered => "charger.auto_registered",
            Self::ChargerBooted => "charger.booted",
            Self::ChargerConnected => "charger.connected",
            Self::ChargerDisconnected => "charger.disconnected",
            Self::ConnectorStatusChanged => "connector.status_changed",
            Self::FirmwareStatusChanged => "charger.firmware_status_changed",
            Self::DiagnosticsStatusChanged => "charger.diagnostics_status_changed",
            Self::TokenCreated => "token.created",
            Self::TokenUpdated => "token.updated",
            Self::TokenDeleted => "token.deleted",
            Self::SessionStarted => "session.started",
            Self::SessionEnded => "session.ended",
            Self::SessionStopDuplicated => "session.stop_duplicated",
            Self::SessionStopUnmatched => "session.stop_unmatched",
            Self::ApiKeyCreated => "api_key.created",
            Self::TariffCreated => "tariff.created",
            Self::TariffUpdated => "tariff.updated",
            Self::TariffDeleted => "tariff.deleted",
            Self::TariffDefaultChanged => "tariff.default_changed",
            Self::UserGroupCreated => "user_group.created",
            Self::UserGroupUpdated => "user_group.updated",
            Self::UserGroupDeleted => "user_group.deleted",
            Self::ChargerAccessChanged => "charger.access_changed",
            Self::TokenGroupsChanged => "token.groups_changed",
            Self::ChargerTariffChanged => "charger.tariff_changed",
            Self::PaymentCreated => "payment.created",
            Self::PaymentGatewayRefRecorded => "payment.gateway_ref_recorded",
            Self::PaymentSessionLinked => "payment.session_linked",
            Self::PaymentStepIntended => "payment.step_intended",
            Self::PaymentAuthorized => "payment.authorized",
            Self::PaymentAuthorizationIncremented => "payment.authorization_incremented",
            Self::PaymentCaptured => "payment.captured",
            Self::PaymentVoided => "payment.voided",
            Self::PaymentRefunded => "payment.refunded",
            Self::PaymentFailed => "payment.failed",
            Self::PaymentStepFailed => "payment.step_failed",
            Self::SiteCreated => "site.created",
            Self::SiteUpdated => "site.updated",
            Self::SiteDeleted => "site.deleted",
            Self::ChargerSiteChanged => "charger.site_changed",
            Self::TariffAssignmentCreated => "tariff_assignment.created",
            Self::TariffAssignmentDeleted => "tariff_assignment.deleted",
            Self::AccountCreated => "account.created",
            Self::AccountUpdated => "account.updated",
            Self::AccountCardSaved => "account.card_saved",
            Self::AccountTokenLinked => "account.token_linked",
            Self::AccountTokenUnlinked => "account.token_unlinked",
            Self::AccountChargeChanged => "account.charge_changed",
            Self::TerminalCreated => "terminal.created",
            Self::TerminalUpdated => "terminal.updated",
            Self::TerminalKeyRotated => "terminal.key_rotated",
        }
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
    pub kind: String,
    pub charger_id: Option<String>,
    pub session_id: Option<String>,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}
