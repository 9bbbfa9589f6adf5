//! How domain values are spelled in columns, the same on both backends:
//! ids, enum spellings, API scopes, sampled values, tariff bodies, user group
//! ids and access rules, and the microsecond precision both keep.

use chrono::{DateTime, Utc};
use joule_domain::charging::auth::AuthorizationStatus;
use joule_domain::charging::user_group::{ChargerAccess, UserGroupId};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, IdToken};

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

pub(crate) fn id_tag(raw: &str) -> Result<IdToken, StoreError> {
    IdToken::parse(raw).map_err(corrupt)
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

pub(crate) fn api_scopes_text(scopes: &[joule_domain::access::api_key::ApiScope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn parse_api_scopes(
    raw: &str,
) -> Result<Vec<joule_domain::access::api_key::ApiScope>, StoreError> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse_or_corrupt(
                s,
                "api scope",
                joule_domain::access::api_key::ApiScope::parse,
            )
        })
        .collect()
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
pub(crate) fn encode_sampled_values(
    values: &[joule_domain::charging::meter::SampledValue],
) -> String {
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
) -> Result<Vec<joule_domain::charging::meter::SampledValue>, StoreError> {
    let stored: Vec<StoredValue> =
        serde_json::from_str(raw).map_err(|e| corrupt(format!("meter sample values: {e}")))?;
    Ok(stored
        .into_iter()
        .map(|v| joule_domain::charging::meter::SampledValue {
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
    joule_domain::kernel::ids::ConnectorId,
    Option<joule_domain::kernel::ids::TransactionId>,
    String,
    DateTime<Utc>,
);

/// Stored sample rows as the flat list of sampled values the session port
/// returns.
pub(crate) fn flatten_samples(
    rows: Vec<SampleRow>,
) -> Result<Vec<joule_domain::charging::session::StoredMeterValue>, StoreError> {
    let mut out = Vec::new();
    for (timestamp, connector_id, transaction_id, values, received_at) in rows {
        for value in decode_sampled_values(&values)? {
            out.push(joule_domain::charging::session::StoredMeterValue {
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
) -> Option<joule_domain::charging::session::SessionTariff> {
    id.zip(version).map(
        |(tariff_id, version)| joule_domain::charging::session::SessionTariff {
            tariff_id,
            version,
        },
    )
}

pub(crate) fn tariff_json(
    new: &joule_domain::pricing::stored::NewTariff,
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
) -> Result<joule_domain::pricing::stored::StoredTariff, StoreError> {
    Ok(joule_domain::pricing::stored::StoredTariff {
        tariff: serde_json::from_str(body).map_err(|e| corrupt(format!("tariff body: {e}")))?,
        extensions: serde_json::from_str(extensions)
            .map_err(|e| corrupt(format!("tariff extensions: {e}")))?,
        version,
        created_at,
        updated_at,
    })
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
    use joule_domain::charging::meter::SampledValue;

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
