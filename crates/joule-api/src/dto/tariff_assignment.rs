//! Tariff assignments.

use chrono::{DateTime, Utc};
use joule_domain::charging::site::SiteId;
use joule_domain::charging::user_group::UserGroupId;
use joule_domain::pricing::assignment::{self as domain, AssignmentScope, ScopeKind};
use joule_domain::ConnectorId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// What a tariff is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    IdToken,
    UserGroup,
    Connector,
    Charger,
    Site,
}

impl From<ScopeKind> for Scope {
    fn from(k: ScopeKind) -> Self {
        match k {
            ScopeKind::IdToken => Self::IdToken,
            ScopeKind::UserGroup => Self::UserGroup,
            ScopeKind::Connector => Self::Connector,
            ScopeKind::Charger => Self::Charger,
            ScopeKind::Site => Self::Site,
        }
    }
}

impl From<Scope> for ScopeKind {
    fn from(s: Scope) -> Self {
        match s {
            Scope::IdToken => Self::IdToken,
            Scope::UserGroup => Self::UserGroup,
            Scope::Connector => Self::Connector,
            Scope::Charger => Self::Charger,
            Scope::Site => Self::Site,
        }
    }
}

/// A tariff given to a site, charger, connector, user group (optionally at
/// one site) or id token, from `valid_from` (inclusive) until `valid_until`
/// (exclusive). The fields naming the target depend on `scope`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TariffAssignment {
    pub id: String,
    pub tariff_id: String,
    pub scope: Scope,
    /// `site` scope; or the one site a `user_group` assignment is limited to.
    pub site_id: Option<String>,
    /// `charger` and `connector` scopes.
    pub charger_id: Option<String>,
    /// `connector` scope.
    pub connector_id: Option<u32>,
    /// `user_group` scope.
    pub group_id: Option<String>,
    /// `id_token` scope.
    pub id_tag: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<domain::TariffAssignment> for TariffAssignment {
    fn from(a: domain::TariffAssignment) -> Self {
        let mut out = Self {
            id: a.id.to_string(),
            tariff_id: a.tariff_id,
            scope: a.scope.kind().into(),
            site_id: None,
            charger_id: None,
            connector_id: None,
            group_id: None,
            id_tag: None,
            valid_from: a.valid_from,
            valid_until: a.valid_until,
            created_at: a.created_at,
        };
        match a.scope {
            AssignmentScope::IdToken { id_tag } => out.id_tag = Some(id_tag.to_string()),
            AssignmentScope::UserGroup { group_id, site_id } => {
                out.group_id = Some(group_id.to_string());
                out.site_id = site_id.map(|s| s.to_string());
            }
            AssignmentScope::Connector {
                charger_id,
                connector_id,
            } => {
                out.charger_id = Some(charger_id.to_string());
                out.connector_id = Some(connector_id.get());
            }
            AssignmentScope::Charger { charger_id } => {
                out.charger_id = Some(charger_id.to_string());
            }
            AssignmentScope::Site { site_id } => out.site_id = Some(site_id.to_string()),
        }
        out
    }
}

/// An assignment to create. Give exactly the target fields of `scope`:
/// `id_token`: `id_tag`; `user_group`: `group_id` (and optionally
/// `site_id`); `connector`: `charger_id` and `connector_id`; `charger`:
/// `charger_id`; `site`: `site_id`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTariffAssignment {
    pub tariff_id: String,
    pub scope: Scope,
    pub site_id: Option<String>,
    pub charger_id: Option<String>,
    pub connector_id: Option<u32>,
    pub group_id: Option<String>,
    pub id_tag: Option<String>,
    /// Inclusive; absent means since ever.
    pub valid_from: Option<DateTime<Utc>>,
    /// Exclusive; must be after `valid_from`; absent means until further
    /// notice.
    pub valid_until: Option<DateTime<Utc>>,
}

