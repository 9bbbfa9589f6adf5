//! What both backends share: the outbox events each state change writes
//! (so SQLite and PostgreSQL emit byte-identical payloads), parsing of stored
//! enum spellings, and small helpers.

use chrono::{DateTime, Utc};
use joule_domain::auth::AuthorizationStatus;
use joule_domain::charger::{Charger, ChargerPatch, ConnectorState, StatusReport};
use joule_domain::error::StoreError;
use joule_domain::event::{EventKind, NewEvent};
use joule_domain::ids::{ChargerId, IdTag};
use joule_domain::session::{Session, StopSession};
use joule_domain::token::{IdToken, IdTokenPatch};
use joule_domain::user_group::{ChargerAccess, ChargerAccessRule, UserGroup, UserGroupId};
use serde_json::json;

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn parse_auth_status(raw: &str) -> Result<AuthorizationStatus, StoreError> {
    Ok(match raw {
        "Accepted" => AuthorizationStatus::Accepted,
        "Blocked" => AuthorizationStatus::Blocked,
        "Expired" => AuthorizationStatus::Expired,
        "Invalid" => AuthorizationStatus::Invalid,
        "ConcurrentTx" => AuthorizationStatus::ConcurrentTx,
        other => return Err(corrupt(format!("authorization status {other:?}"))),
    })
}

pub(crate) fn parse_or_corrupt<T>(
    raw: &str,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(raw).ok_or_else(|| corrupt(format!("{what} {raw:?}")))
}

pub(crate) fn charger_id(raw: &str) -> Result<ChargerId, StoreError> {
    ChargerId::parse(raw).map_err(corrupt)
}

pub(crate) fn id_tag(raw: &str) -> Result<IdTag, StoreError> {
    IdTag::parse(raw).map_err(corrupt)
}

/// Truncates to the microsecond both backends store, so comparisons made in
/// Rust agree with what a later read returns.
/// The most status reports one pricing read returns (see
/// `ChargerStore::connector_status_range`): a day of a chatty charger, with
/// room to spare.
pub(crate) const STATUS_RANGE_LIMIT: i64 = 10_000;

pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

pub(crate) fn api_scopes_text(scopes: &[joule_domain::api_key::ApiScope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn parse_api_scopes(
    raw: &str,
) -> Result<Vec<joule_domain::api_key::ApiScope>, StoreError> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse_or_corrupt(s, "api scope", joule_domain::api_key::ApiScope::parse))
        .collect()
}

// ---- outbox events -------------------------------------------------------

pub(crate) fn ev_charger_created(c: &Charger) -> NewEvent {
    NewEvent::new(EventKind::ChargerCreated, c.created_at)
        .charger(&c.id)
        .payload(json!({
            "label": c.label,
            "registration": c.registration.as_str(),
            "has_password": c.has_password,
        }))
}

pub(crate) fn ev_charger_updated(c: &Charger, patch: &ChargerPatch, at: DateTime<Utc>) -> NewEvent {
    let mut fields = Vec::new();
    if patch.label.is_some() {
        fields.push("label");
    }
    if patch.location.is_some() {
        fields.push("location");
    }
    if patch.registration.is_some() {
        fields.push("registration");
    }
    if patch.password_hash.is_some() {
        fields.push("password");
    }
    NewEvent::new(EventKind::ChargerUpdated, at)
        .charger(&c.id)
        .payload(json!({
            "fields": fields,
            "label": c.label,
            "registration": c.registration.as_str(),
            "has_password": c.has_password,
        }))
}

pub(crate) fn ev_charger_deleted(id: &ChargerId, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::ChargerDeleted, at).charger(id)
}

pub(crate) fn ev_charger_auto_registered(id: &ChargerId, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::ChargerAutoRegistered, at)
        .charger(id)
        .payload(json!({ "registration": "pending" }))
}

pub(crate) fn ev_charger_booted(
    id: &ChargerId,
    boot: &joule_domain::charger::BootInfo,
    registration: joule_domain::charger::RegistrationStatus,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::ChargerBooted, at)
        .charger(id)
        .payload(json!({
            "vendor": boot.vendor,
            "model": boot.model,
            "firmware_version": boot.firmware_version,
            "registration": registration.as_str(),
        }))
}

