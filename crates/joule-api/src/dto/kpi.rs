//! `GET /api/v1/kpis/payments`: payment KPIs per channel or per site.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use joule_domain::payments::payment::{self as domain, KpiGrouping};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// Longest range one request may count over.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The range when `from` is not given: the 30 days before `to`.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

/// How the payment authorization success rate is defined (STANDARDS.md
/// §1.3), repeated in every answer so a report is never read without it.
pub const SUCCESS_RATE_DEFINITION: &str = "approvals / authorization_attempts: authorize and \
charge_off_session steps intended in [from, to); an attempt that failed for any reason \
(declined, abandoned before a card was confirmed, cancelled) counts as not approved; \
attempts still in progress count in the denominator";

/// Query of `GET /api/v1/kpis/payments`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// Count steps intended at or after this instant (RFC 3339); default:
    /// 30 days before `to`.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// Count steps intended before this instant (RFC 3339); default: now.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    /// `channel` (default) or `site`.
    pub group_by: Option<String>,
}

impl KpiQuery {
    /// `[from, to)` and the grouping; `to` defaults to `now`.
    pub fn parse(
        self,
        now: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>, KpiGrouping), ApiError> {
        let mut errors = QueryErrors::new();
        let from = errors.time("from", self.from.as_deref());
        let to = errors.time("to", self.to.as_deref());
        let grouping = errors.opt("group_by", self.group_by.as_deref(), |raw| {
            KpiGrouping::parse(raw).ok_or("must be channel or site")
        });
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - chrono::Duration::days(DEFAULT_RANGE_DAYS));
        if from >= to {
            errors.push("to", "must be after from");
        } else if to - from > chrono::Duration::days(MAX_RANGE_DAYS) {
            errors.push(
                "from",
                format!("the range may be at most {MAX_RANGE_DAYS} days"),
            );
        }
        errors.finish()?;
        Ok((from, to, grouping.unwrap_or(KpiGrouping::Channel)))
    }
}

/// One group's payment KPIs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentKpis {
    /// `web`, `terminal` or `account` (grouping by channel).
    pub channel: Option<String>,
    /// The site id (grouping by site); null for chargers in no site.
    pub site_id: Option<String>,
    /// `authorize` and `charge_off_session` steps intended in the range.
    pub authorization_attempts: u64,
    /// Attempts the gateway approved.
    pub approvals: u64,
    /// Attempts that failed, for any reason.
    pub declines: u64,
    /// Attempts not finished yet.
    pub in_progress: u64,
    /// `approvals / authorization_attempts` (0 to 1); null without attempts.
    pub success_rate: Option<f64>,
    /// Failed attempts per failure code (`card_declined`,
    /// `insufficient_funds`, `abandoned`, …).
    pub declines_by_code: BTreeMap<String, u64>,
    /// Succeeded captures and off-session charges.
    pub captures: u64,
    /// Succeeded voids (holds released without payment).
    pub voids: u64,
    /// Captured amount per currency (ISO 4217 → minor units); refunds are
    /// not subtracted.
    pub captured_minor: BTreeMap<String, i64>,
}

impl From<domain::PaymentKpiGroup> for PaymentKpis {
    fn from(g: domain::PaymentKpiGroup) -> Self {
        Self {
            channel: g.channel.map(|c| c.as_str().to_owned()),
            site_id: g.site_id,
            authorization_attempts: g.authorization_attempts,
            approvals: g.approvals,
            declines: g.declines,
            in_progress: g.in_progress,
            success_rate: g.success_rate,
            declines_by_code: g.declines_by_code,
            captures: g.captures,
            voids: g.voids,
            captured_minor: g.captured_minor,
        }
    }
}

/// The answer of `GET /api/v1/kpis/payments`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentKpiReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `channel` or `site`.
    pub group_by: String,
    /// How `success_rate` is computed.
    pub success_rate_definition: String,
    /// By channel: web, terminal, account, always all three. By site: every
    /// site with steps in the range, by id, then chargers in no site.
    pub groups: Vec<PaymentKpis>,
}
