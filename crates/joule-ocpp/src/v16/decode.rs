//! Decoding OCPP 1.6 CALL and CALLRESULT payloads: the schema check first,
//! then the typed deserialisation, with the OCPP-J error code of each refusal.
//!
//! Apart from the action table in `v16/mod.rs` because it calls
//! [`crate::schema`], which reads that table (ADR 0011: no import circles).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Action16, CentralSystemCall, ChargePointCall, OcppRequest, UnknownAction};
use crate::error_code::ErrorCode;
use crate::payload::{PayloadKind, Violation};
use crate::schema;

/// Parses an action name; unknown → `NotImplemented` (OCPP-J 1.6 §4.2.3:
/// "Requested Action is not known by receiver").
fn parse_action(action: &str) -> Result<Action16, Violation> {
    action
        .parse()
        .map_err(|e: UnknownAction| Violation::new(ErrorCode::NotImplemented, e.to_string()))
}

/// An action known to 1.6 but sent in the wrong direction → `NotSupported`
/// ("Requested Action is recognized but not supported by the receiver").
fn wrong_direction(action: Action16) -> Violation {
    Violation::new(
        ErrorCode::NotSupported,
        format!("{action} is not sent in this direction"),
    )
}

/// Validates `payload` against `action`'s official schema, then deserialises.
fn typed<T: DeserializeOwned>(
    action: Action16,
    kind: PayloadKind,
    payload: Value,
) -> Result<T, Violation> {
    schema::validate(action, kind, &payload)?;
    serde_json::from_value(payload).map_err(|e| {
        // The schema accepted it, so this is a range or representation
        // limit of our types (e.g. an integer beyond i32).
        Violation::new(ErrorCode::TypeConstraintViolation, e.to_string())
    })
}

/// Decodes a CALL received from a charge point.
///
/// Unknown action → `NotImplemented`; a central-system action (e.g. `Reset`)
/// → `NotSupported`; schema violations → the code of [`schema::validate`];
/// a deserialisation failure after the schema passed → `TypeConstraintViolation`.
pub fn decode_charge_point_call(
    action: &str,
    payload: Value,
) -> Result<ChargePointCall, Violation> {
    use ChargePointCall as C;
    let action = parse_action(action)?;
    let req = PayloadKind::Request;
    Ok(match action {
        Action16::Authorize => C::Authorize(typed(action, req, payload)?),
        Action16::BootNotification => C::BootNotification(typed(action, req, payload)?),
        Action16::DataTransfer => C::DataTransfer(typed(action, req, payload)?),
        Action16::DiagnosticsStatusNotification => {
            C::DiagnosticsStatusNotification(typed(action, req, payload)?)
        }
        Action16::FirmwareStatusNotification => {
            C::FirmwareStatusNotification(typed(action, req, payload)?)
        }
        Action16::Heartbeat => C::Heartbeat(typed(action, req, payload)?),
        Action16::MeterValues => C::MeterValues(typed(action, req, payload)?),
        Action16::StartTransaction => C::StartTransaction(typed(action, req, payload)?),
        Action16::StatusNotification => C::StatusNotification(typed(action, req, payload)?),
        Action16::StopTransaction => C::StopTransaction(typed(action, req, payload)?),
        Action16::CancelReservation
        | Action16::ChangeAvailability
        | Action16::ChangeConfiguration
        | Action16::ClearCache
        | Action16::ClearChargingProfile
        | Action16::GetCompositeSchedule
        | Action16::GetConfiguration
        | Action16::GetDiagnostics
        | Action16::GetLocalListVersion
        | Action16::RemoteStartTransaction
        | Action16::RemoteStopTransaction
        | Action16::ReserveNow
        | Action16::Reset
        | Action16::SendLocalList
        | Action16::SetChargingProfile
        | Action16::TriggerMessage
        | Action16::UnlockConnector
        | Action16::UpdateFirmware => return Err(wrong_direction(action)),
    })
}

/// Decodes a CALL received from a central system (the simulator's side).
/// Same error rules as [`decode_charge_point_call`], mirrored.
pub fn decode_central_system_call(
    action: &str,
    payload: Value,
) -> Result<CentralSystemCall, Violation> {
    use CentralSystemCall as C;
    let action = parse_action(action)?;
    let req = PayloadKind::Request;
    Ok(match action {
        Action16::CancelReservation => C::CancelReservation(typed(action, req, payload)?),
        Action16::ChangeAvailability => C::ChangeAvailability(typed(action, req, payload)?),
        Action16::ChangeConfiguration => C::ChangeConfiguration(typed(action, req, payload)?),
        Action16::ClearCache => C::ClearCache(typed(action, req, payload)?),
        Action16::ClearChargingProfile => C::ClearChargingProfile(typed(action, req, payload)?),
        Action16::DataTransfer => C::DataTransfer(typed(action, req, payload)?),
        Action16::GetCompositeSchedule => C::GetCompositeSchedule(typed(action, req, payload)?),
        Action16::GetConfiguration => C::GetConfiguration(typed(action, req, payload)?),
        Action16::GetDiagnostics => C::GetDiagnostics(typed(action, req, payload)?),
        Action16::GetLocalListVersion => C::GetLocalListVersion(typed(action, req, payload)?),
        Action16::RemoteStartTransaction => C::RemoteStartTransaction(typed(action, req, payload)?),
        Action16::RemoteStopTransaction => C::RemoteStopTransaction(typed(action, req, payload)?),
        Action16::ReserveNow => C::ReserveNow(typed(action, req, payload)?),
        Action16::Reset => C::Reset(typed(action, req, payload)?),
        Action16::SendLocalList => C::SendLocalList(typed(action, req, payload)?),
        Action16::SetChargingProfile => C::SetChargingProfile(typed(action, req, payload)?),
        Action16::TriggerMessage => C::TriggerMessage(typed(action, req, payload)?),
        Action16::UnlockConnector => C::UnlockConnector(typed(action, req, payload)?),
        Action16::UpdateFirmware => C::UpdateFirmware(typed(action, req, payload)?),
        Action16::Authorize
        | Action16::BootNotification
        | Action16::DiagnosticsStatusNotification
        | Action16::FirmwareStatusNotification
        | Action16::Heartbeat
        | Action16::MeterValues
        | Action16::StartTransaction
        | Action16::StatusNotification
        | Action16::StopTransaction => return Err(wrong_direction(action)),
    })
}

/// Decodes the CALLRESULT payload answering a call of `action`, validating it
/// against the official response schema first.
pub fn decode_response<T: DeserializeOwned>(
    action: Action16,
    payload: Value,
) -> Result<T, Violation> {
    typed(action, PayloadKind::Response, payload)
}

/// Decodes the CALLRESULT payload answering request type `R`.
pub fn decode_response_to<R: OcppRequest>(payload: Value) -> Result<R::Response, Violation> {
    decode_response(R::ACTION, payload)
}
