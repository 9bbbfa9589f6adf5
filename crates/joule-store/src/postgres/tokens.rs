//! Id tokens (`TokenStore`).

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sql::{limit_offset, map_rows, pg, unique_as_conflict, R};
use super::PgStore;
use crate::events;
use crate::rows;
use crate::statements;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::charging::token::{NewToken, Token, TokenFilter, TokenPatch};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, IdToken};
use joule_domain::kernel::language::LanguageCode;
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::ports::store::{StoreResult, TokenStore};
use joule_domain::pricing::assignment::AssignmentFilter;
use sqlx::PgConnection;

#[async_trait]
impl TokenStore for PgStore {
    async fn create_token(&self, new: NewToken, at: DateTime<Utc>) -> StoreResult<Token> {
        in_tx!(self, c => async {
            let new = &new;
            sqlx::query(
                statements::CREATE_TOKEN,
            )
            .bind(new.id_tag.key())
            .bind(new.id_tag.as_str())
            .bind(new.kind.as_str())
            .bind(new.status.as_str())
            .bind(new.expires_at)
            .bind(new.parent_id_tag.as_ref().map(|p| p.as_str()))
            .bind(allowed_json(&new.allowed_chargers))
            .bind(&new.label)
            .bind(at)
            .bind(new.language.as_ref().map(LanguageCode::as_str))
            .bind(new.token_type.as_str())
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("id token"))?;
            let token = get_token(c, &new.id_tag)
                .await?
                .ok_or(StoreError::NotFound { entity: "id token" })?;
            insert_event(c, &events::ev_token_created(&token)).await?;
            Ok(token)
        })
    }

    async fn get_token(&self, id_tag: &IdToken) -> StoreResult<Option<Token>> {
        on_conn!(self, c => get_token(c, id_tag))
    }

    async fn list_tokens(&self, filter: TokenFilter, page: Page) -> StoreResult<Paged<Token>> {
        on_conn!(self, c => async {
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(concat!(
                "SELECT ",
                token_cols!(),
                " FROM id_tokens WHERE ($1::text IS NULL OR status = $1) \
                 AND ($2::text IS NULL OR upper(parent_id_tag) = $2) \
                 ORDER BY id_tag_key LIMIT $3 OFFSET $4"
            ))
            .bind(filter.status.map(|s| s.as_str()))
            .bind(filter.parent_id_tag.as_ref().map(|p| p.key()))
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Paged::from_overfetch(map_rows(rows, rows::token)?, page))
        })
    }

    async fn update_token(
        &self,
        id_tag: &IdToken,
        patch: TokenPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Token>> {
        in_tx!(self, c => async {
            let patch = &patch;
            let Some(mut t) = token_by_key(c, &id_tag.key(), true).await? else {
                return Ok(None);
            };
            t.apply(patch);
            sqlx::query(statements::UPDATE_TOKEN)
            .bind(t.kind.as_str())
            .bind(t.status.as_str())
            .bind(t.expires_at)
            .bind(t.parent_id_tag.as_ref().map(|p| p.as_str()))
            .bind(allowed_json(&t.allowed_chargers))
            .bind(&t.label)
            .bind(at)
            .bind(t.language.as_ref().map(LanguageCode::as_str))
            .bind(t.token_type.as_str())
            .bind(id_tag.key())
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let token = get_token(c, id_tag)
                .await?
                .ok_or(StoreError::NotFound { entity: "id token" })?;
            insert_event(c, &events::ev_token_updated(&token, patch, at)).await?;
            Ok(Some(token))
        })
    }

    async fn delete_token(&self, id_tag: &IdToken, at: DateTime<Utc>) -> StoreResult<bool> {
        in_tx!(self, c => async {
            sqlx::query(statements::DELETE_TOKEN)
                .bind(id_tag.key())
                .execute(&mut *c)
                .await
                .map_err(pg)?;
            let n = sqlx::query(statements::DELETE_TOKEN_2)
                .bind(id_tag.key())
                .execute(&mut *c)
                .await
                .map_err(pg)?
                .rows_affected();
            if n > 0 {
                let assigned = AssignmentFilter {
                    id_tag: Some(id_tag.clone()),
                    ..AssignmentFilter::default()
                };
                delete_assignments_where(c, &assigned, at).await?;
                insert_event(c, &events::ev_token_deleted(id_tag, at)).await?;
            }
            Ok(n > 0)
        })
    }
}

pub(super) fn allowed_json(list: &[ChargerId]) -> serde_json::Value {
    serde_json::Value::from(list.iter().map(|c| c.as_str()).collect::<Vec<_>>())
}

pub(super) async fn token_by_key(c: &mut PgConnection, key: &str, lock: bool) -> R<Option<Token>> {
    let sql = if lock {
        concat!(
            "SELECT ",
            token_cols!(),
            " FROM id_tokens WHERE id_tag_key = $1 FOR UPDATE"
        )
    } else {
        statements::GET_TOKEN
    };
    sqlx::query(sql)
        .bind(key)
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(rows::token)
        .transpose()
}

pub(crate) async fn get_token(c: &mut PgConnection, id_tag: &IdToken) -> R<Option<Token>> {
    token_by_key(c, &id_tag.key(), false).await
}
