//! User groups and charger access: who may charge where.
//!
//! A [`UserGroup`] is a named set of id tokens (accounts come later); a token
//! belongs to zero or more groups. Each charger has a [`ChargerAccess`] mode
//! and a list of allowed groups; the authorization rule
//! ([`crate::charging::auth::authorize`]) combines the two. Group-specific tariffs
//! come later and will key on the same [`UserGroupId`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

crate::kernel::ids::slug_id!(
    /// A group's identifier: a slug chosen by the operator (`employees`,
    /// `fleet-42`). 1–64 characters of lowercase ASCII letters, digits, `-` and
    /// `_`, starting with a letter or digit; stable, so it can appear in URLs,
    /// events and (later) tariff assignments.
    UserGroupId,
    "user group id"
);

/// A group as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UserGroup {
    pub id: UserGroupId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A group to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUserGroup {
    pub id: UserGroupId,
    pub name: String,
}

/// A partial update of a group (`None` leaves the field unchanged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserGroupPatch {
    pub name: Option<String>,
}

/// Who may charge at a charger.
///
/// * `Public` (the default): any token the authorization rule accepts.
/// * `Private`: only tokens in at least one of the charger's allowed groups;
///   any other token is refused with `Invalid` and the reason
///   `not_in_allowed_group`. The charger is also hidden from public listings
///   (the price quote and, later, OCPI publication).
/// * `Restricted`: visible to the public like `Public`, but the same
///   authorization rule as `Private` applies. The difference between
///   `Private` and `Restricted` is visibility only, never who may charge.
///
/// A private or restricted charger with no allowed groups admits nobody.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargerAccess {
    #[default]
    Public,
    Private,
    Restricted,
}

impl ChargerAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Restricted => "restricted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "public" => Some(Self::Public),
            "private" => Some(Self::Private),
            "restricted" => Some(Self::Restricted),
            _ => None,
        }
    }

    /// Whether only members of the allowed groups may charge.
    pub fn requires_group(self) -> bool {
        !matches!(self, Self::Public)
    }

    /// Whether the charger is shown to the public.
    pub fn is_publicly_visible(self) -> bool {
        !matches!(self, Self::Private)
    }
}

/// A charger's access mode with its allowed groups (ignored when `Public`,
/// but kept, so switching back and forth loses nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargerAccessRule {
    pub access: ChargerAccess,
    pub allowed_groups: Vec<UserGroupId>,
}

impl ChargerAccessRule {
    /// Whether a token in `token_groups` passes this rule.
    pub fn admits(&self, token_groups: &[UserGroupId]) -> bool {
        !self.access.requires_group()
            || token_groups.iter().any(|g| self.allowed_groups.contains(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> UserGroupId {
        UserGroupId::parse(s).unwrap()
    }

    #[test]
    fn group_ids_are_lowercase_slugs() {
        for ok in ["employees", "fleet-42", "a", "0_x"] {
            assert!(UserGroupId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Employees", "-x", "a b", "é", &"a".repeat(65)] {
            assert!(UserGroupId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_parses_its_own_spelling() {
        for a in [
            ChargerAccess::Public,
            ChargerAccess::Private,
            ChargerAccess::Restricted,
        ] {
            assert_eq!(ChargerAccess::parse(a.as_str()), Some(a));
        }
        assert_eq!(ChargerAccess::parse("Public"), None);
    }

    #[test]
    fn private_and_restricted_admit_members_only() {
        for access in [ChargerAccess::Private, ChargerAccess::Restricted] {
            let rule = ChargerAccessRule {
                access,
                allowed_groups: vec![g("staff")],
            };
            assert!(rule.admits(&[g("other"), g("staff")]));
            assert!(!rule.admits(&[g("other")]));
            assert!(!rule.admits(&[]));
        }
        assert!(ChargerAccessRule::default().admits(&[]));
        assert!(!ChargerAccess::Private.is_publicly_visible());
        assert!(ChargerAccess::Restricted.is_publicly_visible());
    }
}
