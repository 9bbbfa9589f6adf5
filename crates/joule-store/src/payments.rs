//! What both backends share for payments: rows decoded into domain types
//! (`PaymentRow`, `StepRow`, claims and remote starts), the checks a hold
//! must pass, and the decision of what finishing a step writes
//! ([`decide_finish`]), which each backend only applies.

use crate::values::{corrupt, parse_or_corrupt};
use chrono::{DateTime, Utc};
use joule_domain::events::event::NewEvent;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ConnectorId, IdToken, SessionId};
use joule_domain::kernel::money::Currency;
use joule_domain::payments::card::CardSummary;
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_domain::payments::payment::{
    self, Payment, PaymentChannel, PaymentDetail, PaymentId, PaymentState, PaymentStep,
    ReceiptToken, StepKind, StepOutcome, StepStatus,
};
use joule_domain::pricing::HoldLimitPolicy;

pub(crate) type R<T> = Result<T, StoreError>;

/// A `payments` row with backend types already converted.
pub(crate) struct PaymentRow {
    pub id: PaymentId,
    pub channel: String,
    pub gateway: String,
    pub gateway_payment_ref: Option<String>,
    pub currency: String,
    pub authorized_minor: i64,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub state: String,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub card_exp_month: Option<i64>,
    pub card_exp_year: Option<i64>,
    pub charger_id: String,
    pub connector_id: ConnectorId,
    pub session_id: Option<SessionId>,
    pub account_id: Option<String>,
    pub terminal_id: Option<String>,
    pub hold_limit_policy: String,
    pub receipt_token: String,
    pub language: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub id_tag: Option<String>,
}

