//! SQLite backend (rusqlite, bundled SQLite): the embedded default.
//!
//! Writes go to the single writer thread (see [`writer`]) and are answered
//! after their group commit; message-log rows ride along without waiting.
//! Reads run on `spawn_blocking` with one of a few read-only connections,
//! which WAL lets run beside the writer.

mod accounts;
mod holds;
mod ops;
mod payments;
mod placement;
mod terminals;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::account::{
    Account, AccountCharge, AccountId, AccountPatch, AccountStanding, CardSetup, ChargeStatus,
    NewAccount, NewAccountCharge, StoredCard,
};
use joule_domain::api_idempotency::{IdempotencyBegin, IdempotencyRecord, NewIdempotencyRecord};
use joule_domain::api_key::{ApiKey, NewApiKey};
use joule_domain::charger::{
    BootInfo, Charger, ChargerCredentials, ChargerPatch, ConnectorState, NewCharger,
    RegistrationStatus, StatusReport,
};
use joule_domain::error::StoreError;
use joule_domain::event::StoredEvent;
use joule_domain::ids::{ChargerId, ConnectorId, IdTag, SessionId, TransactionId};
use joule_domain::message_log::{LogEntry, LogFilter, StoredLogEntry};
use joule_domain::meter::MeterReport;
use joule_domain::page::{Page, Paged};
use joule_domain::payment::{
    ChannelKpis, NewPayment, Payment, PaymentDetail, PaymentFilter, PaymentId, PaymentStep,
    ReceiptToken, StaleHold, StepError, StepOutcome, StepRequest,
};
use joule_domain::payment::{
    ClaimHeld, ClaimRequest, ClaimToken, PaymentClaim, RemoteStart, StartStatus,
};
use joule_domain::session::{
    Session, SessionFilter, StartOutcome, StartSession, StopOutcome, StopSession, StoredMeterValue,
};
use joule_domain::site::{NewSite, Site, SiteId};
use joule_domain::store::{
    AccountStore, ApiIdempotencyStore, ApiKeyStore, ChargerStore, ConsumerCursorStore, EventLog,
    MessageLogStore, PaymentStore, SessionStore, SiteStore, Store, StoreResult,
    TariffAssignmentStore, TariffStore, TerminalStore, TokenStore, UserGroupStore,
};
use joule_domain::tariff_assignment::{
    AssignmentFilter, AssignmentId, NewTariffAssignment, TariffAssignment, TariffCandidates,
};
use joule_domain::tariffs::{NewTariff, StoredTariff};
use joule_domain::terminal::{
    NewTerminal, Terminal, TerminalError, TerminalId, TerminalKey, TerminalPatch,
};
use joule_domain::token::{IdToken, IdTokenPatch, NewIdToken, TokenFilter};
use joule_domain::user_group::{
    ChargerAccessRule, NewUserGroup, UserGroup, UserGroupId, UserGroupPatch,
};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::migrations::{self, Migration};
use crate::StoreOptions;
use ops::{db, R};
use writer::Msg;

const BUSY_TIMEOUT_MS: u32 = 5_000;

fn closed() -> StoreError {
    StoreError::Unavailable("the database is closed".into())
}

/// The SQLite implementation of every store port.
pub struct SqliteStore {
    tx: mpsc::Sender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<(std::sync::mpsc::Sender<()>, JoinHandle<()>)>>,
    readers: Mutex<Vec<Connection>>,
    read_permits: Semaphore,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn open_writer(path: &Path, options: &StoreOptions) -> R<Connection> {
    let conn = Connection::open(path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    conn.set_prepared_statement_cache_capacity(128);
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
        .map_err(db)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "SQLite refused WAL mode (got {mode}); is the file on a network filesystem?"
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456; \
         PRAGMA wal_autocheckpoint = 0;",
        options.sqlite_synchronous.pragma()
    ))
    .map_err(db)?;
    Ok(conn)
}

/// How often the checkpointer copies committed WAL pages into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Checkpoints the WAL on its own connection and thread. With SQLite's
/// automatic checkpoint, the commit that crosses the threshold copies the
/// whole WAL while every charger waiting on that group commit waits too (the
/// p99 spikes of the steady benchmark). A PASSIVE checkpoint here runs beside
/// the writer without blocking it. Stops when its channel closes, after a
/// final TRUNCATE checkpoint so a cleanly closed database is one file.
fn run_checkpointer(conn: Connection, stop: std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(RecvTimeoutError::Timeout) => {
                if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                {
                    tracing::warn!(%error, "sqlite checkpoint failed");
                }
            }
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
                return;
            }
        }
    }
}

