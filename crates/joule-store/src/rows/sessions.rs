//! Sessions and their meter samples.

use joule_domain::charging::session::{Session, SessionState};
use joule_domain::kernel::ids::{SessionId, TransactionId};

use super::{RowRead, R};
use crate::values::{self, corrupt, parse_or_corrupt, SampleRow};

/// A row of `session_cols!()`.
pub(crate) fn session(row: &impl RowRead) -> R<Session> {
    Ok(Session {
        transaction_id: row.transaction(0)?,
        id: SessionId::from_uuid(row.uuid(1)?),
        charger_id: values::charger_id(&row.text(2)?)?,
        connector_id: row.connector(3)?,
        id_tag: values::id_tag(&row.text(4)?)?,
        start_authorization: values::parse_auth_status(&row.text(5)?)?,
        state: parse_or_corrupt(&row.text(6)?, "session state", SessionState::parse)?,
        reservation_id: row.opt_int(7)?,
        started_at: row.ts(8)?,
        meter_start_wh: row.int(9)?,
        stopped_at: row.opt_ts(10)?,
        meter_stop_wh: row.opt_int(11)?,
        stop_reason: row.opt_text(12)?,
        stop_id_tag: row
            .opt_text(13)?
            .as_deref()
            .map(values::id_tag)
            .transpose()?,
        last_meter_at: row.opt_ts(14)?,
        last_meter_wh: row.opt_int(15)?,
        peak_power_w: row.opt_int(16)?,
        created_at: row.ts(17)?,
        updated_at: row.ts(18)?,
        tariff: values::session_tariff(row.opt_text(19)?, row.opt_int(20)?),
    })
}

/// A row of `meter_cols!()`, before its sampled values are unpacked
/// (`values::flatten_samples`).
pub(crate) fn meter_sample(row: &impl RowRead) -> R<SampleRow> {
    Ok((
        row.ts(0)?,
        row.connector(1)?,
        row.opt_int(2)?
            .map(TransactionId::new)
            .transpose()
            .map_err(corrupt)?,
        row.text(3)?,
        row.ts(4)?,
    ))
}
