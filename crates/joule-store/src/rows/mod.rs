//! Row decoding written once for both drivers. [`RowRead`] reads a column
//! the way the entity means it (text, integer, instant, JSON, UUID) and hides
//! how each backend stores it: SQLite keeps instants as fixed-width text,
//! JSON as text and UUIDs as text; PostgreSQL has `timestamptz`, `jsonb` and
//! `uuid`. Each entity has one decode function here, used by both backends.

mod api_keys;
mod chargers;
mod events;
mod sessions;
mod tariffs;
mod tokens;
mod user_groups;

pub(crate) use api_keys::api_key;
pub(crate) use chargers::{charger, connector_state, status_report};
pub(crate) use events::stored_event;
pub(crate) use sessions::{meter_sample, session};
pub(crate) use tariffs::tariff;
pub(crate) use tokens::token;
pub(crate) use user_groups::user_group;

use chrono::{DateTime, Utc};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ConnectorId, TransactionId};
use sqlx::{Row as _, TypeInfo as _};
use uuid::Uuid;

use crate::values::corrupt;

type R<T> = Result<T, StoreError>;

/// One result row, read by column index.
pub(crate) trait RowRead {
    fn text(&self, i: usize) -> R<String>;
    fn opt_text(&self, i: usize) -> R<Option<String>>;
    /// Any integer column (PostgreSQL `INTEGER` and `BIGINT` alike).
    fn opt_int(&self, i: usize) -> R<Option<i64>>;
    fn flag(&self, i: usize) -> R<bool>;
    fn opt_ts(&self, i: usize) -> R<Option<DateTime<Utc>>>;
    /// A JSON column: `TEXT` on SQLite, `JSONB` on PostgreSQL.
    fn opt_json(&self, i: usize) -> R<Option<serde_json::Value>>;
    /// A UUID column: `TEXT` on SQLite, `UUID` on PostgreSQL.
    fn opt_uuid(&self, i: usize) -> R<Option<Uuid>>;

    fn int(&self, i: usize) -> R<i64> {
        self.opt_int(i)?
            .ok_or_else(|| corrupt(format!("column {i} is NULL")))
    }
    fn ts(&self, i: usize) -> R<DateTime<Utc>> {
        self.opt_ts(i)?
            .ok_or_else(|| corrupt(format!("column {i} is NULL")))
    }
    fn uuid(&self, i: usize) -> R<Uuid> {
        self.opt_uuid(i)?
            .ok_or_else(|| corrupt(format!("column {i} is NULL")))
    }
    fn connector(&self, i: usize) -> R<ConnectorId> {
        let n = self.int(i)?;
        u32::try_from(n)
            .ok()
            .and_then(|n| ConnectorId::new(n).ok())
            .ok_or_else(|| corrupt(format!("connector id {n}")))
    }
    fn transaction(&self, i: usize) -> R<TransactionId> {
        TransactionId::new(self.int(i)?).map_err(corrupt)
    }
}

fn sqlite_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl RowRead for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> R<String> {
        self.get(i).map_err(sqlite_err)
    }
    fn opt_text(&self, i: usize) -> R<Option<String>> {
        self.get(i).map_err(sqlite_err)
    }
    fn opt_int(&self, i: usize) -> R<Option<i64>> {
        self.get(i).map_err(sqlite_err)
    }
    fn flag(&self, i: usize) -> R<bool> {
        self.get(i).map_err(sqlite_err)
    }
    fn opt_ts(&self, i: usize) -> R<Option<DateTime<Utc>>> {
        self.opt_text(i)?
            .as_deref()
            .map(crate::sqlite::parse_ts)
            .transpose()
    }
    fn opt_json(&self, i: usize) -> R<Option<serde_json::Value>> {
        self.opt_text(i)?
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)
    }
    fn opt_uuid(&self, i: usize) -> R<Option<Uuid>> {
        self.opt_text(i)?
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(corrupt)
    }
}

fn pg_get<'r, T>(row: &'r sqlx::postgres::PgRow, i: usize) -> R<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(i).map_err(|e| corrupt(e.to_string()))
}

impl RowRead for sqlx::postgres::PgRow {
    fn text(&self, i: usize) -> R<String> {
        pg_get(self, i)
    }
    fn opt_text(&self, i: usize) -> R<Option<String>> {
        pg_get(self, i)
    }
    fn opt_int(&self, i: usize) -> R<Option<i64>> {
        use sqlx::Column as _;
        // sqlx decodes only the exact width; connector ids, card expiry and
        // counters are INTEGER, the rest BIGINT.
        match self.columns()[i].type_info().name() {
            "INT4" => Ok(pg_get::<Option<i32>>(self, i)?.map(i64::from)),
            "INT2" => Ok(pg_get::<Option<i16>>(self, i)?.map(i64::from)),
            _ => pg_get(self, i),
        }
    }
    fn flag(&self, i: usize) -> R<bool> {
        pg_get(self, i)
    }
    fn opt_ts(&self, i: usize) -> R<Option<DateTime<Utc>>> {
        pg_get(self, i)
    }
    fn opt_json(&self, i: usize) -> R<Option<serde_json::Value>> {
        pg_get(self, i)
    }
    fn opt_uuid(&self, i: usize) -> R<Option<Uuid>> {
        pg_get(self, i)
    }
}
