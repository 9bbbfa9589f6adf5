//! API keys (`ApiKeyStore`).

use super::outbox::insert_event;
use super::sql::{pg, unique_as_conflict, R};
use super::PgStore;
use crate::events;
use crate::{rows, values};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::api_key::{ApiKey, NewApiKey};
use joule_domain::store::{ApiKeyStore, StoreResult};
use sqlx::PgConnection;

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn count_api_keys(&self) -> StoreResult<u64> {
        on_conn!(self, c => count_api_keys(c))
    }

    async fn create_api_key(&self, new: NewApiKey, at: DateTime<Utc>) -> StoreResult<ApiKey> {
        in_tx!(self, c => create_api_key(c, &new, at))
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        on_conn!(self, c => find_api_key(c, prefix))
    }
}

pub(crate) async fn count_api_keys(c: &mut PgConnection) -> R<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(&mut *c)
        .await
        .map_err(pg)?;
    Ok(n.max(0) as u64)
}

pub(crate) async fn find_api_key(c: &mut PgConnection, prefix: &str) -> R<Option<ApiKey>> {
    sqlx::query(
        "SELECT id, name, prefix, secret_hash, scopes, created_at FROM api_keys WHERE prefix = $1",
    )
    .bind(prefix)
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(rows::api_key)
    .transpose()
}

pub(crate) async fn create_api_key(
    c: &mut PgConnection,
    new: &NewApiKey,
    at: DateTime<Utc>,
) -> R<ApiKey> {
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
}
