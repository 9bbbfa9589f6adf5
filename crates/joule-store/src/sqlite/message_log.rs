//! The OCPP message log (`MessageLogStore`).

use super::sql::{collect, db, exec, get, get_ts, limit_offset, opt_ts, ts, R};
use super::SqliteStore;
use super::{closed, Msg};
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
use rusqlite::{params, Connection};

#[async_trait]
impl MessageLogStore for SqliteStore {
    async fn append_log(&self, entries: Vec<LogEntry>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // Not awaited to commit: the bounded queue is the back-pressure.
        self.tx.send(Msg::Log(entries)).await.map_err(|_| closed())
    }

    async fn query_log(
        &self,
        charger: &ChargerId,
        filter: LogFilter,
        page: Page,
    ) -> StoreResult<Paged<StoredLogEntry>> {
        let charger = charger.clone();
        self.read(move |c| {
            let charger = &charger;
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let rows = collect(
                c,
                concat!(
                    "SELECT ",
                    log_cols!(),
                    " FROM message_log WHERE charger_id = ?1 AND (?2 IS NULL OR direction = ?2) \
                     AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR at >= ?4) \
                     AND (?5 IS NULL OR at < ?5) ORDER BY id DESC LIMIT ?6 OFFSET ?7"
                ),
                params![
                    charger.as_str(),
                    filter.direction.map(|d| d.as_str()),
                    filter.action,
                    opt_ts(filter.from),
                    opt_ts(filter.to),
                    limit,
                    offset,
                ],
                |row| {
                    Ok(StoredLogEntry {
                        id: get(row, 0)?,
                        entry: LogEntry {
                            charger_id: values::charger_id(&get::<String>(row, 1)?)?,
                            direction: parse_or_corrupt(
                                &get::<String>(row, 2)?,
                                "direction",
                                Direction::parse,
                            )?,
                            kind: parse_or_corrupt(
                                &get::<String>(row, 3)?,
                                "frame kind",
                                FrameKind::parse,
                            )?,
                            action: get(row, 4)?,
                            message_id: get(row, 5)?,
                            frame: get(row, 6)?,
                            note: get(row, 7)?,
                            at: get_ts(row, 8)?,
                        },
                    })
                },
            )?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    /// Log rows are appended in time order, so retention deletes an id range:
    /// everything below the first row that is recent enough. This spares an
    /// index on `at`, which every one of the many log inserts would maintain.
    async fn purge_log_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |c| exec(c, statements::PURGE_LOG_BEFORE, [ts(before)]).map(|n| n as u64))
            .await
    }
}

pub(crate) fn append_log(c: &Connection, entries: &[LogEntry]) -> R<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO message_log (charger_id, direction, kind, action, message_id, frame, \
             note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(db)?;
    for e in entries {
        stmt.execute(params![
            e.charger_id.as_str(),
            e.direction.as_str(),
            e.kind.as_str(),
            e.action,
            e.message_id,
            e.frame,
            e.note,
            ts(e.at),
        ])
        .map_err(db)?;
    }
    Ok(())
}