pub(crate) fn ev_connection(id: &ChargerId, protocol: Option<&str>, at: DateTime<Utc>) -> NewEvent {
    match protocol {
        Some(p) => NewEvent::new(EventKind::ChargerConnected, at)
            .charger(id)
            .payload(json!({ "protocol": p })),
        None => NewEvent::new(EventKind::ChargerDisconnected, at).charger(id),
    }
}

/// `previous` is the state replaced, if any.
pub(crate) fn ev_status_changed(
    id: &ChargerId,
    report: &StatusReport,
    previous: Option<&ConnectorState>,
) -> NewEvent {
    NewEvent::new(EventKind::ConnectorStatusChanged, report.effective_at())
        .charger(id)
        .payload(json!({
            "connector_id": report.connector_id.get(),
            "status": report.status.as_str(),
            "error_code": report.error_code,
            "info": report.info,
            "vendor_error_code": report.vendor_error_code,
            "previous_status": previous.map(|p| p.status.as_str()),
            "previous_error_code": previous.and_then(|p| p.error_code.clone()),
        }))
}

pub(crate) fn ev_firmware(id: &ChargerId, status: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::FirmwareStatusChanged, at)
        .charger(id)
        .payload(json!({ "status": status }))
}

pub(crate) fn ev_diagnostics(id: &ChargerId, status: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::DiagnosticsStatusChanged, at)
        .charger(id)
        .payload(json!({ "status": status }))
}

fn token_payload(t: &IdToken) -> serde_json::Value {
    json!({
        "id_tag": t.id_tag.as_str(),
        "kind": t.kind.as_str(),
        "status": t.status.as_str(),
        "expires_at": t.expires_at,
        "parent_id_tag": t.parent_id_tag.as_ref().map(|p| p.as_str()),
        "language": t.language.as_ref().map(|l| l.as_str()),
    })
}

pub(crate) fn ev_token_created(t: &IdToken) -> NewEvent {
    NewEvent::new(EventKind::TokenCreated, t.created_at).payload(token_payload(t))
}

pub(crate) fn ev_token_updated(t: &IdToken, _patch: &IdTokenPatch, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::TokenUpdated, at).payload(token_payload(t))
}

pub(crate) fn ev_token_deleted(id_tag: &IdTag, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::TokenDeleted, at).payload(json!({ "id_tag": id_tag.as_str() }))
}

pub(crate) fn ev_session_started(s: &Session) -> NewEvent {
    NewEvent::new(EventKind::SessionStarted, s.started_at)
        .charger(&s.charger_id)
        .session(s.id)
        .payload(json!({
            "transaction_id": s.transaction_id.get(),
            "connector_id": s.connector_id.get(),
            "id_tag": s.id_tag.as_str(),
            "authorization": s.start_authorization.as_str(),
            "meter_start_wh": s.meter_start_wh,
            "reservation_id": s.reservation_id,
        }))
}

pub(crate) fn ev_session_ended(s: &Session) -> NewEvent {
    NewEvent::new(
        EventKind::SessionEnded,
        s.stopped_at.unwrap_or(s.updated_at),
    )
    .charger(&s.charger_id)
    .session(s.id)
    .payload(json!({
        "transaction_id": s.transaction_id.get(),
        "connector_id": s.connector_id.get(),
        "meter_stop_wh": s.meter_stop_wh,
        "energy_wh": s.energy_wh(),
        "reason": s.stop_reason,
        "stop_id_tag": s.stop_id_tag.as_ref().map(|t| t.as_str()),
    }))
}

fn stop_payload(stop: &StopSession) -> serde_json::Value {
    json!({
        "transaction_id": stop.transaction_id.get(),
        "meter_stop_wh": stop.meter_stop_wh,
        "stopped_at": stop.stopped_at,
        "reason": stop.reason,
        "id_tag": stop.id_tag.as_ref().map(|t| t.as_str()),
    })
}

pub(crate) fn ev_stop_duplicated(s: &Session, stop: &StopSession) -> NewEvent {
    NewEvent::new(EventKind::SessionStopDuplicated, stop.received_at)
        .charger(&s.charger_id)
        .session(s.id)
        .payload(stop_payload(stop))
}

