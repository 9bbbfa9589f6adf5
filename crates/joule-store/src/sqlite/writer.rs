//! The SQLite writer: one OS thread owns the write connection and commits
//! queued work in groups.
//!
//! Each round it blocks for the first message, drains whatever else is queued
//! (up to `max_batch` jobs), and runs all of it in one `BEGIN IMMEDIATE …
//! COMMIT`. Each job runs inside its own `SAVEPOINT`, so a job that fails is
//! rolled back alone and gets its error, while the others commit. Answers go
//! out through oneshot channels only after the COMMIT returned, so a caller
//! that got `Ok` knows its write is durable. One fsync thus covers hundreds of
//! chargers' writes.

use std::panic::AssertUnwindSafe;

use joule_domain::charging::message_log::LogEntry;
use joule_domain::kernel::error::StoreError;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::sql::db;

/// What a job tells its caller once the transaction's fate is known.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// A job: runs its SQL, says whether it succeeded, and returns its reply.
type JobFn = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

pub(crate) enum Msg {
    Job(JobFn),
    /// Message-log rows: nobody waits for these.
    Log(Vec<LogEntry>),
    /// Answered after everything queued before it is committed.
    Flush(oneshot::Sender<()>),
    /// Commit what is queued, then stop.
    Shutdown(oneshot::Sender<()>),
}

/// Rebuilds an error for each job of a failed commit (`StoreError` is not
/// `Clone`).
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict { entity } => StoreError::Conflict { entity },
        StoreError::NotFound { entity } => StoreError::NotFound { entity },
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Backend(m) => StoreError::Backend(m.clone()),
    }
}

/// Wraps a typed closure as a job and gives back the receiver of its result.
pub(crate) fn job<T, F>(f: F) -> (Msg, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let run: JobFn = Box::new(move |conn: &Connection| {
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|_| Err(StoreError::Backend("a store job panicked".into())));
        let ok = result.is_ok();
        let reply: Reply = Box::new(move |commit_error: Option<&StoreError>| {
            let out = match (commit_error, result) {
                (Some(e), Ok(_)) => Err(copy_error(e)),
                (_, r) => r,
            };
            // The caller may have gone away (cancelled request): nothing to do.
            let _ = tx.send(out);
        });
        (ok, reply)
    });
    (Msg::Job(run), rx)
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(db)
}

