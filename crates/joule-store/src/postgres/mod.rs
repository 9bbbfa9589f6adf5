//! PostgreSQL backend (sqlx `PgPool`), for production and several nodes.
//!
//! Each write is its own transaction; PostgreSQL already groups concurrent
//! commits into one WAL flush. Message-log rows are the exception: a
//! background task collects them and inserts up to `max_batch` rows per
//! statement, flushed on [`PgStore::flush`] and [`PgStore::close`].

use crate::migrations::{self, Migration};
use crate::StoreOptions;
use joule_domain::charging::message_log::LogEntry;
use joule_domain::kernel::error::StoreError;
use joule_domain::ports::store::{Store, StoreResult};
use sql::pg;
use sql::R;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool};
use std::str::FromStr;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Arbitrary constant key of the advisory lock that serializes migrations
/// of several nodes starting at once.
const MIGRATION_LOCK: i64 = 0x006a_6f75_6c65; // "joule"

enum LogMsg {
    Entries(Vec<LogEntry>),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// The PostgreSQL implementation of every store port.
pub struct PgStore {
    pool: PgPool,
    log_tx: mpsc::Sender<LogMsg>,
    log_task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the database is closed".into())
}

/// Schema names come from configuration or tests; keep them to a safe
/// identifier so they can be spliced into `CREATE SCHEMA`.
fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

async fn migrate(c: &mut PgConnection, known: &[Migration]) -> R<()> {
    let mut tx = c.begin().await.map_err(pg)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(pg)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(pg)?;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await
            .map_err(pg)?;
    if let Some(msg) = migrations::unknown_versions(&applied, known) {
        return Err(StoreError::Unavailable(msg));
    }
    // One transaction per migration would need the lock per migration too;
    // DDL is transactional in PostgreSQL, so each migration runs in a
    // savepoint of the locked transaction and is recorded with it.
    for m in known.iter().filter(|m| !applied.contains(&m.version)) {
        let mut step = tx.begin().await.map_err(pg)?;
        sqlx::raw_sql(m.sql)
            .execute(&mut *step)
            .await
            .map_err(|e| {
                StoreError::Backend(format!("migration {} {} failed: {e}", m.version, m.name))
            })?;
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
            .bind(m.version)
            .bind(m.name)
            .execute(&mut *step)
            .await
            .map_err(pg)?;
        step.commit().await.map_err(pg)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied postgres migration"
        );
    }
    tx.commit().await.map_err(pg)?;
    Ok(())
}

/// Collects message-log rows and writes them in multi-row statements.
async fn log_writer(pool: PgPool, mut rx: mpsc::Receiver<LogMsg>, max_batch: usize) {
    let max_batch = max_batch.max(1);
    let mut entries: Vec<LogEntry> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut stopping = false;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                LogMsg::Entries(mut e) => entries.append(&mut e),
                LogMsg::Flush(w) => waiters.push(w),
                LogMsg::Shutdown(w) => {
                    waiters.push(w);
                    stopping = true;
                    rx.close();
                }
            }
            if entries.len() >= max_batch * 4 {
                break;
            }
            next = rx.try_recv().ok();
        }
        for chunk in entries.chunks(max_batch) {
            let result = match pool.acquire().await {
                Ok(mut c) => message_log::append_log(&mut c, chunk).await,
                Err(e) => Err(pg(e)),
            };
            if let Err(e) = result {
                tracing::error!(error = %e, rows = chunk.len(), "message-log rows not stored");
            }
        }
        entries.clear();
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if stopping && rx.is_empty() {
            return;
        }
    }
}

/// Runs one write in its own transaction.
macro_rules! in_tx {
    ($self:ident, $c:ident => $body:expr) => {{
        let mut tx = $self.pool.begin().await.map_err(pg)?;
        let out = {
            let $c: &mut PgConnection = &mut tx;
            $body.await
        };
        match out {
            Ok(out) => {
                tx.commit().await.map_err(pg)?;
                Ok(out)
            }
            Err(error) => {
                // Roll back before answering: a dropped transaction's rollback
                // is only queued, and its row locks would make the caller's next
                // `FOR UPDATE SKIP LOCKED` (on another pooled connection) skip
                // rows this failed write had touched.
                let _ = tx.rollback().await;
                Err(error)
            }
        }
    }};
}

/// Runs one read on a pooled connection.
macro_rules! on_conn {
    ($self:ident, $c:ident => $body:expr) => {{
        let mut conn = $self.pool.acquire().await.map_err(pg)?;
        let $c: &mut PgConnection = &mut conn;
        $body.await
    }};
}

// The aggregate modules use `in_tx!` and `on_conn!`, so they are declared
// after them.
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

impl PgStore {
    /// Connects, creates the schema when one is asked for, migrates, and
    /// starts the message-log writer.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut connect_options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad postgres url: {e}")))?;
        if let Some(schema) = &options.pg_schema {
            if !valid_schema(schema) {
                return Err(StoreError::Unavailable(format!(
                    "invalid schema name {schema:?}: use [a-z_][a-z0-9_]*"
                )));
            }
            let mut admin = PgConnection::connect_with(&connect_options)
                .await
                .map_err(pg)?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
            )))
            .execute(&mut admin)
            .await
            .map_err(pg)?;
            let _ = admin.close().await;
            connect_options = connect_options.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.pg_max_connections.max(2))
            .connect_with(connect_options)
            .await
            .map_err(pg)?;
        {
            let mut c = pool.acquire().await.map_err(pg)?;
            migrate(&mut c, migrations::POSTGRES).await?;
        }
        let (log_tx, log_rx) = mpsc::channel(options.max_batch.max(1) * 4);
        let task = tokio::spawn(log_writer(pool.clone(), log_rx, options.max_batch));
        Ok(Self {
            pool,
            log_tx,
            log_task: Mutex::new(Some(task)),
        })
    }

    /// Waits until every message-log row queued so far is written.
    pub async fn flush(&self) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        self.log_tx
            .send(LogMsg::Flush(tx))
            .await
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())
    }

    /// Writes pending log rows, stops the log writer and closes the pool.
    pub async fn close(&self) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        if self.log_tx.send(LogMsg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let task = self.log_task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
        self.pool.close().await;
        Ok(())
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[cfg(test)]
mod tests {
    use super::valid_schema;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema("joule_test_1a2b"));
        assert!(!valid_schema("x\"; DROP"));
        assert!(!valid_schema("1abc"));
        assert!(!valid_schema(""));
    }
}
