//! Sites.

use chrono::{DateTime, Utc};
use joule_domain::charging::site::{self as domain, SiteId};
use joule_domain::charging::user_group::ChargerAccessRule;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::check_label;
use super::user_group::{parse_groups, Access};
use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// A postal address; every field optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteAddress {
    pub street: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2 or alpha-3.
    pub country: Option<String>,
}

/// Where chargers stand: gives them a time zone for time-of-day prices, a
/// default language for driver texts and an access rule they inherit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Site {
    pub id: String,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Madrid`.
    pub time_zone: String,
    /// ISO 639-1.
    pub language: String,
    pub address: SiteAddress,
    /// Inherited by the site's chargers that have no rule of their own.
    pub access: Access,
    pub allowed_groups: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<domain::Site> for Site {
    fn from(s: domain::Site) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name,
            time_zone: s.time_zone.name().to_owned(),
            language: s.language,
            address: SiteAddress {
                street: s.address.street,
                city: s.address.city,
                postal_code: s.address.postal_code,
                state: s.address.state,
                country: s.address.country,
            },
            access: s.access.access.into(),
            allowed_groups: s
                .access
                .allowed_groups
                .iter()
                .map(ToString::to_string)
                .collect(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A site to create (POST, with `id`) or its new state (PUT, `id` absent
/// or equal to the path's).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    /// Slug: lowercase letters, digits, `-` and `_`, at most 64 characters.
    pub id: Option<String>,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Madrid`.
    pub time_zone: String,
    /// ISO 639-1, default `en`.
    pub language: Option<String>,
    #[serde(default)]
    pub address: SiteAddress,
    /// Default `public`.
    pub access: Option<Access>,
    #[serde(default)]
    pub allowed_groups: Vec<String>,
}

impl SiteInput {
    /// Every problem at once; `path_id` is the id of a PUT.
    pub fn validate(self, path_id: Option<&SiteId>) -> Result<domain::NewSite, ApiError> {
        let mut errors = QueryErrors::new();
        let id = match (path_id, self.id.as_deref()) {
            (Some(p), None) => Some(p.clone()),
            (Some(p), Some(raw)) if raw == p.as_str() => Some(p.clone()),
            (Some(_), Some(_)) => {
                errors.push("id", "must be the id in the path");
                None
            }
            (None, None) => {
                errors.push("id", "is required");
                None
            }
            (None, Some(raw)) => errors.opt("id", Some(raw), SiteId::parse),
        };
        let name = check_label(&mut errors, "name", Some(self.name));
        let time_zone = errors.opt("time_zone", Some(&self.time_zone), domain::parse_time_zone);
        let language = errors.opt(
            "language",
            Some(self.language.as_deref().unwrap_or("en")),
            domain::parse_language,
        );
        let allowed_groups = parse_groups(&mut errors, "allowed_groups", &self.allowed_groups);
        errors.finish()?;
        match (id, name, time_zone, language) {
            (Some(id), Some(name), Some(time_zone), Some(language)) => Ok(domain::NewSite {
                id,
                name,
                time_zone,
                language,
                address: domain::SiteAddress {
                    street: self.address.street,
                    city: self.address.city,
                    postal_code: self.address.postal_code,
                    state: self.address.state,
                    country: self.address.country,
                },
                access: ChargerAccessRule {
                    access: self.access.unwrap_or(Access::Public).into(),
                    allowed_groups,
                },
            }),
            _ => Err(ApiError::Internal("validated site without fields".into())),
        }
    }
}

/// Paging of the site list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Items to skip.
    pub offset: Option<String>,
}

impl SiteQuery {
    pub fn parse(self) -> Result<joule_domain::kernel::page::Page, ApiError> {
        let mut errors = QueryErrors::new();
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok(page)
    }
}

/// The site a charger stands at (`null`: none).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargerSite {
    pub site_id: Option<String>,
}
