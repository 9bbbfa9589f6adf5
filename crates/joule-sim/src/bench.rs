//! Load generator and benchmark of an OCPP 1.6 central system (`joule bench`).
//!
//! Four scenarios ([`Scenario`]):
//!
//! - **idle**: connect N chargers at a limited rate, boot each, hold them
//!   with heartbeats; sample the server's RSS and CPU every `sample_every`
//!   connections so memory per connection is visible.
//! - **mix**: C chargers send calls back to back (one outstanding each, as
//!   OCPP-J requires) in a realistic mix — mostly MeterValues, plus
//!   Heartbeat, StatusNotification, Authorize, Start/StopTransaction and an
//!   occasional BootNotification — for D seconds: throughput and latency.
//! - **steady**: N chargers each send one call every P seconds (±10 %
//!   jitter): latency at a realistic, fixed offered load.
//! - **storm**: N chargers connect at R per second, each doing handshake +
//!   BootNotification + StatusNotification: reconnect-storm latency.
//!
//! Latency is the time from writing a CALL to reading its CALLRESULT. The
//! bench clients are lighter than [`crate::charger`]'s chargers (no sessions
//! of their own) but answer every CSMS call schema-validly, so a server that
//! sends GetConfiguration or TriggerMessage after boot is served.
//!
//! The bench creates nothing on the server: the chargers must exist (see
//! [`crate::prepare`]) or the server must register them on boot.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use joule_ocpp::v16::{self, encode, ChargePointErrorCode, ChargePointStatus, ReadingContext};
use joule_ocpp::Frame;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::fleet::{mix_seed, Pacer};
use crate::meter::Meter;
use crate::proc_stats::{self, ProcSample};
use crate::replies::{reply_text, stateless_reply};
use crate::sim_config::charger_ids;
use crate::stats::{LatencyRecorder, LatencySummary, Micros};
use crate::ws::{self, Ws};

/// A load shape. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Idle,
    Mix,
    Steady,
    Storm,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::Idle,
        Scenario::Mix,
        Scenario::Steady,
        Scenario::Storm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Idle => "idle",
            Scenario::Mix => "mix",
            Scenario::Steady => "steady",
            Scenario::Storm => "storm",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown scenario name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario '{0}' (idle, mix, steady, storm)")]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, UnknownScenario> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownScenario(s.to_owned()))
    }
}

/// Settings of one benchmark run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub scenario: Scenario,
    /// WebSocket base, e.g. `ws://127.0.0.1:9000/ocpp`.
    pub base_url: String,
    /// Charger ids are `{id_prefix}{n:04}` from `first_index` (as `joule sim`).
    pub id_prefix: String,
    pub first_index: u32,
    /// Number of chargers (clients).
    pub chargers: u32,
    /// Basic auth password, if the server requires one.
    pub password: Option<String>,
    /// Id tags used by Authorize/StartTransaction in `mix` and `steady`.
    pub id_tags: Vec<String>,
    /// Connection starts per second (0: unlimited).
    pub ramp_per_sec: u32,
    /// mix/steady: the measured window; idle: how long to hold after the ramp.
    pub duration: Duration,
    /// steady: one call per charger every `period`.
    pub period: Duration,
    /// idle: sample the server every this many held connections.
    pub sample_every: u32,
    /// idle: heartbeat interval; `None` uses the server's boot interval.
    pub heartbeat_interval: Option<Duration>,
    /// The server process, for RSS and CPU readings from `/proc`.
    pub server_pid: Option<u32>,
    pub call_timeout: Duration,
    pub connect_timeout: Duration,
    pub seed: u64,
}

impl BenchConfig {
    /// The defaults of `scenario` (sizes from the Joule performance goals).
    pub fn new(scenario: Scenario) -> Self {
        let (chargers, ramp, duration) = match scenario {
            Scenario::Idle => (10_000, 1_000, Duration::from_secs(10)),
            Scenario::Mix => (1_000, 1_000, Duration::from_secs(30)),
            Scenario::Steady => (10_000, 1_000, Duration::from_secs(60)),
            Scenario::Storm => (10_000, 500, Duration::ZERO),
        };
        BenchConfig {
            scenario,
            base_url: "ws://127.0.0.1:9000/ocpp".to_owned(),
            id_prefix: "CP-".to_owned(),
            first_index: 1,
            chargers,
            password: None,
            id_tags: vec!["BENCH-TAG-1".to_owned()],
            ramp_per_sec: ramp,
            duration,
            period: Duration::from_secs(5),
            sample_every: 2_000,
            heartbeat_interval: None,
            server_pid: None,
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            seed: 1,
        }
    }
}

