//! Tariffs, their versions, the default tariff and a charger's own tariff.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::kernel::ids::ChargerId;
use crate::kernel::page::{Page, Paged};
use crate::pricing::stored::{NewTariff, StoredTariff};

use super::StoreResult;

/// Tariffs (OCPI 2.2.1 objects with Joule's extensions), keyed by the OCPI
/// tariff `id`, and which one is the default. Callers validate before
/// storing; the store keeps the OCPI JSON as it is given.
#[async_trait]
pub trait TariffStore: Send + Sync {
    /// Stores version 1 (or, for an id that was deleted before, one more
    /// than its last version, since versions are never reused). Fails with
    /// `Conflict` when the id exists.
    async fn create_tariff(&self, new: NewTariff, at: DateTime<Utc>) -> StoreResult<StoredTariff>;
    async fn get_tariff(&self, id: &str) -> StoreResult<Option<StoredTariff>>;
    /// Ordered by id.
    async fn list_tariffs(&self, page: Page) -> StoreResult<Paged<StoredTariff>>;
    /// Replaces the tariff and its extensions in full; the version goes up
    /// by one. `None` when the id is unknown. `new.tariff.id` must be `id`.
    async fn update_tariff(
        &self,
        id: &str,
        new: NewTariff,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>>;
    /// Deleting the default tariff also clears the default (and records
    /// `tariff.default_changed`).
    async fn delete_tariff(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Sets (or with `None` clears) the default tariff and returns it.
    /// Fails with `NotFound` when the tariff does not exist. Setting the
    /// current value again changes nothing and records no event.
    async fn set_default_tariff(
        &self,
        id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>>;
    async fn default_tariff(&self) -> StoreResult<Option<StoredTariff>>;
    /// One version of a tariff, as it was written (versions are immutable
    /// and outlive edits and deletion: sessions are priced with them).
    /// `created_at` and `updated_at` are both the instant the version was
    /// written. `None` when no such version exists.
    async fn get_tariff_version(&self, id: &str, version: i64)
        -> StoreResult<Option<StoredTariff>>;
    /// Sets (or with `None` clears) the charger's own tariff, which takes
    /// precedence over the default when a session starts there, and returns
    /// it. `None` when the charger is unknown; `NotFound` (entity `tariff`)
    /// when the tariff is unknown. Deleting a tariff clears it on chargers.
    async fn set_charger_tariff(
        &self,
        id: &ChargerId,
        tariff_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>>;
    /// The charger's own tariff id; `None` when the charger is unknown.
    async fn charger_tariff(&self, id: &ChargerId) -> StoreResult<Option<Option<String>>>;
}