fn open_reader(path: &Path) -> R<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
        .map_err(db)?;
    conn.execute_batch(
        "PRAGMA query_only = ON; PRAGMA cache_size = -16384; PRAGMA mmap_size = 268435456;",
    )
    .map_err(db)?;
    Ok(conn)
}

/// Applies the embedded migrations not yet applied, each in its own
/// transaction; refuses a database migrated by a newer Joule.
fn migrate(conn: &mut Connection, known: &[Migration]) -> R<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at TEXT NOT NULL
         );",
    )
    .map_err(db)?;
    let applied: Vec<i64> = {
        let mut stmt = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .map_err(db)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)?
    };
    if let Some(msg) = migrations::unknown_versions(&applied, known) {
        return Err(StoreError::Unavailable(msg));
    }
    for m in known.iter().filter(|m| !applied.contains(&m.version)) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::Backend(format!("migration {} {} failed: {e}", m.version, m.name))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, ops::ts(Utc::now())],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied sqlite migration"
        );
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating the file and its directory when missing), migrates,
    /// and starts the writer thread.
    pub async fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        let options = options.clone();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, &options))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    fn open_blocking(path: PathBuf, options: &StoreOptions) -> R<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut conn = open_writer(&path, options)?;
        migrate(&mut conn, migrations::SQLITE)?;
        let pool = options.sqlite_read_pool.max(1);
        let readers = (0..pool)
            .map(|_| open_reader(&path))
            .collect::<R<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel(options.max_batch.max(1) * 4);
        let max_batch = options.max_batch;
        let handle = std::thread::Builder::new()
            .name("joule-sqlite-writer".into())
            .spawn(move || writer::run(conn, rx, max_batch))
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer: {e}")))?;
        let checkpoint_conn =
            Connection::open(&path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        checkpoint_conn
            .busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
            .map_err(db)?;
        let (stop_checkpoints, stop) = std::sync::mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("joule-sqlite-checkpoint".into())
            .spawn(move || run_checkpointer(checkpoint_conn, stop))
            .map_err(|e| StoreError::Unavailable(format!("cannot start checkpointer: {e}")))?;
        Ok(Self {
            tx,
            writer: Mutex::new(Some(handle)),
            checkpointer: Mutex::new(Some((stop_checkpoints, checkpointer))),
            readers: Mutex::new(readers),
            read_permits: Semaphore::new(pool),
            path,
        })
    }

    /// Runs `f` in the next group commit; returns once it is committed.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> R<T> + Send + 'static,
    {
        let (msg, rx) = writer::job(f);
        self.tx.send(msg).await.map_err(|_| closed())?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the database writer dropped the write".into()))?
    }

    /// Runs `f` on a pooled read-only connection.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> R<T> + Send + 'static,
    {
        let permit = self.read_permits.acquire().await.map_err(|_| closed())?;
        let conn = match self.readers.lock() {
            Ok(mut pool) => pool.pop(),
            Err(_) => None,
        };
        let conn = match conn {
            Some(c) => c,
            None => {
                let path = self.path.clone();
                tokio::task::spawn_blocking(move || open_reader(&path))
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))??
            }
        };
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&conn);
            (conn, result)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a read panicked: {e}")))?;
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(conn);
        }
        drop(permit);
        result
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Flush(tx)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())
    }

    /// Commits everything queued and stops the writer thread. Idempotent.
    pub async fn close(&self) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?
                .map_err(|_| StoreError::Backend("the sqlite writer panicked".into()))?;
        }
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        if let Some((stop, handle)) = checkpointer {
            drop(stop);
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?
                .map_err(|_| StoreError::Backend("the sqlite checkpointer panicked".into()))?;
        }
        self.read_permits.close();
        Ok(())
    }
}

#[async_trait]
impl ChargerStore for SqliteStore {
    async fn create_charger(&self, new: NewCharger, at: DateTime<Utc>) -> StoreResult<Charger> {
        self.write(move |c| ops::create_charger(c, &new, at)).await
    }

    async fn get_charger(&self, id: &ChargerId) -> StoreResult<Option<Charger>> {
        let id = id.clone();
        self.read(move |c| ops::get_charger(c, &id)).await
    }