/// The writer loop; returns when every sender is gone or on `Shutdown`.
pub(crate) fn run(conn: Connection, mut rx: mpsc::Receiver<Msg>, max_batch: usize) {
    let max_batch = max_batch.max(1);
    let mut batch: Vec<Msg> = Vec::with_capacity(max_batch);
    loop {
        let Some(first) = rx.blocking_recv() else {
            return;
        };
        batch.push(first);
        let mut jobs = usize::from(matches!(batch[0], Msg::Job(_)));
        let mut stopping = matches!(batch[0], Msg::Shutdown(_));
        while jobs < max_batch {
            if stopping {
                // Refuse new work; what is already queued still commits.
                rx.close();
            }
            match rx.try_recv() {
                Ok(msg) => {
                    jobs += usize::from(matches!(msg, Msg::Job(_)));
                    stopping |= matches!(msg, Msg::Shutdown(_));
                    batch.push(msg);
                }
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch);
        if stopping && rx.is_empty() {
            return;
        }
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Msg>) {
    let mut replies: Vec<Reply> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut logs: Vec<LogEntry> = Vec::new();

    let begun = exec(conn, "BEGIN IMMEDIATE");
    if let Err(e) = &begun {
        tracing::error!(error = %e, "sqlite writer could not begin a transaction");
    }
    for msg in batch.drain(..) {
        match msg {
            Msg::Job(run) => {
                if begun.is_err() {
                    // Never run a job outside a transaction. Dropping it
                    // drops its reply channel: the caller gets `Unavailable`.
                    drop(run);
                    continue;
                }
                replies.push(run_in_savepoint(conn, run));
            }
            Msg::Log(mut entries) => logs.append(&mut entries),
            Msg::Flush(w) | Msg::Shutdown(w) => waiters.push(w),
        }
    }
    if begun.is_err() {
        if !logs.is_empty() {
            tracing::error!(rows = logs.len(), "message-log rows lost: no transaction");
        }
        for w in waiters {
            let _ = w.send(());
        }
        return;
    }
    if !logs.is_empty() {
        let saved =
            exec(conn, "SAVEPOINT log").and_then(|_| super::message_log::append_log(conn, &logs));
        match saved {
            Ok(()) => {
                let _ = exec(conn, "RELEASE log");
            }
            Err(e) => {
                tracing::error!(error = %e, rows = logs.len(), "message-log rows not stored");
                let _ = exec(conn, "ROLLBACK TO log");
                let _ = exec(conn, "RELEASE log");
            }
        }
    }
    let committed = exec(conn, "COMMIT");
    if let Err(e) = &committed {
        tracing::error!(error = %e, "sqlite group commit failed");
        let _ = exec(conn, "ROLLBACK");
    }
    let commit_error = committed.err();
    for reply in replies {
        reply(commit_error.as_ref());
    }
    for w in waiters {
        let _ = w.send(());
    }
}

fn run_in_savepoint(conn: &Connection, run: JobFn) -> Reply {
    if let Err(e) = exec(conn, "SAVEPOINT job") {
        tracing::error!(error = %e, "sqlite writer could not open a savepoint");
        // Dropped unrun: its caller gets `Unavailable`.
        drop(run);
        return Box::new(|_| {});
    }
    let (ok, reply) = run(conn);
    if ok {
        if let Err(e) = exec(conn, "RELEASE job") {
            tracing::error!(error = %e, "sqlite writer could not release a savepoint");
        }
    } else {
        // This job alone is undone; the rest of the group still commits.
        let _ = exec(conn, "ROLLBACK TO job");
        let _ = exec(conn, "RELEASE job");
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use joule_domain::charging::charger::{NewCharger, RegistrationStatus};
    use joule_domain::kernel::ids::ChargerId;

    fn new_charger(id: &str) -> NewCharger {
        NewCharger {
            id: ChargerId::parse(id).unwrap(),
            label: None,
            location: None,
            registration: RegistrationStatus::Accepted,
            password_hash: None,
        }
    }

    /// All jobs are queued before the writer starts, so they land in one
    /// group commit; the failing one must not take the others down.
    #[tokio::test]
    async fn a_failing_job_rolls_back_alone_within_a_group_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let mut conn = super::super::open_writer(&path, &crate::StoreOptions::default()).unwrap();
        super::super::migrate(&mut conn, crate::migrations::SQLITE).unwrap();
        let (tx, rx) = mpsc::channel(16);
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut results = Vec::new();
        for id in ["A", "A", "B"] {
            let new = new_charger(id);
            let (msg, result) = job(move |c| crate::sqlite::chargers::create_charger(c, &new, at));
            tx.send(msg).await.unwrap();
            results.push(result);
        }
        // A job whose SQL fails halfway: its first insert must be undone too.
        let (msg, failing) = job(move |c| {
            crate::sqlite::chargers::create_charger(c, &new_charger("C"), at)?;
            c.execute("INSERT INTO no_such_table VALUES (1)", [])
                .map_err(db)?;
            Ok(())
        });
        tx.send(msg).await.unwrap();
        tx.send(Msg::Log(vec![])).await.unwrap();
        drop(tx);
        let writer = std::thread::spawn(move || run(conn, rx, 64));

        assert!(results.remove(0).await.unwrap().is_ok());
        assert!(matches!(
            results.remove(0).await.unwrap(),
            Err(StoreError::Conflict { entity: "charger" })
        ));
        assert!(results.remove(0).await.unwrap().is_ok());
        assert!(failing.await.unwrap().is_err());
        writer.join().unwrap();

        let check = Connection::open(&path).unwrap();
        let ids: Vec<String> = check
            .prepare("SELECT id FROM chargers ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, vec!["A", "B"]);
        let events: i64 = check
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            events, 2,
            "the failed jobs' events were rolled back with them"
        );
    }
}
