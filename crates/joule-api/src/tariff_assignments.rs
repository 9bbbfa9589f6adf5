//! `/api/v1/tariff-assignments`: which tariff applies to which site,
//! charger, connector, user group or id token, and when (docs/pricing.md,
//! "Precedence").

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use joule_domain::kernel::error::StoreError;
use joule_domain::pricing::assignment::AssignmentId;

use crate::dto::tariff_assignment::{
    CreateTariffAssignment, TariffAssignment, TariffAssignmentQuery,
};
use crate::dto::TariffAssignmentPage;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

fn path_assignment_id(raw: &str) -> Result<AssignmentId, ApiError> {
    AssignmentId::parse(raw).map_err(|e| ApiError::field("id", e.to_string()))
}

/// The body field that names what the store did not find.
fn unknown_target(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { entity } => {
            let field = match entity {
                "tariff" => "tariff_id",
                "site" => "site_id",
                "charger" => "charger_id",
                "user group" => "group_id",
                "id token" => "id_tag",
                _ => return StoreError::NotFound { entity }.into(),
            };
            ApiError::field(field, format!("{entity} is not known"))
        }
        other => other.into(),
    }
}

/// Assign a tariff.
#[utoipa::path(
    post, path = "/api/v1/tariff-assignments", tag = "tariffs",
    request_body = CreateTariffAssignment,
    responses(
        (status = 201, description = "Created", body = TariffAssignment),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, an unknown tariff or target (naming the field), or `valid_until` not after `valid_from` (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_tariff_assignment(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateTariffAssignment>,
) -> ApiResult<(StatusCode, Json<TariffAssignment>)> {
    let new = body.validate()?;
    let created = state
        .store
        .create_tariff_assignment(new, state.clock.now())
        .await
        .map_err(unknown_target)?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// List tariff assignments, oldest first.
#[utoipa::path(
    get, path = "/api/v1/tariff-assignments", tag = "tariffs",
    params(TariffAssignmentQuery),
    responses(
        (status = 200, description = "A page of assignments", body = TariffAssignmentPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_tariff_assignments(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<TariffAssignmentQuery>,
) -> ApiResult<Json<TariffAssignmentPage>> {
    let (filter, page) = query.parse()?;
    let paged = state.store.list_tariff_assignments(filter, page).await?;
    Ok(Json(TariffAssignmentPage {
        items: paged
            .items
            .into_iter()
            .map(TariffAssignment::from)
            .collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get a tariff assignment.
#[utoipa::path(
    get, path = "/api/v1/tariff-assignments/{id}", tag = "tariffs",
    params(("id" = String, Path, description = "Assignment id (UUID)")),
    responses(
        (status = 200, description = "The assignment", body = TariffAssignment),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown assignment (`tariff_assignment_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_tariff_assignment(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TariffAssignment>> {
    let id = path_assignment_id(&id)?;
    let found = state
        .store
        .get_tariff_assignment(id)
        .await?
        .ok_or_else(|| ApiError::TariffAssignmentNotFound(id.to_string()))?;
    Ok(Json(found.into()))
}

/// Delete a tariff assignment (sessions already started keep their price).
#[utoipa::path(
    delete, path = "/api/v1/tariff-assignments/{id}", tag = "tariffs",
    params(("id" = String, Path, description = "Assignment id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown assignment (`tariff_assignment_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_tariff_assignment(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = path_assignment_id(&id)?;
    if state
        .store
        .delete_tariff_assignment(id, state.clock.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::TariffAssignmentNotFound(id.to_string()))
    }
}
