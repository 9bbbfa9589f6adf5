//! Wiring: builds every part from the settings, binds the listeners and runs
//! until told to stop. Tests build the same `Application` on port 0 with a
//! temporary database, so what they exercise is what `joule serve` runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use joule_domain::clock::{Clock, SystemClock};
use joule_domain::service::{ChargingService, ChargingSettings};
use joule_domain::store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::settings::{Settings, SqliteSynchronous, UnknownChargers};

/// A built, listening Joule.
pub struct Application {
    ocpp_addr: SocketAddr,
    api_addr: SocketAddr,
    store: Arc<dyn Store>,
    database: joule_store::Database,
    csms: Arc<joule_csms::Csms>,
    /// Set when a payment gateway is configured.
    payments: Option<joule_domain::payment_service::PaymentService>,
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
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Unsafe combinations are refused before anything is opened;
        // costly ones are logged loudly.
        for warning in settings.check()? {
            tracing::warn!("{warning}");
        }
        let database = open_database(&settings).await?;
        let store = database.store();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);

        // No connection of a previous run can still be alive.
        let stale = store.mark_all_disconnected(clock.now()).await?;
        if stale > 0 {
            tracing::info!(
                chargers = stale,
                "marked chargers of the previous run disconnected"
            );
        }
        let generated_admin_key =
            ensure_admin_key(store.as_ref(), &settings, clock.as_ref()).await?;

        let gateways = crate::payments::gateway_registry(&settings.payments)?;
        // Checked before anything is bound; links are set once the API is.
        crate::payments::payment_settings(&settings.payments, "")?;
        let service = ChargingService::new(
            store.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            clock.clone(),
            ChargingSettings {
                heartbeat_interval_s: settings.ocpp.heartbeat_interval_s,
                boot_retry_interval_s: settings.ocpp.boot_retry_interval_s,
            },
        );
        // Hold limits: told of every stored meter value (payments only).
        let hold_watch = (!gateways.is_empty()).then(crate::workers::HoldWatch::new);
        let service = match &hold_watch {
            None => service,
            Some((watch, _)) => service
                .with_web_payments(store.clone())
                .with_meter_observer(watch.clone()),
        };
        // Tokens linked to a driver account are held to its standing
        // (docs/payments.md, "Accounts"), whether or not a gateway is set.
        let service = service.with_accounts(
            store.clone(),
            joule_domain::account::AccountRules {
                block_in_debt: settings.payments.block_accounts_in_debt,
                require_card: settings.payments.account_requires_card,
            },
        );
        let passwords = Arc::new(joule_csms::Argon2Passwords::default());
        let csms = joule_csms::Csms::new(
            csms_settings(&settings),
            service,
            store.clone(),
            store.clone(),
            passwords.clone(),
        );
        csms.enable_price_display(store.clone());
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();

        let (ocpp_addr, ocpp_server) = csms
            .bind()
            .await
            .with_context(|| format!("binding the OCPP endpoint on {}", settings.ocpp.listen))?;
        tasks.push(tokio::spawn(ocpp_server));

        let listener = tokio::net::TcpListener::bind(settings.api.listen)
            .await
            .with_context(|| format!("binding the REST API on {}", settings.api.listen))?;
        let api_addr = listener.local_addr()?;
        // One public address for every link Joule hands out (pay pages, QR
        // codes, status, receipts): `[api] public_base_url`, else this very
        // API once it is bound (the demo, tests).
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
        let payment_settings =
            crate::payments::payment_settings(&settings.payments, &public_base_url)?;
        let payments = (!gateways.is_empty()).then(|| {
            crate::payments::payment_service(
                store.clone(),
                csms.clone(),
                clock.clone(),
                gateways,
                payment_settings,
            )
        });
        if let Some(service) = &payments {
            let interval = Duration::from_secs(settings.payments.worker_interval_s.max(1));
            tasks.extend(crate::workers::spawn_payment_workers(
                store.clone(),
                service.clone(),
                interval,
                shutdown.clone(),
            ));
            if let Some((watch, rx)) = hold_watch {
                tasks.push(crate::workers::spawn_hold_watch(
                    watch,
                    rx,
                    service.clone(),
                    interval,
                    Duration::from_secs(settings.payments.hold_check_interval_s.max(1)),
                    shutdown.clone(),
                ));
            }
        }
        if let Some(smtp) = settings.receipts.smtp() {
            let mailer = joule_receipts::ReceiptMailer::new(&smtp)
                .context("the [receipts] SMTP settings")?;
            let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(3600));
            tracing::info!(host = %smtp.host, "receipt emails on");
            tasks.push(crate::workers::spawn_receipt_emailer(
                crate::workers::ReceiptEmailer {
                    store: store.clone(),
                    mailer,
                    operator: settings.operator.info(),
                    clock: clock.clone(),
                    settings: crate::workers::EmailerSettings {
                        poll: Duration::from_secs(settings.receipts.poll_interval_s.max(1)),
                        retry_initial: secs(settings.receipts.retry_initial_s.max(1)),
                        max_attempts: settings.receipts.max_attempts.max(1),
                        stale_after: secs(settings.receipts.smtp_timeout_s.max(1) * 4 + 60),
                    },
                },
                shutdown.clone(),
            ));
        }

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
        let api_shutdown = shutdown.clone();
        let router = joule_api::router(api_state);
        tasks.push(tokio::spawn(async move {
            // The peer address is the pay routes' rate-limit key.
            let router = router.into_make_service_with_connect_info::<SocketAddr>();
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { api_shutdown.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "REST API server failed");
            }
        }));

        tasks.push(tokio::spawn(retention_task(
            store.clone(),
            clock.clone(),
            settings.message_log.retention_days,
            shutdown.clone(),
        )));

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
        terminal: joule_domain::terminal::TerminalId,
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
