//! Where a site or a tariff assignment applies, as both backends store it:
//! scope columns and back, site ids, addresses and time zones.

use crate::values::corrupt;
use chrono::{DateTime, Utc};
use joule_domain::charging::site::{parse_time_zone, SiteAddress, SiteId};
use joule_domain::charging::user_group::UserGroupId;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, ConnectorId, IdToken};
use joule_domain::pricing::assignment::{
    AssignmentId, AssignmentScope, ScopeKind, TariffAssignment,
};

/// An assignment's scope as the columns of `tariff_assignments`.
#[derive(Debug, Default)]
pub(crate) struct ScopeCols {
    pub site_id: Option<String>,
    pub charger_id: Option<String>,
    pub connector_id: Option<i64>,
    pub group_id: Option<String>,
    pub id_tag: Option<String>,
    pub id_tag_key: Option<String>,
}

pub(crate) fn scope_cols(scope: &AssignmentScope) -> ScopeCols {
    match scope {
        AssignmentScope::IdToken { id_tag } => ScopeCols {
            id_tag: Some(id_tag.as_str().to_owned()),
            id_tag_key: Some(id_tag.key()),
            ..ScopeCols::default()
        },
        AssignmentScope::UserGroup { group_id, site_id } => ScopeCols {
            group_id: Some(group_id.as_str().to_owned()),
            site_id: site_id.as_ref().map(|s| s.as_str().to_owned()),
            ..ScopeCols::default()
        },
        AssignmentScope::Connector {
            charger_id,
            connector_id,
        } => ScopeCols {
            charger_id: Some(charger_id.as_str().to_owned()),
            connector_id: Some(i64::from(connector_id.get())),
            ..ScopeCols::default()
        },
        AssignmentScope::Charger { charger_id } => ScopeCols {
            charger_id: Some(charger_id.as_str().to_owned()),
            ..ScopeCols::default()
        },
        AssignmentScope::Site { site_id } => ScopeCols {
            site_id: Some(site_id.as_str().to_owned()),
            ..ScopeCols::default()
        },
    }
}

fn need<T>(v: Option<T>, what: &str) -> Result<T, StoreError> {
    v.ok_or_else(|| corrupt(format!("tariff assignment without {what}")))
}

pub(crate) fn site_id(raw: &str) -> Result<SiteId, StoreError> {
    SiteId::parse(raw).map_err(|e| corrupt(format!("site id {raw:?}: {e}")))
}

/// A stored row back into an assignment.
#[allow(clippy::too_many_arguments)]
pub(crate) fn assignment(
    id: &str,
    tariff_id: String,
    kind: &str,
    cols: ScopeCols,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
) -> Result<TariffAssignment, StoreError> {
    let kind = ScopeKind::parse(kind).ok_or_else(|| corrupt(format!("scope {kind:?}")))?;
    let charger = |c: Option<String>| {
        need(c, "charger_id").and_then(|c| ChargerId::parse(&c).map_err(corrupt))
    };
    let scope = match kind {
        ScopeKind::IdToken => AssignmentScope::IdToken {
            id_tag: IdToken::parse(&need(cols.id_tag, "id_tag")?).map_err(corrupt)?,
        },
        ScopeKind::UserGroup => AssignmentScope::UserGroup {
            group_id: UserGroupId::parse(&need(cols.group_id, "group_id")?).map_err(corrupt)?,
            site_id: cols.site_id.as_deref().map(site_id).transpose()?,
        },
        ScopeKind::Connector => AssignmentScope::Connector {
            charger_id: charger(cols.charger_id)?,
            connector_id: need(cols.connector_id, "connector_id").and_then(|n| {
                u32::try_from(n)
                    .ok()
                    .and_then(|n| ConnectorId::new(n).ok())
                    .ok_or_else(|| corrupt(format!("connector id {n}")))
            })?,
        },
        ScopeKind::Charger => AssignmentScope::Charger {
            charger_id: charger(cols.charger_id)?,
        },
        ScopeKind::Site => AssignmentScope::Site {
            site_id: site_id(&need(cols.site_id, "site_id")?)?,
        },
    };
    Ok(TariffAssignment {
        id: AssignmentId::parse(id).map_err(corrupt)?,
        tariff_id,
        scope,
        valid_from,
        valid_until,
        created_at,
    })
}

pub(crate) fn parse_address(raw: &str) -> Result<SiteAddress, StoreError> {
    serde_json::from_str(raw).map_err(|e| corrupt(format!("site address: {e}")))
}

pub(crate) fn address_json(a: &SiteAddress) -> Result<String, StoreError> {
    serde_json::to_string(a).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn parse_tz(raw: &str) -> Result<chrono_tz::Tz, StoreError> {
    parse_time_zone(raw).map_err(corrupt)
}
