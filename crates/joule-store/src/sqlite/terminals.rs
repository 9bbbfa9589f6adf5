//! Payment terminals (`TerminalStore`).

use super::outbox::insert_event;
use super::sites::get_site;
use super::sql::{
    collect, db, exec, get, get_opt_ts, get_ts, limit_offset, one, opt_ts, ts, unique_as_conflict,
    R,
};
use super::SqliteStore;
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
use rusqlite::{params, Connection, Row};

#[async_trait]
impl TerminalStore for SqliteStore {
    async fn create_terminal(&self, new: NewTerminal, at: DateTime<Utc>) -> StoreResult<Terminal> {
        self.write(move |c| {
            let new = &new;
            require_site(c, new.site_id.as_ref())?;
            let (scope, targets) = tc::scope_cols(&new.scope);
            c.prepare_cached(
                "INSERT INTO terminals (id, name, site_id, scope, targets, gateway, enabled, created_at, \
                 updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            )
            .map_err(db)?
            .execute(params![
                new.id.to_string(),
                new.name,
                new.site_id.as_ref().map(SiteId::as_str),
                scope,
                targets,
                new.gateway,
                i64::from(new.enabled),
                ts(at)
            ])
            .map_err(unique_as_conflict("terminal"))?;
            let terminal = get_terminal(c, new.id)?.ok_or(StoreError::NotFound { entity: "terminal" })?;
            insert_event(c, &events::ev_terminal_created(&terminal))?;
            Ok(terminal)
        })
        .await
    }

    async fn get_terminal(&self, id: TerminalId) -> StoreResult<Option<Terminal>> {
        self.read(move |c| get_terminal(c, id)).await
    }

    async fn list_terminals(&self, page: Page) -> StoreResult<Paged<Terminal>> {
        self.read(move |c| {
            let (limit, offset) = limit_offset(page);
            let sql = format!("{TERMINAL_COLS} ORDER BY id LIMIT ?1 OFFSET ?2");
            let rows = collect(c, &sql, params![limit, offset], terminal_row)?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn update_terminal(
        &self,
        id: TerminalId,
        patch: TerminalPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Result<Terminal, TerminalError>>> {
        self.write(move |c| {
            let patch = &patch;
            let Some(current) = get_terminal(c, id)? else {
                return Ok(None);
            };
            let next = match current.patched(patch, at) {
                Ok(next) => next,
                Err(refused) => return Ok(Some(Err(refused))),
            };
            require_site(c, next.site_id.as_ref())?;
            let (scope, targets) = tc::scope_cols(&next.scope);
            exec(
                c,
                "UPDATE terminals SET name = ?2, site_id = ?3, scope = ?4, targets = ?5, gateway = ?6, \
                 enabled = ?7, updated_at = ?8 WHERE id = ?1",
                params![
                    id.to_string(),
                    next.name,
                    next.site_id.as_ref().map(SiteId::as_str),
                    scope,
                    targets,
                    next.gateway,
                    i64::from(next.enabled),
                    ts(at)
                ],
            )?;
            let terminal = get_terminal(c, id)?.ok_or(StoreError::NotFound { entity: "terminal" })?;
            insert_event(c, &events::ev_terminal_updated(&terminal))?;
            Ok(Some(Ok(terminal)))
        })
        .await
    }

    async fn set_terminal_key(
        &self,
        id: TerminalId,
        key: TerminalKey,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Terminal>> {
        self.write(move |c| {
            let key = &key;
            let n = c
                .prepare_cached(
                    "UPDATE terminals SET key_prefix = ?2, key_hash = ?3, key_issued_at = ?4, \
                     updated_at = ?5 WHERE id = ?1",
                )
                .map_err(db)?
                .execute(params![
                    id.to_string(),
                    key.prefix,
                    key.secret_hash,
                    opt_ts(Some(key.issued_at)),
                    ts(at)
                ])
                .map_err(unique_as_conflict("terminal key"))?;
            if n == 0 {
                return Ok(None);
            }
            let terminal =
                get_terminal(c, id)?.ok_or(StoreError::NotFound { entity: "terminal" })?;
            insert_event(c, &events::ev_terminal_key_rotated(&terminal))?;
            Ok(Some(terminal))
        })
        .await
    }

    async fn terminal_by_key_prefix(&self, prefix: &str) -> StoreResult<Option<Terminal>> {
        let prefix = prefix.to_owned();
        self.read(move |c| {
            let prefix = &prefix;
            let sql = format!("{TERMINAL_COLS} WHERE key_prefix = ?1");
            one(c, &sql, [prefix], terminal_row)
        })
        .await
    }
}

pub(super) const TERMINAL_COLS: &str =
    "SELECT id, name, site_id, scope, targets, gateway, enabled, \
     key_prefix, key_hash, key_issued_at, created_at, updated_at FROM terminals";

pub(super) fn terminal_row(row: &Row<'_>) -> R<Terminal> {
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
        enabled: get::<i64>(row, 6)? != 0,
        key: tc::key_of(get(row, 7)?, get(row, 8)?, get_opt_ts(row, 9)?),
        created_at: get_ts(row, 10)?,
        updated_at: get_ts(row, 11)?,
    })
}

pub(crate) fn get_terminal(c: &Connection, id: TerminalId) -> R<Option<Terminal>> {
    let sql = format!("{TERMINAL_COLS} WHERE id = ?1");
    one(c, &sql, [id.to_string()], terminal_row)
}

pub(super) fn require_site(c: &Connection, site: Option<&SiteId>) -> R<()> {
    if let Some(s) = site {
        get_site(c, s)?.ok_or(StoreError::NotFound { entity: "site" })?;
    }
    Ok(())
}
