//! Payment terminals: one card terminal (on site, or a vendor's cloud
//! speaking for it) that drivers use to pay at many chargers (issue 4,
//! point 3; docs/terminals.md).
//!
//! A terminal places a manual-capture hold at a payment gateway itself
//! (card present, P2PE: Joule never sees the card), then reports it to
//! Joule with the charger and connector the driver chose. What a terminal
//! may start is its [`TerminalScope`]: every charger of its site, or a list
//! of chargers and connectors. The rules here are pure; the store keeps
//! terminals and the API authenticates them with their own key (stored
//! hashed, like an API key: a lookup prefix and the SHA-256 of the key).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::charging::site::SiteId;
use crate::kernel::ids::{ChargerId, ConnectorId, IdError};

/// Joule's identifier of a terminal (UUIDv7, so ids sort by creation).
/// The terminal's id is not a secret: its key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TerminalId(Uuid);

impl TerminalId {
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| IdError::NotUuid {
                what: "terminal id",
            })
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TerminalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One charger, or one connector of it, a terminal may start.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TerminalTarget {
    pub charger_id: ChargerId,
    /// `None`: every connector of the charger.
    pub connector_id: Option<ConnectorId>,
}

/// What a terminal may start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TerminalScope {
    /// Every connector of every charger standing at the terminal's site,
    /// now and later (a charger moved to the site is covered at once).
    Site,
    /// Exactly these chargers or connectors.
    Chargers { targets: Vec<TerminalTarget> },
}

/// Why a terminal's fields were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerminalError {
    #[error("the name must be 1 to {max} characters", max = Terminal::MAX_NAME)]
    Name,
    #[error("a terminal that starts all chargers of its site needs a site_id")]
    SiteScopeWithoutSite,
    #[error("list at least one charger the terminal may start")]
    NoTargets,
    #[error("at most {max} chargers or connectors", max = Terminal::MAX_TARGETS)]
    TooManyTargets,
    #[error("charger {0} is listed twice")]
    DuplicateTarget(String),
    #[error("the gateway must be a gateway name such as stripe or simulated")]
    Gateway,
}

/// The stored form of a terminal's API key: never the key itself.
#[derive(Clone, PartialEq, Eq)]
pub struct TerminalKey {
    /// Public, unique lookup part of the key.
    pub prefix: String,
    /// Hex SHA-256 of the whole key.
    pub secret_hash: String,
    pub issued_at: DateTime<Utc>,
}

/// The hash is not a secret in itself, but it has no business in logs.
impl fmt::Debug for TerminalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TerminalKey")
            .field("prefix", &self.prefix)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

/// A terminal as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Terminal {
    pub id: TerminalId,
    pub name: String,
    pub site_id: Option<SiteId>,
    pub scope: TerminalScope,
    /// The gateway its holds are placed at (`stripe`, `simulated`): Joule
    /// verifies and captures them there.
    pub gateway: String,
    /// A disabled terminal's key is refused; its payments already recorded
    /// run to their end.
    pub enabled: bool,
    /// `None` until a key is issued.
    pub key: Option<TerminalKey>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Terminal {
    pub const MAX_NAME: usize = 100;
    pub const MAX_TARGETS: usize = 500;

    /// Whether this terminal may start `connector` of `charger`, which
    /// stands at `charger_site`. A disabled terminal may start nothing.
    pub fn may_start(
        &self,
        charger: &ChargerId,
        connector: ConnectorId,
        charger_site: Option<&SiteId>,
    ) -> bool {
        if !self.enabled || connector.is_whole_charger() {
            return false;
        }
        match &self.scope {
            TerminalScope::Site => self.site_id.is_some() && self.site_id.as_ref() == charger_site,
            TerminalScope::Chargers { targets } => targets
                .iter()
                .any(|t| t.charger_id == *charger && t.connector_id.is_none_or(|c| c == connector)),
        }
    }

    /// The terminal after `patch`, checked as a new one would be.
    pub fn patched(
        &self,
        patch: &TerminalPatch,
        at: DateTime<Utc>,
    ) -> Result<Terminal, TerminalError> {
        let mut next = self.clone();
        if let Some(name) = &patch.name {
            next.name.clone_from(name);
        }
        if let Some(site) = &patch.site_id {
            next.site_id.clone_from(site);
        }
        if let Some(scope) = &patch.scope {
            next.scope = normalized(scope.clone());
        }
        if let Some(gateway) = &patch.gateway {
            next.gateway.clone_from(gateway);
        }
        if let Some(enabled) = patch.enabled {
            next.enabled = enabled;
        }
        check(
            &next.name,
            next.site_id.as_ref(),
            &next.scope,
            &next.gateway,
        )?;
        next.updated_at = at;
        Ok(next)
    }
}

