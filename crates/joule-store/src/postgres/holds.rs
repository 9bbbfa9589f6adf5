//! Hold limits (`HoldLimitStore`): open holds of running sessions and the
//! once-per-session stop claim.

use super::payments::payment_row;
use super::sql::{map_rows, pg, R};
use super::PgStore;
use crate::statements;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::kernel::error::StoreError;
use joule_domain::payments::payment::{Payment, PaymentId};
use joule_domain::ports::store::StoreResult;
use sqlx::PgConnection;

#[async_trait]
impl joule_domain::ports::store::HoldLimitStore for PgStore {
    async fn held_active_sessions(&self, limit: u32) -> StoreResult<Vec<Payment>> {
        on_conn!(self, c => async {
            let rows = sqlx::query(statements::HELD_ACTIVE_SESSIONS)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            map_rows(rows, payment_row)
        })
    }

    async fn claim_hold_stop(
        &self,
        id: PaymentId,
        at: DateTime<Utc>,
        retry_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        in_tx!(self, c => async {
            let claimed = sqlx::query(
                "UPDATE payments SET hold_stop_requested_at = $2 WHERE id = $1 \
                 AND (hold_stop_requested_at IS NULL OR hold_stop_requested_at < $3)",
            )
            .bind(id.as_uuid())
            .bind(at)
            .bind(retry_before)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected();
            if claimed > 0 {
                return Ok(true);
            }
            if payment_exists(c, id).await? {
                Ok(false)
            } else {
                Err(StoreError::NotFound { entity: "payment" })
            }
        })
    }
}

pub(super) async fn payment_exists(c: &mut PgConnection, id: PaymentId) -> R<bool> {
    Ok(sqlx::query(statements::CLAIM_HOLD_STOP)
        .bind(id.as_uuid())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .is_some())
}
