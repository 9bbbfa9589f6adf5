//! Follows the outbox for changes of the tariff in force at chargers and
//! tells the affected connections to re-evaluate their price display
//! (DESIGN.md: consumers of the event log).
//!
//! The cursor is in memory and starts at the newest event at start-up: a
//! connection evaluates its price when it connects, so only changes made
//! while it is connected matter, and nothing needs replaying after a
//! restart. `charger.tariff_changed` concerns one charger; a tariff created,
//! replaced or deleted, or the default changed, may concern any, so every
//! connected charger is told (each compares with what it last sent and
//! stays silent when nothing changed). Connections read the store only
//! when told, never per heartbeat.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use joule_domain::event::{EventKind, StoredEvent};
use tokio::sync::watch;

use crate::server::{stopped, Inner};

/// How often the outbox is read.
const POLL: Duration = Duration::from_secs(1);
/// Events read per query.
const BATCH: u32 = 500;

/// Which chargers an event concerns, if any: `Some(None)` is all of them.
fn concerns(event: &StoredEvent) -> Option<Option<&str>> {
    let tariff_wide = [
        EventKind::TariffCreated,
        EventKind::TariffUpdated,
        EventKind::TariffDeleted,
        EventKind::TariffDefaultChanged,
    ];
    if tariff_wide.iter().any(|k| k.as_str() == event.kind) {
        return Some(None);
    }
    if event.kind == EventKind::ChargerTariffChanged.as_str() {
        return event.charger_id.as_deref().map(Some);
    }
    None
}

pub(crate) async fn run(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let Some(display) = inner.price_display.get() else {
        return;
    };
    let mut cursor = loop {
        match display.events.latest_event_id().await {
            Ok(id) => break id,
            Err(error) => tracing::warn!(%error, "price watch: cannot read the outbox; retrying"),
        }
        tokio::select! {
            () = stopped(&mut shutdown) => return,
            () = tokio::time::sleep(POLL) => {}
        }
    };
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => return,
            () = tokio::time::sleep(POLL) => {}
        }
        let mut all = false;
        let mut chargers = HashSet::new();
        loop {
            let batch = match display.events.events_after(cursor, BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%error, "price watch: cannot read the outbox");
                    break;
                }
            };
            for event in &batch {
                match concerns(event) {
                    Some(None) => all = true,
                    Some(Some(charger)) => {
                        chargers.insert(charger.to_owned());
                    }
                    None => {}
                }
            }
            let full = batch.len() == BATCH as usize;
            if let Some(last) = batch.last() {
                cursor = last.id;
            }
            if !full {
                break;
            }
        }
        if all {
            tracing::debug!("tariffs changed: every connected charger re-evaluates its price");
            inner.notify_price_changed(None);
        } else if !chargers.is_empty() {
            tracing::debug!(chargers = chargers.len(), "charger tariffs changed");
            inner.notify_price_changed(Some(&chargers));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn event(kind: EventKind, charger: Option<&str>) -> StoredEvent {
        StoredEvent {
            id: 1,
            kind: kind.as_str().to_owned(),
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
