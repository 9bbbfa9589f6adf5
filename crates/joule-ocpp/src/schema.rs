//! Validation of payloads against the official OCPP JSON schemas.
//!
//! The schemas are embedded with `include_str!` (see `schemas/README.md`)
//! and each is compiled once, on first use, into a process-wide table of
//! `OnceLock`s indexed by (action, request|response). Validation is then
//! lock-free and allocation-free for valid payloads.
//!
//! Mapping from the first schema error to an OCPP error code (OCPP-J 1.6
//! §4.2.3 definitions):
//!
//! | schema keyword | code |
//! |---|---|
//! | payload itself not an object (root `type`) | `FormationViolation`, like the frame layer |
//! | `required`, `minItems`, `maxItems` | `OccurrenceConstraintViolation` |
//! | `type` (below the root) | `TypeConstraintViolation` |
//! | `enum`, `maxLength`, `minimum`, `format`, `additionalProperties`, anything else | `PropertyConstraintViolation` |
//!
//! `format` is asserted (the draft-04 default is annotation only): a
//! `date-time` must be RFC 3339, which is also what our `chrono` fields
//! accept, so the schema is the single judge and the typed decode agrees.
//!
//! `multipleOf: 0.1` on charging-rate limits is kept: jsonschema compares
//! floats with a tolerance, so `7.3` passes and `7.35` is refused, as the
//! spec intends (one decimal).

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::Value;

use crate::error_code::ErrorCode;
use crate::payload::{PayloadKind, Violation};
use crate::v16::Action16;

const SCHEMA_COUNT: usize = Action16::ALL.len() * 2;

type Compiled = Result<Validator, String>;

static VALIDATORS: [OnceLock<Compiled>; SCHEMA_COUNT] = [const { OnceLock::new() }; SCHEMA_COUNT];

fn slot(action: Action16, kind: PayloadKind) -> usize {
    action as usize * 2
        + match kind {
            PayloadKind::Request => 0,
            PayloadKind::Response => 1,
        }
}

fn compile(action: Action16, kind: PayloadKind) -> Compiled {
    let schema: Value = serde_json::from_str(action.schema_text(kind))
        .map_err(|e| format!("schema of {action} {kind:?} is not JSON: {e}"))?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("schema of {action} {kind:?} does not compile: {e}"))
}

fn validator(action: Action16, kind: PayloadKind) -> Result<&'static Validator, Violation> {
    VALIDATORS[slot(action, kind)]
        .get_or_init(|| compile(action, kind))
        .as_ref()
        .map_err(|e| Violation::new(ErrorCode::InternalError, e.as_str()))
}

