//! The SQL of payments, their steps and API idempotency records on SQLite.
//! Writes run in the single writer's transaction, so reading the payment,
//! deciding with the domain's state machine and writing cannot interleave
//! with another write.

use chrono::{DateTime, Utc};
use joule_domain::api_idempotency::{
    IdempotencyBegin, IdempotencyRecord, NewIdempotencyRecord, StoredResponse,
};
use joule_domain::error::StoreError;
use joule_domain::ids::{ChargerId, IdTag, SessionId};
use joule_domain::page::{Page, Paged};
use joule_domain::payment::{
    self, ChannelKpis, NewPayment, Payment, PaymentDetail, PaymentFilter, PaymentId, PaymentStep,
    ReceiptToken, StaleHold, StaleHoldReason, StepError, StepOutcome, StepRequest,
};
use joule_domain::payment::{
    ClaimHeld, ClaimRequest, ClaimToken, PaymentClaim, PaymentFlag, RemoteStart, StartStatus,
};
use rusqlite::{params, Connection, Row};

use super::ops::{
    collect, connector, exec, get, get_opt_ts, get_ts, insert_event, limit_offset, one, opt_ts, ts,
    unique_as_conflict, R,
};
use crate::common::corrupt;
use crate::payment_common::{
    self as pc, Applied, ClaimRow, FinishWrite, PaymentRow, StartRow, StepRow,
};

