//! Which tariff a driver pays where: tariff assignments (a tariff given to a
//! site, a charger, a connector, a user group or an id token, for a window
//! of time) and the precedence rule that picks one of them.
//!
//! The rule ([`resolve_tariff`]) is pure: the store loads the candidates
//! ([`TariffCandidates`]) and the session start, the public quote and the
//! charger display all ask the same function, so they can never disagree.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::charging::site::{Site, SiteId};
use crate::charging::user_group::{ChargerAccessRule, UserGroupId};
use crate::kernel::ids::{ChargerId, ConnectorId, IdError, IdToken};
use crate::pricing::stored::StoredTariff;

/// An assignment's identifier (UUIDv7, so ids sort by creation time and the
/// last tie-break of the precedence rule is "older first").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssignmentId(Uuid);

impl AssignmentId {
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| IdError::NotUuid {
                what: "tariff assignment id",
            })
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for AssignmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a tariff is assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentScope {
    IdToken {
        id_tag: IdToken,
    },
    /// Members of the group; with `site_id`, only at chargers of that site.
    UserGroup {
        group_id: UserGroupId,
        site_id: Option<SiteId>,
    },
    Connector {
        charger_id: ChargerId,
        connector_id: ConnectorId,
    },
    Charger {
        charger_id: ChargerId,
    },
    Site {
        site_id: SiteId,
    },
}

/// The kind of an [`AssignmentScope`], as spelled in the API and the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    IdToken,
    UserGroup,
    Connector,
    Charger,
    Site,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdToken => "id_token",
            Self::UserGroup => "user_group",
            Self::Connector => "connector",
            Self::Charger => "charger",
            Self::Site => "site",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::IdToken,
            Self::UserGroup,
            Self::Connector,
            Self::Charger,
            Self::Site,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

impl AssignmentScope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Self::IdToken { .. } => ScopeKind::IdToken,
            Self::UserGroup { .. } => ScopeKind::UserGroup,
            Self::Connector { .. } => ScopeKind::Connector,
            Self::Charger { .. } => ScopeKind::Charger,
            Self::Site { .. } => ScopeKind::Site,
        }
    }
}

/// A tariff assignment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TariffAssignment {
    pub id: AssignmentId,
    pub tariff_id: String,
    pub scope: AssignmentScope,
    /// Inclusive; `None` means since ever.
    pub valid_from: Option<DateTime<Utc>>,
    /// Exclusive; `None` means until further notice.
    pub valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl TariffAssignment {
    /// Whether `at` lies in `[valid_from, valid_until)`.
    pub fn valid_at(&self, at: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|f| f <= at) && self.valid_until.is_none_or(|u| at < u)
    }
}

/// An assignment to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTariffAssignment {
    pub tariff_id: String,
    pub scope: AssignmentScope,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// Why an assignment was refused before it reached the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    #[error("valid_until must be after valid_from: the assignment would never apply")]
    EmptyWindow,
}

impl NewTariffAssignment {
    /// Refuses a window that contains no instant (`valid_until <= valid_from`).
    pub fn check(&self) -> Result<(), AssignmentError> {
        match (self.valid_from, self.valid_until) {
            (Some(from), Some(until)) if until <= from => Err(AssignmentError::EmptyWindow),
            _ => Ok(()),
        }
    }
}

/// Filters for listing assignments (all given ones must match).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssignmentFilter {
    pub tariff_id: Option<String>,
    pub scope: Option<ScopeKind>,
    pub site_id: Option<SiteId>,
    pub charger_id: Option<ChargerId>,
    pub group_id: Option<UserGroupId>,
    pub id_tag: Option<IdToken>,
}

/// The rung of the precedence ladder a tariff was found on, most specific
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rung {
    IdToken,
    UserGroup,
    Connector,
    Charger,
    Site,
    Default,
}

/// Who is charging: a known id tag and the groups of its token, or nobody
/// yet (the public price quote).
#[derive(Debug, Clone, Copy)]
pub struct Driver<'a> {
    pub id_tag: &'a IdToken,
    pub groups: &'a [UserGroupId],
}

/// Where and by whom a tariff is asked for.
#[derive(Debug, Clone, Copy)]
pub struct PricingContext<'a> {
    pub charger_id: &'a ChargerId,
    pub site_id: Option<&'a SiteId>,
    pub connector_id: ConnectorId,
    /// The charger's own tariff (`PUT /api/v1/chargers/{id}/tariff`): a
    /// charger-scope assignment without dates, ranked after the dated and
    /// undated charger assignments of `/api/v1/tariff-assignments`.
    pub charger_tariff: Option<&'a str>,
    /// `None` for an anonymous driver: token and group rungs are skipped.
    pub driver: Option<Driver<'a>>,
}

/// The tariff picked, with where it was found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolution<'a> {
    pub tariff: &'a StoredTariff,
    pub rung: Rung,
    /// `None` for the default tariff and the charger's own tariff.
    pub assignment: Option<&'a TariffAssignment>,
}

