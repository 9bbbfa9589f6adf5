//! Id tokens (`TokenStore`).

use super::assignment_table::delete_assignments_where;
use super::outbox::insert_event;
use super::sql::{collect, db, exec, limit_offset, one, opt_ts, ts, unique_as_conflict, R};
use super::SqliteStore;
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
use rusqlite::{params, Connection};

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(&self, new: NewToken, at: DateTime<Utc>) -> StoreResult<Token> {
        self.write(move |c| {
            let new = &new;
            c.prepare_cached(statements::CREATE_TOKEN)
                .map_err(db)?
                .execute(params![
                    new.id_tag.key(),
                    new.id_tag.as_str(),
                    new.kind.as_str(),
                    new.status.as_str(),
                    opt_ts(new.expires_at),
                    new.parent_id_tag.as_ref().map(|p| p.as_str()),
                    allowed_text(&new.allowed_chargers),
                    new.label,
                    ts(at),
                    new.language.as_ref().map(LanguageCode::as_str),
                    new.token_type.as_str(),
                ])
                .map_err(unique_as_conflict("id token"))?;
            let token =
                get_token(c, &new.id_tag)?.ok_or(StoreError::NotFound { entity: "id token" })?;
            insert_event(c, &events::ev_token_created(&token))?;
            Ok(token)
        })
        .await
    }

    async fn get_token(&self, id_tag: &IdToken) -> StoreResult<Option<Token>> {
        let id_tag = id_tag.clone();
        self.read(move |c| get_token(c, &id_tag)).await
    }

    async fn list_tokens(&self, filter: TokenFilter, page: Page) -> StoreResult<Paged<Token>> {
        self.read(move |c| {
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let rows = collect(
                c,
                concat!(
                    "SELECT ",
                    token_cols!(),
                    " FROM id_tokens WHERE (?1 IS NULL OR status = ?1) \
                     AND (?2 IS NULL OR upper(parent_id_tag) = ?2) \
                     ORDER BY id_tag_key LIMIT ?3 OFFSET ?4"
                ),
                params![
                    filter.status.map(|s| s.as_str()),
                    filter.parent_id_tag.as_ref().map(|p| p.key()),
                    limit,
                    offset
                ],
                |r| rows::token(r),
            )?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn update_token(
        &self,
        id_tag: &IdToken,
        patch: TokenPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Token>> {
        let id_tag = id_tag.clone();
        self.write(move |c| {
            let id_tag = &id_tag;
            let patch = &patch;
            let Some(mut t) = get_token(c, id_tag)? else {
                return Ok(None);
            };
            t.apply(patch);
            exec(
                c,
                statements::UPDATE_TOKEN,
                params![
                    t.kind.as_str(),
                    t.status.as_str(),
                    opt_ts(t.expires_at),
                    t.parent_id_tag.as_ref().map(|p| p.as_str()),
                    allowed_text(&t.allowed_chargers),
                    t.label,
                    ts(at),
                    t.language.as_ref().map(LanguageCode::as_str),
                    t.token_type.as_str(),
                    id_tag.key(),
                ],
            )?;
            let token = get_token(c, id_tag)?.ok_or(StoreError::NotFound { entity: "id token" })?;
            insert_event(c, &events::ev_token_updated(&token, patch, at))?;
            Ok(Some(token))
        })
        .await
    }

    async fn delete_token(&self, id_tag: &IdToken, at: DateTime<Utc>) -> StoreResult<bool> {
        let id_tag = id_tag.clone();
        self.write(move |c| {
            let id_tag = &id_tag;
            exec(c, statements::DELETE_TOKEN, [id_tag.key()])?;
            let n = exec(c, statements::DELETE_TOKEN_2, [id_tag.key()])?;
            if n > 0 {
                let assigned = joule_domain::pricing::assignment::AssignmentFilter {
                    id_tag: Some(id_tag.clone()),
                    ..Default::default()
                };
                delete_assignments_where(c, &assigned, at)?;
                insert_event(c, &events::ev_token_deleted(id_tag, at))?;
            }
            Ok(n > 0)
        })
        .await
    }
}

pub(super) fn allowed_text(list: &[ChargerId]) -> String {
    serde_json::Value::from(list.iter().map(|c| c.as_str()).collect::<Vec<_>>()).to_string()
}

pub(crate) fn get_token(c: &Connection, id_tag: &IdToken) -> R<Option<Token>> {
    one(c, statements::GET_TOKEN, [id_tag.key()], |r| rows::token(r))
}
