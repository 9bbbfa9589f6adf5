//! How this backend speaks SQL: value conversions, error mapping and the
//! statement helpers every aggregate module uses.

use crate::values::corrupt;
use chrono::{DateTime, Utc};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::ConnectorId;
use joule_domain::kernel::page::Page;
use rusqlite::{Connection, ErrorCode, Row};

pub(crate) type R<T> = Result<T, StoreError>;

/// Fixed-width RFC 3339 UTC with microseconds: text order is time order.
/// Written by hand: this runs several times per write on the hot path, and
/// chrono's strftime parses its pattern on every call. Years outside
/// 0..=9999 would break the fixed width; chargers do not send those (and
/// chrono's RFC 3339 output would not sort either).
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let mut out = String::with_capacity(27);
    // A leap second shows as nanosecond >= 1e9: keep it within the second.
    let micros = (at.nanosecond() / 1_000).min(999_999);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        micros
    );
    out
}

pub(crate) fn opt_ts(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(ts)
}

pub(crate) fn parse_ts(raw: &str) -> R<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt(format!("timestamp {raw:?}: {e}")))
}

pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

pub(super) fn is_unique(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

pub(crate) fn unique_as_conflict(entity: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| {
        if is_unique(&e) {
            StoreError::Conflict { entity }
        } else {
            db(e)
        }
    }
}

pub(crate) fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, idx: usize) -> R<T> {
    row.get(idx).map_err(db)
}

pub(crate) fn get_ts(row: &Row<'_>, idx: usize) -> R<DateTime<Utc>> {
    parse_ts(&get::<String>(row, idx)?)
}

pub(crate) fn get_opt_ts(row: &Row<'_>, idx: usize) -> R<Option<DateTime<Utc>>> {
    get::<Option<String>>(row, idx)?
        .as_deref()
        .map(parse_ts)
        .transpose()
}

pub(super) fn connector(n: i64) -> R<ConnectorId> {
    u32::try_from(n)
        .ok()
        .and_then(|n| ConnectorId::new(n).ok())
        .ok_or_else(|| corrupt(format!("connector id {n}")))
}

pub(crate) fn collect<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> R<T>,
) -> R<Vec<T>> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        out.push(map(row)?);
    }
    Ok(out)
}

pub(crate) fn one<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> R<T>,
) -> R<Option<T>> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn exec(c: &Connection, sql: &str, params: impl rusqlite::Params) -> R<usize> {
    c.prepare_cached(sql)
        .map_err(db)?
        .execute(params)
        .map_err(db)
}

pub(crate) fn limit_offset(page: Page) -> (i64, i64) {
    (
        i64::from(page.fetch_limit()),
        i64::try_from(page.offset).unwrap_or(i64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::micros;
    use chrono::TimeZone;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let at = Utc.timestamp_opt(1_767_225_600, 123_456_789).unwrap();
        assert_eq!(ts(at), "2026-01-01T00:00:00.123456Z");
        assert_eq!(parse_ts(&ts(at)).unwrap(), micros(at));
        let early = Utc.with_ymd_and_hms(999, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(ts(early), "0999-01-02T03:04:05.000000Z");
        assert_eq!(ts(at), at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
    }
}
