//! A fleet of simulated chargers in one process (`joule sim`).
//!
//! Each charger is one tokio task owning its socket and its
//! [`ChargerSim`]; the fleet shares one `Arc<SimConfig>` and one
//! [`FleetStats`] of relaxed atomic counters, so 20,000 chargers cost a few
//! KiB each. Chargers are started at `ramp_per_sec`, and all stop when the
//! shutdown token fires.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::charger::{run_charger, ChargerSim};
use crate::fleet_stats::{FleetStats, StatsSnapshot};
use crate::sim_config::SimConfig;

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
