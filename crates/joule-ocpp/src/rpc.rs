//! RPC bookkeeping for one connection: pure state, time passed in.
//!
//! OCPP-J allows one outstanding CALL per direction (OCPP-J 1.6 §4.1.1,
//! "synchronicity").
//!
//! **Outgoing** (CSMS → charger): [`OutgoingCalls`] keeps at most one CALL in
//! flight, a bounded FIFO queue behind it and a deadline for the in-flight
//! call. The connection task owns it and drives it with four events:
//! `enqueue` (a command arrived), `on_response` (a CALLRESULT/CALLERROR was
//! read), `on_tick` (a timer fired at [`OutgoingCalls::next_deadline`]) and
//! `drain` (the socket closed). Every event that frees the slot returns the
//! next frame to write. `T` is the caller's reply handle (e.g. a oneshot
//! sender); this crate never names an async runtime.
//!
//! Message ids are a per-connection counter (`"1"`, `"2"`, ...): unique on
//! the connection, which is the scope of correlation, and at most 20 chars.
//!
//! **Incoming** (charger → CSMS): no state is needed here. The connection
//! task handles a charger's CALLs one at a time, in arrival order, and
//! writes each CALLRESULT/CALLERROR before it handles the next CALL; a
//! charger that sends a second CALL before our answer simply waits in the
//! socket buffer. Every incoming CALL gets exactly one answer carrying its
//! message id, and responses are only ever matched against `OutgoingCalls`.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::frame::{Call, Frame};

/// The CALLERROR a peer answered with.
#[derive(Debug, Clone, PartialEq)]
pub struct CallErrorReply {
    /// As sent by the peer (see [`crate::ErrorCode::parse`]).
    pub code: String,
    pub description: String,
    pub details: Value,
}

/// Why an outgoing call produced no CALLRESULT.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallFailure {
    /// The peer answered with a CALLERROR.
    #[error("peer answered {}: {}", .0.code, .0.description)]
    CallError(CallErrorReply),
    /// No answer before the deadline.
    #[error("no answer within the timeout")]
    Timeout,
}

/// What an outgoing call's action is, as the connection knows it: a
/// protocol's typed action (`Action16`) or, in tests and tools, its name. It
/// is kept typed from the request to its answer so the answer is read with
/// the request's schema without parsing the name back.
pub trait ActionName: Copy + fmt::Debug {
    /// The action as written in the CALL frame.
    fn name(self) -> &'static str;
}

impl ActionName for &'static str {
    fn name(self) -> &'static str {
        self
    }
}

/// An outgoing call that finished (answered or timed out).
#[derive(Debug)]
pub struct Completed<T, A = &'static str> {
    pub reply: T,
    pub action: A,
    pub message_id: String,
    /// The CALLRESULT payload, or why there is none.
    pub outcome: Result<Value, CallFailure>,
    /// The next queued CALL, to write now.
    pub next_frame: Option<String>,
}

/// The queue was full; the call and its reply handle are handed back.
pub struct QueueFull<T, A = &'static str> {
    pub reply: T,
    pub action: A,
    pub payload: Value,
}

impl<T, A: ActionName> fmt::Debug for QueueFull<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueFull")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

impl<T, A: ActionName> fmt::Display for QueueFull<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outgoing call queue is full; {} refused",
            self.action.name()
        )
    }
}

impl<T, A: ActionName> std::error::Error for QueueFull<T, A> {}

/// A call drained because the connection closed.
#[derive(Debug)]
pub struct Drained<T, A = &'static str> {
    pub reply: T,
    pub action: A,
    /// It had been written to the peer (it may or may not have acted on it).
    pub was_sent: bool,
}

struct InFlight<T, A> {
    message_id: String,
    action: A,
    reply: T,
    deadline: Instant,
}

struct Queued<T, A> {
    action: A,
    payload: Value,
    reply: T,
}

/// Outgoing calls of one connection: one in flight, a bounded queue, a
/// timeout. See the module docs.
pub struct OutgoingCalls<T, A = &'static str> {
    in_flight: Option<InFlight<T, A>>,
    queue: VecDeque<Queued<T, A>>,
    queue_capacity: usize,
    timeout: Duration,
    last_id: u64,
}

