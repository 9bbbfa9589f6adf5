//! `/api/v1/chargers/{id}/commands/{action}`: remote operations.
//!
//! The body is the OCPP request payload as the charger's protocol defines it
//! (validated by the connection adapter against that protocol's schema); the
//! charger's answer payload is the response body. A charger's own
//! `Rejected` is an answer (200), not an error.

use axum::extract::{Request, State};
use axum::Json;
use joule_domain::ports::command::{ChargerCommand, CommandReply};
use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::chargers::ensure_charger_known;
use crate::extract::{is_json, path_charger_id, read_body, ApiPath};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// Path of a command request.
#[derive(Debug, Deserialize)]
pub struct CommandPath {
    pub id: String,
    pub action: String,
}

/// The OCPP 1.6 actions the API passes on to a charger (those the central
/// system may send), which are also the `action` path segment. The API's own
/// list rather than the domain's: the domain's commands are protocol-neutral
/// (ADR-0010), while this endpoint is the operator's raw passthrough.
const ACTIONS: [&str; 19] = [
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "Reset",
    "UnlockConnector",
    "ChangeAvailability",
    "GetConfiguration",
    "ChangeConfiguration",
    "TriggerMessage",
    "ClearCache",
    "DataTransfer",
    "UpdateFirmware",
    "GetDiagnostics",
    "GetLocalListVersion",
    "SendLocalList",
    "ReserveNow",
    "CancelReservation",
    "SetChargingProfile",
    "ClearChargingProfile",
    "GetCompositeSchedule",
];

/// The `action` path segment in the OpenAPI document: an enum built from
/// [`ACTIONS`], so the document cannot drift from what is accepted.
#[derive(Debug)]
pub struct CommandAction;

impl PartialSchema for CommandAction {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("An OCPP action Joule can send to a charger."))
            .enum_values(Some(ACTIONS))
            .into()
    }
}

impl ToSchema for CommandAction {}

/// Send a command to a charger and return its answer.
#[utoipa::path(
    post, path = "/api/v1/chargers/{id}/commands/{action}", tag = "commands",
    params(
        ("id" = String, Path, description = "Charger id"),
        ("action" = CommandAction, Path, description = "OCPP action name"),
    ),
    request_body(
        content = Object, content_type = "application/json",
        description = "The OCPP request payload, e.g. `{\"type\":\"Soft\"}` for Reset. An empty body is `{}`."
    ),
    responses(
        (status = 200, description = "The charger's answer payload", body = Object),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`) or action (`unknown_command`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Charger not connected (`charger_offline`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Payload refused (`invalid_command_payload`) or action not supported by the charger's protocol (`command_unsupported`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many commands queued for the charger (`charger_busy`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The charger answered with a CALLERROR (`command_rejected`, with `charger_error`) or an invalid answer (`charger_invalid_response`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The connection closed before an answer (`charger_disconnected`)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "No answer in time (`charger_timeout`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send_command(
    State(state): State<ApiState>,
    ApiPath(path): ApiPath<CommandPath>,
    request: Request,
) -> ApiResult<Json<serde_json::Value>> {
    if !ACTIONS.contains(&path.action.as_str()) {
        return Err(ApiError::UnknownCommand(path.action.clone()));
    }
    let id = path_charger_id(&path.id)?;
    let json_declared = is_json(request.headers());
    let body = read_body(request, &()).await?;
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        if !json_declared {
            return Err(ApiError::UnsupportedMediaType(
                "the command payload must be JSON (Content-Type: application/json)".to_owned(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::InvalidJson(format!("the request body is not valid JSON: {e}"))
        })?;
        if !value.is_object() {
            return Err(ApiError::InvalidCommandPayload(
                "the command payload must be a JSON object".to_owned(),
            ));
        }
        value
    };
    ensure_charger_known(&state, &id).await?;
    tracing::info!(charger_id = %id, action = %path.action, "sending command");
    let command = ChargerCommand::Raw {
        action: path.action,
        payload,
    };
    match state.commands.send(&id, command).await? {
        CommandReply::Data(answer) => Ok(Json(answer)),
        // A router answers the passthrough with the charger's payload; a
        // bare verdict is shown in the 1.6 shape the operator sent.
        CommandReply::Accepted => Ok(Json(serde_json::json!({"status": "Accepted"}))),
        CommandReply::Rejected => Ok(Json(serde_json::json!({"status": "Rejected"}))),
        CommandReply::Configuration { settings, unknown } => {
            let settings: Vec<_> = settings
                .into_iter()
                .map(
                    |s| serde_json::json!({"key": s.key, "readonly": s.readonly, "value": s.value}),
                )
                .collect();
            Ok(Json(
                serde_json::json!({"configurationKey": settings, "unknownKey": unknown}),
            ))
        }
    }
}
