//! Why a payment operation did not happen, for adapters to map (the API
//! to problem codes).

use crate::kernel::error::StoreError;
use crate::payments::gateway::GatewayError;
use chrono::{DateTime, Utc};

use crate::payments::payment::{ClaimOwner, StepError};

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Unknown charger, or a private one (not offered to the public).
    #[error("charger {0} is not known")]
    ChargerNotFound(String),
    #[error("connector {connector} of charger {charger} is not available")]
    ConnectorBusy { charger: String, connector: u32 },
    #[error("no tariff (or hold amount) is in force at charger {0}")]
    NoTariff(String),
    #[error("payment not found")]
    PaymentNotFound,
    #[error("the payment gateway is unavailable: {0}")]
    GatewayUnavailable(String),
    #[error("the payment's gateway {0} is not configured")]
    GatewayNotConfigured(String),
    #[error("the gateway refused: {code}: {message}")]
    GatewayRefused { code: String, message: String },
    #[error("the card was declined ({code})")]
    Declined { code: String, message: String },
    /// The payment is not waiting for what was asked (confirm before the
    /// card, confirm of a failed payment, …).
    #[error("{0}")]
    NotConfirmable(&'static str),
    /// Test cards are only for the simulated gateway.
    #[error("this payment's gateway takes no test cards")]
    NotSimulated,
    #[error("the payment has no gateway reference yet")]
    NoGatewayReference,
    #[error(transparent)]
    Step(StepError),
    #[error("webhook refused: {0}")]
    BadWebhook(GatewayError),
    #[error("the session's cost cannot be computed: {0}")]
    Cost(String),
    /// Accounts are not enabled, or the account is unknown.
    #[error("account not found")]
    AccountNotFound,
    /// The account has no saved card to charge.
    #[error("the account has no saved card")]
    NoCard,
    /// Unknown or already used card-setup link.
    #[error("card setup not found")]
    CardSetupNotFound,
    /// Terminals (docs/terminals.md): the terminal was disabled by the
    /// operator.
    #[error("this terminal is disabled")]
    TerminalDisabled,
    /// The terminal's scope does not include this connector.
    #[error("this terminal may not start connector {connector} of charger {charger}")]
    ChargerNotAllowed { charger: String, connector: u32 },
    /// The reported hold is not one Joule can take over: not authorized,
    /// another amount, currency or card than reported, or unknown to the
    /// gateway. Nothing was recorded.
    #[error("the hold cannot be used: {0}")]
    HoldNotUsable(String),
    /// The hold already pays for another payment (another terminal, another
    /// connector, or a web payment).
    #[error("this hold is already recorded for another payment")]
    IntentAlreadyUsed,
    /// Another actor holds the payment's claim (issue 9): it is being
    /// handled; look again later.
    #[error("the payment is being handled by {owner} until {until}")]
    Busy {
        owner: ClaimOwner,
        until: DateTime<Utc>,
    },
    /// The claim this actor held was taken over (it lapsed while the actor
    /// waited): nothing was recorded, the new owner finishes the work.
    #[error("the payment's claim was taken over by another actor")]
    ClaimLost,
}
