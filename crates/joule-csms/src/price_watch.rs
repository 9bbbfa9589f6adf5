//! Follows the outbox for changes of the tariff in force at chargers and
//! tells the affected connections to re-evaluate their price display
//! (DESIGN.md: consumers of the event log).
//!
//! An [`OutboxConsumer`] run by the domain's one runner. The cursor is in
//! memory and starts at the newest event at start-up: a
//! connection evaluates its price when it connects, so only changes made
//! while it is connected matter, and nothing needs replaying after a
//! restart. `charger.tariff_changed` concerns one charger; a tariff created,
//! replaced or deleted, or the default changed, may concern any, so every
//! connected charger is told (each compares with what it last sent and
//! stays silent when nothing changed). Connections read the store only
//! when told, never per heartbeat.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use joule_domain::events::event::{EventKind, StoredEvent};
use joule_domain::ports::consumer::{ConsumerError, OutboxConsumer, Pacer};
use joule_domain::services::outbox_runner::{CursorHome, OutboxRunner, RunnerSettings};
use tokio::sync::watch;

use crate::shutdown::stopped;
use crate::state::Inner;

/// How often the outbox is read.
const POLL: Duration = Duration::from_secs(1);
/// Events read per query.
const BATCH: u32 = 500;

/// Whose tariff in force an event of a kind may change.
enum Reach {
    /// Any charger's: a tariff, or the default, changed.
    Every,
    /// The event's own charger's.
    Own,
}

fn reach(kind: EventKind) -> Option<Reach> {
    match kind {
        EventKind::TariffCreated
        | EventKind::TariffUpdated
        | EventKind::TariffDeleted
        | EventKind::TariffDefaultChanged => Some(Reach::Every),
        EventKind::ChargerTariffChanged => Some(Reach::Own),
        _ => None,
    }
}

/// Which chargers an event concerns, if any: `Some(None)` is all of them.
fn concerns(event: &StoredEvent) -> Option<Option<&str>> {
    match reach(event.kind.known()?)? {
        Reach::Every => Some(None),
        Reach::Own => event.charger_id.as_deref().map(Some),
    }
}

/// The chargers told after a pass.
#[derive(Default)]
struct Changed {
    all: bool,
    chargers: HashSet<String>,
}

/// The outbox consumer: collects the chargers a pass's events concern and
/// tells their connections once, after the pass.
struct PriceWatch {
    inner: Arc<Inner>,
    changed: Mutex<Changed>,
}

#[async_trait]
impl OutboxConsumer for PriceWatch {
    fn name(&self) -> &'static str {
        "price_watch"
    }

    fn wants(&self, kind: EventKind) -> bool {
        reach(kind).is_some()
    }

    async fn handle(&self, event: &StoredEvent) -> Result<(), ConsumerError> {
        let mut changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        match concerns(event) {
            Some(None) => changed.all = true,
            Some(Some(charger)) => {
                changed.chargers.insert(charger.to_owned());
            }
            None => {}
        }
        Ok(())
    }

    async fn after_pass(&self) {
        let Changed { all, chargers } =
            std::mem::take(&mut *self.changed.lock().unwrap_or_else(|e| e.into_inner()));
        if all {
            tracing::debug!("tariffs changed: every connected charger re-evaluates its price");
            self.inner.notify_price_changed(None);
        } else if !chargers.is_empty() {
            tracing::debug!(chargers = chargers.len(), "charger tariffs changed");
            self.inner.notify_price_changed(Some(&chargers));
        }
    }
}

/// The runner's time and shutdown: tokio's timer and the server's
/// shutdown signal.
struct ServerPacer(watch::Receiver<bool>);

#[async_trait]
impl Pacer for ServerPacer {
    async fn pause(&self, delay: Duration) -> bool {
        let mut shutdown = self.0.clone();
        tokio::select! {
            () = stopped(&mut shutdown) => false,
            () = tokio::time::sleep(delay) => true,
        }
    }

    fn stopping(&self) -> bool {
        *self.0.borrow()
    }
}

pub(crate) async fn run(inner: Arc<Inner>, shutdown: watch::Receiver<bool>) {
    let Some(display) = inner.price_display.get() else {
        return;
    };
    let runner = OutboxRunner::new(
        display.events.clone(),
        CursorHome::FromNow,
        RunnerSettings {
            poll: POLL,
            batch: BATCH,
            max_backoff: POLL,
        },
    );
    let watch = PriceWatch {
        inner: Arc::clone(&inner),
        changed: Mutex::default(),
    };
    runner.run(&watch, &ServerPacer(shutdown)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn event(kind: EventKind, charger: Option<&str>) -> StoredEvent {
        StoredEvent {
            id: 1,
            kind: kind.into(),
            charger_id: charger.map(str::to_owned),
            session_id: None,
            payload: serde_json::Value::Null,
            occurred_at: Utc::now(),
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn tariff_events_concern_all_or_one_charger() {
        assert_eq!(concerns(&event(EventKind::TariffUpdated, None)), Some(None));
        assert_eq!(
            concerns(&event(EventKind::TariffDefaultChanged, None)),
            Some(None)
        );
        assert_eq!(
            concerns(&event(EventKind::ChargerTariffChanged, Some("CP1"))),
            Some(Some("CP1"))
        );
        assert_eq!(
            concerns(&event(EventKind::SessionStarted, Some("CP1"))),
            None
        );
    }
}
