//! The OCPP message log (`MessageLogStore`).

use super::sql::{get, limit_offset, map_rows, pg, R};
use super::PgStore;
use super::{closed, LogMsg};
use crate::statements;
use crate::values;
use crate::values::parse_or_corrupt;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::charging::message_log::{
    Direction, FrameKind, LogEntry, LogFilter, StoredLogEntry,
};
use joule_domain::kernel::ids::ChargerId;
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::ports::store::{MessageLogStore, StoreResult};
use sqlx::PgConnection;

#[async_trait]
impl MessageLogStore for PgStore {
    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.log_tx
            .send(LogMsg::Entries(entries))
            .await
            .map_err(|_| closed())
    }

    async fn query_log(
        &self,
        charger: &ChargerId,
        filter: LogFilter,
        page: Page,
    ) -> StoreResult<Paged<StoredLogEntry>> {
        on_conn!(self, c => async {
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(concat!(
                "SELECT ",
                log_cols!(),
                " FROM message_log WHERE charger_id = $1 AND ($2::text IS NULL OR direction = $2) \
                 AND ($3::text IS NULL OR action = $3) AND ($4::timestamptz IS NULL OR at >= $4) \
                 AND ($5::timestamptz IS NULL OR at < $5) ORDER BY id DESC LIMIT $6 OFFSET $7"
            ))
            .bind(charger.as_str())
            .bind(filter.direction.map(|d| d.as_str()))
            .bind(&filter.action)
            .bind(filter.from)
            .bind(filter.to)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            let rows = map_rows(rows, |row| {
                Ok(StoredLogEntry {
                    id: get(row, 0)?,
                    entry: LogEntry {
                        charger_id: values::charger_id(&get::<String>(row, 1)?)?,
                        direction: parse_or_corrupt(
                            &get::<String>(row, 2)?,
                            "direction",
                            Direction::parse,
                        )?,
                        kind: parse_or_corrupt(&get::<String>(row, 3)?, "frame kind", FrameKind::parse)?,
                        action: get(row, 4)?,
                        message_id: get(row, 5)?,
                        frame: get(row, 6)?,
                        note: get(row, 7)?,
                        at: get(row, 8)?,
                    },
                })
            })?;
            Ok(Paged::from_overfetch(rows, page))
        })
    }

    /// Deletes an id range, as on SQLite: log rows are appended in time order,
    /// so no index on `at` is kept for the hot insert path.
    async fn purge_log_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        on_conn!(self, c => async {
            Ok(sqlx::query(
                statements::PURGE_LOG_BEFORE,
            )
            .bind(before)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected())
        })
    }
}

/// Inserts many rows with one statement (arrays unnested in order).
pub(crate) async fn append_log(c: &mut PgConnection, entries: &[LogEntry]) -> R<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = entries.len();
    let mut charger = Vec::with_capacity(n);
    let mut direction = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut action = Vec::with_capacity(n);
    let mut message_id = Vec::with_capacity(n);
    let mut frame = Vec::with_capacity(n);
    let mut note = Vec::with_capacity(n);
    let mut at = Vec::with_capacity(n);
    for e in entries {
        charger.push(e.charger_id.as_str().to_owned());
        direction.push(e.direction.as_str());
        kind.push(e.kind.as_str());
        action.push(e.action.clone());
        message_id.push(e.message_id.clone());
        frame.push(e.frame.clone());
        note.push(e.note.clone());
        at.push(e.at);
    }
    sqlx::query(
        "INSERT INTO message_log (charger_id, direction, kind, action, message_id, frame, note, \
         at) SELECT t.charger_id, t.direction, t.kind, t.action, t.message_id, t.frame, t.note, \
         t.at FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::timestamptz[]) WITH ORDINALITY AS t(charger_id, direction, \
         kind, action, message_id, frame, note, at, n) ORDER BY t.n",
    )
    .bind(charger)
    .bind(direction)
    .bind(kind)
    .bind(action)
    .bind(message_id)
    .bind(frame)
    .bind(note)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}
