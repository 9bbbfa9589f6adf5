//! SQLite backend (rusqlite, bundled SQLite): the embedded default.
//!
//! Writes go to the single writer thread (see [`writer`]) and are answered
//! after their group commit; message-log rows ride along without waiting.
//! Reads run on `spawn_blocking` with one of a few read-only connections,
//! which WAL lets run beside the writer.

mod accounts;
mod api_keys;
mod assignment_table;
mod chargers;
mod consumer_cursors;
mod holds;
mod idempotency;
mod message_log;
mod outbox;
mod payments;
mod receipt_emails;
mod sessions;
mod sites;
mod sql;
mod tariff_assignments;
mod tariffs;
mod terminals;
mod tokens;
mod user_group_table;
mod user_groups;
mod writer;

use crate::migrations::{self, Migration};
use crate::StoreOptions;
use chrono::Utc;
use joule_domain::kernel::error::StoreError;
use joule_domain::ports::store::{Store, StoreResult};
use rusqlite::{Connection, OpenFlags};
use sql::db;
pub(crate) use sql::parse_ts;
use sql::R;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot, Semaphore};
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
            rusqlite::params![m.version, m.name, sql::ts(Utc::now())],
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

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
