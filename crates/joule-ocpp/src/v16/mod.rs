//! OCPP 1.6 (JSON) messages: one typed request and response per action,
//! organised by feature profile, plus routing enums for each direction.
//!
//! - [`Action16`] names every action of the six 1.6 feature profiles.
//! - [`ChargePointCall`] is what a charger may send us;
//!   [`decode_charge_point_call`] schema-validates then deserialises it.
//! - [`CentralSystemCall`] is what the CSMS sends a charger;
//!   [`decode_central_system_call`] is its mirror (used by the simulator).
//! - [`OcppRequest`] ties each request type to its action and response type,
//!   so a command path can be written once: `R::ACTION`, `R::Response`.
//!
//! The security-whitepaper extensions (SignedUpdateFirmware, ...) are not
//! covered yet: they are unknown actions here (`NotImplemented`).

pub mod core;
pub mod firmware;
pub mod local_auth_list;
pub mod remote_trigger;
pub mod reservation;
pub mod smart_charging;
pub mod types;

mod decode;

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::payload::PayloadKind;
use crate::rpc::ActionName;

pub use self::core::*;
pub use self::decode::{
    decode_central_system_call, decode_charge_point_call, decode_response, decode_response_to,
};
pub use self::firmware::*;
pub use self::local_auth_list::*;
pub use self::remote_trigger::*;
pub use self::reservation::*;
pub use self::smart_charging::*;
pub use self::types::*;

/// Who starts an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    ChargePoint,
    CentralSystem,
    /// DataTransfer may be sent either way.
    Both,
}

impl Initiator {
    /// A charge point may send this action as a CALL.
    pub fn charge_point_may_send(self) -> bool {
        matches!(self, Initiator::ChargePoint | Initiator::Both)
    }

    /// The central system may send this action as a CALL.
    pub fn central_system_may_send(self) -> bool {
        matches!(self, Initiator::CentralSystem | Initiator::Both)
    }
}

/// A request type of OCPP 1.6, with its action and response type.
pub trait OcppRequest: Serialize + DeserializeOwned {
    /// The action this request is sent as.
    const ACTION: Action16;
    /// The CALLRESULT payload type answering this request.
    type Response: Serialize + DeserializeOwned;
}

macro_rules! actions16 {
    ($( $name:ident : $initiator:ident, $request:ident, $response:ident; )*) => {
        /// Every OCPP 1.6 action (Core, Firmware Management, Local Auth List
        /// Management, Reservation, Smart Charging, Remote Trigger).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action16 {
            $( $name, )*
        }

        impl Action16 {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action16] = &[ $( Action16::$name, )* ];

            /// The action name as on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Action16::$name => stringify!($name), )*
                }
            }

            /// Who may send this action as a CALL.
            pub fn initiator(self) -> Initiator {
                match self {
                    $( Action16::$name => Initiator::$initiator, )*
                }
            }

            /// The embedded official JSON schema of this action's payload.
            pub fn schema_text(self, kind: PayloadKind) -> &'static str {
                match (self, kind) {
                    $(
                        (Action16::$name, PayloadKind::Request) => include_str!(
                            concat!("../../schemas/v16/", stringify!($name), ".json")
                        ),
                        (Action16::$name, PayloadKind::Response) => include_str!(
                            concat!("../../schemas/v16/", stringify!($name), "Response.json")
                        ),
                    )*
                }
            }
        }

        impl FromStr for Action16 {
            type Err = UnknownAction;

            fn from_str(text: &str) -> Result<Self, UnknownAction> {
                match text {
                    $( stringify!($name) => Ok(Action16::$name), )*
                    _ => Err(UnknownAction(text.to_owned())),
                }
            }
        }

        $(
            impl OcppRequest for $request {
                const ACTION: Action16 = Action16::$name;
                type Response = $response;
            }
        )*
    };
}

