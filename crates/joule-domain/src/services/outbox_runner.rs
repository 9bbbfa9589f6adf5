//! The one runner of outbox consumers: reads the events after the
//! consumer's cursor in batches, hands the ones it wants to it in log
//! order, moves the cursor past each event handled or skipped, and waits
//! between passes, longer after a pass that had to stop (back-off).
//!
//! Where the cursor lives is the wiring's choice ([`CursorHome`]): durable
//! in `consumer_cursors` for consumers that must see every event once
//! (payments, receipt emails), or in memory from the newest event for those
//! that only care about changes while the process runs (the price watch).

use std::sync::Arc;
use std::time::Duration;

use crate::events::event::StoredEvent;
use crate::kernel::error::StoreError;
use crate::ports::clock::Clock;
use crate::ports::consumer::{ConsumerError, OutboxConsumer, Pacer};
use crate::ports::store::{ConsumerCursorStore, EventLog};

/// Where a consumer's position in the log is kept.
#[derive(Clone)]
pub enum CursorHome {
    /// `consumer_cursors.<name>`: survives restarts; read at the start of
    /// every pass, written (stamped with `clock`) after every event handled.
    Durable {
        cursors: Arc<dyn ConsumerCursorStore>,
        clock: Arc<dyn Clock>,
    },
    /// Memory, starting at the newest event when the runner starts.
    FromNow,
}

/// How often and how much a runner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerSettings {
    /// The wait between two passes that went well.
    pub poll: Duration,
    /// Events read per query; a pass reads until a batch comes back short.
    pub batch: u32,
    /// After `n` passes in a row that stopped, the wait is `poll × 2^(n-1)`,
    /// at most this (and never less than `poll`).
    pub max_backoff: Duration,
}

