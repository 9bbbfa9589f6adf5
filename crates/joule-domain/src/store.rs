//! Storage ports. Narrow traits, so each consumer asks only for what it
//! uses; one backend (SQLite or PostgreSQL, in `joule-store`) implements all
//! of them, and one contract test suite holds both to the same behaviour.
//!
//! Every method that changes state writes its outbox event (see
//! [`crate::event`]) in the same database transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::{
    Account, AccountCharge, AccountId, AccountPatch, AccountStanding, CardSetup, ChargeStatus,
    NewAccount, NewAccountCharge, StoredCard,
};
use crate::api_idempotency::{IdempotencyBegin, IdempotencyRecord, NewIdempotencyRecord};
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
use crate::payment::{
    ChannelKpis, ClaimHeld, ClaimRequest, ClaimToken, NewPayment, Payment, PaymentClaim,
    PaymentDetail, PaymentFilter, PaymentId, PaymentStep, ReceiptToken, RemoteStart, StaleHold,
    StartStatus, StepError, StepOutcome, StepRequest,
};
use crate::receipt_email::{EmailAddress, ReceiptEmail, ReceiptEmailJob, ReceiptEmailOutcome};
use crate::session::{
    Session, SessionFilter, StartOutcome, StartSession, StopOutcome, StopSession, StoredMeterValue,
};
use crate::site::{NewSite, Site, SiteId};
use crate::tariff_assignment::{
    AssignmentFilter, AssignmentId, NewTariffAssignment, TariffAssignment, TariffCandidates,
};
use crate::tariffs::{NewTariff, StoredTariff};
use crate::terminal::{
    NewTerminal, Terminal, TerminalError, TerminalId, TerminalKey, TerminalPatch,
};
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
    /// One connector's status reports that took effect from `from` to `to`
    /// (both inclusive), oldest first; what pricing a session reads (see
    /// `session_cost::status_range`). Bounded by the backend (10,000
    /// reports), so a runaway charger cannot make a session read unbounded.
    async fn connector_status_range(
        &self,
        id: &ChargerId,
        connector: ConnectorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>>;
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
    /// with `created = false` (and the tariff version recorded first). A new
    /// session records, in the same transaction, the current version of
    /// `start.tariff_id` (the caller's choice by the precedence rule), or
    /// none when that tariff no longer exists (`docs/pricing.md`, "Frozen
    /// price").
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

/// Payments and their exactly-once gateway steps (docs/payments.md).
///
/// The state machine of [`crate::payment::machine`] runs inside the store's
/// transaction: [`PaymentStore::intend_step`] and
/// [`PaymentStore::finish_step`] read the payment and its steps, decide,
/// and write in one transaction (PostgreSQL locks the payment row; SQLite
/// has one writer), so two concurrent callers can never both intend a
/// capture.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Records a payment in state `created`. `Conflict` when the id, the
    /// receipt token or the (gateway, gateway reference) pair exists.
    async fn create_payment(&self, new: NewPayment) -> StoreResult<Payment>;
    async fn get_payment(&self, id: PaymentId) -> StoreResult<Option<PaymentDetail>>;
    /// Newest first.
    async fn list_payments(&self, filter: PaymentFilter, page: Page)
        -> StoreResult<Paged<Payment>>;
    /// The payment a gateway webhook is about.
    async fn payment_by_gateway_ref(
        &self,
        gateway: &str,
        gateway_ref: &str,
    ) -> StoreResult<Option<Payment>>;
    /// The payment behind a receipt link.
    async fn payment_by_receipt_token(&self, token: &ReceiptToken) -> StoreResult<Option<Payment>>;
    /// The newest payment linked to the session.
    async fn payment_for_session(&self, session: SessionId) -> StoreResult<Option<Payment>>;
    /// Records the gateway's reference (known before the authorization
    /// finishes on hosted pages). Idempotent for the same reference;
    /// `Conflict` for a different one or one another payment has;
    /// `NotFound` for an unknown payment.
    async fn set_gateway_ref(
        &self,
        id: PaymentId,
        gateway_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment>;
    /// Links the session the payment pays for. Idempotent for the same
    /// session; `Conflict` when another is linked, the session is on
    /// another charger or connector, or the hold is no longer usable (not
    /// authorized, or its release is in progress); `NotFound` (entity
    /// `payment` or `session`) when either is unknown.
    async fn link_session(
        &self,
        id: PaymentId,
        session: SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment>;
    /// Records `request` as an intended step, if the state machine allows
    /// it now; the refusal is the inner error. `NotFound` for an unknown
    /// payment.
    ///
    /// Only the holder of the payment's claim (`claim`, see
    /// [`PaymentStore::claim_payment`]) may: anyone else is refused with
    /// [`StepError::NotClaimHolder`], checked in the same transaction.
    async fn intend_step(
        &self,
        id: PaymentId,
        request: StepRequest,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentStep, StepError>>;
    /// Records how step `seq` ended and applies it to the payment, with
    /// its outbox event, in one transaction. Finishing a finished step
    /// again with the same outcome (see [`StepOutcome`]) returns it
    /// unchanged; with a different outcome it is a `Conflict`. `NotFound`
    /// (entity `payment step`) for an unknown step.
    ///
    /// Only the holder of the payment's claim may: anyone else gets a
    /// `Conflict` whose entity is [`crate::payment::CLAIM_ENTITY`], checked in the same
    /// transaction.
    async fn finish_step(
        &self,
        id: PaymentId,
        seq: u32,
        outcome: StepOutcome,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail>;
    /// Takes the payment's claim for `request.owner` (issue 9, docs/
    /// payments.md "One owner at a time"): granted when nobody holds it,
    /// the holder's claim lapsed, or the holder renews it with its own
    /// token ([`crate::payment::may_claim`]); the payment as it is once
    /// claimed is returned, read in the same transaction, so the new owner
    /// decides from fresh data. `NotFound` for an unknown payment.
    async fn claim_payment(
        &self,
        id: PaymentId,
        request: ClaimRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentDetail, ClaimHeld>>;
    /// Flags the payment for an operator (the first flag stays; a second
    /// changes nothing); only the claim's holder may (else `Conflict` on
    /// [`crate::payment::CLAIM_ENTITY`]). The sweeper no longer offers a
    /// flagged payment.
    async fn flag_payment(
        &self,
        id: PaymentId,
        reason: &str,
        detail: &str,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail>;
    /// Gives the claim back (nothing when `token` no longer holds it).
    async fn release_payment_claim(&self, id: PaymentId, token: &ClaimToken) -> StoreResult<()>;
    /// The payment's claim, live or lapsed.
    async fn payment_claim(&self, id: PaymentId) -> StoreResult<Option<PaymentClaim>>;
    /// The remote starts sent for the payment's hold, if any.
    async fn remote_start(&self, id: PaymentId) -> StoreResult<Option<RemoteStart>>;
    /// Records an attempt or its answer ([`RemoteStart::next`]); only the
    /// claim's holder may (else `Conflict` on [`crate::payment::CLAIM_ENTITY`]).
    /// `NotFound` for an unknown payment.
    async fn record_remote_start(
        &self,
        id: PaymentId,
        status: StartStatus,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<RemoteStart>;
    /// Authorized holds with an id tag, no session linked and no step in
    /// progress, authorized after `authorized_after`, whose start may be
    /// sent again (never sent, or last sent without a definite answer or to
    /// an offline charger): what the starter retries until the sweeper
    /// releases the hold. Oldest first.
    async fn payments_awaiting_start(
        &self,
        authorized_after: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Payment>>;
    /// Payments with a step intended before `older_than` and not finished:
    /// what the recovery worker must finish (the gateway call may or may
    /// not have happened). Oldest step first.
    async fn payments_with_unfinished_steps(
        &self,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PaymentDetail>>;
    /// Open holds (state `authorized`, no step in progress) that the
    /// sweeper must close: those with no session authorized before `at`,
    /// and those whose session ended before `at`. Oldest first.
    async fn authorized_holds_older_than(
        &self,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StaleHold>>;
    /// The open hold a charger may start with `id_tag`: a payment on
    /// `charger` in state `authorized`, with that id tag, no session
    /// linked yet and no release in progress (web payments; docs/payments.md
    /// "Web payment flow").
    async fn open_payment_for_id_tag(
        &self,
        charger: &ChargerId,
        id_tag: &IdTag,
    ) -> StoreResult<Option<Payment>>;
    /// Step counts per channel for steps intended in `[from, to)`; every
    /// channel is listed, in [`crate::payment::PaymentChannel::ALL`] order.
    async fn payment_kpis(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ChannelKpis>>;
    /// Gateway steps intended in `[from, to)`, counted and summed per
    /// channel, site of the payment's charger, kind, outcome, failure
    /// code and currency, for [`crate::payment::payment_kpis`].
    async fn payment_step_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<crate::payment::StepTally>>;
}

/// Hold limits (docs/payments.md, "Hold limits"): the open holds of running
/// sessions, and one stop request per session.
#[async_trait]
pub trait HoldLimitStore: Send + Sync {
    /// Payments in state `authorized` whose linked session is still active:
    /// what the hold-limit check watches. Oldest first.
    async fn held_active_sessions(&self, limit: u32) -> StoreResult<Vec<Payment>>;
    /// Claims sending the hold-limit stop of a payment's session: `true`
    /// (and records `at`) when no stop was requested yet, or the last one
    /// was before `retry_before` (the charger was offline or refused);
    /// `false` otherwise, so the stop is sent once, not on every meter
    /// value. `NotFound` for an unknown payment.
    async fn claim_hold_stop(
        &self,
        id: PaymentId,
        at: DateTime<Utc>,
        retry_before: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// Receipt emails (docs/payments.md, "Receipt emails"; see
/// [`crate::receipt_email`]): the driver's address and an exactly-once
/// sending queue. Bookkeeping of a sender, so no outbox events.
#[async_trait]
pub trait ReceiptEmailStore: Send + Sync {
    /// Records the address a driver gave for a payment's receipt (replacing
    /// one given before, until the email is due). `NotFound` for an unknown
    /// payment; `Conflict` once the email is due or sent.
    async fn set_receipt_email(
        &self,
        payment: PaymentId,
        address: &EmailAddress,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The payment was captured: its email (when an address was given and
    /// it is `waiting`) becomes due at `at`. `true` when it did; repeating
    /// it changes nothing.
    async fn receipt_email_due(&self, payment: PaymentId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Claims up to `limit` emails to send now: `due` ones whose time has
    /// come, and `sending` ones claimed before `stale_before` (the sender
    /// died) that were not resent after a crash yet. A `sending` one that
    /// was already resent after a crash is marked `failed` instead. Each
    /// claim counts an attempt.
    async fn claim_receipt_emails(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ReceiptEmailJob>>;
    /// Records how a claimed email ended; `Sent` erases the address.
    /// `NotFound` for an unknown one.
    async fn finish_receipt_email(
        &self,
        payment: PaymentId,
        outcome: ReceiptEmailOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn receipt_email(&self, payment: PaymentId) -> StoreResult<Option<ReceiptEmail>>;
}

/// Stored responses of money-moving API calls, keyed by the client's
/// `Idempotency-Key` within a scope (see [`crate::api_idempotency`]).
#[async_trait]
pub trait ApiIdempotencyStore: Send + Sync {
    /// Inserts the record, or returns the existing one for the same scope
    /// and key. `Conflict` when that one has a different request hash.
    async fn begin_idempotent(&self, new: NewIdempotencyRecord) -> StoreResult<IdempotencyBegin>;
    /// Stores the response of the first request. Completing again with the
    /// same response is harmless; a different one is a `Conflict`.
    /// `NotFound` for an unknown record.
    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyRecord>;
    /// Forgets a record that has no response yet, so the client may retry
    /// with the same key: for a request that failed before it changed
    /// anything (the gateway could not be reached to verify a terminal's
    /// hold). Returns whether a record was removed; a completed record is
    /// never removed.
    async fn release_idempotent(&self, scope: &str, key: &str) -> StoreResult<bool>;
}

/// Payment terminals (docs/terminals.md).
#[async_trait]
pub trait TerminalStore: Send + Sync {
    /// Callers check the fields first ([`NewTerminal::checked`]).
    /// `Conflict` when the id exists; `NotFound` (entity `site`) when the
    /// site is unknown.
    async fn create_terminal(&self, new: NewTerminal, at: DateTime<Utc>) -> StoreResult<Terminal>;
    async fn get_terminal(&self, id: TerminalId) -> StoreResult<Option<Terminal>>;
    /// Oldest first.
    async fn list_terminals(&self, page: Page) -> StoreResult<Paged<Terminal>>;
    /// Applies `patch` ([`Terminal::patched`]) in one transaction; the
    /// inner error is the refusal of the fields. `None` when the terminal
    /// is unknown; `NotFound` (entity `site`) when the new site is.
    async fn update_terminal(
        &self,
        id: TerminalId,
        patch: TerminalPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Result<Terminal, TerminalError>>>;
    /// Replaces the terminal's key (the old one stops working at once).
    /// `None` when the terminal is unknown; `Conflict` when another
    /// terminal has the prefix.
    async fn set_terminal_key(
        &self,
        id: TerminalId,
        key: TerminalKey,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Terminal>>;
    /// The terminal whose key has this prefix.
    async fn terminal_by_key_prefix(&self, prefix: &str) -> StoreResult<Option<Terminal>>;
}

/// Sites and which site a charger stands at.
#[async_trait]
pub trait SiteStore: Send + Sync {
    /// Fails with `Conflict` when the id exists; `NotFound` (entity `user
    /// group`) when an allowed group is unknown.
    async fn create_site(&self, new: NewSite, at: DateTime<Utc>) -> StoreResult<Site>;
    async fn get_site(&self, id: &SiteId) -> StoreResult<Option<Site>>;
    /// Ordered by id.
    async fn list_sites(&self, page: Page) -> StoreResult<Paged<Site>>;
    /// Replaces every field but the id; `None` when the site is unknown.
    async fn update_site(
        &self,
        id: &SiteId,
        new: NewSite,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Site>>;
    /// Also detaches the site's chargers (one `charger.site_changed` each)
    /// and deletes the tariff assignments that name the site.
    async fn delete_site(&self, id: &SiteId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Moves a charger to a site (or with `None` off any). `None` when the
    /// charger is unknown; `NotFound` (entity `site`) when the site is.
    async fn set_charger_site(
        &self,
        id: &ChargerId,
        site: Option<&SiteId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Option<SiteId>>>;
}

/// Tariff assignments (docs/pricing.md, "Precedence").
#[async_trait]
pub trait TariffAssignmentStore: Send + Sync {
    /// Callers check the window ([`NewTariffAssignment::check`]) first.
    /// Fails with `NotFound` naming the entity (`tariff`, `site`, `charger`,
    /// `user group`, `id token`) when the tariff or the scope's target is
    /// unknown.
    async fn create_tariff_assignment(
        &self,
        new: NewTariffAssignment,
        at: DateTime<Utc>,
    ) -> StoreResult<TariffAssignment>;
    async fn get_tariff_assignment(
        &self,
        id: AssignmentId,
    ) -> StoreResult<Option<TariffAssignment>>;
    /// Ordered by id (creation order).
    async fn list_tariff_assignments(
        &self,
        filter: AssignmentFilter,
        page: Page,
    ) -> StoreResult<Paged<TariffAssignment>>;
    async fn delete_tariff_assignment(
        &self,
        id: AssignmentId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// What the precedence rule needs for a session (or quote) at
    /// `charger`, for the driver with `id_tag` (or an anonymous one), in one
    /// consistent read. `None` when the charger is unknown.
    async fn tariff_candidates(
        &self,
        charger: &ChargerId,
        id_tag: Option<&IdTag>,
    ) -> StoreResult<Option<TariffCandidates>>;
}

/// Durable positions of outbox consumers (workers), so a restart resumes
/// after the last event handled instead of replaying or skipping. A cursor
/// is bookkeeping of a reader, not domain state: moving it writes no
/// outbox event.
#[async_trait]
pub trait ConsumerCursorStore: Send + Sync {
    /// The id of the last event `consumer` handled; 0 when it never ran.
    async fn consumer_cursor(&self, consumer: &str) -> StoreResult<i64>;
    /// Moves the cursor to `last_event_id`. Never moves it backwards: a
    /// lower id than the stored one is ignored (two instances racing).
    async fn set_consumer_cursor(
        &self,
        consumer: &str,
        last_event_id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
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

/// Driver accounts, their linked tokens, saved cards and the ledger of
/// sessions charged to them (docs/payments.md, "Accounts").
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `Conflict` when the id or the (case-insensitive) email exists.
    async fn create_account(&self, new: NewAccount, at: DateTime<Utc>) -> StoreResult<Account>;
    async fn get_account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    /// Oldest first.
    async fn list_accounts(&self, page: Page) -> StoreResult<Paged<Account>>;
    /// `None` when unknown; `Conflict` when the new email is another's.
    async fn update_account(
        &self,
        id: AccountId,
        patch: AccountPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>>;
    /// Records the account's customer at `gateway` unless one is recorded
    /// already, and returns the account as stored (with the first customer:
    /// a racing second setup reuses it). `NotFound` for an unknown account.
    async fn set_account_customer(
        &self,
        id: AccountId,
        gateway: &str,
        customer_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Account>;
    /// `Conflict` when the token exists.
    async fn create_card_setup(&self, setup: CardSetup) -> StoreResult<CardSetup>;
    async fn card_setup(&self, token: &str) -> StoreResult<Option<CardSetup>>;
    /// The setup a gateway webhook names.
    async fn card_setup_by_ref(
        &self,
        gateway: &str,
        setup_ref: &str,
    ) -> StoreResult<Option<CardSetup>>;
    /// Saves `card` on the setup's account and marks the setup completed,
    /// in one transaction. Completing a completed setup again with the same
    /// card is harmless. `NotFound` for an unknown setup.
    async fn save_account_card(
        &self,
        setup_token: &str,
        card: StoredCard,
        at: DateTime<Utc>,
    ) -> StoreResult<Account>;
    /// Links a token to the account; sessions it starts from now on are
    /// charged to it. Idempotent; `Conflict` when the token is another
    /// account's; `NotFound` (entity `account` or `id token`) when either is
    /// unknown. Returns the account's tokens, sorted.
    async fn link_account_token(
        &self,
        id: AccountId,
        id_tag: &IdTag,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<IdTag>>;
    /// `false` when the token was not linked to this account.
    async fn unlink_account_token(
        &self,
        id: AccountId,
        id_tag: &IdTag,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Sorted.
    async fn account_tokens(&self, id: AccountId) -> StoreResult<Vec<IdTag>>;
    /// The standing of the account `id_tag` is linked to, for the charger's
    /// authorization; `None` when the token is linked to none.
    async fn account_standing(&self, id_tag: &IdTag) -> StoreResult<Option<AccountStanding>>;
    /// The account a session is charged to: its token was linked to the
    /// account when the session started, and the session was accepted.
    async fn account_for_session(&self, session: SessionId) -> StoreResult<Option<AccountId>>;
    /// Records a session's charge (status `pending`, or `paid` when nothing
    /// is owed) with the payment that charges it, linked to the session, in
    /// one transaction. A session is charged once: when its line exists,
    /// that line is returned with `false` and nothing is written.
    async fn begin_account_charge(
        &self,
        charge: NewAccountCharge,
        payment: Option<NewPayment>,
    ) -> StoreResult<(AccountCharge, bool)>;
    async fn account_charge(&self, session: SessionId) -> StoreResult<Option<AccountCharge>>;
    /// Sets a line's status from its payment's outcome (`debt` also sets
    /// `debt_since` the first time). `NotFound` for an unknown line.
    async fn set_account_charge_status(
        &self,
        session: SessionId,
        status: ChargeStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<AccountCharge>;
    /// Starts settling a debt with a new payment: only a line in status
    /// `debt` moves to `pending` with `payment` as its latest attempt (the
    /// payment is not linked to the session, which keeps its first one).
    /// `None` when the line is not in debt (settled meanwhile).
    async fn retry_account_charge(
        &self,
        session: SessionId,
        payment: NewPayment,
    ) -> StoreResult<Option<AccountCharge>>;
    /// Lines still owed ([`AccountCharge::is_debt`]), oldest first.
    async fn account_debts(&self, id: AccountId) -> StoreResult<Vec<AccountCharge>>;
    /// Lines in status `pending`, oldest first: the sweeper reconciles
    /// them with their payment's state.
    async fn pending_account_charges(&self, limit: u32) -> StoreResult<Vec<AccountCharge>>;
    /// Sessions that ended before `ended_before`, belong to an account
    /// ([`AccountStore::account_for_session`]) and have neither a charge line
    /// nor a payment: what the sweeper must charge. Oldest first.
    async fn uncharged_account_sessions(
        &self,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<SessionId>>;
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
    + PaymentStore
    + ApiIdempotencyStore
    + SiteStore
    + TariffAssignmentStore
    + EventLog
    + ConsumerCursorStore
    + AccountStore
    + TerminalStore
    + HoldLimitStore
    + ReceiptEmailStore
{
    /// `sqlite` or `postgres`, for logs and health output.
    fn backend(&self) -> &'static str;
}
