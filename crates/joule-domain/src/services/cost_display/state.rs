//! One charger's price display: what it supports, when its default price
//! changes next, and the sessions whose running cost it shows. Owned by
//! the charger's connection and ended with it; plain data the
//! [`CostDisplay`](super::CostDisplay) service moves on.

use chrono::{DateTime, Utc};

use crate::charging::session::Session;
use crate::kernel::language::Language;
use crate::pricing::stored::StoredTariff;
use crate::pricing::{Tz, ValidTariff};

/// What a charger said it can do with prices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisplaySupport {
    /// It knows the idle-fee-after-stop setting (so Joule may switch it on).
    pub idle_after_stop_setting: bool,
    /// It shows texts in several languages: these.
    pub languages: Option<Vec<String>>,
}

/// Where a charger's price texts are read and for whom: the time zone of
/// its site (time-of-day prices, the UTC offset) and the language chosen
/// for the driver ([`crate::kernel::language::choose_language`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience {
    pub time_zone: Tz,
    pub language: Language,
}

impl Audience {
    /// A charger without a site, an unknown driver.
    pub const DEFAULT: Audience = Audience {
        time_zone: Tz::UTC,
        language: Language::En,
    };
}

/// A supporting charger's display (boxed by its owner, since most
/// chargers never need one).
#[derive(Debug)]
pub struct ChargerDisplay {
    pub support: DisplaySupport,
    /// The charger accepted billing idle time after the stop.
    pub idle_after_stop: bool,
    /// When the anonymous price (the default price) changes next.
    pub config_boundary: Option<DateTime<Utc>>,
    pub sessions: Vec<Followed>,
}

impl ChargerDisplay {
    pub fn new(support: DisplaySupport) -> Self {
        Self {
            support,
            idle_after_stop: false,
            config_boundary: None,
            sessions: Vec::new(),
        }
    }

    /// The earliest instant the display needs the service's
    /// [`tick`](super::CostDisplay::tick).
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.sessions
            .iter()
            .flat_map(|s| [Some(s.next_tick), s.boundary])
            .chain([self.config_boundary])
            .flatten()
            .min()
    }

    pub(crate) fn take(&mut self, transaction_id: i64) -> Option<Followed> {
        let i = self
            .sessions
            .iter()
            .position(|s| s.session.transaction_id.get() == transaction_id)?;
        Some(self.sessions.swap_remove(i))
    }

    pub(crate) fn followed(&mut self, transaction_id: i64) -> Option<&mut Followed> {
        self.sessions
            .iter_mut()
            .find(|s| s.session.transaction_id.get() == transaction_id)
    }
}

/// A session whose running cost is shown: from its start (at once), after
/// each of its meter values (which restarts the interval), every
/// `running_cost_interval` and at each price boundary of its frozen tariff
/// version, until its stop, or, when idle time after the stop is billed,
/// until its connector is free.
#[derive(Debug)]
pub struct Followed {
    pub session: Session,
    pub tariff: StoredTariff,
    pub valid: ValidTariff,
    /// Read once when the session is first followed.
    pub audience: Audience,
    /// Ended, connector still occupied, idle billed until it is free.
    pub idle_after_stop: bool,
    pub next_tick: DateTime<Utc>,
    pub boundary: Option<DateTime<Utc>>,
}

impl Followed {
    /// `None` (logged) when the frozen version does not validate.
    pub(crate) fn new(
        session: Session,
        tariff: StoredTariff,
        audience: Audience,
        next_tick: DateTime<Utc>,
    ) -> Option<Self> {
        match ValidTariff::new(tariff.tariff.clone(), tariff.extensions) {
            Ok(valid) => Some(Self {
                session,
                tariff,
                valid,
                audience,
                idle_after_stop: false,
                next_tick,
                boundary: None,
            }),
            Err(error) => {
                tracing::warn!(%error, "session tariff does not validate: no RunningCost");
                None
            }
        }
    }

    /// Whether a running cost is due.
    pub(crate) fn due(&self, now: DateTime<Utc>) -> bool {
        self.next_tick <= now || self.boundary.is_some_and(|b| b <= now)
    }
}
