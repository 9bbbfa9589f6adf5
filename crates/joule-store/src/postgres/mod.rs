//! PostgreSQL backend (sqlx `PgPool`), for production and several nodes.
//!
//! Each write is its own transaction; PostgreSQL already groups concurrent
//! commits into one WAL flush. Message-log rows are the exception: a
//! background task collects them and inserts up to `max_batch` rows per
//! statement, flushed on [`PgStore::flush`] and [`PgStore::close`].

mod accounts;
mod holds;
mod ops;
mod payments;
mod placement;
mod terminals;

use std::str::FromStr;
use std::sync::Mutex;

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
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::migrations::{self, Migration};
use crate::StoreOptions;
use ops::{pg, R};

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
                Ok(mut c) => ops::append_log(&mut c, chunk).await,
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
            $body.await?
        };
        tx.commit().await.map_err(pg)?;
        Ok(out)
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

#[async_trait]
impl ChargerStore for PgStore {
    async fn create_charger(&self, new: NewCharger, at: DateTime<Utc>) -> StoreResult<Charger> {
        in_tx!(self, c => ops::create_charger(c, &new, at))
    }

    async fn get_charger(&self, id: &ChargerId) -> StoreResult<Option<Charger>> {
        on_conn!(self, c => ops::get_charger(c, id))
    }

    async fn list_chargers(&self, page: Page) -> StoreResult<Paged<Charger>> {
        on_conn!(self, c => ops::list_chargers(c, page))
    }

    async fn update_charger(
        &self,
        id: &ChargerId,
        patch: ChargerPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Charger>> {
        in_tx!(self, c => ops::update_charger(c, id, &patch, at))
    }

    async fn delete_charger(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => ops::delete_charger(c, id, at))
    }

    async fn charger_credentials(&self, id: &ChargerId) -> StoreResult<Option<ChargerCredentials>> {
        on_conn!(self, c => ops::charger_credentials(c, id))
    }

    async fn auto_register_charger(
        &self,
        id: &ChargerId,
        at: DateTime<Utc>,
    ) -> StoreResult<Charger> {
        in_tx!(self, c => ops::auto_register(c, id, at))
    }

    async fn record_boot(
        &self,
        id: &ChargerId,
        boot: BootInfo,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<RegistrationStatus>> {
        in_tx!(self, c => ops::record_boot(c, id, &boot, at))
    }

    async fn record_heartbeat(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<()> {
        in_tx!(self, c => ops::record_heartbeat(c, id, at))
    }

    async fn record_connection(
        &self,
        id: &ChargerId,
        protocol: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => ops::record_connection(c, id, protocol, at))
    }

    async fn mark_all_disconnected(&self, at: DateTime<Utc>) -> StoreResult<u64> {
        in_tx!(self, c => ops::mark_all_disconnected(c, at))
    }

    async fn record_status(&self, id: &ChargerId, report: StatusReport) -> StoreResult<()> {
        in_tx!(self, c => ops::record_status(c, id, &report))
    }

    async fn connector_states(&self, id: &ChargerId) -> StoreResult<Vec<ConnectorState>> {
        on_conn!(self, c => ops::connector_states(c, id))
    }

    async fn status_history(
        &self,
        id: &ChargerId,
        connector: Option<ConnectorId>,
        page: Page,
    ) -> StoreResult<Paged<StatusReport>> {
        on_conn!(self, c => ops::status_history(c, id, connector, page))
    }

    async fn connector_status_range(
        &self,
        id: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>> {
        on_conn!(self, c => ops::connector_status_range(c, id, connector, from, to))
    }

    async fn record_firmware_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => ops::record_charger_status(c, id, ops::ChargerStatusField::Firmware, status, at))
    }

    async fn record_diagnostics_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => ops::record_charger_status(c, id, ops::ChargerStatusField::Diagnostics, status, at))
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn create_token(&self, new: NewIdToken, at: DateTime<Utc>) -> StoreResult<IdToken> {
        in_tx!(self, c => ops::create_token(c, &new, at))
    }

    async fn get_token(&self, id_tag: &IdTag) -> StoreResult<Option<IdToken>> {
        on_conn!(self, c => ops::get_token(c, id_tag))
    }

    async fn list_tokens(&self, filter: TokenFilter, page: Page) -> StoreResult<Paged<IdToken>> {
        on_conn!(self, c => ops::list_tokens(c, &filter, page))
    }

    async fn update_token(
        &self,
        id_tag: &IdTag,
        patch: IdTokenPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdToken>> {
        in_tx!(self, c => ops::update_token(c, id_tag, &patch, at))
    }

    async fn delete_token(&self, id_tag: &IdTag, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => ops::delete_token(c, id_tag, at))
    }
}

