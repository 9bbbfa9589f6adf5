//! What both backends share for sites and tariff assignments: how a scope
//! maps to columns and back, and the outbox events (identical payloads on
//! SQLite and PostgreSQL).

use chrono::{DateTime, Utc};
use joule_domain::error::StoreError;
use joule_domain::event::{EventKind, NewEvent};
use joule_domain::ids::{ChargerId, ConnectorId, IdTag};
use joule_domain::site::{parse_time_zone, Site, SiteAddress, SiteId};
use joule_domain::tariff_assignment::{AssignmentId, AssignmentScope, ScopeKind, TariffAssignment};
use joule_domain::user_group::UserGroupId;
use serde_json::json;

use crate::common::corrupt;

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
            id_tag: IdTag::parse(&need(cols.id_tag, "id_tag")?).map_err(corrupt)?,
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

fn site_payload(s: &Site) -> serde_json::Value {
    json!({
        "site_id": s.id.as_str(),
        "name": s.name,
        "time_zone": s.time_zone.name(),
        "language": s.language,
        "address": s.address,
        "access": s.access.access.as_str(),
        "allowed_groups": s.access.allowed_groups.iter().map(UserGroupId::as_str).collect::<Vec<_>>(),
    })
}

pub(crate) fn ev_site_created(s: &Site) -> NewEvent {
    NewEvent::new(EventKind::SiteCreated, s.updated_at).payload(site_payload(s))
}

pub(crate) fn ev_site_updated(s: &Site) -> NewEvent {
    NewEvent::new(EventKind::SiteUpdated, s.updated_at).payload(site_payload(s))
}

pub(crate) fn ev_site_deleted(id: &SiteId, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::SiteDeleted, at).payload(json!({ "site_id": id.as_str() }))
}

pub(crate) fn ev_charger_site_changed(
    id: &ChargerId,
    site: Option<&SiteId>,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::ChargerSiteChanged, at)
        .charger(id)
        .payload(json!({ "site_id": site.map(SiteId::as_str) }))
}

fn assignment_payload(a: &TariffAssignment) -> serde_json::Value {
    let cols = scope_cols(&a.scope);
    json!({
        "assignment_id": a.id.to_string(),
        "tariff_id": a.tariff_id,
        "scope": a.scope.kind().as_str(),
        "site_id": cols.site_id,
        "charger_id": cols.charger_id,
        "connector_id": cols.connector_id,
        "group_id": cols.group_id,
        "id_tag": cols.id_tag,
        "valid_from": a.valid_from,
        "valid_until": a.valid_until,
    })
}

pub(crate) fn ev_assignment_created(a: &TariffAssignment) -> NewEvent {
    NewEvent::new(EventKind::TariffAssignmentCreated, a.created_at).payload(assignment_payload(a))
}

pub(crate) fn ev_assignment_deleted(a: &TariffAssignment, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::TariffAssignmentDeleted, at).payload(assignment_payload(a))
}
