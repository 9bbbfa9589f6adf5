//! Every error the API returns, as RFC 9457 problem JSON
//! (`application/problem+json`) with a stable machine-readable `code`.
//!
//! One enum ([`ApiError`]) says what went wrong; one exhaustive table
//! ([`ErrorCode::status`]) says which HTTP status each code gets, so a new
//! code cannot compile without a status, and clients can rely on `code` not
//! changing when wording does.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use joule_domain::kernel::error::StoreError;
use joule_domain::ports::command::CommandError;
use serde::Serialize;
use utoipa::ToSchema;

/// Base of the `type` URI of every problem; the code is the fragment.
pub const PROBLEM_TYPE_BASE: &str =
    "https://github.com/joule-ev/joule/blob/main/docs/api-errors.md#";

/// The media type of error bodies.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Stable error codes. The spelling (`as_str`) is part of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    Unauthorized,
    Forbidden,
    NotFound,
    ChargerNotFound,
    IdTokenNotFound,
    SessionNotFound,
    TariffNotFound,
    UserGroupNotFound,
    SiteNotFound,
    TariffAssignmentNotFound,
    NoTariff,
    UnknownCommand,
    MethodNotAllowed,
    Conflict,
    ChargerOffline,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    InvalidCommandPayload,
    CommandUnsupported,
    ChargerBusy,
    Internal,
    CommandRejected,
    ChargerInvalidResponse,
    ChargerDisconnected,
    ServiceUnavailable,
    ChargerTimeout,
    PaymentsDisabled,
    ConnectorBusy,
    PaymentNotFound,
    PaymentDeclined,
    PaymentNotConfirmable,
    StepRefused,
    GatewayUnavailable,
    GatewayError,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    RequestInProgress,
    PaymentBusy,
    BadSignature,
    RateLimited,
    AccountNotFound,
    TerminalNotFound,
    TerminalDisabled,
    ChargerNotAllowed,
    HoldNotUsable,
    HoldAlreadyUsed,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 48] = [
        Self::InvalidJson,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::ChargerNotFound,
        Self::IdTokenNotFound,
        Self::SessionNotFound,
        Self::TariffNotFound,
        Self::UserGroupNotFound,
        Self::SiteNotFound,
        Self::TariffAssignmentNotFound,
        Self::NoTariff,
        Self::UnknownCommand,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::ChargerOffline,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::ValidationFailed,
        Self::InvalidCommandPayload,
        Self::CommandUnsupported,
        Self::ChargerBusy,
        Self::Internal,
        Self::CommandRejected,
        Self::ChargerInvalidResponse,
        Self::ChargerDisconnected,
        Self::ServiceUnavailable,
        Self::ChargerTimeout,
        Self::PaymentsDisabled,
        Self::ConnectorBusy,
        Self::PaymentNotFound,
        Self::PaymentDeclined,
        Self::PaymentNotConfirmable,
        Self::StepRefused,
        Self::GatewayUnavailable,
        Self::GatewayError,
        Self::IdempotencyKeyMissing,
        Self::IdempotencyKeyReused,
        Self::RequestInProgress,
        Self::PaymentBusy,
        Self::BadSignature,
        Self::RateLimited,
        Self::AccountNotFound,
        Self::TerminalNotFound,
        Self::TerminalDisabled,
        Self::ChargerNotAllowed,
        Self::HoldNotUsable,
        Self::HoldAlreadyUsed,
    ];

    /// The table: code → (spelling, HTTP status, title).
    fn entry(self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::InvalidJson => ("invalid_json", S::BAD_REQUEST, "Malformed JSON body"),
            Self::Unauthorized => (
                "unauthorized",
                S::UNAUTHORIZED,
                "Missing or invalid API key",
            ),
            Self::Forbidden => ("forbidden", S::FORBIDDEN, "Not allowed for this API key"),
            Self::NotFound => ("not_found", S::NOT_FOUND, "Not found"),
            Self::ChargerNotFound => ("charger_not_found", S::NOT_FOUND, "Charger not found"),
            Self::IdTokenNotFound => ("id_token_not_found", S::NOT_FOUND, "Id token not found"),
            Self::SessionNotFound => ("session_not_found", S::NOT_FOUND, "Session not found"),
            Self::TariffNotFound => ("tariff_not_found", S::NOT_FOUND, "Tariff not found"),
            Self::UserGroupNotFound => {
                ("user_group_not_found", S::NOT_FOUND, "User group not found")
            }
            Self::SiteNotFound => ("site_not_found", S::NOT_FOUND, "Site not found"),
            Self::TariffAssignmentNotFound => (
                "tariff_assignment_not_found",
                S::NOT_FOUND,
                "Tariff assignment not found",
            ),
            Self::NoTariff => ("no_tariff", S::NOT_FOUND, "No tariff in force"),
            Self::UnknownCommand => ("unknown_command", S::NOT_FOUND, "Unknown command"),
            Self::MethodNotAllowed => (
                "method_not_allowed",
                S::METHOD_NOT_ALLOWED,
                "Method not allowed",
            ),
            Self::Conflict => ("conflict", S::CONFLICT, "Already exists"),
            Self::ChargerOffline => ("charger_offline", S::CONFLICT, "Charger is not connected"),
            Self::PayloadTooLarge => (
                "payload_too_large",
                S::PAYLOAD_TOO_LARGE,
                "Request body too large",
            ),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                S::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
            ),
            Self::ValidationFailed => (
                "validation_failed",
                S::UNPROCESSABLE_ENTITY,
                "Validation failed",
            ),
            Self::InvalidCommandPayload => (
                "invalid_command_payload",
                S::UNPROCESSABLE_ENTITY,
                "Invalid command payload",
            ),
            Self::CommandUnsupported => (
                "command_unsupported",
                S::UNPROCESSABLE_ENTITY,
                "Command not supported by the charger's protocol",
            ),
            Self::ChargerBusy => (
                "charger_busy",
                S::TOO_MANY_REQUESTS,
                "Too many commands waiting for the charger",
            ),
            Self::Internal => ("internal", S::INTERNAL_SERVER_ERROR, "Internal error"),
            Self::CommandRejected => (
                "command_rejected",
                S::BAD_GATEWAY,
                "Charger answered with an error",
            ),
            Self::ChargerInvalidResponse => (
                "charger_invalid_response",
                S::BAD_GATEWAY,
                "Charger's answer is invalid",
            ),
            Self::ChargerDisconnected => (
                "charger_disconnected",
                S::SERVICE_UNAVAILABLE,
                "Charger disconnected before answering",
            ),
            Self::ServiceUnavailable => (
                "service_unavailable",
                S::SERVICE_UNAVAILABLE,
                "Service unavailable",
            ),
            Self::ChargerTimeout => (
                "charger_timeout",
                S::GATEWAY_TIMEOUT,
                "Charger did not answer in time",
            ),
            Self::PaymentsDisabled => (
                "payments_disabled",
                S::SERVICE_UNAVAILABLE,
                "Payments are not enabled",
            ),
            Self::ConnectorBusy => ("connector_busy", S::CONFLICT, "Connector is not available"),
            Self::PaymentNotFound => ("payment_not_found", S::NOT_FOUND, "Payment not found"),
            Self::PaymentDeclined => ("payment_declined", S::PAYMENT_REQUIRED, "Card declined"),
            Self::PaymentNotConfirmable => (
                "payment_not_confirmable",
                S::CONFLICT,
                "Payment is not awaiting confirmation",
            ),
            Self::StepRefused => (
                "payment_step_refused",
                S::CONFLICT,
                "Not possible in the payment's state",
            ),
            Self::GatewayUnavailable => (
                "gateway_unavailable",
                S::SERVICE_UNAVAILABLE,
                "Payment gateway unavailable",
            ),
            Self::GatewayError => (
                "gateway_error",
                S::BAD_GATEWAY,
                "Payment gateway refused the request",
            ),
            Self::IdempotencyKeyMissing => (
                "idempotency_key_missing",
                S::BAD_REQUEST,
                "Idempotency-Key header required",
            ),
            Self::IdempotencyKeyReused => (
                "idempotency_key_reused",
                S::UNPROCESSABLE_ENTITY,
                "Idempotency-Key reused with another request",
            ),
            Self::RequestInProgress => (
                "request_in_progress",
                S::CONFLICT,
                "A request with this Idempotency-Key is in progress",
            ),
            Self::PaymentBusy => (
                "payment_busy",
                S::CONFLICT,
                "Another actor is handling this payment",
            ),
            Self::BadSignature => (
                "bad_signature",
                S::BAD_REQUEST,
                "Webhook signature rejected",
            ),
            Self::RateLimited => ("rate_limited", S::TOO_MANY_REQUESTS, "Too many requests"),
            Self::AccountNotFound => ("account_not_found", S::NOT_FOUND, "Account not found"),
            Self::TerminalNotFound => ("terminal_not_found", S::NOT_FOUND, "Terminal not found"),
            Self::TerminalDisabled => (
                "terminal_disabled",
                S::FORBIDDEN,
                "This terminal is disabled",
            ),
            Self::ChargerNotAllowed => (
                "charger_not_allowed",
                S::FORBIDDEN,
                "This terminal may not start this connector",
            ),
            Self::HoldNotUsable => (
                "hold_not_usable",
                S::UNPROCESSABLE_ENTITY,
                "The reported hold cannot be used",
            ),
            Self::HoldAlreadyUsed => (
                "hold_already_used",
                S::CONFLICT,
                "The hold already pays for another payment",
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.entry().0
    }

    pub fn status(self) -> StatusCode {
        self.entry().1
    }

    pub fn title(self) -> &'static str {
        self.entry().2
    }
}

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path for bodies (`location.latitude`) or the
    /// parameter name for paths and query strings.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What a charger's CALLERROR said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChargerErrorBody {
    /// The OCPP error code, e.g. `NotImplemented`.
    pub code: String,
    pub description: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI identifying the problem type; ends with `#<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable error code.
    pub code: String,
    /// Invalid fields (`validation_failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The charger's CALLERROR (`command_rejected` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charger_error: Option<ChargerErrorBody>,
    /// `payment_declined`: the gateway's decline code (e.g.
    /// `insufficient_funds`, `generic_decline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("this API key lacks the scope `{0}`")]
    Forbidden(&'static str),
    #[error("no resource at this path")]
    NotFound,
    #[error("charger {0} is not known")]
    ChargerNotFound(String),
    #[error("id token {0} is not known")]
    IdTokenNotFound(String),
    #[error("session {0} is not known")]
    SessionNotFound(String),
    #[error("tariff {0:?} is not known")]
    TariffNotFound(String),
    #[error("user group {0:?} is not known")]
    UserGroupNotFound(String),
    #[error("site {0:?} is not known")]
    SiteNotFound(String),
    #[error("tariff assignment {0} is not known")]
    TariffAssignmentNotFound(String),
    #[error("no tariff is in force at charger {0}")]
    NoTariff(String),
    #[error("{0} is not a command Joule can send; see the OpenAPI document for the list")]
    UnknownCommand(String),
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("the request body exceeds the size limit")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{}", validation_detail(.0))]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    InvalidCommandPayload(String),
    #[error(transparent)]
    Command(CommandError),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
    #[error("no payment gateway is configured")]
    PaymentsDisabled,
    #[error("{0}")]
    ConnectorBusy(String),
    #[error("no payment with this id or token")]
    PaymentNotFound,
    #[error("the card was declined ({code})")]
    PaymentDeclined { code: String },
    #[error("{0}")]
    PaymentNotConfirmable(String),
    #[error("{0}")]
    StepRefused(String),
    #[error("the payment gateway is unavailable; retry later")]
    GatewayUnavailable,
    #[error("{0}")]
    GatewayError(String),
    #[error("this request moves money: send an Idempotency-Key header")]
    IdempotencyKeyMissing,
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still in progress; retry later")]
    RequestInProgress,
    #[error("{0}")]
    PaymentBusy(String),
    #[error("{0}")]
    BadSignature(String),
    /// Too many requests from one client or for one connector; retry
    /// after `retry_after_s` seconds (also sent as `Retry-After`).
    #[error("too many requests {scope}; retry in {retry_after_s} s")]
    RateLimited {
        scope: &'static str,
        retry_after_s: u64,
    },
    #[error("no account with this id")]
    AccountNotFound,
    #[error("terminal {0} is not known")]
    TerminalNotFound(String),
    #[error("this terminal is disabled; ask the operator to enable it")]
    TerminalDisabled,
    #[error("{0}")]
    ChargerNotAllowed(String),
    #[error("{0}")]
    HoldNotUsable(String),
    #[error("this hold is already recorded for another payment")]
    HoldAlreadyUsed,
}

