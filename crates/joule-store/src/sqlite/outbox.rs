//! The outbox: writing events inside a state change's transaction, and
//! reading them in order (`EventLog`).

use super::sql::{collect, db, exec, ts, R};
use super::SqliteStore;
use crate::rows;
use crate::statements;
use async_trait::async_trait;
use chrono::Utc;
use joule_domain::events::event::{NewEvent, StoredEvent};
use joule_domain::ports::store::{EventLog, StoreResult};
use rusqlite::{params, Connection};

#[async_trait]
impl EventLog for SqliteStore {
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        self.read(move |c| {
            collect(
                c,
                statements::EVENTS_AFTER,
                params![after, i64::from(limit)],
                |r| rows::stored_event(r),
            )
        })
        .await
    }

    async fn latest_event_id(&self) -> StoreResult<i64> {
        self.read(move |c| {
            c.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM events")
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .map_err(db)
        })
        .await
    }
}

pub(crate) fn insert_event(c: &Connection, e: &NewEvent) -> R<()> {
    exec(
        c,
        "INSERT INTO events (kind, charger_id, session_id, payload, occurred_at, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            e.kind.as_str(),
            e.charger_id.as_ref().map(|c| c.as_str()),
            e.session_id.map(|s| s.to_string()),
            e.payload.to_string(),
            ts(e.occurred_at),
            ts(Utc::now()),
        ],
    )?;
    Ok(())
}
