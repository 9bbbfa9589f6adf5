//! The tariff-assignment rows other aggregates touch: deleting a tariff,
//! site, charger, group or token deletes its assignments. Apart from
//! `tariff_assignments.rs` (the port, whose lookup reads every one of those
//! aggregates) so they do not import each other in a circle.

use chrono::{DateTime, Utc};
use joule_domain::kernel::ids::IdToken;
use joule_domain::pricing::assignment::{AssignmentFilter, AssignmentId, TariffAssignment};
use rusqlite::{params, Connection, Row};

use super::outbox::insert_event;
use super::sql::{collect, exec, get, get_opt_ts, get_ts, one, R};
use crate::events;
use crate::scopes::{self as p, ScopeCols};
use crate::statements;

pub(crate) const ASSIGNMENT_COLS: &str =
    "SELECT id, tariff_id, scope, site_id, charger_id, connector_id, group_id, id_tag, \
         valid_from, valid_until, created_at FROM tariff_assignments";

pub(crate) fn assignment_row(row: &Row<'_>) -> R<TariffAssignment> {
    p::assignment(
        &get::<String>(row, 0)?,
        get(row, 1)?,
        &get::<String>(row, 2)?,
        ScopeCols {
            site_id: get(row, 3)?,
            charger_id: get(row, 4)?,
            connector_id: get(row, 5)?,
            group_id: get(row, 6)?,
            id_tag: get(row, 7)?,
            id_tag_key: None,
        },
        get_opt_ts(row, 8)?,
        get_opt_ts(row, 9)?,
        get_ts(row, 10)?,
    )
}

pub(crate) fn get_assignment(c: &Connection, id: AssignmentId) -> R<Option<TariffAssignment>> {
    let sql = format!("{ASSIGNMENT_COLS} WHERE id = ?1");
    one(c, &sql, [id.to_string()], assignment_row)
}

pub(crate) const FILTER: &str = "(?1 IS NULL OR tariff_id = ?1) AND (?2 IS NULL OR scope = ?2) \
     AND (?3 IS NULL OR site_id = ?3) AND (?4 IS NULL OR charger_id = ?4) \
     AND (?5 IS NULL OR group_id = ?5) AND (?6 IS NULL OR id_tag_key = ?6)";

pub(crate) fn filter_params(f: &AssignmentFilter) -> [Option<String>; 6] {
    [
        f.tariff_id.clone(),
        f.scope.map(|s| s.as_str().to_owned()),
        f.site_id.as_ref().map(|s| s.as_str().to_owned()),
        f.charger_id.as_ref().map(|s| s.as_str().to_owned()),
        f.group_id.as_ref().map(|s| s.as_str().to_owned()),
        f.id_tag.as_ref().map(IdToken::key),
    ]
}

/// Deletes every assignment matching `filter`, one event each (a deleted
/// tariff, site, charger, group or token takes its assignments with it).
pub(crate) fn delete_assignments_where(
    c: &Connection,
    filter: &AssignmentFilter,
    at: DateTime<Utc>,
) -> R<()> {
    let [a, b, cc, d, e, f] = filter_params(filter);
    let sql = format!("{ASSIGNMENT_COLS} WHERE {FILTER} ORDER BY id");
    let doomed = collect(c, &sql, params![a, b, cc, d, e, f], assignment_row)?;
    for x in doomed {
        exec(c, statements::DELETE_ASSIGNMENTS_WHERE, [x.id.to_string()])?;
        insert_event(c, &events::ev_assignment_deleted(&x, at))?;
    }
    Ok(())
}
