//! What a 1.6 handler gets ([`Ctx`]) and returns ([`Handled`] or a
//! [`HandlerError`]), apart from the routing in `mod.rs` so that the
//! connection and its extensions read these without the handlers.

use joule_domain::charging::charger::RegistrationStatus;
use joule_domain::services::charging::ChargingService;
use joule_domain::services::cost_display::CostEvent;
use joule_domain::{ChargerId, DomainError};
use joule_ocpp::ErrorCode;
use serde_json::Value;

use super::vendors::DataTransferRegistry;

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
    /// For the price display, acted on after the CALLRESULT (see
    /// `tariff_and_cost`).
    pub cost: Option<CostEvent>,
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

    /// Tells the price display `event` when the charger displays prices.
    pub(crate) fn with_cost(mut self, ctx: &Ctx<'_>, event: CostEvent) -> Self {
        if ctx.cost_display {
            self.cost = Some(event);
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