actions16! {
    // Core
    Authorize: ChargePoint, AuthorizeRequest, AuthorizeResponse;
    BootNotification: ChargePoint, BootNotificationRequest, BootNotificationResponse;
    ChangeAvailability: CentralSystem, ChangeAvailabilityRequest, ChangeAvailabilityResponse;
    ChangeConfiguration: CentralSystem, ChangeConfigurationRequest, ChangeConfigurationResponse;
    ClearCache: CentralSystem, ClearCacheRequest, ClearCacheResponse;
    DataTransfer: Both, DataTransferRequest, DataTransferResponse;
    GetConfiguration: CentralSystem, GetConfigurationRequest, GetConfigurationResponse;
    Heartbeat: ChargePoint, HeartbeatRequest, HeartbeatResponse;
    MeterValues: ChargePoint, MeterValuesRequest, MeterValuesResponse;
    RemoteStartTransaction: CentralSystem, RemoteStartTransactionRequest, RemoteStartTransactionResponse;
    RemoteStopTransaction: CentralSystem, RemoteStopTransactionRequest, RemoteStopTransactionResponse;
    Reset: CentralSystem, ResetRequest, ResetResponse;
    StartTransaction: ChargePoint, StartTransactionRequest, StartTransactionResponse;
    StatusNotification: ChargePoint, StatusNotificationRequest, StatusNotificationResponse;
    StopTransaction: ChargePoint, StopTransactionRequest, StopTransactionResponse;
    UnlockConnector: CentralSystem, UnlockConnectorRequest, UnlockConnectorResponse;
    // Firmware Management
    GetDiagnostics: CentralSystem, GetDiagnosticsRequest, GetDiagnosticsResponse;
    DiagnosticsStatusNotification: ChargePoint, DiagnosticsStatusNotificationRequest, DiagnosticsStatusNotificationResponse;
    FirmwareStatusNotification: ChargePoint, FirmwareStatusNotificationRequest, FirmwareStatusNotificationResponse;
    UpdateFirmware: CentralSystem, UpdateFirmwareRequest, UpdateFirmwareResponse;
    // Local Auth List Management
    GetLocalListVersion: CentralSystem, GetLocalListVersionRequest, GetLocalListVersionResponse;
    SendLocalList: CentralSystem, SendLocalListRequest, SendLocalListResponse;
    // Reservation
    CancelReservation: CentralSystem, CancelReservationRequest, CancelReservationResponse;
    ReserveNow: CentralSystem, ReserveNowRequest, ReserveNowResponse;
    // Smart Charging
    ClearChargingProfile: CentralSystem, ClearChargingProfileRequest, ClearChargingProfileResponse;
    GetCompositeSchedule: CentralSystem, GetCompositeScheduleRequest, GetCompositeScheduleResponse;
    SetChargingProfile: CentralSystem, SetChargingProfileRequest, SetChargingProfileResponse;
    // Remote Trigger
    TriggerMessage: CentralSystem, TriggerMessageRequest, TriggerMessageResponse;
}

impl fmt::Display for Action16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ActionName for Action16 {
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// An action name that OCPP 1.6 does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OCPP 1.6 action '{0}'")]
pub struct UnknownAction(pub String);

/// A CALL a charge point may send (Core and Firmware Management profiles).
#[derive(Debug, Clone, PartialEq)]
pub enum ChargePointCall {
    Authorize(AuthorizeRequest),
    BootNotification(BootNotificationRequest),
    DataTransfer(DataTransferRequest),
    DiagnosticsStatusNotification(DiagnosticsStatusNotificationRequest),
    FirmwareStatusNotification(FirmwareStatusNotificationRequest),
    Heartbeat(HeartbeatRequest),
    MeterValues(MeterValuesRequest),
    StartTransaction(StartTransactionRequest),
    StatusNotification(StatusNotificationRequest),
    StopTransaction(StopTransactionRequest),
}

impl ChargePointCall {
    /// The action of this call.
    pub fn action(&self) -> Action16 {
        match self {
            ChargePointCall::Authorize(_) => Action16::Authorize,
            ChargePointCall::BootNotification(_) => Action16::BootNotification,
            ChargePointCall::DataTransfer(_) => Action16::DataTransfer,
            ChargePointCall::DiagnosticsStatusNotification(_) => {
                Action16::DiagnosticsStatusNotification
            }
            ChargePointCall::FirmwareStatusNotification(_) => Action16::FirmwareStatusNotification,
            ChargePointCall::Heartbeat(_) => Action16::Heartbeat,
            ChargePointCall::MeterValues(_) => Action16::MeterValues,
            ChargePointCall::StartTransaction(_) => Action16::StartTransaction,
            ChargePointCall::StatusNotification(_) => Action16::StatusNotification,
            ChargePointCall::StopTransaction(_) => Action16::StopTransaction,
        }
    }

