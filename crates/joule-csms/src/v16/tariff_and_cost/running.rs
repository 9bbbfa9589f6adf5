//! Per-connection price display state: what the charger supports, what was
//! last configured on it, and the sessions getting `RunningCost`.
//!
//! A session is followed from its StartTransaction (a RunningCost at once),
//! then after each of its MeterValues (which restarts the interval), every
//! `running_cost_interval` and at each price boundary of its
//! frozen tariff version (`next_price_boundary`), until its stop, or, when
//! idle time after the stop is billed, until its connector is free (state
//! `Idle`). The state lives in the connection task and ends with it.

use chrono::{DateTime, Utc};
use joule_domain::price_display::{
    idle_cost_text, latest_register, next_price_boundary, price_until_unplugged, running_cost_text,
    unit_prices_at, SessionPoint,
};
use joule_domain::pricing::ValidTariff;
use joule_domain::session::Session;
use joule_domain::session_cost::price_session_cost;
use joule_domain::tariffs::StoredTariff;
use serde_json::Value;
use tokio::time::Instant;

use super::messages::{ChargingPrice, CostState, IdlePrice, NextPeriod, RunningCost, Triggers};
use super::{data_transfer, session_statuses, Audience, ChargerSupport, PriceDisplay};

/// A supporting charger's display state (boxed in the connection, which
/// most chargers never need).
#[derive(Debug)]
pub(crate) struct DisplayState {
    pub support: ChargerSupport,
    /// The charger accepted `CustomIdleFeeAfterStop=true`.
    pub idle_after_stop: bool,
    /// The configuration last sent, so an unchanged tariff is not re-sent.
    pub last_config: Option<Vec<(String, String)>>,
    /// When the anonymous price (`DefaultPrice`) changes next.
    pub config_boundary: Option<DateTime<Utc>>,
    pub sessions: Vec<Followed>,
}

impl DisplayState {
    pub(crate) fn new(support: ChargerSupport) -> Self {
        Self {
            support,
            idle_after_stop: false,
            last_config: None,
            config_boundary: None,
            sessions: Vec::new(),
        }
    }

    /// The earliest wake-up the display needs; `now_utc`/`now` convert the
    /// clock's boundaries to timer instants.
    pub(crate) fn next_deadline(&self, now_utc: DateTime<Utc>, now: Instant) -> Option<Instant> {
        let at = |b: DateTime<Utc>| now + (b - now_utc).to_std().unwrap_or_default();
        self.sessions
            .iter()
            .flat_map(|s| [Some(s.next_tick), s.boundary.map(at)])
            .chain([self.config_boundary.map(at)])
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
}

/// A session getting `RunningCost`.
#[derive(Debug)]
pub(crate) struct Followed {
    pub session: Session,
    pub tariff: StoredTariff,
    pub valid: ValidTariff,
    /// Its site's time zone and its driver's language, read once when the
    /// session is first followed.
    pub audience: Audience,
    /// Ended, connector still occupied, idle billed until it is free.
    pub idle_after_stop: bool,
    pub next_tick: Instant,
    pub boundary: Option<DateTime<Utc>>,
}

impl Followed {
    /// `None` (logged) when the frozen version does not validate.
    pub(crate) fn new(
        session: Session,
        tariff: StoredTariff,
        audience: Audience,
        next_tick: Instant,
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

    /// Whether a RunningCost is due.
    pub(crate) fn due(&self, now_utc: DateTime<Utc>, now: Instant) -> bool {
        self.next_tick <= now || self.boundary.is_some_and(|b| b <= now_utc)
    }
}

/// The `RunningCost` of a followed session at `now`, and moves its next
/// tick and boundary on. `None` (logged) when it cannot be priced.
pub(crate) async fn running_cost(
    display: &PriceDisplay,
    followed: &mut Followed,
    now_utc: DateTime<Utc>,
    now: Instant,
) -> Option<Value> {
    followed.next_tick = now + display.running_cost_interval;
    let from = followed.boundary.map_or(now_utc, |b| b.max(now_utc));
    let tz = followed.audience.time_zone;
    followed.boundary = next_price_boundary(&followed.valid, tz, from);
    let session = &followed.session;
    let meter_values = match display.sessions.session_meter_values(session.id).await {
        Ok(values) => values,
        Err(error) => {
            tracing::warn!(session_id = %session.id, %error, "store failed: no RunningCost");
            return None;
        }
    };
    let statuses = session_statuses(display, session, &followed.tariff, now_utc).await;
    let priced = if followed.idle_after_stop {
        price_until_unplugged(
            session,
            &meter_values,
            &statuses,
            &followed.tariff,
            tz,
            now_utc,
        )
    } else {
        price_session_cost(
            session,
            &meter_values,
            &statuses,
            &followed.tariff,
            tz,
            now_utc,
        )
        .map(|p| p.breakdown)
    };
    let breakdown = match priced {
        Ok(breakdown) => breakdown,
        Err(error) => {
            tracing::warn!(session_id = %session.id, %error, "cannot price: no RunningCost");
            return None;
        }
    };
    let (_, register_wh) = latest_register(session, &meter_values, now_utc);
    let point = SessionPoint {
        started_at: session.started_at,
        energy_kwh: breakdown.total_energy_kwh,
    };
    let prices = unit_prices_at(&followed.valid, tz, now_utc, point);
    let next_period = followed.boundary.map(|at| {
        let next = unit_prices_at(&followed.valid, tz, at, point);
        NextPeriod {
            at_time: at,
            charging_price: ChargingPrice::of(&next),
            idle_price: IdlePrice::of(&next),
        }
    });
    let (state, price_text) = if followed.idle_after_stop {
        (
            CostState::Idle,
            idle_cost_text(&breakdown, followed.audience.language),
        )
    } else {
        (
            CostState::Charging,
            running_cost_text(&breakdown, followed.audience.language),
        )
    };
    data_transfer(
        "RunningCost",
        &RunningCost {
            transaction_id: session.transaction_id.get(),
            timestamp: now_utc,
            meter_value: register_wh,
            cost: breakdown.total_cost.incl_vat.to_decimal(),
            state,
            charging_price: ChargingPrice::of(&prices),
            idle_price: IdlePrice::of(&prices),
            next_period,
            // A reading at the boundary prices the part before it exactly.
            trigger_meter_value: followed.boundary.map(|at_time| Triggers { at_time }),
            price_text,
            qr_code_text: display.receipt_url(session).await,
        },
    )
}