/// Error counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    /// TCP connect or WebSocket handshake failed or timed out.
    pub connect: u64,
    /// BootNotification not Accepted (or failed).
    pub boot: u64,
    /// CALLERRORs received.
    pub call_errors: u64,
    /// Calls without an answer within `call_timeout`.
    pub timeouts: u64,
    /// Connections the server closed during the run.
    pub disconnects: u64,
}

/// Resources the server used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerUsage {
    /// CPU seconds (user + system) during the measured window.
    pub cpu_seconds: f64,
    /// RSS at the end, KiB.
    pub rss_kib: u64,
    /// Peak RSS, KiB.
    pub peak_rss_kib: u64,
}

/// One reading during the `idle` ramp.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IdleSample {
    /// Connections booted and held.
    pub connections: u64,
    pub elapsed: Duration,
    pub server_rss_kib: Option<u64>,
    pub server_cpu_seconds: Option<f64>,
    /// This (bench) process's RSS, KiB.
    pub client_rss_kib: u64,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct BenchReport {
    pub scenario: Option<Scenario>,
    pub chargers: u32,
    /// Clients that connected and booted.
    pub connected: u64,
    pub failures: Failures,
    /// Measured window (mix, steady), ramp+hold (idle) or storm time.
    pub elapsed: Duration,
    /// Calls completed in the window.
    pub calls: u64,
    pub calls_per_sec: f64,
    /// Latency rows: `all` then per action (mix, steady) or per phase (storm).
    pub latency: Vec<(String, LatencySummary)>,
    pub server: Option<ServerUsage>,
    pub samples: Vec<IdleSample>,
    /// CSMS calls the clients answered.
    pub server_calls_answered: u64,
    pub notes: Vec<String>,
}

impl BenchReport {
    /// Server memory growth per held connection between the first and the
    /// last idle sample, KiB.
    pub fn kib_per_connection(&self) -> Option<f64> {
        let first = self.samples.first()?;
        let last = self.samples.last()?;
        let conns = last
            .connections
            .checked_sub(first.connections)
            .filter(|&c| c > 0)?;
        let grown = last.server_rss_kib? as f64 - first.server_rss_kib? as f64;
        Some(grown / conns as f64)
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.scenario.map_or("?", Scenario::as_str);
        writeln!(
            f,
            "joule bench {name}: {} chargers, {:.1} s",
            self.chargers,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "  {:<18}{} / {}",
            "connected", self.connected, self.chargers
        )?;
        if self.calls > 0 {
            writeln!(
                f,
                "  {:<18}{} ({:.0} calls/s)",
                "calls", self.calls, self.calls_per_sec
            )?;
        }
        let e = &self.failures;
        writeln!(
            f,
            "  {:<18}connect {}, boot {}, CALLERROR {}, timeout {}, disconnect {}",
            "failures", e.connect, e.boot, e.call_errors, e.timeouts, e.disconnects
        )?;
        if let Some(s) = &self.server {
            let secs = self.elapsed.as_secs_f64();
            let share = if secs > 0.0 {
                s.cpu_seconds / secs * 100.0
            } else {
                0.0
            };
            writeln!(
                f,
                "  {:<18}CPU {:.2} s ({share:.0} % of a core), RSS {:.1} MiB (peak {:.1} MiB)",
                "server",
                s.cpu_seconds,
                mib(s.rss_kib),
                mib(s.peak_rss_kib)
            )?;
        }
        if self.server_calls_answered > 0 {
            writeln!(
                f,
                "  {:<18}{}",
                "CSMS calls answered", self.server_calls_answered
            )?;
        }
        if !self.latency.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "  {:<24}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
                "latency", "count", "p50", "p90", "p99", "p99.9", "max"
            )?;
            for (row, s) in &self.latency {
                writeln!(
                    f,
                    "  {:<24}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
                    row,
                    s.count,
                    Micros(s.p50_us),
                    Micros(s.p90_us),
                    Micros(s.p99_us),
                    Micros(s.p999_us),
                    Micros(s.max_us)
                )?;
            }
        }
        if !self.samples.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "  {:>12}{:>10}{:>14}{:>16}{:>14}{:>16}",
                "connections", "time s", "server MiB", "Δ KiB/conn", "server CPU s", "bench MiB"
            )?;
            let base = self.samples[0];
            for s in &self.samples {
                let per_conn = match (s.server_rss_kib, base.server_rss_kib) {
                    (Some(now), Some(b)) if s.connections > base.connections => format!(
                        "{:.1}",
                        (now as f64 - b as f64) / (s.connections - base.connections) as f64
                    ),
                    _ => "-".to_owned(),
                };
                writeln!(
                    f,
                    "  {:>12}{:>10.1}{:>14}{:>16}{:>14}{:>16.1}",
                    s.connections,
                    s.elapsed.as_secs_f64(),
                    s.server_rss_kib
                        .map_or("-".to_owned(), |k| format!("{:.1}", mib(k))),
                    per_conn,
                    s.server_cpu_seconds
                        .map_or("-".to_owned(), |c| format!("{c:.2}")),
                    mib(s.client_rss_kib)
                )?;
            }
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ client

