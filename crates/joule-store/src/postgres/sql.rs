//! How this backend speaks SQL: value conversions, error mapping and the
//! statement helpers every aggregate module uses.

use crate::values::corrupt;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::ConnectorId;
use joule_domain::kernel::page::Page;
use sqlx::postgres::PgRow;
use sqlx::Row;

pub(crate) type R<T> = Result<T, StoreError>;

pub(crate) fn pg(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        other => StoreError::Backend(other.to_string()),
    }
}

pub(crate) fn unique_as_conflict(entity: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict { entity },
        _ => pg(e),
    }
}

pub(crate) fn get<'r, T>(row: &'r PgRow, idx: usize) -> R<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(idx).map_err(|e| corrupt(e.to_string()))
}

/// Connector ids are at most `ConnectorId::MAX` (1000): they fit an INTEGER.
pub(super) fn cid(c: ConnectorId) -> i32 {
    i32::try_from(c.get()).unwrap_or(i32::MAX)
}

pub(super) fn connector(n: i32) -> R<ConnectorId> {
    u32::try_from(n)
        .ok()
        .and_then(|n| ConnectorId::new(n).ok())
        .ok_or_else(|| corrupt(format!("connector id {n}")))
}

pub(crate) fn limit_offset(page: Page) -> (i64, i64) {
    (
        i64::from(page.fetch_limit()),
        i64::try_from(page.offset).unwrap_or(i64::MAX),
    )
}

pub(crate) fn map_rows<T>(rows: Vec<PgRow>, f: impl Fn(&PgRow) -> R<T>) -> R<Vec<T>> {
    rows.iter().map(f).collect()
}
