//! The outbox: writing events inside a state change's transaction, and
//! reading them in order (`EventLog`).

use super::sql::{map_rows, pg, R};
use super::PgStore;
use crate::rows;
use crate::statements;
use async_trait::async_trait;
use joule_domain::events::event::{NewEvent, StoredEvent};
use joule_domain::ports::store::{EventLog, StoreResult};
use sqlx::PgConnection;

#[async_trait]
impl EventLog for PgStore {
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        on_conn!(self, c => async {
            let rows = sqlx::query(
                statements::EVENTS_AFTER,
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            map_rows(rows, rows::stored_event)
        })
    }

    async fn latest_event_id(&self) -> StoreResult<i64> {
        on_conn!(self, c => async {
            let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0)::BIGINT FROM events")
                .fetch_one(&mut *c)
                .await
                .map_err(pg)?;
            Ok(id)
        })
    }
}

/// Key of the transaction-level advisory lock that orders outbox writes.
pub(super) const OUTBOX_LOCK: i64 = 0x6a6f_756c_655f_6f62; // "joule_ob"

/// Writes an outbox event. Identity values are handed out at insert time but
/// become visible at commit, so two concurrent transactions could commit
/// their events out of id order and a consumer's cursor would skip the
/// slower one. Taking one transaction-scoped advisory lock before the insert
/// (held until commit) makes ids commit in order. Every caller writes its
/// event as the last statement of its transaction, so the lock is held only
/// for the insert and the commit, and never while waiting for a row lock
/// (no deadlock).
pub(crate) async fn insert_event(c: &mut PgConnection, e: &NewEvent) -> R<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(OUTBOX_LOCK)
        .execute(&mut *c)
        .await
        .map_err(pg)?;
    sqlx::query(
        "INSERT INTO events (kind, charger_id, session_id, payload, occurred_at, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, now())",
    )
    .bind(e.kind.as_str())
    .bind(e.charger_id.as_ref().map(|c| c.as_str()))
    .bind(e.session_id.map(|s| s.as_uuid()))
    .bind(&e.payload)
    .bind(e.occurred_at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}
