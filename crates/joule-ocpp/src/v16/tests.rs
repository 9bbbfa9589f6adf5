//! Every typed request and response checked against the official schemas,
//! plus the decode rules of both directions.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::error_code::{ErrorCode, OcppVersion};
use crate::payload::PayloadKind;
use crate::schema::validate;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_714_557_600 + secs, 0)
        .single()
        .unwrap_or_default()
}

fn accepted_tag() -> IdTagInfo {
    IdTagInfo {
        status: AuthorizationStatus::Accepted,
        expiry_date: Some(at(86_400)),
        parent_id_tag: Some("FLEET-01".into()),
    }
}

fn meter_value() -> MeterValue {
    MeterValue {
        timestamp: at(60),
        sampled_value: vec![
            SampledValue {
                value: "12345.6".into(),
                context: Some(ReadingContext::SamplePeriodic),
                format: Some(ValueFormat::Raw),
                measurand: Some(Measurand::EnergyActiveImportRegister),
                phase: None,
                location: Some(Location::Outlet),
                unit: Some(UnitOfMeasure::Wh),
            },
            SampledValue {
                value: "16.1".into(),
                measurand: Some(Measurand::CurrentImport),
                phase: Some(Phase::L1),
                unit: Some(UnitOfMeasure::A),
                ..SampledValue::new("")
            },
            SampledValue::new("7400"),
        ],
    }
}

fn charging_schedule() -> ChargingSchedule {
    ChargingSchedule {
        duration: Some(3600),
        start_schedule: Some(at(0)),
        charging_rate_unit: ChargingRateUnitType::A,
        charging_schedule_period: vec![
            ChargingSchedulePeriod {
                start_period: 0,
                limit: 32.0,
                number_phases: Some(3),
            },
            ChargingSchedulePeriod {
                start_period: 1800,
                limit: 7.3,
                number_phases: None,
            },
        ],
        min_charging_rate: Some(6.0),
    }
}

fn charging_profile() -> ChargingProfile {
    ChargingProfile {
        charging_profile_id: 7,
        transaction_id: Some(1001),
        stack_level: 1,
        charging_profile_purpose: ChargingProfilePurposeType::TxProfile,
        charging_profile_kind: ChargingProfileKindType::Absolute,
        recurrency_kind: None,
        valid_from: Some(at(0)),
        valid_to: Some(at(7200)),
        charging_schedule: charging_schedule(),
    }
}

