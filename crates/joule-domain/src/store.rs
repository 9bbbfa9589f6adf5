//! Storage ports. Narrow traits, so each consumer asks only for what it
//! uses; one backend (SQLite or PostgreSQL, in `joule-store`) implements all
//! of them, and one contract test suite holds both to the same behaviour.
//!
//! Every method that changes state writes its outbox event (see
//! [`crate::event`]) in the same database transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::api_key::{ApiKey, NewApiKey};
use crate::charger::{
    BootInfo, Charger, ChargerCredentials, ChargerPatch, ConnectorState, NewCharger,
    RegistrationStatus, StatusReport,
};
use crate::error::StoreError;
use crate::event::StoredEvent;
use crate::ids::{ChargerId, ConnectorId, IdTag, SessionId, TransactionId};
use crate::message_log::{LogEntry, LogFilter, StoredLogEntry};
use crate::meter::MeterReport;
use crate::page::{Page, Paged};
use crate::session::{
    Session, SessionFilter, StartOutcome, StartSession, StopOutcome, StopSession, StoredMeterValue,
};
use crate::tariffs::{NewTariff, StoredTariff};
use crate::token::{IdToken, IdTokenPatch, NewIdToken, TokenFilter};
use crate::user_group::{ChargerAccessRule, NewUserGroup, UserGroup, UserGroupId, UserGroupPatch};

pub type StoreResult<T> = Result<T, StoreError>;

