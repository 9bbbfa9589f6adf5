//! Hold limits (`HoldLimitStore`): open holds of running sessions and the
//! once-per-session stop claim.

use super::payments::payment_row;
use super::sql::{collect, exec, one, ts};
use super::SqliteStore;
use crate::statements;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::kernel::error::StoreError;
use joule_domain::payments::payment::{Payment, PaymentId};
use joule_domain::ports::store::StoreResult;
use rusqlite::params;

#[async_trait]
impl joule_domain::ports::store::HoldLimitStore for SqliteStore {
    async fn held_active_sessions(&self, limit: u32) -> StoreResult<Vec<Payment>> {
        self.read(move |c| {
            collect(
                c,
                statements::HELD_ACTIVE_SESSIONS,
                [i64::from(limit)],
                payment_row,
            )
        })
        .await
    }

    async fn claim_hold_stop(
        &self,
        id: PaymentId,
        at: DateTime<Utc>,
        retry_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(move |c| {
            let claimed = exec(
                c,
                "UPDATE payments SET hold_stop_requested_at = ?2 WHERE id = ?1 \
                 AND (hold_stop_requested_at IS NULL OR hold_stop_requested_at < ?3)",
                params![id.to_string(), ts(at), ts(retry_before)],
            )?;
            if claimed > 0 {
                return Ok(true);
            }
            let exists = one(c, statements::CLAIM_HOLD_STOP, [id.to_string()], |_| Ok(()))?;
            exists
                .map(|()| false)
                .ok_or(StoreError::NotFound { entity: "payment" })
        })
        .await
    }
}