#[async_trait]
impl SessionStore for PgStore {
    async fn start_session(&self, start: StartSession) -> StoreResult<StartOutcome> {
        in_tx!(self, c => ops::start_session(c, &start))
    }

    async fn stop_session(&self, stop: StopSession) -> StoreResult<StopOutcome> {
        in_tx!(self, c => ops::stop_session(c, &stop))
    }

    async fn record_meter_values(
        &self,
        charger: &ChargerId,
        report: MeterReport,
    ) -> StoreResult<()> {
        in_tx!(self, c => ops::record_meter_values(c, charger, &report))
    }

    async fn get_session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        on_conn!(self, c => ops::get_session(c, id))
    }

    async fn get_session_by_transaction(
        &self,
        transaction_id: TransactionId,
    ) -> StoreResult<Option<Session>> {
        on_conn!(self, c => ops::get_session_by_transaction(c, transaction_id))
    }

    async fn list_sessions(
        &self,
        filter: SessionFilter,
        page: Page,
    ) -> StoreResult<Paged<Session>> {
        on_conn!(self, c => ops::list_sessions(c, &filter, page))
    }

    async fn session_meter_values(&self, id: SessionId) -> StoreResult<Vec<StoredMeterValue>> {
        on_conn!(self, c => ops::session_meter_values(c, id))
    }
}

#[async_trait]
impl MessageLogStore for PgStore {
    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.log_tx
            .send(LogMsg::Entries(entries))
            .await
            .map_err(|_| closed())
    }

    async fn query_log(
        &self,
        charger: &ChargerId,
        filter: LogFilter,
        page: Page,
    ) -> StoreResult<Paged<StoredLogEntry>> {
        on_conn!(self, c => ops::query_log(c, charger, &filter, page))
    }

    async fn purge_log_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        on_conn!(self, c => ops::purge_log_before(c, before))
    }
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn count_api_keys(&self) -> StoreResult<u64> {
        on_conn!(self, c => ops::count_api_keys(c))
    }

    async fn create_api_key(&self, new: NewApiKey, at: DateTime<Utc>) -> StoreResult<ApiKey> {
        in_tx!(self, c => ops::create_api_key(c, &new, at))
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        on_conn!(self, c => ops::find_api_key(c, prefix))
    }
}

#[async_trait]
impl TariffStore for PgStore {
    async fn create_tariff(&self, new: NewTariff, at: DateTime<Utc>) -> StoreResult<StoredTariff> {
        in_tx!(self, c => ops::create_tariff(c, &new, at))
    }

    async fn get_tariff(&self, id: &str) -> StoreResult<Option<StoredTariff>> {
        on_conn!(self, c => ops::get_tariff(c, id))
    }

    async fn list_tariffs(&self, page: Page) -> StoreResult<Paged<StoredTariff>> {
        on_conn!(self, c => ops::list_tariffs(c, page))
    }

    async fn update_tariff(
        &self,
        id: &str,
        new: NewTariff,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>> {
        in_tx!(self, c => ops::update_tariff(c, id, &new, at))
    }

    async fn delete_tariff(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => ops::delete_tariff(c, id, at))
    }