/// Why a bench call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum CallFail {
    #[error("CALLERROR {0}")]
    CallError(String),
    #[error("timeout")]
    Timeout,
    #[error("connection closed")]
    Closed,
}

/// Counters shared by all clients of a run.
#[derive(Debug, Default)]
struct Counters {
    connected: AtomicU64,
    connect_failures: AtomicU64,
    boot_failures: AtomicU64,
    call_errors: AtomicU64,
    timeouts: AtomicU64,
    disconnects: AtomicU64,
    answered: AtomicU64,
    /// Clients that finished starting (booted or failed).
    settled: AtomicU64,
    calls: AtomicU64,
    measuring: AtomicBool,
}

impl Counters {
    fn count_failure(&self, fail: &CallFail) {
        match fail {
            CallFail::CallError(_) => self.call_errors.fetch_add(1, Relaxed),
            CallFail::Timeout => self.timeouts.fetch_add(1, Relaxed),
            CallFail::Closed => self.disconnects.fetch_add(1, Relaxed),
        };
    }

    fn failures(&self) -> Failures {
        Failures {
            connect: self.connect_failures.load(Relaxed),
            boot: self.boot_failures.load(Relaxed),
            call_errors: self.call_errors.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
        }
    }
}

/// One benchmark connection: at most one CALL outstanding, CSMS CALLs
/// answered while waiting.
struct Client {
    ws: Ws,
    last_id: u64,
    counters: Arc<Counters>,
}

impl Client {
    async fn call(
        &mut self,
        action: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<(Value, Duration), CallFail> {
        self.last_id += 1;
        let id = self.last_id.to_string();
        let text = Frame::call(id.clone(), action, payload).to_text();
        let started = std::time::Instant::now();
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|_| CallFail::Closed)?;
        let deadline = Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| CallFail::Timeout)?;
            match msg {
                Some(Ok(Message::Text(text))) => match Frame::parse(text.as_str()) {
                    Ok(Frame::CallResult(r)) if r.message_id == id => {
                        return Ok((r.payload, started.elapsed()));
                    }
                    Ok(Frame::CallError(e)) if e.message_id == id => {
                        return Err(CallFail::CallError(e.error_code));
                    }
                    Ok(Frame::Call(call)) => self.answer(call).await?,
                    // Late answers to timed-out calls, broken frames: ignore.
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(CallFail::Closed),
                Some(Ok(_)) => {}
            }
        }
    }

    async fn answer(&mut self, call: joule_ocpp::Call) -> Result<(), CallFail> {
        let reply = reply_text(call, stateless_reply);
        self.counters.answered.fetch_add(1, Relaxed);
        self.ws
            .send(Message::text(reply))
            .await
            .map_err(|_| CallFail::Closed)
    }

    /// Reads (answering CSMS calls) until `until` or `stop`; `Closed` if
    /// the server hung up.
    async fn idle_until(
        &mut self,
        until: Instant,
        stop: &CancellationToken,
    ) -> Result<(), CallFail> {
        loop {
            let msg = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(until) => return Ok(()),
                msg = self.ws.next() => msg,
            };
            match msg {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(Frame::Call(call)) = Frame::parse(text.as_str()) {
                        self.answer(call).await?;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(CallFail::Closed),
                Some(Ok(_)) => {}
            }
        }
    }

    async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

