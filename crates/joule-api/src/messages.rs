//! `/api/v1/chargers/{id}/messages`: the OCPP message log of a charger.

use axum::extract::State;
use axum::Json;

use crate::chargers::ensure_charger_known;
use crate::dto::message::{LogEntry, MessageQuery};
use crate::dto::LogEntryPage;
use crate::extract::{path_charger_id, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::ApiState;

/// A charger's OCPP frames, newest first.
#[utoipa::path(
    get, path = "/api/v1/chargers/{id}/messages", tag = "chargers",
    params(("id" = String, Path, description = "Charger id"), MessageQuery),
    responses(
        (status = 200, description = "A page of logged frames", body = LogEntryPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger and no log (`charger_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_messages(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<MessageQuery>,
) -> ApiResult<Json<LogEntryPage>> {
    let id = path_charger_id(&id)?;
    let (filter, page) = query.parse()?;
    let paged = state.store.query_log(&id, filter, page).await?;
    if paged.items.is_empty() {
        ensure_charger_known(&state, &id).await?;
    }
    Ok(Json(LogEntryPage {
        items: paged.items.into_iter().map(LogEntry::from).collect(),
        next_offset: paged.next_offset,
    }))
}
