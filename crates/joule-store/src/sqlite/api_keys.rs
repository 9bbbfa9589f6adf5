//! API keys (`ApiKeyStore`).

use super::outbox::insert_event;
use super::sql::{db, one, ts, unique_as_conflict, R};
use super::SqliteStore;
use crate::events;
use crate::statements;
use crate::{rows, values};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::access::api_key::{ApiKey, NewApiKey};
use joule_domain::kernel::error::StoreError;
use joule_domain::ports::store::{ApiKeyStore, StoreResult};
use rusqlite::{params, Connection};

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn count_api_keys(&self) -> StoreResult<u64> {
        self.read(move |c| {
            let n: i64 = c
                .prepare_cached(statements::COUNT_API_KEYS)
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .map_err(db)?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn create_api_key(&self, new: NewApiKey, at: DateTime<Utc>) -> StoreResult<ApiKey> {
        self.write(move |c| {
            let new = &new;
            c.prepare_cached(
                "INSERT INTO api_keys (name, prefix, secret_hash, scopes, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db)?
            .execute(params![
                new.name,
                new.prefix,
                new.secret_hash,
                values::api_scopes_text(&new.scopes),
                ts(at),
            ])
            .map_err(unique_as_conflict("api key"))?;
            let key =
                find_api_key(c, &new.prefix)?.ok_or(StoreError::NotFound { entity: "api key" })?;
            insert_event(c, &events::ev_api_key_created(&key))?;
            Ok(key)
        })
        .await
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        let prefix = prefix.to_owned();
        self.read(move |c| find_api_key(c, &prefix)).await
    }
}

pub(crate) fn find_api_key(c: &Connection, prefix: &str) -> R<Option<ApiKey>> {
    one(c, statements::FIND_API_KEY, [prefix], |r| rows::api_key(r))
}
