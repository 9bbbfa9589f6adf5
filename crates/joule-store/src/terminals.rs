//! What both backends share about terminals: how a scope is stored
//! (`scope` + a JSON `targets` column) and how a key is recognised.

use crate::values::{self, corrupt};
use chrono::{DateTime, Utc};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::ConnectorId;
use joule_domain::payments::terminal::{TerminalId, TerminalKey, TerminalScope, TerminalTarget};
use serde_json::json;

type R<T> = Result<T, StoreError>;

pub(crate) fn terminal_id(raw: &str) -> R<TerminalId> {
    TerminalId::parse(raw).map_err(corrupt)
}

/// `(scope, targets JSON)` as stored.
pub(crate) fn scope_cols(scope: &TerminalScope) -> (&'static str, Option<String>) {
    match scope {
        TerminalScope::Site => ("site", None),
        TerminalScope::Chargers { targets } => {
            let list: Vec<_> = targets
                .iter()
                .map(|t| {
                    json!({
                        "charger_id": t.charger_id.as_str(),
                        "connector_id": t.connector_id.map(ConnectorId::get),
                    })
                })
                .collect();
            ("chargers", Some(serde_json::Value::from(list).to_string()))
        }
    }
}

pub(crate) fn parse_scope(kind: &str, targets: Option<&str>) -> R<TerminalScope> {
    match (kind, targets) {
        ("site", _) => Ok(TerminalScope::Site),
        ("chargers", Some(raw)) => {
            let list: Vec<serde_json::Value> =
                serde_json::from_str(raw).map_err(|e| corrupt(format!("terminal targets: {e}")))?;
            let targets = list
                .iter()
                .map(|v| {
                    let charger = v["charger_id"]
                        .as_str()
                        .ok_or_else(|| corrupt("terminal target without charger_id"))?;
                    let connector = match v["connector_id"].as_u64() {
                        None => None,
                        Some(n) => Some(
                            u32::try_from(n)
                                .ok()
                                .and_then(|n| ConnectorId::new(n).ok())
                                .ok_or_else(|| corrupt(format!("terminal connector {n}")))?,
                        ),
                    };
                    Ok(TerminalTarget {
                        charger_id: values::charger_id(charger)?,
                        connector_id: connector,
                    })
                })
                .collect::<R<Vec<_>>>()?;
            Ok(TerminalScope::Chargers { targets })
        }
        (other, _) => Err(corrupt(format!("terminal scope {other:?}"))),
    }
}

/// The key columns read back: all three or none.
pub(crate) fn key_of(
    prefix: Option<String>,
    hash: Option<String>,
    issued_at: Option<DateTime<Utc>>,
) -> Option<TerminalKey> {
    match (prefix, hash, issued_at) {
        (Some(prefix), Some(secret_hash), Some(issued_at)) => Some(TerminalKey {
            prefix,
            secret_hash,
            issued_at,
        }),
        _ => None,
    }
}
