//! The public web-payment JSON routes (`/pay/…`, docs/payments.md "Web
//! payment flow") and gateway webhooks (`/webhooks/…`). Unauthenticated:
//! a payment is reached only by its 128-bit token, never its id.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use joule_domain::payments::gateway::WebhookPayload;
use joule_domain::payments::payment::ReceiptToken;
use joule_domain::receipts::email::EmailAddress;
use joule_domain::services::payments::{PaymentError, PaymentService};
use joule_domain::ConnectorId;

use crate::dto::payment::{
    ConfirmWebPayment, CreateWebPayment, PaymentStatus, SimulatedCard, WebPayment,
};
use crate::extract::{parse_json, path_charger_id, ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Store(e) => ApiError::Store(e),
            PaymentError::ChargerNotFound(id) => ApiError::ChargerNotFound(id),
            PaymentError::ConnectorBusy { .. } => ApiError::ConnectorBusy(e.to_string()),
            PaymentError::NoTariff(id) => ApiError::NoTariff(id),
            PaymentError::PaymentNotFound => ApiError::PaymentNotFound,
            PaymentError::GatewayUnavailable(_) => ApiError::GatewayUnavailable,
            PaymentError::GatewayNotConfigured(_) => ApiError::PaymentsDisabled,
            PaymentError::GatewayRefused { code, message } => {
                ApiError::GatewayError(format!("{code}: {message}"))
            }
            PaymentError::Declined { code, .. } => ApiError::PaymentDeclined { code },
            PaymentError::NotConfirmable(why) => ApiError::PaymentNotConfirmable(why.to_owned()),
            PaymentError::NotSimulated => ApiError::NotFound,
            PaymentError::NoGatewayReference => ApiError::PaymentNotConfirmable(e.to_string()),
            PaymentError::Step(step) => ApiError::StepRefused(step.to_string()),
            PaymentError::BadWebhook(g) => ApiError::BadSignature(g.to_string()),
            PaymentError::Cost(m) => ApiError::Internal(m),
            PaymentError::AccountNotFound => ApiError::AccountNotFound,
            PaymentError::NoCard => ApiError::Conflict(e.to_string()),
            PaymentError::CardSetupNotFound => ApiError::NotFound,
            PaymentError::TerminalDisabled => ApiError::TerminalDisabled,
            PaymentError::ChargerNotAllowed { .. } => ApiError::ChargerNotAllowed(e.to_string()),
            PaymentError::HoldNotUsable(_) => ApiError::HoldNotUsable(e.to_string()),
            PaymentError::IntentAlreadyUsed => ApiError::HoldAlreadyUsed,
            PaymentError::Busy { .. } | PaymentError::ClaimLost => {
                ApiError::PaymentBusy(format!("{e}; retry later"))
            }
        }
    }
}

pub(crate) fn service(state: &ApiState) -> ApiResult<&PaymentService> {
    state.payments.as_ref().ok_or(ApiError::PaymentsDisabled)
}

fn token(raw: &str) -> ApiResult<ReceiptToken> {
    // A malformed token is as unknown as a well-formed one nobody has.
    ReceiptToken::parse(raw).map_err(|_| ApiError::PaymentNotFound)
}

/// Start paying at a connector: creates the payment and its hold.
#[utoipa::path(
    post, path = "/pay/{charger_id}/{connector_id}/payments", tag = "public",
    params(
        ("charger_id" = String, Path, description = "Charger id"),
        ("connector_id" = u32, Path, description = "Connector id (1, 2, …)"),
    ),
    request_body(content = CreateWebPayment, description = "Optional; an empty body is accepted"),
    responses(
        (status = 201, description = "The payment, waiting for the card", body = WebPayment),
        (status = 404, description = "Unknown or private charger (`charger_not_found`) or no tariff / hold amount (`no_tariff`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Connector not available (`connector_busy`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path or email address (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled (`payments_disabled`) or gateway down (`gateway_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many pay requests from this address, or new payments at this connector (`rate_limited`, with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn create_payment(
    State(state): State<ApiState>,
    ApiPath((charger, connector)): ApiPath<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<WebPayment>)> {
    let service = service(&state)?;
    let charger = path_charger_id(&charger)?;
    let connector = connector
        .parse::<u32>()
        .ok()
        .and_then(|n| ConnectorId::new(n).ok())
        .filter(|c| !c.is_whole_charger())
        .ok_or_else(|| {
            ApiError::field(
                "connector_id",
                format!("must be an integer between 1 and {}", ConnectorId::MAX),
            )
        })?;
    let request: CreateWebPayment = if body.iter().all(u8::is_ascii_whitespace) {
        CreateWebPayment::default()
    } else {
        parse_json(&body)?
    };
    // Checked before anything is held: a typo is a 422, not a lost receipt.
    let email = match request.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            Some(EmailAddress::parse(raw).map_err(|e| ApiError::field("email", e.to_string()))?)
        }
    };
    let created = service
        .create_web_payment(&charger, connector, request.language.as_deref())
        .await?;
    if let Some(email) = &email {
        state
            .store
            .set_receipt_email(created.payment.id, email, state.clock.now())
            .await?;
    }
    let token = created.payment.receipt_token.clone();
    Ok((
        StatusCode::CREATED,
        Json(WebPayment::new(
            created,
            service.status_url(&token),
            service.receipt_url(&token),
        )),
    ))
}

