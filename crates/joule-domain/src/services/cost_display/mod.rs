//! The charger price display as a use case: the OCA "OCPP & California
//! Pricing Requirements" (STANDARDS.md §3) in the domain's words. Given what
//! happened at a charger ([`CostEvent`]) and the charger's display state
//! ([`ChargerDisplay`]), it says what the display should show
//! ([`CostNotice`]); each protocol adapter only puts that on its wire.
//!
//! - **Default price** ([`CostDisplay::configure`]): the anonymous price of
//!   the tariff in force, its offline text, the site's UTC offset (and the
//!   next DST transition), whether idle time after the stop is billed, and
//!   texts per supported language; again at each of its price boundaries.
//! - **User price** after a driver is accepted.
//! - **Running cost** during a session: at its start, after each of its
//!   meter values, every `running_cost_interval` and at price boundaries
//!   ([`CostDisplay::tick`]); after the stop while idle time is billed.
//! - **Final cost** after the stop, or after the unplug when idle time after
//!   the stop is billed.
//!
//! Every cost comes from [`session_cost`], the one place a session is
//! priced. Texts are in the driver's language (their id token's), else the
//! charger's site's, else English; time-of-day prices and the UTC offset are
//! read in the site's time zone (see [`Audience`]). Time comes from the
//! injected clock, so the whole use case is tested without a network or a
//! timer (`tests.rs`).

mod notice;
mod reads;
mod state;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::Instrument as _;

use crate::charging::session::Session;
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken};
use crate::kernel::language::{choose_language, Language};
use crate::ports::clock::Clock;
use crate::pricing::display::{
    idle_cost_text, latest_register, next_price_boundary, offline_price_text, running_cost_text,
    unit_prices_at, utc_offset_at, SessionPoint,
};
use crate::pricing::session_cost::{bills_idle_after_stop, PricedUntil, SessionCostNow};
use crate::pricing::stored::{cost_summary, StoredTariff};
use crate::pricing::ValidTariff;
use crate::services::session_cost::session_cost;

pub use self::notice::{CostEvent, CostNotice, CostState, DisplaySetting, FinalCost, RunningCost};
pub use self::reads::{CostDisplayReads, CostDisplayStores};
pub use self::state::{Audience, ChargerDisplay, DisplaySupport, Followed};

/// How the display is run.
#[derive(Debug, Clone)]
pub struct CostDisplaySettings {
    /// A receipt link is this + `/{receipt token}` of the session's payment.
    pub receipt_base_url: String,
    /// Period of the running cost during a session.
    pub running_cost_interval: std::time::Duration,
}

/// The price display service (see the module docs).
pub struct CostDisplay {
    reads: Arc<dyn CostDisplayReads>,
    clock: Arc<dyn Clock>,
    receipt_base_url: String,
    interval: chrono::Duration,
}

