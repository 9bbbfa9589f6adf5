//! The command port: how the API (or any other part of Joule) asks a charger
//! to do something without knowing which connection task, node or protocol
//! version serves it (DESIGN.md, "Commands to chargers go through a router").

use async_trait::async_trait;

use crate::ids::ChargerId;

/// Operations Joule can ask of a charger. The request body stays in the
/// protocol's own shape (the REST API takes the OCPP request as its body), but
/// the operation is typed, so routing is an exhaustive match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    RemoteStartTransaction,
    RemoteStopTransaction,
    Reset,
    UnlockConnector,
    ChangeAvailability,
    GetConfiguration,
    ChangeConfiguration,
    TriggerMessage,
    ClearCache,
    DataTransfer,
    UpdateFirmware,
    GetDiagnostics,
    GetLocalListVersion,
    SendLocalList,
    ReserveNow,
    CancelReservation,
    SetChargingProfile,
    ClearChargingProfile,
    GetCompositeSchedule,
}

impl CommandKind {
    pub const ALL: [CommandKind; 19] = [
        Self::RemoteStartTransaction,
        Self::RemoteStopTransaction,
        Self::Reset,
        Self::UnlockConnector,
        Self::ChangeAvailability,
        Self::GetConfiguration,
        Self::ChangeConfiguration,
        Self::TriggerMessage,
        Self::ClearCache,
        Self::DataTransfer,
        Self::UpdateFirmware,
        Self::GetDiagnostics,
        Self::GetLocalListVersion,
        Self::SendLocalList,
        Self::ReserveNow,
        Self::CancelReservation,
        Self::SetChargingProfile,
        Self::ClearChargingProfile,
        Self::GetCompositeSchedule,
    ];

    /// The OCPP 1.6 action name, which is also the API path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RemoteStartTransaction => "RemoteStartTransaction",
            Self::RemoteStopTransaction => "RemoteStopTransaction",
            Self::Reset => "Reset",
            Self::UnlockConnector => "UnlockConnector",
            Self::ChangeAvailability => "ChangeAvailability",
            Self::GetConfiguration => "GetConfiguration",
            Self::ChangeConfiguration => "ChangeConfiguration",
            Self::TriggerMessage => "TriggerMessage",
            Self::ClearCache => "ClearCache",
            Self::DataTransfer => "DataTransfer",
            Self::UpdateFirmware => "UpdateFirmware",
            Self::GetDiagnostics => "GetDiagnostics",
            Self::GetLocalListVersion => "GetLocalListVersion",
            Self::SendLocalList => "SendLocalList",
            Self::ReserveNow => "ReserveNow",
            Self::CancelReservation => "CancelReservation",
            Self::SetChargingProfile => "SetChargingProfile",
            Self::ClearChargingProfile => "ClearChargingProfile",
            Self::GetCompositeSchedule => "GetCompositeSchedule",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// A command for one charger.
#[derive(Debug, Clone)]
pub struct ChargerCommand {
    pub kind: CommandKind,
    /// The request payload in the charger's protocol (validated by the
    /// connection adapter against that protocol's schema).
    pub payload: serde_json::Value,
}

/// Why a command did not get an answer from the charger. A charger's own
/// "Rejected" is an *answer* (the payload), not an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("charger {0} is not connected")]
    Offline(ChargerId),
    #[error("charger {0} did not answer in time")]
    Timeout(ChargerId),
    #[error("too many commands are waiting for charger {0}")]
    Busy(ChargerId),
    #[error("the command payload is invalid: {0}")]
    InvalidPayload(String),
    #[error("the charger's protocol does not support {0}")]
    Unsupported(&'static str),
    #[error("the charger answered with an error: {code}: {description}")]
    CallError { code: String, description: String },
    #[error("the charger's answer is invalid: {0}")]
    InvalidResponse(String),
    #[error("the connection closed before the charger answered")]
    ConnectionClosed,
    #[error("command routing failed: {0}")]
    Routing(String),
}

/// Delivers commands to chargers and returns their answers.
#[async_trait]
pub trait CommandRouter: Send + Sync + std::fmt::Debug {
    async fn send(
        &self,
        charger: &ChargerId,
        command: ChargerCommand,
    ) -> Result<serde_json::Value, CommandError>;

    /// Whether a live connection for the charger is known to this router.
    fn is_connected(&self, charger: &ChargerId) -> bool;
}
