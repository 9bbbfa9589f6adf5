//! The receipt email queue (`ReceiptEmailStore`).

use super::sql::{collect, exec, get, get_opt_ts, get_ts, one, opt_ts, ts, R};
use super::SqliteStore;
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
use rusqlite::{params, Connection, Row};

macro_rules! email_cols {
    () => {
        "payment_id, address, state, attempts, resent_after_crash, next_attempt_at, sent_at, \
         last_error, updated_at"
    };
}

#[async_trait]
impl joule_domain::ports::store::ReceiptEmailStore for SqliteStore {
    async fn set_receipt_email(
        &self,
        payment: PaymentId,
        address: &joule_domain::receipts::email::EmailAddress,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let address = address.clone();
        self.write(move |c| {
            let address = &address;
            let exists = one(
                c,
                "SELECT 1 FROM payments WHERE id = ?1",
                [payment.to_string()],
                |_| Ok(()),
            )?;
            if exists.is_none() {
                return Err(StoreError::NotFound { entity: "payment" });
            }
            let written = exec(
                c,
                statements::SET_RECEIPT_EMAIL,
                params![payment.to_string(), address.as_str(), ts(at)],
            )?;
            if written == 0 {
                return Err(StoreError::Conflict {
                    entity: "receipt email",
                });
            }
            Ok(())
        })
        .await
    }

    async fn receipt_email_due(&self, payment: PaymentId, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(move |c| {
            Ok(exec(
                c,
                "UPDATE receipt_emails SET state = 'due', next_attempt_at = ?2, updated_at = ?2 \
                 WHERE payment_id = ?1 AND state = 'waiting'",
                params![payment.to_string(), ts(at)],
            )? > 0)
        })
        .await
    }

    async fn claim_receipt_emails(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<joule_domain::receipts::email::ReceiptEmailJob>> {
        self.write(move |c| {
            // A second crash while sending the same email: give up rather than
            // risk a third copy.
            exec(
                c,
                "UPDATE receipt_emails SET state = 'failed', updated_at = ?1, \
                 last_error = 'the sender stopped twice while sending; not sent again' \
                 WHERE state = 'sending' AND claimed_at < ?2 AND resent_after_crash = 1",
                params![ts(now), ts(stale_before)],
            )?;
            let ids: Vec<String> = collect(
                c,
                "SELECT payment_id FROM receipt_emails \
                 WHERE (state = 'due' AND next_attempt_at <= ?1) \
                    OR (state = 'sending' AND claimed_at < ?2) \
                 ORDER BY next_attempt_at, payment_id LIMIT ?3",
                params![ts(now), ts(stale_before), i64::from(limit)],
                |row| get::<String>(row, 0),
            )?;
            let mut jobs = Vec::with_capacity(ids.len());
            for id in ids {
                exec(
                    c,
                    "UPDATE receipt_emails SET \
                     resent_after_crash = CASE WHEN state = 'sending' THEN 1 ELSE resent_after_crash END, \
                     state = 'sending', attempts = attempts + 1, claimed_at = ?2, updated_at = ?2 \
                     WHERE payment_id = ?1",
                    params![id, ts(now)],
                )?;
                let email = one(
                    c,
                    concat!(
                        "SELECT ",
                        email_cols!(),
                        " FROM receipt_emails WHERE payment_id = ?1"
                    ),
                    [id.as_str()],
                    email_row,
                )?
                .ok_or(StoreError::NotFound {
                    entity: "receipt email",
                })?;
                if let Some(address) = email.address {
                    jobs.push(ReceiptEmailJob {
                        payment_id: email.payment_id,
                        address,
                        attempt: email.attempts,
                    });
                }
            }
            Ok(jobs)
        })
        .await
    }

    async fn finish_receipt_email(
        &self,
        payment: PaymentId,
        outcome: joule_domain::receipts::email::ReceiptEmailOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(move |c| {
            let outcome = &outcome;
            let id = payment.to_string();
            let changed = match outcome {
                ReceiptEmailOutcome::Sent => exec(
                    c,
                    "UPDATE receipt_emails SET state = 'sent', address = NULL, sent_at = ?2, \
                     last_error = NULL, updated_at = ?2 WHERE payment_id = ?1",
                    params![id, ts(at)],
                )?,
                ReceiptEmailOutcome::Retry { at: next, error } => exec(
                    c,
                    "UPDATE receipt_emails SET state = 'due', next_attempt_at = ?3, last_error = ?4, \
                     updated_at = ?2 WHERE payment_id = ?1 AND state = 'sending'",
                    params![id, ts(at), opt_ts(Some(*next)), error],
                )?,
                ReceiptEmailOutcome::Failed { error } => exec(
                    c,
                    "UPDATE receipt_emails SET state = 'failed', last_error = ?3, updated_at = ?2 \
                     WHERE payment_id = ?1 AND state = 'sending'",
                    params![id, ts(at), error],
                )?,
            };
            if changed == 0 && receipt_email(c, payment)?.is_none() {
                return Err(StoreError::NotFound {
                    entity: "receipt email",
                });
            }
            Ok(())
        })
        .await
    }

    async fn receipt_email(
        &self,
        payment: PaymentId,
    ) -> StoreResult<Option<joule_domain::receipts::email::ReceiptEmail>> {
        self.read(move |c| receipt_email(c, payment)).await
    }
}

pub(super) fn email_row(row: &Row<'_>) -> R<ReceiptEmail> {
    let state: String = get(row, 2)?;
    Ok(ReceiptEmail {
        payment_id: PaymentId::parse(&get::<String>(row, 0)?).map_err(corrupt)?,
        address: get::<Option<String>>(row, 1)?
            .map(|a| EmailAddress::parse(&a).map_err(corrupt))
            .transpose()?,
        state: ReceiptEmailState::parse(&state).ok_or_else(|| corrupt("receipt email state"))?,
        attempts: u32::try_from(get::<i64>(row, 3)?).map_err(corrupt)?,
        resent_after_crash: get(row, 4)?,
        next_attempt_at: get_opt_ts(row, 5)?,
        sent_at: get_opt_ts(row, 6)?,
        last_error: get(row, 7)?,
        updated_at: get_ts(row, 8)?,
    })
}

pub(crate) fn receipt_email(c: &Connection, payment: PaymentId) -> R<Option<ReceiptEmail>> {
    one(
        c,
        concat!(
            "SELECT ",
            email_cols!(),
            " FROM receipt_emails WHERE payment_id = ?1"
        ),
        [payment.to_string()],
        email_row,
    )
}