impl PaymentRow {
    pub(crate) fn into_payment(self) -> R<Payment> {
        let card = match (self.card_brand, self.card_last4) {
            (Some(brand), Some(last4)) => Some(
                CardSummary::new(
                    brand,
                    last4,
                    self.card_exp_month.and_then(|m| u8::try_from(m).ok()),
                    self.card_exp_year.and_then(|y| u16::try_from(y).ok()),
                )
                .ok_or_else(|| corrupt("payment card last4"))?,
            ),
            _ => None,
        };
        Ok(Payment {
            id: self.id,
            channel: parse_or_corrupt(&self.channel, "payment channel", PaymentChannel::parse)?,
            gateway: self.gateway,
            gateway_payment_ref: self.gateway_payment_ref,
            currency: Currency::parse(&self.currency).map_err(corrupt)?,
            authorized_minor: self.authorized_minor,
            captured_minor: self.captured_minor,
            refunded_minor: self.refunded_minor,
            state: parse_or_corrupt(&self.state, "payment state", PaymentState::parse)?,
            card,
            charger_id: crate::values::charger_id(&self.charger_id)?,
            connector_id: self.connector_id,
            session_id: self.session_id,
            account_id: self.account_id,
            terminal_id: self.terminal_id,
            hold_limit_policy: parse_or_corrupt(
                &self.hold_limit_policy,
                "hold limit policy",
                HoldLimitPolicy::parse,
            )?,
            receipt_token: ReceiptToken::parse(&self.receipt_token).map_err(corrupt)?,
            language: self.language,
            id_tag: self
                .id_tag
                .as_deref()
                .map(|t| IdToken::parse(t).map_err(corrupt))
                .transpose()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A `payment_steps` row with backend types already converted.
pub(crate) struct StepRow {
    pub payment_id: PaymentId,
    pub seq: i64,
    pub kind: String,
    pub amount_minor: i64,
    pub idempotency_key: String,
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub gateway_ref: Option<String>,
    pub intended_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl StepRow {
    pub(crate) fn into_step(self) -> R<PaymentStep> {
        let status = match self.status.as_str() {
            "intended" => StepStatus::Intended,
            "succeeded" => StepStatus::Succeeded,
            "failed" => StepStatus::Failed {
                code: self.failure_code.unwrap_or_default(),
                message: self.failure_message.unwrap_or_default(),
            },
            other => return Err(corrupt(format!("payment step status {other:?}"))),
        };
        Ok(PaymentStep {
            payment_id: self.payment_id,
            seq: u32::try_from(self.seq).map_err(|_| corrupt("payment step seq"))?,
            kind: parse_or_corrupt(&self.kind, "payment step kind", StepKind::parse)?,
            amount_minor: self.amount_minor,
            idempotency_key: IdempotencyKey::from_stored(self.idempotency_key),
            status,
            gateway_ref: self.gateway_ref,
            intended_at: self.intended_at,
            finished_at: self.finished_at,
        })
    }
}

/// The card's four columns.
pub(crate) fn card_cols(
    card: Option<&CardSummary>,
) -> (Option<&str>, Option<&str>, Option<i64>, Option<i64>) {
    match card {
        Some(c) => (
            Some(c.brand.as_str()),
            Some(c.last4.as_str()),
            c.exp_month.map(i64::from),
            c.exp_year.map(i64::from),
        ),
        None => (None, None, None, None),
    }
}

/// A step status's three columns: status, failure code, failure message.
pub(crate) fn status_cols(s: &StepStatus) -> (&'static str, Option<&str>, Option<&str>) {
    match s {
        StepStatus::Intended => ("intended", None, None),
        StepStatus::Succeeded => ("succeeded", None, None),
        StepStatus::Failed { code, message } => {
            ("failed", Some(code.as_str()), Some(message.as_str()))
        }
    }
}

/// A payment pays for a session on its own charger and connector only.
pub(crate) fn same_connector(p: &Payment, session_charger: &str, same_connector: bool) -> R<()> {
    if p.charger_id.as_str() == session_charger && same_connector {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            entity: "payment session",
        })
    }
}

/// A session may only be linked to a payment that can still pay for it:
/// not released or failed, and no release in progress (issue 9: a late
/// StartTransaction and the sweeper's release cannot both win).
pub(crate) fn hold_usable(p: &Payment, steps: &[PaymentStep]) -> R<()> {
    let releasing = steps
        .iter()
        .any(|s| s.kind == StepKind::Void && !s.is_finished());
    let closed = matches!(p.state, PaymentState::Voided | PaymentState::Failed);
    if !closed && !releasing {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            entity: "payment hold",
        })
    }
}

// ---- finishing a step ----------------------------------------------------

/// The writes of a step that finishes now.
pub(crate) struct Applied {
    pub payment: Payment,
    pub step: PaymentStep,
    pub event: NewEvent,
}

/// What finishing a step must write.
pub(crate) enum FinishWrite {
    /// The step was already finished with this outcome: write nothing.
    Unchanged,
    /// Write the payment and the step, then the event.
    Apply(Box<Applied>),
}

/// Decides what finishing step `seq` of `detail` with `outcome` writes.
pub(crate) fn decide_finish(
    detail: &PaymentDetail,
    seq: u32,
    outcome: &StepOutcome,
    at: DateTime<Utc>,
) -> R<FinishWrite> {
    let step = detail
        .steps
        .iter()
        .find(|s| s.seq == seq)
        .ok_or(StoreError::NotFound {
            entity: "payment step",
        })?;
    if step.is_finished() {
        return if outcome.matches(step) {
            Ok(FinishWrite::Unchanged)
        } else {
            Err(StoreError::Conflict {
                entity: "payment step",
            })
        };
    }
    // Only a broken invariant in stored data makes finish refuse an open
    // step (the step was planned against this very payment).
    let (payment, step) = payment::finish(&detail.payment, step, outcome, at)
        .map_err(|e| corrupt(format!("payment {} step {seq}: {e}", detail.payment.id)))?;
    let event = crate::events::ev_step_finished(&payment, &step, at);
    Ok(FinishWrite::Apply(Box::new(Applied {
        payment,
        step,
        event,
    })))
}

/// KPI rows, as `(channel, kind, status, count)` from a GROUP BY, folded
/// into one entry per channel.
pub(crate) fn fold_kpis(rows: Vec<(String, String, String, i64)>) -> R<Vec<payment::ChannelKpis>> {
    let mut out: Vec<payment::ChannelKpis> = PaymentChannel::ALL
        .into_iter()
        .map(payment::ChannelKpis::empty)
        .collect();
    for (channel, kind, status, n) in rows {
        let channel = parse_or_corrupt(&channel, "payment channel", PaymentChannel::parse)?;
        let kind = parse_or_corrupt(&kind, "payment step kind", StepKind::parse)?;
        let n = u64::try_from(n).unwrap_or(0);
        let Some(k) = out.iter_mut().find(|k| k.channel == channel) else {
            continue;
        };
        let ok = status == "succeeded";
        match kind {
            StepKind::Authorize => {
                k.authorization_attempts += n;
                if ok {
                    k.authorization_successes += n;
                }
            }
            StepKind::ChargeOffSession => {
                k.authorization_attempts += n;
                if ok {
                    k.authorization_successes += n;
                    k.captures += n;
                }
            }
            StepKind::Capture if ok => k.captures += n,
            StepKind::Void if ok => k.voids += n,
            _ => {}
        }
    }
    Ok(out)
}

/// A row of the step tally query: channel, site, kind, status, failure
/// code, currency, count, summed amount.
pub(crate) type TallyRow = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
);