fn boot_payload(id: &str) -> Value {
    encode(&v16::BootNotificationRequest {
        charge_point_vendor: "Joule".to_owned(),
        charge_point_model: "BenchCharger".to_owned(),
        charge_point_serial_number: Some(id.chars().take(25).collect()),
        charge_box_serial_number: None,
        firmware_version: Some(concat!("joule-bench-", env!("CARGO_PKG_VERSION")).to_owned()),
        iccid: None,
        imsi: None,
        meter_type: None,
        meter_serial_number: None,
    })
}

fn status_payload(connector_id: i32, status: ChargePointStatus) -> Value {
    encode(&v16::StatusNotificationRequest {
        connector_id,
        error_code: ChargePointErrorCode::NoError,
        info: None,
        status,
        timestamp: Some(Utc::now()),
        vendor_id: None,
        vendor_error_code: None,
    })
}

/// The boot answer's interval when Accepted.
fn boot_accepted(payload: Value) -> Option<Duration> {
    let resp: v16::BootNotificationResponse =
        v16::decode_response(v16::Action16::BootNotification, payload).ok()?;
    (resp.status == v16::RegistrationStatus::Accepted)
        .then(|| Duration::from_secs(u64::try_from(resp.interval).unwrap_or(0).max(1)))
}

/// The shared context of a run's client tasks.
struct Run {
    cfg: BenchConfig,
    ids: Vec<String>,
    counters: Arc<Counters>,
    stop: CancellationToken,
}

impl Run {
    /// Connects and boots client `n`: the handshake time, the boot latency
    /// and the heartbeat interval. Failures are counted and settled.
    async fn open(&self, n: usize) -> Option<(Client, Duration, Duration, Duration)> {
        let id = &self.ids[n];
        let started = std::time::Instant::now();
        let ws = match ws::connect(
            &self.cfg.base_url,
            id,
            self.cfg.password.as_deref(),
            self.cfg.connect_timeout,
        )
        .await
        {
            Ok(ws) => ws,
            Err(e) => {
                tracing::debug!(charger_id = %id, error = %e, "bench connect failed");
                self.counters.connect_failures.fetch_add(1, Relaxed);
                self.counters.settled.fetch_add(1, Relaxed);
                return None;
            }
        };
        let handshake = started.elapsed();
        let mut client = Client {
            ws,
            last_id: 0,
            counters: Arc::clone(&self.counters),
        };
        let booted = client
            .call("BootNotification", boot_payload(id), self.cfg.call_timeout)
            .await;
        let result = match booted {
            Ok((payload, latency)) => match boot_accepted(payload) {
                Some(interval) => Some((client, handshake, latency, interval)),
                None => {
                    self.counters.boot_failures.fetch_add(1, Relaxed);
                    client.close().await;
                    None
                }
            },
            Err(fail) => {
                self.counters.count_failure(&fail);
                self.counters.boot_failures.fetch_add(1, Relaxed);
                None
            }
        };
        if result.is_some() {
            self.counters.connected.fetch_add(1, Relaxed);
        }
        self.counters.settled.fetch_add(1, Relaxed);
        result
    }
}

/// Spawns `task(n)` for every charger at the configured rate; stops early
/// when `stop` fires.
async fn spawn_paced<F, Fut>(run: &Arc<Run>, tasks: &mut JoinSet<()>, task: F)
where
    F: Fn(Arc<Run>, usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut pacer = Pacer::new(run.cfg.ramp_per_sec, Instant::now());
    for n in 0..run.ids.len() {
        if let Some(at) = pacer.next_start() {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = run.stop.cancelled() => return,
            }
        }
        tasks.spawn(task(Arc::clone(run), n));
    }
}