fn payment_id(raw: &str) -> R<PaymentId> {
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

fn step_row(row: &Row<'_>) -> R<PaymentStep> {
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

fn payment_only(c: &Connection, id: PaymentId) -> R<Option<Payment>> {
    one(
        c,
        concat!("SELECT ", payment_cols!(), " FROM payments WHERE id = ?1"),
        [id.to_string()],
        payment_row,
    )
}

fn steps_of(c: &Connection, id: PaymentId) -> R<Vec<PaymentStep>> {
    collect(
        c,
        concat!(
            "SELECT ",
            step_cols!(),
            " FROM payment_steps WHERE payment_id = ?1 ORDER BY seq"
        ),
        [id.to_string()],
        step_row,
    )
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

fn flag_of(c: &Connection, id: PaymentId) -> R<Option<PaymentFlag>> {
    one(
        c,
        "SELECT reason, detail, flagged_at FROM payment_flags WHERE payment_id = ?1",
        [id.to_string()],
        |row| {
            Ok(PaymentFlag {
                reason: get(row, 0)?,
                detail: get(row, 1)?,
                flagged_at: get_ts(row, 2)?,
            })
        },
    )
}

pub(crate) fn flag_payment(
    c: &Connection,
    id: PaymentId,
    reason: &str,
    detail: &str,
    claim: &ClaimToken,
    at: DateTime<Utc>,
) -> R<PaymentDetail> {
    require_payment(c, id)?;
    if !payment::check_holder(claim_of(c, id)?.as_ref(), claim) {
        return Err(pc::not_claim_holder());
    }
    exec(
        c,
        "INSERT INTO payment_flags (payment_id, reason, detail, flagged_at) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (payment_id) DO NOTHING",
        params![id.to_string(), reason, detail, ts(at)],
    )?;
    require_payment(c, id)
}

fn require_payment(c: &Connection, id: PaymentId) -> R<PaymentDetail> {
    get_payment(c, id)?.ok_or(StoreError::NotFound { entity: "payment" })
}

pub(crate) fn create_payment(c: &Connection, new: &NewPayment) -> R<Payment> {
    let p = new.clone().into_payment();
    let (brand, last4, exp_month, exp_year) = pc::card_cols(p.card.as_ref());
    c.prepare_cached(concat!(
        "INSERT INTO payments (",
        payment_cols!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20, ?21, ?22, ?22, ?23)"
    ))
    .map_err(super::ops::db)?
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
    insert_event(c, &pc::ev_payment_created(&stored))?;
    Ok(stored)
}

/// Writes every mutable column of `p`.
fn write_payment(c: &Connection, p: &Payment) -> R<()> {
    let (brand, last4, exp_month, exp_year) = pc::card_cols(p.card.as_ref());
    c.prepare_cached(
        "UPDATE payments SET gateway_payment_ref = ?2, authorized_minor = ?3, \
         captured_minor = ?4, refunded_minor = ?5, state = ?6, card_brand = ?7, \
         card_last4 = ?8, card_exp_month = ?9, card_exp_year = ?10, session_id = ?11, \
         updated_at = ?12 WHERE id = ?1",
    )
    .map_err(super::ops::db)?
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

pub(crate) fn list_payments(
    c: &Connection,
    filter: &PaymentFilter,
    page: Page,
) -> R<Paged<Payment>> {
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
}

pub(crate) fn payment_by_gateway_ref(
    c: &Connection,
    gateway: &str,
    gateway_ref: &str,
) -> R<Option<Payment>> {
    one(
        c,
        concat!(
            "SELECT ",
            payment_cols!(),
            " FROM payments WHERE gateway = ?1 AND gateway_payment_ref = ?2"
        ),
        params![gateway, gateway_ref],
        payment_row,
    )
}

pub(crate) fn payment_by_receipt_token(c: &Connection, token: &ReceiptToken) -> R<Option<Payment>> {
    one(
        c,
        concat!(
            "SELECT ",
            payment_cols!(),
            " FROM payments WHERE receipt_token = ?1"
        ),
        [token.as_str()],
        payment_row,
    )
}

pub(crate) fn payment_for_session(c: &Connection, session: SessionId) -> R<Option<Payment>> {
    one(
        c,
        concat!(
            "SELECT ",
            payment_cols!(),
            " FROM payments WHERE session_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
        [session.to_string()],
        payment_row,
    )
}

pub(crate) fn open_payment_for_id_tag(
    c: &Connection,
    charger: &ChargerId,
    id_tag: &IdTag,
) -> R<Option<Payment>> {
    one(
        c,
        concat!(
            "SELECT ",
            payment_cols!(),
            " FROM payments WHERE id_tag = ?1 AND charger_id = ?2 AND state = 'authorized' \
             AND session_id IS NULL AND NOT EXISTS (SELECT 1 FROM payment_steps st \
             WHERE st.payment_id = payments.id AND st.status = 'intended' AND st.kind = 'void')"
        ),
        params![id_tag.as_str(), charger.as_str()],
        payment_row,
    )
}

pub(crate) fn consumer_cursor(c: &Connection, consumer: &str) -> R<i64> {
    Ok(one(
        c,
        "SELECT last_event_id FROM consumer_cursors WHERE name = ?1",
        [consumer],
        |row| get::<i64>(row, 0),
    )?
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

pub(crate) fn set_gateway_ref(
    c: &Connection,
    id: PaymentId,
    gateway_ref: &str,
    at: DateTime<Utc>,
) -> R<Payment> {
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
    insert_event(c, &pc::ev_gateway_ref_recorded(&p, at))?;
    Ok(p)
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
    let (charger, connector_id): (String, i64) = one(
        c,
        "SELECT charger_id, connector_id FROM sessions WHERE id = ?1",
        [session.to_string()],
        |row| Ok((get(row, 0)?, get(row, 1)?)),
    )?
    .ok_or(StoreError::NotFound { entity: "session" })?;
    pc::same_connector(
        &p,
        &charger,
        i64::from(p.connector_id.get()) == connector_id,
    )?;
    p.session_id = Some(session);
    p.updated_at = at;
    write_payment(c, &p)?;
    insert_event(c, &pc::ev_session_linked(&p, at))?;
    Ok(p)
}

fn insert_step(c: &Connection, s: &PaymentStep) -> R<()> {
    let (status, code, message) = pc::status_cols(&s.status);
    c.prepare_cached(concat!(
        "INSERT INTO payment_steps (",
        step_cols!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))
    .map_err(super::ops::db)?
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

pub(crate) fn intend_step(
    c: &Connection,
    id: PaymentId,
    request: StepRequest,
    claim: &ClaimToken,
    at: DateTime<Utc>,
) -> R<Result<PaymentStep, StepError>> {
    let detail = require_payment(c, id)?;
    if !payment::check_holder(claim_of(c, id)?.as_ref(), claim) {
        return Ok(Err(StepError::NotClaimHolder));
    }
    let step = match payment::plan(&detail.payment, &detail.steps, request, at) {
        Ok(step) => step,
        Err(refused) => return Ok(Err(refused)),
    };
    insert_step(c, &step)?;
    insert_event(c, &pc::ev_step_intended(&detail.payment, &step))?;
    Ok(Ok(step))
}

pub(crate) fn finish_step(
    c: &Connection,
    id: PaymentId,
    seq: u32,
    outcome: &StepOutcome,
    claim: &ClaimToken,
    at: DateTime<Utc>,
) -> R<PaymentDetail> {
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
}

pub(crate) fn payments_with_unfinished_steps(
    c: &Connection,
    older_than: DateTime<Utc>,
    limit: u32,
) -> R<Vec<PaymentDetail>> {
    let ids = collect(
        c,
        "SELECT payment_id FROM payment_steps WHERE status = 'intended' AND intended_at < ?1 \
         ORDER BY intended_at, payment_id LIMIT ?2",
        params![ts(older_than), i64::from(limit)],
        |row| payment_id(&get::<String>(row, 0)?),
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(get_payment(c, id)?);
    }
    Ok(out)
}

pub(crate) fn authorized_holds_older_than(
    c: &Connection,
    at: DateTime<Utc>,
    limit: u32,
) -> R<Vec<StaleHold>> {
    collect(
        c,
        concat!(
            "SELECT ",
            payment_cols!(),
            ", h.never_started FROM payments JOIN ( \
               SELECT p.id AS hold_id, p.session_id IS NULL AS never_started \
               FROM payments p LEFT JOIN sessions s ON s.id = p.session_id \
               WHERE p.state = 'authorized' \
               AND NOT EXISTS (SELECT 1 FROM payment_steps st \
                               WHERE st.payment_id = p.id AND st.status = 'intended') \
               AND NOT EXISTS (SELECT 1 FROM payment_flags f WHERE f.payment_id = p.id) \
               AND ((p.session_id IS NULL AND p.updated_at < ?1) \
                    OR (s.state = 'ended' AND s.updated_at < ?1)) \
             ) h ON h.hold_id = payments.id \
             ORDER BY updated_at, id LIMIT ?2"
        ),
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
}

pub(crate) fn payment_kpis(
    c: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> R<Vec<ChannelKpis>> {
    let rows = collect(
        c,
        "SELECT p.channel, st.kind, st.status, COUNT(*) FROM payment_steps st \
         JOIN payments p ON p.id = st.payment_id \
         WHERE st.intended_at >= ?1 AND st.intended_at < ?2 \
         GROUP BY p.channel, st.kind, st.status",
        params![ts(from), ts(to)],
        |row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?, get(row, 3)?)),
    )?;
    pc::fold_kpis(rows)
}

pub(crate) fn payment_step_tallies(
    c: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> R<Vec<payment::StepTally>> {
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
}

// ---- API idempotency ---------------------------------------------------------

fn idempotency_row(row: &Row<'_>) -> R<IdempotencyRecord> {
    let status: Option<i64> = get(row, 3)?;
    let body: Option<String> = get(row, 4)?;
    let response = match (status, body) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status).map_err(|_| corrupt("idempotency status"))?,
            body: serde_json::from_str(&body).map_err(corrupt)?,
        }),
        _ => None,
    };
    Ok(IdempotencyRecord {
        scope: get(row, 0)?,
        key: get(row, 1)?,
        request_hash: get(row, 2)?,
        response,
        created_at: get_ts(row, 5)?,
        completed_at: get_opt_ts(row, 6)?,
    })
}

fn idempotency_record(c: &Connection, scope: &str, key: &str) -> R<Option<IdempotencyRecord>> {
    one(
        c,
        "SELECT scope, key, request_hash, response_status, response_body, created_at, \
         completed_at FROM api_idempotency WHERE scope = ?1 AND key = ?2",
        params![scope, key],
        idempotency_row,
    )
}

pub(crate) fn begin_idempotent(c: &Connection, new: &NewIdempotencyRecord) -> R<IdempotencyBegin> {
    let inserted = exec(
        c,
        "INSERT INTO api_idempotency (scope, key, request_hash, created_at) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope, key) DO NOTHING",
        params![new.scope, new.key, new.request_hash, ts(new.created_at)],
    )? > 0;
    let record = idempotency_record(c, &new.scope, &new.key)?.ok_or(StoreError::NotFound {
        entity: "idempotency key",
    })?;
    pc::begin_outcome(inserted, record, &new.request_hash)
}

pub(crate) fn complete_idempotent(
    c: &Connection,
    scope: &str,
    key: &str,
    status: u16,
    body: &serde_json::Value,
    at: DateTime<Utc>,
) -> R<IdempotencyRecord> {
    let record = idempotency_record(c, scope, key)?.ok_or(StoreError::NotFound {
        entity: "idempotency key",
    })?;
    if let Some(done) = pc::already_completed(record, status, body)? {
        return Ok(done);
    }
    exec(
        c,
        "UPDATE api_idempotency SET response_status = ?3, response_body = ?4, completed_at = ?5 \
         WHERE scope = ?1 AND key = ?2",
        params![scope, key, i64::from(status), body.to_string(), ts(at)],
    )?;
    idempotency_record(c, scope, key)?.ok_or(StoreError::NotFound {
        entity: "idempotency key",
    })
}

pub(crate) fn release_idempotent(c: &Connection, scope: &str, key: &str) -> R<bool> {
    Ok(exec(
        c,
        "DELETE FROM api_idempotency WHERE scope = ?1 AND key = ?2 AND response_status IS NULL",
        params![scope, key],
    )? > 0)
}

// ---- claims and remote starts (issue 9) --------------------------------------

fn claim_of(c: &Connection, id: PaymentId) -> R<Option<PaymentClaim>> {
    one(
        c,
        "SELECT payment_id, owner, token, claimed_at, expires_at FROM payment_claims \
         WHERE payment_id = ?1",
        [id.to_string()],
        |row| {
            ClaimRow {
                payment_id: payment_id(&get::<String>(row, 0)?)?,
                owner: get(row, 1)?,
                token: get(row, 2)?,
                claimed_at: get_ts(row, 3)?,
                expires_at: get_ts(row, 4)?,
            }
            .into_claim()
        },
    )
}

pub(crate) fn payment_claim(c: &Connection, id: PaymentId) -> R<Option<PaymentClaim>> {
    claim_of(c, id)
}

pub(crate) fn claim_payment(
    c: &Connection,
    id: PaymentId,
    request: &ClaimRequest,
    at: DateTime<Utc>,
) -> R<Result<PaymentDetail, ClaimHeld>> {
    let detail = require_payment(c, id)?;
    let claim = match payment::may_claim(id, claim_of(c, id)?.as_ref(), request, at) {
        Ok(claim) => claim,
        Err(held) => return Ok(Err(held)),
    };
    exec(
        c,
        "INSERT INTO payment_claims (payment_id, owner, token, claimed_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (payment_id) DO UPDATE SET \
         owner = excluded.owner, token = excluded.token, claimed_at = excluded.claimed_at, \
         expires_at = excluded.expires_at",
        params![
            id.to_string(),
            claim.owner.as_str(),
            claim.token.to_string(),
            ts(claim.claimed_at),
            ts(claim.expires_at),
        ],
    )?;
    Ok(Ok(detail))
}

pub(crate) fn release_payment_claim(c: &Connection, id: PaymentId, token: &ClaimToken) -> R<()> {
    exec(
        c,
        "DELETE FROM payment_claims WHERE payment_id = ?1 AND token = ?2",
        params![id.to_string(), token.to_string()],
    )?;
    Ok(())
}

pub(crate) fn remote_start(c: &Connection, id: PaymentId) -> R<Option<RemoteStart>> {
    one(
        c,
        "SELECT payment_id, status, attempts, may_have_started, first_at, updated_at \
         FROM payment_starts WHERE payment_id = ?1",
        [id.to_string()],
        |row| {
            StartRow {
                payment_id: payment_id(&get::<String>(row, 0)?)?,
                status: get(row, 1)?,
                attempts: get(row, 2)?,
                may_have_started: get(row, 3)?,
                first_at: get_ts(row, 4)?,
                updated_at: get_ts(row, 5)?,
            }
            .into_start()
        },
    )
}

pub(crate) fn record_remote_start(
    c: &Connection,
    id: PaymentId,
    status: StartStatus,
    claim: &ClaimToken,
    at: DateTime<Utc>,
) -> R<RemoteStart> {
    require_payment(c, id)?;
    if !payment::check_holder(claim_of(c, id)?.as_ref(), claim) {
        return Err(pc::not_claim_holder());
    }
    let next = RemoteStart::next(id, remote_start(c, id)?.as_ref(), status, at);
    exec(
        c,
        "INSERT INTO payment_starts (payment_id, status, attempts, may_have_started, first_at, \
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (payment_id) DO UPDATE SET \
         status = excluded.status, attempts = excluded.attempts, \
         may_have_started = excluded.may_have_started, updated_at = excluded.updated_at",
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
}

pub(crate) fn payments_awaiting_start(
    c: &Connection,
    authorized_after: DateTime<Utc>,
    limit: u32,
) -> R<Vec<Payment>> {
    collect(
        c,
        concat!(
            "SELECT ",
            payment_cols!(),
            " FROM payments WHERE state = 'authorized' AND id_tag IS NOT NULL \
             AND session_id IS NULL AND updated_at > ?1 \
             AND NOT EXISTS (SELECT 1 FROM payment_steps st \
                             WHERE st.payment_id = payments.id AND st.status = 'intended') \
             AND NOT EXISTS (SELECT 1 FROM payment_starts ps WHERE ps.payment_id = payments.id \
                             AND ps.status IN ('accepted', 'refused')) \
             ORDER BY updated_at, id LIMIT ?2"
        ),
        params![ts(authorized_after), i64::from(limit)],
        payment_row,
    )
}