    /// The CALL payload (what a simulated charger sends).
    pub fn to_payload(&self) -> Value {
        match self {
            ChargePointCall::Authorize(r) => encode(r),
            ChargePointCall::BootNotification(r) => encode(r),
            ChargePointCall::DataTransfer(r) => encode(r),
            ChargePointCall::DiagnosticsStatusNotification(r) => encode(r),
            ChargePointCall::FirmwareStatusNotification(r) => encode(r),
            ChargePointCall::Heartbeat(r) => encode(r),
            ChargePointCall::MeterValues(r) => encode(r),
            ChargePointCall::StartTransaction(r) => encode(r),
            ChargePointCall::StatusNotification(r) => encode(r),
            ChargePointCall::StopTransaction(r) => encode(r),
        }
    }
}

/// A CALL the central system sends to a charge point.
#[derive(Debug, Clone, PartialEq)]
pub enum CentralSystemCall {
    CancelReservation(CancelReservationRequest),
    ChangeAvailability(ChangeAvailabilityRequest),
    ChangeConfiguration(ChangeConfigurationRequest),
    ClearCache(ClearCacheRequest),
    ClearChargingProfile(ClearChargingProfileRequest),
    DataTransfer(DataTransferRequest),
    GetCompositeSchedule(GetCompositeScheduleRequest),
    GetConfiguration(GetConfigurationRequest),
    GetDiagnostics(GetDiagnosticsRequest),
    GetLocalListVersion(GetLocalListVersionRequest),
    RemoteStartTransaction(RemoteStartTransactionRequest),
    RemoteStopTransaction(RemoteStopTransactionRequest),
    ReserveNow(ReserveNowRequest),
    Reset(ResetRequest),
    SendLocalList(SendLocalListRequest),
    SetChargingProfile(SetChargingProfileRequest),
    TriggerMessage(TriggerMessageRequest),
    UnlockConnector(UnlockConnectorRequest),
    UpdateFirmware(UpdateFirmwareRequest),
}

impl CentralSystemCall {
    /// The action of this call.
    pub fn action(&self) -> Action16 {
        use CentralSystemCall as C;
        match self {
            C::CancelReservation(_) => Action16::CancelReservation,
            C::ChangeAvailability(_) => Action16::ChangeAvailability,
            C::ChangeConfiguration(_) => Action16::ChangeConfiguration,
            C::ClearCache(_) => Action16::ClearCache,
            C::ClearChargingProfile(_) => Action16::ClearChargingProfile,
            C::DataTransfer(_) => Action16::DataTransfer,
            C::GetCompositeSchedule(_) => Action16::GetCompositeSchedule,
            C::GetConfiguration(_) => Action16::GetConfiguration,
            C::GetDiagnostics(_) => Action16::GetDiagnostics,
            C::GetLocalListVersion(_) => Action16::GetLocalListVersion,
            C::RemoteStartTransaction(_) => Action16::RemoteStartTransaction,
            C::RemoteStopTransaction(_) => Action16::RemoteStopTransaction,
            C::ReserveNow(_) => Action16::ReserveNow,
            C::Reset(_) => Action16::Reset,
            C::SendLocalList(_) => Action16::SendLocalList,
            C::SetChargingProfile(_) => Action16::SetChargingProfile,
            C::TriggerMessage(_) => Action16::TriggerMessage,
            C::UnlockConnector(_) => Action16::UnlockConnector,
            C::UpdateFirmware(_) => Action16::UpdateFirmware,
        }
    }

    /// The CALL payload.
    pub fn to_payload(&self) -> Value {
        use CentralSystemCall as C;
        match self {
            C::CancelReservation(r) => encode(r),
            C::ChangeAvailability(r) => encode(r),
            C::ChangeConfiguration(r) => encode(r),
            C::ClearCache(r) => encode(r),
            C::ClearChargingProfile(r) => encode(r),
            C::DataTransfer(r) => encode(r),
            C::GetCompositeSchedule(r) => encode(r),
            C::GetConfiguration(r) => encode(r),
            C::GetDiagnostics(r) => encode(r),
            C::GetLocalListVersion(r) => encode(r),
            C::RemoteStartTransaction(r) => encode(r),
            C::RemoteStopTransaction(r) => encode(r),
            C::ReserveNow(r) => encode(r),
            C::Reset(r) => encode(r),
            C::SendLocalList(r) => encode(r),
            C::SetChargingProfile(r) => encode(r),
            C::TriggerMessage(r) => encode(r),
            C::UnlockConnector(r) => encode(r),
            C::UpdateFirmware(r) => encode(r),
        }
    }
}

/// Serialises a message of this module to its JSON payload.
///
/// Cannot fail for the types of this module (string keys only); any other
/// serialisation failure yields `null`, which the peer's schema check rejects.
pub fn encode<T: Serialize>(message: &T) -> Value {
    serde_json::to_value(message).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests;
