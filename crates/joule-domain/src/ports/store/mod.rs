//! Storage ports. Narrow traits, so each consumer asks only for what it
//! uses; one backend (SQLite or PostgreSQL, in `joule-store`) implements all
//! of them, and one contract test suite holds both to the same behaviour.
//!
//! Every method that changes state writes its outbox event (see
//! [`crate::events::event`]) in the same database transaction.
//!
//! One file per aggregate, named like the backends' modules in `joule-store`.

use crate::kernel::error::StoreError;

mod accounts;
mod api_idempotency;
mod api_keys;
mod chargers;
mod holds;
mod message_log;
mod outbox;
mod payments;
mod receipt_emails;
mod sessions;
mod sites;
mod tariff_assignments;
mod tariffs;
mod terminals;
mod tokens;
mod user_groups;

pub use accounts::AccountStore;
pub use api_idempotency::ApiIdempotencyStore;
pub use api_keys::ApiKeyStore;
pub use chargers::ChargerStore;
pub use holds::HoldLimitStore;
pub use message_log::MessageLogStore;
pub use outbox::{ConsumerCursorStore, EventLog};
pub use payments::PaymentStore;
pub use receipt_emails::ReceiptEmailStore;
pub use sessions::SessionStore;
pub use sites::SiteStore;
pub use tariff_assignments::TariffAssignmentStore;
pub use tariffs::TariffStore;
pub use terminals::TerminalStore;
pub use tokens::TokenStore;
pub use user_groups::UserGroupStore;

pub type StoreResult<T> = Result<T, StoreError>;

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
