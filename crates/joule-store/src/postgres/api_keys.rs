//! API keys (`ApiKeyStore`).

use super::outbox::insert_event;
use super::sql::{pg, unique_as_conflict};
use super::PgStore;
use crate::events;
use crate::statements;
use crate::{rows, values};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::access::api_key::{ApiKey, NewApiKey};
use joule_domain::ports::store::{ApiKeyStore, StoreResult};
use sqlx::PgConnection;

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn count_api_keys(&self) -> StoreResult<u64> {
        on_conn!(self, c => async {
            let n: i64 = sqlx::query_scalar(statements::COUNT_API_KEYS)
                .fetch_one(&mut *c)
                .await
                .map_err(pg)?;
            Ok(n.max(0) as u64)
        })
    }

    async fn create_api_key(&self, new: NewApiKey, at: DateTime<Utc>) -> StoreResult<ApiKey> {
        in_tx!(self, c => async {
            let new = &new;
            let row = sqlx::query(
                "INSERT INTO api_keys (name, prefix, secret_hash, scopes, created_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id, name, prefix, secret_hash, scopes, created_at",
            )
            .bind(&new.name)
            .bind(&new.prefix)
            .bind(&new.secret_hash)
            .bind(values::api_scopes_text(&new.scopes))
            .bind(at)
            .fetch_one(&mut *c)
            .await
            .map_err(unique_as_conflict("api key"))?;
            let key = rows::api_key(&row)?;
            insert_event(c, &events::ev_api_key_created(&key)).await?;
            Ok(key)
        })
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        on_conn!(self, c => async {
            sqlx::query(
                statements::FIND_API_KEY,
            )
            .bind(prefix)
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .as_ref()
            .map(rows::api_key)
            .transpose()
        })
    }
}