fn validation_detail(errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("{}: {}", one.field, one.message),
        _ => format!("{} fields are invalid; see `errors`", errors.len()),
    }
}

impl ApiError {
    /// A single-field validation error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson(_) => ErrorCode::InvalidJson,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound => ErrorCode::NotFound,
            Self::ChargerNotFound(_) => ErrorCode::ChargerNotFound,
            Self::IdTokenNotFound(_) => ErrorCode::IdTokenNotFound,
            Self::SessionNotFound(_) => ErrorCode::SessionNotFound,
            Self::TariffNotFound(_) => ErrorCode::TariffNotFound,
            Self::UserGroupNotFound(_) => ErrorCode::UserGroupNotFound,
            Self::SiteNotFound(_) => ErrorCode::SiteNotFound,
            Self::TariffAssignmentNotFound(_) => ErrorCode::TariffAssignmentNotFound,
            Self::NoTariff(_) => ErrorCode::NoTariff,
            Self::UnknownCommand(_) => ErrorCode::UnknownCommand,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::InvalidCommandPayload(_) => ErrorCode::InvalidCommandPayload,
            Self::Command(e) => match e {
                CommandError::Offline(_) => ErrorCode::ChargerOffline,
                CommandError::Timeout(_) => ErrorCode::ChargerTimeout,
                CommandError::Busy(_) => ErrorCode::ChargerBusy,
                // A payload the charger's protocol cannot carry, like any
                // other refused payload: the detail names the limit.
                CommandError::InvalidPayload(_) | CommandError::TokenTooLong { .. } => {
                    ErrorCode::InvalidCommandPayload
                }
                CommandError::Unsupported(_) => ErrorCode::CommandUnsupported,
                CommandError::CallError { .. } => ErrorCode::CommandRejected,
                CommandError::InvalidResponse(_) => ErrorCode::ChargerInvalidResponse,
                CommandError::ConnectionClosed => ErrorCode::ChargerDisconnected,
                CommandError::Routing(_) => ErrorCode::Internal,
            },
            Self::Store(e) => match e {
                StoreError::Conflict { .. } => ErrorCode::Conflict,
                StoreError::NotFound { .. } => ErrorCode::NotFound,
                StoreError::Unavailable(_) => ErrorCode::ServiceUnavailable,
                StoreError::Corrupt(_) | StoreError::Backend(_) => ErrorCode::Internal,
            },
            Self::Internal(_) => ErrorCode::Internal,
            Self::PaymentsDisabled => ErrorCode::PaymentsDisabled,
            Self::ConnectorBusy(_) => ErrorCode::ConnectorBusy,
            Self::PaymentNotFound => ErrorCode::PaymentNotFound,
            Self::PaymentDeclined { .. } => ErrorCode::PaymentDeclined,
            Self::PaymentNotConfirmable(_) => ErrorCode::PaymentNotConfirmable,
            Self::StepRefused(_) => ErrorCode::StepRefused,
            Self::GatewayUnavailable => ErrorCode::GatewayUnavailable,
            Self::GatewayError(_) => ErrorCode::GatewayError,
            Self::IdempotencyKeyMissing => ErrorCode::IdempotencyKeyMissing,
            Self::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            Self::RequestInProgress => ErrorCode::RequestInProgress,
            Self::PaymentBusy(_) => ErrorCode::PaymentBusy,
            Self::BadSignature(_) => ErrorCode::BadSignature,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::AccountNotFound => ErrorCode::AccountNotFound,
            Self::TerminalNotFound(_) => ErrorCode::TerminalNotFound,
            Self::TerminalDisabled => ErrorCode::TerminalDisabled,
            Self::ChargerNotAllowed(_) => ErrorCode::ChargerNotAllowed,
            Self::HoldNotUsable(_) => ErrorCode::HoldNotUsable,
            Self::HoldAlreadyUsed => ErrorCode::HoldAlreadyUsed,
        }
    }

    /// The problem document. Internal details are logged, never returned.
    pub fn problem(&self) -> Problem {
        let code = self.code();
        let detail = match code {
            ErrorCode::Internal => "an internal error occurred; it has been logged".to_owned(),
            ErrorCode::ServiceUnavailable => "the database is unavailable; retry later".to_owned(),
            _ => self.to_string(),
        };
        Problem {
            type_: format!("{PROBLEM_TYPE_BASE}{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            detail,
            code: code.as_str().to_owned(),
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            charger_error: match self {
                Self::Command(CommandError::CallError { code, description }) => {
                    Some(ChargerErrorBody {
                        code: code.clone(),
                        description: description.clone(),
                    })
                }
                _ => None,
            },
            decline_code: match self {
                Self::PaymentDeclined { code } => Some(code.clone()),
                _ => None,
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        Self::Command(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status >= 500 {
            tracing::error!(code = %problem.code, error = %self, "request failed");
        } else {
            tracing::debug!(code = %problem.code, error = %self, "request refused");
        }
        let status = self.code().status();
        let body = match serde_json::to_vec(&problem) {
            Ok(body) => body,
            Err(_) => b"{\"code\":\"internal\"}".to_vec(),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Self::RateLimited { retry_after_s, .. } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            assert!(code.status().is_client_error() || code.status().is_server_error());
            assert!(code
                .as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn command_errors_map_to_the_documented_statuses() {
        let id = joule_domain::ChargerId::parse("CP1").unwrap();
        let cases = [
            (CommandError::Offline(id.clone()), 409, "charger_offline"),
            (CommandError::Timeout(id.clone()), 504, "charger_timeout"),
            (CommandError::Busy(id), 429, "charger_busy"),
            (
                CommandError::InvalidPayload("x".into()),
                422,
                "invalid_command_payload",
            ),
            (
                CommandError::TokenTooLong {
                    protocol: "OCPP 1.6",
                    max: 20,
                },
                422,
                "invalid_command_payload",
            ),
            (
                CommandError::Unsupported("Reset".to_owned()),
                422,
                "command_unsupported",
            ),
            (
                CommandError::CallError {
                    code: "NotImplemented".into(),
                    description: "".into(),
                },
                502,
                "command_rejected",
            ),
            (
                CommandError::InvalidResponse("x".into()),
                502,
                "charger_invalid_response",
            ),
            (CommandError::ConnectionClosed, 503, "charger_disconnected"),
            (CommandError::Routing("x".into()), 500, "internal"),
        ];
        for (error, status, code) in cases {
            let problem = ApiError::from(error).problem();
            assert_eq!((problem.status, problem.code.as_str()), (status, code));
        }
    }

    fn body(error: ApiError) -> serde_json::Value {
        serde_json::to_value(error.problem()).unwrap()
    }

    #[test]
    fn snapshot_validation_failed() {
        let error = ApiError::Validation(vec![
            FieldError::new("id", "charger id must not be empty"),
            FieldError::new("location.latitude", "must be between -90 and 90"),
        ]);
        assert_eq!(
            body(error),
            serde_json::json!({
                "type": "https://github.com/joule-ev/joule/blob/main/docs/api-errors.md#validation_failed",
                "title": "Validation failed",
                "status": 422,
                "detail": "2 fields are invalid; see `errors`",
                "code": "validation_failed",
                "errors": [
                    {"field": "id", "message": "charger id must not be empty"},
                    {"field": "location.latitude", "message": "must be between -90 and 90"}
                ]
            })
        );
    }

    #[test]
    fn snapshot_command_rejected_carries_the_charger_error() {
        let error = ApiError::from(CommandError::CallError {
            code: "NotSupported".into(),
            description: "no reset here".into(),
        });
        assert_eq!(
            body(error),
            serde_json::json!({
                "type": "https://github.com/joule-ev/joule/blob/main/docs/api-errors.md#command_rejected",
                "title": "Charger answered with an error",
                "status": 502,
                "detail": "the charger answered with an error: NotSupported: no reset here",
                "code": "command_rejected",
                "charger_error": {"code": "NotSupported", "description": "no reset here"}
            })
        );
    }

    #[test]
    fn snapshot_internal_errors_hide_details() {
        let error = ApiError::from(StoreError::Backend("syntax error near SELECT".into()));
        assert_eq!(
            body(error),
            serde_json::json!({
                "type": "https://github.com/joule-ev/joule/blob/main/docs/api-errors.md#internal",
                "title": "Internal error",
                "status": 500,
                "detail": "an internal error occurred; it has been logged",
                "code": "internal"
            })
        );
    }

    #[test]
    fn snapshot_charger_offline() {
        let id = joule_domain::ChargerId::parse("CP-7").unwrap();
        assert_eq!(
            body(ApiError::from(CommandError::Offline(id))),
            serde_json::json!({
                "type": "https://github.com/joule-ev/joule/blob/main/docs/api-errors.md#charger_offline",
                "title": "Charger is not connected",
                "status": 409,
                "detail": "charger CP-7 is not connected",
                "code": "charger_offline"
            })
        );
    }

    #[tokio::test]
    async fn responses_are_problem_json_and_401_asks_for_bearer() {
        let response = ApiError::Unauthorized("send a key").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            PROBLEM_CONTENT_TYPE
        );
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