impl CreateTariffAssignment {
    pub fn validate(self) -> Result<domain::NewTariffAssignment, ApiError> {
        let mut errors = QueryErrors::new();
        let (needs, allows): (&[&str], &[&str]) = match self.scope {
            Scope::IdToken => (&["id_tag"], &["id_tag"]),
            Scope::UserGroup => (&["group_id"], &["group_id", "site_id"]),
            Scope::Connector => (
                &["charger_id", "connector_id"],
                &["charger_id", "connector_id"],
            ),
            Scope::Charger => (&["charger_id"], &["charger_id"]),
            Scope::Site => (&["site_id"], &["site_id"]),
        };
        let given = [
            ("site_id", self.site_id.is_some()),
            ("charger_id", self.charger_id.is_some()),
            ("connector_id", self.connector_id.is_some()),
            ("group_id", self.group_id.is_some()),
            ("id_tag", self.id_tag.is_some()),
        ];
        let scope = ScopeKind::from(self.scope).as_str();
        for (field, present) in given {
            if present && !allows.contains(&field) {
                errors.push(field, format!("not allowed with scope {scope}"));
            }
            if !present && needs.contains(&field) {
                errors.push(field, format!("is required with scope {scope}"));
            }
        }
        if self.tariff_id.is_empty() {
            errors.push("tariff_id", "must not be empty");
        }
        let site_id = errors.opt("site_id", self.site_id.as_deref(), SiteId::parse);
        let charger_id = errors.charger_id("charger_id", self.charger_id.as_deref());
        let connector_id = match self.connector_id {
            Some(n) if n >= 1 => ConnectorId::new(n)
                .map_err(|e| errors.push("connector_id", e.to_string()))
                .ok(),
            Some(_) => {
                errors.push("connector_id", "must be at least 1");
                None
            }
            None => None,
        };
        let group_id = errors.opt("group_id", self.group_id.as_deref(), UserGroupId::parse);
        let id_tag = errors.id_tag("id_tag", self.id_tag.as_deref());
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if until <= from {
                errors.push(
                    "valid_until",
                    domain::AssignmentError::EmptyWindow.to_string(),
                );
            }
        }
        errors.finish()?;
        let missing = || ApiError::Internal("validated assignment without its target".into());
        let scope = match self.scope {
            Scope::IdToken => AssignmentScope::IdToken {
                id_tag: id_tag.ok_or_else(missing)?,
            },
            Scope::UserGroup => AssignmentScope::UserGroup {
                group_id: group_id.ok_or_else(missing)?,
                site_id,
            },
            Scope::Connector => AssignmentScope::Connector {
                charger_id: charger_id.ok_or_else(missing)?,
                connector_id: connector_id.ok_or_else(missing)?,
            },
            Scope::Charger => AssignmentScope::Charger {
                charger_id: charger_id.ok_or_else(missing)?,
            },
            Scope::Site => AssignmentScope::Site {
                site_id: site_id.ok_or_else(missing)?,
            },
        };
        let new = domain::NewTariffAssignment {
            tariff_id: self.tariff_id,
            scope,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        };
        new.check()
            .map_err(|e| ApiError::field("valid_until", e.to_string()))?;
        Ok(new)
    }
}

/// Filters and paging of the assignment list (all given filters must match).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TariffAssignmentQuery {
    pub tariff_id: Option<String>,
    /// `id_token`, `user_group`, `connector`, `charger` or `site`.
    pub scope: Option<String>,
    pub site_id: Option<String>,
    pub charger_id: Option<String>,
    pub group_id: Option<String>,
    pub id_tag: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Items to skip.
    pub offset: Option<String>,
}

impl TariffAssignmentQuery {
    pub fn parse(
        self,
    ) -> Result<(domain::AssignmentFilter, joule_domain::kernel::page::Page), ApiError> {
        let mut errors = QueryErrors::new();
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        let scope = errors.opt("scope", self.scope.as_deref(), |raw| {
            ScopeKind::parse(raw).ok_or("must be id_token, user_group, connector, charger or site")
        });
        let filter = domain::AssignmentFilter {
            tariff_id: self.tariff_id,
            scope,
            site_id: errors.opt("site_id", self.site_id.as_deref(), SiteId::parse),
            charger_id: errors.charger_id("charger_id", self.charger_id.as_deref()),
            group_id: errors.opt("group_id", self.group_id.as_deref(), UserGroupId::parse),
            id_tag: errors.id_tag("id_tag", self.id_tag.as_deref()),
        };
        errors.finish()?;
        Ok((filter, page))
    }
}
