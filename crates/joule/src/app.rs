//! Wiring: builds every part from the settings, binds the listeners and runs
//! until told to stop. Tests build the same `Application` on port 0 with a
//! temporary database, so what they exercise is what `joule serve` runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use joule_domain::ports::clock::{Clock, SystemClock};
use joule_domain::ports::store::Store;
use joule_domain::services::charging::{ChargingPorts, ChargingService, ChargingSettings};
use joule_domain::services::outbox_runner::{CursorHome, OutboxRunner, RunnerSettings};
use joule_domain::services::payments::{PaymentService, PaymentsConsumer};
use joule_domain::services::receipt_sender::{ReceiptEmailPorts, ReceiptEmails, SenderSettings};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::settings::{Settings, SqliteSynchronous, UnknownChargers};

/// Events the durable outbox consumers read per query.
const EVENT_BATCH: u32 = 200;
/// How often the payments consumer reads the outbox.
const PAYMENTS_POLL: Duration = Duration::from_millis(500);

/// A built, listening Joule.
pub struct Application {
    ocpp_addr: SocketAddr,
    api_addr: SocketAddr,
    store: Arc<dyn Store>,
    database: joule_store::Database,
    csms: Arc<joule_csms::Csms>,
    /// Set when a payment gateway is configured.
    payments: Option<PaymentService>,
    /// Set when this start created the admin key itself; shown once.
    generated_admin_key: Option<String>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("ocpp_addr", &self.ocpp_addr)
            .field("api_addr", &self.api_addr)
            .finish_non_exhaustive()
    }
}

/// Opens the database named in the settings (creating a SQLite file and its
/// folder if needed) and runs migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<joule_store::Database> {
    if let Some(dir) = crate::settings::sqlite_dir(&settings.database.url) {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating database folder {}", dir.display()))?;
        }
    }
    let options = joule_store::StoreOptions {
        sqlite_synchronous: match settings.database.sqlite_synchronous {
            SqliteSynchronous::Full => joule_store::SqliteSynchronous::Full,
            SqliteSynchronous::Normal => joule_store::SqliteSynchronous::Normal,
        },
        pg_max_connections: settings.database.postgres_max_connections,
        pg_schema: settings.database.postgres_schema.clone(),
        ..Default::default()
    };
    joule_store::connect(&settings.database.url, options)
        .await
        .with_context(|| format!("opening database {}", redact(&settings.database.url)))
}

