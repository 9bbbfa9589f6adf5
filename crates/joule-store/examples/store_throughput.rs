//! Group-commit throughput of the store: calls/s for the OCPP hot-path mix
//! (heartbeat, status notification, meter values, each with 2 message-log
//! rows: the CALL in and the CALLRESULT out) from many concurrent tasks.
//!
//! ```text
//! cargo run --release -p joule-store --example store_throughput -- [URL] [CALLS] [TASKS]
//! ```
//! URL defaults to a SQLite file in a temp dir; `JOULE_BENCH_SYNC=normal`
//! selects `synchronous=NORMAL` (default FULL); `JOULE_BENCH_WORKERS` sets the
//! tokio worker threads (default 2).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use joule_domain::charging::auth::AuthorizationStatus;
use joule_domain::charging::charger::{
    ConnectorStatus, NewCharger, RegistrationStatus, StatusReport,
};
use joule_domain::charging::message_log::{Direction, FrameKind, LogEntry};
use joule_domain::charging::meter::{MeterReport, MeterSample, SampledValue};
use joule_domain::charging::session::StartSession;
use joule_domain::kernel::ids::{ChargerId, ConnectorId, IdToken, TransactionId};
use joule_domain::ports::store::Store;
use joule_store::{connect, SqliteSynchronous, StoreOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workers = std::env::var("JOULE_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(run())
}

fn log_pair(charger: &ChargerId, action: &str, n: usize) -> Vec<LogEntry> {
    let at = Utc::now();
    vec![
        LogEntry {
            charger_id: charger.clone(),
            direction: Direction::In,
            kind: FrameKind::Call,
            action: Some(action.into()),
            message_id: Some(n.to_string()),
            frame: format!("[2,\"{n}\",\"{action}\",{{}}]"),
            note: None,
            at,
        },
        LogEntry {
            charger_id: charger.clone(),
            direction: Direction::Out,
            kind: FrameKind::CallResult,
            action: Some(action.into()),
            message_id: Some(n.to_string()),
            frame: format!("[3,\"{n}\",{{}}]"),
            note: None,
            at,
        },
    ]
}

async fn one_call(
    store: &dyn Store,
    charger: &ChargerId,
    tx: TransactionId,
    n: usize,
) -> Result<(), joule_domain::kernel::error::StoreError> {
    let now = Utc::now();
    let action = match n % 3 {
        0 => {
            store.record_heartbeat(charger, now).await?;
            "Heartbeat"
        }
        1 => {
            let status = if n.is_multiple_of(2) {
                ConnectorStatus::Charging
            } else {
                ConnectorStatus::SuspendedEV
            };
            let report = StatusReport {
                connector_id: ConnectorId::new(1)
                    .map_err(|e| joule_domain::kernel::error::StoreError::Backend(e.to_string()))?,
                status,
                error_code: None,
                info: None,
                vendor_id: None,
                vendor_error_code: None,
                reported_at: Some(now),
                received_at: now,
            };
            store.record_status(charger, report).await?;
            "StatusNotification"
        }
        _ => {
            let value = |v: String, m: &str, u: &str| SampledValue {
                value: v,
                context: Some("Sample.Periodic".into()),
                format: None,
                measurand: Some(m.into()),
                phase: None,
                location: None,
                unit: Some(u.into()),
            };
            let report = MeterReport {
                connector_id: ConnectorId::new(1)
                    .map_err(|e| joule_domain::kernel::error::StoreError::Backend(e.to_string()))?,
                transaction_id: Some(tx),
                samples: vec![MeterSample {
                    timestamp: now,
                    values: vec![
                        value((n * 10).to_string(), "Energy.Active.Import.Register", "Wh"),
                        value("7400".into(), "Power.Active.Import", "W"),
                    ],
                }],
                received_at: now,
            };
            store.record_meter_values(charger, report).await?;
            "MeterValues"
        }
    };
    // The CSMS logs the CALL and its answer; nobody waits for these commits.
    store.append_log(log_pair(charger, action, n)).await
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = tempfile::tempdir()?;
    let url = args
        .get(1)
        .filter(|a| !a.is_empty() && a.as_str() != "-")
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let calls: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let tasks: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let sync = match std::env::var("JOULE_BENCH_SYNC").as_deref() {
        Ok("normal") => SqliteSynchronous::Normal,
        _ => SqliteSynchronous::Full,
    };
    let options = StoreOptions {
        sqlite_synchronous: sync,
        pg_max_connections: 32,
        ..StoreOptions::default()
    };
    let db = connect(&url, options).await?;
    let store = db.store();

    // One charger and one running session per task.
    let t0 = Utc::now();
    let mut chargers = Vec::with_capacity(tasks);
    for i in 0..tasks {
        let id = ChargerId::parse(&format!("BENCH-{i}"))?;
        if store.get_charger(&id).await?.is_none() {
            store
                .create_charger(
                    NewCharger {
                        id: id.clone(),
                        label: None,
                        location: None,
                        registration: RegistrationStatus::Accepted,
                        password_hash: None,
                    },
                    t0,
                )
                .await?;
        }
        let session = store
            .start_session(StartSession {
                charger_id: id.clone(),
                connector_id: ConnectorId::new(1)?,
                id_tag: IdToken::parse("BENCH")?,
                meter_start_wh: 0,
                started_at: t0,
                reservation_id: None,
                authorization: AuthorizationStatus::Accepted,
                received_at: t0,
                tariff_id: None,
            })
            .await?
            .session;
        chargers.push((id, session.transaction_id));
    }

    let per_task = calls.div_ceil(tasks);
    let started = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for (id, tx) in chargers {
        let store: Arc<dyn Store> = store.clone();
        handles.push(tokio::spawn(async move {
            for n in 0..per_task {
                one_call(store.as_ref(), &id, tx, n).await?;
            }
            Ok::<(), joule_domain::kernel::error::StoreError>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    let answered = started.elapsed();
    // Log rows are fire-and-forget; count the time until they are durable too.
    db.flush().await?;
    let durable = started.elapsed();
    let total = per_task * tasks;
    println!(
        "backend={} sync={:?} tasks={tasks} calls={total} (each: 1 write + 2 log rows)",
        db.backend(),
        sync
    );
    println!(
        "answered: {:.0} calls/s ({:.2}s); all durable incl. log: {:.0} calls/s ({:.2}s)",
        total as f64 / answered.as_secs_f64(),
        answered.as_secs_f64(),
        total as f64 / durable.as_secs_f64(),
        durable.as_secs_f64()
    );
    db.close().await?;
    Ok(())
}
