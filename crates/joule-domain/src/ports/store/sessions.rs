//! Charging sessions: start, stop, meter values.

use async_trait::async_trait;

use crate::charging::meter::MeterReport;
use crate::charging::session::{
    Session, SessionFilter, StartOutcome, StartSession, StopOutcome, StopSession, StoredMeterValue,
};
use crate::kernel::ids::{ChargerId, SessionId, TransactionId};
use crate::kernel::page::{Page, Paged};

use super::StoreResult;

/// Charging sessions and their meter values.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Idempotent: a resend of the same start returns the recorded session
    /// with `created = false` (and the tariff version recorded first). A new
    /// session records, in the same transaction, the current version of
    /// `start.tariff_id` (the caller's choice by the precedence rule), or
    /// none when that tariff no longer exists (`docs/pricing.md`, "Frozen
    /// price").
    async fn start_session(&self, start: StartSession) -> StoreResult<StartOutcome>;
    /// Idempotent; see [`StopOutcome`]. `transaction_data` is stored as
    /// meter values of the session in the same transaction.
    async fn stop_session(&self, stop: StopSession) -> StoreResult<StopOutcome>;
    /// Stores every sampled value verbatim and updates the running figures of
    /// the session it belongs to (if the transaction is known).
    async fn record_meter_values(
        &self,
        charger: &ChargerId,
        report: MeterReport,
    ) -> StoreResult<()>;
    async fn get_session(&self, id: SessionId) -> StoreResult<Option<Session>>;
    async fn get_session_by_transaction(
        &self,
        transaction_id: TransactionId,
    ) -> StoreResult<Option<Session>>;
    /// Newest first.
    async fn list_sessions(&self, filter: SessionFilter, page: Page)
        -> StoreResult<Paged<Session>>;
    /// In charger-time order.
    async fn session_meter_values(&self, id: SessionId) -> StoreResult<Vec<StoredMeterValue>>;
}
