//! The command port: how the API (or any other part of Joule) asks a charger
//! to do something without knowing which connection task, node or protocol
//! version serves it (DESIGN.md, "Commands to chargers go through a router").
//! The commands and answers are protocol-neutral: each protocol adapter
//! translates them to its own calls (ADR-0010), so a second OCPP version
//! implements this port without the domain changing.

use async_trait::async_trait;

use crate::charging::token::IdTokenType;
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken, TransactionId};

/// What Joule can ask of a charger.
#[derive(Debug, Clone, PartialEq)]
pub enum ChargerCommand {
    /// Start charging on `connector` for `id_tag` (the charger then
    /// authorizes and starts a session as if the tag had been presented).
    /// `token_type` travels with it because OCPP 2.0.1 sends the two
    /// together; a 1.6 charger gets the tag alone.
    StartCharging {
        connector: ConnectorId,
        id_tag: IdToken,
        token_type: IdTokenType,
    },
    StopCharging {
        transaction: TransactionId,
    },
    /// Restart the charger: `hard` cuts power, a soft reset ends sessions
    /// first.
    Reset {
        hard: bool,
    },
    Unlock {
        connector: ConnectorId,
    },
    /// `connector` 0 ([`ConnectorId::WHOLE_CHARGER`]) is the whole charger.
    SetAvailability {
        connector: ConnectorId,
        operative: bool,
    },
    /// Read configuration keys; empty asks for all of them.
    ReadConfiguration {
        keys: Vec<String>,
    },
    WriteConfiguration {
        key: String,
        value: String,
    },
    /// Ask the charger to send one of its own messages now.
    TriggerMessage {
        message: TriggeredMessage,
        connector: Option<ConnectorId>,
    },
    /// Clear the charger's cache of authorized tokens.
    ClearCache,
    /// A vendor-specific exchange.
    VendorData {
        vendor: String,
        message_id: Option<String>,
        data: Option<String>,
    },
    /// The operator passthrough (ADR-0001): an action and request payload in
    /// the charger's own protocol, answered with the charger's own payload.
    /// The adapter validates it against that protocol's schema.
    Raw {
        action: String,
        payload: serde_json::Value,
    },
}

/// The message a [`ChargerCommand::TriggerMessage`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggeredMessage {
    Boot,
    Heartbeat,
    MeterValues,
    Status,
    FirmwareStatus,
    DiagnosticsStatus,
}

/// A charger's answer to a command. A charger's refusal is an answer, not a
/// [`CommandError`].
#[derive(Debug, Clone, PartialEq)]
pub enum CommandReply {
    /// The charger does, or will do, what was asked.
    Accepted,
    /// The charger refused (or cannot do it).
    Rejected,
    /// An answer that carries data: the charger's own payload for
    /// [`ChargerCommand::Raw`], the data returned for
    /// [`ChargerCommand::VendorData`] (a string).
    Data(serde_json::Value),
    /// The answer to [`ChargerCommand::ReadConfiguration`].
    Configuration {
        /// The settings the charger knows, in its order.
        settings: Vec<ConfigurationSetting>,
        /// Keys asked for that the charger does not know.
        unknown: Vec<String>,
    },
}

/// One configuration setting as a charger reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigurationSetting {
    pub key: String,
    /// `None` when the charger did not say (a key it will not reveal).
    pub value: Option<String>,
    /// The charger refuses to change it.
    pub readonly: bool,
}

/// Why a command did not get an answer from the charger. A charger's own
/// "Rejected" is an *answer* ([`CommandReply::Rejected`]), not an error.
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
    /// The command carries an id token longer than the charger's protocol
    /// can hold (an OCPP 1.6 `idTag` has at most 20 characters); refused
    /// before sending, since a charger would reject or truncate it.
    #[error("this token cannot be sent to an {protocol} charger: longer than {max} characters")]
    TokenTooLong { protocol: &'static str, max: usize },
    #[error("the charger's protocol does not support {0}")]
    Unsupported(String),
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
    ) -> Result<CommandReply, CommandError>;

    /// Whether a live connection for the charger is known to this router.
    fn is_connected(&self, charger: &ChargerId) -> bool;
}
