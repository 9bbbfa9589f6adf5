//! Charging sessions and their meter samples (`SessionStore`).

use super::outbox::insert_event;
use super::sql::{cid, limit_offset, map_rows, pg, R};
use super::tariffs::current_version;
use super::PgStore;
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
use sqlx::PgConnection;

#[async_trait]
impl SessionStore for PgStore {
    async fn start_session(&self, start: StartSession) -> StoreResult<StartOutcome> {
        in_tx!(self, c => async {
            let start = &start;
            // A resend of the same start (same identity) meets the unique index and
            // is answered with the session recorded first.
            let same = StartIdentity::of(start);
            let key = &same.id_tag_key;
            let tariff = match &start.tariff_id {
                Some(id) => current_version(c, id).await?,
                None => None,
            };
            let created = sqlx::query(
                statements::START_SESSION,
            )
            .bind(SessionId::new_v7().as_uuid())
            .bind(start.charger_id.as_str())
            .bind(cid(start.connector_id))
            .bind(start.id_tag.as_str())
            .bind(key)
            .bind(start.authorization.as_str())
            .bind(start.reservation_id)
            .bind(start.started_at)
            .bind(start.meter_start_wh)
            .bind(start.received_at)
            .bind(tariff.as_ref().map(|t| t.tariff_id.as_str()))
            .bind(tariff.as_ref().map(|t| t.version))
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected()
                > 0;
            let row = sqlx::query(statements::START_SESSION_2)
            .bind(same.charger_id.as_str())
            .bind(cid(same.connector_id))
            .bind(key)
            .bind(same.started_at)
            .bind(same.meter_start_wh)
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .ok_or_else(|| StoreError::Backend("started session vanished".into()))?;
            let session = rows::session(&row)?;
            if created {
                insert_event(c, &events::ev_session_started(&session)).await?;
            }
            Ok(StartOutcome { session, created })
        })
    }

    async fn stop_session(&self, stop: StopSession) -> StoreResult<StopOutcome> {
        in_tx!(self, c => async {
            let stop = &stop;
            let existing = session_of_charger(c, stop.transaction_id, &stop.charger_id).await?;
            let mut session = match (stop_decision(existing.as_ref(), stop), existing) {
                (StopDecision::Stop, Some(session)) => session,
                (StopDecision::Duplicate, Some(session)) => {
                    insert_event(c, &events::ev_stop_duplicated(&session, stop)).await?;
                    return Ok(StopOutcome::AlreadyStopped(session));
                }
                _ => {
                    insert_event(c, &events::ev_stop_unmatched(stop)).await?;
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
            )
            .await?;
            update_running_figures(c, &mut session, &stop.transaction_data, stop.received_at).await?;
            sqlx::query(
                "UPDATE sessions SET state = 'ended', stopped_at = $2, meter_stop_wh = $3, \
                 stop_reason = $4, stop_id_tag = $5, updated_at = $6 WHERE transaction_id = $1",
            )
            .bind(stop.transaction_id.get())
            .bind(stop.stopped_at)
            .bind(stop.meter_stop_wh)
            .bind(&stop.reason)
            .bind(stop.id_tag.as_ref().map(|t| t.as_str()))
            .bind(stop.received_at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let session = get_session_by_transaction(c, stop.transaction_id)
                .await?
                .ok_or(StoreError::NotFound { entity: "session" })?;
            insert_event(c, &events::ev_session_ended(&session)).await?;
            Ok(StopOutcome::Stopped(session))
        })
    }

    async fn record_meter_values(
        &self,
        charger: &ChargerId,
        report: MeterReport,
    ) -> StoreResult<()> {
        in_tx!(self, c => async {
            let report = &report;
            let mut session = match report.transaction_id {
                Some(tx) => session_of_charger(c, tx, charger).await?,
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
            )
            .await?;
            if let Some(s) = session.as_mut() {
                update_running_figures(c, s, &report.samples, report.received_at).await?;
            }
            Ok(())
        })
    }

    async fn get_session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        on_conn!(self, c => async {
            sqlx::query(statements::GET_SESSION)
            .bind(id.as_uuid())
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .as_ref()
            .map(rows::session)
            .transpose()
        })
    }

    async fn get_session_by_transaction(
        &self,
        transaction_id: TransactionId,
    ) -> StoreResult<Option<Session>> {
        on_conn!(self, c => get_session_by_transaction(c, transaction_id))
    }

    async fn list_sessions(
        &self,
        filter: SessionFilter,
        page: Page,
    ) -> StoreResult<Paged<Session>> {
        on_conn!(self, c => async {
            let filter = &filter;
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(concat!(
                "SELECT ",
                session_cols!(),
                " FROM sessions WHERE ($1::text IS NULL OR charger_id = $1) \
                 AND ($2::text IS NULL OR id_tag_key = $2) AND ($3::text IS NULL OR state = $3) \
                 AND ($4::timestamptz IS NULL OR started_at >= $4) \
                 AND ($5::timestamptz IS NULL OR started_at < $5) \
                 ORDER BY started_at DESC, transaction_id DESC LIMIT $6 OFFSET $7"
            ))
            .bind(filter.charger_id.as_ref().map(|c| c.as_str()))
            .bind(filter.id_tag.as_ref().map(|t| t.key()))
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.started_from)
            .bind(filter.started_to)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Paged::from_overfetch(map_rows(rows, rows::session)?, page))
        })
    }

    async fn session_meter_values(&self, id: SessionId) -> StoreResult<Vec<StoredMeterValue>> {
        on_conn!(self, c => async {
            let rows = sqlx::query(concat!(
                "SELECT timestamp, connector_id, transaction_id, sampled_values::text, received_at",
                " FROM meter_samples WHERE session_id = $1 ORDER BY timestamp, id"
            ))
            .bind(id.as_uuid())
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            let samples = map_rows(rows, rows::meter_sample)?;

            values::flatten_samples(samples)
        })
    }
}