/// The SQL of [`fold_tallies`]'s rows, the same on both backends but for
/// the placeholders of `from` and `to` (a static string, as sqlx wants).
macro_rules! tally_sql {
    ($from:literal, $to:literal) => {
        concat!(
            "SELECT p.channel, c.site_id, st.kind, st.status, st.failure_code, p.currency, ",
            "COUNT(*), CAST(COALESCE(SUM(st.amount_minor), 0) AS BIGINT) ",
            "FROM payment_steps st JOIN payments p ON p.id = st.payment_id ",
            "LEFT JOIN chargers c ON c.id = p.charger_id ",
            "WHERE st.intended_at >= ",
            $from,
            " AND st.intended_at < ",
            $to,
            " ",
            "GROUP BY p.channel, c.site_id, st.kind, st.status, st.failure_code, p.currency"
        )
    };
}
pub(crate) use tally_sql;

pub(crate) fn fold_tallies(rows: Vec<TallyRow>) -> R<Vec<payment::StepTally>> {
    rows.into_iter()
        .map(
            |(channel, site_id, kind, status, failure_code, currency, n, sum)| {
                Ok(payment::StepTally {
                    channel: parse_or_corrupt(&channel, "payment channel", PaymentChannel::parse)?,
                    site_id,
                    kind: parse_or_corrupt(&kind, "payment step kind", StepKind::parse)?,
                    outcome: parse_or_corrupt(
                        &status,
                        "payment step status",
                        payment::TallyOutcome::parse,
                    )?,
                    failure_code,
                    currency,
                    count: u64::try_from(n).map_err(|_| corrupt("step count"))?,
                    amount_minor: sum,
                })
            },
        )
        .collect()
}

// ---- API idempotency ---------------------------------------------------

/// What `begin` returns once the row is inserted or found.
pub(crate) fn begin_outcome(
    inserted: bool,
    record: joule_domain::access::api_idempotency::IdempotencyRecord,
    request_hash: &str,
) -> R<joule_domain::access::api_idempotency::IdempotencyBegin> {
    use joule_domain::access::api_idempotency::IdempotencyBegin;
    if inserted {
        return Ok(IdempotencyBegin::New(record));
    }
    if record.request_hash != request_hash {
        return Err(StoreError::Conflict {
            entity: "idempotency key",
        });
    }
    Ok(if record.response.is_some() {
        IdempotencyBegin::Completed(record)
    } else {
        IdempotencyBegin::InProgress(record)
    })
}

/// `Some(record)` when it is already completed with this response (nothing
/// to write); `Conflict` when completed with another; `None` to write.
pub(crate) fn already_completed(
    record: joule_domain::access::api_idempotency::IdempotencyRecord,
    status: u16,
    body: &serde_json::Value,
) -> R<Option<joule_domain::access::api_idempotency::IdempotencyRecord>> {
    match &record.response {
        None => Ok(None),
        Some(r) if r.status == status && r.body == *body => Ok(Some(record)),
        Some(_) => Err(StoreError::Conflict {
            entity: "idempotency key",
        }),
    }
}

// ---- claims and remote starts (issue 9) ------------------------------------

/// A `payment_claims` row with backend types already converted.
pub(crate) struct ClaimRow {
    pub payment_id: PaymentId,
    pub owner: String,
    pub token: String,
    pub claimed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl ClaimRow {
    pub(crate) fn into_claim(self) -> R<payment::PaymentClaim> {
        Ok(payment::PaymentClaim {
            payment_id: self.payment_id,
            owner: payment::ClaimOwner::parse(&self.owner)
                .ok_or_else(|| corrupt("payment claim owner"))?,
            token: payment::ClaimToken::parse(&self.token)
                .ok_or_else(|| corrupt("payment claim token"))?,
            claimed_at: self.claimed_at,
            expires_at: self.expires_at,
        })
    }
}

/// A `payment_starts` row with backend types already converted.
pub(crate) struct StartRow {
    pub payment_id: PaymentId,
    pub status: String,
    pub attempts: i64,
    pub may_have_started: bool,
    pub first_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StartRow {
    pub(crate) fn into_start(self) -> R<payment::RemoteStart> {
        Ok(payment::RemoteStart {
            payment_id: self.payment_id,
            status: payment::StartStatus::parse(&self.status)
                .ok_or_else(|| corrupt("payment start status"))?,
            attempts: u32::try_from(self.attempts)
                .map_err(|_| corrupt("payment start attempts"))?,
            may_have_started: self.may_have_started,
            first_at: self.first_at,
            updated_at: self.updated_at,
        })
    }
}

/// The refusal of a write by an actor that does not hold the claim.
pub(crate) fn not_claim_holder() -> StoreError {
    StoreError::Conflict {
        entity: payment::CLAIM_ENTITY,
    }
}