/// Chargers, their connection and connector state.
#[async_trait]
pub trait ChargerStore: Send + Sync {
    /// Fails with `Conflict` when the id exists.
    async fn create_charger(&self, new: NewCharger, at: DateTime<Utc>) -> StoreResult<Charger>;
    async fn get_charger(&self, id: &ChargerId) -> StoreResult<Option<Charger>>;
    async fn list_chargers(&self, page: Page) -> StoreResult<Paged<Charger>>;
    async fn update_charger(
        &self,
        id: &ChargerId,
        patch: ChargerPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Charger>>;
    /// Removes the charger and its current connector states; sessions,
    /// status history and the message log stay as history.
    async fn delete_charger(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn charger_credentials(&self, id: &ChargerId) -> StoreResult<Option<ChargerCredentials>>;
    /// Registers an unknown charger as pending (no password). Returns the
    /// existing charger unchanged if it was created meanwhile.
    async fn auto_register_charger(
        &self,
        id: &ChargerId,
        at: DateTime<Utc>,
    ) -> StoreResult<Charger>;
    /// Records a BootNotification; `None` when the charger is unknown.
    async fn record_boot(
        &self,
        id: &ChargerId,
        boot: BootInfo,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<RegistrationStatus>>;
    async fn record_heartbeat(&self, id: &ChargerId, at: DateTime<Utc>) -> StoreResult<()>;
    /// Records a connection opening (`protocol` = negotiated subprotocol) or
    /// closing (`protocol` = None).
    async fn record_connection(
        &self,
        id: &ChargerId,
        protocol: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Marks every charger disconnected; used at start-up, when no
    /// connection of a previous run can still be alive. Returns how many.
    async fn mark_all_disconnected(&self, at: DateTime<Utc>) -> StoreResult<u64>;
    /// Appends to the status history and updates the connector's current
    /// state unless a newer status is already known (late messages are placed
    /// in history by their own timestamp).
    async fn record_status(&self, id: &ChargerId, report: StatusReport) -> StoreResult<()>;
    async fn connector_states(&self, id: &ChargerId) -> StoreResult<Vec<ConnectorState>>;
    /// Status history, newest first.
    async fn status_history(
        &self,
        id: &ChargerId,
        connector: Option<ConnectorId>,
        page: Page,
    ) -> StoreResult<Paged<StatusReport>>;
    async fn record_firmware_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn record_diagnostics_status(
        &self,
        id: &ChargerId,
        status: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Id tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Fails with `Conflict` when a token with the same (case-insensitive)
    /// id tag exists.
    async fn create_token(&self, new: NewIdToken, at: DateTime<Utc>) -> StoreResult<IdToken>;
    async fn get_token(&self, id_tag: &IdTag) -> StoreResult<Option<IdToken>>;
    async fn list_tokens(&self, filter: TokenFilter, page: Page) -> StoreResult<Paged<IdToken>>;
    async fn update_token(
        &self,
        id_tag: &IdTag,
        patch: IdTokenPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdToken>>;
    async fn delete_token(&self, id_tag: &IdTag, at: DateTime<Utc>) -> StoreResult<bool>;
}

/// Charging sessions and their meter values.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Idempotent: a resend of the same start returns the recorded session
    /// with `created = false`. A new session records, in the same
    /// transaction, the tariff version in force (see `docs/pricing.md`,
    /// "Frozen price").
    async fn start_session(&self, start: StartSession) -> StoreResult<StartOutcome>;
    /// Idempotent; see [`StopOutcome`]. `transaction_data` is stored as
    /// meter values of the session in the same transaction.
    async fn stop_session(&self, stop: StopSession) -> StoreResult<StopOutcome>;
    /// Stores every sampled value verbatim and updates the running figures of
    /// the session it belongs to (if the transaction is known).
    async fn record_meter_values(
        &self,
        charger: &ChargerId,
        report: MeterReport,
    ) -> StoreResult<()>;
    async fn get_session(&self, id: SessionId) -> StoreResult<Option<Session>>;
    async fn get_session_by_transaction(
        &self,
        transaction_id: TransactionId,
    ) -> StoreResult<Option<Session>>;
    /// Newest first.
    async fn list_sessions(&self, filter: SessionFilter, page: Page)
        -> StoreResult<Paged<Session>>;
    /// In charger-time order.
    async fn session_meter_values(&self, id: SessionId) -> StoreResult<Vec<StoredMeterValue>>;
}

/// The OCPP message log.
#[async_trait]
pub trait MessageLogStore: Send + Sync {
    /// Appends entries; they become durable with the next group commit.
    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()>;
    /// Newest first.
    async fn query_log(
        &self,
        charger: &ChargerId,
        filter: LogFilter,
        page: Page,
    ) -> StoreResult<Paged<StoredLogEntry>>;
    /// Deletes entries older than `before`; returns how many.
    async fn purge_log_before(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn count_api_keys(&self) -> StoreResult<u64>;
    async fn create_api_key(&self, new: NewApiKey, at: DateTime<Utc>) -> StoreResult<ApiKey>;
    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>>;
}

/// Tariffs (OCPI 2.2.1 objects with Joule's extensions), keyed by the OCPI
/// tariff `id`, and which one is the default. Callers validate before
/// storing; the store keeps the OCPI JSON as it is given.
#[async_trait]
pub trait TariffStore: Send + Sync {
    /// Stores version 1 (or, for an id that was deleted before, one more
    /// than its last version, since versions are never reused). Fails with
    /// `Conflict` when the id exists.
    async fn create_tariff(&self, new: NewTariff, at: DateTime<Utc>) -> StoreResult<StoredTariff>;
    async fn get_tariff(&self, id: &str) -> StoreResult<Option<StoredTariff>>;
    /// Ordered by id.
    async fn list_tariffs(&self, page: Page) -> StoreResult<Paged<StoredTariff>>;
    /// Replaces the tariff and its extensions in full; the version goes up
    /// by one. `None` when the id is unknown. `new.tariff.id` must be `id`.
    async fn update_tariff(
        &self,
        id: &str,
        new: NewTariff,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>>;
    /// Deleting the default tariff also clears the default (and records
    /// `tariff.default_changed`).
    async fn delete_tariff(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Sets (or with `None` clears) the default tariff and returns it.
    /// Fails with `NotFound` when the tariff does not exist. Setting the
    /// current value again changes nothing and records no event.
    async fn set_default_tariff(
        &self,
        id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<StoredTariff>>;
    async fn default_tariff(&self) -> StoreResult<Option<StoredTariff>>;
    /// One version of a tariff, as it was written (versions are immutable
    /// and outlive edits and deletion: sessions are priced with them).
    /// `created_at` and `updated_at` are both the instant the version was
    /// written. `None` when no such version exists.
    async fn get_tariff_version(&self, id: &str, version: i64)
        -> StoreResult<Option<StoredTariff>>;
    /// Sets (or with `None` clears) the charger's own tariff, which takes
    /// precedence over the default when a session starts there, and returns
    /// it. `None` when the charger is unknown; `NotFound` (entity `tariff`)
    /// when the tariff is unknown. Deleting a tariff clears it on chargers.
    async fn set_charger_tariff(
        &self,
        id: &ChargerId,
        tariff_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>>;
    /// The charger's own tariff id; `None` when the charger is unknown.
    async fn charger_tariff(&self, id: &ChargerId) -> StoreResult<Option<Option<String>>>;
}

/// User groups, token memberships and charger access rules.
#[async_trait]
pub trait UserGroupStore: Send + Sync {
    /// Fails with `Conflict` when the id exists.
    async fn create_user_group(
        &self,
        new: NewUserGroup,
        at: DateTime<Utc>,
    ) -> StoreResult<UserGroup>;
    async fn get_user_group(&self, id: &UserGroupId) -> StoreResult<Option<UserGroup>>;
    /// Ordered by id.
    async fn list_user_groups(&self, page: Page) -> StoreResult<Paged<UserGroup>>;
    async fn update_user_group(
        &self,
        id: &UserGroupId,
        patch: UserGroupPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<UserGroup>>;
    /// Also removes the group from every token and every charger's allowed
    /// groups (a private charger whose only group goes admits nobody).
    async fn delete_user_group(&self, id: &UserGroupId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Replaces the token's groups (duplicates collapse) and returns them
    /// sorted. `None` when the token is unknown; `NotFound` (entity
    /// `user group`) when a group is unknown, changing nothing.
    async fn set_token_groups(
        &self,
        id_tag: &IdTag,
        groups: Vec<UserGroupId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<UserGroupId>>>;
    /// Sorted; empty for an unknown token.
    async fn token_groups(&self, id_tag: &IdTag) -> StoreResult<Vec<UserGroupId>>;
    /// Replaces the charger's access rule (allowed groups sorted, duplicates
    /// collapsed). `None` when the charger is unknown; `NotFound` (entity
    /// `user group`) when a group is unknown, changing nothing.
    async fn set_charger_access(
        &self,
        id: &ChargerId,
        rule: ChargerAccessRule,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<ChargerAccessRule>>;
    /// `None` when the charger is unknown; `Public` with no groups unless set.
    async fn charger_access(&self, id: &ChargerId) -> StoreResult<Option<ChargerAccessRule>>;
}

/// Reading the outbox.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Events with `id > after`, oldest first.
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// The id of the newest event, 0 when the log is empty: where an
    /// in-memory consumer that only cares about what happens from now on
    /// starts its cursor.
    async fn latest_event_id(&self) -> StoreResult<i64>;
}

/// Everything a backend provides.
pub trait Store:
    ChargerStore
    + TokenStore
    + SessionStore
    + MessageLogStore
    + ApiKeyStore
    + TariffStore
    + UserGroupStore
    + EventLog
{
    /// `sqlite` or `postgres`, for logs and health output.
    fn backend(&self) -> &'static str;
}
