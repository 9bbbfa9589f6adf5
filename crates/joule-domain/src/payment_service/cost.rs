//! A session's cost as the payment service needs it: running while it
//! charges, final once nothing can change it. The same rules as the
//! session API (`GET /api/v1/sessions/{id}`).

use chrono::{DateTime, Utc};

use crate::session::Session;
use crate::session_cost::{price_session_cost, status_range, SessionPrice};
use crate::store::{ChargerStore, SessionStore, StoreResult, TariffAssignmentStore, TariffStore};
use crate::tariffs::charger_time_zone;

/// A session priced now.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCostNow {
    pub price: SessionPrice,
    /// `false` while the session runs, or while idle time after its stop
    /// is still billed (the cable is in).
    pub is_final: bool,
}

impl SessionCostNow {
    /// The total including VAT, in minor units (what the card pays).
    pub fn incl_vat_minor(&self) -> i64 {
        self.price.breakdown.total_cost.incl_vat.minor()
    }
}

/// Prices `session` with its frozen tariff version at `now`. `None` when
/// it has no tariff, its version is gone, or the tariff cannot price it
/// (logged).
pub async fn session_cost(
    sessions: &dyn SessionStore,
    tariffs: &dyn TariffStore,
    chargers: &dyn ChargerStore,
    assignments: &dyn TariffAssignmentStore,
    session: &Session,
    now: DateTime<Utc>,
) -> StoreResult<Option<SessionCostNow>> {
    let Some(t) = &session.tariff else {
        return Ok(None);
    };
    let Some(tariff) = tariffs.get_tariff_version(&t.tariff_id, t.version).await? else {
        tracing::warn!(session_id = %session.id, tariff_id = %t.tariff_id, version = t.version,
            "the session's tariff version is missing");
        return Ok(None);
    };
    let meter_values = sessions.session_meter_values(session.id).await?;
    let (from, to) = status_range(session, &tariff, now);
    let statuses = chargers
        .connector_status_range(&session.charger_id, session.connector_id, from, to)
        .await?;
    let time_zone = charger_time_zone(assignments, &session.charger_id).await?;
    match price_session_cost(session, &meter_values, &statuses, &tariff, time_zone, now) {
        Ok(price) => {
            let is_final = session.stopped_at.is_some()
                && !price
                    .activity
                    .last()
                    .is_some_and(|p| p.after_stop && p.end >= now);
            Ok(Some(SessionCostNow { price, is_final }))
        }
        Err(e) => {
            tracing::warn!(session_id = %session.id, error = %e, "the session cannot be priced");
            Ok(None)
        }
    }
}
