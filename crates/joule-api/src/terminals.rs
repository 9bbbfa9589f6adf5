//! `/api/v1/terminals`: the operator's payment terminals (docs/terminals.md)
//! — what each may start, at which gateway its holds are, whether it is
//! enabled — and the terminal's own key, issued (or rotated) and shown once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use joule_domain::kernel::error::StoreError;
use joule_domain::payments::terminal::TerminalId;

use crate::auth::generate_terminal_key;
use crate::dto::terminal::{
    terminal_error, CreateTerminal, Terminal, TerminalKeyIssued, TerminalQuery, UpdateTerminal,
};
use crate::dto::TerminalPage;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

fn path_terminal_id(raw: &str) -> ApiResult<TerminalId> {
    TerminalId::parse(raw).map_err(|e| ApiError::field("id", e.to_string()))
}

/// With payments on, a terminal's gateway must be one Joule can reach.
fn check_gateway(state: &ApiState, gateway: Option<&str>) -> ApiResult<()> {
    if let (Some(service), Some(name)) = (&state.payments, gateway) {
        if service.gateways().get(name).is_none() {
            return Err(ApiError::field(
                "gateway",
                format!("gateway {name:?} is not configured"),
            ));
        }
    }
    Ok(())
}

fn unknown_site(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { entity: "site" } => {
            ApiError::field("site_id", "the site is not known")
        }
        other => other.into(),
    }
}

/// Create a terminal. It has no key yet: issue one with
/// `POST /api/v1/terminals/{id}/key`.
#[utoipa::path(
    post, path = "/api/v1/terminals", tag = "terminals",
    request_body = CreateTerminal,
    responses(
        (status = 201, description = "Created", body = Terminal),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, e.g. scope `site` without a site, an unknown site or gateway (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_terminal(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateTerminal>,
) -> ApiResult<(StatusCode, Json<Terminal>)> {
    let default_gateway = state
        .payments
        .as_ref()
        .and_then(|p| p.gateways().default_gateway())
        .map(|g| g.name());
    let new = body.validate(default_gateway)?;
    check_gateway(&state, Some(&new.gateway))?;
    let terminal = state
        .store
        .create_terminal(new, state.clock.now())
        .await
        .map_err(unknown_site)?;
    tracing::info!(terminal_id = %terminal.id, "terminal created");
    Ok((StatusCode::CREATED, Json(terminal.into())))
}

/// List terminals, oldest first.
#[utoipa::path(
    get, path = "/api/v1/terminals", tag = "terminals",
    params(TerminalQuery),
    responses(
        (status = 200, description = "A page of terminals", body = TerminalPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_terminals(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<TerminalQuery>,
) -> ApiResult<Json<TerminalPage>> {
    let page = query.parse()?;
    let paged = state.store.list_terminals(page).await?;
    Ok(Json(TerminalPage {
        items: paged.items.into_iter().map(Terminal::from).collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get a terminal.
#[utoipa::path(
    get, path = "/api/v1/terminals/{id}", tag = "terminals",
    params(("id" = String, Path, description = "Terminal id (UUID)")),
    responses(
        (status = 200, description = "The terminal", body = Terminal),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown terminal (`terminal_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_terminal(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<Terminal>> {
    let id = path_terminal_id(&raw)?;
    let terminal = state
        .store
        .get_terminal(id)
        .await?
        .ok_or_else(|| ApiError::TerminalNotFound(id.to_string()))?;
    Ok(Json(terminal.into()))
}

/// Change a terminal: name, site, what it may start, gateway, or disable
/// it (`{"enabled": false}`: it reports no new payment; those recorded run
/// to their end).
#[utoipa::path(
    patch, path = "/api/v1/terminals/{id}", tag = "terminals",
    params(("id" = String, Path, description = "Terminal id (UUID)")),
    request_body = UpdateTerminal,
    responses(
        (status = 200, description = "The terminal now", body = Terminal),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown terminal (`terminal_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_terminal(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateTerminal>,
) -> ApiResult<Json<Terminal>> {
    let id = path_terminal_id(&raw)?;
    let patch = body.validate()?;
    check_gateway(&state, patch.gateway.as_deref())?;
    let updated = state
        .store
        .update_terminal(id, patch, state.clock.now())
        .await
        .map_err(unknown_site)?
        .ok_or_else(|| ApiError::TerminalNotFound(id.to_string()))?
        .map_err(|e| terminal_error(&e))?;
    tracing::info!(terminal_id = %id, enabled = updated.enabled, "terminal updated");
    Ok(Json(updated.into()))
}

/// Issue the terminal's key, or rotate it: the new key is in this answer
/// only (Joule keeps its hash), and the previous key stops working at once.
#[utoipa::path(
    post, path = "/api/v1/terminals/{id}/key", tag = "terminals",
    params(("id" = String, Path, description = "Terminal id (UUID)")),
    responses(
        (status = 201, description = "The new key, shown once", body = TerminalKeyIssued),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown terminal (`terminal_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue_key(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<TerminalKeyIssued>)> {
    let id = path_terminal_id(&raw)?;
    let now = state.clock.now();
    let (plain, key) = generate_terminal_key(now);
    let prefix = key.prefix.clone();
    state
        .store
        .set_terminal_key(id, key, now)
        .await?
        .ok_or_else(|| ApiError::TerminalNotFound(id.to_string()))?;
    tracing::info!(terminal_id = %id, key_prefix = %prefix, "terminal key issued");
    Ok((
        StatusCode::CREATED,
        Json(TerminalKeyIssued {
            terminal_id: id.to_string(),
            key: plain,
            key_prefix: prefix,
            issued_at: now,
        }),
    ))
}
