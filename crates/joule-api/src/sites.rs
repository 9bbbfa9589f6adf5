//! `/api/v1/sites` and the site of a charger: where chargers stand, in
//! which time zone they price, and which access rule they inherit.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use joule_domain::charging::site::SiteId;
use joule_domain::kernel::error::StoreError;

use crate::dto::site::{ChargerSite, Site, SiteInput, SiteQuery};
use crate::dto::SitePage;
use crate::extract::{path_charger_id, ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

fn path_site_id(raw: &str) -> Result<SiteId, ApiError> {
    SiteId::parse(raw).map_err(|e| ApiError::field("id", e.to_string()))
}

/// An allowed group that is not known is a validation error of the body.
fn unknown_group(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => {
            ApiError::field("allowed_groups", "a user group is not known")
        }
        other => other.into(),
    }
}

/// Create a site.
#[utoipa::path(
    post, path = "/api/v1/sites", tag = "sites",
    request_body = SiteInput,
    responses(
        (status = 201, description = "Created", body = Site),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A site with this id exists (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, e.g. an unknown time zone or group (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_site(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<SiteInput>,
) -> ApiResult<(StatusCode, Json<Site>)> {
    let new = body.validate(None)?;
    let id = new.id.clone();
    let site = state
        .store
        .create_site(new, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => ApiError::Conflict(format!("site {id} already exists")),
            other => unknown_group(other),
        })?;
    Ok((StatusCode::CREATED, Json(site.into())))
}

/// List sites, by id.
#[utoipa::path(
    get, path = "/api/v1/sites", tag = "sites",
    params(SiteQuery),
    responses(
        (status = 200, description = "A page of sites", body = SitePage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_sites(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<SiteQuery>,
) -> ApiResult<Json<SitePage>> {
    let page = query.parse()?;
    let paged = state.store.list_sites(page).await?;
    Ok(Json(SitePage {
        items: paged.items.into_iter().map(Site::from).collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get a site.
#[utoipa::path(
    get, path = "/api/v1/sites/{id}", tag = "sites",
    params(("id" = String, Path, description = "Site id")),
    responses(
        (status = 200, description = "The site", body = Site),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown site (`site_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_site(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Site>> {
    let id = path_site_id(&id)?;
    let site = state
        .store
        .get_site(&id)
        .await?
        .ok_or_else(|| ApiError::SiteNotFound(id.to_string()))?;
    Ok(Json(site.into()))
}

/// Replace a site (every field but the id).
#[utoipa::path(
    put, path = "/api/v1/sites/{id}", tag = "sites",
    params(("id" = String, Path, description = "Site id")),
    request_body = SiteInput,
    responses(
        (status = 200, description = "The site now", body = Site),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown site (`site_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_site(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SiteInput>,
) -> ApiResult<Json<Site>> {
    let id = path_site_id(&id)?;
    let new = body.validate(Some(&id))?;
    let site = state
        .store
        .update_site(&id, new, state.clock.now())
        .await
        .map_err(unknown_group)?
        .ok_or_else(|| ApiError::SiteNotFound(id.to_string()))?;
    Ok(Json(site.into()))
}

/// Delete a site: its chargers are left without a site (UTC, their own
/// access rule) and the tariff assignments naming it are deleted.
#[utoipa::path(
    delete, path = "/api/v1/sites/{id}", tag = "sites",
    params(("id" = String, Path, description = "Site id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown site (`site_not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_site(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = path_site_id(&id)?;
    if state.store.delete_site(&id, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::SiteNotFound(id.to_string()))
    }
}

/// Move a charger to a site (or with `null` off any).
#[utoipa::path(
    put, path = "/api/v1/chargers/{id}/site", tag = "chargers",
    params(("id" = String, Path, description = "Charger id")),
    request_body = ChargerSite,
    responses(
        (status = 200, description = "The charger's site now", body = ChargerSite),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown `site_id` (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_charger_site(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ChargerSite>,
) -> ApiResult<Json<ChargerSite>> {
    let id = path_charger_id(&id)?;
    let site = body
        .site_id
        .as_deref()
        .map(SiteId::parse)
        .transpose()
        .map_err(|e| ApiError::field("site_id", e.to_string()))?;
    let now = state
        .store
        .set_charger_site(&id, site.as_ref(), state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => ApiError::field("site_id", "site is not known"),
            other => other.into(),
        })?
        .ok_or_else(|| ApiError::ChargerNotFound(id.to_string()))?;
    Ok(Json(ChargerSite {
        site_id: now.map(|s| s.to_string()),
    }))
}
