//! Sites and their chargers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::charging::site::{NewSite, Site, SiteId};
use crate::kernel::ids::ChargerId;
use crate::kernel::page::{Page, Paged};

use super::StoreResult;

/// Sites and which site a charger stands at.
#[async_trait]
pub trait SiteStore: Send + Sync {
    /// Fails with `Conflict` when the id exists; `NotFound` (entity `user
    /// group`) when an allowed group is unknown.
    async fn create_site(&self, new: NewSite, at: DateTime<Utc>) -> StoreResult<Site>;
    async fn get_site(&self, id: &SiteId) -> StoreResult<Option<Site>>;
    /// Ordered by id.
    async fn list_sites(&self, page: Page) -> StoreResult<Paged<Site>>;
    /// Replaces every field but the id; `None` when the site is unknown.
    async fn update_site(
        &self,
        id: &SiteId,
        new: NewSite,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Site>>;
    /// Also detaches the site's chargers (one `charger.site_changed` each)
    /// and deletes the tariff assignments that name the site.
    async fn delete_site(&self, id: &SiteId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Moves a charger to a site (or with `None` off any). `None` when the
    /// charger is unknown; `NotFound` (entity `site`) when the site is.
    async fn set_charger_site(
        &self,
        id: &ChargerId,
        site: Option<&SiteId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<SiteId>>>;
}
