//! Payment terminals and their keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::kernel::page::{Page, Paged};
use crate::payments::terminal::{
    NewTerminal, Terminal, TerminalError, TerminalId, TerminalKey, TerminalPatch,
};

use super::StoreResult;

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
