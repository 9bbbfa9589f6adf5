//! Tariff lookups through the store: the tariff in force at a charger and
//! the time zone its sessions are priced in.
//!
//! A use-case helper, not an entity: it reads the [`TariffAssignmentStore`]
//! port, and the entity modules ([`crate::pricing::stored`], [`crate::pricing::assignment`])
//! the port is written in terms of never import the store (ADR 0011).

use chrono::{DateTime, Utc};

use crate::charging::user_group::ChargerAccess;
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken};
use crate::ports::store::{StoreResult, TariffAssignmentStore};
use crate::pricing::stored::StoredTariff;

/// What a driver is told about a charger before charging.
#[derive(Debug, Clone, PartialEq)]
pub struct InForce {
    /// The tariff the precedence rule picks, if any is in force.
    pub tariff: Option<StoredTariff>,
    /// The time zone its time-of-day restrictions are read in.
    pub time_zone: chrono_tz::Tz,
    /// The charger's effective access (its own rule, else its site's).
    pub access: ChargerAccess,
    /// The site's default language (ISO 639-1), if the charger has a site.
    pub language: Option<String>,
}

/// The tariff a driver gets at `charger` (on `connector`) at `at`, by the
/// precedence rule of docs/pricing.md ("Precedence"): for the driver with
/// `id_tag`, or for an anonymous one (the public quote). `None` when the
/// charger is unknown.
pub async fn tariff_in_force(
    store: &dyn TariffAssignmentStore,
    charger: &ChargerId,
    connector: ConnectorId,
    id_tag: Option<&IdToken>,
    at: DateTime<Utc>,
) -> StoreResult<Option<InForce>> {
    let Some(candidates) = store.tariff_candidates(charger, id_tag).await? else {
        return Ok(None);
    };
    let tariff = candidates
        .resolve(charger, connector, id_tag, at)
        .map(|r| r.tariff.clone());
    Ok(Some(InForce {
        tariff,
        time_zone: candidates.time_zone(),
        access: candidates.access.access,
        language: candidates.site.as_ref().map(|s| s.language.clone()),
    }))
}

/// The time zone sessions at `charger` are priced in: its site's now, else
/// UTC (also for a charger deleted since).
pub async fn charger_time_zone(
    store: &dyn TariffAssignmentStore,
    charger: &ChargerId,
) -> StoreResult<chrono_tz::Tz> {
    Ok(store
        .tariff_candidates(charger, None)
        .await?
        .map_or(chrono_tz::UTC, |c| c.time_zone()))
}
