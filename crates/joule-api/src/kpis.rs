//! `/api/v1/kpis/payments`: payment KPIs per channel or per site, for the
//! ChargeX payment-reliability reports (STANDARDS.md §1.1, §1.3;
//! docs/payments.md "Payment KPIs").

use axum::extract::State;
use axum::Json;
use joule_domain::payments::payment::{payment_kpis, KpiGrouping};

use crate::dto::kpi::{KpiQuery, PaymentKpiReport, SUCCESS_RATE_DEFINITION};
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Problem};
use crate::ApiState;

/// Payment KPIs over `[from, to)`: authorization attempts, approvals,
/// success rate, declines by code, captures, voids and captured amounts
/// per currency, per channel or per site.
#[utoipa::path(
    get, path = "/api/v1/kpis/payments", tag = "payments",
    params(KpiQuery),
    responses(
        (status = 200, description = "The KPIs", body = PaymentKpiReport),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn payment_kpi_report(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> ApiResult<Json<PaymentKpiReport>> {
    let (from, to, grouping) = query.parse(state.clock.now())?;
    let tallies = state.store.payment_step_tallies(from, to).await?;
    Ok(Json(PaymentKpiReport {
        from,
        to,
        group_by: match grouping {
            KpiGrouping::Channel => "channel",
            KpiGrouping::Site => "site",
        }
        .to_owned(),
        success_rate_definition: SUCCESS_RATE_DEFINITION.to_owned(),
        groups: payment_kpis(&tallies, grouping)
            .into_iter()
            .map(Into::into)
            .collect(),
    }))
}