/// Picks the tariff in force at `at` (docs/pricing.md, "Precedence"):
/// token → user group → connector → charger → site → default.
///
/// An assignment counts only when `at` is within its validity window AND
/// within its tariff's own OCPI `start_date_time`/`end_date_time`, and when
/// its tariff is among `tariffs` (a deleted tariff counts nowhere); one that
/// does not count lets the next rung decide. The default tariff also counts
/// only within its own dates.
///
/// Ties on a rung are broken deterministically: for user groups, an
/// assignment limited to this charger's site beats one for every site, then
/// the group id first in alphabetical order wins; on every rung, then, the
/// assignment whose window started latest (a dated promotion beats an
/// open-ended assignment it lies within; no `valid_from` counts as the
/// earliest), then the older assignment (smaller id).
pub fn resolve_tariff<'a>(
    assignments: &'a [TariffAssignment],
    tariffs: &'a [StoredTariff],
    default: Option<&'a StoredTariff>,
    ctx: &PricingContext<'_>,
    at: DateTime<Utc>,
) -> Option<Resolution<'a>> {
    let tariff_of = |id: &str| {
        tariffs
            .iter()
            .find(|t| t.tariff.id == id)
            .filter(|t| t.in_force_at(at))
    };
    for rung in [
        Rung::IdToken,
        Rung::UserGroup,
        Rung::Connector,
        Rung::Charger,
        Rung::Site,
    ] {
        let best = assignments
            .iter()
            .filter(|a| a.valid_at(at))
            .filter_map(|a| rank(a, rung, ctx).map(|key| (key, a)))
            .filter_map(|(key, a)| tariff_of(&a.tariff_id).map(|t| (key, a, t)))
            .min_by(|(ka, a, _), (kb, b, _)| {
                ka.cmp(kb)
                    .then_with(|| b.valid_from.cmp(&a.valid_from))
                    .then_with(|| a.id.cmp(&b.id))
            });
        if let Some((_, assignment, tariff)) = best {
            return Some(Resolution {
                tariff,
                rung,
                assignment: Some(assignment),
            });
        }
        if rung == Rung::Charger {
            if let Some(tariff) = ctx.charger_tariff.and_then(tariff_of) {
                return Some(Resolution {
                    tariff,
                    rung,
                    assignment: None,
                });
            }
        }
    }
    default
        .filter(|t| t.in_force_at(at))
        .map(|tariff| Resolution {
            tariff,
            rung: Rung::Default,
            assignment: None,
        })
}

/// Whether `a` applies on `rung` in `ctx`, with its tie-break key there
/// (smaller first): `(not limited to this site, group id)` for groups.
fn rank<'a>(
    a: &'a TariffAssignment,
    rung: Rung,
    ctx: &PricingContext<'_>,
) -> Option<(bool, Option<&'a str>)> {
    match (&a.scope, rung) {
        (AssignmentScope::IdToken { id_tag }, Rung::IdToken) => ctx
            .driver
            .filter(|d| d.id_tag == id_tag)
            .map(|_| (false, None)),
        (AssignmentScope::UserGroup { group_id, site_id }, Rung::UserGroup) => {
            let driver = ctx.driver?;
            if !driver.groups.contains(group_id) {
                return None;
            }
            match site_id {
                Some(site) if ctx.site_id == Some(site) => Some((false, Some(group_id.as_str()))),
                Some(_) => None,
                None => Some((true, Some(group_id.as_str()))),
            }
        }
        (
            AssignmentScope::Connector {
                charger_id,
                connector_id,
            },
            Rung::Connector,
        ) => (charger_id == ctx.charger_id && *connector_id == ctx.connector_id)
            .then_some((false, None)),
        (AssignmentScope::Charger { charger_id }, Rung::Charger) => {
            (charger_id == ctx.charger_id).then_some((false, None))
        }
        (AssignmentScope::Site { site_id }, Rung::Site) => {
            (ctx.site_id == Some(site_id)).then_some((false, None))
        }
        _ => None,
    }
}

/// Everything [`resolve_tariff`] needs about one charger (and driver), as a
/// store loads it in one read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TariffCandidates {
    pub site: Option<Site>,
    pub charger_tariff: Option<String>,
    /// The driver's token's groups (empty when no token was asked about).
    pub groups: Vec<UserGroupId>,
    /// Assignments that might apply: the charger's, its connectors', its
    /// site's, the token's and its groups' (any dates).
    pub assignments: Vec<TariffAssignment>,
    /// The tariffs those assignments and the charger name, as stored now.
    pub tariffs: Vec<StoredTariff>,
    pub default: Option<StoredTariff>,
    /// The charger's effective access rule ([`crate::charging::site::effective_access`]).
    pub access: ChargerAccessRule,
}

impl TariffCandidates {
    /// The tariff in force at `at` for a driver with `id_tag` (or an
    /// anonymous one) on `connector_id`.
    pub fn resolve(
        &self,
        charger_id: &ChargerId,
        connector_id: ConnectorId,
        id_tag: Option<&IdToken>,
        at: DateTime<Utc>,
    ) -> Option<Resolution<'_>> {
        let ctx = PricingContext {
            charger_id,
            site_id: self.site.as_ref().map(|s| &s.id),
            connector_id,
            charger_tariff: self.charger_tariff.as_deref(),
            driver: id_tag.map(|id_tag| Driver {
                id_tag,
                groups: &self.groups,
            }),
        };
        resolve_tariff(
            &self.assignments,
            &self.tariffs,
            self.default.as_ref(),
            &ctx,
            at,
        )
    }

    /// The time zone the charger's sessions are priced in: its site's, else
    /// UTC.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.site.as_ref().map_or(chrono_tz::UTC, |s| s.time_zone)
    }
}

#[cfg(test)]
mod tests;