    async fn list_chargers(&self, page: Page) -> StoreResult<Paged<Charger>> {
        self.read(move |c| ops::list_chargers(c, page)).await
    }

    async fn update_charger(
        &self,
        id: &ChargerId,
        patch: ChargerPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Charger>> {
        let id = id.clone();
        self.write(move |c| ops::update_charger(c, &id, &patch, at))
            .await
    }

    async fn delete_charger(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.clone();
        self.write(move |c| ops::delete_charger(c, &id, at)).await
    }

    async fn charger_credentials(&self, id: &ChargerId) -> StoreResult<Option<ChargerCredentials>> {
        let id = id.clone();
        self.read(move |c| ops::charger_credentials(c, &id)).await
    }

    async fn auto_register_charger(
        &self,
        id: &ChargerId,
        at: DateTime<Utc>,
    ) -> StoreResult<Charger> {
        let id = id.clone();
        self.write(move |c| ops::auto_register(c, &id, at)).await
    }

    async fn record_boot(
        &self,
        id: &ChargerId,
        boot: BootInfo,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<RegistrationStatus>> {
        let id = id.clone();
        self.write(move |c| ops::record_boot(c, &id, &boot, at))
            .await
    }

    async fn record_heartbeat(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |c| ops::record_heartbeat(c, &id, at)).await
    }

    async fn record_connection(
        &self,
        id: &ChargerId,
        protocol: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let id = id.clone();
        let protocol = protocol.map(str::to_owned);
        self.write(move |c| ops::record_connection(c, &id, protocol.as_deref(), at))
            .await
    }

    async fn mark_all_disconnected(&self, at: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |c| ops::mark_all_disconnected(c, at)).await
    }

    async fn record_status(&self, id: &ChargerId, report: StatusReport) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |c| ops::record_status(c, &id, &report))
            .await
    }

    async fn connector_states(&self, id: &ChargerId) -> StoreResult<Vec<ConnectorState>> {
        let id = id.clone();
        self.read(move |c| ops::connector_states(c, &id)).await
    }

    async fn status_history(
        &self,
        id: &ChargerId,
        connector: Option<ConnectorId>,
        page: Page,
    ) -> StoreResult<Paged<StatusReport>> {
        let id = id.clone();
        self.read(move |c| ops::status_history(c, &id, connector, page))
            .await
    }

    async fn connector_status_range(
        &self,
        id: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>> {
        let id = id.clone();
        self.read(move |c| ops::connector_status_range(c, &id, connector, from, to))
            .await
    }

    async fn record_firmware_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let id = id.clone();
        let status = status.to_owned();
        self.write(move |c| {
            ops::record_charger_status(c, &id, ops::ChargerStatusField::Firmware, &status, at)
        })
        .await
    }

    async fn record_diagnostics_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let id = id.clone();
        let status = status.to_owned();
        self.write(move |c| {
            ops::record_charger_status(c, &id, ops::ChargerStatusField::Diagnostics, &status, at)
        })
        .await
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(&self, new: NewIdToken, at: DateTime<Utc>) -> StoreResult<IdToken> {
        self.write(move |c| ops::create_token(c, &new, at)).await
    }

    async fn get_token(&self, id_tag: &IdTag) -> StoreResult<Option<IdToken>> {
        let id_tag = id_tag.clone();
        self.read(move |c| ops::get_token(c, &id_tag)).await
    }

    async fn list_tokens(&self, filter: TokenFilter, page: Page) -> StoreResult<Paged<IdToken>> {
        self.read(move |c| ops::list_tokens(c, &filter, page)).await
    }

    async fn update_token(
        &self,
        id_tag: &IdTag,
        patch: IdTokenPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdToken>> {
        let id_tag = id_tag.clone();
        self.write(move |c| ops::update_token(c, &id_tag, &patch, at))
            .await
    }

    async fn delete_token(&self, id_tag: &IdTag, at: DateTime<Utc>) -> StoreResult<bool> {
        let id_tag = id_tag.clone();
        self.write(move |c| ops::delete_token(c, &id_tag, at)).await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn start_session(&self, start: StartSession) -> StoreResult<StartOutcome> {
        self.write(move |c| ops::start_session(c, &start)).await
    }

    async fn stop_session(&self, stop: StopSession) -> StoreResult<StopOutcome> {
        self.write(move |c| ops::stop_session(c, &stop)).await
    }

    async fn record_meter_values(
        &self,
        charger: &ChargerId,
        report: MeterReport,
    ) -> StoreResult<()> {
        let charger = charger.clone();
        self.write(move |c| ops::record_meter_values(c, &charger, &report))
            .await
    }

    async fn get_session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        self.read(move |c| ops::get_session(c, id)).await
    }

    async fn get_session_by_transaction(
        &self,
        transaction_id: TransactionId,
    ) -> StoreResult<Option<Session>> {
        self.read(move |c| ops::get_session_by_transaction(c, transaction_id))
            .await
    }

    async fn list_sessions(
        &self,
        filter: SessionFilter,
        page: Page,
    ) -> StoreResult<Paged<Session>> {
        self.read(move |c| ops::list_sessions(c, &filter, page))
            .await
    }

    async fn session_meter_values(&self, id: SessionId) -> StoreResult<Vec<StoredMeterValue>> {
        self.read(move |c| ops::session_meter_values(c, id)).await
    }
}

