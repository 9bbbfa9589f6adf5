//! The receipt email queue (`ReceiptEmailStore`).

use super::holds::payment_exists;
use super::sql::{get, map_rows, pg, R};
use super::PgStore;
use crate::statements;
use crate::values::corrupt;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::kernel::error::StoreError;
use joule_domain::payments::payment::PaymentId;
use joule_domain::ports::store::StoreResult;
use joule_domain::receipts::email::{
    EmailAddress, ReceiptEmail, ReceiptEmailJob, ReceiptEmailOutcome, ReceiptEmailState,
};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

macro_rules! email_cols {
    () => {
        "payment_id, address, state, attempts, resent_after_crash, next_attempt_at, sent_at, \
         last_error, updated_at"
    };
}

#[async_trait]
impl joule_domain::ports::store::ReceiptEmailStore for PgStore {
    async fn set_receipt_email(
        &self,
        payment: PaymentId,
        address: &joule_domain::receipts::email::EmailAddress,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => async {
            if !payment_exists(c, payment).await? {
                return Err(StoreError::NotFound { entity: "payment" });
            }
            let written = sqlx::query(
                statements::SET_RECEIPT_EMAIL,
            )
            .bind(payment.as_uuid())
            .bind(address.as_str())
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected();
            if written == 0 {
                return Err(StoreError::Conflict {
                    entity: "receipt email",
                });
            }
            Ok(())
        })
    }

    async fn receipt_email_due(&self, payment: PaymentId, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => async {
            Ok(sqlx::query(
                "UPDATE receipt_emails SET state = 'due', next_attempt_at = $2, updated_at = $2 \
                 WHERE payment_id = $1 AND state = 'waiting'",
            )
            .bind(payment.as_uuid())
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected()
                > 0)
        })
    }

    async fn claim_receipt_emails(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<joule_domain::receipts::email::ReceiptEmailJob>> {
        in_tx!(self, c => async {
            // A second crash while sending the same email: give up rather than
            // risk a third copy.
            sqlx::query(
                "UPDATE receipt_emails SET state = 'failed', updated_at = $1, \
                 last_error = 'the sender stopped twice while sending; not sent again' \
                 WHERE state = 'sending' AND claimed_at < $2 AND resent_after_crash",
            )
            .bind(now)
            .bind(stale_before)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let rows = sqlx::query(concat!(
                "UPDATE receipt_emails SET \
                 resent_after_crash = (resent_after_crash OR state = 'sending'), \
                 state = 'sending', attempts = attempts + 1, claimed_at = $1, updated_at = $1 \
                 WHERE payment_id IN (SELECT payment_id FROM receipt_emails \
                     WHERE (state = 'due' AND next_attempt_at <= $1) \
                        OR (state = 'sending' AND claimed_at < $2) \
                     ORDER BY next_attempt_at, payment_id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 RETURNING ",
                email_cols!()
            ))
            .bind(now)
            .bind(stale_before)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            let emails = map_rows(rows, email_row)?;
            Ok(emails
                .into_iter()
                .filter_map(|e| {
                    e.address.map(|address| ReceiptEmailJob {
                        payment_id: e.payment_id,
                        address,
                        attempt: e.attempts,
                    })
                })
                .collect())
        })
    }

    async fn finish_receipt_email(
        &self,
        payment: PaymentId,
        outcome: joule_domain::receipts::email::ReceiptEmailOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, c => async {
            let outcome = &outcome;
            let id = payment.as_uuid();
            let query = match outcome {
                ReceiptEmailOutcome::Sent => sqlx::query(
                    "UPDATE receipt_emails SET state = 'sent', address = NULL, sent_at = $2, \
                     last_error = NULL, updated_at = $2 WHERE payment_id = $1",
                )
                .bind(id)
                .bind(at),
                ReceiptEmailOutcome::Retry { at: next, error } => sqlx::query(
                    "UPDATE receipt_emails SET state = 'due', next_attempt_at = $3, last_error = $4, \
                     updated_at = $2 WHERE payment_id = $1 AND state = 'sending'",
                )
                .bind(id)
                .bind(at)
                .bind(*next)
                .bind(error.clone()),
                ReceiptEmailOutcome::Failed { error } => sqlx::query(
                    "UPDATE receipt_emails SET state = 'failed', last_error = $3, updated_at = $2 \
                     WHERE payment_id = $1 AND state = 'sending'",
                )
                .bind(id)
                .bind(at)
                .bind(error.clone()),
            };
            let changed = query.execute(&mut *c).await.map_err(pg)?.rows_affected();
            if changed == 0 && receipt_email(c, payment).await?.is_none() {
                return Err(StoreError::NotFound {
                    entity: "receipt email",
                });
            }
            Ok(())
        })
    }

    async fn receipt_email(
        &self,
        payment: PaymentId,
    ) -> StoreResult<Option<joule_domain::receipts::email::ReceiptEmail>> {
        on_conn!(self, c => receipt_email(c, payment))
    }
}

pub(super) fn email_row(row: &PgRow) -> R<ReceiptEmail> {
    let state: String = get(row, 2)?;
    Ok(ReceiptEmail {
        payment_id: PaymentId::from_uuid(get::<Uuid>(row, 0)?),
        address: get::<Option<String>>(row, 1)?
            .map(|a| EmailAddress::parse(&a).map_err(corrupt))
            .transpose()?,
        state: ReceiptEmailState::parse(&state).ok_or_else(|| corrupt("receipt email state"))?,
        attempts: u32::try_from(get::<i32>(row, 3)?).map_err(corrupt)?,
        resent_after_crash: get(row, 4)?,
        next_attempt_at: get(row, 5)?,
        sent_at: get(row, 6)?,
        last_error: get(row, 7)?,
        updated_at: get(row, 8)?,
    })
}

pub(crate) async fn receipt_email(
    c: &mut PgConnection,
    payment: PaymentId,
) -> R<Option<ReceiptEmail>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        email_cols!(),
        " FROM receipt_emails WHERE payment_id = $1"
    ))
    .bind(payment.as_uuid())
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?;
    row.as_ref().map(email_row).transpose()
}
