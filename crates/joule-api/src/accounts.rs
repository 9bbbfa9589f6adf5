//! `/api/v1/accounts`: driver accounts with a saved card and linked id
//! tokens, whose sessions are charged off-session after they end
//! (docs/payments.md, "Accounts"). Settling a debt moves money, so it
//! requires an `Idempotency-Key` header and a repeat gets the stored
//! response.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use joule_domain::access::api_key::ApiKey;
use joule_domain::kernel::error::StoreError;
use joule_domain::payments::account::{AccountDetail as DomainDetail, AccountId, ChargeStatus};
use joule_domain::payments::payment::StepStatus;

use crate::dto::account::{AccountDetail, AccountQuery, CardSetup, CreateAccount, UpdateAccount};
use crate::dto::AccountPage;
use crate::extract::{path_id_tag, ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{self, idempotency_key, stored_response, IdempotentCall};
use crate::pay::service;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

fn account_id(raw: &str) -> ApiResult<AccountId> {
    AccountId::parse(raw).map_err(|e| ApiError::field("id", e.to_string()))
}

async fn detail(state: &ApiState, id: AccountId) -> ApiResult<AccountDetail> {
    let account = state
        .store
        .get_account(id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    let tokens = state.store.account_tokens(id).await?;
    let debts = state.store.account_debts(id).await?;
    Ok(DomainDetail {
        account,
        tokens,
        debts,
    }
    .into())
}

fn email_taken(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => {
            ApiError::Conflict("an account with this email exists".to_owned())
        }
        other => other.into(),
    }
}

/// Create a driver account.
#[utoipa::path(
    post, path = "/api/v1/accounts", tag = "accounts",
    request_body = CreateAccount,
    responses(
        (status = 201, description = "Created", body = AccountDetail),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is another account's (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_account(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<AccountDetail>)> {
    let new = body.validate()?;
    let account = state
        .store
        .create_account(new, state.clock.now())
        .await
        .map_err(email_taken)?;
    Ok((StatusCode::CREATED, Json(detail(&state, account.id).await?)))
}

/// List accounts, oldest first.
#[utoipa::path(
    get, path = "/api/v1/accounts", tag = "accounts",
    params(AccountQuery),
    responses(
        (status = 200, description = "A page of accounts", body = AccountPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_accounts(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<AccountQuery>,
) -> ApiResult<Json<AccountPage>> {
    let page = query.parse()?;
    let paged = state.store.list_accounts(page).await?;
    Ok(Json(AccountPage {
        items: paged.items.into_iter().map(Into::into).collect(),
        next_offset: paged.next_offset,
    }))
}

/// Get an account with its card summary, linked tokens and debt.
#[utoipa::path(
    get, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id (UUID)")),
    responses(
        (status = 200, description = "The account", body = AccountDetail),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown account (`account_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_account(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<AccountDetail>> {
    Ok(Json(detail(&state, account_id(&raw)?).await?))
}

/// Update an account's email, name, language or currency.
#[utoipa::path(
    patch, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id (UUID)")),
    request_body = UpdateAccount,
    responses(
        (status = 200, description = "The account", body = AccountDetail),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown account (`account_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is another account's (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_account(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateAccount>,
) -> ApiResult<Json<AccountDetail>> {
    let id = account_id(&raw)?;
    let patch = body.validate()?;
    state
        .store
        .update_account(id, patch, state.clock.now())
        .await
        .map_err(email_taken)?
        .ok_or(ApiError::AccountNotFound)?;
    Ok(Json(detail(&state, id).await?))
}

/// Link an id token (RFID card, app token) to the account: sessions it
/// starts from now on are charged to the account's card.
#[utoipa::path(
    put, path = "/api/v1/accounts/{id}/id-tokens/{id_tag}", tag = "accounts",
    params(
        ("id" = String, Path, description = "Account id (UUID)"),
        ("id_tag" = String, Path, description = "An existing id token"),
    ),
    responses(
        (status = 200, description = "The account (idempotent)", body = AccountDetail),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown account (`account_not_found`) or token (`id_token_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The token is linked to another account (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id or tag (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn link_token(
    State(state): State<ApiState>,
    ApiPath((raw, tag)): ApiPath<(String, String)>,
) -> ApiResult<Json<AccountDetail>> {
    let id = account_id(&raw)?;
    let tag = path_id_tag(&tag)?;
    state
        .store
        .link_account_token(id, &tag, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound { entity: "account" } => ApiError::AccountNotFound,
            StoreError::NotFound { .. } => ApiError::IdTokenNotFound(tag.to_string()),
            StoreError::Conflict { .. } => {
                ApiError::Conflict(format!("id token {tag} is linked to another account"))
            }
            other => other.into(),
        })?;
    Ok(Json(detail(&state, id).await?))
}

/// Unlink an id token from the account.
#[utoipa::path(
    delete, path = "/api/v1/accounts/{id}/id-tokens/{id_tag}", tag = "accounts",
    params(
        ("id" = String, Path, description = "Account id (UUID)"),
        ("id_tag" = String, Path, description = "A linked id token"),
    ),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown account, or the token is not linked to it (`not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id or tag (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unlink_token(
    State(state): State<ApiState>,
    ApiPath((raw, tag)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = account_id(&raw)?;
    let tag = path_id_tag(&tag)?;
    if state.store.get_account(id).await?.is_none() {
        return Err(ApiError::AccountNotFound);
    }
    if state
        .store
        .unlink_account_token(id, &tag, state.clock.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Start saving a card: creates the account's customer at the gateway
/// (once) and a SetupIntent; give `page_url` to the driver.
#[utoipa::path(
    post, path = "/api/v1/accounts/{id}/card-setup", tag = "accounts",
    params(("id" = String, Path, description = "Account id (UUID)")),
    responses(
        (status = 201, description = "Waiting for the driver's card", body = CardSetup),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown account (`account_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The gateway refused (`gateway_error`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled or gateway down", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn card_setup(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<CardSetup>)> {
    let id = account_id(&raw)?;
    let service = service(&state)?;
    let started = service.start_card_setup(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(CardSetup {
            account_id: id.to_string(),
            gateway: started.setup.gateway.clone(),
            setup_id: started.setup.setup_ref.clone(),
            client_secret: started.setup.client_secret.expose().to_owned(),
            page_url: started.page_url,
        }),
    ))
}

/// Retry every debt of the account against its current card (after the
/// driver saved a new one); cleared on success.
#[utoipa::path(
    post, path = "/api/v1/accounts/{id}/settle-debt", tag = "accounts",
    params(
        ("id" = String, Path, description = "Account id (UUID)"),
        ("Idempotency-Key" = String, Header, description = "Required; a repeat with the same key returns the first response"),
    ),
    responses(
        (status = 200, description = "Nothing is owed any more", body = AccountDetail),
        (status = 400, description = "No `Idempotency-Key` (`idempotency_key_missing`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "The card was declined again (`payment_declined`); the debt stays", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown account (`account_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No saved card (`conflict`), or the first request with this key is still running (`request_in_progress`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used for another request (`idempotency_key_reused`) or invalid id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled, or the gateway's answer is unknown (`gateway_unavailable`; the recovery worker finishes the charge)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn settle_debt(
    State(state): State<ApiState>,
    Extension(api_key): Extension<ApiKey>,
    ApiPath(raw): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let id = account_id(&raw)?;
    let scope = format!("{}:settle-debt", api_key.id);
    // Settling is itself idempotent (it retries debts and finishes pending
    // lines), so a repeat after the first request died simply runs it again
    // once that request's claims have lapsed.
    let resume_after = state.payments.as_ref().map(|p| p.settings().recovery_after);
    let call = match idempotency::begin(&state, scope, key, &id.to_string(), resume_after).await? {
        IdempotentCall::Repeat(answer) => return Ok(stored_response(answer)),
        IdempotentCall::New(call) | IdempotentCall::Resume(call, _) => call,
    };
    // Stored whatever it is, so a repeat gets the same answer; the account
    // (GET) shows what changed since.
    let answer = call
        .complete(settle(&state, id).await, StatusCode::OK)
        .await?;
    Ok(stored_response(answer))
}

async fn settle(state: &ApiState, id: AccountId) -> ApiResult<AccountDetail> {
    let service = service(state)?;
    let lines = service.settle_account_debt(id).await?;
    for line in &lines {
        match line.status {
            ChargeStatus::Debt => {
                let code = match line.payment_id {
                    Some(p) => state.store.get_payment(p).await?.and_then(|d| {
                        d.steps.into_iter().rev().find_map(|s| match s.status {
                            StepStatus::Failed { code, .. } => Some(code),
                            _ => None,
                        })
                    }),
                    None => None,
                };
                return Err(ApiError::PaymentDeclined {
                    code: code.unwrap_or_else(|| "card_declined".to_owned()),
                });
            }
            ChargeStatus::Pending => return Err(ApiError::GatewayUnavailable),
            ChargeStatus::Paid => {}
        }
    }
    detail(state, id).await
}