#[async_trait]
impl MessageLogStore for SqliteStore {
    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // Not awaited to commit: the bounded queue is the back-pressure.
        self.tx.send(Msg::Log(entries)).await.map_err(|_| closed())
    }

    async fn query_log(
        &self,
        charger: &ChargerId,
        filter: LogFilter,
        page: Page,
    ) -> StoreResult<Paged<StoredLogEntry>> {
        let charger = charger.clone();
        self.read(move |c| ops::query_log(c, &charger, &filter, page))
            .await
    }

    async fn purge_log_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |c| ops::purge_log_before(c, before)).await
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn count_api_keys(&self) -> StoreResult<u64> {
        self.read(ops::count_api_keys).await
    }

    async fn create_api_key(&self, new: NewApiKey, at: DateTime<Utc>) -> StoreResult<ApiKey> {
        self.write(move |c| ops::create_api_key(c, &new, at)).await
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        let prefix = prefix.to_owned();
        self.read(move |c| ops::find_api_key(c, &prefix)).await
    }
}

#[async_trait]
impl TariffStore for SqliteStore {
    async fn create_tariff(&self, new: NewTariff, at: DateTime<Utc>) -> StoreResult<StoredTariff> {
        self.write(move |c| ops::create_tariff(c, &new, at)).await
    }

    async fn get_tariff(&self, id: &str) -> StoreResult<Option<StoredTariff>> {
        let id = id.to_owned();
        self.read(move |c| ops::get_tariff(c, &id)).await
    }

    async fn list_tariffs(&self, page: Page) -> StoreResult<Paged<StoredTariff>> {
        self.read(move |c| ops::list_tariffs(c, page)).await
    }

    async fn update_tariff(
        &self,
        id: &str,
        new: NewTariff,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>> {
        let id = id.to_owned();
        self.write(move |c| ops::update_tariff(c, &id, &new, at))
            .await
    }

    async fn delete_tariff(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |c| ops::delete_tariff(c, &id, at)).await
    }