pub(crate) fn ev_stop_unmatched(stop: &StopSession) -> NewEvent {
    NewEvent::new(EventKind::SessionStopUnmatched, stop.received_at)
        .charger(&stop.charger_id)
        .payload(stop_payload(stop))
}

pub(crate) fn ev_api_key_created(k: &joule_domain::api_key::ApiKey) -> NewEvent {
    NewEvent::new(EventKind::ApiKeyCreated, k.created_at).payload(json!({
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "scopes": k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    }))
}

/// One sampled value as stored inside a meter sample row: the OCPP field
/// names, absent fields left out.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredValue {
    value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    measurand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
}

/// The sampled values of one meter sample as the JSON array stored in its
/// row. One row per sample (not per value) keeps MeterValues, the bulk of
/// all traffic, at one row and one index entry per timestamp.
pub(crate) fn encode_sampled_values(values: &[joule_domain::meter::SampledValue]) -> String {
    let stored: Vec<StoredValue> = values
        .iter()
        .map(|v| StoredValue {
            value: v.value.clone(),
            context: v.context.clone(),
            format: v.format.clone(),
            measurand: v.measurand.clone(),
            phase: v.phase.clone(),
            location: v.location.clone(),
            unit: v.unit.clone(),
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn decode_sampled_values(
    raw: &str,
) -> Result<Vec<joule_domain::meter::SampledValue>, StoreError> {
    let stored: Vec<StoredValue> =
        serde_json::from_str(raw).map_err(|e| corrupt(format!("meter sample values: {e}")))?;
    Ok(stored
        .into_iter()
        .map(|v| joule_domain::meter::SampledValue {
            value: v.value,
            context: v.context,
            format: v.format,
            measurand: v.measurand,
            phase: v.phase,
            location: v.location,
            unit: v.unit,
        })
        .collect())
}

/// A stored meter sample row: time, connector, transaction, the values'
/// JSON, arrival.
pub(crate) type SampleRow = (
    DateTime<Utc>,
    joule_domain::ids::ConnectorId,
    Option<joule_domain::ids::TransactionId>,
    String,
    DateTime<Utc>,
);

/// Stored sample rows as the flat list of sampled values the session port
/// returns.
pub(crate) fn flatten_samples(
    rows: Vec<SampleRow>,
) -> Result<Vec<joule_domain::session::StoredMeterValue>, StoreError> {
    let mut out = Vec::new();
    for (timestamp, connector_id, transaction_id, values, received_at) in rows {
        for value in decode_sampled_values(&values)? {
            out.push(joule_domain::session::StoredMeterValue {
                timestamp,
                connector_id,
                transaction_id,
                value,
                received_at,
            });
        }
    }
    Ok(out)
}

// ---- tariffs -------------------------------------------------------------

/// A session's frozen tariff from its two nullable columns.
pub(crate) fn session_tariff(
    id: Option<String>,
    version: Option<i64>,
) -> Option<joule_domain::session::SessionTariff> {
    id.zip(version)
        .map(|(tariff_id, version)| joule_domain::session::SessionTariff { tariff_id, version })
}

pub(crate) fn tariff_json(
    new: &joule_domain::tariffs::NewTariff,
) -> Result<(String, String), StoreError> {
    let body =
        serde_json::to_string(&new.tariff).map_err(|e| StoreError::Backend(e.to_string()))?;
    let ext =
        serde_json::to_string(&new.extensions).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok((body, ext))
}

pub(crate) fn parse_tariff(
    body: &str,
    extensions: &str,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> Result<joule_domain::tariffs::StoredTariff, StoreError> {
    Ok(joule_domain::tariffs::StoredTariff {
        tariff: serde_json::from_str(body).map_err(|e| corrupt(format!("tariff body: {e}")))?,
        extensions: serde_json::from_str(extensions)
            .map_err(|e| corrupt(format!("tariff extensions: {e}")))?,
        version,
        created_at,
        updated_at,
    })
}

fn tariff_payload(t: &joule_domain::tariffs::StoredTariff) -> serde_json::Value {
    json!({
        "tariff_id": t.tariff.id,
        "version": t.version,
        "currency": t.tariff.currency,
    })
}

pub(crate) fn ev_tariff_created(t: &joule_domain::tariffs::StoredTariff) -> NewEvent {
    NewEvent::new(EventKind::TariffCreated, t.created_at).payload(tariff_payload(t))
}

pub(crate) fn ev_tariff_updated(t: &joule_domain::tariffs::StoredTariff) -> NewEvent {
    NewEvent::new(EventKind::TariffUpdated, t.updated_at).payload(tariff_payload(t))
}

pub(crate) fn ev_charger_tariff_changed(
    id: &ChargerId,
    tariff_id: Option<&str>,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::ChargerTariffChanged, at)
        .charger(id)
        .payload(json!({ "tariff_id": tariff_id }))
}

pub(crate) fn ev_tariff_deleted(id: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::TariffDeleted, at).payload(json!({ "tariff_id": id }))
}

pub(crate) fn ev_tariff_default_changed(
    previous: Option<&str>,
    current: Option<&str>,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::TariffDefaultChanged, at)
        .payload(json!({ "tariff_id": current, "previous_tariff_id": previous }))
}

// ---- user groups ---------------------------------------------------------

fn group_payload(g: &UserGroup) -> serde_json::Value {
    json!({ "group_id": g.id.as_str(), "name": g.name })
}

pub(crate) fn ev_user_group_created(g: &UserGroup) -> NewEvent {
    NewEvent::new(EventKind::UserGroupCreated, g.created_at).payload(group_payload(g))
}

pub(crate) fn ev_user_group_updated(g: &UserGroup) -> NewEvent {
    NewEvent::new(EventKind::UserGroupUpdated, g.updated_at).payload(group_payload(g))
}

pub(crate) fn ev_user_group_deleted(id: &UserGroupId, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::UserGroupDeleted, at).payload(json!({ "group_id": id.as_str() }))
}