/// One realistic (request, response) pair per action, built from our types.
fn samples() -> Vec<(Action16, Value, Value)> {
    use Action16 as A;
    vec![
        (
            A::Authorize,
            encode(&AuthorizeRequest {
                id_tag: "04E91C2A5B6F80".into(),
            }),
            encode(&AuthorizeResponse {
                id_tag_info: accepted_tag(),
            }),
        ),
        (
            A::BootNotification,
            encode(&BootNotificationRequest {
                charge_point_vendor: "Joule".into(),
                charge_point_model: "Sim-22".into(),
                charge_point_serial_number: Some("SN-0001".into()),
                charge_box_serial_number: Some("CB-0001".into()),
                firmware_version: Some("1.2.3".into()),
                iccid: Some("8931440400012345678".into()),
                imsi: Some("204043212345678".into()),
                meter_type: Some("DZG DVH4013".into()),
                meter_serial_number: Some("M-42".into()),
            }),
            encode(&BootNotificationResponse {
                status: RegistrationStatus::Accepted,
                current_time: at(0),
                interval: 300,
            }),
        ),
        (
            A::ChangeAvailability,
            encode(&ChangeAvailabilityRequest {
                connector_id: 0,
                kind: AvailabilityType::Inoperative,
            }),
            encode(&ChangeAvailabilityResponse {
                status: AvailabilityStatus::Scheduled,
            }),
        ),
        (
            A::ChangeConfiguration,
            encode(&ChangeConfigurationRequest {
                key: "HeartbeatInterval".into(),
                value: "300".into(),
            }),
            encode(&ChangeConfigurationResponse {
                status: ConfigurationStatus::RebootRequired,
            }),
        ),
        (
            A::ClearCache,
            encode(&ClearCacheRequest {}),
            encode(&ClearCacheResponse {
                status: ClearCacheStatus::Accepted,
            }),
        ),
        (
            A::DataTransfer,
            encode(&DataTransferRequest {
                vendor_id: "com.joule".into(),
                message_id: Some("Price".into()),
                data: Some("{\"total\":\"4.20\"}".into()),
            }),
            encode(&DataTransferResponse {
                status: DataTransferStatus::UnknownMessageId,
                data: None,
            }),
        ),
        (
            A::GetConfiguration,
            encode(&GetConfigurationRequest {
                key: Some(vec!["HeartbeatInterval".into(), "Bogus".into()]),
            }),
            encode(&GetConfigurationResponse {
                configuration_key: Some(vec![KeyValue {
                    key: "HeartbeatInterval".into(),
                    readonly: false,
                    value: Some("300".into()),
                }]),
                unknown_key: Some(vec!["Bogus".into()]),
            }),
        ),
        (
            A::Heartbeat,
            encode(&HeartbeatRequest {}),
            encode(&HeartbeatResponse {
                current_time: at(5),
            }),
        ),
        (
            A::MeterValues,
            encode(&MeterValuesRequest {
                connector_id: 1,
                transaction_id: Some(1001),
                meter_value: vec![meter_value()],
            }),
            encode(&MeterValuesResponse {}),
        ),
        (
            A::RemoteStartTransaction,
            encode(&RemoteStartTransactionRequest {
                connector_id: Some(1),
                id_tag: "APP-7F3A".into(),
                charging_profile: Some(ChargingProfile {
                    transaction_id: None,
                    ..charging_profile()
                }),
            }),
            encode(&RemoteStartTransactionResponse {
                status: RemoteStartStopStatus::Accepted,
            }),
        ),
        (
            A::RemoteStopTransaction,
            encode(&RemoteStopTransactionRequest {
                transaction_id: 1001,
            }),
            encode(&RemoteStopTransactionResponse {
                status: RemoteStartStopStatus::Rejected,
            }),
        ),
        (
            A::Reset,
            encode(&ResetRequest {
                kind: ResetType::Soft,
            }),
            encode(&ResetResponse {
                status: ResetStatus::Accepted,
            }),
        ),
        (
            A::StartTransaction,
            encode(&StartTransactionRequest {
                connector_id: 1,
                id_tag: "04E91C2A5B6F80".into(),
                meter_start: 3_000_000_000,
                reservation_id: Some(12),
                timestamp: at(10),
            }),
            encode(&StartTransactionResponse {
                id_tag_info: accepted_tag(),
                transaction_id: 1001,
            }),
        ),
        (
            A::StatusNotification,
            encode(&StatusNotificationRequest {
                connector_id: 1,
                error_code: ChargePointErrorCode::EvCommunicationError,
                info: Some("CP line lost".into()),
                status: ChargePointStatus::SuspendedEvse,
                timestamp: Some(at(20)),
                vendor_id: Some("com.joule".into()),
                vendor_error_code: Some("E-17".into()),
            }),
            encode(&StatusNotificationResponse {}),
        ),
        (
            A::StopTransaction,
            encode(&StopTransactionRequest {
                id_tag: Some("04E91C2A5B6F80".into()),
                meter_stop: 3_000_012_345,
                timestamp: at(3600),
                transaction_id: 1001,
                reason: Some(Reason::EvDisconnected),
                transaction_data: Some(vec![meter_value()]),
            }),
            encode(&StopTransactionResponse {
                id_tag_info: Some(IdTagInfo::new(AuthorizationStatus::Accepted)),
            }),
        ),
        (
            A::UnlockConnector,
            encode(&UnlockConnectorRequest { connector_id: 2 }),
            encode(&UnlockConnectorResponse {
                status: UnlockStatus::Unlocked,
            }),
        ),
        (
            A::GetDiagnostics,
            encode(&GetDiagnosticsRequest {
                location: "ftp://user:pass@diag.example.com/uploads/".into(),
                retries: Some(3),
                retry_interval: Some(60),
                start_time: Some(at(-86_400)),
                stop_time: Some(at(0)),
            }),
            encode(&GetDiagnosticsResponse {
                file_name: Some("diag-2024-05-01.zip".into()),
            }),
        ),
        (
            A::DiagnosticsStatusNotification,
            encode(&DiagnosticsStatusNotificationRequest {
                status: DiagnosticsStatus::Uploaded,
            }),
            encode(&DiagnosticsStatusNotificationResponse {}),
        ),
        (
            A::FirmwareStatusNotification,
            encode(&FirmwareStatusNotificationRequest {
                status: FirmwareStatus::InstallationFailed,
            }),
            encode(&FirmwareStatusNotificationResponse {}),
        ),
        (
            A::UpdateFirmware,
            encode(&UpdateFirmwareRequest {
                location: "https://fw.example.com/sim-22/1.2.4.bin".into(),
                retries: Some(2),
                retrieve_date: at(600),
                retry_interval: Some(300),
            }),
            encode(&UpdateFirmwareResponse {}),
        ),
        (
            A::GetLocalListVersion,
            encode(&GetLocalListVersionRequest {}),
            encode(&GetLocalListVersionResponse { list_version: 4 }),
        ),
        (
            A::SendLocalList,
            encode(&SendLocalListRequest {
                list_version: 5,
                local_authorization_list: Some(vec![
                    AuthorizationData {
                        id_tag: "04E91C2A5B6F80".into(),
                        id_tag_info: Some(accepted_tag()),
                    },
                    AuthorizationData {
                        id_tag: "REVOKED-1".into(),
                        id_tag_info: None,
                    },
                ]),
                update_type: UpdateType::Differential,
            }),
            encode(&SendLocalListResponse {
                status: UpdateStatus::VersionMismatch,
            }),
        ),
        (
            A::CancelReservation,
            encode(&CancelReservationRequest { reservation_id: 12 }),
            encode(&CancelReservationResponse {
                status: CancelReservationStatus::Accepted,
            }),
        ),
        (
            A::ReserveNow,
            encode(&ReserveNowRequest {
                connector_id: 1,
                expiry_date: at(1800),
                id_tag: "04E91C2A5B6F80".into(),
                parent_id_tag: Some("FLEET-01".into()),
                reservation_id: 12,
            }),
            encode(&ReserveNowResponse {
                status: ReservationStatus::Occupied,
            }),
        ),
        (
            A::ClearChargingProfile,
            encode(&ClearChargingProfileRequest {
                id: None,
                connector_id: Some(1),
                charging_profile_purpose: Some(ChargingProfilePurposeType::TxDefaultProfile),
                stack_level: Some(0),
            }),
            encode(&ClearChargingProfileResponse {
                status: ClearChargingProfileStatus::Unknown,
            }),
        ),
        (
            A::GetCompositeSchedule,
            encode(&GetCompositeScheduleRequest {
                connector_id: 1,
                duration: 3600,
                charging_rate_unit: Some(ChargingRateUnitType::W),
            }),
            encode(&GetCompositeScheduleResponse {
                status: GetCompositeScheduleStatus::Accepted,
                connector_id: Some(1),
                schedule_start: Some(at(0)),
                charging_schedule: Some(charging_schedule()),
            }),
        ),
        (
            A::SetChargingProfile,
            encode(&SetChargingProfileRequest {
                connector_id: 1,
                cs_charging_profiles: ChargingProfile {
                    charging_profile_purpose: ChargingProfilePurposeType::TxDefaultProfile,
                    charging_profile_kind: ChargingProfileKindType::Recurring,
                    recurrency_kind: Some(RecurrencyKindType::Daily),
                    transaction_id: None,
                    ..charging_profile()
                },
            }),
            encode(&SetChargingProfileResponse {
                status: ChargingProfileStatus::NotSupported,
            }),
        ),
        (
            A::TriggerMessage,
            encode(&TriggerMessageRequest {
                requested_message: MessageTrigger::StatusNotification,
                connector_id: Some(1),
            }),
            encode(&TriggerMessageResponse {
                status: TriggerMessageStatus::NotImplemented,
            }),
        ),
    ]
}

