//! The server: listener, connection registry and the local command router.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use joule_domain::command::{ChargerCommand, CommandError, CommandRouter};
use joule_domain::service::ChargingService;
use joule_domain::store::{ChargerStore, MessageLogStore, Store};
use joule_domain::ChargerId;
use joule_ocpp::v16::Action16;
use joule_ocpp::PayloadKind;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tracing::Instrument as _;

use crate::msglog::{self, LogSink};
use crate::password::Argon2Passwords;
use crate::settings::CsmsSettings;
use crate::v16::data_transfer::{DataTransferHandler, DataTransferRegistry};
use crate::v16::tariff_and_cost::PriceDisplay;

/// A command on its way to a connection task, with where to send the answer.
/// Boxed in the mailbox so an idle channel's slots stay pointer-sized.
pub(crate) struct Envelope {
    pub command: ChargerCommand,
    pub action: Action16,
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

/// The log store and queue, until `bind` starts the writer task.
type PendingWriter = (
    Arc<dyn MessageLogStore>,
    mpsc::Receiver<joule_domain::message_log::LogEntry>,
);

pub(crate) struct Inner {
    pub settings: CsmsSettings,
    pub service: ChargingService,
    pub chargers: Arc<dyn ChargerStore>,
    pub passwords: Arc<Argon2Passwords>,
    pub log: LogSink,
    pub data_transfer: DataTransferRegistry,
    /// Set by [`Csms::enable_price_display`].
    pub price_display: OnceLock<PriceDisplay>,
    pub registry: Mutex<HashMap<ChargerId, ConnHandle>>,
    pub generations: AtomicU64,
    pub shutdown: watch::Sender<bool>,
    /// Connection tasks alive (handshaking or connected).
    pub live_tasks: AtomicUsize,
    pub tasks_done: Notify,
    log_writer: Mutex<Option<PendingWriter>>,
}

impl Inner {
    pub(crate) fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<ChargerId, ConnHandle>> {
        // Never held across an await; a poisoned map is still consistent.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection, replacing (and notifying) an older one.
    pub(crate) fn register(
        &self,
        charger: &ChargerId,
        mailbox: mpsc::Sender<Mail>,
    ) -> (u64, Arc<Notify>) {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let replaced = Arc::new(Notify::new());
        let old = self.registry().insert(
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
            .registry()
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
        let mut map = self.registry();
        if map.get(charger).map(|h| h.generation) == Some(generation) {
            map.remove(charger);
            true
        } else {
            false
        }
    }
}

/// The charger-facing server. See the crate docs.
pub struct Csms {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Csms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csms")
            .field("listen", &self.inner.settings.listen)
            .field("connections", &self.inner.registry().len())
            .finish_non_exhaustive()
    }
}

impl Csms {
    pub fn new(
        settings: CsmsSettings,
        service: ChargingService,
        chargers: Arc<dyn ChargerStore>,
        log: Arc<dyn MessageLogStore>,
        hasher: Arc<Argon2Passwords>,
    ) -> Arc<Self> {
        let (sink, rx) = LogSink::channel();
        let (shutdown, _) = watch::channel(false);
        Arc::new(Self {
            inner: Arc::new(Inner {
                settings,
                service,
                chargers,
                passwords: hasher,
                log: sink,
                data_transfer: DataTransferRegistry::default(),
                price_display: OnceLock::new(),
                registry: Mutex::new(HashMap::new()),
                generations: AtomicU64::new(0),
                shutdown,
                live_tasks: AtomicUsize::new(0),
                tasks_done: Notify::new(),
                log_writer: Mutex::new(Some((log, rx))),
            }),
        })
    }

    /// Adds a vendor handler for DataTransfer CALLs from chargers.
    pub fn register_data_transfer(&self, handler: Arc<dyn DataTransferHandler>) {
        self.inner.data_transfer.register(handler);
    }

    /// Turns on price display on chargers (OCA California Pricing, see
    /// `v16::tariff_and_cost`): chargers connecting from now on are asked
    /// whether they support it, and once bound, tariff changes in its outbox
    /// are followed (see `price_watch`). Call before [`Csms::bind`]; a
    /// second call changes nothing.
    pub fn enable_price_display(&self, store: Arc<dyn Store>) {
        let _ = self.inner.price_display.set(PriceDisplay {
            tariffs: store.clone(),
            assignments: store.clone(),
            tokens: store.clone(),
            chargers: store.clone(),
            payments: store.clone(),
            sessions: store.clone(),
            events: store,
            receipt_base_url: self.inner.settings.receipt_base_url.clone(),
            running_cost_interval: self.inner.settings.running_cost_interval,
        });
    }