/// Waits until every client has settled (booted or failed), polling.
async fn until_settled(run: &Run) {
    let total = run.ids.len() as u64;
    while run.counters.settled.load(Relaxed) < total && !run.stop.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn server_sample(pid: Option<u32>) -> Option<ProcSample> {
    pid.and_then(|pid| proc_stats::sample(pid).ok())
}

fn usage(before: Option<ProcSample>, after: Option<ProcSample>) -> Option<ServerUsage> {
    let after = after?;
    Some(ServerUsage {
        cpu_seconds: before.map_or(after.cpu_seconds, |b| after.cpu_seconds - b.cpu_seconds),
        rss_kib: after.rss_kib,
        peak_rss_kib: after.peak_rss_kib,
    })
}

// ------------------------------------------------------------------- runs

/// Runs one benchmark to completion.
pub async fn run_bench(config: BenchConfig) -> BenchReport {
    run_bench_until(config, CancellationToken::new()).await
}

/// [`run_bench`], ended early (with what was measured so far) when
/// `shutdown` fires, e.g. on Ctrl-C.
pub async fn run_bench_until(config: BenchConfig, shutdown: CancellationToken) -> BenchReport {
    let mut notes = Vec::new();
    match crate::raise_nofile_limit() {
        Ok(limit) if limit < u64::from(config.chargers) + 64 => notes.push(format!(
            "open-files limit {limit} is below {} clients; raise it (ulimit -n)",
            config.chargers
        )),
        Ok(_) => {}
        Err(e) => notes.push(format!("could not raise the open-files limit: {e}")),
    }
    if config
        .server_pid
        .is_some_and(|pid| proc_stats::sample(pid).is_err())
    {
        notes.push("server pid not readable in /proc: no server figures".to_owned());
    }
    let run = Arc::new(Run {
        ids: charger_ids(&config.id_prefix, config.first_index, config.chargers),
        cfg: config,
        counters: Arc::new(Counters::default()),
        stop: shutdown.child_token(),
    });
    let mut report = match run.cfg.scenario {
        Scenario::Idle => idle(&run).await,
        Scenario::Mix | Scenario::Steady => calls(&run).await,
        Scenario::Storm => storm(&run).await,
    };
    report.scenario = Some(run.cfg.scenario);
    report.chargers = run.cfg.chargers;
    report.failures = run.counters.failures();
    report.server_calls_answered = run.counters.answered.load(Relaxed);
    report.notes.extend(notes);
    report
}

async fn idle(run: &Arc<Run>) -> BenchReport {
    let started = Instant::now();
    let sample = |connections: u64| {
        let server = server_sample(run.cfg.server_pid);
        IdleSample {
            connections,
            elapsed: started.elapsed(),
            server_rss_kib: server.map(|s| s.rss_kib),
            server_cpu_seconds: server.map(|s| s.cpu_seconds),
            client_rss_kib: proc_stats::sample(std::process::id()).map_or(0, |s| s.rss_kib),
        }
    };
    let before = server_sample(run.cfg.server_pid);
    let mut samples = vec![sample(0)];
    let spawner = {
        let run = Arc::clone(run);
        tokio::spawn(async move {
            let mut tasks = JoinSet::new();
            spawn_paced(&run, &mut tasks, |run, n| async move {
                let Some((mut client, _, _, interval)) = run.open(n).await else {
                    return;
                };
                let interval = run.cfg.heartbeat_interval.unwrap_or(interval);
                loop {
                    let next = Instant::now() + interval;
                    let result = match client.idle_until(next, &run.stop).await {
                        Ok(()) if run.stop.is_cancelled() => break,
                        Ok(()) => client
                            .call(
                                "Heartbeat",
                                encode(&v16::HeartbeatRequest {}),
                                run.cfg.call_timeout,
                            )
                            .await
                            .map(|_| ()),
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(()) => {}
                        Err(CallFail::Closed) => {
                            run.counters.disconnects.fetch_add(1, Relaxed);
                            run.counters.connected.fetch_sub(1, Relaxed);
                            return;
                        }
                        Err(fail) => run.counters.count_failure(&fail),
                    }
                }
                client.close().await;
            })
            .await;
            tasks
        })
    };
    // Sample the server each time another `sample_every` connections are held.
    let step = u64::from(run.cfg.sample_every.max(1));
    let total = run.ids.len() as u64;
    let mut next_mark = step;
    while run.counters.settled.load(Relaxed) < total && !run.stop.is_cancelled() {
        let held = run.counters.connected.load(Relaxed);
        if held >= next_mark {
            samples.push(sample(held));
            next_mark = (held / step + 1) * step;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_done = started.elapsed();
    let held = run.counters.connected.load(Relaxed);
    if samples.last().is_some_and(|s| s.connections != held) {
        samples.push(sample(held));
    }
    // Hold (heartbeats keep flowing) and take a last reading.
    tokio::select! {
        _ = tokio::time::sleep(run.cfg.duration) => {}
        _ = run.stop.cancelled() => {}
    }
    let held = run.counters.connected.load(Relaxed);
    samples.push(sample(held));
    let after = server_sample(run.cfg.server_pid);
    run.stop.cancel();
    if let Ok(mut spawned) = spawner.await {
        while spawned.join_next().await.is_some() {}
    }
    BenchReport {
        connected: held,
        elapsed: started.elapsed(),
        server: usage(before, after),
        samples,
        notes: vec![format!("ramp took {:.1} s", ramp_done.as_secs_f64())],
        ..BenchReport::default()
    }
}

/// The actions of the `mix` and `steady` scenarios, in report order.
const MIX_ACTIONS: [&str; 7] = [
    "MeterValues",
    "Heartbeat",
    "StatusNotification",
    "Authorize",
    "StartTransaction",
    "StopTransaction",
    "BootNotification",
];

/// What one client sends next: a charging session cycle repeated.
#[derive(Debug)]
struct MixScript {
    rng: SmallRng,
    step: Step,
    meter: Meter,
    id_tag: String,
    charger_id: String,
    transaction_id: Option<i32>,
    meters_left: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Authorize,
    Preparing,
    Start,
    Charging,
    Stop,
    Finishing,
    Available,
    Boot,
}

impl MixScript {
    fn new(charger_id: String, id_tag: String, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let register = rng.random_range(0.0..1_000_000.0);
        MixScript {
            rng,
            step: Step::Authorize,
            meter: Meter::new(register, 11_000.0, 3),
            id_tag,
            charger_id,
            transaction_id: None,
            meters_left: 0,
        }
    }

    /// The next call: (index into [`MIX_ACTIONS`], payload).
    fn next(&mut self) -> (usize, Value) {
        match self.step {
            Step::Authorize => (
                3,
                encode(&v16::AuthorizeRequest {
                    id_tag: self.id_tag.clone(),
                }),
            ),
            Step::Preparing => (2, status_payload(1, ChargePointStatus::Preparing)),
            Step::Start => {
                self.meter
                    .plug_in(self.rng.random_range(10.0..60.0), 60_000.0);
                (
                    4,
                    encode(&v16::StartTransactionRequest {
                        connector_id: 1,
                        id_tag: self.id_tag.clone(),
                        meter_start: self.meter.register_wh(),
                        reservation_id: None,
                        timestamp: Utc::now(),
                    }),
                )
            }
            Step::Charging => {
                // One heartbeat in 20 calls while charging.
                if self.rng.random_range(0..20) == 0 {
                    return (1, encode(&v16::HeartbeatRequest {}));
                }
                self.meter.charge_for(60.0);
                let sample =
                    self.meter
                        .sample(Utc::now(), ReadingContext::SamplePeriodic, true, None);
                (
                    0,
                    encode(&v16::MeterValuesRequest {
                        connector_id: 1,
                        transaction_id: self.transaction_id,
                        meter_value: vec![sample],
                    }),
                )
            }
            Step::Stop => (
                5,
                encode(&v16::StopTransactionRequest {
                    id_tag: Some(self.id_tag.clone()),
                    meter_stop: self.meter.register_wh(),
                    timestamp: Utc::now(),
                    transaction_id: self.transaction_id.unwrap_or(0),
                    reason: Some(v16::Reason::EvDisconnected),
                    transaction_data: None,
                }),
            ),
            Step::Finishing => (2, status_payload(1, ChargePointStatus::Finishing)),
            Step::Available => (2, status_payload(1, ChargePointStatus::Available)),
            Step::Boot => (6, boot_payload(&self.charger_id)),
        }
    }

    /// Advances after a call; `answer` is the CALLRESULT payload, if any.
    fn advance(&mut self, action: usize, answer: Option<&Value>) {
        self.step = match self.step {
            Step::Authorize => {
                let accepted = answer.is_some_and(|a| a["idTagInfo"]["status"] == "Accepted");
                if accepted {
                    Step::Preparing
                } else {
                    Step::Available
                }
            }
            Step::Preparing => Step::Start,
            Step::Start => match answer.and_then(|a| a["transactionId"].as_i64()) {
                Some(tx) => {
                    self.transaction_id = i32::try_from(tx).ok();
                    self.meters_left = self.rng.random_range(15..40);
                    Step::Charging
                }
                None => Step::Available,
            },
            Step::Charging => {
                if action == 0 {
                    self.meters_left = self.meters_left.saturating_sub(1);
                }
                if self.meters_left == 0 {
                    Step::Stop
                } else {
                    Step::Charging
                }
            }
            Step::Stop => Step::Finishing,
            Step::Finishing => Step::Available,
            Step::Available => {
                // An occasional reboot between sessions.
                if self.rng.random_range(0..20) == 0 {
                    Step::Boot
                } else {
                    Step::Authorize
                }
            }
            Step::Boot => Step::Authorize,
        };
    }
}

async fn calls(run: &Arc<Run>) -> BenchReport {
    let steady = run.cfg.scenario == Scenario::Steady;
    let all = Arc::new(LatencyRecorder::default());
    let per_action: Arc<Vec<LatencyRecorder>> = Arc::new(
        MIX_ACTIONS
            .iter()
            .map(|_| LatencyRecorder::default())
            .collect(),
    );
    let spawner = {
        let (run, all, per_action) = (Arc::clone(run), Arc::clone(&all), Arc::clone(&per_action));
        tokio::spawn(async move {
            let mut tasks = JoinSet::new();
            spawn_paced(&run, &mut tasks, move |run, n| {
                let (all, per_action) = (Arc::clone(&all), Arc::clone(&per_action));
                async move {
                    let Some((mut client, _, _, _)) = run.open(n).await else {
                        return;
                    };
                    let seed = mix_seed(run.cfg.seed, n as u64);
                    let tag = run
                        .cfg
                        .id_tags
                        .get(n % run.cfg.id_tags.len().max(1))
                        .cloned()
                        .unwrap_or_else(|| "BENCH-TAG-1".to_owned());
                    let mut script = MixScript::new(run.ids[n].clone(), tag, seed);
                    let period = run.cfg.period.as_secs_f64();
                    // Spread the first calls over one period.
                    let mut next_at = Instant::now()
                        + Duration::from_secs_f64(period * script.rng.random::<f64>());
                    while !run.stop.is_cancelled() {
                        if steady {
                            if let Err(e) = client.idle_until(next_at, &run.stop).await {
                                run.counters.count_failure(&e);
                                break;
                            }
                            if run.stop.is_cancelled() {
                                break;
                            }
                            let jitter = 0.9 + 0.2 * script.rng.random::<f64>();
                            next_at += Duration::from_secs_f64(period * jitter);
                        }
                        let (action, payload) = script.next();
                        let result = client
                            .call(MIX_ACTIONS[action], payload, run.cfg.call_timeout)
                            .await;
                        let measuring = run.counters.measuring.load(Relaxed);
                        match result {
                            Ok((answer, latency)) => {
                                if measuring {
                                    all.record(n, latency);
                                    per_action[action].record(n, latency);
                                    run.counters.calls.fetch_add(1, Relaxed);
                                }
                                script.advance(action, Some(&answer));
                            }
                            Err(CallFail::Closed) => {
                                run.counters.disconnects.fetch_add(1, Relaxed);
                                break;
                            }
                            Err(fail) => {
                                if measuring {
                                    run.counters.count_failure(&fail);
                                }
                                script.advance(action, None);
                            }
                        }
                    }
                    client.close().await;
                }
            })
            .await;
            tasks
        })
    };
    until_settled(run).await;
    // The window starts once every client is connected and running.
    let before = server_sample(run.cfg.server_pid);
    // Failures before the window (connect, boot) stay counted; call errors
    // and timeouts are counted only inside it.
    run.counters.measuring.store(true, Relaxed);
    let started = Instant::now();
    tokio::select! {
        _ = tokio::time::sleep(run.cfg.duration) => {}
        _ = run.stop.cancelled() => {}
    }
    run.counters.measuring.store(false, Relaxed);
    let elapsed = started.elapsed();
    let after = server_sample(run.cfg.server_pid);
    run.stop.cancel();
    if let Ok(mut spawned) = spawner.await {
        while spawned.join_next().await.is_some() {}
    }
    let calls = run.counters.calls.load(Relaxed);
    let mut latency = vec![("all".to_owned(), all.summary())];
    for (name, rec) in MIX_ACTIONS.iter().zip(per_action.iter()) {
        let s = rec.summary();
        if s.count > 0 {
            latency.push(((*name).to_owned(), s));
        }
    }
    BenchReport {
        connected: run.counters.connected.load(Relaxed),
        elapsed,
        calls,
        calls_per_sec: calls as f64 / elapsed.as_secs_f64().max(1e-9),
        latency,
        server: usage(before, after),
        ..BenchReport::default()
    }
}

async fn storm(run: &Arc<Run>) -> BenchReport {
    let handshake = Arc::new(LatencyRecorder::default());
    let boot = Arc::new(LatencyRecorder::default());
    let status = Arc::new(LatencyRecorder::default());
    let total = Arc::new(LatencyRecorder::default());
    let before = server_sample(run.cfg.server_pid);
    let started = Instant::now();
    let spawner = {
        let run = Arc::clone(run);
        let recs = (
            Arc::clone(&handshake),
            Arc::clone(&boot),
            Arc::clone(&status),
            Arc::clone(&total),
        );
        tokio::spawn(async move {
            let mut tasks = JoinSet::new();
            spawn_paced(&run, &mut tasks, move |run, n| {
                let (handshake, boot, status, total) = recs.clone();
                async move {
                    let started = std::time::Instant::now();
                    let Some((mut client, hs, boot_latency, _)) = run.open(n).await else {
                        return;
                    };
                    handshake.record(n, hs);
                    boot.record(n, boot_latency);
                    let status_started = std::time::Instant::now();
                    for connector in [0, 1] {
                        let payload = status_payload(connector, ChargePointStatus::Available);
                        if let Err(fail) = client
                            .call("StatusNotification", payload, run.cfg.call_timeout)
                            .await
                        {
                            run.counters.count_failure(&fail);
                            return;
                        }
                    }
                    status.record(n, status_started.elapsed());
                    total.record(n, started.elapsed());
                    run.counters.calls.fetch_add(3, Relaxed);
                    // Stay connected until the storm is over, as real
                    // chargers would.
                    let _ = client
                        .idle_until(Instant::now() + Duration::from_secs(86_400), &run.stop)
                        .await;
                    client.close().await;
                }
            })
            .await;
            tasks
        })
    };
    until_settled(run).await;
    let elapsed = started.elapsed();
    let after = server_sample(run.cfg.server_pid);
    let connected = run.counters.connected.load(Relaxed);
    run.stop.cancel();
    if let Ok(mut spawned) = spawner.await {
        while spawned.join_next().await.is_some() {}
    }
    let calls = run.counters.calls.load(Relaxed);
    BenchReport {
        connected,
        elapsed,
        calls,
        calls_per_sec: calls as f64 / elapsed.as_secs_f64().max(1e-9),
        latency: vec![
            ("handshake".to_owned(), handshake.summary()),
            ("BootNotification".to_owned(), boot.summary()),
            ("2× StatusNotification".to_owned(), status.summary()),
            ("handshake+boot+status".to_owned(), total.summary()),
        ],
        server: usage(before, after),
        ..BenchReport::default()
    }
}

#[cfg(test)]
mod tests;
