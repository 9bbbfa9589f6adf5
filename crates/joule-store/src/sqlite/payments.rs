//! Payments, their steps, claims and remote starts (`PaymentStore`).

use super::outbox::insert_event;
use super::sql::{
    collect, connector, db, exec, get, get_opt_ts, get_ts, limit_offset, one, opt_ts, ts,
    unique_as_conflict, R,
};
use super::SqliteStore;
use crate::events;
use crate::payments::{self as pc, Applied, ClaimRow, FinishWrite, PaymentRow, StartRow, StepRow};
use crate::statements;
use crate::values::corrupt;
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
use rusqlite::{params, Connection, Row};

#[async_trait]
impl PaymentStore for SqliteStore {
    async fn create_payment(&self, new: NewPayment) -> StoreResult<Payment> {
        self.write(move |c| create_payment(c, &new)).await
    }

    async fn get_payment(&self, id: PaymentId) -> StoreResult<Option<PaymentDetail>> {
        self.read(move |c| get_payment(c, id)).await
    }

    async fn list_payments(
        &self,
        filter: PaymentFilter,
        page: Page,
    ) -> StoreResult<Paged<Payment>> {
        self.read(move |c| {
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let rows = collect(
                c,
                concat!(
                    "SELECT ",
                    payment_cols!(),
                    " FROM payments WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR channel = ?2) \
                     AND (?3 IS NULL OR charger_id = ?3) AND (?4 IS NULL OR session_id = ?4) \
                     AND (?7 IS NULL OR ?7 = EXISTS (SELECT 1 FROM payment_flags f \
                                                     WHERE f.payment_id = payments.id)) \
                     ORDER BY created_at DESC, id DESC LIMIT ?5 OFFSET ?6"
                ),
                params![
                    filter.state.map(|s| s.as_str()),
                    filter.channel.map(|c| c.as_str()),
                    filter.charger_id.as_ref().map(|c| c.as_str()),
                    filter.session_id.map(|s| s.to_string()),
                    limit,
                    offset,
                    filter.flagged,
                ],
                payment_row,
            )?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn payment_by_gateway_ref(
        &self,
        gateway: &str,
        gateway_ref: &str,
    ) -> StoreResult<Option<Payment>> {
        let (gateway, gateway_ref) = (gateway.to_owned(), gateway_ref.to_owned());
        self.read(move |c| {
            let gateway = &gateway;
            let gateway_ref = &gateway_ref;
            one(
                c,
                statements::PAYMENT_BY_GATEWAY_REF,
                params![gateway, gateway_ref],
                payment_row,
            )
        })
        .await
    }

    async fn payment_by_receipt_token(&self, token: &ReceiptToken) -> StoreResult<Option<Payment>> {
        let token = token.clone();
        self.read(move |c| {
            let token = &token;
            one(
                c,
                statements::PAYMENT_BY_RECEIPT_TOKEN,
                [token.as_str()],
                payment_row,
            )
        })
        .await
    }

    async fn payment_for_session(&self, session: SessionId) -> StoreResult<Option<Payment>> {
        self.read(move |c| {
            one(
                c,
                statements::PAYMENT_FOR_SESSION,
                [session.to_string()],
                payment_row,
            )
        })
        .await
    }

    async fn set_gateway_ref(
        &self,
        id: PaymentId,
        gateway_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        let gateway_ref = gateway_ref.to_owned();
        self.write(move |c| {
            let gateway_ref = &gateway_ref;
            let mut p = require_payment(c, id)?.payment;
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
            write_payment(c, &p)?;
            insert_event(c, &events::ev_gateway_ref_recorded(&p, at))?;
            Ok(p)
        })
        .await
    }

    async fn link_session(
        &self,
        id: PaymentId,
        session: SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        self.write(move |c| link_session(c, id, session, at)).await
    }

    async fn intend_step(
        &self,
        id: PaymentId,
        request: StepRequest,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentStep, StepError>> {
        let claim = *claim;
        self.write(move |c| {
            let claim = &claim;
            let detail = require_payment(c, id)?;
            if !payment::check_holder(claim_of(c, id)?.as_ref(), claim) {
                return Ok(Err(StepError::NotClaimHolder));
            }
            let step = match payment::plan(&detail.payment, &detail.steps, request, at) {
                Ok(step) => step,
                Err(refused) => return Ok(Err(refused)),
            };
            insert_step(c, &step)?;
            insert_event(c, &events::ev_step_intended(&detail.payment, &step))?;
            Ok(Ok(step))
        })
        .await
    }

    async fn finish_step(
        &self,
        id: PaymentId,
        seq: u32,
        outcome: StepOutcome,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail> {
        let claim = *claim;
        self.write(move |c| {
            let outcome = &outcome;
            let claim = &claim;
            let detail = require_payment(c, id)?;
            if !payment::check_holder(claim_of(c, id)?.as_ref(), claim) {
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
                    exec(
                        c,
                        "UPDATE payment_steps SET status = ?3, failure_code = ?4, failure_message = ?5, \
                         gateway_ref = ?6, finished_at = ?7 WHERE payment_id = ?1 AND seq = ?2",
                        params![
                            id.to_string(),
                            seq,
                            status,
                            code,
                            message,
                            step.gateway_ref,
                            opt_ts(step.finished_at),
                        ],
                    )?;
                    write_payment(c, &payment)?;
                    insert_event(c, &event)?;
                    require_payment(c, id)
                }
            }
        })
        .await
    }

    async fn claim_payment(
        &self,
        id: PaymentId,
        request: ClaimRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<Result<PaymentDetail, ClaimHeld>> {
        self.write(move |c| {
            let request = &request;
            let detail = require_payment(c, id)?;
            let claim = match payment::may_claim(id, claim_of(c, id)?.as_ref(), request, at) {
                Ok(claim) => claim,
                Err(held) => return Ok(Err(held)),
            };
            exec(
                c,
                statements::CLAIM_PAYMENT,
                params![
                    id.to_string(),
                    claim.owner.as_str(),
                    claim.token.to_string(),
                    ts(claim.claimed_at),
                    ts(claim.expires_at),
                ],
            )?;
            Ok(Ok(detail))
        })
        .await
    }

    async fn flag_payment(
        &self,
        id: PaymentId,
        reason: &str,
        detail: &str,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<PaymentDetail> {
        let (reason, detail, claim) = (reason.to_owned(), detail.to_owned(), *claim);
        self.write(move |c| {
            let reason = &reason;
            let detail = &detail;
            let claim = &claim;
            require_payment(c, id)?;
            if !payment::check_holder(claim_of(c, id)?.as_ref(), claim) {
                return Err(pc::not_claim_holder());
            }
            exec(
                c,
                statements::FLAG_PAYMENT,
                params![id.to_string(), reason, detail, ts(at)],
            )?;
            require_payment(c, id)
        })
        .await
    }

    async fn release_payment_claim(&self, id: PaymentId, token: &ClaimToken) -> StoreResult<()> {
        let token = *token;
        self.write(move |c| {
            let token = &token;
            exec(
                c,
                statements::RELEASE_PAYMENT_CLAIM,
                params![id.to_string(), token.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    async fn payment_claim(&self, id: PaymentId) -> StoreResult<Option<PaymentClaim>> {
        self.read(move |c| claim_of(c, id)).await
    }

    async fn remote_start(&self, id: PaymentId) -> StoreResult<Option<RemoteStart>> {
        self.read(move |c| remote_start(c, id)).await
    }

    async fn record_remote_start(
        &self,
        id: PaymentId,
        status: StartStatus,
        claim: &ClaimToken,
        at: DateTime<Utc>,
    ) -> StoreResult<RemoteStart> {
        let claim = *claim;
        self.write(move |c| {
            let claim = &claim;
            require_payment(c, id)?;
            if !payment::check_holder(claim_of(c, id)?.as_ref(), claim) {
                return Err(pc::not_claim_holder());
            }
            let next = RemoteStart::next(id, remote_start(c, id)?.as_ref(), status, at);
            exec(
                c,
                statements::RECORD_REMOTE_START,
                params![
                    id.to_string(),
                    next.status.as_str(),
                    next.attempts,
                    next.may_have_started,
                    ts(next.first_at),
                    ts(next.updated_at),
                ],
            )?;
            Ok(next)
        })
        .await
    }

    async fn payments_awaiting_start(
        &self,
        authorized_after: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Payment>> {
        self.read(move |c| {
            collect(
                c,
                statements::PAYMENTS_AWAITING_START,
                params![ts(authorized_after), i64::from(limit)],
                payment_row,
            )
        })
        .await
    }

    async fn payments_with_unfinished_steps(
        &self,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PaymentDetail>> {
        self.read(move |c| {
            let ids = collect(
                c,
                statements::PAYMENTS_WITH_UNFINISHED_STEPS,
                params![ts(older_than), i64::from(limit)],
                |row| payment_id(&get::<String>(row, 0)?),
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.extend(get_payment(c, id)?);
            }
            Ok(out)
        })
        .await
    }

    async fn authorized_holds_older_than(
        &self,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StaleHold>> {
        self.read(move |c| {
            collect(
                c,
                statements::AUTHORIZED_HOLDS_OLDER_THAN,
                params![ts(at), i64::from(limit)],
                |row| {
                    let never_started: bool = get(row, 24)?;
                    Ok(StaleHold {
                        payment: payment_row(row)?,
                        reason: if never_started {
                            StaleHoldReason::SessionNeverStarted
                        } else {
                            StaleHoldReason::SessionEnded
                        },
                    })
                },
            )
        })
        .await
    }

    async fn open_payment_for_id_tag(
        &self,
        charger: &ChargerId,
        id_tag: &IdToken,
    ) -> StoreResult<Option<Payment>> {
        let (charger, id_tag) = (charger.clone(), id_tag.clone());
        self.read(move |c| {
            let charger = &charger;
            let id_tag = &id_tag;
            one(
                c,
                statements::OPEN_PAYMENT_FOR_ID_TAG,
                params![id_tag.as_str(), charger.as_str()],
                payment_row,
            )
        })
        .await
    }

    async fn payment_kpis(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ChannelKpis>> {
        self.read(move |c| {
            let rows = collect(
                c,
                statements::PAYMENT_KPIS,
                params![ts(from), ts(to)],
                |row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?, get(row, 3)?)),
            )?;
            pc::fold_kpis(rows)
        })
        .await
    }

    async fn payment_step_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<joule_domain::payments::payment::StepTally>> {
        self.read(move |c| {
            let sql = pc::tally_sql!("?1", "?2");
            let rows = collect(c, sql, params![ts(from), ts(to)], |row| {
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
        .await
    }
}

pub(super) fn payment_id(raw: &str) -> R<PaymentId> {
    PaymentId::parse(raw).map_err(corrupt)
}

pub(super) fn payment_row(row: &Row<'_>) -> R<Payment> {
    PaymentRow {
        id: payment_id(&get::<String>(row, 0)?)?,
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
        card_exp_month: get(row, 11)?,
        card_exp_year: get(row, 12)?,
        charger_id: get(row, 13)?,
        connector_id: connector(get(row, 14)?)?,
        session_id: get::<Option<String>>(row, 15)?
            .as_deref()
            .map(|s| SessionId::parse(s).map_err(corrupt))
            .transpose()?,
        account_id: get(row, 16)?,
        terminal_id: get(row, 17)?,
        hold_limit_policy: get(row, 18)?,
        receipt_token: get(row, 19)?,
        language: get(row, 20)?,
        created_at: get_ts(row, 21)?,
        updated_at: get_ts(row, 22)?,
        id_tag: get(row, 23)?,
    }
    .into_payment()
}

pub(super) fn step_row(row: &Row<'_>) -> R<PaymentStep> {
    StepRow {
        payment_id: payment_id(&get::<String>(row, 0)?)?,
        seq: get(row, 1)?,
        kind: get(row, 2)?,
        amount_minor: get(row, 3)?,
        idempotency_key: get(row, 4)?,
        status: get(row, 5)?,
        failure_code: get(row, 6)?,
        failure_message: get(row, 7)?,
        gateway_ref: get(row, 8)?,
        intended_at: get_ts(row, 9)?,
        finished_at: get_opt_ts(row, 10)?,
    }
    .into_step()
}

pub(super) fn payment_only(c: &Connection, id: PaymentId) -> R<Option<Payment>> {
    one(c, statements::PAYMENT_ONLY, [id.to_string()], payment_row)
}

pub(super) fn steps_of(c: &Connection, id: PaymentId) -> R<Vec<PaymentStep>> {
    collect(c, statements::STEPS_OF, [id.to_string()], step_row)
}

pub(crate) fn get_payment(c: &Connection, id: PaymentId) -> R<Option<PaymentDetail>> {
    let Some(payment) = payment_only(c, id)? else {
        return Ok(None);
    };
    let steps = steps_of(c, id)?;
    let flag = flag_of(c, id)?;
    Ok(Some(PaymentDetail {
        payment,
        steps,
        flag,
    }))
}

pub(super) fn flag_of(c: &Connection, id: PaymentId) -> R<Option<PaymentFlag>> {
    one(c, statements::FLAG_OF, [id.to_string()], |row| {
        Ok(PaymentFlag {
            reason: get(row, 0)?,
            detail: get(row, 1)?,
            flagged_at: get_ts(row, 2)?,
        })
    })
}

pub(super) fn require_payment(c: &Connection, id: PaymentId) -> R<PaymentDetail> {
    get_payment(c, id)?.ok_or(StoreError::NotFound { entity: "payment" })
}

pub(crate) fn create_payment(c: &Connection, new: &NewPayment) -> R<Payment> {
    let p = new.clone().into_payment();
    let (brand, last4, exp_month, exp_year) = pc::card_cols(p.card.as_ref());
    c.prepare_cached(statements::CREATE_PAYMENT)
        .map_err(db)?
        .execute(params![
            p.id.to_string(),
            p.channel.as_str(),
            p.gateway,
            p.gateway_payment_ref,
            p.currency.code(),
            p.authorized_minor,
            p.captured_minor,
            p.refunded_minor,
            p.state.as_str(),
            brand,
            last4,
            exp_month,
            exp_year,
            p.charger_id.as_str(),
            p.connector_id.get(),
            p.session_id.map(|s| s.to_string()),
            p.account_id,
            p.terminal_id,
            p.hold_limit_policy.as_str(),
            p.receipt_token.as_str(),
            p.language,
            ts(p.created_at),
            p.id_tag.as_ref().map(|t| t.as_str()),
        ])
        .map_err(unique_as_conflict("payment"))?;
    let stored = payment_only(c, p.id)?.ok_or(StoreError::NotFound { entity: "payment" })?;
    insert_event(c, &events::ev_payment_created(&stored))?;
    Ok(stored)
}

/// Writes every mutable column of `p`.
pub(super) fn write_payment(c: &Connection, p: &Payment) -> R<()> {
    let (brand, last4, exp_month, exp_year) = pc::card_cols(p.card.as_ref());
    c.prepare_cached(
        "UPDATE payments SET gateway_payment_ref = ?2, authorized_minor = ?3, \
         captured_minor = ?4, refunded_minor = ?5, state = ?6, card_brand = ?7, \
         card_last4 = ?8, card_exp_month = ?9, card_exp_year = ?10, session_id = ?11, \
         updated_at = ?12 WHERE id = ?1",
    )
    .map_err(db)?
    .execute(params![
        p.id.to_string(),
        p.gateway_payment_ref,
        p.authorized_minor,
        p.captured_minor,
        p.refunded_minor,
        p.state.as_str(),
        brand,
        last4,
        exp_month,
        exp_year,
        p.session_id.map(|s| s.to_string()),
        ts(p.updated_at),
    ])
    .map_err(unique_as_conflict("payment gateway reference"))?;
    Ok(())
}

pub(crate) fn consumer_cursor(c: &Connection, consumer: &str) -> R<i64> {
    Ok(one(c, statements::CONSUMER_CURSOR, [consumer], |row| {
        get::<i64>(row, 0)
    })?
    .unwrap_or(0))
}

pub(crate) fn set_consumer_cursor(
    c: &Connection,
    consumer: &str,
    last_event_id: i64,
    at: DateTime<Utc>,
) -> R<()> {
    exec(
        c,
        "INSERT INTO consumer_cursors (name, last_event_id, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (name) DO UPDATE SET last_event_id = excluded.last_event_id, \
         updated_at = excluded.updated_at \
         WHERE excluded.last_event_id > consumer_cursors.last_event_id",
        params![consumer, last_event_id, ts(at)],
    )?;
    Ok(())
}

pub(crate) fn link_session(
    c: &Connection,
    id: PaymentId,
    session: SessionId,
    at: DateTime<Utc>,
) -> R<Payment> {
    let detail = require_payment(c, id)?;
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
    let (charger, connector_id): (String, i64) =
        one(c, statements::LINK_SESSION, [session.to_string()], |row| {
            Ok((get(row, 0)?, get(row, 1)?))
        })?
        .ok_or(StoreError::NotFound { entity: "session" })?;
    pc::same_connector(
        &p,
        &charger,
        i64::from(p.connector_id.get()) == connector_id,
    )?;
    p.session_id = Some(session);
    p.updated_at = at;
    write_payment(c, &p)?;
    insert_event(c, &events::ev_session_linked(&p, at))?;
    Ok(p)
}

pub(super) fn insert_step(c: &Connection, s: &PaymentStep) -> R<()> {
    let (status, code, message) = pc::status_cols(&s.status);
    c.prepare_cached(statements::INSERT_STEP)
        .map_err(db)?
        .execute(params![
            s.payment_id.to_string(),
            s.seq,
            s.kind.as_str(),
            s.amount_minor,
            s.idempotency_key.as_str(),
            status,
            code,
            message,
            s.gateway_ref,
            ts(s.intended_at),
            opt_ts(s.finished_at),
        ])
        .map_err(unique_as_conflict("payment step"))?;
    Ok(())
}

pub(super) fn claim_of(c: &Connection, id: PaymentId) -> R<Option<PaymentClaim>> {
    one(c, statements::CLAIM_OF, [id.to_string()], |row| {
        ClaimRow {
            payment_id: payment_id(&get::<String>(row, 0)?)?,
            owner: get(row, 1)?,
            token: get(row, 2)?,
            claimed_at: get_ts(row, 3)?,
            expires_at: get_ts(row, 4)?,
        }
        .into_claim()
    })
}

pub(crate) fn remote_start(c: &Connection, id: PaymentId) -> R<Option<RemoteStart>> {
    one(c, statements::REMOTE_START, [id.to_string()], |row| {
        StartRow {
            payment_id: payment_id(&get::<String>(row, 0)?)?,
            status: get(row, 1)?,
            attempts: get(row, 2)?,
            may_have_started: get(row, 3)?,
            first_at: get_ts(row, 4)?,
            updated_at: get_ts(row, 5)?,
        }
        .into_start()
    })
}
