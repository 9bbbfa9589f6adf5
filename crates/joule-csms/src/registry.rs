//! The live connections of this node, by charger: what the command router
//! and the price watch reach a connection task through (its mailbox), and
//! how a reconnect replaces the older connection. A mutex-guarded map,
//! never held across an await.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use joule_domain::ports::command::CommandError;
use joule_domain::ChargerId;
use joule_ocpp::v16::Action16;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Notify};

/// A command on its way to a connection task, as the 1.6 call it became
/// (`v16::commands`), with where to send the answer payload. Boxed in the
/// mailbox so an idle channel's slots stay pointer-sized.
pub(crate) struct Envelope {
    pub action: Action16,
    pub payload: Value,
    pub reply: oneshot::Sender<Result<Value, CommandError>>,
}

/// What a connection task's mailbox carries.
pub(crate) enum Mail {
    /// An operator command for the charger.
    Command(Box<Envelope>),
    /// The tariff in force at the charger may have changed: re-evaluate the
    /// price display (see `price_watch`).
    PriceChanged,
}

/// The registry's view of a live connection.
pub(crate) struct ConnHandle {
    pub generation: u64,
    pub mailbox: mpsc::Sender<Mail>,
    /// Told when a newer connection of the same charger replaces this one.
    pub replaced: Arc<Notify>,
}

#[derive(Default)]
pub(crate) struct Registry {
    map: Mutex<HashMap<ChargerId, ConnHandle>>,
    generations: AtomicU64,
}

impl Registry {
    fn map(&self) -> MutexGuard<'_, HashMap<ChargerId, ConnHandle>> {
        // Never held across an await; a poisoned map is still consistent.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }

    pub(crate) fn contains(&self, charger: &ChargerId) -> bool {
        self.map().contains_key(charger)
    }

    /// The mailbox of the charger's live connection, if any.
    pub(crate) fn mailbox(&self, charger: &ChargerId) -> Option<mpsc::Sender<Mail>> {
        self.map().get(charger).map(|h| h.mailbox.clone())
    }

    /// Registers a new connection, replacing (and notifying) an older one.
    pub(crate) fn register(
        &self,
        charger: &ChargerId,
        mailbox: mpsc::Sender<Mail>,
    ) -> (u64, Arc<Notify>) {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let replaced = Arc::new(Notify::new());
        let old = self.map().insert(
            charger.clone(),
            ConnHandle {
                generation,
                mailbox,
                replaced: Arc::clone(&replaced),
            },
        );
        if let Some(old) = old {
            tracing::info!(charger_id = %charger, "new connection replaces the previous one");
            old.replaced.notify_one();
        }
        (generation, replaced)
    }

    /// Tells the connections of `chargers` (all when `None`) that their
    /// price may have changed. Never waits: a full mailbox skips the notice
    /// (that connection is busy with commands; the next change or boot
    /// catches it up).
    pub(crate) fn notify_price_changed(&self, chargers: Option<&HashSet<String>>) {
        let mailboxes: Vec<(ChargerId, mpsc::Sender<Mail>)> = self
            .map()
            .iter()
            .filter(|(id, _)| chargers.is_none_or(|set| set.contains(id.as_str())))
            .map(|(id, h)| (id.clone(), h.mailbox.clone()))
            .collect();
        for (charger, mailbox) in mailboxes {
            if let Err(mpsc::error::TrySendError::Full(_)) = mailbox.try_send(Mail::PriceChanged) {
                tracing::debug!(charger_id = %charger, "mailbox full: price change notice skipped");
            }
        }
    }

    /// Removes the connection if it is still the current one; returns
    /// whether it was (only then is the charger marked offline).
    pub(crate) fn unregister(&self, charger: &ChargerId, generation: u64) -> bool {
        let mut map = self.map();
        if map.get(charger).map(|h| h.generation) == Some(generation) {
            map.remove(charger);
            true
        } else {
            false
        }
    }
}
