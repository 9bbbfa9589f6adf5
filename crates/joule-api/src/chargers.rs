//! `/api/v1/chargers`: registration and inspection of chargers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use joule_domain::charging::charger::{ChargerPatch, NewCharger};
use joule_domain::charging::site::SiteId;
use joule_domain::{ChargerId, ConnectorId};

use crate::dto::charger::{
    Charger, ChargerDetail, Connector, CreateCharger, PageQuery, StatusHistoryQuery, StatusReport,
    UpdateCharger,
};
use crate::dto::{ChargerPage, StatusReportPage};
use crate::extract::{path_charger_id, ApiJson, ApiPath, ApiQuery, QueryErrors};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// Hashes a charger password off the async runtime: Argon2 is deliberately
/// slow, and a request must not stall the other tasks of its worker thread.
pub(crate) async fn hash_password(state: &ApiState, plain: String) -> ApiResult<String> {
    let hasher = state.password_hasher.clone();
    tokio::task::spawn_blocking(move || hasher.hash(&plain))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing task failed: {e}")))?
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
}

async fn detail(
    state: &ApiState,
    charger: joule_domain::charging::charger::Charger,
) -> ApiResult<ChargerDetail> {
    let connectors = state.store.connector_states(&charger.id).await?;
    let access = state
        .store
        .charger_access(&charger.id)
        .await?
        .unwrap_or_default();
    let site_id = state
        .store
        .tariff_candidates(&charger.id, None)
        .await?
        .and_then(|c| c.site)
        .map(|s| s.id.to_string());
    let live = state.commands.is_connected(&charger.id);
    Ok(ChargerDetail {
        charger: Charger::from_domain(charger, live),
        connectors: connectors.into_iter().map(Connector::from).collect(),
        access: access.into(),
        site_id,
    })
}

/// A 422 naming `site_id` unless the site exists: checked before the
/// charger is written, so an unknown site changes nothing.
async fn require_site(state: &ApiState, site: Option<&SiteId>) -> ApiResult<()> {
    if let Some(site) = site {
        if state.store.get_site(site).await?.is_none() {
            return Err(ApiError::field("site_id", "site is not known"));
        }
    }
    Ok(())
}

/// Moves the charger to `site` (its own transaction and event,
/// `charger.site_changed`, after the charger's).
async fn place(state: &ApiState, id: &ChargerId, site: Option<&SiteId>) -> ApiResult<()> {
    state
        .store
        .set_charger_site(id, site, state.clock.now())
        .await
        .map_err(|e| match e {
            joule_domain::kernel::error::StoreError::NotFound { .. } => {
                ApiError::field("site_id", "site is not known")
            }
            other => other.into(),
        })?;
    Ok(())
}

