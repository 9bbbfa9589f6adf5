//! The counters of a running fleet, shared by the fleet and each of its
//! simulated chargers (which is why they are not in [`crate::fleet`]: ADR 0011).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of a running fleet (relaxed atomics; read them any time).
#[derive(Debug, Default)]
pub struct FleetStats {
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub disconnects: AtomicU64,
    /// Chargers connected right now.
    pub connected: AtomicU64,
    pub boots_accepted: AtomicU64,
    pub boots_not_accepted: AtomicU64,
    pub sessions_started: AtomicU64,
    pub sessions_stopped: AtomicU64,
    pub authorize_rejected: AtomicU64,
    pub meter_values: AtomicU64,
    /// Charger-initiated CALLs written.
    pub calls_sent: AtomicU64,
    /// CSMS CALLs answered (CALLRESULT or CALLERROR).
    pub calls_answered: AtomicU64,
    /// CALLERRORs received for our CALLs.
    pub call_errors: AtomicU64,
    pub timeouts: AtomicU64,
    /// Messages dropped because a queue was full.
    pub dropped: AtomicU64,
}

/// A copy of [`FleetStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub connects: u64,
    pub connect_failures: u64,
    pub disconnects: u64,
    pub connected: u64,
    pub boots_accepted: u64,
    pub boots_not_accepted: u64,
    pub sessions_started: u64,
    pub sessions_stopped: u64,
    pub authorize_rejected: u64,
    pub meter_values: u64,
    pub calls_sent: u64,
    pub calls_answered: u64,
    pub call_errors: u64,
    pub timeouts: u64,
    pub dropped: u64,
}

impl FleetStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            connects: self.connects.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            connected: self.connected.load(Relaxed),
            boots_accepted: self.boots_accepted.load(Relaxed),
            boots_not_accepted: self.boots_not_accepted.load(Relaxed),
            sessions_started: self.sessions_started.load(Relaxed),
            sessions_stopped: self.sessions_stopped.load(Relaxed),
            authorize_rejected: self.authorize_rejected.load(Relaxed),
            meter_values: self.meter_values.load(Relaxed),
            calls_sent: self.calls_sent.load(Relaxed),
            calls_answered: self.calls_answered.load(Relaxed),
            call_errors: self.call_errors.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
        }
    }
}
