//! # joule-api
//!
//! The REST API adapter: axum routes under `/api/v1`, API-key auth (operator
//! keys `jk_…`; payment terminals' own keys `jt_…` for `/api/v1/terminal/…`,
//! docs/terminals.md), RFC 9457 problem JSON errors, and the OpenAPI 3.1
//! document generated from the handlers (`openapi()`, committed as
//! `openapi.json`); and the public,
//! server-rendered driver pages (pay page, QR codes, payment status,
//! receipts; see [`pages`]).
//!
//! **May depend on:** `joule-domain`, `joule-receipts` (receipt and QR
//! rendering), axum/tower, utoipa, serde, maud, and small crypto helpers
//! (sha2 for API keys). Never on `joule-store` or
//! `joule-csms`: storage is reached through the domain's store ports and
//! chargers through its `CommandRouter` port. No SQL here.
//!
//! **Concurrency model:** axum's: each request is a task on the caller's
//! tokio runtime; [`ApiState`] is a bundle of `Arc<dyn Port>`s cloned per
//! request; the only lock is the pay routes' rate limiter's (one
//! short-held mutex per limit, see [`rate_limit`]). Argon2 password hashing runs on the
//! blocking pool.

pub mod accounts;
pub mod auth;
pub mod chargers;
pub mod commands;
pub mod dto;
pub mod extract;
pub mod id_tokens;
pub mod idempotency;
pub mod kpis;
pub mod messages;
pub mod openapi;
pub mod pages;
pub mod pay;
pub mod payments;
pub mod problem;
pub mod rate_limit;
pub mod sessions;
pub mod sites;
pub mod tariff_assignments;
pub mod tariffs;
pub mod terminal_api;
pub mod terminals;
pub mod user_groups;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post, put};
use axum::Router;
use joule_domain::ports::clock::Clock;
use joule_domain::ports::command::CommandRouter;
pub use joule_domain::ports::credentials::PasswordHasher;
use joule_domain::ports::store::Store;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::{api_key_from_plain, generate_api_key, KeyFormatError};
pub use openapi::openapi;
pub use problem::{ApiError, ErrorCode, Problem};

/// Largest accepted request body. Commands such as SendLocalList are the
/// biggest bodies; a full local list stays far below this.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// Header carrying the request id (taken from the client when it sends one).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What the handlers need: ports only.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub commands: Arc<dyn CommandRouter>,
    pub clock: Arc<dyn Clock>,
    pub password_hasher: Arc<dyn PasswordHasher>,
    /// Settings of the public driver pages (pay page, QR codes, receipts).
    pub pages: Arc<pages::PagesConfig>,
    /// `None` when no payment gateway is configured: the pay routes answer
    /// 503 `payments_disabled`.
    pub payments: Option<joule_domain::services::payments::PaymentService>,
}