/// Why a pass stopped before reaching the end of the log.
#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error("reading or moving the cursor: {0}")]
    Store(#[from] StoreError),
    #[error("event {event_id} not handled yet: {source}")]
    Retry {
        event_id: i64,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Runs consumers over one outbox.
#[derive(Clone)]
pub struct OutboxRunner {
    log: Arc<dyn EventLog>,
    home: CursorHome,
    settings: RunnerSettings,
}

/// The consumer's position while a runner follows the log.
enum Cursor {
    Durable {
        cursors: Arc<dyn ConsumerCursorStore>,
        clock: Arc<dyn Clock>,
        saved: i64,
    },
    Memory(i64),
}

impl OutboxRunner {
    pub fn new(log: Arc<dyn EventLog>, home: CursorHome, settings: RunnerSettings) -> Self {
        Self {
            log,
            home,
            settings,
        }
    }

    /// Follows the log for `consumer` until `pacer` says stop: a pass, then
    /// [`OutboxConsumer::after_pass`], then a wait. A pass in progress
    /// finishes its batch.
    pub async fn run(&self, consumer: &dyn OutboxConsumer, pacer: &dyn Pacer) {
        let name = consumer.name();
        let mut cursor = match &self.home {
            CursorHome::Durable { cursors, clock } => Cursor::Durable {
                cursors: cursors.clone(),
                clock: clock.clone(),
                saved: 0,
            },
            CursorHome::FromNow => loop {
                match self.log.latest_event_id().await {
                    Ok(id) => break Cursor::Memory(id),
                    Err(error) => {
                        tracing::warn!(consumer = name, %error,
                            "outbox consumer: cannot read the outbox; retrying");
                    }
                }
                if !pacer.pause(self.settings.poll).await {
                    return;
                }
            },
        };
        let mut stopped_passes = 0u32;
        loop {
            match self.pass(consumer, &mut cursor, pacer).await {
                Ok(()) => stopped_passes = 0,
                Err(error) => {
                    stopped_passes = stopped_passes.saturating_add(1);
                    tracing::warn!(consumer = name, %error, "outbox consumer: pass stopped; retried");
                }
            }
            consumer.after_pass().await;
            if !pacer.pause(self.wait_after(stopped_passes)).await {
                return;
            }
        }
    }

    /// The wait before the next pass after `stopped_passes` passes in a
    /// row that stopped.
    fn wait_after(&self, stopped_passes: u32) -> Duration {
        let RunnerSettings {
            poll, max_backoff, ..
        } = self.settings;
        let doublings = stopped_passes.saturating_sub(1).min(16);
        poll.saturating_mul(1 << doublings)
            .min(max_backoff.max(poll))
    }

    /// Reads and handles events until the log is drained, shutdown is asked
    /// between two batches, or an event must be retried.
    async fn pass(
        &self,
        consumer: &dyn OutboxConsumer,
        cursor: &mut Cursor,
        pacer: &dyn Pacer,
    ) -> Result<(), PassError> {
        let mut at = cursor.load(consumer.name()).await?;
        loop {
            let events = self.log.events_after(at, self.settings.batch).await?;
            let full = events.len() >= self.settings.batch as usize;
            for event in &events {
                if wanted(consumer, event) {
                    match consumer.handle(event).await {
                        Ok(()) => {}
                        Err(ConsumerError::Skip(error)) => {
                            tracing::warn!(consumer = consumer.name(), event_id = event.id,
                                kind = %event.kind, %error,
                                "outbox consumer: event not handled; moving on");
                        }
                        Err(ConsumerError::Retry(source)) => {
                            cursor.save(consumer.name(), at).await?;
                            return Err(PassError::Retry {
                                event_id: event.id,
                                source,
                            });
                        }
                    }
                    at = event.id;
                    cursor.save(consumer.name(), at).await?;
                } else {
                    // Written with the next handled event or at the end of
                    // the batch: replaying an event nobody wants is harmless.
                    at = event.id;
                }
            }
            cursor.save(consumer.name(), at).await?;
            if !full || pacer.stopping() {
                return Ok(());
            }
        }
    }
}

impl Cursor {
    async fn load(&mut self, name: &str) -> Result<i64, StoreError> {
        match self {
            Cursor::Durable { cursors, saved, .. } => {
                *saved = cursors.consumer_cursor(name).await?;
                Ok(*saved)
            }
            Cursor::Memory(position) => Ok(*position),
        }
    }

    /// Moves the cursor to `at` (a durable one only when it moves forward).
    async fn save(&mut self, name: &str, at: i64) -> Result<(), StoreError> {
        match self {
            Cursor::Durable {
                cursors,
                clock,
                saved,
            } => {
                if at > *saved {
                    cursors.set_consumer_cursor(name, at, clock.now()).await?;
                    *saved = at;
                }
            }
            Cursor::Memory(position) => *position = at,
        }
        Ok(())
    }
}

fn wanted(consumer: &dyn OutboxConsumer, event: &StoredEvent) -> bool {
    event.kind.known().is_some_and(|kind| consumer.wants(kind))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::events::event::{EventKind, StoredKind};
    use crate::ports::clock::ManualClock;
    use crate::ports::store::StoreResult;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    /// An outbox and a cursor table in memory.
    #[derive(Default)]
    struct Outbox {
        events: Mutex<Vec<StoredEvent>>,
        cursors: Mutex<Vec<(String, i64, DateTime<Utc>)>>,
        /// Cursor writes, in order.
        writes: Mutex<Vec<i64>>,
    }

    impl Outbox {
        fn with(kinds: &[StoredKind]) -> Arc<Self> {
            let outbox = Self::default();
            for kind in kinds {
                outbox.push(kind.clone());
            }
            Arc::new(outbox)
        }

        fn push(&self, kind: StoredKind) {
            let mut events = self.events.lock().unwrap();
            let id = events.len() as i64 + 1;
            events.push(StoredEvent {
                id,
                kind,
                charger_id: None,
                session_id: None,
                payload: serde_json::Value::Null,
                occurred_at: t0(),
                recorded_at: t0(),
            });
        }

        fn cursor(&self, name: &str) -> i64 {
            self.cursors
                .lock()
                .unwrap()
                .iter()
                .find(|c| c.0 == name)
                .map_or(0, |c| c.1)
        }
    }

    #[async_trait]
    impl EventLog for Outbox {
        async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
            Ok(self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.id > after)
                .take(limit as usize)
                .cloned()
                .collect())
        }

        async fn latest_event_id(&self) -> StoreResult<i64> {
            Ok(self.events.lock().unwrap().len() as i64)
        }
    }

    #[async_trait]
    impl ConsumerCursorStore for Outbox {
        async fn consumer_cursor(&self, consumer: &str) -> StoreResult<i64> {
            Ok(self.cursor(consumer))
        }

        async fn set_consumer_cursor(
            &self,
            consumer: &str,
            last_event_id: i64,
            at: DateTime<Utc>,
        ) -> StoreResult<()> {
            self.writes.lock().unwrap().push(last_event_id);
            let mut cursors = self.cursors.lock().unwrap();
            cursors.retain(|c| c.0 != consumer);
            cursors.push((consumer.to_owned(), last_event_id, at));
            Ok(())
        }
    }

    /// A consumer of `session.ended` that answers from a script: the n-th
    /// call takes the n-th answer (`Ok` once the script is used up).
    #[derive(Default)]
    struct Scripted {
        answers: Mutex<Vec<Option<bool>>>,
        handled: Mutex<Vec<i64>>,
        after_passes: Mutex<u32>,
    }

    impl Scripted {
        /// `Some(true)`: retry; `Some(false)`: skip; `None`: handled.
        fn answering(answers: &[Option<bool>]) -> Self {
            let mut answers = answers.to_vec();
            answers.reverse();
            Self {
                answers: Mutex::new(answers),
                ..Self::default()
            }
        }

        fn handled(&self) -> Vec<i64> {
            self.handled.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl OutboxConsumer for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }

        fn wants(&self, kind: EventKind) -> bool {
            kind == EventKind::SessionEnded
        }

        async fn handle(&self, event: &StoredEvent) -> Result<(), ConsumerError> {
            self.handled.lock().unwrap().push(event.id);
            match self.answers.lock().unwrap().pop().flatten() {
                None => Ok(()),
                Some(true) => Err(ConsumerError::retry("busy")),
                Some(false) => Err(ConsumerError::skip("no such session")),
            }
        }

        async fn after_pass(&self) {
            *self.after_passes.lock().unwrap() += 1;
        }
    }

    /// Records every wait and says stop after `passes` of them; when
    /// `stop_during` is set, shutdown is asked as soon as a pass starts.
    struct CountingPacer {
        waits: Mutex<Vec<Duration>>,
        passes: usize,
        stop_during: bool,
    }

    impl CountingPacer {
        fn stopping_after(passes: usize) -> Self {
            Self {
                waits: Mutex::new(Vec::new()),
                passes,
                stop_during: false,
            }
        }

        fn waits(&self) -> Vec<Duration> {
            self.waits.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Pacer for CountingPacer {
        async fn pause(&self, delay: Duration) -> bool {
            let mut waits = self.waits.lock().unwrap();
            waits.push(delay);
            waits.len() < self.passes
        }

        fn stopping(&self) -> bool {
            self.stop_during
        }
    }

    const POLL: Duration = Duration::from_millis(500);

    fn runner(outbox: &Arc<Outbox>, home: CursorHome, batch: u32) -> OutboxRunner {
        OutboxRunner::new(
            outbox.clone(),
            home,
            RunnerSettings {
                poll: POLL,
                batch,
                max_backoff: POLL * 4,
            },
        )
    }

    fn durable(outbox: &Arc<Outbox>) -> CursorHome {
        CursorHome::Durable {
            cursors: outbox.clone(),
            clock: Arc::new(ManualClock::new(t0())),
        }
    }

    const ENDED: StoredKind = StoredKind::Known(EventKind::SessionEnded);
    const STARTED: StoredKind = StoredKind::Known(EventKind::SessionStarted);

    #[test]
    fn handled_events_move_the_durable_cursor_in_order() {
        let outbox = Outbox::with(&[ENDED, STARTED, ENDED, STARTED]);
        let consumer = Scripted::default();
        let pacer = CountingPacer::stopping_after(1);
        block_on(runner(&outbox, durable(&outbox), 200).run(&consumer, &pacer));
        assert_eq!(consumer.handled(), vec![1, 3]);
        // After each handled event, and the unwanted tail at the end.
        assert_eq!(*outbox.writes.lock().unwrap(), vec![1, 3, 4]);
        assert_eq!(outbox.cursor("scripted"), 4);
        assert_eq!(
            outbox.cursors.lock().unwrap()[0].2,
            t0(),
            "the injected clock"
        );
        assert_eq!(*consumer.after_passes.lock().unwrap(), 1);
    }

    #[test]
    fn a_retry_stops_the_pass_before_the_event_and_backs_off() {
        let outbox = Outbox::with(&[STARTED, ENDED, ENDED]);
        // Event 2 asks for a retry three times, then goes through.
        let consumer = Scripted::answering(&[Some(true), Some(true), Some(true)]);
        let pacer = CountingPacer::stopping_after(5);
        block_on(runner(&outbox, durable(&outbox), 200).run(&consumer, &pacer));
        assert_eq!(consumer.handled(), vec![2, 2, 2, 2, 3]);
        // The unwanted event 1 is passed even when the pass stops.
        assert_eq!(*outbox.writes.lock().unwrap(), vec![1, 2, 3]);
        // poll, doubled per stopped pass up to max_backoff, then poll again.
        assert_eq!(
            pacer.waits(),
            vec![POLL, POLL * 2, POLL * 4, POLL, POLL],
            "back-off after 1, 2, 3 stopped passes"
        );
        assert_eq!(*consumer.after_passes.lock().unwrap(), 5);
    }

    #[test]
    fn a_skipped_event_is_passed() {
        let outbox = Outbox::with(&[ENDED, ENDED]);
        let consumer = Scripted::answering(&[Some(false)]);
        let pacer = CountingPacer::stopping_after(2);
        block_on(runner(&outbox, durable(&outbox), 200).run(&consumer, &pacer));
        assert_eq!(consumer.handled(), vec![1, 2]);
        assert_eq!(outbox.cursor("scripted"), 2);
        assert_eq!(pacer.waits(), vec![POLL, POLL], "a skip is no failure");
    }

    #[test]
    fn the_durable_cursor_is_where_the_next_run_starts() {
        let outbox = Outbox::with(&[ENDED, ENDED]);
        let first = Scripted::default();
        block_on(
            runner(&outbox, durable(&outbox), 200).run(&first, &CountingPacer::stopping_after(1)),
        );
        outbox.push(ENDED);
        let second = Scripted::default();
        block_on(
            runner(&outbox, durable(&outbox), 200).run(&second, &CountingPacer::stopping_after(1)),
        );
        assert_eq!(second.handled(), vec![3]);
    }

    #[test]
    fn a_pass_reads_batches_until_one_is_short() {
        let outbox = Outbox::with(&[ENDED, ENDED, ENDED, ENDED, ENDED]);
        let consumer = Scripted::default();
        let pacer = CountingPacer::stopping_after(1);
        block_on(runner(&outbox, durable(&outbox), 2).run(&consumer, &pacer));
        assert_eq!(consumer.handled(), vec![1, 2, 3, 4, 5]);
        assert_eq!(pacer.waits().len(), 1, "one pass");
    }

    #[test]
    fn shutdown_stops_a_pass_between_two_batches() {
        let outbox = Outbox::with(&[ENDED, ENDED, ENDED, ENDED, ENDED]);
        let consumer = Scripted::default();
        let pacer = CountingPacer {
            stop_during: true,
            ..CountingPacer::stopping_after(1)
        };
        block_on(runner(&outbox, durable(&outbox), 2).run(&consumer, &pacer));
        assert_eq!(consumer.handled(), vec![1, 2]);
        assert_eq!(outbox.cursor("scripted"), 2);
    }

    #[test]
    fn an_in_memory_cursor_starts_at_the_newest_event() {
        let outbox = Outbox::with(&[ENDED, ENDED]);
        let consumer = Scripted::default();
        let pacer = CountingPacer::stopping_after(1);
        let runner = runner(&outbox, CursorHome::FromNow, 200);
        block_on(runner.run(&consumer, &pacer));
        assert!(consumer.handled().is_empty());
        assert!(outbox.writes.lock().unwrap().is_empty(), "nothing stored");
    }

    #[test]
    fn unknown_kinds_are_passed_without_a_call() {
        let outbox = Outbox::with(&[StoredKind::Unknown("charger.teleported".into()), ENDED]);
        let consumer = Scripted::default();
        block_on(
            runner(&outbox, durable(&outbox), 200)
                .run(&consumer, &CountingPacer::stopping_after(1)),
        );
        assert_eq!(consumer.handled(), vec![2]);
        assert_eq!(outbox.cursor("scripted"), 2);
    }

    /// Polls a future whose fakes never wait to completion, without a
    /// runtime (the domain has none).
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }
}