#[test]
fn samples_cover_every_action_once() {
    let mut actions: Vec<Action16> = samples().into_iter().map(|(a, _, _)| a).collect();
    actions.sort();
    let mut all = Action16::ALL.to_vec();
    all.sort();
    assert_eq!(actions, all);
    assert_eq!(all.len(), 28);
}

#[test]
fn every_request_and_response_we_build_passes_the_official_schema() {
    for (action, request, response) in samples() {
        assert_eq!(
            validate(action, PayloadKind::Request, &request),
            Ok(()),
            "{action} request {request}"
        );
        assert_eq!(
            validate(action, PayloadKind::Response, &response),
            Ok(()),
            "{action} response {response}"
        );
    }
}

#[test]
fn every_request_decodes_in_its_direction_and_round_trips() {
    for (action, request, _) in samples() {
        let name = action.as_str();
        let initiator = action.initiator();
        let from_cp = decode_charge_point_call(name, request.clone());
        let from_cs = decode_central_system_call(name, request.clone());
        assert_eq!(from_cp.is_ok(), initiator.charge_point_may_send(), "{name}");
        assert_eq!(
            from_cs.is_ok(),
            initiator.central_system_may_send(),
            "{name}"
        );
        if let Ok(call) = from_cp {
            assert_eq!(call.action(), action);
            assert_eq!(call.to_payload(), request, "{name}");
        } else {
            assert_eq!(from_cp.err().map(|v| v.code), Some(ErrorCode::NotSupported));
        }
        if let Ok(call) = from_cs {
            assert_eq!(call.action(), action);
            assert_eq!(call.to_payload(), request, "{name}");
        } else {
            assert_eq!(from_cs.err().map(|v| v.code), Some(ErrorCode::NotSupported));
        }
    }
}