/// Hides a password in a database URL before it is logged.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Application {
    /// Wires Joule in the order its parts need each other: the store, the
    /// charging use cases, the OCPP endpoint, the API's address (every link
    /// Joule hands out starts with it), the payment service, the background
    /// workers, then the API itself.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Unsafe combinations are refused before anything is opened;
        // costly ones are logged loudly.
        for warning in settings.check()? {
            tracing::warn!("{warning}");
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (database, store, generated_admin_key) = open_store(&settings, clock.as_ref()).await?;
        let gateways = crate::payments::gateway_registry(&settings.payments)?;
        // Checked before anything is bound; links are set once the API is.
        crate::payments::payment_settings(&settings.payments, "")?;
        // Hold limits: told of every stored meter value (payments only).
        let hold_watch = (!gateways.is_empty()).then(crate::workers::HoldWatch::new);
        let charging = charging_service(
            &settings,
            &store,
            &clock,
            hold_watch.as_ref().map(|(watch, _)| watch.clone()),
        );
        let passwords = Arc::new(joule_csms::Argon2Passwords::default());
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();

        let (csms, ocpp_addr, ocpp_server) =
            start_csms(&settings, charging, &store, passwords.clone()).await?;
        tasks.push(tokio::spawn(ocpp_server));
        let (listener, api_addr, public_base_url) = bind_api(&settings).await?;
        let payments = (!gateways.is_empty())
            .then(|| {
                anyhow::Ok(crate::payments::payment_service(
                    store.clone(),
                    csms.clone(),
                    clock.clone(),
                    gateways,
                    crate::payments::payment_settings(&settings.payments, &public_base_url)?,
                ))
            })
            .transpose()?;
        let workers = Workers {
            settings: &settings,
            store: &store,
            clock: &clock,
            shutdown: &shutdown,
        };
        if let Some(service) = &payments {
            tasks.extend(workers.payments(service, hold_watch));
        }
        tasks.extend(workers.receipt_emails()?);
        tasks.push(workers.retention());

        let api_state = joule_api::ApiState {
            store: store.clone(),
            commands: csms.clone(),
            clock: clock.clone(),
            password_hasher: passwords,
            pages: Arc::new(
                joule_api::pages::PagesConfig::new(
                    &public_base_url,
                    &settings.api.stripe_js_url,
                    settings.operator.info(),
                )
                .with_pay_rate_limits(settings.api.pay_rate_limit.clone()),
            ),
            payments: payments.clone(),
        };
        tasks.push(serve_api(listener, api_state, shutdown.clone()));

        Ok(Self {
            ocpp_addr,
            api_addr,
            store,
            database,
            csms,
            payments,
            generated_admin_key,
            shutdown,
            tasks,
        })
    }

    pub fn ocpp_addr(&self) -> SocketAddr {
        self.ocpp_addr
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The pay page of a connector, when payments are enabled.
    pub fn demo_pay_url(&self, charger: &str, connector: u32) -> Option<String> {
        self.payments
            .as_ref()
            .map(|p| format!("{}/pay/{charger}/{connector}", p.settings().public_base_url))
    }

    /// The SIMULATED terminal page of a demo terminal, when payments are
    /// enabled.
    pub fn demo_terminal_url(
        &self,
        terminal: joule_domain::payments::terminal::TerminalId,
    ) -> Option<String> {
        self.payments
            .as_ref()
            .map(|p| format!("{}/demo/terminal/{terminal}", p.settings().public_base_url))
    }

    /// Whether the configured gateway takes test cards (the simulated one):
    /// then the demo has a simulated terminal.
    pub fn takes_test_cards(&self) -> bool {
        self.payments.as_ref().is_some_and(|p| {
            p.gateways()
                .default_gateway()
                .is_some_and(|g| p.gateways().test_cards(g.name()).is_some())
        })
    }

    pub fn generated_admin_key(&self) -> Option<&str> {
        self.generated_admin_key.as_deref()
    }

    /// A token that, when cancelled, stops the application.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until the shutdown token fires, then shuts down gracefully: stop
    /// accepting, close charger sockets with a close frame, let the API finish
    /// its requests, and commit every pending database write.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.shutdown.cancelled().await;
        tracing::info!("shutting down");
        self.csms.shutdown();
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::warn!(%error, "a server task ended abnormally");
            }
        }
        self.database
            .close()
            .await
            .context("committing pending writes at shutdown")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the database, marks every charger of a previous run disconnected
/// and makes sure an admin key exists (returned when generated now).
async fn open_store(
    settings: &Settings,
    clock: &dyn Clock,
) -> anyhow::Result<(joule_store::Database, Arc<dyn Store>, Option<String>)> {
    let database = open_database(settings).await?;
    let store = database.store();
    // No connection of a previous run can still be alive.
    let stale = store.mark_all_disconnected(clock.now()).await?;
    if stale > 0 {
        tracing::info!(
            chargers = stale,
            "marked chargers of the previous run disconnected"
        );
    }
    let generated_admin_key = ensure_admin_key(store.as_ref(), settings, clock).await?;
    Ok((database, store, generated_admin_key))
}

/// The charger-facing use cases, with web payments and the hold-limit
/// watch when a gateway is configured.
fn charging_service(
    settings: &Settings,
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    hold_watch: Option<Arc<crate::workers::HoldWatch>>,
) -> ChargingService {
    let service = ChargingService::new(
        ChargingPorts::from(store.clone()),
        clock.clone(),
        ChargingSettings {
            heartbeat_interval_s: settings.ocpp.heartbeat_interval_s,
            boot_retry_interval_s: settings.ocpp.boot_retry_interval_s,
        },
    );
    let service = match hold_watch {
        None => service,
        Some(watch) => service
            .with_web_payments(store.clone())
            .with_meter_observer(watch),
    };
    // Tokens linked to a driver account are held to its standing
    // (docs/payments.md, "Accounts"), whether or not a gateway is set.
    service.with_accounts(
        store.clone(),
        joule_domain::payments::account::AccountRules {
            block_in_debt: settings.payments.block_accounts_in_debt,
            require_card: settings.payments.account_requires_card,
        },
    )
}

