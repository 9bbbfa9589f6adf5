//! A session's cost read from the store: its frozen tariff version, its
//! connector's status reports and its charger's time zone, priced by the
//! pure [`crate::pricing::session_cost`]. The one place the session API, the
//! payment service and the charger display read a session's cost from.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::charging::charger::StatusReport;
use crate::charging::session::{Session, StoredMeterValue};
use crate::kernel::ids::{ChargerId, ConnectorId};
use crate::ports::store::{ChargerStore, StoreResult, TariffAssignmentStore, TariffStore};
use crate::pricing::session_cost::{
    price_session_until, status_range, PricedUntil, SessionCostNow,
};
use crate::pricing::stored::StoredTariff;
use crate::pricing::Tz;
use crate::services::tariff_lookup::charger_time_zone;

/// What pricing a session reads besides its meter values. A port of its
/// own so that every reader of a session's cost (API, payments, the
/// charger display) goes through [`session_cost`], and tests can serve it
/// without a store.
#[async_trait]
pub trait SessionCostReads: Send + Sync {
    async fn tariff_version(
        &self,
        tariff_id: &str,
        version: i64,
    ) -> StoreResult<Option<StoredTariff>>;
    async fn connector_statuses(
        &self,
        charger: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>>;
    /// The time zone sessions at `charger` are priced in (its site's now).
    async fn time_zone(&self, charger: &ChargerId) -> StoreResult<Tz>;
}

/// The three store ports [`SessionCostReads`] reads through.
#[derive(Clone, Copy)]
pub struct CostStores<'a> {
    pub tariffs: &'a dyn TariffStore,
    pub chargers: &'a dyn ChargerStore,
    pub assignments: &'a dyn TariffAssignmentStore,
}

#[async_trait]
impl SessionCostReads for CostStores<'_> {
    async fn tariff_version(
        &self,
        tariff_id: &str,
        version: i64,
    ) -> StoreResult<Option<StoredTariff>> {
        self.tariffs.get_tariff_version(tariff_id, version).await
    }

    async fn connector_statuses(
        &self,
        charger: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>> {
        self.chargers
            .connector_status_range(charger, connector, from, to)
            .await
    }

    async fn time_zone(&self, charger: &ChargerId) -> StoreResult<Tz> {
        charger_time_zone(self.assignments, charger).await
    }
}

/// Prices `session` (with its `meter_values`) at `now` with its frozen
/// tariff version, its connector's status reports and its charger's time
/// zone, read through the ports (see [`session_cost`]).
pub async fn session_cost_now(
    tariffs: &dyn TariffStore,
    chargers: &dyn ChargerStore,
    assignments: &dyn TariffAssignmentStore,
    session: &Session,
    meter_values: &[StoredMeterValue],
    now: DateTime<Utc>,
) -> StoreResult<Option<SessionCostNow>> {
    let stores = CostStores {
        tariffs,
        chargers,
        assignments,
    };
    session_cost(&stores, session, meter_values, PricedUntil::Now, now).await
}

/// Prices `session` (with its `meter_values`) up to `until` at `now` with
/// its frozen tariff version, its connector's status reports and its
/// charger's time zone: the one place the session API, the payment service
/// and the charger display read a session's cost from. `None` when it has
/// no tariff, its version is gone, or the tariff cannot price it (logged).
pub async fn session_cost(
    reads: &dyn SessionCostReads,
    session: &Session,
    meter_values: &[StoredMeterValue],
    until: PricedUntil,
    now: DateTime<Utc>,
) -> StoreResult<Option<SessionCostNow>> {
    let Some(t) = &session.tariff else {
        return Ok(None);
    };
    let Some(tariff) = reads.tariff_version(&t.tariff_id, t.version).await? else {
        tracing::warn!(session_id = %session.id, tariff_id = %t.tariff_id, version = t.version,
            "the session's tariff version is missing");
        return Ok(None);
    };
    let (from, to) = status_range(session, &tariff, now);
    let statuses = reads
        .connector_statuses(&session.charger_id, session.connector_id, from, to)
        .await?;
    let time_zone = reads.time_zone(&session.charger_id).await?;
    match price_session_until(
        session,
        meter_values,
        &statuses,
        &tariff,
        time_zone,
        until,
        now,
    ) {
        Ok(cost) => Ok(Some(cost)),
        Err(e) => {
            tracing::warn!(session_id = %session.id, error = %e, "the session cannot be priced");
            Ok(None)
        }
    }
}