/// The whole API, ready to serve.
pub fn router(state: ApiState) -> Router {
    let protected = Router::new()
        .route(
            "/api/v1/chargers",
            post(chargers::create_charger).get(chargers::list_chargers),
        )
        .route(
            "/api/v1/chargers/{id}",
            get(chargers::get_charger)
                .patch(chargers::update_charger)
                .delete(chargers::delete_charger),
        )
        .route(
            "/api/v1/chargers/{id}/status-history",
            get(chargers::status_history),
        )
        .route(
            "/api/v1/chargers/{id}/messages",
            get(messages::list_messages),
        )
        .route(
            "/api/v1/chargers/{id}/commands/{action}",
            post(commands::send_command),
        )
        .route(
            "/api/v1/id-tokens",
            post(id_tokens::create_id_token).get(id_tokens::list_id_tokens),
        )
        .route(
            "/api/v1/id-tokens/{id_tag}/groups",
            put(user_groups::set_token_groups),
        )
        .route(
            "/api/v1/chargers/{id}/tariff",
            get(tariffs::get_charger_tariff).put(tariffs::set_charger_tariff),
        )
        .route(
            "/api/v1/chargers/{id}/access",
            put(user_groups::set_charger_access),
        )
        .route("/api/v1/chargers/{id}/site", put(sites::set_charger_site))
        .route(
            "/api/v1/sites",
            post(sites::create_site).get(sites::list_sites),
        )
        .route(
            "/api/v1/sites/{id}",
            get(sites::get_site)
                .put(sites::update_site)
                .delete(sites::delete_site),
        )
        .route(
            "/api/v1/tariff-assignments",
            post(tariff_assignments::create_tariff_assignment)
                .get(tariff_assignments::list_tariff_assignments),
        )
        .route(
            "/api/v1/tariff-assignments/{id}",
            get(tariff_assignments::get_tariff_assignment)
                .delete(tariff_assignments::delete_tariff_assignment),
        )
        .route(
            "/api/v1/user-groups",
            post(user_groups::create_user_group).get(user_groups::list_user_groups),
        )
        .route(
            "/api/v1/user-groups/{id}",
            get(user_groups::get_user_group)
                .patch(user_groups::update_user_group)
                .delete(user_groups::delete_user_group),
        )
        .route(
            "/api/v1/id-tokens/{id_tag}",
            get(id_tokens::get_id_token)
                .patch(id_tokens::update_id_token)
                .delete(id_tokens::delete_id_token),
        )
        .route("/api/v1/kpis/payments", get(kpis::payment_kpi_report))
        .route(
            "/api/v1/accounts",
            post(accounts::create_account).get(accounts::list_accounts),
        )
        .route(
            "/api/v1/accounts/{id}",
            get(accounts::get_account).patch(accounts::update_account),
        )
        .route(
            "/api/v1/accounts/{id}/id-tokens/{id_tag}",
            put(accounts::link_token).delete(accounts::unlink_token),
        )
        .route(
            "/api/v1/accounts/{id}/card-setup",
            post(accounts::card_setup),
        )
        .route(
            "/api/v1/accounts/{id}/settle-debt",
            post(accounts::settle_debt),
        )
        .route("/api/v1/payments", get(payments::list_payments))
        .route("/api/v1/payments/{id}", get(payments::get_payment))
        .route("/api/v1/payments/{id}/refund", post(payments::refund))
        .route("/api/v1/sessions", get(sessions::list_sessions))
        .route("/api/v1/sessions/{id}", get(sessions::get_session))
        .route(
            "/api/v1/tariffs",
            post(tariffs::create_tariff).get(tariffs::list_tariffs),
        )
        .route(
            "/api/v1/tariffs/default",
            get(tariffs::get_default_tariff).put(tariffs::set_default_tariff),
        )
        .route(
            "/api/v1/tariffs/{id}",
            get(tariffs::get_tariff)
                .put(tariffs::update_tariff)
                .delete(tariffs::delete_tariff),
        )
        .route(
            "/api/v1/terminals",
            post(terminals::create_terminal).get(terminals::list_terminals),
        )
        .route(
            "/api/v1/terminals/{id}",
            get(terminals::get_terminal).patch(terminals::update_terminal),
        )
        .route("/api/v1/terminals/{id}/key", post(terminals::issue_key))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ));

    // Called by payment terminals with their own key (docs/terminals.md).
    let terminal = Router::new()
        .route("/api/v1/terminal", get(terminal_api::whoami))
        .route(
            "/api/v1/terminal/payments",
            post(terminal_api::report_payment),
        )
        .route(
            "/api/v1/terminal/payments/{id}",
            get(terminal_api::get_payment),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_terminal,
        ));

    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    Router::new()
        .route("/api/v1/health", get(openapi::health))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route(
            "/api/v1/public/chargers/{id}/connectors/{connector_id}/price",
            get(tariffs::public_price),
        )
        .merge(pages::routes())
        .merge(pay_posts(state.clone()))
        .route("/pay/payments/{token}/status", get(pay::status))
        .route("/webhooks/stripe", post(pay::stripe_webhook))
        .merge(protected)
        .merge(terminal)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::new(request_id)),
        )
        .with_state(state)
}

/// The public pay POSTs, behind the per-client and per-connector rate
/// limits (docs/configuration.md, "Pay route rate limits").
fn pay_posts(state: ApiState) -> Router<ApiState> {
    Router::new()
        .route(
            "/pay/{charger_id}/{connector_id}/payments",
            post(pay::create_payment),
        )
        .route("/pay/payments/{token}/confirm", post(pay::confirm))
        .route(
            "/pay/payments/{token}/simulated-card",
            post(pay::simulated_card),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            rate_limit::limit_pay_posts,
        ))
}

/// One span per request: request id, method and path (the API key prefix is
/// recorded once authenticated). Query strings are left out: they may carry
/// id tags.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "http_request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        api_key = tracing::field::Empty,
    )
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