/// The OCPP endpoint, bound, with price display on; returns the server
/// future to spawn.
async fn start_csms(
    settings: &Settings,
    charging: ChargingService,
    store: &Arc<dyn Store>,
    passwords: Arc<joule_csms::Argon2Passwords>,
) -> anyhow::Result<(
    Arc<joule_csms::Csms>,
    SocketAddr,
    impl std::future::Future<Output = ()> + Send + 'static,
)> {
    let csms = joule_csms::Csms::new(
        csms_settings(settings),
        charging,
        store.clone(),
        store.clone(),
        passwords,
    );
    csms.enable_price_display(store.clone());
    let (addr, server) = csms
        .bind()
        .await
        .with_context(|| format!("binding the OCPP endpoint on {}", settings.ocpp.listen))?;
    Ok((csms, addr, server))
}

/// Binds the REST API's listener and says which public address every link
/// Joule hands out (pay pages, QR codes, status, receipts) starts with:
/// `[api] public_base_url`, else this very API (the demo, tests).
async fn bind_api(
    settings: &Settings,
) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr, String)> {
    let listener = tokio::net::TcpListener::bind(settings.api.listen)
        .await
        .with_context(|| format!("binding the REST API on {}", settings.api.listen))?;
    let api_addr = listener.local_addr()?;
    let public_base_url = settings
        .api
        .public_base_url
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let addr = if api_addr.ip().is_unspecified() {
                SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), api_addr.port())
            } else {
                api_addr
            };
            format!("http://{addr}")
        });
    Ok((listener, api_addr, public_base_url))
}

/// Serves the REST API until shutdown, letting requests in flight finish.
fn serve_api(
    listener: tokio::net::TcpListener,
    state: joule_api::ApiState,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let router = joule_api::router(state);
    tokio::spawn(async move {
        // The peer address is the pay routes' rate-limit key.
        let router = router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "REST API server failed");
        }
    })
}

/// What the background workers are started from.
struct Workers<'a> {
    settings: &'a Settings,
    store: &'a Arc<dyn Store>,
    clock: &'a Arc<dyn Clock>,
    shutdown: &'a CancellationToken,
}

impl Workers<'_> {
    /// A runner over the store's outbox with a durable cursor. The back-off
    /// ceiling is the poll: a consumer retries an event on its next poll.
    fn durable_runner(&self, poll: Duration) -> OutboxRunner {
        OutboxRunner::new(
            self.store.clone(),
            CursorHome::Durable {
                cursors: self.store.clone(),
                clock: self.clock.clone(),
            },
            RunnerSettings {
                poll,
                batch: EVENT_BATCH,
                max_backoff: poll,
            },
        )
    }

    /// The payments outbox consumer, recovery and sweepers, and the
    /// hold-limit watch.
    fn payments(
        &self,
        service: &PaymentService,
        hold_watch: Option<(
            Arc<crate::workers::HoldWatch>,
            tokio::sync::mpsc::Receiver<joule_domain::kernel::ids::SessionId>,
        )>,
    ) -> Vec<JoinHandle<()>> {
        let interval = Duration::from_secs(self.settings.payments.worker_interval_s.max(1));
        let mut tasks = vec![
            crate::workers::spawn_consumer(
                self.durable_runner(PAYMENTS_POLL),
                Arc::new(PaymentsConsumer::new(service.clone())),
                self.shutdown.clone(),
            ),
            crate::workers::spawn_recovery_and_sweeper(
                service.clone(),
                interval,
                self.shutdown.clone(),
            ),
        ];
        if let Some((watch, rx)) = hold_watch {
            tasks.push(crate::workers::spawn_hold_watch(
                watch,
                rx,
                service.clone(),
                interval,
                Duration::from_secs(self.settings.payments.hold_check_interval_s.max(1)),
                self.shutdown.clone(),
            ));
        }
        tasks
    }

    /// The receipt email consumer and sender, when SMTP is configured.
    fn receipt_emails(&self) -> anyhow::Result<Option<JoinHandle<()>>> {
        let receipts = &self.settings.receipts;
        let Some(smtp) = receipts.smtp() else {
            return Ok(None);
        };
        let mailer = joule_mail::SmtpMailer::new(&smtp).context("the [receipts] SMTP settings")?;
        let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(3600));
        tracing::info!(host = %smtp.host, "receipt emails on");
        let emails = ReceiptEmails {
            ports: ReceiptEmailPorts::from(self.store.clone()),
            mailer: Arc::new(mailer),
            operator: self.settings.operator.info(),
            clock: self.clock.clone(),
            settings: SenderSettings {
                retry_initial: secs(receipts.retry_initial_s.max(1)),
                max_attempts: receipts.max_attempts.max(1),
                stale_after: secs(receipts.smtp_timeout_s.max(1) * 4 + 60),
            },
        };
        Ok(Some(crate::workers::spawn_consumer(
            self.durable_runner(Duration::from_secs(receipts.poll_interval_s.max(1))),
            Arc::new(emails),
            self.shutdown.clone(),
        )))
    }

    /// Deletes message-log rows older than `[message_log] retention_days`.
    fn retention(&self) -> JoinHandle<()> {
        tokio::spawn(retention_task(
            self.store.clone(),
            self.clock.clone(),
            self.settings.message_log.retention_days,
            self.shutdown.clone(),
        ))
    }
}