    /// Number of chargers with a live connection.
    pub fn connection_count(&self) -> usize {
        self.inner.registry().len()
    }

    /// Connection tasks alive (handshaking, connected or closing); for
    /// metrics and for tests that wait for a task to finish.
    pub fn connection_tasks(&self) -> usize {
        self.inner.live_tasks.load(Ordering::Acquire)
    }

    /// Binds the listener. The returned future accepts chargers until
    /// [`Csms::shutdown`], then waits for every connection task to close and
    /// for the message log to be flushed.
    pub async fn bind(
        self: &Arc<Self>,
    ) -> io::Result<(SocketAddr, impl Future<Output = ()> + Send + 'static)> {
        let listener = TcpListener::bind(self.inner.settings.listen).await?;
        let addr = listener.local_addr()?;
        let writer = self
            .inner
            .log_writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or_else(|| io::Error::other("Csms::bind called twice"))?;
        let inner = Arc::clone(&self.inner);
        let writer = tokio::spawn(msglog::run_writer(
            writer.0,
            writer.1,
            inner.shutdown.subscribe(),
        ));
        if self.inner.price_display.get().is_some() {
            tokio::spawn(crate::price_watch::run(
                Arc::clone(&self.inner),
                self.inner.shutdown.subscribe(),
            ));
        }
        tracing::info!(%addr, "OCPP server listening");
        Ok((addr, serve(inner, listener, writer)))
    }

    /// Stops accepting; every connection sends a Close (1001 going away)
    /// and ends.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

/// Resolves once shutdown was requested (or the sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        let stop = *rx.borrow_and_update();
        if stop || rx.changed().await.is_err() {
            return;
        }
    }
}

async fn serve(inner: Arc<Inner>, listener: TcpListener, writer: tokio::task::JoinHandle<()>) {
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => spawn_connection(&inner, stream, peer),
                Err(error) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    loop {
        let done = inner.tasks_done.notified();
        if inner.live_tasks.load(Ordering::Acquire) == 0 {
            break;
        }
        done.await;
    }
    let _ = writer.await;
    tracing::info!("OCPP server stopped");
}

fn spawn_connection(inner: &Arc<Inner>, stream: TcpStream, peer: SocketAddr) {
    inner.live_tasks.fetch_add(1, Ordering::AcqRel);
    let inner = Arc::clone(inner);
    tokio::spawn(
        async move {
            crate::connection::handle(&inner, stream, peer).await;
            if inner.live_tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
                inner.tasks_done.notify_waiters();
            }
        }
        .instrument(tracing::Span::none()),
    );
}

#[async_trait]
impl CommandRouter for Csms {
    async fn send(
        &self,
        charger: &ChargerId,
        command: ChargerCommand,
    ) -> Result<Value, CommandError> {
        let action: Action16 = command
            .kind
            .as_str()
            .parse()
            .map_err(|_| CommandError::Unsupported(command.kind.as_str()))?;
        if !action.initiator().central_system_may_send() {
            return Err(CommandError::Unsupported(command.kind.as_str()));
        }
        joule_ocpp::schema::validate(action, PayloadKind::Request, &command.payload)
            .map_err(|v| CommandError::InvalidPayload(v.description))?;
        let mailbox = self
            .inner
            .registry()
            .get(charger)
            .map(|h| h.mailbox.clone())
            .ok_or_else(|| CommandError::Offline(charger.clone()))?;
        let (reply, answer) = oneshot::channel();
        mailbox
            .try_send(Mail::Command(Box::new(Envelope {
                command,
                action,
                reply,
            })))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => CommandError::Busy(charger.clone()),
                mpsc::error::TrySendError::Closed(_) => CommandError::Offline(charger.clone()),
            })?;
        answer.await.map_err(|_| CommandError::ConnectionClosed)?
    }

    fn is_connected(&self, charger: &ChargerId) -> bool {
        self.inner.registry().contains_key(charger)
    }
}
