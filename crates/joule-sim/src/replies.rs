//! Answers to central-system CALLs that need no charger state: what the
//! load generator's chargers send, and the fallback of the full simulated
//! charger for the profiles it does not model (reservations, smart charging,
//! firmware). Each answer is valid against the official response schema
//! (tested below).

use chrono::Utc;
use joule_ocpp::v16::{self, encode, CentralSystemCall as C};
use serde_json::Value;

/// The vendor id of our DataTransfer answers; no vendor extension is known.
pub const VENDOR_ID: &str = "org.joule.sim";

/// A schema-valid CALLRESULT payload for `call`, for a charger that does
/// not charge: remote starts are rejected, everything harmless is accepted.
pub fn stateless_reply(call: &C) -> Value {
    match call {
        C::CancelReservation(_) => encode(&v16::CancelReservationResponse {
            status: v16::CancelReservationStatus::Rejected,
        }),
        C::ChangeAvailability(_) => encode(&v16::ChangeAvailabilityResponse {
            status: v16::AvailabilityStatus::Accepted,
        }),
        C::ChangeConfiguration(_) => encode(&v16::ChangeConfigurationResponse {
            status: v16::ConfigurationStatus::NotSupported,
        }),
        C::ClearCache(_) => encode(&v16::ClearCacheResponse {
            status: v16::ClearCacheStatus::Accepted,
        }),
        C::ClearChargingProfile(_) => encode(&v16::ClearChargingProfileResponse {
            status: v16::ClearChargingProfileStatus::Accepted,
        }),
        C::DataTransfer(_) => encode(&v16::DataTransferResponse {
            status: v16::DataTransferStatus::UnknownVendorId,
            data: None,
        }),
        C::GetCompositeSchedule(req) => encode(&v16::GetCompositeScheduleResponse {
            status: v16::GetCompositeScheduleStatus::Accepted,
            connector_id: Some(req.connector_id),
            schedule_start: Some(Utc::now()),
            charging_schedule: Some(v16::ChargingSchedule {
                duration: Some(req.duration),
                start_schedule: None,
                charging_rate_unit: req
                    .charging_rate_unit
                    .unwrap_or(v16::ChargingRateUnitType::A),
                charging_schedule_period: vec![v16::ChargingSchedulePeriod {
                    start_period: 0,
                    limit: match req.charging_rate_unit {
                        Some(v16::ChargingRateUnitType::W) => 22_000.0,
                        _ => 32.0,
                    },
                    number_phases: Some(3),
                }],
                min_charging_rate: None,
            }),
        }),
        C::GetConfiguration(req) => encode(&v16::GetConfigurationResponse {
            configuration_key: Some(Vec::new()),
            unknown_key: req.key.clone(),
        }),
        C::GetDiagnostics(_) => encode(&v16::GetDiagnosticsResponse { file_name: None }),
        C::GetLocalListVersion(_) => encode(&v16::GetLocalListVersionResponse { list_version: 0 }),
        C::RemoteStartTransaction(_) => encode(&v16::RemoteStartTransactionResponse {
            status: v16::RemoteStartStopStatus::Rejected,
        }),
        C::RemoteStopTransaction(_) => encode(&v16::RemoteStopTransactionResponse {
            status: v16::RemoteStartStopStatus::Rejected,
        }),
        C::ReserveNow(_) => encode(&v16::ReserveNowResponse {
            status: v16::ReservationStatus::Rejected,
        }),
        C::Reset(_) => encode(&v16::ResetResponse {
            status: v16::ResetStatus::Accepted,
        }),
        C::SendLocalList(_) => encode(&v16::SendLocalListResponse {
            status: v16::UpdateStatus::Accepted,
        }),
        C::SetChargingProfile(_) => encode(&v16::SetChargingProfileResponse {
            status: v16::ChargingProfileStatus::Accepted,
        }),
        C::TriggerMessage(_) => encode(&v16::TriggerMessageResponse {
            status: v16::TriggerMessageStatus::Rejected,
        }),
        C::UnlockConnector(_) => encode(&v16::UnlockConnectorResponse {
            status: v16::UnlockStatus::Unlocked,
        }),
        C::UpdateFirmware(_) => encode(&v16::UpdateFirmwareResponse {}),
    }
}

