//! API idempotency records (`ApiIdempotencyStore`).

use super::sql::{get, pg, R};
use super::PgStore;
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
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

#[async_trait]
impl ApiIdempotencyStore for PgStore {
    async fn begin_idempotent(&self, new: NewIdempotencyRecord) -> StoreResult<IdempotencyBegin> {
        in_tx!(self, c => async {
            let new = &new;
            let inserted = sqlx::query(
                statements::BEGIN_IDEMPOTENT,
            )
            .bind(&new.scope)
            .bind(&new.key)
            .bind(&new.request_hash)
            .bind(new.created_at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected()
                > 0;
            let record = idempotency_record(c, &new.scope, &new.key, false)
                .await?
                .ok_or(StoreError::NotFound {
                    entity: "idempotency key",
                })?;
            pc::begin_outcome(inserted, record, &new.request_hash)
        })
    }

    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyRecord> {
        in_tx!(self, c => async {
            let body = &body;
            let record = idempotency_record(c, scope, key, true)
                .await?
                .ok_or(StoreError::NotFound {
                    entity: "idempotency key",
                })?;
            if let Some(done) = pc::already_completed(record, status, body)? {
                return Ok(done);
            }
            sqlx::query(
                "UPDATE api_idempotency SET response_status = $3, response_body = $4, completed_at = $5 \
                 WHERE scope = $1 AND key = $2",
            )
            .bind(scope)
            .bind(key)
            .bind(i32::from(status))
            .bind(body)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            idempotency_record(c, scope, key, false)
                .await?
                .ok_or(StoreError::NotFound {
                    entity: "idempotency key",
                })
        })
    }

    async fn release_idempotent(&self, scope: &str, key: &str) -> StoreResult<bool> {
        in_tx!(self, c => async {
            let done = sqlx::query(
                statements::RELEASE_IDEMPOTENT,
            )
            .bind(scope)
            .bind(key)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            Ok(done.rows_affected() > 0)
        })
    }
}

pub(super) fn idempotency_row(row: &PgRow) -> R<IdempotencyRecord> {
    let status: Option<i32> = get(row, 3)?;
    let body: Option<serde_json::Value> = get(row, 4)?;
    let response = match (status, body) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status).map_err(|_| corrupt("idempotency status"))?,
            body,
        }),
        _ => None,
    };
    Ok(IdempotencyRecord {
        scope: get(row, 0)?,
        key: get(row, 1)?,
        request_hash: get(row, 2)?,
        response,
        created_at: get(row, 5)?,
        completed_at: get(row, 6)?,
    })
}

pub(super) async fn idempotency_record(
    c: &mut PgConnection,
    scope: &str,
    key: &str,
    lock: bool,
) -> R<Option<IdempotencyRecord>> {
    let sql = if lock {
        "SELECT scope, key, request_hash, response_status, response_body, created_at, \
         completed_at FROM api_idempotency WHERE scope = $1 AND key = $2 FOR UPDATE"
    } else {
        statements::IDEMPOTENCY_RECORD
    };
    sqlx::query(sql)
        .bind(scope)
        .bind(key)
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(idempotency_row)
        .transpose()
}