/// Register a charger.
#[utoipa::path(
    post, path = "/api/v1/chargers", tag = "chargers",
    request_body = CreateCharger,
    responses(
        (status = 201, description = "Created", body = ChargerDetail),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A charger with this id exists (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_charger(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateCharger>,
) -> ApiResult<(StatusCode, Json<ChargerDetail>)> {
    let valid = body.validate()?;
    require_site(&state, valid.site_id.as_ref()).await?;
    let password_hash = match valid.password {
        Some(plain) => Some(hash_password(&state, plain).await?),
        None => None,
    };
    let id = valid.id.clone();
    let new = NewCharger {
        id: valid.id,
        label: valid.label,
        location: valid.location,
        registration: valid.registration,
        password_hash,
    };
    let charger = state
        .store
        .create_charger(new, state.clock.now())
        .await
        .map_err(|e| match e {
            joule_domain::kernel::error::StoreError::Conflict { .. } => {
                ApiError::Conflict(format!("charger {id} already exists"))
            }
            other => other.into(),
        })?;
    if valid.site_id.is_some() {
        place(&state, &charger.id, valid.site_id.as_ref()).await?;
    }
    Ok((StatusCode::CREATED, Json(detail(&state, charger).await?)))
}

/// List chargers.
#[utoipa::path(
    get, path = "/api/v1/chargers", tag = "chargers",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of chargers", body = ChargerPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_chargers(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<ChargerPage>> {
    let mut errors = QueryErrors::new();
    let page = errors.page(query.limit.as_deref(), query.offset.as_deref());
    errors.finish()?;
    let paged = state.store.list_chargers(page).await?;
    Ok(Json(ChargerPage {
        items: paged
            .items
            .into_iter()
            .map(|c| {
                let live = state.commands.is_connected(&c.id);
                Charger::from_domain(c, live)
            })
            .collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get a charger: connection, boot info, registration and connectors.
#[utoipa::path(
    get, path = "/api/v1/chargers/{id}", tag = "chargers",
    params(("id" = String, Path, description = "Charger id")),
    responses(
        (status = 200, description = "The charger", body = ChargerDetail),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_charger(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ChargerDetail>> {
    let id = path_charger_id(&id)?;
    let charger = state
        .store
        .get_charger(&id)
        .await?
        .ok_or_else(|| ApiError::ChargerNotFound(id.to_string()))?;
    Ok(Json(detail(&state, charger).await?))
}

/// Update a charger's label, location, registration, password or site.
#[utoipa::path(
    patch, path = "/api/v1/chargers/{id}", tag = "chargers",
    params(("id" = String, Path, description = "Charger id")),
    request_body = UpdateCharger,
    responses(
        (status = 200, description = "The updated charger", body = ChargerDetail),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_charger(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateCharger>,
) -> ApiResult<Json<ChargerDetail>> {
    let id = path_charger_id(&id)?;
    let valid = body.validate()?;
    if let Some(site) = &valid.site_id {
        require_site(&state, site.as_ref()).await?;
    }
    let password_hash = match valid.password {
        None => None,
        Some(None) => Some(None),
        Some(Some(plain)) => Some(Some(hash_password(&state, plain).await?)),
    };
    let patch = ChargerPatch {
        label: valid.label,
        location: valid.location,
        registration: valid.registration,
        password_hash,
    };
    let charger = state
        .store
        .update_charger(&id, patch, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::ChargerNotFound(id.to_string()))?;
    if let Some(site) = &valid.site_id {
        place(&state, &id, site.as_ref()).await?;
    }
    Ok(Json(detail(&state, charger).await?))
}

/// Delete a charger. Its sessions, status history and message log stay.
#[utoipa::path(
    delete, path = "/api/v1/chargers/{id}", tag = "chargers",
    params(("id" = String, Path, description = "Charger id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_charger(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = path_charger_id(&id)?;
    if state.store.delete_charger(&id, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::ChargerNotFound(id.to_string()))
    }
}

/// A charger's connector status history, newest first.
#[utoipa::path(
    get, path = "/api/v1/chargers/{id}/status-history", tag = "chargers",
    params(("id" = String, Path, description = "Charger id"), StatusHistoryQuery),
    responses(
        (status = 200, description = "A page of status reports", body = StatusReportPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn status_history(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<StatusHistoryQuery>,
) -> ApiResult<Json<StatusReportPage>> {
    let id = path_charger_id(&id)?;
    let mut errors = QueryErrors::new();
    let connector = errors.opt("connector", query.connector.as_deref(), |raw| {
        raw.parse::<u32>()
            .ok()
            .and_then(|n| ConnectorId::new(n).ok())
            .ok_or("must be a connector number from 0 to 1000")
    });
    let page = errors.page(query.limit.as_deref(), query.offset.as_deref());
    errors.finish()?;
    let paged = state.store.status_history(&id, connector, page).await?;
    if paged.items.is_empty() {
        ensure_charger_known(&state, &id).await?;
    }
    Ok(Json(StatusReportPage {
        items: paged.items.into_iter().map(StatusReport::from).collect(),
        next_offset: paged.next_offset,
    }))
}

/// 404 unless the charger exists. History (status, messages, sessions)
/// outlives a deleted charger and is still served; this is for an empty
/// result, where an id that is not known is most likely a typo.
pub(crate) async fn ensure_charger_known(
    state: &ApiState,
    id: &joule_domain::ChargerId,
) -> ApiResult<()> {
    match state.store.get_charger(id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::ChargerNotFound(id.to_string())),
    }
}
