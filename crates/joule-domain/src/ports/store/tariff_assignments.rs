//! Tariff assignments and the candidates a session's tariff is chosen from.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::kernel::ids::{ChargerId, IdToken};
use crate::kernel::page::{Page, Paged};
use crate::pricing::assignment::{
    AssignmentFilter, AssignmentId, NewTariffAssignment, TariffAssignment, TariffCandidates,
};

use super::StoreResult;

/// Tariff assignments (docs/pricing.md, "Precedence").
#[async_trait]
pub trait TariffAssignmentStore: Send + Sync {
    /// Callers check the window ([`NewTariffAssignment::check`]) first.
    /// Fails with `NotFound` naming the entity (`tariff`, `site`, `charger`,
    /// `user group`, `id token`) when the tariff or the scope's target is
    /// unknown.
    async fn create_tariff_assignment(
        &self,
        new: NewTariffAssignment,
        at: DateTime<Utc>,
    ) -> StoreResult<TariffAssignment>;
    async fn get_tariff_assignment(
        &self,
        id: AssignmentId,
    ) -> StoreResult<Option<TariffAssignment>>;
    /// Ordered by id (creation order).
    async fn list_tariff_assignments(
        &self,
        filter: AssignmentFilter,
        page: Page,
    ) -> StoreResult<Paged<TariffAssignment>>;
    async fn delete_tariff_assignment(
        &self,
        id: AssignmentId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// What the precedence rule needs for a session (or quote) at
    /// `charger`, for the driver with `id_tag` (or an anonymous one), in one
    /// consistent read. `None` when the charger is unknown.
    async fn tariff_candidates(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdToken>,
    ) -> StoreResult<Option<TariffCandidates>>;
}