    async fn set_default_tariff(
        &self,
        id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>> {
        let id = id.map(str::to_owned);
        self.write(move |c| ops::set_default_tariff(c, id.as_deref(), at))
            .await
    }

    async fn default_tariff(&self) -> StoreResult<Option<StoredTariff>> {
        self.read(ops::default_tariff).await
    }

    async fn get_tariff_version(
        &self,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<StoredTariff>> {
        let id = id.to_owned();
        self.read(move |c| ops::get_tariff_version(c, &id, version))
            .await
    }

    async fn set_charger_tariff(
        &self,
        id: &ChargerId,
        tariff_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>> {
        let id = id.clone();
        let tariff_id = tariff_id.map(str::to_owned);
        self.write(move |c| ops::set_charger_tariff(c, &id, tariff_id.as_deref(), at))
            .await
    }

    async fn charger_tariff(&self, id: &ChargerId) -> StoreResult<Option<Option<String>>> {
        let id = id.clone();
        self.read(move |c| ops::charger_tariff(c, &id)).await
    }
}

#[async_trait]
impl UserGroupStore for SqliteStore {
    async fn create_user_group(
        &self,
        new: NewUserGroup,
        at: DateTime<Utc>,
    ) -> StoreResult<UserGroup> {
        self.write(move |c| ops::create_user_group(c, &new, at))
            .await
    }

    async fn get_user_group(&self, id: &UserGroupId) -> StoreResult<Option<UserGroup>> {
        let id = id.clone();
        self.read(move |c| ops::get_user_group(c, &id)).await
    }

    async fn list_user_groups(&self, page: Page) -> StoreResult<Paged<UserGroup>> {
        self.read(move |c| ops::list_user_groups(c, page)).await
    }

    async fn update_user_group(
        &self,
        id: &UserGroupId,
        patch: UserGroupPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<UserGroup>> {
        let id = id.clone();
        self.write(move |c| ops::update_user_group(c, &id, &patch, at))
            .await
    }

    async fn delete_user_group(&self, id: &UserGroupId, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.clone();
        self.write(move |c| ops::delete_user_group(c, &id, at))
            .await
    }

    async fn set_token_groups(
        &self,
        id_tag: &IdTag,
        groups: Vec<UserGroupId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<UserGroupId>>> {
        let id_tag = id_tag.clone();
        self.write(move |c| ops::set_token_groups(c, &id_tag, groups, at))
            .await
    }

    async fn token_groups(&self, id_tag: &IdTag) -> StoreResult<Vec<UserGroupId>> {
        let id_tag = id_tag.clone();
        self.read(move |c| ops::token_groups(c, &id_tag)).await
    }

    async fn set_charger_access(
        &self,
        id: &ChargerId,
        rule: ChargerAccessRule,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<ChargerAccessRule>> {
        let id = id.clone();
        self.write(move |c| ops::set_charger_access(c, &id, rule, at))
            .await
    }

    async fn charger_access(&self, id: &ChargerId) -> StoreResult<Option<ChargerAccessRule>> {
        let id = id.clone();
        self.read(move |c| ops::charger_access(c, &id)).await
    }
}

#[async_trait]
impl PaymentStore for SqliteStore {
    async fn create_payment(&self, new: NewPayment) -> StoreResult<Payment> {
        self.write(move |c| payments::create_payment(c, &new)).await
    }

    async fn get_payment(&self, id: PaymentId) -> StoreResult<Option<PaymentDetail>> {
        self.read(move |c| payments::get_payment(c, id)).await
    }

    async fn list_payments(
        &self,
        filter: PaymentFilter,
        page: Page,
    ) -> StoreResult<Paged<Payment>> {
        self.read(move |c| payments::list_payments(c, &filter, page))
            .await
    }

    async fn payment_by_gateway_ref(
        &self,
        gateway: &str,
        gateway_ref: &str,
    ) -> StoreResult<Option<Payment>> {
        let (gateway, gateway_ref) = (gateway.to_owned(), gateway_ref.to_owned());
        self.read(move |c| payments::payment_by_gateway_ref(c, &gateway, &gateway_ref))
            .await
    }

    async fn payment_by_receipt_token(&self, token: &ReceiptToken) -> StoreResult<Option<Payment>> {
        let token = token.clone();
        self.read(move |c| payments::payment_by_receipt_token(c, &token))
            .await
    }

    async fn payment_for_session(&self, session: SessionId) -> StoreResult<Option<Payment>> {
        self.read(move |c| payments::payment_for_session(c, session))
            .await
    }

    async fn set_gateway_ref(
        &self,
        id: PaymentId,
        gateway_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        let gateway_ref = gateway_ref.to_owned();
        self.write(move |c| payments::set_gateway_ref(c, id, &gateway_ref, at))
            .await
    }

    async fn link_session(
        &self,
        id: PaymentId,
        session: SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        self.write(move |c| payments::link_session(c, id, session, at))
            .await
    }

    async fn intend_step(
        &self,
        id: PaymentId,
        request: StepRequest,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentStep, StepError>> {
        let claim = *claim;
        self.write(move |c| payments::intend_step(c, id, request, &claim, at))
            .await
    }

    async fn finish_step(
        &self,
        id: PaymentId,
        seq: u32,
        outcome: StepOutcome,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail> {
        let claim = *claim;
        self.write(move |c| payments::finish_step(c, id, seq, &outcome, &claim, at))
            .await
    }

    async fn claim_payment(
        &self,
        id: PaymentId,
        request: ClaimRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentDetail, ClaimHeld>> {
        self.write(move |c| payments::claim_payment(c, id, &request, at))
            .await
    }

    async fn flag_payment(
        &self,
        id: PaymentId,
        reason: &str,
        detail: &str,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail> {
        let (reason, detail, claim) = (reason.to_owned(), detail.to_owned(), *claim);
        self.write(move |c| payments::flag_payment(c, id, &reason, &detail, &claim, at))
            .await
    }

    async fn release_payment_claim(&self, id: PaymentId, token: &ClaimToken) -> StoreResult<()> {
        let token = *token;
        self.write(move |c| payments::release_payment_claim(c, id, &token))
            .await
    }

    async fn payment_claim(&self, id: PaymentId) -> StoreResult<Option<PaymentClaim>> {
        self.read(move |c| payments::payment_claim(c, id)).await
    }

    async fn remote_start(&self, id: PaymentId) -> StoreResult<Option<RemoteStart>> {
        self.read(move |c| payments::remote_start(c, id)).await
    }

    async fn record_remote_start(
        &self,
        id: PaymentId,
        status: StartStatus,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<RemoteStart> {
        let claim = *claim;
        self.write(move |c| payments::record_remote_start(c, id, status, &claim, at))
            .await
    }

    async fn payments_awaiting_start(
        &self,
        authorized_after: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Payment>> {
        self.read(move |c| payments::payments_awaiting_start(c, authorized_after, limit))
            .await
    }

    async fn payments_with_unfinished_steps(
        &self,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PaymentDetail>> {
        self.read(move |c| payments::payments_with_unfinished_steps(c, older_than, limit))
            .await
    }

    async fn authorized_holds_older_than(
        &self,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StaleHold>> {
        self.read(move |c| payments::authorized_holds_older_than(c, at, limit))
            .await
    }

    async fn open_payment_for_id_tag(
        &self,
        charger: &ChargerId,
        id_tag: &IdTag,
    ) -> StoreResult<Option<Payment>> {
        let (charger, id_tag) = (charger.clone(), id_tag.clone());
        self.read(move |c| payments::open_payment_for_id_tag(c, &charger, &id_tag))
            .await
    }

    async fn payment_kpis(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ChannelKpis>> {
        self.read(move |c| payments::payment_kpis(c, from, to))
            .await
    }

    async fn payment_step_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<joule_domain::payment::StepTally>> {
        self.read(move |c| payments::payment_step_tallies(c, from, to))
            .await
    }
}

#[async_trait]
impl ApiIdempotencyStore for SqliteStore {
    async fn begin_idempotent(&self, new: NewIdempotencyRecord) -> StoreResult<IdempotencyBegin> {
        self.write(move |c| payments::begin_idempotent(c, &new))
            .await
    }

    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyRecord> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.write(move |c| payments::complete_idempotent(c, &scope, &key, status, &body, at))
            .await
    }

    async fn release_idempotent(&self, scope: &str, key: &str) -> StoreResult<bool> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.write(move |c| payments::release_idempotent(c, &scope, &key))
            .await
    }
}

#[async_trait]
impl TerminalStore for SqliteStore {
    async fn create_terminal(&self, new: NewTerminal, at: DateTime<Utc>) -> StoreResult<Terminal> {
        self.write(move |c| terminals::create_terminal(c, &new, at))
            .await
    }

    async fn get_terminal(&self, id: TerminalId) -> StoreResult<Option<Terminal>> {
        self.read(move |c| terminals::get_terminal(c, id)).await
    }

    async fn list_terminals(&self, page: Page) -> StoreResult<Paged<Terminal>> {
        self.read(move |c| terminals::list_terminals(c, page)).await
    }

    async fn update_terminal(
        &self,
        id: TerminalId,
        patch: TerminalPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Result<Terminal, TerminalError>>> {
        self.write(move |c| terminals::update_terminal(c, id, &patch, at))
            .await
    }

    async fn set_terminal_key(
        &self,
        id: TerminalId,
        key: TerminalKey,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Terminal>> {
        self.write(move |c| terminals::set_terminal_key(c, id, &key, at))
            .await
    }

    async fn terminal_by_key_prefix(&self, prefix: &str) -> StoreResult<Option<Terminal>> {
        let prefix = prefix.to_owned();
        self.read(move |c| terminals::terminal_by_key_prefix(c, &prefix))
            .await
    }
}

#[async_trait]
impl SiteStore for SqliteStore {
    async fn create_site(&self, new: NewSite, at: DateTime<Utc>) -> StoreResult<Site> {
        self.write(move |c| placement::create_site(c, &new, at))
            .await
    }

    async fn get_site(&self, id: &SiteId) -> StoreResult<Option<Site>> {
        let id = id.clone();
        self.read(move |c| placement::get_site(c, &id)).await
    }

    async fn list_sites(&self, page: Page) -> StoreResult<Paged<Site>> {
        self.read(move |c| placement::list_sites(c, page)).await
    }

    async fn update_site(
        &self,
        id: &SiteId,
        new: NewSite,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Site>> {
        let id = id.clone();
        self.write(move |c| placement::update_site(c, &id, &new, at))
            .await
    }

    async fn delete_site(&self, id: &SiteId, at: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.clone();
        self.write(move |c| placement::delete_site(c, &id, at))
            .await
    }

    async fn set_charger_site(
        &self,
        id: &ChargerId,
        site: Option<&SiteId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<SiteId>>> {
        let id = id.clone();
        let site = site.cloned();
        self.write(move |c| placement::set_charger_site(c, &id, site.as_ref(), at))
            .await
    }
}

#[async_trait]
impl TariffAssignmentStore for SqliteStore {
    async fn create_tariff_assignment(
        &self,
        new: NewTariffAssignment,
        at: DateTime<Utc>,
    ) -> StoreResult<TariffAssignment> {
        self.write(move |c| placement::create_assignment(c, &new, at))
            .await
    }

    async fn get_tariff_assignment(
        &self,
        id: AssignmentId,
    ) -> StoreResult<Option<TariffAssignment>> {
        self.read(move |c| placement::get_assignment(c, id)).await
    }

    async fn list_tariff_assignments(
        &self,
        filter: AssignmentFilter,
        page: Page,
    ) -> StoreResult<Paged<TariffAssignment>> {
        self.read(move |c| placement::list_assignments(c, &filter, page))
            .await
    }

    async fn delete_tariff_assignment(
        &self,
        id: AssignmentId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(move |c| placement::delete_assignment(c, id, at))
            .await
    }

    async fn tariff_candidates(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdTag>,
    ) -> StoreResult<Option<TariffCandidates>> {
        let charger = charger.clone();
        let id_tag = id_tag.cloned();
        self.read(move |c| placement::tariff_candidates(c, &charger, id_tag.as_ref()))
            .await
    }
}

#[async_trait]
impl joule_domain::store::HoldLimitStore for SqliteStore {
    async fn held_active_sessions(&self, limit: u32) -> StoreResult<Vec<Payment>> {
        self.read(move |c| holds::held_active_sessions(c, limit))
            .await
    }

    async fn claim_hold_stop(
        &self,
        id: PaymentId,
        at: DateTime<Utc>,
        retry_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(move |c| holds::claim_hold_stop(c, id, at, retry_before))
            .await
    }
}

#[async_trait]
impl joule_domain::store::ReceiptEmailStore for SqliteStore {
    async fn set_receipt_email(
        &self,
        payment: PaymentId,
        address: &joule_domain::receipt_email::EmailAddress,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let address = address.clone();
        self.write(move |c| holds::set_receipt_email(c, payment, &address, at))
            .await
    }

    async fn receipt_email_due(&self, payment: PaymentId, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(move |c| holds::receipt_email_due(c, payment, at))
            .await
    }

    async fn claim_receipt_emails(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<joule_domain::receipt_email::ReceiptEmailJob>> {
        self.write(move |c| holds::claim_receipt_emails(c, now, stale_before, limit))
            .await
    }

    async fn finish_receipt_email(
        &self,
        payment: PaymentId,
        outcome: joule_domain::receipt_email::ReceiptEmailOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(move |c| holds::finish_receipt_email(c, payment, &outcome, at))
            .await
    }

    async fn receipt_email(
        &self,
        payment: PaymentId,
    ) -> StoreResult<Option<joule_domain::receipt_email::ReceiptEmail>> {
        self.read(move |c| holds::receipt_email(c, payment)).await
    }
}

#[async_trait]
impl ConsumerCursorStore for SqliteStore {
    async fn consumer_cursor(&self, consumer: &str) -> StoreResult<i64> {
        let consumer = consumer.to_owned();
        self.read(move |c| payments::consumer_cursor(c, &consumer))
            .await
    }

    async fn set_consumer_cursor(
        &self,
        consumer: &str,
        last_event_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let consumer = consumer.to_owned();
        self.write(move |c| payments::set_consumer_cursor(c, &consumer, last_event_id, at))
            .await
    }
}

#[async_trait]
impl EventLog for SqliteStore {
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        self.read(move |c| ops::events_after(c, after, limit)).await
    }

    async fn latest_event_id(&self) -> StoreResult<i64> {
        self.read(ops::latest_event_id).await
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, new: NewAccount, at: DateTime<Utc>) -> StoreResult<Account> {
        self.write(move |c| accounts::create_account(c, &new, at))
            .await
    }

    async fn get_account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.read(move |c| accounts::get_account(c, id)).await
    }

    async fn list_accounts(&self, page: Page) -> StoreResult<Paged<Account>> {
        self.read(move |c| accounts::list_accounts(c, page)).await
    }

    async fn update_account(
        &self,
        id: AccountId,
        patch: AccountPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.write(move |c| accounts::update_account(c, id, &patch, at))
            .await
    }

    async fn set_account_customer(
        &self,
        id: AccountId,
        gateway: &str,
        customer_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let (gateway, customer_ref) = (gateway.to_owned(), customer_ref.to_owned());
        self.write(move |c| accounts::set_account_customer(c, id, &gateway, &customer_ref, at))
            .await
    }

    async fn create_card_setup(&self, setup: CardSetup) -> StoreResult<CardSetup> {
        self.write(move |c| accounts::create_card_setup(c, &setup))
            .await
    }

    async fn card_setup(&self, token: &str) -> StoreResult<Option<CardSetup>> {
        let token = token.to_owned();
        self.read(move |c| accounts::card_setup(c, &token)).await
    }

    async fn card_setup_by_ref(
        &self,
        gateway: &str,
        setup_ref: &str,
    ) -> StoreResult<Option<CardSetup>> {
        let (gateway, setup_ref) = (gateway.to_owned(), setup_ref.to_owned());
        self.read(move |c| accounts::card_setup_by_ref(c, &gateway, &setup_ref))
            .await
    }

    async fn save_account_card(
        &self,
        setup_token: &str,
        card: StoredCard,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let token = setup_token.to_owned();
        self.write(move |c| accounts::save_account_card(c, &token, &card, at))
            .await
    }

    async fn link_account_token(
        &self,
        id: AccountId,
        id_tag: &IdTag,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<IdTag>> {
        let tag = id_tag.clone();
        self.write(move |c| accounts::link_account_token(c, id, &tag, at))
            .await
    }

    async fn unlink_account_token(
        &self,
        id: AccountId,
        id_tag: &IdTag,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let tag = id_tag.clone();
        self.write(move |c| accounts::unlink_account_token(c, id, &tag, at))
            .await
    }

    async fn account_tokens(&self, id: AccountId) -> StoreResult<Vec<IdTag>> {
        self.read(move |c| accounts::account_tokens(c, id)).await
    }

    async fn account_standing(&self, id_tag: &IdTag) -> StoreResult<Option<AccountStanding>> {
        let tag = id_tag.clone();
        self.read(move |c| accounts::account_standing(c, &tag))
            .await
    }

    async fn account_for_session(&self, session: SessionId) -> StoreResult<Option<AccountId>> {
        self.read(move |c| accounts::account_for_session(c, session))
            .await
    }

    async fn begin_account_charge(
        &self,
        charge: NewAccountCharge,
        payment: Option<NewPayment>,
    ) -> StoreResult<(AccountCharge, bool)> {
        self.write(move |c| accounts::begin_account_charge(c, &charge, payment.as_ref()))
            .await
    }

    async fn account_charge(&self, session: SessionId) -> StoreResult<Option<AccountCharge>> {
        self.read(move |c| accounts::account_charge(c, session))
            .await
    }

    async fn set_account_charge_status(
        &self,
        session: SessionId,
        status: ChargeStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<AccountCharge> {
        self.write(move |c| accounts::set_account_charge_status(c, session, status, at))
            .await
    }

    async fn retry_account_charge(
        &self,
        session: SessionId,
        payment: NewPayment,
    ) -> StoreResult<Option<AccountCharge>> {
        self.write(move |c| accounts::retry_account_charge(c, session, &payment))
            .await
    }

    async fn account_debts(&self, id: AccountId) -> StoreResult<Vec<AccountCharge>> {
        self.read(move |c| accounts::account_debts(c, id)).await
    }

    async fn pending_account_charges(&self, limit: u32) -> StoreResult<Vec<AccountCharge>> {
        self.read(move |c| accounts::pending_account_charges(c, limit))
            .await
    }

    async fn uncharged_account_sessions(
        &self,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<SessionId>> {
        self.read(move |c| accounts::uncharged_account_sessions(c, ended_before, limit))
            .await
    }
}
