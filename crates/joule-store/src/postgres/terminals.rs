//! Payment terminals (`TerminalStore`).

use super::outbox::insert_event;
use super::sites::get_site;
use super::sql::{get, limit_offset, map_rows, pg, unique_as_conflict, R};
use super::PgStore;
use crate::events;
use crate::{scopes as p, terminals as tc};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::charging::site::SiteId;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::payments::terminal::{
    NewTerminal, Terminal, TerminalError, TerminalId, TerminalKey, TerminalPatch,
};
use joule_domain::ports::store::{StoreResult, TerminalStore};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

macro_rules! terminal_cols {
    () => {
        "SELECT id, name, site_id, scope, targets::text, gateway, enabled, key_prefix, \
         key_hash, key_issued_at, created_at, updated_at FROM terminals"
    };
}

#[async_trait]
impl TerminalStore for PgStore {
    async fn create_terminal(&self, new: NewTerminal, at: DateTime<Utc>) -> StoreResult<Terminal> {
        in_tx!(self, c => async {
            let new = &new;
            require_site(c, new.site_id.as_ref()).await?;
            let (scope, targets) = tc::scope_cols(&new.scope);
            sqlx::query(
                "INSERT INTO terminals (id, name, site_id, scope, targets, gateway, enabled, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $8)",
            )
            .bind(new.id.to_string())
            .bind(&new.name)
            .bind(new.site_id.as_ref().map(SiteId::as_str))
            .bind(scope)
            .bind(targets)
            .bind(&new.gateway)
            .bind(new.enabled)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("terminal"))?;
            let terminal = get_terminal(c, new.id)
                .await?
                .ok_or(StoreError::NotFound { entity: "terminal" })?;
            insert_event(c, &events::ev_terminal_created(&terminal)).await?;
            Ok(terminal)
        })
    }

    async fn get_terminal(&self, id: TerminalId) -> StoreResult<Option<Terminal>> {
        on_conn!(self, c => get_terminal(c, id))
    }

    async fn list_terminals(&self, page: Page) -> StoreResult<Paged<Terminal>> {
        on_conn!(self, c => async {
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(concat!(
                terminal_cols!(),
                " ORDER BY id COLLATE \"C\" LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Paged::from_overfetch(map_rows(rows, terminal_row)?, page))
        })
    }

    async fn update_terminal(
        &self,
        id: TerminalId,
        patch: TerminalPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Result<Terminal, TerminalError>>> {
        in_tx!(self, c => async {
            let patch = &patch;
            let Some(current) = lock_terminal(c, id).await? else {
                return Ok(None);
            };
            let next = match current.patched(patch, at) {
                Ok(next) => next,
                Err(refused) => return Ok(Some(Err(refused))),
            };
            require_site(c, next.site_id.as_ref()).await?;
            let (scope, targets) = tc::scope_cols(&next.scope);
            sqlx::query(
                "UPDATE terminals SET name = $2, site_id = $3, scope = $4, targets = $5::jsonb, \
                 gateway = $6, enabled = $7, updated_at = $8 WHERE id = $1",
            )
            .bind(id.to_string())
            .bind(&next.name)
            .bind(next.site_id.as_ref().map(SiteId::as_str))
            .bind(scope)
            .bind(targets)
            .bind(&next.gateway)
            .bind(next.enabled)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let terminal = get_terminal(c, id)
                .await?
                .ok_or(StoreError::NotFound { entity: "terminal" })?;
            insert_event(c, &events::ev_terminal_updated(&terminal)).await?;
            Ok(Some(Ok(terminal)))
        })
    }

    async fn set_terminal_key(
        &self,
        id: TerminalId,
        key: TerminalKey,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Terminal>> {
        in_tx!(self, c => async {
            let key = &key;
            let done = sqlx::query(
                "UPDATE terminals SET key_prefix = $2, key_hash = $3, key_issued_at = $4, \
                 updated_at = $5 WHERE id = $1",
            )
            .bind(id.to_string())
            .bind(&key.prefix)
            .bind(&key.secret_hash)
            .bind(key.issued_at)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("terminal key"))?;
            if done.rows_affected() == 0 {
                return Ok(None);
            }
            let terminal = get_terminal(c, id)
                .await?
                .ok_or(StoreError::NotFound { entity: "terminal" })?;
            insert_event(c, &events::ev_terminal_key_rotated(&terminal)).await?;
            Ok(Some(terminal))
        })
    }

    async fn terminal_by_key_prefix(&self, prefix: &str) -> StoreResult<Option<Terminal>> {
        on_conn!(self, c => async {
            one_terminal(
                c,
                concat!(terminal_cols!(), " WHERE key_prefix = $1"),
                prefix.to_owned(),
            )
            .await
        })
    }
}

pub(super) fn terminal_row(row: &PgRow) -> R<Terminal> {
    Ok(Terminal {
        id: tc::terminal_id(&get::<String>(row, 0)?)?,
        name: get(row, 1)?,
        site_id: get::<Option<String>>(row, 2)?
            .map(|s| p::site_id(&s))
            .transpose()?,
        scope: tc::parse_scope(
            &get::<String>(row, 3)?,
            get::<Option<String>>(row, 4)?.as_deref(),
        )?,
        gateway: get(row, 5)?,
        enabled: get(row, 6)?,
        key: tc::key_of(get(row, 7)?, get(row, 8)?, get(row, 9)?),
        created_at: get(row, 10)?,
        updated_at: get(row, 11)?,
    })
}

pub(super) async fn one_terminal(
    c: &mut PgConnection,
    sql: &'static str,
    arg: String,
) -> R<Option<Terminal>> {
    let row = sqlx::query(sql)
        .bind(arg)
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?;
    row.as_ref().map(terminal_row).transpose()
}

pub(crate) async fn get_terminal(c: &mut PgConnection, id: TerminalId) -> R<Option<Terminal>> {
    one_terminal(
        c,
        concat!(terminal_cols!(), " WHERE id = $1"),
        id.to_string(),
    )
    .await
}

pub(super) async fn lock_terminal(c: &mut PgConnection, id: TerminalId) -> R<Option<Terminal>> {
    one_terminal(
        c,
        concat!(terminal_cols!(), " WHERE id = $1 FOR UPDATE"),
        id.to_string(),
    )
    .await
}

pub(super) async fn require_site(c: &mut PgConnection, site: Option<&SiteId>) -> R<()> {
    if let Some(s) = site {
        get_site(c, s)
            .await?
            .ok_or(StoreError::NotFound { entity: "site" })?;
    }
    Ok(())
}
