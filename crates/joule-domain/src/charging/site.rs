//! Sites: where chargers stand. A site gives its chargers a local time zone
//! (time-of-day tariff restrictions are read in it), a default language for
//! driver texts, an address, and an access rule they inherit unless they set
//! their own.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::charging::user_group::ChargerAccessRule;

crate::kernel::ids::slug_id!(
    /// A site's identifier: an operator-chosen slug (`madrid-centro`), with the
    /// same spelling rules as a user group id, so it is stable in URLs, events
    /// and tariff assignments.
    SiteId,
    "site id"
);

/// Why a site's fields were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    #[error("{0:?} is not an IANA time zone")]
    TimeZone(String),
    #[error("{0:?} is not an ISO 639-1 language code (two lowercase letters)")]
    Language(String),
}

/// Parses an IANA time zone name (`Europe/Madrid`); the only way a site
/// gets one, so pricing never meets an unknown zone.
pub fn parse_time_zone(raw: &str) -> Result<Tz, SiteError> {
    raw.parse::<Tz>()
        .map_err(|_| SiteError::TimeZone(raw.to_owned()))
}

/// Checks an ISO 639-1 code (`es`): two lowercase ASCII letters.
pub fn parse_language(raw: &str) -> Result<String, SiteError> {
    if raw.len() == 2 && raw.chars().all(|c| c.is_ascii_lowercase()) {
        Ok(raw.to_owned())
    } else {
        Err(SiteError::Language(raw.to_owned()))
    }
}

/// The postal address an operator keeps for a site (all optional: a depot
/// may have none worth printing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteAddress {
    pub street: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2 or alpha-3, as OCPI's `country`.
    pub country: Option<String>,
}

/// A site as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    pub time_zone: Tz,
    /// ISO 639-1; the language of driver texts when the driver asks none.
    pub language: String,
    pub address: SiteAddress,
    /// Inherited by chargers of the site that have no rule of their own.
    pub access: ChargerAccessRule,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A site to create (fields already parsed).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSite {
    pub id: SiteId,
    pub name: String,
    pub time_zone: Tz,
    pub language: String,
    pub address: SiteAddress,
    pub access: ChargerAccessRule,
}

/// The access rule that governs a charger: its own when it set one
/// explicitly, else its site's, else public (docs/architecture.md).
pub fn effective_access(
    own: Option<&ChargerAccessRule>,
    site: Option<&ChargerAccessRule>,
) -> ChargerAccessRule {
    own.or(site).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charging::user_group::ChargerAccess;

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            parse_time_zone("Europe/Madrid").unwrap(),
            Tz::Europe__Madrid
        );
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(parse_time_zone("").is_err());
    }

    #[test]
    fn languages_are_two_lowercase_letters() {
        assert!(parse_language("es").is_ok());
        for bad in ["ES", "esp", "e", ""] {
            assert!(parse_language(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn site_ids_are_slugs() {
        assert!(SiteId::parse("madrid-1").is_ok());
        assert!(SiteId::parse("Madrid").is_err());
    }

    #[test]
    fn a_charger_rule_beats_its_site_rule() {
        let private = ChargerAccessRule {
            access: ChargerAccess::Private,
            allowed_groups: vec![],
        };
        let public = ChargerAccessRule::default();
        assert_eq!(effective_access(Some(&public), Some(&private)), public);
        assert_eq!(effective_access(None, Some(&private)), private);
        assert_eq!(effective_access(None, None), public);
    }
}