pub(crate) async fn get_session_by_transaction(
    c: &mut PgConnection,
    tx: TransactionId,
) -> R<Option<Session>> {
    sqlx::query(statements::GET_SESSION_BY_TRANSACTION)
        .bind(tx.get())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(rows::session)
        .transpose()
}

/// The session, locked for the rest of the transaction.
pub(super) async fn session_of_charger(
    c: &mut PgConnection,
    tx: TransactionId,
    charger: &ChargerId,
) -> R<Option<Session>> {
    sqlx::query(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE transaction_id = $1 AND charger_id = $2 FOR UPDATE"
    ))
    .bind(tx.get())
    .bind(charger.as_str())
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(rows::session)
    .transpose()
}

pub(super) async fn insert_samples(
    c: &mut PgConnection,
    charger: &ChargerId,
    connector_id: ConnectorId,
    transaction_id: Option<TransactionId>,
    session_id: Option<SessionId>,
    samples: &[MeterSample],
    received_at: DateTime<Utc>,
) -> R<()> {
    let samples: Vec<&MeterSample> = samples.iter().filter(|s| !s.values.is_empty()).collect();
    if samples.is_empty() {
        return Ok(());
    }
    let at: Vec<DateTime<Utc>> = samples.iter().map(|s| s.timestamp).collect();
    let values: Vec<String> = samples
        .iter()
        .map(|s| values::encode_sampled_values(&s.values))
        .collect();
    sqlx::query(
        "INSERT INTO meter_samples (session_id, charger_id, connector_id, transaction_id, \
         timestamp, sampled_values, received_at) \
         SELECT $1, $2, $3, $4, t.timestamp, t.sampled_values::jsonb, $7 \
         FROM UNNEST($5::timestamptz[], $6::text[]) WITH ORDINALITY \
         AS t(timestamp, sampled_values, n) ORDER BY n",
    )
    .bind(session_id.map(|s| s.as_uuid()))
    .bind(charger.as_str())
    .bind(cid(connector_id))
    .bind(transaction_id.map(TransactionId::get))
    .bind(at)
    .bind(values)
    .bind(received_at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}

pub(super) async fn update_running_figures(
    c: &mut PgConnection,
    session: &mut Session,
    samples: &[MeterSample],
    at: DateTime<Utc>,
) -> R<()> {
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
        return Ok(());
    }
    sqlx::query(
        "UPDATE sessions SET last_meter_at = $2, last_meter_wh = $3, peak_power_w = $4, \
         updated_at = $5 WHERE transaction_id = $1",
    )
    .bind(session.transaction_id.get())
    .bind(session.last_meter_at)
    .bind(session.last_meter_wh)
    .bind(session.peak_power_w)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(pg)?;
    Ok(())
}
