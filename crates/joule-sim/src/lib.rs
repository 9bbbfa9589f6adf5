//! # joule-sim — OCPP 1.6 charge point simulator and CSMS load generator
//!
//! **Role.** A client that can drive any OCPP 1.6J central system:
//! [`fleet::run_fleet`] runs simulated chargers that behave like real ones
//! (boot, status, heartbeats, RFID and remote sessions with meter values,
//! answers to every CSMS call, offline queueing and reconnects) — `joule
//! sim`; [`bench::run_bench`] measures a server under four load shapes
//! (idle connections, back-to-back call mix, steady rate, connect storm) —
//! `joule bench`; [`prepare`] creates the chargers and id tags through the
//! Joule REST API beforehand.
//!
//! **May depend on** `joule-ocpp` (frames, typed 1.6 messages, schemas,
//! RPC bookkeeping), tokio/tungstenite, reqwest and plumbing crates. Never
//! on another Joule crate: it talks to the server only over the wire.
//!
//! **Concurrency model.** One tokio task per simulated charger or benchmark
//! client, owning its socket; the protocol logic of a charger is a sans-I/O
//! state machine ([`charger::ChargerSim`]) the task feeds. Shared state is
//! limited to relaxed atomic counters and sharded, briefly locked latency
//! histograms (never held across `.await`). Everything stops on a
//! `CancellationToken`.

pub mod bench;
pub mod charger;
pub mod config_keys;
pub mod fleet;
pub mod fleet_stats;
pub mod meter;
pub mod prepare;
pub mod proc_stats;
pub mod replies;
pub mod sim_config;
pub mod stats;
pub mod ws;

pub use bench::{run_bench, BenchConfig, BenchReport, Scenario};
pub use fleet::{run_fleet, run_fleet_with_stats, FleetReport};
pub use fleet_stats::FleetStats;
pub use prepare::{create_chargers_via_api, create_id_tokens_via_api, PrepareError, PrepareReport};
pub use sim_config::{charger_ids, SimConfig};
pub use tokio_util::sync::CancellationToken;

/// Raises the soft open-files limit to the hard limit and returns it: a
/// load generator holds one socket per simulated charger.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
