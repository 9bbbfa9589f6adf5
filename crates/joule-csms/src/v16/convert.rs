//! Wire (OCPP 1.6) ↔ domain conversions. The domain never sees a 1.6 type.

use chrono::{DateTime, Utc};
use joule_domain::charging::auth::{AuthorizationDecision, AuthorizationStatus};
use joule_domain::charging::charger::{
    BootInfo, ConnectorStatus, RegistrationStatus, StatusReport,
};
use joule_domain::charging::meter::{MeterSample, SampledValue};
use joule_domain::{ConnectorId, IdToken, TransactionId};
use joule_ocpp::v16;
use serde::Serialize;

use super::handler::HandlerError;
use super::id_tags;

/// The wire spelling of a 1.6 enum value (its serde name).
pub(crate) fn wire<T: Serialize>(value: &T) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

pub(crate) fn connector(n: i32) -> Result<ConnectorId, HandlerError> {
    u32::try_from(n)
        .ok()
        .and_then(|n| ConnectorId::new(n).ok())
        .ok_or_else(|| HandlerError::Invalid(format!("connectorId {n} is out of range")))
}

pub(crate) fn id_tag(raw: &str) -> Result<IdToken, HandlerError> {
    IdToken::parse(raw).map_err(|e| HandlerError::Invalid(format!("idTag: {e}")))
}

/// A 1.6 transaction id; `None` for values Joule never assigns (≤ 0), which
/// some chargers send for transactions started offline.
pub(crate) fn transaction_id(n: i32) -> Option<TransactionId> {
    TransactionId::new(i64::from(n)).ok()
}

pub(crate) fn boot_info(req: v16::BootNotificationRequest) -> BootInfo {
    BootInfo {
        vendor: req.charge_point_vendor,
        model: req.charge_point_model,
        charge_point_serial_number: req.charge_point_serial_number,
        charge_box_serial_number: req.charge_box_serial_number,
        firmware_version: req.firmware_version,
        iccid: req.iccid,
        imsi: req.imsi,
        meter_type: req.meter_type,
        meter_serial_number: req.meter_serial_number,
    }
}

pub(crate) fn registration(status: RegistrationStatus) -> v16::RegistrationStatus {
    match status {
        RegistrationStatus::Accepted => v16::RegistrationStatus::Accepted,
        RegistrationStatus::Pending => v16::RegistrationStatus::Pending,
        RegistrationStatus::Rejected => v16::RegistrationStatus::Rejected,
    }
}

pub(crate) fn connector_status(status: v16::ChargePointStatus) -> ConnectorStatus {
    use v16::ChargePointStatus as W;
    match status {
        W::Available => ConnectorStatus::Available,
        W::Preparing => ConnectorStatus::Preparing,
        W::Charging => ConnectorStatus::Charging,
        W::SuspendedEvse => ConnectorStatus::SuspendedEVSE,
        W::SuspendedEv => ConnectorStatus::SuspendedEV,
        W::Finishing => ConnectorStatus::Finishing,
        W::Reserved => ConnectorStatus::Reserved,
        W::Unavailable => ConnectorStatus::Unavailable,
        W::Faulted => ConnectorStatus::Faulted,
    }
}

pub(crate) fn status_report(
    req: v16::StatusNotificationRequest,
    received_at: DateTime<Utc>,
) -> Result<StatusReport, HandlerError> {
    let error_code = match req.error_code {
        v16::ChargePointErrorCode::NoError => None,
        other => wire(&other),
    };
    Ok(StatusReport {
        connector_id: connector(req.connector_id)?,
        status: connector_status(req.status),
        error_code,
        info: req.info,
        vendor_id: req.vendor_id,
        vendor_error_code: req.vendor_error_code,
        reported_at: req.timestamp,
        received_at,
    })
}

pub(crate) fn id_tag_info(decision: &AuthorizationDecision) -> v16::IdTagInfo {
    let status = match decision.status {
        AuthorizationStatus::Accepted => v16::AuthorizationStatus::Accepted,
        AuthorizationStatus::Blocked => v16::AuthorizationStatus::Blocked,
        AuthorizationStatus::Expired => v16::AuthorizationStatus::Expired,
        AuthorizationStatus::Invalid => v16::AuthorizationStatus::Invalid,
        AuthorizationStatus::ConcurrentTx => v16::AuthorizationStatus::ConcurrentTx,
    };
    v16::IdTagInfo {
        status,
        expiry_date: decision.expiry_date,
        // Left out when longer than 1.6 allows: the answer itself cannot be
        // refused (the driver is waiting, and the schema check of our own
        // answer would fail), and parentIdTag is optional. Without it the
        // charger treats the tag as its own group, so at worst another card
        // of the same fleet cannot stop this session at the charger.
        parent_id_tag: decision
            .parent_id_tag
            .as_ref()
            .filter(|t| id_tags::fits(t))
            .map(|t| t.as_str().to_owned()),
    }
}

/// The log note for an authorization: the reason when it was refused.
pub(crate) fn refusal_note(decision: &AuthorizationDecision) -> Option<String> {
    (!decision.is_accepted()).then(|| {
        format!(
            "authorization {}: {}",
            decision.status.as_str(),
            decision.reason.as_str()
        )
    })
}

/// Every sampled value verbatim (enum fields in their wire spelling).
pub(crate) fn meter_samples(values: Vec<v16::MeterValue>) -> Vec<MeterSample> {
    values
        .into_iter()
        .map(|mv| MeterSample {
            timestamp: mv.timestamp,
            values: mv
                .sampled_value
                .into_iter()
                .map(|sv| SampledValue {
                    value: sv.value,
                    context: sv.context.as_ref().and_then(wire),
                    format: sv.format.as_ref().and_then(wire),
                    measurand: sv.measurand.as_ref().and_then(wire),
                    phase: sv.phase.as_ref().and_then(wire),
                    location: sv.location.as_ref().and_then(wire),
                    unit: sv.unit.as_ref().and_then(wire),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_keep_their_wire_spelling() {
        assert_eq!(
            wire(&v16::Measurand::EnergyActiveImportRegister).as_deref(),
            Some("Energy.Active.Import.Register")
        );
        assert_eq!(wire(&v16::UnitOfMeasure::KWh).as_deref(), Some("kWh"));
        assert_eq!(wire(&v16::Phase::L1N).as_deref(), Some("L1-N"));
        assert_eq!(
            wire(&v16::ChargePointErrorCode::EvCommunicationError).as_deref(),
            Some("EVCommunicationError")
        );
    }

    #[test]
    fn transaction_ids_at_or_below_zero_are_not_ours() {
        assert!(transaction_id(0).is_none());
        assert!(transaction_id(-1).is_none());
        assert!(transaction_id(7).is_some());
    }

    #[test]
    fn a_parent_tag_too_long_for_16_is_left_out_of_the_answer() {
        let decision = |parent: &str| AuthorizationDecision {
            parent_id_tag: Some(IdToken::parse(parent).unwrap()),
            ..AuthorizationDecision::web_payment()
        };
        let fleet = "F".repeat(20);
        assert_eq!(
            id_tag_info(&decision(&fleet)).parent_id_tag.as_deref(),
            Some(fleet.as_str())
        );
        let info = id_tag_info(&decision(&"F".repeat(21)));
        assert_eq!(info.parent_id_tag, None);
        assert_eq!(info.status, v16::AuthorizationStatus::Accepted);
    }

    #[test]
    fn connector_ids_are_bounded() {
        assert!(connector(-1).is_err());
        assert!(connector(1001).is_err());
        assert!(connector(0).is_ok());
    }
}