fn csms_settings(settings: &Settings) -> joule_csms::CsmsSettings {
    let ocpp = &settings.ocpp;
    joule_csms::CsmsSettings {
        listen: ocpp.listen,
        unknown_chargers: match ocpp.unknown_chargers {
            UnknownChargers::Reject => joule_csms::UnknownChargerPolicy::Reject,
            UnknownChargers::AutoRegister => joule_csms::UnknownChargerPolicy::AutoRegisterPending,
        },
        call_timeout: Duration::from_secs(ocpp.call_timeout_s),
        command_queue: ocpp.command_queue,
        ping_interval: Duration::from_secs(ocpp.ping_interval_s),
        pong_timeout: Duration::from_secs(ocpp.pong_timeout_s),
        max_frame_bytes: ocpp.max_frame_bytes,
        rate_limit_per_s: ocpp.rate_limit_per_s,
        rate_burst: ocpp.rate_burst,
        receipt_base_url: ocpp.receipt_base_url.clone(),
        running_cost_interval: Duration::from_secs(ocpp.running_cost_interval_s.max(1)),
        ..Default::default()
    }
}

/// Makes sure an admin key exists. With `JOULE_ADMIN_KEY` set, that key is
/// installed if the database does not have it yet; otherwise, on an empty
/// database, a key is generated and returned to be printed once.
async fn ensure_admin_key(
    store: &dyn Store,
    settings: &Settings,
    clock: &dyn Clock,
) -> anyhow::Result<Option<String>> {
    // An empty JOULE_ADMIN_KEY counts as unset.
    if let Some(plain) = settings.api.admin_key.as_deref().filter(|k| !k.is_empty()) {
        let key = joule_api::api_key_from_plain("admin", plain)
            .context("JOULE_ADMIN_KEY is not a valid Joule API key (jk_<prefix>_<secret>)")?;
        if store.find_api_key(&key.prefix).await?.is_none() {
            store.create_api_key(key, clock.now()).await?;
        }
        return Ok(None);
    }
    if store.count_api_keys().await? > 0 {
        return Ok(None);
    }
    let (plain, key) = joule_api::generate_api_key("admin");
    store.create_api_key(key, clock.now()).await?;
    Ok(Some(plain))
}

async fn retention_task(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    retention_days: u32,
    shutdown: CancellationToken,
) {
    if retention_days == 0 {
        return;
    }
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let before = clock.now() - chrono::Duration::days(i64::from(retention_days));
        match store.purge_log_before(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "message log retention"),
            Err(error) => tracing::warn!(%error, "message log retention failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact("postgres://joule:s3cret@db:5432/joule"),
            "postgres://joule:***@db:5432/joule"
        );
        assert_eq!(
            redact("postgres://joule@db/joule"),
            "postgres://joule@db/joule"
        );
        assert_eq!(
            redact("sqlite://./joule-data/joule.db"),
            "sqlite://./joule-data/joule.db"
        );
    }
}
