//! `/api/v1/sessions`: charging sessions, read-only (chargers create them).

use axum::extract::State;
use axum::Json;
use joule_domain::SessionId;

use joule_domain::services::session_cost::session_cost_now;

use crate::dto::session::{
    MeterValue, Session, SessionCost, SessionDetail, SessionQuery, SessionTariff,
};
use crate::dto::SessionPage;
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// List sessions, newest first.
#[utoipa::path(
    get, path = "/api/v1/sessions", tag = "sessions",
    params(SessionQuery),
    responses(
        (status = 200, description = "A page of sessions", body = SessionPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_sessions(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<SessionQuery>,
) -> ApiResult<Json<SessionPage>> {
    let (filter, page) = query.parse()?;
    let paged = state.store.list_sessions(filter, page).await?;
    Ok(Json(SessionPage {
        items: paged
            .items
            .into_iter()
            .map(|s| {
                let connected = state.commands.is_connected(&s.charger_id);
                Session::from_domain(s, connected)
            })
            .collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get a session with its energy, peak power, meter values, the tariff
/// version frozen at its start, and its running or final cost.
#[utoipa::path(
    get, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id (UUID)")),
    responses(
        (status = 200, description = "The session", body = SessionDetail),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown session (`session_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_session(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SessionDetail>> {
    let id = SessionId::parse(&id).map_err(|e| ApiError::field("id", e.to_string()))?;
    let session = state
        .store
        .get_session(id)
        .await?
        .ok_or_else(|| ApiError::SessionNotFound(id.to_string()))?;
    let meter_values = state.store.session_meter_values(id).await?;
    let connected = state.commands.is_connected(&session.charger_id);
    let cost = cost(&state, &session, &meter_values).await?;
    Ok(Json(SessionDetail {
        tariff: session.tariff.clone().map(SessionTariff::from),
        cost,
        session: Session::from_domain(session, connected),
        meter_values: meter_values.into_iter().map(MeterValue::from).collect(),
    }))
}

/// The session priced now (see `joule_domain::services::session_cost::session_cost_now`).
async fn cost(
    state: &ApiState,
    session: &joule_domain::charging::session::Session,
    meter_values: &[joule_domain::charging::session::StoredMeterValue],
) -> ApiResult<Option<SessionCost>> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    Ok(
        session_cost_now(store, store, store, session, meter_values, now)
            .await?
            .map(|c| SessionCost::new(&c.price, c.is_final)),
    )
}