/// The card is confirmed in the browser: record the hold and start the
/// connector.
#[utoipa::path(
    post, path = "/pay/payments/{token}/confirm", tag = "public",
    params(("token" = String, Path, description = "The payment's public token")),
    request_body(content = ConfirmWebPayment, description = "Optional; an empty body is accepted"),
    responses(
        (status = 200, description = "The payment's status (idempotent)", body = PaymentStatus),
        (status = 402, description = "Card declined (`payment_declined`, with `decline_code`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown token (`payment_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not awaiting confirmation, or the card still needs 3-D Secure in the browser (`payment_not_confirmable`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed body (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The gateway refused the card entry, e.g. one made for another payment (`gateway_error`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled or gateway down", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many pay requests from this address, or new payments at this connector (`rate_limited`, with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn confirm(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<PaymentStatus>> {
    let service = service(&state)?;
    let request: ConfirmWebPayment = if body.iter().all(u8::is_ascii_whitespace) {
        ConfirmWebPayment::default()
    } else {
        parse_json(&body)?
    };
    let view = service
        .confirm_with_card_entry(&token(&raw)?, request.card_entry.as_deref())
        .await?;
    Ok(Json(view.into()))
}

/// Demo only: confirm the hold with a simulated test card, as Stripe.js
/// would in the browser.
#[utoipa::path(
    post, path = "/pay/payments/{token}/simulated-card", tag = "public",
    params(("token" = String, Path, description = "The payment's public token")),
    request_body = SimulatedCard,
    responses(
        (status = 204, description = "The card confirmed the hold; call confirm next"),
        (status = 402, description = "The card was declined (`payment_declined`); confirm records it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown token, or the payment's gateway is not the simulated one", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not awaiting a card (`payment_not_confirmable`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Unknown test card (`gateway_error`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many pay requests from this address, or new payments at this connector (`rate_limited`, with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn simulated_card(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
    ApiJson(card): ApiJson<SimulatedCard>,
) -> ApiResult<StatusCode> {
    let service = service(&state)?;
    service.enter_test_card(&token(&raw)?, &card.card).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The live status of a payment: state, energy, running or final cost,
/// receipt link.
#[utoipa::path(
    get, path = "/pay/payments/{token}/status", tag = "public",
    params(("token" = String, Path, description = "The payment's public token")),
    responses(
        (status = 200, description = "The status", body = PaymentStatus),
        (status = 404, description = "Unknown token (`payment_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled (`payments_disabled`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn status(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<PaymentStatus>> {
    let service = service(&state)?;
    Ok(Json(service.status(&token(&raw)?).await?.into()))
}

/// Stripe webhooks: verified with the endpoint's signing secret, then the
/// payment is looked at again. Duplicates are harmless.
#[utoipa::path(
    post, path = "/webhooks/stripe", tag = "public",
    request_body(content = Object, description = "A Stripe event, signed in `Stripe-Signature`"),
    responses(
        (status = 204, description = "Accepted (also for events Joule ignores)"),
        (status = 400, description = "Missing, wrong or stale signature (`bad_signature`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled, or the gateway could not be reached to reconcile (Stripe retries)", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn stripe_webhook(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let service = service(&state)?;
    if service.gateways().get("stripe").is_none() {
        return Err(ApiError::NotFound);
    }
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
        .collect();
    let payload = WebhookPayload {
        headers: &pairs,
        body: &body,
    };
    service.handle_webhook("stripe", &payload).await?;
    Ok(StatusCode::NO_CONTENT)
}