/// The reply text for one inbound CALL frame: the decoded call answered by
/// `answer`, or the CALLERROR for an undecodable one (unknown action →
/// `NotImplemented`, schema violation → its code).
pub fn reply_text(call: joule_ocpp::Call, answer: impl FnOnce(&C) -> Value) -> String {
    match v16::decode_central_system_call(&call.action, call.payload) {
        Ok(decoded) => joule_ocpp::Frame::call_result(call.message_id, answer(&decoded)).to_text(),
        Err(violation) => violation
            .reply(&call.message_id, joule_ocpp::OcppVersion::V16)
            .to_text(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use joule_ocpp::schema::validate;
    use joule_ocpp::v16::Action16;
    use joule_ocpp::{Frame, PayloadKind};
    use serde_json::json;

    /// One schema-valid request of every central-system action.
    pub(crate) fn every_central_system_call() -> Vec<(&'static str, Value)> {
        vec![
            ("CancelReservation", json!({"reservationId": 1})),
            (
                "ChangeAvailability",
                json!({"connectorId": 0, "type": "Inoperative"}),
            ),
            (
                "ChangeConfiguration",
                json!({"key": "HeartbeatInterval", "value": "60"}),
            ),
            ("ClearCache", json!({})),
            ("ClearChargingProfile", json!({})),
            (
                "DataTransfer",
                json!({"vendorId": "com.example", "messageId": "x", "data": "y"}),
            ),
            (
                "GetCompositeSchedule",
                json!({"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"}),
            ),
            (
                "GetConfiguration",
                json!({"key": ["HeartbeatInterval", "NoSuchKey"]}),
            ),
            (
                "GetDiagnostics",
                json!({"location": "ftp://example.com/diag"}),
            ),
            ("GetLocalListVersion", json!({})),
            (
                "RemoteStartTransaction",
                json!({"connectorId": 1, "idTag": "TAG-1"}),
            ),
            ("RemoteStopTransaction", json!({"transactionId": 7})),
            (
                "ReserveNow",
                json!({"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "TAG-1", "reservationId": 3}),
            ),
            ("Reset", json!({"type": "Soft"})),
            (
                "SendLocalList",
                json!({"listVersion": 5, "updateType": "Full", "localAuthorizationList": [{"idTag": "TAG-1", "idTagInfo": {"status": "Accepted"}}]}),
            ),
            (
                "SetChargingProfile",
                json!({"connectorId": 1, "csChargingProfiles": {
                "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}}}),
            ),
            ("TriggerMessage", json!({"requestedMessage": "Heartbeat"})),
            ("UnlockConnector", json!({"connectorId": 1})),
            (
                "UpdateFirmware",
                json!({"location": "https://example.com/fw.bin", "retrieveDate": "2030-01-01T00:00:00Z"}),
            ),
        ]
    }

    #[test]
    fn every_stateless_reply_is_schema_valid() {
        let calls = every_central_system_call();
        // The fixture covers every central-system action.
        let expected = Action16::ALL
            .iter()
            .filter(|a| a.initiator().central_system_may_send())
            .count();
        assert_eq!(calls.len(), expected);
        for (action, payload) in calls {
            let decoded = v16::decode_central_system_call(action, payload).unwrap();
            let reply = stateless_reply(&decoded);
            validate(decoded.action(), PayloadKind::Response, &reply)
                .unwrap_or_else(|v| panic!("{action}: {v} in {reply}"));
        }
    }

    #[test]
    fn undecodable_calls_get_callerrors() {
        let call = |action: &str, payload: Value| joule_ocpp::Call {
            message_id: "m1".into(),
            action: action.into(),
            payload,
        };
        let text = reply_text(call("FlyToTheMoon", json!({})), stateless_reply);
        assert!(text.starts_with(r#"[4,"m1","NotImplemented""#), "{text}");
        let text = reply_text(call("Reset", json!({"type": "Sideways"})), stateless_reply);
        assert!(
            text.starts_with(r#"[4,"m1","PropertyConstraintViolation""#),
            "{text}"
        );
        let text = reply_text(call("Reset", json!({"type": "Hard"})), stateless_reply);
        assert_eq!(
            Frame::parse(&text).unwrap(),
            Frame::call_result("m1", json!({"status": "Accepted"}))
        );
    }
}
