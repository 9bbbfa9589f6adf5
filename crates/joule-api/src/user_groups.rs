//! `/api/v1/user-groups`, a token's groups and a charger's access rule: who
//! may charge where.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use joule_domain::charging::user_group::UserGroupId;
use joule_domain::kernel::error::StoreError;

use crate::dto::user_group::{
    ChargerAccess, CreateUserGroup, TokenGroups, UpdateUserGroup, UserGroup, UserGroupQuery,
};
use crate::dto::UserGroupPage;
use crate::extract::{path_charger_id, path_id_tag, ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, FieldError, Problem};
use crate::ApiState;

fn path_group_id(raw: &str) -> Result<UserGroupId, ApiError> {
    UserGroupId::parse(raw).map_err(|e| ApiError::field("id", e.to_string()))
}

/// A 422 naming every entry of `field` that is not a known group, so that a
/// body referencing an unknown group is a validation error, not a 404.
async fn require_groups(
    state: &ApiState,
    field: &str,
    groups: &[UserGroupId],
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if state.store.get_user_group(g).await?.is_none() {
            errors.push(FieldError::new(
                format!("{field}[{i}]"),
                format!("user group {:?} is not known", g.as_str()),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// A group deleted between the check and the write.
fn unknown_group_in(field: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound { .. } => ApiError::field(field, "a user group is not known"),
        other => other.into(),
    }
}

/// Create a user group.
#[utoipa::path(
    post, path = "/api/v1/user-groups", tag = "user-groups",
    request_body = CreateUserGroup,
    responses(
        (status = 201, description = "Created", body = UserGroup),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A group with this id exists (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_user_group(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateUserGroup>,
) -> ApiResult<(StatusCode, Json<UserGroup>)> {
    let new = body.validate()?;
    let id = new.id.clone();
    let group = state
        .store
        .create_user_group(new, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => {
                ApiError::Conflict(format!("user group {id} already exists"))
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(group.into())))
}

/// List user groups, by id.
#[utoipa::path(
    get, path = "/api/v1/user-groups", tag = "user-groups",
    params(UserGroupQuery),
    responses(
        (status = 200, description = "A page of groups", body = UserGroupPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_user_groups(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<UserGroupQuery>,
) -> ApiResult<Json<UserGroupPage>> {
    let page = query.parse()?;
    let paged = state.store.list_user_groups(page).await?;
    Ok(Json(UserGroupPage {
        items: paged.items.into_iter().map(UserGroup::from).collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get a user group.
#[utoipa::path(
    get, path = "/api/v1/user-groups/{id}", tag = "user-groups",
    params(("id" = String, Path, description = "Group id")),
    responses(
        (status = 200, description = "The group", body = UserGroup),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown group (`user_group_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_user_group(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<UserGroup>> {
    let id = path_group_id(&id)?;
    let group = state
        .store
        .get_user_group(&id)
        .await?
        .ok_or_else(|| ApiError::UserGroupNotFound(id.to_string()))?;
    Ok(Json(group.into()))
}

/// Rename a user group.
#[utoipa::path(
    patch, path = "/api/v1/user-groups/{id}", tag = "user-groups",
    params(("id" = String, Path, description = "Group id")),
    request_body = UpdateUserGroup,
    responses(
        (status = 200, description = "The updated group", body = UserGroup),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown group (`user_group_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_user_group(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUserGroup>,
) -> ApiResult<Json<UserGroup>> {
    let id = path_group_id(&id)?;
    let patch = body.validate()?;
    let group = state
        .store
        .update_user_group(&id, patch, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::UserGroupNotFound(id.to_string()))?;
    Ok(Json(group.into()))
}

/// Delete a user group; its tokens leave it, and chargers stop allowing it
/// (a private charger whose only group this was admits nobody).
#[utoipa::path(
    delete, path = "/api/v1/user-groups/{id}", tag = "user-groups",
    params(("id" = String, Path, description = "Group id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown group (`user_group_not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_user_group(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = path_group_id(&id)?;
    if state
        .store
        .delete_user_group(&id, state.clock.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::UserGroupNotFound(id.to_string()))
    }
}

/// Replace the groups an id token belongs to.
#[utoipa::path(
    put, path = "/api/v1/id-tokens/{id_tag}/groups", tag = "id-tokens",
    params(("id_tag" = String, Path, description = "Id tag")),
    request_body = TokenGroups,
    responses(
        (status = 200, description = "The token's groups now", body = TokenGroups),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown token (`id_token_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown groups (`validation_failed`, naming `groups[i]`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_token_groups(
    State(state): State<ApiState>,
    ApiPath(id_tag): ApiPath<String>,
    ApiJson(body): ApiJson<TokenGroups>,
) -> ApiResult<Json<TokenGroups>> {
    let id_tag = path_id_tag(&id_tag)?;
    let groups = body.validate()?;
    if state.store.get_token(&id_tag).await?.is_none() {
        return Err(ApiError::IdTokenNotFound(id_tag.to_string()));
    }
    require_groups(&state, "groups", &groups).await?;
    let groups = state
        .store
        .set_token_groups(&id_tag, groups, state.clock.now())
        .await
        .map_err(unknown_group_in("groups"))?
        .ok_or_else(|| ApiError::IdTokenNotFound(id_tag.to_string()))?;
    Ok(Json(TokenGroups::from_domain(&groups)))
}

/// Set who may charge at a charger: `public`, `private` or `restricted`
/// with the allowed groups.
#[utoipa::path(
    put, path = "/api/v1/chargers/{id}/access", tag = "chargers",
    params(("id" = String, Path, description = "Charger id")),
    request_body = ChargerAccess,
    responses(
        (status = 200, description = "The access rule now", body = ChargerAccess),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown groups (`validation_failed`, naming `allowed_groups[i]`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_charger_access(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ChargerAccess>,
) -> ApiResult<Json<ChargerAccess>> {
    let id = path_charger_id(&id)?;
    let rule = body.validate()?;
    if state.store.get_charger(&id).await?.is_none() {
        return Err(ApiError::ChargerNotFound(id.to_string()));
    }
    require_groups(&state, "allowed_groups", &rule.allowed_groups).await?;
    let rule = state
        .store
        .set_charger_access(&id, rule, state.clock.now())
        .await
        .map_err(unknown_group_in("allowed_groups"))?
        .ok_or_else(|| ApiError::ChargerNotFound(id.to_string()))?;
    Ok(Json(rule.into()))
}
