//! What every task of the server shares: settings, the use cases, the
//! registry of live connections, the message-log queue and the stop signal.
//! Kept apart from the accept loop (`server.rs`) so that connection tasks,
//! the handshake and the price watch depend on this state, never on the
//! server that spawns them.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};

use joule_domain::charging::message_log::LogEntry;
use joule_domain::ports::store::{ChargerStore, EventLog, MessageLogStore};
use joule_domain::services::charging::ChargingService;
use joule_domain::services::cost_display::CostDisplay;
use tokio::sync::{mpsc, watch, Notify};

use crate::msglog::LogSink;
use crate::password::Argon2Passwords;
use crate::registry::Registry;
use crate::settings::CsmsSettings;
use crate::v16::vendors::DataTransferRegistry;

/// The price display, once enabled (see `Csms::enable_price_display`).
pub(crate) struct PriceDisplay {
    /// The use case; connections only encode what it says.
    pub service: Arc<CostDisplay>,
    /// Followed from the newest event at start-up to notice tariff changes.
    pub events: Arc<dyn EventLog>,
}

/// The log store and queue, until `bind` starts the writer task.
pub(crate) type PendingWriter = (Arc<dyn MessageLogStore>, mpsc::Receiver<LogEntry>);

pub(crate) struct Inner {
    pub settings: CsmsSettings,
    pub service: ChargingService,
    pub chargers: Arc<dyn ChargerStore>,
    pub passwords: Arc<Argon2Passwords>,
    pub log: LogSink,
    pub data_transfer: DataTransferRegistry,
    /// Set by `Csms::enable_price_display`.
    pub price_display: OnceLock<PriceDisplay>,
    pub registry: Registry,
    pub shutdown: watch::Sender<bool>,
    /// Connection tasks alive (handshaking or connected).
    pub live_tasks: AtomicUsize,
    pub tasks_done: Notify,
    pub log_writer: Mutex<Option<PendingWriter>>,
}

impl Inner {
    /// See [`Registry::notify_price_changed`].
    pub(crate) fn notify_price_changed(&self, chargers: Option<&HashSet<String>>) {
        self.registry.notify_price_changed(chargers);
    }
}