    async fn set_default_tariff(
        &self,
        id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>> {
        in_tx!(self, c => ops::set_default_tariff(c, id, at))
    }

    async fn default_tariff(&self) -> StoreResult<Option<StoredTariff>> {
        on_conn!(self, c => ops::default_tariff(c))
    }

    async fn get_tariff_version(
        &self,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<StoredTariff>> {
        on_conn!(self, c => ops::get_tariff_version(c, id, version))
    }

    async fn set_charger_tariff(
        &self,
        id: &ChargerId,
        tariff_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>> {
        in_tx!(self, c => ops::set_charger_tariff(c, id, tariff_id, at))
    }

    async fn charger_tariff(&self, id: &ChargerId) -> StoreResult<Option<Option<String>>> {
        on_conn!(self, c => ops::charger_tariff(c, id))
    }
}

#[async_trait]
impl UserGroupStore for PgStore {
    async fn create_user_group(
        &self,
        new: NewUserGroup,
        at: DateTime<Utc>,
    ) -> StoreResult<UserGroup> {
        in_tx!(self, c => ops::create_user_group(c, &new, at))
    }

    async fn get_user_group(&self, id: &UserGroupId) -> StoreResult<Option<UserGroup>> {
        on_conn!(self, c => ops::get_user_group(c, id))
    }

    async fn list_user_groups(&self, page: Page) -> StoreResult<Paged<UserGroup>> {
        on_conn!(self, c => ops::list_user_groups(c, page))
    }

    async fn update_user_group(
        &self,
        id: &UserGroupId,
        patch: UserGroupPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<UserGroup>> {
        in_tx!(self, c => ops::update_user_group(c, id, &patch, at))
    }

    async fn delete_user_group(&self, id: &UserGroupId, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => ops::delete_user_group(c, id, at))
    }

    async fn set_token_groups(
        &self,
        id_tag: &IdTag,
        groups: Vec<UserGroupId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<UserGroupId>>> {
        in_tx!(self, c => ops::set_token_groups(c, id_tag, groups, at))
    }

    async fn token_groups(&self, id_tag: &IdTag) -> StoreResult<Vec<UserGroupId>> {
        on_conn!(self, c => ops::token_groups(c, id_tag))
    }

    async fn set_charger_access(
        &self,
        id: &ChargerId,
        rule: ChargerAccessRule,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<ChargerAccessRule>> {
        in_tx!(self, c => ops::set_charger_access(c, id, rule, at))
    }

    async fn charger_access(&self, id: &ChargerId) -> StoreResult<Option<ChargerAccessRule>> {
        on_conn!(self, c => ops::charger_access(c, id))
    }
}

#[async_trait]
impl PaymentStore for PgStore {
    async fn create_payment(&self, new: NewPayment) -> StoreResult<Payment> {
        in_tx!(self, c => payments::create_payment(c, &new))
    }

    async fn get_payment(&self, id: PaymentId) -> StoreResult<Option<PaymentDetail>> {
        on_conn!(self, c => payments::get_payment(c, id))
    }

    async fn list_payments(
        &self,
        filter: PaymentFilter,
        page: Page,
    ) -> StoreResult<Paged<Payment>> {
        on_conn!(self, c => payments::list_payments(c, &filter, page))
    }

    async fn payment_by_gateway_ref(
        &self,
        gateway: &str,
        gateway_ref: &str,
    ) -> StoreResult<Option<Payment>> {
        on_conn!(self, c => payments::payment_by_gateway_ref(c, gateway, gateway_ref))
    }

    async fn payment_by_receipt_token(&self, token: &ReceiptToken) -> StoreResult<Option<Payment>> {
        on_conn!(self, c => payments::payment_by_receipt_token(c, token))
    }

    async fn payment_for_session(&self, session: SessionId) -> StoreResult<Option<Payment>> {
        on_conn!(self, c => payments::payment_for_session(c, session))
    }

    async fn set_gateway_ref(
        &self,
        id: PaymentId,
        gateway_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        in_tx!(self, c => payments::set_gateway_ref(c, id, gateway_ref, at))
    }

    async fn link_session(
        &self,
        id: PaymentId,
        session: SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        in_tx!(self, c => payments::link_session(c, id, session, at))
    }

    async fn intend_step(
        &self,
        id: PaymentId,
        request: StepRequest,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentStep, StepError>> {
        in_tx!(self, c => payments::intend_step(c, id, request, claim, at))
    }

    async fn finish_step(
        &self,
        id: PaymentId,
        seq: u32,
        outcome: StepOutcome,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail> {
        in_tx!(self, c => payments::finish_step(c, id, seq, &outcome, claim, at))
    }

    async fn claim_payment(
        &self,
        id: PaymentId,
        request: ClaimRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentDetail, ClaimHeld>> {
        in_tx!(self, c => payments::claim_payment(c, id, &request, at))
    }

    async fn flag_payment(
        &self,
        id: PaymentId,
        reason: &str,
        detail: &str,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail> {
        in_tx!(self, c => payments::flag_payment(c, id, reason, detail, claim, at))
    }

    async fn release_payment_claim(&self, id: PaymentId, token: &ClaimToken) -> StoreResult<()> {
        on_conn!(self, c => payments::release_payment_claim(c, id, token))
    }

    async fn payment_claim(&self, id: PaymentId) -> StoreResult<Option<PaymentClaim>> {
        on_conn!(self, c => payments::claim_of(c, id))
    }

    async fn remote_start(&self, id: PaymentId) -> StoreResult<Option<RemoteStart>> {
        on_conn!(self, c => payments::remote_start(c, id))
    }

    async fn record_remote_start(
        &self,
        id: PaymentId,
        status: StartStatus,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<RemoteStart> {
        in_tx!(self, c => payments::record_remote_start(c, id, status, claim, at))
    }

    async fn payments_awaiting_start(
        &self,
        authorized_after: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Payment>> {
        on_conn!(self, c => payments::payments_awaiting_start(c, authorized_after, limit))
    }

    async fn payments_with_unfinished_steps(
        &self,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PaymentDetail>> {
        on_conn!(self, c => payments::payments_with_unfinished_steps(c, older_than, limit))
    }

    async fn authorized_holds_older_than(
        &self,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StaleHold>> {
        on_conn!(self, c => payments::authorized_holds_older_than(c, at, limit))
    }

    async fn open_payment_for_id_tag(
        &self,
        charger: &ChargerId,
        id_tag: &IdTag,
    ) -> StoreResult<Option<Payment>> {
        on_conn!(self, c => payments::open_payment_for_id_tag(c, charger, id_tag))
    }

    async fn payment_kpis(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ChannelKpis>> {
        on_conn!(self, c => payments::payment_kpis(c, from, to))
    }

    async fn payment_step_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<joule_domain::payment::StepTally>> {
        on_conn!(self, c => payments::payment_step_tallies(c, from, to))
    }
}

#[async_trait]
impl ApiIdempotencyStore for PgStore {
    async fn begin_idempotent(&self, new: NewIdempotencyRecord) -> StoreResult<IdempotencyBegin> {
        in_tx!(self, c => payments::begin_idempotent(c, &new))
    }

    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyRecord> {
        in_tx!(self, c => payments::complete_idempotent(c, scope, key, status, &body, at))
    }

    async fn release_idempotent(&self, scope: &str, key: &str) -> StoreResult<bool> {
        in_tx!(self, c => payments::release_idempotent(c, scope, key))
    }
}

#[async_trait]
impl TerminalStore for PgStore {
    async fn create_terminal(&self, new: NewTerminal, at: DateTime<Utc>) -> StoreResult<Terminal> {
        in_tx!(self, c => terminals::create_terminal(c, &new, at))
    }

    async fn get_terminal(&self, id: TerminalId) -> StoreResult<Option<Terminal>> {
        on_conn!(self, c => terminals::get_terminal(c, id))
    }

    async fn list_terminals(&self, page: Page) -> StoreResult<Paged<Terminal>> {
        on_conn!(self, c => terminals::list_terminals(c, page))
    }

    async fn update_terminal(
        &self,
        id: TerminalId,
        patch: TerminalPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Result<Terminal, TerminalError>>> {
        in_tx!(self, c => terminals::update_terminal(c, id, &patch, at))
    }

    async fn set_terminal_key(
        &self,
        id: TerminalId,
        key: TerminalKey,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Terminal>> {
        in_tx!(self, c => terminals::set_terminal_key(c, id, &key, at))
    }

    async fn terminal_by_key_prefix(&self, prefix: &str) -> StoreResult<Option<Terminal>> {
        on_conn!(self, c => terminals::terminal_by_key_prefix(c, prefix))
    }
}

#[async_trait]
impl joule_domain::store::HoldLimitStore for PgStore {
    async fn held_active_sessions(&self, limit: u32) -> StoreResult<Vec<Payment>> {
        on_conn!(self, c => holds::held_active_sessions(c, limit))
    }

    async fn claim_hold_stop(
        &self,
        id: PaymentId,
        at: DateTime<Utc>,
        retry_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        in_tx!(self, c => holds::claim_hold_stop(c, id, at, retry_before))
    }
}

#[async_trait]
impl joule_domain::store::ReceiptEmailStore for PgStore {
    async fn set_receipt_email(
        &self,
        payment: PaymentId,
        address: &joule_domain::receipt_email::EmailAddress,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => holds::set_receipt_email(c, payment, address, at))
    }

    async fn receipt_email_due(&self, payment: PaymentId, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => holds::receipt_email_due(c, payment, at))
    }

    async fn claim_receipt_emails(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<joule_domain::receipt_email::ReceiptEmailJob>> {
        in_tx!(self, c => holds::claim_receipt_emails(c, now, stale_before, limit))
    }

    async fn finish_receipt_email(
        &self,
        payment: PaymentId,
        outcome: joule_domain::receipt_email::ReceiptEmailOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => holds::finish_receipt_email(c, payment, &outcome, at))
    }

    async fn receipt_email(
        &self,
        payment: PaymentId,
    ) -> StoreResult<Option<joule_domain::receipt_email::ReceiptEmail>> {
        on_conn!(self, c => holds::receipt_email(c, payment))
    }
}

#[async_trait]
impl ConsumerCursorStore for PgStore {
    async fn consumer_cursor(&self, consumer: &str) -> StoreResult<i64> {
        on_conn!(self, c => payments::consumer_cursor(c, consumer))
    }

    async fn set_consumer_cursor(
        &self,
        consumer: &str,
        last_event_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_conn!(self, c => payments::set_consumer_cursor(c, consumer, last_event_id, at))
    }
}

#[async_trait]
impl EventLog for PgStore {
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        on_conn!(self, c => ops::events_after(c, after, limit))
    }

    async fn latest_event_id(&self) -> StoreResult<i64> {
        on_conn!(self, c => ops::latest_event_id(c))
    }
}

#[async_trait]
impl SiteStore for PgStore {
    async fn create_site(&self, new: NewSite, at: DateTime<Utc>) -> StoreResult<Site> {
        in_tx!(self, c => placement::create_site(c, &new, at))
    }

    async fn get_site(&self, id: &SiteId) -> StoreResult<Option<Site>> {
        on_conn!(self, c => placement::get_site(c, id))
    }

    async fn list_sites(&self, page: Page) -> StoreResult<Paged<Site>> {
        on_conn!(self, c => placement::list_sites(c, page))
    }

    async fn update_site(
        &self,
        id: &SiteId,
        new: NewSite,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Site>> {
        in_tx!(self, c => placement::update_site(c, id, &new, at))
    }

    async fn delete_site(&self, id: &SiteId, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => placement::delete_site(c, id, at))
    }

    async fn set_charger_site(
        &self,
        id: &ChargerId,
        site: Option<&SiteId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<SiteId>>> {
        in_tx!(self, c => placement::set_charger_site(c, id, site, at))
    }
}

#[async_trait]
impl TariffAssignmentStore for PgStore {
    async fn create_tariff_assignment(
        &self,
        new: NewTariffAssignment,
        at: DateTime<Utc>,
    ) -> StoreResult<TariffAssignment> {
        in_tx!(self, c => placement::create_assignment(c, &new, at))
    }

    async fn get_tariff_assignment(
        &self,
        id: AssignmentId,
    ) -> StoreResult<Option<TariffAssignment>> {
        on_conn!(self, c => placement::get_assignment(c, id))
    }

    async fn list_tariff_assignments(
        &self,
        filter: AssignmentFilter,
        page: Page,
    ) -> StoreResult<Paged<TariffAssignment>> {
        on_conn!(self, c => placement::list_assignments(c, &filter, page))
    }

    async fn delete_tariff_assignment(
        &self,
        id: AssignmentId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        in_tx!(self, c => placement::delete_assignment(c, id, at))
    }

    async fn tariff_candidates(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdTag>,
    ) -> StoreResult<Option<TariffCandidates>> {
        // One transaction (READ COMMITTED: each statement sees what was
        // committed when it started; a concurrent edit can at worst give a
        // mix of the before and after state, never a half-written one).
        in_tx!(self, c => placement::tariff_candidates(c, charger, id_tag))
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, new: NewAccount, at: DateTime<Utc>) -> StoreResult<Account> {
        in_tx!(self, c => accounts::create_account(c, &new, at))
    }

    async fn get_account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        on_conn!(self, c => accounts::get_account(c, id))
    }

    async fn list_accounts(&self, page: Page) -> StoreResult<Paged<Account>> {
        on_conn!(self, c => accounts::list_accounts(c, page))
    }

    async fn update_account(
        &self,
        id: AccountId,
        patch: AccountPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        in_tx!(self, c => accounts::update_account(c, id, &patch, at))
    }

    async fn set_account_customer(
        &self,
        id: AccountId,
        gateway: &str,
        customer_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let (gateway, customer_ref) = (gateway.to_owned(), customer_ref.to_owned());
        in_tx!(self, c => accounts::set_account_customer(c, id, &gateway, &customer_ref, at))
    }

    async fn create_card_setup(&self, setup: CardSetup) -> StoreResult<CardSetup> {
        in_tx!(self, c => accounts::create_card_setup(c, &setup))
    }

    async fn card_setup(&self, token: &str) -> StoreResult<Option<CardSetup>> {
        let token = token.to_owned();
        on_conn!(self, c => accounts::card_setup(c, &token))
    }

    async fn card_setup_by_ref(
        &self,
        gateway: &str,
        setup_ref: &str,
    ) -> StoreResult<Option<CardSetup>> {
        let (gateway, setup_ref) = (gateway.to_owned(), setup_ref.to_owned());
        on_conn!(self, c => accounts::card_setup_by_ref(c, &gateway, &setup_ref))
    }

    async fn save_account_card(
        &self,
        setup_token: &str,
        card: StoredCard,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let token = setup_token.to_owned();
        in_tx!(self, c => accounts::save_account_card(c, &token, &card, at))
    }

    async fn link_account_token(
        &self,
        id: AccountId,
        id_tag: &IdTag,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<IdTag>> {
        let tag = id_tag.clone();
        in_tx!(self, c => accounts::link_account_token(c, id, &tag, at))
    }

    async fn unlink_account_token(
        &self,
        id: AccountId,
        id_tag: &IdTag,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let tag = id_tag.clone();
        in_tx!(self, c => accounts::unlink_account_token(c, id, &tag, at))
    }

    async fn account_tokens(&self, id: AccountId) -> StoreResult<Vec<IdTag>> {
        on_conn!(self, c => accounts::account_tokens(c, id))
    }

    async fn account_standing(&self, id_tag: &IdTag) -> StoreResult<Option<AccountStanding>> {
        let tag = id_tag.clone();
        on_conn!(self, c => accounts::account_standing(c, &tag))
    }

    async fn account_for_session(&self, session: SessionId) -> StoreResult<Option<AccountId>> {
        on_conn!(self, c => accounts::account_for_session(c, session))
    }

    async fn begin_account_charge(
        &self,
        charge: NewAccountCharge,
        payment: Option<NewPayment>,
    ) -> StoreResult<(AccountCharge, bool)> {
        in_tx!(self, c => accounts::begin_account_charge(c, &charge, payment.as_ref()))
    }

    async fn account_charge(&self, session: SessionId) -> StoreResult<Option<AccountCharge>> {
        on_conn!(self, c => accounts::account_charge(c, session))
    }

    async fn set_account_charge_status(
        &self,
        session: SessionId,
        status: ChargeStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<AccountCharge> {
        in_tx!(self, c => accounts::set_account_charge_status(c, session, status, at))
    }

    async fn retry_account_charge(
        &self,
        session: SessionId,
        payment: NewPayment,
    ) -> StoreResult<Option<AccountCharge>> {
        in_tx!(self, c => accounts::retry_account_charge(c, session, &payment))
    }

    async fn account_debts(&self, id: AccountId) -> StoreResult<Vec<AccountCharge>> {
        on_conn!(self, c => accounts::account_debts(c, id))
    }

    async fn pending_account_charges(&self, limit: u32) -> StoreResult<Vec<AccountCharge>> {
        on_conn!(self, c => accounts::pending_account_charges(c, limit))
    }

    async fn uncharged_account_sessions(
        &self,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<SessionId>> {
        on_conn!(self, c => accounts::uncharged_account_sessions(c, ended_before, limit))
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