impl<T, A> fmt::Debug for OutgoingCalls<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingCalls")
            .field("in_flight", &self.in_flight.as_ref().map(|c| &c.message_id))
            .field("queued", &self.queue.len())
            .field("queue_capacity", &self.queue_capacity)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<T, A: ActionName> OutgoingCalls<T, A> {
    /// `queue_capacity` calls may wait behind the one in flight; each call
    /// gets `timeout` from the moment it is written.
    pub fn new(queue_capacity: usize, timeout: Duration) -> Self {
        OutgoingCalls {
            in_flight: None,
            // Grown on first use: most connections never queue a call, and
            // an idle node holds tens of thousands of them.
            queue: VecDeque::new(),
            queue_capacity,
            timeout,
            last_id: 0,
        }
    }

    /// Queues a call. Returns the frame text to write now if nothing was in
    /// flight, `None` if it waits in the queue.
    pub fn enqueue(
        &mut self,
        action: A,
        payload: Value,
        reply: T,
        now: Instant,
    ) -> Result<Option<String>, QueueFull<T, A>> {
        if self.in_flight.is_none() {
            return Ok(Some(self.send(action, payload, reply, now)));
        }
        if self.queue.len() >= self.queue_capacity {
            return Err(QueueFull {
                reply,
                action,
                payload,
            });
        }
        self.queue.push_back(Queued {
            action,
            payload,
            reply,
        });
        Ok(None)
    }

    /// A CALLRESULT or CALLERROR arrived. Returns the finished call and the
    /// next frame to write; `None` for a CALL or an unknown/stale id (the
    /// caller logs it; nothing changes).
    pub fn on_response(&mut self, frame: &Frame, now: Instant) -> Option<Completed<T, A>> {
        let outcome = match frame {
            Frame::CallResult(r) => Ok(r.payload.clone()),
            Frame::CallError(e) => Err(CallFailure::CallError(CallErrorReply {
                code: e.error_code.clone(),
                description: e.error_description.clone(),
                details: e.error_details.clone(),
            })),
            Frame::Call(_) => return None,
        };
        if self.in_flight.as_ref()?.message_id != frame.message_id() {
            return None;
        }
        let done = self.in_flight.take()?;
        Some(self.finish(done, outcome, now))
    }

    /// Time passed: if the in-flight call's deadline is reached, it finishes
    /// as [`CallFailure::Timeout`] and the next queued call is written.
    pub fn on_tick(&mut self, now: Instant) -> Option<Completed<T, A>> {
        if self.in_flight.as_ref()?.deadline > now {
            return None;
        }
        let done = self.in_flight.take()?;
        Some(self.finish(done, Err(CallFailure::Timeout), now))
    }

    /// When to call [`OutgoingCalls::on_tick`] next, if a call is in flight.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.in_flight.as_ref().map(|c| c.deadline)
    }

    /// The message id of the call in flight.
    pub fn in_flight_id(&self) -> Option<&str> {
        self.in_flight.as_ref().map(|c| c.message_id.as_str())
    }

    /// The action of the call in flight (the frame `enqueue` or a
    /// completion just returned is that call's).
    pub fn in_flight_action(&self) -> Option<A> {
        self.in_flight.as_ref().map(|c| c.action)
    }

    /// Calls waiting behind the one in flight.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Nothing in flight and nothing queued.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_none() && self.queue.is_empty()
    }

    /// The connection closed: returns every call, in flight first, then the
    /// queue in order, so each caller can be told.
    pub fn drain(&mut self) -> Vec<Drained<T, A>> {
        let in_flight = self.in_flight.take().map(|c| Drained {
            reply: c.reply,
            action: c.action,
            was_sent: true,
        });
        in_flight
            .into_iter()
            .chain(self.queue.drain(..).map(|q| Drained {
                reply: q.reply,
                action: q.action,
                was_sent: false,
            }))
            .collect()
    }

    fn finish(
        &mut self,
        done: InFlight<T, A>,
        outcome: Result<Value, CallFailure>,
        now: Instant,
    ) -> Completed<T, A> {
        let next_frame = self
            .queue
            .pop_front()
            .map(|q| self.send(q.action, q.payload, q.reply, now));
        Completed {
            reply: done.reply,
            action: done.action,
            message_id: done.message_id,
            outcome,
            next_frame,
        }
    }

    /// Puts a call in flight and returns its frame text.
    fn send(&mut self, action: A, payload: Value, reply: T, now: Instant) -> String {
        self.last_id = self.last_id.wrapping_add(1);
        let message_id = self.last_id.to_string();
        let text = Frame::Call(Call {
            message_id: message_id.clone(),
            action: action.name().to_owned(),
            payload,
        })
        .to_text();
        self.in_flight = Some(InFlight {
            message_id,
            action,
            reply,
            deadline: now + self.timeout,
        });
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TIMEOUT: Duration = Duration::from_secs(30);

    fn calls() -> (OutgoingCalls<&'static str>, Instant) {
        (OutgoingCalls::new(2, TIMEOUT), Instant::now())
    }

    fn id_of(text: &str) -> String {
        Frame::parse(text)
            .map(|f| f.message_id().to_owned())
            .unwrap_or_default()
    }

    fn must<T>(value: Option<T>) -> T {
        value.unwrap_or_else(|| panic!("expected a value"))
    }

    #[test]
    fn first_call_is_written_at_once_and_others_queue() {
        let (mut c, t0) = calls();
        let first = c.enqueue("Reset", json!({"type": "Soft"}), "r1", t0);
        let first = must(first.ok().flatten());
        assert_eq!(first, r#"[2,"1","Reset",{"type":"Soft"}]"#);
        assert!(matches!(
            c.enqueue("ClearCache", json!({}), "r2", t0),
            Ok(None)
        ));
        assert!(matches!(
            c.enqueue("GetLocalListVersion", json!({}), "r3", t0),
            Ok(None)
        ));
        assert_eq!(c.in_flight_id(), Some("1"));
        assert_eq!(c.queued(), 2);
        assert_eq!(c.next_deadline(), Some(t0 + TIMEOUT));
    }

    #[test]
    fn a_full_queue_hands_the_call_back() {
        let (mut c, t0) = calls();
        for reply in ["a", "b", "c"] {
            assert!(c.enqueue("ClearCache", json!({}), reply, t0).is_ok());
        }
        let full = c.enqueue("Reset", json!({"type": "Hard"}), "d", t0);
        let full = full
            .err()
            .unwrap_or_else(|| panic!("queued beyond capacity"));
        assert_eq!((full.reply, full.action), ("d", "Reset"));
        assert_eq!(full.payload, json!({"type": "Hard"}));
        assert_eq!(
            full.to_string(),
            "outgoing call queue is full; Reset refused"
        );
        assert_eq!(c.queued(), 2);
    }

    #[test]
    fn responses_complete_calls_in_fifo_order() {
        let (mut c, t0) = calls();
        let f1 = must(
            c.enqueue("Reset", json!({"type": "Soft"}), "r1", t0)
                .ok()
                .flatten(),
        );
        assert!(c.enqueue("ClearCache", json!({}), "r2", t0).is_ok());
        assert!(c
            .enqueue("UnlockConnector", json!({"connectorId": 1}), "r3", t0)
            .is_ok());

        let t1 = t0 + Duration::from_secs(1);
        let done = must(c.on_response(
            &Frame::call_result(id_of(&f1), json!({"status": "Accepted"})),
            t1,
        ));
        assert_eq!((done.reply, done.action), ("r1", "Reset"));
        assert_eq!(done.outcome, Ok(json!({"status": "Accepted"})));
        let f2 = must(done.next_frame);
        assert_eq!(f2, r#"[2,"2","ClearCache",{}]"#);
        // The next call's deadline runs from when it was written.
        assert_eq!(c.next_deadline(), Some(t1 + TIMEOUT));

        let err = Frame::call_error_reply(
            id_of(&f2),
            crate::ErrorCode::NotSupported,
            crate::OcppVersion::V16,
            "no cache",
        );
        let done = must(c.on_response(&err, t1));
        assert_eq!(done.reply, "r2");
        assert_eq!(
            done.outcome,
            Err(CallFailure::CallError(CallErrorReply {
                code: "NotSupported".into(),
                description: "no cache".into(),
                details: json!({}),
            }))
        );
        let f3 = must(done.next_frame);
        assert_eq!(id_of(&f3), "3");

        let done = must(c.on_response(&Frame::call_result("3", json!({"status": "Unlocked"})), t1));
        assert_eq!(done.reply, "r3");
        assert_eq!(done.next_frame, None);
        assert!(c.is_idle());
        assert_eq!(c.next_deadline(), None);
    }

    #[test]
    fn unknown_or_stale_ids_and_calls_are_ignored() {
        let (mut c, t0) = calls();
        let f1 = must(
            c.enqueue("Reset", json!({"type": "Soft"}), "r1", t0)
                .ok()
                .flatten(),
        );
        assert!(c
            .on_response(&Frame::call_result("999", json!({})), t0)
            .is_none());
        assert!(c
            .on_response(&Frame::call("1", "Heartbeat", json!({})), t0)
            .is_none());
        assert_eq!(c.in_flight_id(), Some("1"));
        // Answered once; a duplicate answer is stale.
        let answer = Frame::call_result(id_of(&f1), json!({"status": "Accepted"}));
        assert!(c.on_response(&answer, t0).is_some());
        assert!(c.on_response(&answer, t0).is_none());
    }

    #[test]
    fn the_in_flight_call_times_out_at_its_deadline() {
        let (mut c, t0) = calls();
        let f1 = must(
            c.enqueue("Reset", json!({"type": "Soft"}), "r1", t0)
                .ok()
                .flatten(),
        );
        assert!(c.enqueue("ClearCache", json!({}), "r2", t0).is_ok());

        assert!(c.on_tick(t0 + TIMEOUT - Duration::from_millis(1)).is_none());
        let t1 = t0 + TIMEOUT;
        let done = must(c.on_tick(t1));
        assert_eq!(
            (done.reply, done.outcome),
            ("r1", Err(CallFailure::Timeout))
        );
        assert_eq!(id_of(&must(done.next_frame)), "2");
        assert_eq!(c.next_deadline(), Some(t1 + TIMEOUT));

        // A late answer to the timed-out call is stale.
        let late = Frame::call_result(id_of(&f1), json!({"status": "Accepted"}));
        assert!(c.on_response(&late, t1).is_none());
        assert_eq!(c.in_flight_id(), Some("2"));
        // Nothing in flight → ticks do nothing.
        assert!(c.on_tick(t1 + TIMEOUT).is_some());
        assert!(c.on_tick(t1 + TIMEOUT * 3).is_none());
    }

    #[test]
    fn drain_returns_everything_in_order() {
        let (mut c, t0) = calls();
        for reply in ["a", "b", "c"] {
            assert!(c.enqueue("ClearCache", json!({}), reply, t0).is_ok());
        }
        let drained = c.drain();
        let summary: Vec<_> = drained.iter().map(|d| (d.reply, d.was_sent)).collect();
        assert_eq!(summary, [("a", true), ("b", false), ("c", false)]);
        assert!(c.is_idle());
        assert!(c.drain().is_empty());
        // Usable again after a drain; ids keep counting up.
        let next = must(c.enqueue("ClearCache", json!({}), "d", t0).ok().flatten());
        assert_eq!(id_of(&next), "2");
    }

    #[test]
    fn message_ids_are_unique_and_short() {
        let mut c: OutgoingCalls<()> = OutgoingCalls::new(0, TIMEOUT);
        let t0 = Instant::now();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let text = must(c.enqueue("Heartbeat", json!({}), (), t0).ok().flatten());
            let id = id_of(&text);
            assert!(id.len() <= crate::frame::MAX_MESSAGE_ID_LEN);
            assert!(seen.insert(id.clone()), "duplicate id {id}");
            assert!(c
                .on_response(&Frame::call_result(id, json!({})), t0)
                .is_some());
        }
    }

    #[test]
    fn zero_capacity_allows_only_the_in_flight_call() {
        let mut c: OutgoingCalls<u8> = OutgoingCalls::new(0, TIMEOUT);
        let t0 = Instant::now();
        assert!(matches!(
            c.enqueue("ClearCache", json!({}), 1, t0),
            Ok(Some(_))
        ));
        assert!(c.enqueue("ClearCache", json!({}), 2, t0).is_err());
    }
}