fn group_strs(groups: &[UserGroupId]) -> Vec<&str> {
    groups.iter().map(UserGroupId::as_str).collect()
}

pub(crate) fn ev_token_groups_changed(
    id_tag: &IdTag,
    groups: &[UserGroupId],
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::TokenGroupsChanged, at)
        .payload(json!({ "id_tag": id_tag.as_str(), "groups": group_strs(groups) }))
}

pub(crate) fn ev_charger_access_changed(
    id: &ChargerId,
    rule: &ChargerAccessRule,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::ChargerAccessChanged, at)
        .charger(id)
        .payload(json!({
            "access": rule.access.as_str(),
            "allowed_groups": group_strs(&rule.allowed_groups),
        }))
}

pub(crate) fn parse_group_id(raw: &str) -> Result<UserGroupId, StoreError> {
    UserGroupId::parse(raw).map_err(|e| corrupt(format!("user group id {raw:?}: {e}")))
}

pub(crate) fn parse_access(raw: &str) -> Result<ChargerAccess, StoreError> {
    ChargerAccess::parse(raw).ok_or_else(|| corrupt(format!("charger access {raw:?}")))
}

/// Sorted, without duplicates: what the store keeps and returns.
pub(crate) fn normalized(mut groups: Vec<UserGroupId>) -> Vec<UserGroupId> {
    groups.sort();
    groups.dedup();
    groups
}

#[cfg(test)]
mod sampled_value_tests {
    use super::*;
    use joule_domain::meter::SampledValue;

    #[test]
    fn sampled_values_round_trip_verbatim() {
        let values = vec![
            SampledValue {
                value: "OCMF|{\"FV\":\"1.0\"}|{\"SD\":\"30\"}".into(),
                context: Some("Transaction.End".into()),
                format: Some("SignedData".into()),
                measurand: None,
                phase: None,
                location: None,
                unit: None,
            },
            SampledValue {
                value: "16.1".into(),
                context: None,
                format: None,
                measurand: Some("Current.Import".into()),
                phase: Some("L1".into()),
                location: Some("Outlet".into()),
                unit: Some("A".into()),
            },
        ];
        let raw = encode_sampled_values(&values);
        assert!(!raw.contains("null"), "{raw}");
        assert_eq!(decode_sampled_values(&raw).unwrap(), values);
    }
}
