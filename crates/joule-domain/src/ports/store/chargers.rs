//! Chargers: registration, boot, connection, connector status and its history.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::charging::charger::{
    BootInfo, Charger, ChargerCredentials, ChargerPatch, ConnectorState, NewCharger,
    RegistrationStatus, StatusReport,
};
use crate::kernel::ids::{ChargerId, ConnectorId};
use crate::kernel::page::{Page, Paged};

use super::StoreResult;

/// Chargers, their connection and connector state.
#[async_trait]
pub trait ChargerStore: Send + Sync {
    /// Fails with `Conflict` when the id exists.
    async fn create_charger(&self, new: NewCharger, at: DateTime<Utc>) -> StoreResult<Charger>;
    async fn get_charger(&self, id: &ChargerId) -> StoreResult<Option<Charger>>;
    async fn list_chargers(&self, page: Page) -> StoreResult<Paged<Charger>>;
    async fn update_charger(
        &self,
        id: &ChargerId,
        patch: ChargerPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Charger>>;
    /// Removes the charger and its current connector states; sessions,
    /// status history and the message log stay as history.
    async fn delete_charger(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn charger_credentials(&self, id: &ChargerId) -> StoreResult<Option<ChargerCredentials>>;
    /// Registers an unknown charger as pending (no password). Returns the
    /// existing charger unchanged if it was created meanwhile.
    async fn auto_register_charger(
        &self,
        id: &ChargerId,
        at: DateTime<Utc>,
    ) -> StoreResult<Charger>;
    /// Records a BootNotification; `None` when the charger is unknown.
    async fn record_boot(
        &self,
        id: &ChargerId,
        boot: BootInfo,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<RegistrationStatus>>;
    async fn record_heartbeat(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<()>;
    /// Records a connection opening (`protocol` = negotiated subprotocol) or
    /// closing (`protocol` = None).
    async fn record_connection(
        &self,
        id: &ChargerId,
        protocol: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Marks every charger disconnected; used at start-up, when no
    /// connection of a previous run can still be alive. Returns how many.
    async fn mark_all_disconnected(&self, at: DateTime<Utc>) -> StoreResult<u64>;
    /// Appends to the status history and updates the connector's current
    /// state unless a newer status is already known (late messages are placed
    /// in history by their own timestamp).
    async fn record_status(&self, id: &ChargerId, report: StatusReport) -> StoreResult<()>;
    async fn connector_states(&self, id: &ChargerId) -> StoreResult<Vec<ConnectorState>>;
    /// Status history, newest first.
    async fn status_history(
        &self,
        id: &ChargerId,
        connector: Option<ConnectorId>,
        page: Page,
    ) -> StoreResult<Paged<StatusReport>>;
    /// One connector's status reports that took effect from `from` to `to`
    /// (both inclusive), oldest first; what pricing a session reads (see
    /// `pricing::session_cost::status_range`). Bounded by the backend (10,000
    /// reports), so a runaway charger cannot make a session read unbounded.
    async fn connector_status_range(
        &self,
        id: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>>;
    async fn record_firmware_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn record_diagnostics_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}