#[test]
fn every_response_decodes_and_round_trips() {
    fn check<R: OcppRequest>(samples: &[(Action16, Value, Value)]) {
        let (_, _, response) = samples
            .iter()
            .find(|(a, _, _)| *a == R::ACTION)
            .unwrap_or_else(|| panic!("no sample for {}", R::ACTION));
        let typed = decode_response_to::<R>(response.clone());
        let typed = typed.unwrap_or_else(|v| panic!("{}: {v}", R::ACTION));
        assert_eq!(&encode(&typed), response, "{}", R::ACTION);
    }
    let s = samples();
    check::<AuthorizeRequest>(&s);
    check::<BootNotificationRequest>(&s);
    check::<ChangeAvailabilityRequest>(&s);
    check::<ChangeConfigurationRequest>(&s);
    check::<ClearCacheRequest>(&s);
    check::<DataTransferRequest>(&s);
    check::<GetConfigurationRequest>(&s);
    check::<HeartbeatRequest>(&s);
    check::<MeterValuesRequest>(&s);
    check::<RemoteStartTransactionRequest>(&s);
    check::<RemoteStopTransactionRequest>(&s);
    check::<ResetRequest>(&s);
    check::<StartTransactionRequest>(&s);
    check::<StatusNotificationRequest>(&s);
    check::<StopTransactionRequest>(&s);
    check::<UnlockConnectorRequest>(&s);
    check::<GetDiagnosticsRequest>(&s);
    check::<DiagnosticsStatusNotificationRequest>(&s);
    check::<FirmwareStatusNotificationRequest>(&s);
    check::<UpdateFirmwareRequest>(&s);
    check::<GetLocalListVersionRequest>(&s);
    check::<SendLocalListRequest>(&s);
    check::<CancelReservationRequest>(&s);
    check::<ReserveNowRequest>(&s);
    check::<ClearChargingProfileRequest>(&s);
    check::<GetCompositeScheduleRequest>(&s);
    check::<SetChargingProfileRequest>(&s);
    check::<TriggerMessageRequest>(&s);
}

