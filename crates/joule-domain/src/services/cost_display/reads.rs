//! What the price display reads, as one narrow port: the session-cost reads
//! plus the tariff candidates, the driver's language, a session's meter
//! values and its receipt. [`CostDisplayStores`] serves it from the store
//! ports; tests serve it from memory.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::charging::charger::StatusReport;
use crate::charging::session::StoredMeterValue;
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken, SessionId};
use crate::ports::store::{
    ChargerStore, PaymentStore, SessionStore, StoreResult, TariffAssignmentStore, TariffStore,
    TokenStore,
};
use crate::pricing::assignment::TariffCandidates;
use crate::pricing::stored::StoredTariff;
use crate::pricing::Tz;
use crate::services::session_cost::{CostStores, SessionCostReads};

#[async_trait]
pub trait CostDisplayReads: SessionCostReads {
    /// See [`TariffAssignmentStore::tariff_candidates`].
    async fn tariff_candidates(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdToken>,
    ) -> StoreResult<Option<TariffCandidates>>;
    /// The language the driver with `id_tag` asked for, if any.
    async fn driver_language(&self, id_tag: &IdToken) -> StoreResult<Option<String>>;
    async fn meter_values(&self, session: SessionId) -> StoreResult<Vec<StoredMeterValue>>;
    /// The receipt token of the payment that pays for `session`, if any.
    async fn receipt_token(&self, session: SessionId) -> StoreResult<Option<String>>;
}

/// The store ports the price display reads through.
#[derive(Clone)]
pub struct CostDisplayStores {
    pub tariffs: Arc<dyn TariffStore>,
    /// The connector's status history, for idle time.
    pub chargers: Arc<dyn ChargerStore>,
    /// The precedence rule's candidates, the site's time zone and language.
    pub assignments: Arc<dyn TariffAssignmentStore>,
    /// The driver's language.
    pub tokens: Arc<dyn TokenStore>,
    pub sessions: Arc<dyn SessionStore>,
    /// The payment of a session, for its receipt link.
    pub payments: Arc<dyn PaymentStore>,
}

impl CostDisplayStores {
    fn cost_stores(&self) -> CostStores<'_> {
        CostStores {
            tariffs: self.tariffs.as_ref(),
            chargers: self.chargers.as_ref(),
            assignments: self.assignments.as_ref(),
        }
    }
}

#[async_trait]
impl SessionCostReads for CostDisplayStores {
    async fn tariff_version(
        &self,
        tariff_id: &str,
        version: i64,
    ) -> StoreResult<Option<StoredTariff>> {
        self.cost_stores().tariff_version(tariff_id, version).await
    }

    async fn connector_statuses(
        &self,
        charger: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>> {
        self.cost_stores()
            .connector_statuses(charger, connector, from, to)
            .await
    }

    async fn time_zone(&self, charger: &ChargerId) -> StoreResult<Tz> {
        self.cost_stores().time_zone(charger).await
    }
}

#[async_trait]
impl CostDisplayReads for CostDisplayStores {
    async fn tariff_candidates(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdToken>,
    ) -> StoreResult<Option<TariffCandidates>> {
        self.assignments.tariff_candidates(charger, id_tag).await
    }

    async fn driver_language(&self, id_tag: &IdToken) -> StoreResult<Option<String>> {
        let token = self.tokens.get_token(id_tag).await?;
        Ok(token.and_then(|t| t.language).map(|l| l.to_string()))
    }

    async fn meter_values(&self, session: SessionId) -> StoreResult<Vec<StoredMeterValue>> {
        self.sessions.session_meter_values(session).await
    }

    async fn receipt_token(&self, session: SessionId) -> StoreResult<Option<String>> {
        let payment = self.payments.payment_for_session(session).await?;
        Ok(payment.map(|p| p.receipt_token.as_str().to_owned()))
    }
}
