//! `/api/v1/id-tokens`: the tokens that may start charging.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use joule_domain::kernel::error::StoreError;

use crate::dto::id_token::{CreateIdToken, IdToken, IdTokenDetail, IdTokenQuery, UpdateIdToken};
use crate::dto::IdTokenPage;
use crate::extract::{path_id_tag, ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// Create an id token.
#[utoipa::path(
    post, path = "/api/v1/id-tokens", tag = "id-tokens",
    request_body = CreateIdToken,
    responses(
        (status = 201, description = "Created", body = IdToken),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The id tag exists, in any letter case (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_id_token(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateIdToken>,
) -> ApiResult<(StatusCode, Json<IdToken>)> {
    let new = body.validate()?;
    let id_tag = new.id_tag.clone();
    let token = state
        .store
        .create_token(new, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => {
                ApiError::Conflict(format!("id token {id_tag} already exists"))
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(token.into())))
}

/// List id tokens.
#[utoipa::path(
    get, path = "/api/v1/id-tokens", tag = "id-tokens",
    params(IdTokenQuery),
    responses(
        (status = 200, description = "A page of id tokens", body = IdTokenPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_id_tokens(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<IdTokenQuery>,
) -> ApiResult<Json<IdTokenPage>> {
    let (filter, page) = query.parse()?;
    let paged = state.store.list_tokens(filter, page).await?;
    Ok(Json(IdTokenPage {
        items: paged.items.into_iter().map(IdToken::from).collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get an id token with its groups (the id tag is matched
/// case-insensitively).
#[utoipa::path(
    get, path = "/api/v1/id-tokens/{id_tag}", tag = "id-tokens",
    params(("id_tag" = String, Path, description = "Id tag")),
    responses(
        (status = 200, description = "The token", body = IdTokenDetail),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown token (`id_token_not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_id_token(
    State(state): State<ApiState>,
    ApiPath(id_tag): ApiPath<String>,
) -> ApiResult<Json<IdTokenDetail>> {
    let id_tag = path_id_tag(&id_tag)?;
    let token = state
        .store
        .get_token(&id_tag)
        .await?
        .ok_or_else(|| ApiError::IdTokenNotFound(id_tag.to_string()))?;
    let groups = state.store.token_groups(&id_tag).await?;
    Ok(Json(IdTokenDetail {
        token: token.into(),
        groups: groups.iter().map(ToString::to_string).collect(),
    }))
}

/// Update an id token.
#[utoipa::path(
    patch, path = "/api/v1/id-tokens/{id_tag}", tag = "id-tokens",
    params(("id_tag" = String, Path, description = "Id tag")),
    request_body = UpdateIdToken,
    responses(
        (status = 200, description = "The updated token", body = IdToken),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown token (`id_token_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_id_token(
    State(state): State<ApiState>,
    ApiPath(id_tag): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateIdToken>,
) -> ApiResult<Json<IdToken>> {
    let id_tag = path_id_tag(&id_tag)?;
    let patch = body.validate()?;
    let token = state
        .store
        .update_token(&id_tag, patch, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::IdTokenNotFound(id_tag.to_string()))?;
    Ok(Json(token.into()))
}

/// Delete an id token.
#[utoipa::path(
    delete, path = "/api/v1/id-tokens/{id_tag}", tag = "id-tokens",
    params(("id_tag" = String, Path, description = "Id tag")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown token (`id_token_not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_id_token(
    State(state): State<ApiState>,
    ApiPath(id_tag): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id_tag = path_id_tag(&id_tag)?;
    if state.store.delete_token(&id_tag, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::IdTokenNotFound(id_tag.to_string()))
    }
}
