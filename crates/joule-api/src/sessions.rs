//! `/api/v1/sessions`: charging sessions, read-only (chargers create them).

use axum::extract::State;
use axum::Json;
use joule_domain::SessionId;

use joule_domain::session_cost::{price_session_cost, status_range};
use joule_domain::tariffs::charger_time_zone;

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
    let cost = match &session.tariff {
        Some(t) => cost(&state, &session, &meter_values, t).await?,
        None => None,
    };
    Ok(Json(SessionDetail {
        tariff: session.tariff.clone().map(SessionTariff::from),
        cost,
        session: Session::from_domain(session, connected),
        meter_values: meter_values.into_iter().map(MeterValue::from).collect(),
    }))
}

/// Whether the cost can still change: while the session runs, and after
/// its stop while idle time is still being billed (the cable is in and the
/// priced end is now).
fn is_final(
    session: &joule_domain::session::Session,
    price: &joule_domain::session_cost::SessionPrice,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    session.stopped_at.is_some()
        && !price
            .activity
            .last()
            .is_some_and(|p| p.after_stop && p.end >= now)
}

/// The session priced with its frozen tariff version and its connector's
/// status reports, up to its stop (or the unplugging after it) or now.
/// `None` (logged) when that version is gone or cannot price it.
async fn cost(
    state: &ApiState,
    session: &joule_domain::session::Session,
    meter_values: &[joule_domain::session::StoredMeterValue],
    t: &joule_domain::session::SessionTariff,
) -> ApiResult<Option<SessionCost>> {
    let Some(tariff) = state
        .store
        .get_tariff_version(&t.tariff_id, t.version)
        .await?
    else {
        tracing::warn!(session_id = %session.id, tariff_id = %t.tariff_id, version = t.version,
            "the session's tariff version is missing");
        return Ok(None);
    };
    let now = state.clock.now();
    let (from, to) = status_range(session, &tariff, now);
    let statuses = state
        .store
        .connector_status_range(&session.charger_id, session.connector_id, from, to)
        .await?;
    let time_zone = charger_time_zone(state.store.as_ref(), &session.charger_id).await?;
    match price_session_cost(session, meter_values, &statuses, &tariff, time_zone, now) {
        Ok(price) => Ok(Some(SessionCost::new(
            &price,
            is_final(session, &price, now),
        ))),
        Err(e) => {
            tracing::warn!(session_id = %session.id, error = %e, "the session cannot be priced");
            Ok(None)
        }
    }
}
