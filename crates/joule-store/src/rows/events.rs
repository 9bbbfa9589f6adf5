//! Outbox events.

use joule_domain::events::event::{StoredEvent, StoredKind};

use super::{RowRead, R};
use crate::values;

/// `id, kind, charger_id, session_id, payload, occurred_at, recorded_at` of
/// an outbox event.
pub(crate) fn stored_event(row: &impl RowRead) -> R<StoredEvent> {
    Ok(StoredEvent {
        id: row.int(0)?,
        kind: StoredKind::from_stored(row.text(1)?),
        charger_id: row.opt_text(2)?,
        session_id: row.opt_uuid(3)?.map(|u| u.to_string()),
        payload: row
            .opt_json(4)?
            .ok_or_else(|| values::corrupt("event payload is NULL"))?,
        occurred_at: row.ts(5)?,
        recorded_at: row.ts(6)?,
    })
}
