//! Payments, their steps, claims and remote starts (`PaymentStore`).

use super::outbox::insert_event;
use super::sql::{cid, connector, get, limit_offset, map_rows, pg, unique_as_conflict, R};
use super::PgStore;
use crate::events;
use crate::payments::{self as pc, Applied, ClaimRow, FinishWrite, PaymentRow, StartRow, StepRow};
use crate::statements;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, IdToken, SessionId};
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::payments::payment;
use joule_domain::payments::payment::{
    ChannelKpis, ClaimHeld, ClaimRequest, ClaimToken, NewPayment, Payment, PaymentClaim,
    PaymentDetail, PaymentFilter, PaymentFlag, PaymentId, PaymentStep, ReceiptToken, RemoteStart,
    StaleHold, StaleHoldReason, StartStatus, StepError, StepOutcome, StepRequest,
};
use joule_domain::ports::store::{PaymentStore, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

#[async_trait]
impl PaymentStore for PgStore {
    async fn create_payment(&self, new: NewPayment) -> StoreResult<Payment> {
        in_tx!(self, c => create_payment(c, &new))
    }

    async fn get_payment(&self, id: PaymentId) -> StoreResult<Option<PaymentDetail>> {
        on_conn!(self, c => async {
            detail(c, id, false).await
        })
    }

    async fn list_payments(
        &self,
        filter: PaymentFilter,
        page: Page,
    ) -> StoreResult<Paged<Payment>> {
        on_conn!(self, c => async {
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(concat!(
                "SELECT ",
                payment_cols!(),
                " FROM payments WHERE ($1::text IS NULL OR state = $1) \
                 AND ($2::text IS NULL OR channel = $2) AND ($3::text IS NULL OR charger_id = $3) \
                 AND ($4::uuid IS NULL OR session_id = $4) \
                 AND ($7::bool IS NULL OR $7 = EXISTS (SELECT 1 FROM payment_flags f \
                                                       WHERE f.payment_id = payments.id)) \
                 ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
            ))
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.channel.map(|c| c.as_str()))
            .bind(filter.charger_id.as_ref().map(|c| c.as_str()))
            .bind(filter.session_id.map(|s| s.as_uuid()))
            .bind(limit)
            .bind(offset)
            .bind(filter.flagged)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Paged::from_overfetch(map_rows(rows, payment_row)?, page))
        })
    }

    async fn payment_by_gateway_ref(
        &self,
        gateway: &str,
        gateway_ref: &str,
    ) -> StoreResult<Option<Payment>> {
        on_conn!(self, c => async {
            let (gateway, gateway_ref) = (gateway.to_owned(), gateway_ref.to_owned());
            one_payment(
                c,
                statements::PAYMENT_BY_GATEWAY_REF,
                |q| q.bind(gateway).bind(gateway_ref),
            )
            .await
        })
    }

    async fn payment_by_receipt_token(&self, token: &ReceiptToken) -> StoreResult<Option<Payment>> {
        on_conn!(self, c => async {
            let token = token.as_str().to_owned();
            one_payment(
                c,
                statements::PAYMENT_BY_RECEIPT_TOKEN,
                |q| q.bind(token),
            )
            .await
        })
    }

    async fn payment_for_session(&self, session: SessionId) -> StoreResult<Option<Payment>> {
        on_conn!(self, c => async {
            one_payment(
                c,
                statements::PAYMENT_FOR_SESSION,
                |q| q.bind(session.as_uuid()),
            )
            .await
        })
    }

    async fn set_gateway_ref(
        &self,
        id: PaymentId,
        gateway_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        in_tx!(self, c => async {
            let mut p = lock_payment(c, id).await?.payment;
            match p.gateway_payment_ref.as_deref() {
                Some(r) if r == gateway_ref => return Ok(p),
                Some(_) => {
                    return Err(StoreError::Conflict {
                        entity: "payment gateway reference",
                    })
                }
                None => {}
            }
            p.gateway_payment_ref = Some(gateway_ref.to_owned());
            p.updated_at = at;
            write_payment(c, &p).await?;
            insert_event(c, &events::ev_gateway_ref_recorded(&p, at)).await?;
            Ok(p)
        })
    }

    async fn link_session(
        &self,
        id: PaymentId,
        session: SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        in_tx!(self, c => link_session(c, id, session, at))
    }

    async fn intend_step(
        &self,
        id: PaymentId,
        request: StepRequest,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentStep, StepError>> {
        in_tx!(self, c => async {
            let detail = lock_payment(c, id).await?;
            if !payment::check_holder(claim_of(c, id).await?.as_ref(), claim) {
                return Ok(Err(StepError::NotClaimHolder));
            }
            let step = match payment::plan(&detail.payment, &detail.steps, request, at) {
                Ok(step) => step,
                Err(refused) => return Ok(Err(refused)),
            };
            insert_step(c, &step).await?;
            insert_event(c, &events::ev_step_intended(&detail.payment, &step)).await?;
            Ok(Ok(step))
        })
    }

    async fn finish_step(
        &self,
        id: PaymentId,
        seq: u32,
        outcome: StepOutcome,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail> {
        in_tx!(self, c => async {
            let outcome = &outcome;
            let detail = lock_payment(c, id).await?;
            if !payment::check_holder(claim_of(c, id).await?.as_ref(), claim) {
                return Err(pc::not_claim_holder());
            }
            match pc::decide_finish(&detail, seq, outcome, at)? {
                FinishWrite::Unchanged => Ok(detail),
                FinishWrite::Apply(applied) => {
                    let Applied {
                        payment,
                        step,
                        event,
                    } = *applied;
                    let (status, code, message) = pc::status_cols(&step.status);
                    sqlx::query(
                        "UPDATE payment_steps SET status = $3, failure_code = $4, failure_message = $5, \
                         gateway_ref = $6, finished_at = $7 WHERE payment_id = $1 AND seq = $2",
                    )
                    .bind(id.as_uuid())
                    .bind(seq_i32(seq)?)
                    .bind(status)
                    .bind(code)
                    .bind(message)
                    .bind(&step.gateway_ref)
                    .bind(step.finished_at)
                    .execute(&mut *c)
                    .await
                    .map_err(pg)?;
                    write_payment(c, &payment).await?;
                    let detail = lock_payment(c, id).await?;
                    insert_event(c, &event).await?;
                    Ok(detail)
                }
            }
        })
    }

    async fn claim_payment(
        &self,
        id: PaymentId,
        request: ClaimRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentDetail, ClaimHeld>> {
        in_tx!(self, c => async {
            let request = &request;
            // The payment row's lock orders this claim with every step write.
            let detail = lock_payment(c, id).await?;
            let claim = match payment::may_claim(id, claim_of(c, id).await?.as_ref(), request, at) {
                Ok(claim) => claim,
                Err(held) => return Ok(Err(held)),
            };
            sqlx::query(
                statements::CLAIM_PAYMENT,
            )
            .bind(id.as_uuid())
            .bind(claim.owner.as_str())
            .bind(claim.token.as_uuid())
            .bind(claim.claimed_at)
            .bind(claim.expires_at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Ok(detail))
        })
    }

    async fn flag_payment(
        &self,
        id: PaymentId,
        reason: &str,
        detail: &str,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail> {
        in_tx!(self, c => async {
            lock_payment(c, id).await?;
            if !payment::check_holder(claim_of(c, id).await?.as_ref(), claim) {
                return Err(pc::not_claim_holder());
            }
            sqlx::query(
                statements::FLAG_PAYMENT,
            )
            .bind(id.as_uuid())
            .bind(reason)
            .bind(detail)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            lock_payment(c, id).await
        })
    }

    async fn release_payment_claim(&self, id: PaymentId, token: &ClaimToken) -> StoreResult<()> {
        on_conn!(self, c => async {
            sqlx::query(statements::RELEASE_PAYMENT_CLAIM)
                .bind(id.as_uuid())
                .bind(token.as_uuid())
                .execute(&mut *c)
                .await
                .map_err(pg)?;
            Ok(())
        })
    }

    async fn payment_claim(&self, id: PaymentId) -> StoreResult<Option<PaymentClaim>> {
        on_conn!(self, c => claim_of(c, id))
    }

    async fn remote_start(&self, id: PaymentId) -> StoreResult<Option<RemoteStart>> {
        on_conn!(self, c => remote_start(c, id))
    }

    async fn record_remote_start(
        &self,
        id: PaymentId,
        status: StartStatus,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<RemoteStart> {
        in_tx!(self, c => async {
            lock_payment(c, id).await?;
            if !payment::check_holder(claim_of(c, id).await?.as_ref(), claim) {
                return Err(pc::not_claim_holder());
            }
            let next = RemoteStart::next(id, remote_start(c, id).await?.as_ref(), status, at);
            sqlx::query(
                statements::RECORD_REMOTE_START,
            )
            .bind(id.as_uuid())
            .bind(next.status.as_str())
            .bind(i32::try_from(next.attempts).unwrap_or(i32::MAX))
            .bind(next.may_have_started)
            .bind(next.first_at)
            .bind(next.updated_at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            Ok(next)
        })
    }

    async fn payments_awaiting_start(
        &self,
        authorized_after: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Payment>> {
        on_conn!(self, c => async {
            sqlx::query(statements::PAYMENTS_AWAITING_START)
            .bind(authorized_after)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?
            .iter()
            .map(payment_row)
            .collect()
        })
    }

    async fn payments_with_unfinished_steps(
        &self,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PaymentDetail>> {
        on_conn!(self, c => async {
            let ids: Vec<Uuid> = sqlx::query_scalar(
                statements::PAYMENTS_WITH_UNFINISHED_STEPS,
            )
            .bind(older_than)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.extend(detail(c, PaymentId::from_uuid(id), false).await?);
            }
            Ok(out)
        })
    }

    async fn authorized_holds_older_than(
        &self,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StaleHold>> {
        on_conn!(self, c => async {
            let rows = sqlx::query(statements::AUTHORIZED_HOLDS_OLDER_THAN)
            .bind(at)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            map_rows(rows, |row| {
                let never_started: bool = get(row, 24)?;
                Ok(StaleHold {
                    payment: payment_row(row)?,
                    reason: if never_started {
                        StaleHoldReason::SessionNeverStarted
                    } else {
                        StaleHoldReason::SessionEnded
                    },
                })
            })
        })
    }

    async fn open_payment_for_id_tag(
        &self,
        charger: &ChargerId,
        id_tag: &IdToken,
    ) -> StoreResult<Option<Payment>> {
        on_conn!(self, c => async {
            sqlx::query(statements::OPEN_PAYMENT_FOR_ID_TAG)
            .bind(id_tag.as_str())
            .bind(charger.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .as_ref()
            .map(payment_row)
            .transpose()
        })
    }

    async fn payment_kpis(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ChannelKpis>> {
        on_conn!(self, c => async {
            let rows = sqlx::query(
                statements::PAYMENT_KPIS,
            )
            .bind(from)
            .bind(to)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            let rows = map_rows(rows, |row| {
                Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?, get(row, 3)?))
            })?;
            pc::fold_kpis(rows)
        })
    }

    async fn payment_step_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<joule_domain::payments::payment::StepTally>> {
        on_conn!(self, c => async {
            let sql = pc::tally_sql!("$1", "$2");
            let rows = sqlx::query(sql)
                .bind(from)
                .bind(to)
                .fetch_all(&mut *c)
                .await
                .map_err(pg)?;
            let rows = map_rows(rows, |row| {
                Ok((
                    get(row, 0)?,
                    get(row, 1)?,
                    get(row, 2)?,
                    get(row, 3)?,
                    get(row, 4)?,
                    get(row, 5)?,
                    get(row, 6)?,
                    get(row, 7)?,
                ))
            })?;
            pc::fold_tallies(rows)
        })
    }
}

pub(super) fn payment_row(row: &PgRow) -> R<Payment> {
    PaymentRow {
        id: PaymentId::from_uuid(get(row, 0)?),
        channel: get(row, 1)?,
        gateway: get(row, 2)?,
        gateway_payment_ref: get(row, 3)?,
        currency: get(row, 4)?,
        authorized_minor: get(row, 5)?,
        captured_minor: get(row, 6)?,
        refunded_minor: get(row, 7)?,
        state: get(row, 8)?,
        card_brand: get(row, 9)?,
        card_last4: get(row, 10)?,
        card_exp_month: get::<Option<i32>>(row, 11)?.map(i64::from),
        card_exp_year: get::<Option<i32>>(row, 12)?.map(i64::from),
        charger_id: get(row, 13)?,
        connector_id: connector(get(row, 14)?)?,
        session_id: get::<Option<Uuid>>(row, 15)?.map(SessionId::from_uuid),
        account_id: get(row, 16)?,
        terminal_id: get(row, 17)?,
        hold_limit_policy: get(row, 18)?,
        receipt_token: get(row, 19)?,
        language: get(row, 20)?,
        created_at: get(row, 21)?,
        updated_at: get(row, 22)?,
        id_tag: get(row, 23)?,
    }
    .into_payment()
}

pub(super) fn step_row(row: &PgRow) -> R<PaymentStep> {
    StepRow {
        payment_id: PaymentId::from_uuid(get(row, 0)?),
        seq: i64::from(get::<i32>(row, 1)?),
        kind: get(row, 2)?,
        amount_minor: get(row, 3)?,
        idempotency_key: get(row, 4)?,
        status: get(row, 5)?,
        failure_code: get(row, 6)?,
        failure_message: get(row, 7)?,
        gateway_ref: get(row, 8)?,
        intended_at: get(row, 9)?,
        finished_at: get(row, 10)?,
    }
    .into_step()
}

pub(super) fn seq_i32(seq: u32) -> R<i32> {
    i32::try_from(seq).map_err(|_| StoreError::NotFound {
        entity: "payment step",
    })
}

pub(super) fn opt_i32(v: Option<i64>) -> Option<i32> {
    v.and_then(|v| i32::try_from(v).ok())
}

pub(super) async fn payment_only(
    c: &mut PgConnection,
    id: PaymentId,
    lock: bool,
) -> R<Option<Payment>> {
    let sql = if lock {
        concat!(
            "SELECT ",
            payment_cols!(),
            " FROM payments WHERE id = $1 FOR UPDATE"
        )
    } else {
        statements::PAYMENT_ONLY
    };
    sqlx::query(sql)
        .bind(id.as_uuid())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(payment_row)
        .transpose()
}

pub(super) async fn steps_of(c: &mut PgConnection, id: PaymentId) -> R<Vec<PaymentStep>> {
    let rows = sqlx::query(statements::STEPS_OF)
        .bind(id.as_uuid())
        .fetch_all(&mut *c)
        .await
        .map_err(pg)?;
    map_rows(rows, step_row)
}

pub(super) async fn detail(
    c: &mut PgConnection,
    id: PaymentId,
    lock: bool,
) -> R<Option<PaymentDetail>> {
    let Some(payment) = payment_only(c, id, lock).await? else {
        return Ok(None);
    };
    let steps = steps_of(c, id).await?;
    let flag = flag_of(c, id).await?;
    Ok(Some(PaymentDetail {
        payment,
        steps,
        flag,
    }))
}

pub(super) async fn flag_of(c: &mut PgConnection, id: PaymentId) -> R<Option<PaymentFlag>> {
    sqlx::query(statements::FLAG_OF)
        .bind(id.as_uuid())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .map(|row| {
            Ok(PaymentFlag {
                reason: get(&row, 0)?,
                detail: get(&row, 1)?,
                flagged_at: get(&row, 2)?,
            })
        })
        .transpose()
}

/// The payment and its steps, its row locked until the transaction ends.
pub(super) async fn lock_payment(c: &mut PgConnection, id: PaymentId) -> R<PaymentDetail> {
    detail(c, id, true)
        .await?
        .ok_or(StoreError::NotFound { entity: "payment" })
}

pub(crate) async fn create_payment(c: &mut PgConnection, new: &NewPayment) -> R<Payment> {
    let p = new.clone().into_payment();
    let (brand, last4, exp_month, exp_year) = pc::card_cols(p.card.as_ref());
    sqlx::query(statements::CREATE_PAYMENT)
        .bind(p.id.as_uuid())
        .bind(p.channel.as_str())
        .bind(&p.gateway)
        .bind(&p.gateway_payment_ref)
        .bind(p.currency.code())
        .bind(p.authorized_minor)
        .bind(p.captured_minor)
        .bind(p.refunded_minor)
        .bind(p.state.as_str())
        .bind(brand)
        .bind(last4)
        .bind(opt_i32(exp_month))
        .bind(opt_i32(exp_year))
        .bind(p.charger_id.as_str())
        .bind(cid(p.connector_id))
        .bind(p.session_id.map(|s| s.as_uuid()))
        .bind(&p.account_id)
        .bind(&p.terminal_id)
        .bind(p.hold_limit_policy.as_str())
        .bind(p.receipt_token.as_str())
        .bind(&p.language)
        .bind(p.created_at)
        .bind(p.id_tag.as_ref().map(|t| t.as_str().to_owned()))
        .execute(&mut *c)
        .await
        .map_err(unique_as_conflict("payment"))?;
    let stored = payment_only(c, p.id, false)
        .await?
        .ok_or(StoreError::NotFound { entity: "payment" })?;
    insert_event(c, &events::ev_payment_created(&stored)).await?;
    Ok(stored)
}

pub(crate) async fn consumer_cursor(c: &mut PgConnection, consumer: &str) -> R<i64> {
    let row = sqlx::query(statements::CONSUMER_CURSOR)
        .bind(consumer)
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?;
    match row {
        Some(row) => get(&row, 0),
        None => Ok(0),
    }
}

pub(crate) async fn set_consumer_cursor(
    c: &mut PgConnection,
    consumer: &str,
    last_event_id: i64,
    at: DateTime<Utc>,
) -> R<()> {
    sqlx::query(
        "INSERT INTO consumer_cursors (name, last_event_id, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET last_event_id = EXCLUDED.last_event_id, \
         updated_at = EXCLUDED.updated_at \
         WHERE EXCLUDED.last_event_id > consumer_cursors.last_event_id",
    )
    .bind(consumer)
    .bind(last_event_id)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}

/// Writes every mutable column of `p`.
pub(super) async fn write_payment(c: &mut PgConnection, p: &Payment) -> R<()> {
    let (brand, last4, exp_month, exp_year) = pc::card_cols(p.card.as_ref());
    sqlx::query(
        "UPDATE payments SET gateway_payment_ref = $2, authorized_minor = $3, \
         captured_minor = $4, refunded_minor = $5, state = $6, card_brand = $7, \
         card_last4 = $8, card_exp_month = $9, card_exp_year = $10, session_id = $11, \
         updated_at = $12 WHERE id = $1",
    )
    .bind(p.id.as_uuid())
    .bind(&p.gateway_payment_ref)
    .bind(p.authorized_minor)
    .bind(p.captured_minor)
    .bind(p.refunded_minor)
    .bind(p.state.as_str())
    .bind(brand)
    .bind(last4)
    .bind(opt_i32(exp_month))
    .bind(opt_i32(exp_year))
    .bind(p.session_id.map(|s| s.as_uuid()))
    .bind(p.updated_at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_conflict("payment gateway reference"))?;
    Ok(())
}

pub(super) async fn one_payment(
    c: &mut PgConnection,
    sql: &'static str,
    bind: impl FnOnce(
        sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> R<Option<Payment>> {
    bind(sqlx::query(sql))
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(payment_row)
        .transpose()
}

pub(crate) async fn link_session(
    c: &mut PgConnection,
    id: PaymentId,
    session: SessionId,
    at: DateTime<Utc>,
) -> R<Payment> {
    let detail = lock_payment(c, id).await?;
    let mut p = detail.payment;
    match p.session_id {
        Some(s) if s == session => return Ok(p),
        Some(_) => {
            return Err(StoreError::Conflict {
                entity: "payment session",
            })
        }
        None => {}
    }
    pc::hold_usable(&p, &detail.steps)?;
    let row = sqlx::query(statements::LINK_SESSION)
        .bind(session.as_uuid())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .ok_or(StoreError::NotFound { entity: "session" })?;
    let charger: String = get(&row, 0)?;
    let connector_id: i32 = get(&row, 1)?;
    pc::same_connector(&p, &charger, cid(p.connector_id) == connector_id)?;
    p.session_id = Some(session);
    p.updated_at = at;
    write_payment(c, &p).await?;
    insert_event(c, &events::ev_session_linked(&p, at)).await?;
    Ok(p)
}

pub(super) async fn insert_step(c: &mut PgConnection, s: &PaymentStep) -> R<()> {
    let (status, code, message) = pc::status_cols(&s.status);
    sqlx::query(statements::INSERT_STEP)
        .bind(s.payment_id.as_uuid())
        .bind(seq_i32(s.seq)?)
        .bind(s.kind.as_str())
        .bind(s.amount_minor)
        .bind(s.idempotency_key.as_str())
        .bind(status)
        .bind(code)
        .bind(message)
        .bind(&s.gateway_ref)
        .bind(s.intended_at)
        .bind(s.finished_at)
        .execute(&mut *c)
        .await
        .map_err(unique_as_conflict("payment step"))?;
    Ok(())
}

pub(crate) async fn claim_of(c: &mut PgConnection, id: PaymentId) -> R<Option<PaymentClaim>> {
    sqlx::query(statements::CLAIM_OF)
        .bind(id.as_uuid())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .map(|row| {
            ClaimRow {
                payment_id: PaymentId::from_uuid(get(&row, 0)?),
                owner: get(&row, 1)?,
                token: get::<Uuid>(&row, 2)?.to_string(),
                claimed_at: get(&row, 3)?,
                expires_at: get(&row, 4)?,
            }
            .into_claim()
        })
        .transpose()
}

pub(crate) async fn remote_start(c: &mut PgConnection, id: PaymentId) -> R<Option<RemoteStart>> {
    sqlx::query(statements::REMOTE_START)
        .bind(id.as_uuid())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .map(|row| {
            StartRow {
                payment_id: PaymentId::from_uuid(get(&row, 0)?),
                status: get(&row, 1)?,
                attempts: i64::from(get::<i32>(&row, 2)?),
                may_have_started: get(&row, 3)?,
                first_at: get(&row, 4)?,
                updated_at: get(&row, 5)?,
            }
            .into_start()
        })
        .transpose()
}
