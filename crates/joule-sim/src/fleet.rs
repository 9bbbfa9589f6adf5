//! A fleet of simulated chargers in one process (`joule sim`).
//!
//! Each charger is one tokio task owning its socket and its
//! [`ChargerSim`]; the fleet shares one `Arc<SimConfig>` and one
//! [`FleetStats`] of relaxed atomic counters, so 20,000 chargers cost a few
//! KiB each. Chargers are started at `ramp_per_sec`, and all stop when the
//! shutdown token fires.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::charger::{run_charger, ChargerSim};

/// Settings of a simulated fleet.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// WebSocket base, e.g. `ws://127.0.0.1:9000/ocpp`; the charger id is
    /// appended as the last path segment.
    pub base_url: String,
    /// Number of chargers.
    pub count: u32,
    /// Charger ids are `{id_prefix}{n:04}`, n from `first_index`.
    pub id_prefix: String,
    pub first_index: u32,
    /// Basic auth password (security profile 1), the same for all.
    pub password: Option<String>,
    /// Connectors per charger.
    pub connectors: u32,
    /// RFID tags drivers present; no sessions start when empty.
    pub id_tags: Vec<String>,
    /// Heartbeat interval; `None` uses the interval of the BootNotification
    /// answer.
    pub heartbeat_interval: Option<Duration>,
    /// MeterValueSampleInterval.
    pub meter_interval: Duration,
    /// Length of a charging session, uniformly in `[min, max]`.
    pub session_min: Duration,
    pub session_max: Duration,
    /// Time a connector stays free between sessions, uniformly in `[min, max]`.
    pub pause_min: Duration,
    pub pause_max: Duration,
    /// Charging power, W.
    pub power_w: f64,
    /// Phases the EV charges on (1 or 3).
    pub phases: u8,
    /// Share of periodic samples carrying an extra `SignedData` value (0..=1);
    /// when above 0, transaction begin/end readings are always signed.
    pub signed_share: f64,
    /// Seed of every random choice (charger n uses `seed` mixed with n).
    pub seed: u64,
    /// Charger starts per second.
    pub ramp_per_sec: u32,
    /// Time to wait for a CALLRESULT.
    pub call_timeout: Duration,
    /// TCP connect + WebSocket handshake limit.
    pub connect_timeout: Duration,
    pub vendor: String,
    pub model: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            base_url: "ws://127.0.0.1:9000/ocpp".to_owned(),
            count: 1,
            id_prefix: "CP-".to_owned(),
            first_index: 1,
            password: None,
            connectors: 2,
            id_tags: vec!["SIM-TAG-0001".to_owned()],
            heartbeat_interval: None,
            meter_interval: Duration::from_secs(60),
            session_min: Duration::from_secs(10 * 60),
            session_max: Duration::from_secs(60 * 60),
            pause_min: Duration::from_secs(60),
            pause_max: Duration::from_secs(15 * 60),
            power_w: 11_000.0,
            phases: 3,
            signed_share: 0.1,
            seed: 1,
            ramp_per_sec: 1_000,
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            vendor: "Joule".to_owned(),
            model: "SimCharger".to_owned(),
        }
    }
}

impl SimConfig {
    /// The ids of the fleet's chargers, in start order.
    pub fn charger_ids(&self) -> Vec<String> {
        charger_ids(&self.id_prefix, self.first_index, self.count)
    }
}

/// `count` charger ids `{prefix}{n:04}` from `first`: `CP-0001`, …,
/// `CP-9999`, `CP-10000`. Shared by `joule sim`, `joule bench` and the
/// REST preparation step so all three agree.
pub fn charger_ids(prefix: &str, first: u32, count: u32) -> Vec<String> {
    (0..count)
        .map(|n| format!("{prefix}{:04}", first.saturating_add(n)))
        .collect()
}

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

/// What a fleet did, returned when it has stopped.
#[derive(Debug, Clone)]
pub struct FleetReport {
    pub chargers: u32,
    pub elapsed: Duration,
    pub stats: StatsSnapshot,
}

