//! The server: the listener and accept loop, and the `Csms` handle the
//! binary builds, binds and stops (its command router is `router.rs`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use joule_domain::ports::store::{ChargerStore, MessageLogStore, Store};
use joule_domain::services::charging::ChargingService;
use joule_domain::services::cost_display::{CostDisplay, CostDisplaySettings, CostDisplayStores};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tracing::Instrument as _;

use crate::msglog::{self, LogSink};
use crate::password::Argon2Passwords;
use crate::registry::Registry;
use crate::settings::CsmsSettings;
use crate::shutdown::stopped;
use crate::state::{Inner, PriceDisplay};
use crate::v16::vendors::{DataTransferHandler, DataTransferRegistry};

/// The charger-facing server. See the crate docs.
pub struct Csms {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Csms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csms")
            .field("listen", &self.inner.settings.listen)
            .field("connections", &self.inner.registry.len())
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
                registry: Registry::default(),
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
        let stores = CostDisplayStores {
            tariffs: store.clone(),
            chargers: store.clone(),
            assignments: store.clone(),
            tokens: store.clone(),
            sessions: store.clone(),
            payments: store.clone(),
        };
        let settings = CostDisplaySettings {
            receipt_base_url: self.inner.settings.receipt_base_url.clone(),
            running_cost_interval: self.inner.settings.running_cost_interval,
        };
        let service = CostDisplay::new(
            Arc::new(stores),
            Arc::clone(self.inner.service.clock()),
            settings,
        );
        let _ = self.inner.price_display.set(PriceDisplay {
            service: Arc::new(service),
            events: store,
        });
    }

    /// Number of chargers with a live connection.
    pub fn connection_count(&self) -> usize {
        self.inner.registry.len()
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