impl std::fmt::Debug for CostDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CostDisplay")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl CostDisplay {
    pub fn new(
        reads: Arc<dyn CostDisplayReads>,
        clock: Arc<dyn Clock>,
        settings: CostDisplaySettings,
    ) -> Self {
        Self {
            reads,
            clock,
            receipt_base_url: settings.receipt_base_url,
            interval: chrono::Duration::from_std(settings.running_cost_interval)
                .unwrap_or_else(|_| chrono::Duration::days(365)),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Whether an anonymous driver has a price at `charger` now. Only such
    /// a charger is asked whether it displays prices: asking is one more
    /// round trip, which a reconnect storm of thousands of chargers pays for.
    pub async fn has_price(&self, charger: &ChargerId) -> bool {
        self.in_force(charger, None, self.now()).await.is_some()
    }

    /// The price settings for the tariff in force now (an anonymous
    /// driver's price), and when they change next; none when no tariff is in
    /// force (the charger keeps what it shows) or it does not validate.
    pub async fn configure(
        &self,
        charger: &ChargerId,
        display: &mut ChargerDisplay,
    ) -> Vec<CostNotice> {
        let now = self.now();
        let Some((tariff, audience)) = self.in_force(charger, None, now).await else {
            tracing::info!("no tariff in force: DefaultPrice left as it is");
            display.config_boundary = None;
            return Vec::new();
        };
        display.config_boundary = ValidTariff::new(tariff.tariff.clone(), tariff.extensions)
            .ok()
            .and_then(|valid| next_price_boundary(&valid, audience.time_zone, now));
        configuration(&tariff, &display.support, audience, now)
            .map(CostNotice::Config)
            .into_iter()
            .collect()
    }

    /// What `event` at `charger` makes the display show.
    pub async fn on_event(
        &self,
        charger: &ChargerId,
        display: &mut ChargerDisplay,
        event: CostEvent,
    ) -> Vec<CostNotice> {
        let now = self.now();
        let mut out = Vec::new();
        match event {
            CostEvent::Authorized { id_tag } => {
                out.extend(self.user_price(charger, &id_tag, now).await);
            }
            CostEvent::SessionStarted { session } => {
                if display.followed(session.transaction_id.get()).is_some() {
                    return out;
                }
                let Some(tariff) = self.frozen_tariff(&session).await else {
                    return out;
                };
                let audience = self.session_audience(&session).await;
                if let Some(mut followed) = Followed::new(*session, tariff, audience, now) {
                    out.extend(self.running_cost(&mut followed, now).await);
                    display.sessions.push(followed);
                }
            }
            CostEvent::SessionStopped { session } => {
                let followed = display.take(session.transaction_id.get());
                let (tariff, audience) = match followed {
                    Some(f) => (Some(f.tariff), Some(f.audience)),
                    None => (self.frozen_tariff(&session).await, None),
                };
                let Some(tariff) = tariff else {
                    return out;
                };
                let audience = match audience {
                    Some(audience) => audience,
                    None => self.session_audience(&session).await,
                };
                let idle = display.idle_after_stop && bills_idle_after_stop(&tariff);
                match Followed::new((*session).clone(), tariff, audience, now) {
                    Some(mut followed) if idle => {
                        // The final cost waits for the connector to be free.
                        followed.idle_after_stop = true;
                        out.extend(self.running_cost(&mut followed, now).await);
                        display.sessions.push(followed);
                    }
                    _ => out.extend(self.final_cost(&session, PricedUntil::Now, now).await),
                }
            }
            CostEvent::MeterValues { transaction_id } => {
                if let Some(followed) = display.followed(transaction_id) {
                    // The interval restarts from this running cost.
                    out.extend(self.running_cost(followed, now).await);
                }
            }
            CostEvent::ConnectorAvailable { connector_id, at } => {
                let waiting = display.sessions.iter().find(|s| {
                    s.idle_after_stop
                        && i64::from(s.session.connector_id.get()) == i64::from(connector_id)
                });
                if let Some(tx) = waiting.map(|s| s.session.transaction_id.get()) {
                    if let Some(f) = display.take(tx) {
                        out.extend(self.unplugged(f, at, now).await);
                    }
                }
            }
            CostEvent::Unplugged { transaction_id, at } => {
                let waiting = display
                    .sessions
                    .iter()
                    .any(|s| s.idle_after_stop && s.session.transaction_id.get() == transaction_id);
                if waiting {
                    if let Some(f) = display.take(transaction_id) {
                        out.extend(self.unplugged(f, at, now).await);
                    }
                }
            }
        }
        out
    }

    /// The running cost of every followed session that is due, and the
    /// price settings again when the anonymous price changed.
    pub async fn tick(&self, charger: &ChargerId, display: &mut ChargerDisplay) -> Vec<CostNotice> {
        let now = self.now();
        let config_due = display.config_boundary.is_some_and(|b| b <= now);
        let mut out = Vec::new();
        for followed in display.sessions.iter_mut().filter(|f| f.due(now)) {
            let span = tracing::debug_span!("running_cost", session_id = %followed.session.id);
            out.extend(self.running_cost(followed, now).instrument(span).await);
        }
        if config_due {
            out.extend(self.configure(charger, display).await);
        }
        out
    }

    /// The tariff in force at `charger` now for the driver with `id_tag`
    /// (or an anonymous one), with its audience; `None` (logged) without
    /// one. A driver's price names no connector, so connector assignments
    /// do not apply.
    async fn in_force(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdToken>,
        now: DateTime<Utc>,
    ) -> Option<(StoredTariff, Audience)> {
        let candidates = match self.reads.tariff_candidates(charger, id_tag).await {
            Ok(candidates) => candidates?,
            Err(error) => {
                tracing::warn!(%error, "tariff lookup failed");
                return None;
            }
        };
        let tariff = candidates
            .resolve(charger, ConnectorId::WHOLE_CHARGER, id_tag, now)?
            .tariff
            .clone();
        let site = candidates.site.as_ref().map(|s| s.language.as_str());
        let language = self.driver_language(id_tag, site).await;
        Some((
            tariff,
            Audience {
                time_zone: candidates.time_zone(),
                language,
            },
        ))
    }

    /// The driver's language (their token's), else the site's, else English.
    async fn driver_language(&self, id_tag: Option<&IdToken>, site: Option<&str>) -> Language {
        let driver = match id_tag {
            Some(tag) => self
                .reads
                .driver_language(tag)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "token lookup failed: site language");
                    None
                }),
            None => None,
        };
        choose_language(driver.as_deref(), site)
    }

    /// The audience of a session's texts: its charger's site now, its driver.
    async fn session_audience(&self, session: &Session) -> Audience {
        match self
            .reads
            .tariff_candidates(&session.charger_id, None)
            .await
        {
            Ok(Some(candidates)) => Audience {
                time_zone: candidates.time_zone(),
                language: self
                    .driver_language(
                        Some(&session.id_tag),
                        candidates.site.as_ref().map(|s| s.language.as_str()),
                    )
                    .await,
            },
            Ok(None) => Audience {
                language: self.driver_language(Some(&session.id_tag), None).await,
                ..Audience::DEFAULT
            },
            Err(error) => {
                tracing::warn!(session_id = %session.id, %error, "site lookup failed: UTC, English");
                Audience::DEFAULT
            }
        }
    }

    /// The tariff version frozen on the session, or `None` (logged).
    async fn frozen_tariff(&self, session: &Session) -> Option<StoredTariff> {
        let frozen = session.tariff.as_ref()?;
        match self
            .reads
            .tariff_version(&frozen.tariff_id, frozen.version)
            .await
        {
            Ok(Some(tariff)) => Some(tariff),
            Ok(None) => {
                tracing::warn!(session_id = %session.id, "the session's tariff version is missing");
                None
            }
            Err(error) => {
                tracing::warn!(session_id = %session.id, %error, "store failed reading the tariff version");
                None
            }
        }
    }

    /// The receipt page of the session: `{receipt_base_url}/{token}` of the
    /// payment that pays for it. `None` for a session not paid through Joule
    /// (an RFID or roaming driver is billed elsewhere; the whitepaper makes
    /// the link optional), or when the store fails (logged).
    async fn receipt_url(&self, session: &Session) -> Option<String> {
        match self.reads.receipt_token(session.id).await {
            Ok(token) => token
                .map(|token| format!("{}/{}", self.receipt_base_url.trim_end_matches('/'), token)),
            Err(error) => {
                tracing::warn!(session_id = %session.id, %error, "payment lookup failed: no receipt link");
                None
            }
        }
    }

    /// The session priced up to `until` through [`session_cost`]; `None`
    /// (logged) when it cannot be.
    async fn cost(
        &self,
        session: &Session,
        until: PricedUntil,
        now: DateTime<Utc>,
    ) -> Option<(
        SessionCostNow,
        Vec<crate::charging::session::StoredMeterValue>,
    )> {
        let meter_values = match self.reads.meter_values(session.id).await {
            Ok(values) => values,
            Err(error) => {
                tracing::warn!(session_id = %session.id, %error, "store failed: no cost message");
                return None;
            }
        };
        match session_cost(self.reads.as_ref(), session, &meter_values, until, now).await {
            Ok(cost) => cost.map(|cost| (cost, meter_values)),
            Err(error) => {
                tracing::warn!(session_id = %session.id, %error, "store failed: no cost message");
                None
            }
        }
    }

    /// The user price of an accepted driver, or `None` without a tariff.
    async fn user_price(
        &self,
        charger: &ChargerId,
        id_tag: &IdToken,
        now: DateTime<Utc>,
    ) -> Option<CostNotice> {
        let Some((tariff, audience)) = self.in_force(charger, Some(id_tag), now).await else {
            tracing::debug!("no tariff in force: no SetUserPrice");
            return None;
        };
        Some(CostNotice::UserPrice {
            id_tag: id_tag.clone(),
            price_text: tariff.price_text(Some(audience.language.code()), None).text,
        })
    }

    /// The running cost of a followed session at `now`, and moves its next
    /// tick and boundary on. `None` (logged) when it cannot be priced.
    async fn running_cost(
        &self,
        followed: &mut Followed,
        now: DateTime<Utc>,
    ) -> Option<CostNotice> {
        followed.next_tick = now + self.interval;
        let from = followed.boundary.map_or(now, |b| b.max(now));
        let tz = followed.audience.time_zone;
        followed.boundary = next_price_boundary(&followed.valid, tz, from);
        let session = &followed.session;
        let until = if followed.idle_after_stop {
            PricedUntil::Unplugged(now)
        } else {
            PricedUntil::Now
        };
        let (cost, meter_values) = self.cost(session, until, now).await?;
        let breakdown = cost.price.breakdown;
        let (_, meter_wh) = latest_register(session, &meter_values, now);
        let point = SessionPoint {
            started_at: session.started_at,
            energy_kwh: breakdown.total_energy_kwh,
        };
        let prices = unit_prices_at(&followed.valid, tz, now, point);
        let next_period = followed
            .boundary
            .map(|at| (at, unit_prices_at(&followed.valid, tz, at, point)));
        let language = followed.audience.language;
        let (state, price_text) = if followed.idle_after_stop {
            (CostState::Idle, idle_cost_text(&breakdown, language))
        } else {
            (CostState::Charging, running_cost_text(&breakdown, language))
        };
        Some(CostNotice::RunningCost(Box::new(RunningCost {
            transaction_id: session.transaction_id.get(),
            at: now,
            meter_wh,
            cost: breakdown.total_cost.incl_vat.to_decimal(),
            state,
            prices,
            next_period,
            reading_wanted_at: followed.boundary,
            price_text,
            receipt_url: self.receipt_url(session).await,
        })))
    }

    /// The final cost of an ended session, priced up to `until`; `None`
    /// (logged) for a session without tariff or that cannot be priced.
    async fn final_cost(
        &self,
        session: &Session,
        until: PricedUntil,
        now: DateTime<Utc>,
    ) -> Option<CostNotice> {
        let (cost, _) = self.cost(session, until, now).await?;
        let audience = self.session_audience(session).await;
        let breakdown = cost.price.breakdown;
        Some(CostNotice::FinalCost(FinalCost {
            transaction_id: session.transaction_id.get(),
            cost: breakdown.total_cost.incl_vat.to_decimal(),
            price_text: cost_summary(&breakdown, audience.language),
            receipt_url: self.receipt_url(session).await,
        }))
    }

    /// The final cost of a session whose connector became free at `at`
    /// after idle time after its stop (never before its stop, never after
    /// now).
    async fn unplugged(
        &self,
        followed: Followed,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<CostNotice> {
        let stop = followed.session.stopped_at.unwrap_or(at);
        let until = PricedUntil::Unplugged(at.max(stop).min(now.max(stop)));
        self.final_cost(&followed.session, until, now).await
    }
}

