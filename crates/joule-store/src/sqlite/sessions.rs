//! Charging sessions and their meter samples (`SessionStore`).

use super::outbox::insert_event;
use super::sql::{collect, db, exec, limit_offset, one, opt_ts, ts, R};
use super::tariffs::current_version;
use super::SqliteStore;
use crate::events;
use crate::statements;
use crate::values::micros;
use crate::{rows, values};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::charging::meter::{MeterReport, MeterSample, MeterSummary};
use joule_domain::charging::session::{
    apply_meter_summary, stop_decision, Session, SessionFilter, StartIdentity, StartOutcome,
    StartSession, StopDecision, StopOutcome, StopSession, StoredMeterValue,
};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, ConnectorId, SessionId, TransactionId};
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::ports::store::{SessionStore, StoreResult};
use rusqlite::{params, Connection};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn start_session(&self, start: StartSession) -> StoreResult<StartOutcome> {
        self.write(move |c| {
            let start = &start;
            // A resend of the same start (same identity) meets the unique index and
            // is answered with the session recorded first.
            let same = StartIdentity::of(start);
            let started_at = ts(same.started_at);
            let key = &same.id_tag_key;
            let tariff = match &start.tariff_id {
                Some(id) => current_version(c, id)?,
                None => None,
            };
            let created = exec(
                c,
                statements::START_SESSION,
                params![
                    SessionId::new_v7().to_string(),
                    start.charger_id.as_str(),
                    start.connector_id.get(),
                    start.id_tag.as_str(),
                    key,
                    start.authorization.as_str(),
                    start.reservation_id,
                    started_at,
                    start.meter_start_wh,
                    ts(start.received_at),
                    tariff.as_ref().map(|t| t.tariff_id.as_str()),
                    tariff.as_ref().map(|t| t.version),
                ],
            )? > 0;
            let session = one(
                c,
                statements::START_SESSION_2,
                params![
                    same.charger_id.as_str(),
                    same.connector_id.get(),
                    key,
                    started_at,
                    same.meter_start_wh
                ],
                |r| rows::session(r),
            )?
            .ok_or_else(|| StoreError::Backend("started session vanished".into()))?;
            if created {
                insert_event(c, &events::ev_session_started(&session))?;
            }
            Ok(StartOutcome { session, created })
        })
        .await
    }

    async fn stop_session(&self, stop: StopSession) -> StoreResult<StopOutcome> {
        self.write(move |c| {
            let stop = &stop;
            let existing = session_of_charger(c, stop.transaction_id, &stop.charger_id)?;
            let mut session = match (stop_decision(existing.as_ref(), stop), existing) {
                (StopDecision::Stop, Some(session)) => session,
                (StopDecision::Duplicate, Some(session)) => {
                    insert_event(c, &events::ev_stop_duplicated(&session, stop))?;
                    return Ok(StopOutcome::AlreadyStopped(session));
                }
                _ => {
                    insert_event(c, &events::ev_stop_unmatched(stop))?;
                    return Ok(StopOutcome::UnknownTransaction);
                }
            };
            insert_samples(
                c,
                &stop.charger_id,
                session.connector_id,
                Some(stop.transaction_id),
                Some(session.id),
                &stop.transaction_data,
                stop.received_at,
            )?;
            update_running_figures(c, &mut session, &stop.transaction_data, stop.received_at)?;
            exec(
                c,
                "UPDATE sessions SET state = 'ended', stopped_at = ?2, meter_stop_wh = ?3, \
                 stop_reason = ?4, stop_id_tag = ?5, updated_at = ?6 WHERE transaction_id = ?1",
                params![
                    stop.transaction_id.get(),
                    ts(stop.stopped_at),
                    stop.meter_stop_wh,
                    stop.reason,
                    stop.id_tag.as_ref().map(|t| t.as_str()),
                    ts(stop.received_at),
                ],
            )?;
            let session = get_session_by_transaction(c, stop.transaction_id)?
                .ok_or(StoreError::NotFound { entity: "session" })?;
            insert_event(c, &events::ev_session_ended(&session))?;
            Ok(StopOutcome::Stopped(session))
        })
        .await
    }

    async fn record_meter_values(
        &self,
        charger: &ChargerId,
        report: MeterReport,
    ) -> StoreResult<()> {
        let charger = charger.clone();
        self.write(move |c| {
            let charger = &charger;
            let report = &report;
            let mut session = match report.transaction_id {
                Some(tx) => session_of_charger(c, tx, charger)?,
                None => None,
            };
            insert_samples(
                c,
                charger,
                report.connector_id,
                report.transaction_id,
                session.as_ref().map(|s| s.id),
                &report.samples,
                report.received_at,
            )?;
            if let Some(s) = session.as_mut() {
                update_running_figures(c, s, &report.samples, report.received_at)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        self.read(move |c| {
            one(c, statements::GET_SESSION, [id.to_string()], |r| {
                rows::session(r)
            })
        })
        .await
    }

    async fn get_session_by_transaction(
        &self,
        transaction_id: TransactionId,
    ) -> StoreResult<Option<Session>> {
        self.read(move |c| get_session_by_transaction(c, transaction_id))
            .await
    }

    async fn list_sessions(
        &self,
        filter: SessionFilter,
        page: Page,
    ) -> StoreResult<Paged<Session>> {
        self.read(move |c| {
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let rows = collect(
                c,
                concat!(
                    "SELECT ",
                    session_cols!(),
                    " FROM sessions WHERE (?1 IS NULL OR charger_id = ?1) \
                     AND (?2 IS NULL OR id_tag_key = ?2) AND (?3 IS NULL OR state = ?3) \
                     AND (?4 IS NULL OR started_at >= ?4) AND (?5 IS NULL OR started_at < ?5) \
                     ORDER BY started_at DESC, transaction_id DESC LIMIT ?6 OFFSET ?7"
                ),
                params![
                    filter.charger_id.as_ref().map(|c| c.as_str()),
                    filter.id_tag.as_ref().map(|t| t.key()),
                    filter.state.map(|s| s.as_str()),
                    opt_ts(filter.started_from),
                    opt_ts(filter.started_to),
                    limit,
                    offset,
                ],
                |r| rows::session(r),
            )?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn session_meter_values(&self, id: SessionId) -> StoreResult<Vec<StoredMeterValue>> {
        self.read(move |c| {
            let samples = collect(
                c,
                concat!(
                    "SELECT ",
                    meter_cols!(),
                    " FROM meter_samples WHERE session_id = ?1 ORDER BY timestamp, id"
                ),
                [id.to_string()],
                |r| rows::meter_sample(r),
            )?;
            values::flatten_samples(samples)
        })
        .await
    }
}

pub(crate) fn get_session_by_transaction(c: &Connection, tx: TransactionId) -> R<Option<Session>> {
    one(c, statements::GET_SESSION_BY_TRANSACTION, [tx.get()], |r| {
        rows::session(r)
    })
}

pub(super) fn session_of_charger(
    c: &Connection,
    tx: TransactionId,
    charger: &ChargerId,
) -> R<Option<Session>> {
    one(
        c,
        concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions WHERE transaction_id = ?1 AND charger_id = ?2"
        ),
        params![tx.get(), charger.as_str()],
        |r| rows::session(r),
    )
}

pub(super) fn insert_samples(
    c: &Connection,
    charger: &ChargerId,
    connector_id: ConnectorId,
    transaction_id: Option<TransactionId>,
    session_id: Option<SessionId>,
    samples: &[MeterSample],
    received_at: DateTime<Utc>,
) -> R<()> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO meter_samples (session_id, charger_id, connector_id, transaction_id, \
             timestamp, sampled_values, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db)?;
    let session_id = session_id.map(|s| s.to_string());
    let received_at = ts(received_at);
    for sample in samples.iter().filter(|s| !s.values.is_empty()) {
        stmt.execute(params![
            session_id,
            charger.as_str(),
            connector_id.get(),
            transaction_id.map(TransactionId::get),
            ts(sample.timestamp),
            values::encode_sampled_values(&sample.values),
            received_at,
        ])
        .map_err(db)?;
    }
    Ok(())
}

/// Folds new samples into the session's running figures; writes only when
/// they changed.
pub(super) fn update_running_figures(
    c: &Connection,
    session: &mut Session,
    samples: &[MeterSample],
    at: DateTime<Utc>,
) -> R<bool> {
    let before = (
        session.last_meter_at,
        session.last_meter_wh,
        session.peak_power_w,
    );
    apply_meter_summary(session, MeterSummary::of(samples));
    session.last_meter_at = session.last_meter_at.map(micros);
    let after = (
        session.last_meter_at,
        session.last_meter_wh,
        session.peak_power_w,
    );
    if before == after {
        return Ok(false);
    }
    exec(
        c,
        "UPDATE sessions SET last_meter_at = ?2, last_meter_wh = ?3, peak_power_w = ?4, \
         updated_at = ?5 WHERE transaction_id = ?1",
        params![
            session.transaction_id.get(),
            opt_ts(session.last_meter_at),
            session.last_meter_wh,
            session.peak_power_w,
            ts(at),
        ],
    )?;
    Ok(true)
}
