//! # joule-store
//!
//! The storage ports of `joule_domain::ports::store`, implemented twice:
//! - [`sqlite`]: rusqlite (bundled SQLite), the embedded default. One writer
//!   thread owns the write connection and commits every queued write in one
//!   transaction (group commit, one `SAVEPOINT` per job so a failing job rolls
//!   back alone); reads run on a small pool of read-only connections beside it
//!   (WAL).
//! - [`postgres`]: sqlx `PgPool`, one transaction per write; PostgreSQL does its
//!   own group commit. Message-log rows are batched by a background task.
//!
//! [`connect`] picks the backend from the URL scheme and runs the embedded
//! migrations of that backend (same numbers and names for both, see
//! [`migrations`]) before returning.
//!
//! **May depend on:** joule-domain, rusqlite, sqlx, tokio, chrono, serde_json,
//! uuid. Never on an adapter crate.
//!
//! **Concurrency model:** SQLite writes are serialized on one OS thread and
//! answered through oneshot channels after their commit; SQLite reads run on
//! `spawn_blocking` with a pooled read-only connection. PostgreSQL work runs
//! on the caller's task through the pool. Message-log appends never wait for
//! their commit: they are queued (bounded, so a slow disk pushes back) and
//! become durable with the next commit; [`Database::flush`] and
//! [`Database::close`] wait for them.

use std::sync::Arc;

use joule_domain::kernel::error::StoreError;
use joule_domain::ports::store::Store;

/// Column lists shared by both backends' SELECTs (same names on both), as
/// macros so that `concat!` builds `&'static str` SQL.
macro_rules! charger_cols {
    () => {
        "id, label, location, registration, password_hash, boot_vendor, boot_model, \
         boot_charge_point_serial, boot_charge_box_serial, boot_firmware_version, boot_iccid, \
         boot_imsi, boot_meter_type, boot_meter_serial, booted_at, last_heartbeat_at, connected, \
         protocol, connected_at, disconnected_at, last_seen_at, firmware_status, \
         diagnostics_status, created_at, updated_at"
    };
}
macro_rules! session_cols {
    () => {
        "transaction_id, id, charger_id, connector_id, id_tag, start_authorization, state, \
         reservation_id, started_at, meter_start_wh, stopped_at, meter_stop_wh, stop_reason, \
         stop_id_tag, last_meter_at, last_meter_wh, peak_power_w, created_at, updated_at, \
         tariff_id, tariff_version"
    };
}
macro_rules! token_cols {
    () => {
        "id_tag, kind, status, expires_at, parent_id_tag, allowed_chargers, label, created_at, \
         updated_at, language, token_type"
    };
}
macro_rules! status_cols {
    () => {
        "connector_id, status, error_code, info, vendor_id, vendor_error_code, reported_at, \
         received_at"
    };
}
macro_rules! state_cols {
    () => {
        "connector_id, status, error_code, info, vendor_id, vendor_error_code, since"
    };
}
macro_rules! meter_cols {
    () => {
        "timestamp, connector_id, transaction_id, sampled_values, received_at"
    };
}
macro_rules! log_cols {
    () => {
        "id, charger_id, direction, kind, action, message_id, frame, note, at"
    };
}

macro_rules! payment_cols {
    () => {
        "id, channel, gateway, gateway_payment_ref, currency, authorized_minor, captured_minor, \
         refunded_minor, state, card_brand, card_last4, card_exp_month, card_exp_year, \
         charger_id, connector_id, session_id, account_id, terminal_id, hold_limit_policy, \
         receipt_token, language, created_at, updated_at, id_tag"
    };
}
macro_rules! step_cols {
    () => {
        "payment_id, seq, kind, amount_minor, idempotency_key, status, failure_code, \
         failure_message, gateway_ref, intended_at, finished_at"
    };
}

mod accounts;
mod events;
pub mod migrations;
mod payments;
pub mod postgres;
mod rows;
mod scopes;
pub mod sqlite;
mod statements;
mod terminals;
mod values;

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// fsync on every commit: a committed write survives a power loss. The
    /// default, because a charger is answered only after what it reported is
    /// durable.
    #[default]
    Full,
    /// fsync at checkpoints only (WAL): survives a crash of Joule, may lose
    /// the last commits on power loss.
    Normal,
}

impl SqliteSynchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Tuning and test knobs for [`connect`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub sqlite_synchronous: SqliteSynchronous,
    /// Read-only SQLite connections used beside the writer.
    pub sqlite_read_pool: usize,
    /// Largest number of queued write jobs committed in one transaction
    /// (SQLite), or log rows inserted in one statement (PostgreSQL).
    pub max_batch: usize,
    pub pg_max_connections: u32,
    /// PostgreSQL schema to use (created when absent) instead of the default
    /// `search_path`; parallel tests each get their own.
    pub pg_schema: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sqlite_synchronous: SqliteSynchronous::Full,
            sqlite_read_pool: 4,
            max_batch: 4096,
            pg_max_connections: 16,
            pg_schema: None,
        }
    }
}

/// An open database: hands out the store and owns its background workers.
pub enum Database {
    Sqlite(Arc<sqlite::SqliteStore>),
    Postgres(Arc<postgres::PgStore>),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Database").field(&self.backend()).finish()
    }
}

impl Database {
    /// The store, as every port at once.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => s.clone(),
            Self::Postgres(s) => s.clone(),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Waits until everything queued so far (message-log rows included) is
    /// committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.flush().await,
            Self::Postgres(s) => s.flush().await,
        }
    }

    /// Graceful shutdown: commits every pending write, then stops the
    /// background workers. Later calls on a store handed out by
    /// [`Database::store`] fail with `StoreError::Unavailable`.
    pub async fn close(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}

/// Opens (and migrates) the database named by `url`:
/// `sqlite://path/to/file.db` or a bare path for SQLite (parent directory and
/// file are created), `postgres://…` / `postgresql://…` for PostgreSQL.
pub async fn connect(url: &str, options: StoreOptions) -> Result<Database, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PgStore::connect(url, &options).await?;
        return Ok(Database::Postgres(Arc::new(store)));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Unavailable(format!(
            "unsupported database url {url:?}: give a file path"
        )));
    }
    let store = sqlite::SqliteStore::open(std::path::Path::new(path), &options).await?;
    Ok(Database::Sqlite(Arc::new(store)))
}
