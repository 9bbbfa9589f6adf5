//! `/api/v1/tariffs`: OCPI 2.2.1 tariffs with Joule's extensions, the
//! default tariff, and the public, unauthenticated price quote for drivers.
//!
//! Bodies are validated by the pricing engine's own validator, so the API
//! accepts exactly the tariffs the engine can price, and reports every
//! problem at once with its field path.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, ConnectorId};
use joule_domain::services::tariff_lookup::tariff_in_force;

use crate::dto::tariff::{
    ChargerTariff, DefaultTariff, PriceQuery, PriceQuote, SetChargerTariff, SetDefaultTariff,
    Tariff, TariffInput, TariffQuery,
};
use crate::dto::TariffPage;
use crate::extract::{path_charger_id, ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// Create a tariff.
#[utoipa::path(
    post, path = "/api/v1/tariffs", tag = "tariffs",
    request_body = TariffInput,
    responses(
        (status = 201, description = "Created (version 1)", body = Tariff),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A tariff with this id exists (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid tariff; `errors` names every field (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_tariff(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<TariffInput>,
) -> ApiResult<(StatusCode, Json<Tariff>)> {
    let new = body.validate(None)?;
    let id = new.tariff.id.clone();
    let stored = state
        .store
        .create_tariff(new, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => {
                ApiError::Conflict(format!("tariff {id:?} already exists"))
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// List tariffs, by id.
#[utoipa::path(
    get, path = "/api/v1/tariffs", tag = "tariffs",
    params(TariffQuery),
    responses(
        (status = 200, description = "A page of tariffs", body = TariffPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_tariffs(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<TariffQuery>,
) -> ApiResult<Json<TariffPage>> {
    let page = query.parse()?;
    let paged = state.store.list_tariffs(page).await?;
    Ok(Json(TariffPage {
        items: paged.items.into_iter().map(Tariff::from).collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get a tariff.
#[utoipa::path(
    get, path = "/api/v1/tariffs/{id}", tag = "tariffs",
    params(("id" = String, Path, description = "OCPI tariff id")),
    responses(
        (status = 200, description = "The tariff", body = Tariff),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown tariff (`tariff_not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_tariff(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Tariff>> {
    let stored = state
        .store
        .get_tariff(&id)
        .await?
        .ok_or(ApiError::TariffNotFound(id))?;
    Ok(Json(stored.into()))
}

/// Replace a tariff (the whole OCPI object and the extensions); its
/// version goes up by one. Sessions already running keep their price.
#[utoipa::path(
    put, path = "/api/v1/tariffs/{id}", tag = "tariffs",
    params(("id" = String, Path, description = "OCPI tariff id")),
    request_body = TariffInput,
    responses(
        (status = 200, description = "The new version", body = Tariff),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown tariff (`tariff_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid tariff, or `tariff.id` differs from the path (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_tariff(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TariffInput>,
) -> ApiResult<Json<Tariff>> {
    let new = body.validate(Some(&id))?;
    let stored = state
        .store
        .update_tariff(&id, new, state.clock.now())
        .await?
        .ok_or(ApiError::TariffNotFound(id))?;
    Ok(Json(stored.into()))
}

/// Delete a tariff. Deleting the default tariff leaves no default.
#[utoipa::path(
    delete, path = "/api/v1/tariffs/{id}", tag = "tariffs",
    params(("id" = String, Path, description = "OCPI tariff id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown tariff (`tariff_not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_tariff(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_tariff(&id, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::TariffNotFound(id))
    }
}

/// The default tariff: what a driver pays where no other tariff applies.
#[utoipa::path(
    get, path = "/api/v1/tariffs/default", tag = "tariffs",
    responses(
        (status = 200, description = "The default tariff (`tariff_id` null when none)", body = DefaultTariff),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_default_tariff(State(state): State<ApiState>) -> ApiResult<Json<DefaultTariff>> {
    Ok(Json(state.store.default_tariff().await?.into()))
}

/// Set or clear (`{"tariff_id": null}`) the default tariff.
#[utoipa::path(
    put, path = "/api/v1/tariffs/default", tag = "tariffs",
    request_body = SetDefaultTariff,
    responses(
        (status = 200, description = "The default tariff now", body = DefaultTariff),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown tariff (`tariff_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_default_tariff(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<SetDefaultTariff>,
) -> ApiResult<Json<DefaultTariff>> {
    let id = body.tariff_id;
    let stored = state
        .store
        .set_default_tariff(id.as_deref(), state.clock.now())
        .await
        .map_err(|e| match (e, &id) {
            (StoreError::NotFound { .. }, Some(id)) => ApiError::TariffNotFound(id.clone()),
            (other, _) => other.into(),
        })?;
    Ok(Json(stored.into()))
}

/// A charger's own tariff (`null`: the default tariff applies).
#[utoipa::path(
    get, path = "/api/v1/chargers/{id}/tariff", tag = "chargers",
    params(("id" = String, Path, description = "Charger id")),
    responses(
        (status = 200, description = "The charger's tariff", body = ChargerTariff),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_charger_tariff(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ChargerTariff>> {
    let id = path_charger_id(&id)?;
    let tariff_id = state
        .store
        .charger_tariff(&id)
        .await?
        .ok_or_else(|| ApiError::ChargerNotFound(id.to_string()))?;
    Ok(Json(ChargerTariff {
        charger_id: id.to_string(),
        tariff_id,
    }))
}

/// Set or clear (`{"tariff_id": null}`) a charger's own tariff: sessions
/// starting there are priced with it instead of the default (see
/// docs/pricing.md, "Precedence"). Running sessions keep their price.
#[utoipa::path(
    put, path = "/api/v1/chargers/{id}/tariff", tag = "chargers",
    params(("id" = String, Path, description = "Charger id")),
    request_body = SetChargerTariff,
    responses(
        (status = 200, description = "The charger's tariff now", body = ChargerTariff),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown charger (`charger_not_found`) or tariff (`tariff_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id or body (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_charger_tariff(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SetChargerTariff>,
) -> ApiResult<Json<ChargerTariff>> {
    let id = path_charger_id(&id)?;
    let requested = body.tariff_id;
    let tariff_id = state
        .store
        .set_charger_tariff(&id, requested.as_deref(), state.clock.now())
        .await
        .map_err(|e| match (e, &requested) {
            (StoreError::NotFound { .. }, Some(t)) => ApiError::TariffNotFound(t.clone()),
            (other, _) => other.into(),
        })?
        .ok_or_else(|| ApiError::ChargerNotFound(id.to_string()))?;
    Ok(Json(ChargerTariff {
        charger_id: id.to_string(),
        tariff_id,
    }))
}

/// The price a driver pays at a connector (public, no API key): the tariff
/// an anonymous driver gets by the precedence rule (connector, charger,
/// site, default), in force now, its text in the driver's language (else
/// the site's), unit prices excluding and including VAT, fees, the card
/// hold amount, the time zone its times are read in, and whether the
/// charger is restricted. A private charger is answered as unknown.
#[utoipa::path(
    get, path = "/api/v1/public/chargers/{id}/connectors/{connector_id}/price", tag = "public",
    security(()),
    params(
        ("id" = String, Path, description = "Charger id"),
        ("connector_id" = u32, Path, description = "Connector id"),
        PriceQuery,
    ),
    responses(
        (status = 200, description = "The price in force", body = PriceQuote),
        (status = 404, description = "Unknown or private charger (`charger_not_found`) or no tariff in force (`no_tariff`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path or `lang` (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn public_price(
    State(state): State<ApiState>,
    ApiPath((id, connector)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<PriceQuery>,
) -> ApiResult<Json<PriceQuote>> {
    let id = path_charger_id(&id)?;
    let connector = path_connector_id(&connector)?;
    let lang = query.parse()?;
    Ok(Json(quote(&state, &id, connector, lang).await?))
}

/// A connector id from a path segment: 1 up to [`ConnectorId::MAX`].
pub(crate) fn path_connector_id(raw: &str) -> Result<ConnectorId, ApiError> {
    raw.parse::<u32>()
        .ok()
        .filter(|n| *n >= 1)
        .and_then(|n| ConnectorId::new(n).ok())
        .ok_or_else(|| {
            ApiError::field(
                "connector_id",
                format!("must be an integer between 1 and {}", ConnectorId::MAX),
            )
        })
}

/// The price a driver sees before charging at a public connector (the
/// JSON quote and the pay page show the same one). `ChargerNotFound` also
/// for a private charger, so that its existence is not revealed.
pub(crate) async fn quote(
    state: &ApiState,
    id: &ChargerId,
    connector: ConnectorId,
    lang: Option<String>,
) -> ApiResult<PriceQuote> {
    let in_force = tariff_in_force(state.store.as_ref(), id, connector, None, state.clock.now())
        .await?
        // A private charger is not public: answered as if it did not exist.
        .filter(|f| f.access.is_publicly_visible())
        .ok_or_else(|| ApiError::ChargerNotFound(id.to_string()))?;
    let tariff = in_force
        .tariff
        .as_ref()
        .ok_or_else(|| ApiError::NoTariff(id.to_string()))?;
    let lang = lang.or_else(|| in_force.language.clone());
    Ok(PriceQuote::new(
        id.to_string(),
        connector.get(),
        tariff,
        lang.as_deref(),
        in_force.time_zone,
        in_force.access,
    ))
}
