//! The tariff-assignment rows other aggregates touch: deleting a tariff,
//! site, charger, group or token deletes its assignments. Apart from
//! `tariff_assignments.rs` (the port, whose lookup reads every one of those
//! aggregates) so they do not import each other in a circle.

use chrono::{DateTime, Utc};
use joule_domain::kernel::ids::IdToken;
use joule_domain::kernel::page::Page;
use joule_domain::pricing::assignment::{AssignmentFilter, AssignmentId, TariffAssignment};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::outbox::insert_event;
use super::sql::{get, limit_offset, map_rows, pg, R};
use crate::events;
use crate::scopes::{self as p, ScopeCols};
use crate::statements;

macro_rules! assignment_cols {
    () => {
        "SELECT id, tariff_id, scope, site_id, charger_id, connector_id, group_id, id_tag, \
         valid_from, valid_until, created_at FROM tariff_assignments"
    };
}

macro_rules! filter {
    () => {
        "($1::text IS NULL OR tariff_id = $1) AND ($2::text IS NULL OR scope = $2) \
         AND ($3::text IS NULL OR site_id = $3) AND ($4::text IS NULL OR charger_id = $4) \
         AND ($5::text IS NULL OR group_id = $5) AND ($6::text IS NULL OR id_tag_key = $6)"
    };
}
pub(super) use assignment_cols;

pub(crate) fn assignment_row(row: &PgRow) -> R<TariffAssignment> {
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
        get(row, 8)?,
        get(row, 9)?,
        get(row, 10)?,
    )
}

pub(crate) async fn get_assignment(
    c: &mut PgConnection,
    id: AssignmentId,
) -> R<Option<TariffAssignment>> {
    sqlx::query(concat!(assignment_cols!(), " WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(assignment_row)
        .transpose()
}

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

pub(crate) async fn select_where(
    c: &mut PgConnection,
    filter: &AssignmentFilter,
    page: Option<Page>,
) -> R<Vec<TariffAssignment>> {
    let (limit, offset) = page.map_or((i64::MAX, 0), limit_offset);
    let mut q = sqlx::query(concat!(
        assignment_cols!(),
        " WHERE ",
        filter!(),
        " ORDER BY id COLLATE \"C\" LIMIT $7 OFFSET $8"
    ));
    for v in filter_params(filter) {
        q = q.bind(v);
    }
    let rows = q
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *c)
        .await
        .map_err(pg)?;
    map_rows(rows, assignment_row)
}

/// Deletes every assignment matching `filter`, one event each.
pub(crate) async fn delete_assignments_where(
    c: &mut PgConnection,
    filter: &AssignmentFilter,
    at: DateTime<Utc>,
) -> R<()> {
    for a in select_where(c, filter, None).await? {
        sqlx::query(statements::DELETE_TARIFF_ASSIGNMENT)
            .bind(a.id.to_string())
            .execute(&mut *c)
            .await
            .map_err(pg)?;
        insert_event(c, &events::ev_assignment_deleted(&a, at)).await?;
    }
    Ok(())
}
