//! User groups, token memberships and charger access.

use chrono::{DateTime, Utc};
use joule_domain::charging::user_group as domain;
use joule_domain::charging::user_group::UserGroupId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::check_label;
use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// A group of id tokens, e.g. the operator's employees.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserGroup {
    /// Slug: lowercase letters, digits, `-` and `_`, at most 64 characters.
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<domain::UserGroup> for UserGroup {
    fn from(g: domain::UserGroup) -> Self {
        Self {
            id: g.id.to_string(),
            name: g.name,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// A group to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserGroup {
    /// Slug: lowercase letters, digits, `-` and `_`, starting with a letter
    /// or digit, at most 64 characters.
    pub id: String,
    pub name: String,
}

impl CreateUserGroup {
    pub fn validate(self) -> Result<domain::NewUserGroup, ApiError> {
        let mut errors = QueryErrors::new();
        let id = errors.opt("id", Some(&self.id), UserGroupId::parse);
        let name = check_label(&mut errors, "name", Some(self.name));
        errors.finish()?;
        match (id, name) {
            (Some(id), Some(name)) => Ok(domain::NewUserGroup { id, name }),
            _ => Err(ApiError::Internal("validated group without fields".into())),
        }
    }
}

/// A partial update of a group.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserGroup {
    pub name: Option<String>,
}

impl UpdateUserGroup {
    pub fn validate(self) -> Result<domain::UserGroupPatch, ApiError> {
        let mut errors = QueryErrors::new();
        let name = check_label(&mut errors, "name", self.name);
        errors.finish()?;
        Ok(domain::UserGroupPatch { name })
    }
}

/// Paging of the group list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserGroupQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Items to skip.
    pub offset: Option<String>,
}

impl UserGroupQuery {
    pub fn parse(self) -> Result<joule_domain::kernel::page::Page, ApiError> {
        let mut errors = QueryErrors::new();
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok(page)
    }
}

/// Parses a list of group ids from a body field; errors name each entry.
pub(crate) fn parse_groups(
    errors: &mut QueryErrors,
    field: &str,
    raw: &[String],
) -> Vec<UserGroupId> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, g)| errors.opt(&format!("{field}[{i}]"), Some(g), UserGroupId::parse))
        .collect()
}

/// The groups an id token belongs to (replaced in full by PUT).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenGroups {
    /// Group ids; sorted and without duplicates in answers.
    pub groups: Vec<String>,
}

impl TokenGroups {
    pub fn validate(self) -> Result<Vec<UserGroupId>, ApiError> {
        let mut errors = QueryErrors::new();
        let groups = parse_groups(&mut errors, "groups", &self.groups);
        errors.finish()?;
        Ok(groups)
    }

    pub fn from_domain(groups: &[UserGroupId]) -> Self {
        Self {
            groups: groups.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Who may charge at a charger.
///
/// * `public`: any accepted token.
/// * `private`: only tokens in one of `allowed_groups` (others get
///   `Invalid`, reason `not_in_allowed_group`); hidden from the public.
/// * `restricted`: the same rule as `private`, but visible to the public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Public,
    Private,
    Restricted,
}

impl From<domain::ChargerAccess> for Access {
    fn from(a: domain::ChargerAccess) -> Self {
        match a {
            domain::ChargerAccess::Public => Self::Public,
            domain::ChargerAccess::Private => Self::Private,
            domain::ChargerAccess::Restricted => Self::Restricted,
        }
    }
}

impl From<Access> for domain::ChargerAccess {
    fn from(a: Access) -> Self {
        match a {
            Access::Public => Self::Public,
            Access::Private => Self::Private,
            Access::Restricted => Self::Restricted,
        }
    }
}

/// A charger's access rule (replaced in full by PUT).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargerAccess {
    pub access: Access,
    /// Groups whose tokens may charge when `access` is `private` or
    /// `restricted`; kept but ignored when `public`.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
}

impl ChargerAccess {
    pub fn validate(self) -> Result<domain::ChargerAccessRule, ApiError> {
        let mut errors = QueryErrors::new();
        let allowed_groups = parse_groups(&mut errors, "allowed_groups", &self.allowed_groups);
        errors.finish()?;
        Ok(domain::ChargerAccessRule {
            access: self.access.into(),
            allowed_groups,
        })
    }
}

impl From<domain::ChargerAccessRule> for ChargerAccess {
    fn from(r: domain::ChargerAccessRule) -> Self {
        Self {
            access: r.access.into(),
            allowed_groups: r.allowed_groups.iter().map(ToString::to_string).collect(),
        }
    }
}