#[test]
fn action_names_round_trip() {
    for &action in Action16::ALL {
        assert_eq!(action.as_str().parse::<Action16>(), Ok(action));
        assert_eq!(action.to_string(), action.as_str());
    }
    assert!("heartbeat".parse::<Action16>().is_err());
    assert_eq!(Action16::DataTransfer.initiator(), Initiator::Both);
    assert_eq!(Action16::Reset.initiator(), Initiator::CentralSystem);
    assert_eq!(Action16::MeterValues.initiator(), Initiator::ChargePoint);
}

#[test]
fn unknown_action_is_not_implemented() {
    let v = decode_charge_point_call("SignCertificate", json!({"csr": "x"}));
    let v = v.err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(v.code, ErrorCode::NotImplemented);
    assert_eq!(
        v.reply("m1", OcppVersion::V16).to_text(),
        r#"[4,"m1","NotImplemented","unknown OCPP 1.6 action 'SignCertificate'",{}]"#
    );
    assert_eq!(
        decode_central_system_call("Bogus", json!({}))
            .err()
            .map(|v| v.code),
        Some(ErrorCode::NotImplemented)
    );
}

#[test]
fn central_system_action_from_a_charger_is_not_supported() {
    let v = decode_charge_point_call("Reset", json!({"type": "Hard"}));
    assert_eq!(v.err().map(|v| v.code), Some(ErrorCode::NotSupported));
    let v = decode_central_system_call("Heartbeat", json!({}));
    assert_eq!(v.err().map(|v| v.code), Some(ErrorCode::NotSupported));
}

#[test]
fn charger_calls_are_schema_checked_before_decoding() {
    let cases = [
        (
            "Authorize",
            json!({}),
            ErrorCode::OccurrenceConstraintViolation,
        ),
        (
            "Authorize",
            json!({"idTag": 42}),
            ErrorCode::TypeConstraintViolation,
        ),
        (
            "Authorize",
            json!({"idTag": "123456789012345678901"}),
            ErrorCode::PropertyConstraintViolation,
        ),
        (
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Broken"}),
            ErrorCode::PropertyConstraintViolation,
        ),
        (
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "2024-13-01T00:00:00Z"}),
            ErrorCode::PropertyConstraintViolation,
        ),
        // Schema says integer (unbounded); our i32 transaction id does not fit.
        (
            "MeterValues",
            json!({"connectorId": 1, "transactionId": 3_000_000_000_i64,
                   "meterValue": [{"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{"value": "1"}]}]}),
            ErrorCode::TypeConstraintViolation,
        ),
    ];
    for (action, payload, code) in cases {
        let got = decode_charge_point_call(action, payload.clone());
        assert_eq!(
            got.as_ref().err().map(|v| v.code),
            Some(code),
            "{action} {payload}: {got:?}"
        );
    }
}

#[test]
fn a_charger_boot_notification_decodes_to_typed_fields() {
    let call = decode_charge_point_call(
        "BootNotification",
        json!({"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"}),
    );
    assert_eq!(
        call,
        Ok(ChargePointCall::BootNotification(BootNotificationRequest {
            charge_point_vendor: "VendorX".into(),
            charge_point_model: "SingleSocketCharger".into(),
            charge_point_serial_number: None,
            charge_box_serial_number: None,
            firmware_version: None,
            iccid: None,
            imsi: None,
            meter_type: None,
            meter_serial_number: None,
        }))
    );
}

#[test]
fn timestamps_with_offsets_are_normalised_to_utc() {
    let call = decode_charge_point_call(
        "StartTransaction",
        json!({"connectorId": 1, "idTag": "A", "meterStart": 5, "timestamp": "2024-05-01T12:00:00+02:00"}),
    );
    let Ok(ChargePointCall::StartTransaction(req)) = call else {
        panic!("{call:?}");
    };
    assert_eq!(req.timestamp, at(0));
    assert_eq!(encode(&req)["timestamp"], json!("2024-05-01T10:00:00Z"));
}

#[test]
fn a_bad_response_is_refused() {
    let r: Result<ResetResponse, _> = decode_response(Action16::Reset, json!({"status": "Maybe"}));
    assert_eq!(
        r.err().map(|v| v.code),
        Some(ErrorCode::PropertyConstraintViolation)
    );
}