/// A terminal to create (no key yet: it is issued separately and shown
/// once).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTerminal {
    pub id: TerminalId,
    pub name: String,
    pub site_id: Option<SiteId>,
    pub scope: TerminalScope,
    pub gateway: String,
    pub enabled: bool,
}

impl NewTerminal {
    /// Checks the fields and sorts the targets (so the stored list does not
    /// depend on the order they were given in).
    pub fn checked(mut self) -> Result<Self, TerminalError> {
        self.scope = normalized(self.scope);
        check(
            &self.name,
            self.site_id.as_ref(),
            &self.scope,
            &self.gateway,
        )?;
        Ok(self)
    }

    /// The terminal as first stored.
    pub fn into_terminal(self, at: DateTime<Utc>) -> Terminal {
        Terminal {
            id: self.id,
            name: self.name,
            site_id: self.site_id,
            scope: self.scope,
            gateway: self.gateway,
            enabled: self.enabled,
            key: None,
            created_at: at,
            updated_at: at,
        }
    }
}

/// A partial update; `None` leaves a field alone, `site_id: Some(None)`
/// takes the terminal off its site.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TerminalPatch {
    pub name: Option<String>,
    pub site_id: Option<Option<SiteId>>,
    pub scope: Option<TerminalScope>,
    pub gateway: Option<String>,
    pub enabled: Option<bool>,
}

fn normalized(scope: TerminalScope) -> TerminalScope {
    match scope {
        TerminalScope::Site => TerminalScope::Site,
        TerminalScope::Chargers { mut targets } => {
            targets.sort();
            TerminalScope::Chargers { targets }
        }
    }
}