/// Validates an OCPP 1.6 payload against the official schema of `action`.
/// The error code follows the table in the module docs.
pub fn validate(action: Action16, kind: PayloadKind, payload: &Value) -> Result<(), Violation> {
    let error = match validator(action, kind)?.validate(payload) {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    let path = error.instance_path().as_str();
    Err(match error.kind() {
        ValidationErrorKind::Type { .. } if path.is_empty() => Violation::new(
            ErrorCode::FormationViolation,
            "payload is not a JSON object",
        ),
        ValidationErrorKind::Type { .. } => Violation::new(
            ErrorCode::TypeConstraintViolation,
            format!("{path}: {error}"),
        ),
        ValidationErrorKind::Required { property } => Violation::new(
            ErrorCode::OccurrenceConstraintViolation,
            format!(
                "{path}/{}: required property is missing",
                property.as_str().unwrap_or_default()
            ),
        ),
        ValidationErrorKind::MinItems { .. } | ValidationErrorKind::MaxItems { .. } => {
            Violation::new(
                ErrorCode::OccurrenceConstraintViolation,
                format!("{path}: {error}"),
            )
        }
        _ => Violation::new(
            ErrorCode::PropertyConstraintViolation,
            format!("{}: {error}", if path.is_empty() { "/" } else { path }),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_code::OcppVersion;
    use serde_json::json;

    fn code_of(action: Action16, kind: PayloadKind, payload: Value) -> Option<ErrorCode> {
        validate(action, kind, &payload).err().map(|v| v.code)
    }

    #[test]
    fn every_embedded_schema_compiles() {
        for &action in Action16::ALL {
            for kind in [PayloadKind::Request, PayloadKind::Response] {
                assert!(
                    validator(action, kind).is_ok(),
                    "{action} {kind:?}: {:?}",
                    validator(action, kind).err()
                );
            }
        }
    }

    #[test]
    fn embedded_schemas_match_their_action() {
        for &action in Action16::ALL {
            for (kind, suffix) in [
                (PayloadKind::Request, "Request"),
                (PayloadKind::Response, "Response"),
            ] {
                let schema: Value =
                    serde_json::from_str(action.schema_text(kind)).unwrap_or_default();
                assert_eq!(
                    schema["title"].as_str(),
                    Some(format!("{action}{suffix}").as_str())
                );
            }
        }
    }

    #[test]
    fn missing_required_field_is_an_occurrence_violation() {
        let v = validate(Action16::Authorize, PayloadKind::Request, &json!({}));
        let v = v.err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(v.code, ErrorCode::OccurrenceConstraintViolation);
        assert_eq!(
            v.code.as_str(OcppVersion::V16),
            "OccurenceConstraintViolation"
        );
        assert_eq!(v.description, "/idTag: required property is missing");

        let v = validate(
            Action16::MeterValues,
            PayloadKind::Request,
            &json!({"connectorId": 1, "meterValue": [{"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{}]}]}),
        );
        assert_eq!(
            v.err().map(|v| v.description),
            Some("/meterValue/0/sampledValue/0/value: required property is missing".to_owned())
        );
        // minItems: 1 on meterValue
        assert_eq!(
            code_of(
                Action16::MeterValues,
                PayloadKind::Request,
                json!({"connectorId": 1, "meterValue": []})
            ),
            Some(ErrorCode::OccurrenceConstraintViolation)
        );
    }

    #[test]
    fn wrong_type_is_a_type_violation() {
        let v = validate(
            Action16::StartTransaction,
            PayloadKind::Request,
            &json!({"connectorId": "1", "idTag": "A", "meterStart": 0, "timestamp": "2024-05-01T10:00:00Z"}),
        );
        let v = v.err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(v.code, ErrorCode::TypeConstraintViolation);
        assert!(
            v.description.starts_with("/connectorId: "),
            "{}",
            v.description
        );
        assert_eq!(
            code_of(
                Action16::MeterValues,
                PayloadKind::Request,
                json!({"connectorId": 1, "meterValue": [{"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{"value": 12}]}]})
            ),
            Some(ErrorCode::TypeConstraintViolation)
        );
    }

    #[test]
    fn value_constraints_are_property_violations() {
        let long_tag = "X".repeat(21);
        for (action, payload) in [
            (Action16::Authorize, json!({"idTag": long_tag})),
            (
                Action16::StatusNotification,
                json!({"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}),
            ),
            (
                Action16::StartTransaction,
                json!({"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "yesterday"}),
            ),
            (Action16::Heartbeat, json!({"extra": 1})),
            (
                Action16::StartTransaction,
                json!({"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "2024-05-01T10:00:00"}),
            ),
        ] {
            let v = validate(action, PayloadKind::Request, &payload);
            assert_eq!(
                v.as_ref().err().map(|v| v.code),
                Some(ErrorCode::PropertyConstraintViolation),
                "{action} {payload}: {v:?}"
            );
        }
        let v = validate(
            Action16::Authorize,
            PayloadKind::Request,
            &json!({"idTag": "X".repeat(21)}),
        );
        assert!(v
            .err()
            .is_some_and(|v| v.description.starts_with("/idTag: ")));
    }

    #[test]
    fn a_non_object_payload_is_a_formation_violation() {
        assert_eq!(
            code_of(Action16::Heartbeat, PayloadKind::Request, json!([])),
            Some(ErrorCode::FormationViolation)
        );
    }

    #[test]
    fn descriptions_stay_short() {
        let huge = "x".repeat(5000);
        let v = validate(
            Action16::DataTransfer,
            PayloadKind::Request,
            &json!({"vendorId": huge}),
        );
        assert!(v
            .err()
            .is_some_and(|v| v.description.chars().count() <= 255));
    }

    #[test]
    fn decimal_limits_are_accepted() {
        let payload = json!({
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1, "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 7.3},
                        {"startPeriod": 60, "limit": 16.1},
                        {"startPeriod": 120, "limit": 32}
                    ],
                    "minChargingRate": 6.1
                }
            }
        });
        assert_eq!(
            validate(Action16::SetChargingProfile, PayloadKind::Request, &payload),
            Ok(())
        );
        for limit in [0.1, 0.3, 0.7, 1.1, 2.3, 4.6, 22.2, 1234.5, 11000.0] {
            let mut p = payload.clone();
            p["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] =
                json!(limit);
            assert_eq!(
                validate(Action16::SetChargingProfile, PayloadKind::Request, &p),
                Ok(()),
                "{limit}"
            );
        }
        let mut p = payload;
        p["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] =
            json!(7.35);
        assert_eq!(
            validate(Action16::SetChargingProfile, PayloadKind::Request, &p)
                .err()
                .map(|v| v.code),
            Some(ErrorCode::PropertyConstraintViolation)
        );
    }

    #[test]
    fn date_times_with_offsets_are_accepted() {
        for ts in [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00.123Z",
            "2024-05-01T12:00:00+02:00",
        ] {
            assert_eq!(
                validate(
                    Action16::Heartbeat,
                    PayloadKind::Response,
                    &json!({"currentTime": ts})
                ),
                Ok(()),
                "{ts}"
            );
        }
    }
}
