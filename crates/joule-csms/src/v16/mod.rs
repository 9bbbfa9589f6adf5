//! OCPP 1.6 handlers, one module per functional area, routed by one
//! exhaustive `match` on [`ChargePointCall`]: adding a message to
//! `joule-ocpp` fails to compile here until it is routed.
//!
//! A handler turns a typed request into a domain call and the domain's answer
//! into the typed response. A business "no" (unknown token, rejected boot) is
//! data in the response; only malformed values the schema could not catch
//! and internal failures become CALLERRORs (see [`HandlerError`]).

pub mod authorization;
pub mod availability;
pub(crate) mod convert;
pub mod data_transfer;
pub mod diagnostics;
pub mod firmware;
pub mod meter_values;
pub mod provisioning;
pub(crate) mod tariff_and_cost;
pub mod transaction;

use joule_domain::charger::RegistrationStatus;
use joule_domain::service::ChargingService;
use joule_domain::{ChargerId, DomainError};
use joule_ocpp::v16::ChargePointCall;
use joule_ocpp::ErrorCode;
use serde_json::Value;

use self::data_transfer::DataTransferRegistry;
use self::tariff_and_cost::CostMessage;

/// What a handler needs: the charger it speaks for and the use cases.
pub(crate) struct Ctx<'a> {
    pub charger: &'a ChargerId,
    pub service: &'a ChargingService,
    pub data_transfer: &'a DataTransferRegistry,
    /// This connection's charger declared `CustomDisplayCostAndPrice` (and
    /// price display is enabled): handlers may ask for cost messages.
    pub cost_display: bool,
}

/// A handled CALL: the CALLRESULT payload and what the connection should
/// remember or log.
#[derive(Debug)]
pub(crate) struct Handled {
    pub payload: Value,
    /// For the message log (e.g. why a token was refused).
    pub note: Option<String>,
    /// Set by BootNotification: the registration answered.
    pub boot: Option<RegistrationStatus>,
    /// A cost message to send after the CALLRESULT (see `tariff_and_cost`).
    pub cost: Option<CostMessage>,
}

impl Handled {
    pub(crate) fn reply(payload: Value) -> Self {
        Self {
            payload,
            note: None,
            boot: None,
            cost: None,
        }
    }

    /// Asks for `message` when the charger displays prices.
    pub(crate) fn with_cost(mut self, ctx: &Ctx<'_>, message: CostMessage) -> Self {
        if ctx.cost_display {
            self.cost = Some(message);
        }
        self
    }

    pub(crate) fn with_note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }
}

/// Why a CALL could not be handled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandlerError {
    /// A value passed the schema but is outside what Joule accepts
    /// (e.g. a connector id above 1000, a control character in an id tag).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl HandlerError {
    /// The one place handler failures become OCPP error codes.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            HandlerError::Invalid(_) => ErrorCode::PropertyConstraintViolation,
            HandlerError::Domain(DomainError::InvalidId(_) | DomainError::Invalid(_)) => {
                ErrorCode::PropertyConstraintViolation
            }
            HandlerError::Domain(DomainError::Store(_) | DomainError::UnknownCharger(_)) => {
                ErrorCode::InternalError
            }
        }
    }

    /// A description safe to send to the charger: store details stay in our
    /// own logs.
    pub(crate) fn description(&self) -> String {
        match self.code() {
            ErrorCode::InternalError => "internal error".to_owned(),
            _ => self.to_string(),
        }
    }
}

pub(crate) type HandlerResult = Result<Handled, HandlerError>;

/// Routes one decoded CALL to its handler.
pub(crate) async fn dispatch(ctx: &Ctx<'_>, call: ChargePointCall) -> HandlerResult {
    use ChargePointCall as C;
    match call {
        C::BootNotification(req) => provisioning::boot_notification(ctx, req).await,
        C::Heartbeat(req) => provisioning::heartbeat(ctx, req).await,
        C::StatusNotification(req) => availability::status_notification(ctx, req).await,
        C::Authorize(req) => authorization::authorize(ctx, req).await,
        C::StartTransaction(req) => transaction::start_transaction(ctx, req).await,
        C::StopTransaction(req) => transaction::stop_transaction(ctx, req).await,
        C::MeterValues(req) => meter_values::meter_values(ctx, req).await,
        C::DataTransfer(req) => data_transfer::data_transfer(ctx, req).await,
        C::DiagnosticsStatusNotification(req) => {
            diagnostics::diagnostics_status_notification(ctx, req).await
        }
        C::FirmwareStatusNotification(req) => {
            firmware::firmware_status_notification(ctx, req).await
        }
    }
}
