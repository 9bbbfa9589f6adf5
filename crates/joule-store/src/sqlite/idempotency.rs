//! API idempotency records (`ApiIdempotencyStore`).

use super::sql::{exec, get, get_opt_ts, get_ts, one, ts, R};
use super::SqliteStore;
use crate::payments::{self as pc};
use crate::statements;
use crate::values::corrupt;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::access::api_idempotency::{
    IdempotencyBegin, IdempotencyRecord, NewIdempotencyRecord, StoredResponse,
};
use joule_domain::kernel::error::StoreError;
use joule_domain::ports::store::{ApiIdempotencyStore, StoreResult};
use rusqlite::{params, Connection, Row};

#[async_trait]
impl ApiIdempotencyStore for SqliteStore {
    async fn begin_idempotent(&self, new: NewIdempotencyRecord) -> StoreResult<IdempotencyBegin> {
        self.write(move |c| {
            let new = &new;
            let inserted = exec(
                c,
                statements::BEGIN_IDEMPOTENT,
                params![new.scope, new.key, new.request_hash, ts(new.created_at)],
            )? > 0;
            let record =
                idempotency_record(c, &new.scope, &new.key)?.ok_or(StoreError::NotFound {
                    entity: "idempotency key",
                })?;
            pc::begin_outcome(inserted, record, &new.request_hash)
        })
        .await
    }

    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyRecord> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.write(move |c| {
            let scope = &scope;
            let key = &key;
            let body = &body;
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
        })
        .await
    }

    async fn release_idempotent(&self, scope: &str, key: &str) -> StoreResult<bool> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.write(move |c| {
            let scope = &scope;
            let key = &key;
            Ok(exec(c, statements::RELEASE_IDEMPOTENT, params![scope, key])? > 0)
        })
        .await
    }
}

pub(super) fn idempotency_row(row: &Row<'_>) -> R<IdempotencyRecord> {
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

pub(super) fn idempotency_record(
    c: &Connection,
    scope: &str,
    key: &str,
) -> R<Option<IdempotencyRecord>> {
    one(
        c,
        statements::IDEMPOTENCY_RECORD,
        params![scope, key],
        idempotency_row,
    )
}