/// The price settings for `tariff` on a charger with `support`, in the
/// order they are sent; `None` when the tariff does not validate (logged).
pub fn configuration(
    tariff: &StoredTariff,
    support: &DisplaySupport,
    audience: Audience,
    now: DateTime<Utc>,
) -> Option<Vec<DisplaySetting>> {
    let valid = match ValidTariff::new(tariff.tariff.clone(), tariff.extensions) {
        Ok(valid) => valid,
        Err(error) => {
            tracing::warn!(tariff_id = %tariff.tariff.id, %error, "tariff does not validate: no DefaultPrice");
            return None;
        }
    };
    let language = audience.language;
    let mut settings = vec![DisplaySetting::DefaultPrice {
        price_text: tariff.price_text(Some(language.code()), None).text,
        price_text_offline: offline_price_text(tariff, language),
        prices: unit_prices_at(&valid, audience.time_zone, now, SessionPoint::fresh(now)),
    }];
    let offset = utc_offset_at(audience.time_zone, now);
    settings.push(DisplaySetting::TimeOffset(offset.offset));
    if let Some((at, after)) = offset.next_transition {
        settings.push(DisplaySetting::NextTimeOffsetAt(at));
        settings.push(DisplaySetting::NextTimeOffset(after));
    }
    if support.idle_after_stop_setting {
        settings.push(DisplaySetting::IdleFeeAfterStop(bills_idle_after_stop(
            tariff,
        )));
    }
    if let Some(languages) = &support.languages {
        let default = language.code();
        if languages.iter().any(|l| l.eq_ignore_ascii_case(default)) {
            settings.push(DisplaySetting::Language(default.to_owned()));
        }
        for lang in languages {
            let has_text = tariff
                .tariff
                .tariff_alt_text
                .iter()
                .any(|t| t.language.eq_ignore_ascii_case(lang));
            if !has_text {
                continue;
            }
            settings.push(DisplaySetting::DefaultPriceText {
                language: lang.clone(),
                price_text: tariff.price_text(Some(lang), None).text,
                price_text_offline: offline_price_text(tariff, Language::from_tag(lang)),
            });
        }
    }
    Some(settings)
}
