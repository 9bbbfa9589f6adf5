//! Driver accounts, their cards, linked tokens and charge lines.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::kernel::ids::{IdToken, SessionId};
use crate::kernel::page::{Page, Paged};
use crate::payments::account::{
    Account, AccountCharge, AccountId, AccountPatch, AccountStanding, CardSetup, ChargeStatus,
    NewAccount, NewAccountCharge, StoredCard,
};
use crate::payments::payment::NewPayment;

use super::StoreResult;

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
        id_tag: &IdToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<IdToken>>;
    /// `false` when the token was not linked to this account.
    async fn unlink_account_token(
        &self,
        id: AccountId,
        id_tag: &IdToken,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Sorted.
    async fn account_tokens(&self, id: AccountId) -> StoreResult<Vec<IdToken>>;
    /// The standing of the account `id_tag` is linked to, for the charger's
    /// authorization; `None` when the token is linked to none.
    async fn account_standing(&self, id_tag: &IdToken) -> StoreResult<Option<AccountStanding>>;
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