impl fmt::Display for FleetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "fleet of {} chargers ran {:.1} s",
            self.chargers,
            self.elapsed.as_secs_f64()
        )?;
        let rows: [(&str, u64); 14] = [
            ("connects", s.connects),
            ("connect failures", s.connect_failures),
            ("disconnects", s.disconnects),
            ("boots accepted", s.boots_accepted),
            ("boots pending/rejected", s.boots_not_accepted),
            ("sessions started", s.sessions_started),
            ("sessions stopped", s.sessions_stopped),
            ("authorize rejected", s.authorize_rejected),
            ("meter values", s.meter_values),
            ("calls sent", s.calls_sent),
            ("CSMS calls answered", s.calls_answered),
            ("CALLERRORs received", s.call_errors),
            ("timeouts", s.timeouts),
            ("dropped", s.dropped),
        ];
        for (name, value) in rows {
            writeln!(f, "  {name:<24}{value:>12}")?;
        }
        Ok(())
    }
}

/// Runs the fleet until `shutdown` fires, then waits for every charger to
/// close its socket and returns the counters.
pub async fn run_fleet(config: SimConfig, shutdown: CancellationToken) -> FleetReport {
    run_fleet_with_stats(config, shutdown, Arc::new(FleetStats::default())).await
}

/// [`run_fleet`] with counters the caller can watch while it runs (tests
/// poll `stats` to know when chargers have booted).
pub async fn run_fleet_with_stats(
    config: SimConfig,
    shutdown: CancellationToken,
    stats: Arc<FleetStats>,
) -> FleetReport {
    let started = Instant::now();
    let ids = config.charger_ids();
    let config = Arc::new(config);
    let mut tasks = JoinSet::new();
    let mut pacer = Pacer::new(config.ramp_per_sec, started);
    for (n, id) in ids.into_iter().enumerate() {
        if let Some(at) = pacer.next_start() {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        let seed = mix_seed(config.seed, n as u64);
        let sim = ChargerSim::new(
            id,
            Arc::clone(&config),
            Arc::clone(&stats),
            seed,
            Instant::now(),
        );
        tasks.spawn(run_charger(sim, shutdown.clone()));
    }
    shutdown.cancelled().await;
    while tasks.join_next().await.is_some() {}
    FleetReport {
        chargers: config.count,
        elapsed: started.elapsed(),
        stats: stats.snapshot(),
    }
}

/// SplitMix64 of `seed + n`: independent streams per charger.
pub(crate) fn mix_seed(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Spaces starts at a fixed rate: start k happens at `origin + k / rate`.
#[derive(Debug)]
pub(crate) struct Pacer {
    origin: Instant,
    rate: u32,
    started: u64,
}

impl Pacer {
    /// `rate` starts per second; 0 means no limit.
    pub(crate) fn new(rate: u32, origin: Instant) -> Self {
        Pacer {
            origin,
            rate,
            started: 0,
        }
    }

    /// When the next start may happen (`None`: now).
    pub(crate) fn next_start(&mut self) -> Option<Instant> {
        let k = self.started;
        self.started += 1;
        if self.rate == 0 {
            return None;
        }
        let at = self.origin + Duration::from_secs_f64(k as f64 / f64::from(self.rate));
        (at > Instant::now()).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charger_ids_are_padded_to_four_digits() {
        assert_eq!(charger_ids("CP-", 1, 2), ["CP-0001", "CP-0002"]);
        assert_eq!(charger_ids("CP-", 9_999, 2), ["CP-9999", "CP-10000"]);
        assert!(charger_ids("X", 1, 0).is_empty());
    }

    #[test]
    fn seeds_differ_per_charger() {
        let seeds: std::collections::HashSet<u64> = (0..1_000).map(|n| mix_seed(7, n)).collect();
        assert_eq!(seeds.len(), 1_000);
        assert_eq!(mix_seed(7, 3), mix_seed(7, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_spaces_starts() {
        let origin = Instant::now();
        let mut p = Pacer::new(4, origin);
        assert_eq!(p.next_start(), None);
        assert_eq!(p.next_start(), Some(origin + Duration::from_millis(250)));
        assert_eq!(p.next_start(), Some(origin + Duration::from_millis(500)));
        let mut unlimited = Pacer::new(0, origin);
        assert_eq!(unlimited.next_start(), None);
        assert_eq!(unlimited.next_start(), None);
    }

    #[test]
    fn report_lists_counters() {
        let report = FleetReport {
            chargers: 3,
            elapsed: Duration::from_secs(2),
            stats: StatsSnapshot {
                sessions_started: 5,
                ..Default::default()
            },
        };
        let text = report.to_string();
        assert!(text.starts_with("fleet of 3 chargers ran 2.0 s"));
        assert!(
            text.contains(&format!("  {:<24}{:>12}\n", "sessions started", 5)),
            "{text}"
        );
    }
}