fn check(
    name: &str,
    site: Option<&SiteId>,
    scope: &TerminalScope,
    gateway: &str,
) -> Result<(), TerminalError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > Terminal::MAX_NAME {
        return Err(TerminalError::Name);
    }
    if gateway.is_empty()
        || gateway.len() > 32
        || !gateway
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(TerminalError::Gateway);
    }
    match scope {
        TerminalScope::Site if site.is_none() => Err(TerminalError::SiteScopeWithoutSite),
        TerminalScope::Site => Ok(()),
        TerminalScope::Chargers { targets } => {
            if targets.is_empty() {
                return Err(TerminalError::NoTargets);
            }
            if targets.len() > Terminal::MAX_TARGETS {
                return Err(TerminalError::TooManyTargets);
            }
            // Sorted: a charger listed whole and by connector, or a
            // connector listed twice, sit next to each other.
            for pair in targets.windows(2) {
                if pair[0].charger_id == pair[1].charger_id
                    && (pair[0] == pair[1] || pair[0].connector_id.is_none())
                {
                    return Err(TerminalError::DuplicateTarget(
                        pair[0].charger_id.to_string(),
                    ));
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(id: &str) -> ChargerId {
        ChargerId::parse(id).unwrap()
    }

    fn conn(n: u32) -> ConnectorId {
        ConnectorId::new(n).unwrap()
    }

    fn site(id: &str) -> SiteId {
        SiteId::parse(id).unwrap()
    }

    fn terminal(site_id: Option<&str>, scope: TerminalScope) -> Terminal {
        NewTerminal {
            id: TerminalId::new_v7(),
            name: "Lobby terminal".into(),
            site_id: site_id.map(site),
            scope,
            gateway: "stripe".into(),
            enabled: true,
        }
        .checked()
        .unwrap()
        .into_terminal(Utc::now())
    }

    fn target(charger: &str, connector: Option<u32>) -> TerminalTarget {
        TerminalTarget {
            charger_id: cp(charger),
            connector_id: connector.map(conn),
        }
    }

    #[test]
    fn a_site_terminal_starts_every_connector_of_its_site_only() {
        let t = terminal(Some("depot"), TerminalScope::Site);
        assert!(t.may_start(&cp("CP-1"), conn(1), Some(&site("depot"))));
        assert!(t.may_start(&cp("CP-9"), conn(2), Some(&site("depot"))));
        assert!(!t.may_start(&cp("CP-1"), conn(1), Some(&site("other"))));
        assert!(!t.may_start(&cp("CP-1"), conn(1), None));
        // Connector 0 is the whole charger, never something to start.
        assert!(!t.may_start(
            &cp("CP-1"),
            ConnectorId::WHOLE_CHARGER,
            Some(&site("depot"))
        ));
    }

    #[test]
    fn a_listed_terminal_starts_listed_chargers_and_connectors_only() {
        let t = terminal(
            None,
            TerminalScope::Chargers {
                targets: vec![target("CP-2", Some(2)), target("CP-1", None)],
            },
        );
        assert!(t.may_start(&cp("CP-1"), conn(1), None));
        assert!(t.may_start(&cp("CP-1"), conn(3), Some(&site("any"))));
        assert!(t.may_start(&cp("CP-2"), conn(2), None));
        assert!(!t.may_start(&cp("CP-2"), conn(1), None));
        assert!(!t.may_start(&cp("CP-3"), conn(1), None));
        // Targets are kept sorted.
        assert_eq!(
            t.scope,
            TerminalScope::Chargers {
                targets: vec![target("CP-1", None), target("CP-2", Some(2))]
            }
        );
    }

    #[test]
    fn a_disabled_terminal_starts_nothing() {
        let t = terminal(Some("depot"), TerminalScope::Site);
        let patch = TerminalPatch {
            enabled: Some(false),
            ..TerminalPatch::default()
        };
        let off = t.patched(&patch, Utc::now()).unwrap();
        assert!(!off.enabled);
        assert!(!off.may_start(&cp("CP-1"), conn(1), Some(&site("depot"))));
    }

    #[test]
    fn fields_are_checked_on_create_and_on_patch() {
        let new = |name: &str, site_id: Option<&str>, scope, gateway: &str| {
            NewTerminal {
                id: TerminalId::new_v7(),
                name: name.into(),
                site_id: site_id.map(site),
                scope,
                gateway: gateway.into(),
                enabled: true,
            }
            .checked()
        };
        let one = || TerminalScope::Chargers {
            targets: vec![target("CP-1", None)],
        };
        assert_eq!(
            new(" ", None, one(), "stripe").unwrap_err(),
            TerminalError::Name
        );
        assert_eq!(
            new(&"x".repeat(101), None, one(), "stripe").unwrap_err(),
            TerminalError::Name
        );
        assert_eq!(
            new("T", None, TerminalScope::Site, "stripe").unwrap_err(),
            TerminalError::SiteScopeWithoutSite
        );
        assert_eq!(
            new(
                "T",
                None,
                TerminalScope::Chargers { targets: vec![] },
                "stripe"
            )
            .unwrap_err(),
            TerminalError::NoTargets
        );
        assert_eq!(
            new("T", None, one(), "Stripe!").unwrap_err(),
            TerminalError::Gateway
        );
        for dup in [
            vec![target("CP-1", Some(1)), target("CP-1", Some(1))],
            vec![target("CP-1", Some(2)), target("CP-1", None)],
        ] {
            assert_eq!(
                new(
                    "T",
                    None,
                    TerminalScope::Chargers { targets: dup },
                    "stripe"
                )
                .unwrap_err(),
                TerminalError::DuplicateTarget("CP-1".into())
            );
        }
        assert!(new(
            "T",
            None,
            TerminalScope::Chargers {
                targets: vec![target("CP-1", Some(1)), target("CP-1", Some(2))]
            },
            "stripe"
        )
        .is_ok());

        // Taking a site terminal off its site is refused.
        let t = terminal(Some("depot"), TerminalScope::Site);
        let patch = TerminalPatch {
            site_id: Some(None),
            ..TerminalPatch::default()
        };
        assert_eq!(
            t.patched(&patch, Utc::now()).unwrap_err(),
            TerminalError::SiteScopeWithoutSite
        );
    }

    #[test]
    fn terminal_ids_parse_what_they_print() {
        let id = TerminalId::new_v7();
        assert_eq!(TerminalId::parse(&id.to_string()).unwrap(), id);
        assert!(TerminalId::parse("lobby").is_err());
    }

    #[test]
    fn key_debug_hides_the_hash() {
        let key = TerminalKey {
            prefix: "abcd".into(),
            secret_hash: "deadbeef".into(),
            issued_at: Utc::now(),
        };
        assert!(!format!("{key:?}").contains("deadbeef"));
    }
}
