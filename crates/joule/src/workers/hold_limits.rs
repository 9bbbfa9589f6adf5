//! The hold-limit watch (docs/payments.md, "Hold limits"): checks a
//! session's card hold each time its meter values are stored, and every
//! running session with an open hold periodically as a safety net.
//!
//! The charging service tells [`HoldWatch`] of every stored batch of meter
//! values; the watch looks the connector up in an in-memory map of the
//! connectors with an open hold (refreshed from the store every
//! `refresh` by one query), so a session without a payment costs a map
//! lookup and no store read. Checks run one at a time in one task, so two
//! checks can never both raise the same hold.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use joule_domain::kernel::ids::{ChargerId, ConnectorId, SessionId};
use joule_domain::services::charging::MeterObserver;
use joule_domain::services::payments::{HoldCheck, PaymentService};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Checks waiting to run; beyond this a meter value's check is dropped
/// (the periodic check covers it).
const QUEUE: usize = 1024;

/// Open holds watched at most (the oldest first).
const MAX_HELD: u32 = 10_000;

/// The connectors whose running session has an open hold, and the queue
/// of sessions to check.
#[derive(Debug)]
pub struct HoldWatch {
    held: RwLock<HashMap<ChargerId, Vec<(ConnectorId, SessionId)>>>,
    queue: mpsc::Sender<SessionId>,
}

impl MeterObserver for HoldWatch {
    fn meter_values_stored(&self, charger: &ChargerId, connector: ConnectorId) {
        let session = self
            .held
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(charger)
            .and_then(|v| v.iter().find(|(c, _)| *c == connector).map(|(_, s)| *s));
        if let Some(session) = session {
            if self.queue.try_send(session).is_err() {
                tracing::debug!(%session, "hold check queue full; the periodic check covers it");
            }
        }
    }
}

impl HoldWatch {
    /// A watch and the receiving end of its queue, for [`spawn_hold_watch`].
    pub fn new() -> (Arc<Self>, mpsc::Receiver<SessionId>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let watch = Arc::new(Self {
            held: RwLock::new(HashMap::new()),
            queue,
        });
        (watch, rx)
    }

    /// Replaces the map; returns the sessions that were not in it.
    fn replace(&self, sessions: Vec<(ChargerId, ConnectorId, SessionId)>) -> Vec<SessionId> {
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        let before: HashSet<SessionId> = held.values().flatten().map(|(_, s)| *s).collect();
        let mut map: HashMap<ChargerId, Vec<(ConnectorId, SessionId)>> = HashMap::new();
        let mut new = Vec::new();
        for (charger, connector, session) in sessions {
            if !before.contains(&session) {
                new.push(session);
            }
            map.entry(charger).or_default().push((connector, session));
        }
        *held = map;
        new
    }
}

/// Runs the watch: meter-value checks as they come, a refresh of the map
/// every `refresh` (checking sessions new to it at once), and a check of
/// every watched session every `full_check`.
pub fn spawn_hold_watch(
    watch: Arc<HoldWatch>,
    rx: mpsc::Receiver<SessionId>,
    service: PaymentService,
    refresh: Duration,
    full_check: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run(watch, rx, service, refresh, full_check, shutdown))
}

async fn run(
    watch: Arc<HoldWatch>,
    mut rx: mpsc::Receiver<SessionId>,
    service: PaymentService,
    refresh: Duration,
    full_check: Duration,
    shutdown: CancellationToken,
) {
    let mut refresh_tick = tokio::time::interval(refresh);
    refresh_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut full_tick = tokio::time::interval(full_check);
    full_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let batch: BTreeSet<SessionId> = tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(first) = rx.recv() => {
                // Many meter values of one session queued: one check.
                let mut batch = BTreeSet::from([first]);
                while let Ok(more) = rx.try_recv() {
                    batch.insert(more);
                }
                batch
            }
            _ = refresh_tick.tick() => refreshed(&watch, &service, false).await,
            _ = full_tick.tick() => refreshed(&watch, &service, true).await,
        };
        for session in batch {
            check(&service, session).await;
        }
    }
}

/// Reloads the watched sessions; returns those to check now (the new ones,
/// or all of them).
async fn refreshed(watch: &HoldWatch, service: &PaymentService, all: bool) -> BTreeSet<SessionId> {
    match service.held_sessions(MAX_HELD).await {
        Ok(payments) => {
            let sessions: Vec<(ChargerId, ConnectorId, SessionId)> = payments
                .into_iter()
                .filter_map(|p| p.session_id.map(|s| (p.charger_id, p.connector_id, s)))
                .collect();
            let everyone: BTreeSet<SessionId> = sessions.iter().map(|(_, _, s)| *s).collect();
            let new = watch.replace(sessions);
            if all {
                everyone
            } else {
                new.into_iter().collect()
            }
        }
        Err(error) => {
            tracing::warn!(%error, "hold watch: reading the open holds failed; retried");
            BTreeSet::new()
        }
    }
}

async fn check(service: &PaymentService, session: SessionId) {
    match service.check_hold_limit(session).await {
        Ok(HoldCheck::NotHeld | HoldCheck::WithinHold { .. }) => {}
        Ok(outcome) => tracing::info!(%session, ?outcome, "hold limit"),
        Err(error) => tracing::warn!(%session, %error, "hold check failed; retried later"),
    }
}
