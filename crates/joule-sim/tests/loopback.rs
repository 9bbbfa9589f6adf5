//! The simulator and the benchmark against a minimal in-process OCPP 1.6
//! central system on port 0. The fake CSMS validates every charger CALL
//! against the official schemas (via `decode_charge_point_call`), sends
//! GetConfiguration and TriggerMessage after each boot and checks the
//! answers, so the wire behaviour is tested end to end without the real
//! server crate.

// Test helpers outside #[test] fns; tungstenite's callback signature fixes
// the error type.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use joule_ocpp::schema::validate;
use joule_ocpp::v16::{self, Action16, ChargePointCall};
use joule_ocpp::{Frame, OcppVersion, PayloadKind};
use joule_sim::bench::{run_bench, BenchConfig, Scenario};
use joule_sim::{run_fleet_with_stats, CancellationToken, FleetStats, SimConfig};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Default)]
struct Seen {
    calls: AtomicU64,
    violations: AtomicU64,
    boots: AtomicU64,
    good_answers: AtomicU64,
    bad_answers: AtomicU64,
    authorization: Mutex<Option<String>>,
    paths: Mutex<Vec<String>>,
}

fn answer(call: &ChargePointCall, next_tx: &AtomicU64) -> Value {
    let now = chrono::Utc::now();
    match call {
        ChargePointCall::BootNotification(_) => {
            json!({"status": "Accepted", "currentTime": now, "interval": 300})
        }
        ChargePointCall::Heartbeat(_) => json!({"currentTime": now}),
        ChargePointCall::Authorize(_) => json!({"idTagInfo": {"status": "Accepted"}}),
        ChargePointCall::StartTransaction(_) => json!({
            "idTagInfo": {"status": "Accepted"},
            "transactionId": next_tx.fetch_add(1, Relaxed) + 1,
        }),
        ChargePointCall::StopTransaction(_) => json!({"idTagInfo": {"status": "Accepted"}}),
        ChargePointCall::DataTransfer(_) => json!({"status": "Accepted"}),
        _ => json!({}),
    }
}

async fn fake_csms() -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let next_tx = Arc::new(AtomicU64::new(0));
    let server_seen = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, next_tx) = (Arc::clone(&server_seen), Arc::clone(&next_tx));
            tokio::spawn(async move {
                let callback = |req: &Request, mut resp: Response| {
                    *seen.authorization.lock().unwrap() = req
                        .headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned());
                    seen.paths.lock().unwrap().push(req.uri().path().to_owned());
                    resp.headers_mut().insert(
                        "sec-websocket-protocol",
                        HeaderValue::from_static("ocpp1.6"),
                    );
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                    return;
                };
                let mut our_calls: Vec<(String, Action16)> = Vec::new();
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(text) = msg else { continue };
                    let mut replies = Vec::new();
                    match Frame::parse(text.as_str()) {
                        Ok(Frame::Call(call)) => {
                            seen.calls.fetch_add(1, Relaxed);
                            let id = call.message_id.clone();
                            match v16::decode_charge_point_call(&call.action, call.payload) {
                                Ok(decoded) => {
                                    replies
                                        .push(Frame::call_result(id, answer(&decoded, &next_tx)));
                                    if let ChargePointCall::BootNotification(_) = decoded {
                                        seen.boots.fetch_add(1, Relaxed);
                                        let n = our_calls.len();
                                        replies.push(Frame::call(
                                            format!("srv-{n}"),
                                            "GetConfiguration",
                                            json!({}),
                                        ));
                                        our_calls
                                            .push((format!("srv-{n}"), Action16::GetConfiguration));
                                        replies.push(Frame::call(
                                            format!("srv-{}", n + 1),
                                            "TriggerMessage",
                                            json!({"requestedMessage": "Heartbeat"}),
                                        ));
                                        our_calls.push((
                                            format!("srv-{}", n + 1),
                                            Action16::TriggerMessage,
                                        ));
                                    }
                                }
                                Err(v) => {
                                    eprintln!("violation: {v}");
                                    seen.violations.fetch_add(1, Relaxed);
                                    replies.push(v.reply(&id, OcppVersion::V16));
                                }
                            }
                        }
                        Ok(Frame::CallResult(r)) => {
                            let action = our_calls
                                .iter()
                                .find(|(id, _)| *id == r.message_id)
                                .map(|(_, a)| *a);
                            match action.map(|a| validate(a, PayloadKind::Response, &r.payload)) {
                                Some(Ok(())) => seen.good_answers.fetch_add(1, Relaxed),
                                _ => seen.bad_answers.fetch_add(1, Relaxed),
                            };
                        }
                        _ => {
                            seen.bad_answers.fetch_add(1, Relaxed);
                        }
                    }
                    for reply in replies {
                        if ws.send(Message::text(reply.to_text())).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("ws://{addr}/ocpp"), seen)
}

/// Polls `done` every 10 ms for up to 30 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..3_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_boots_charges_and_answers_the_csms() {
    let (base_url, seen) = fake_csms().await;
    let config = SimConfig {
        base_url,
        count: 5,
        password: Some("s3cret".into()),
        connectors: 2,
        id_tags: vec!["TAG-1".into(), "TAG-2".into()],
        meter_interval: Duration::from_millis(50),
        session_min: Duration::from_millis(150),
        session_max: Duration::from_millis(250),
        pause_min: Duration::ZERO,
        pause_max: Duration::from_millis(50),
        signed_share: 0.5,
        ..SimConfig::default()
    };
    let stats = Arc::new(FleetStats::default());
    let shutdown = CancellationToken::new();
    let fleet = tokio::spawn(run_fleet_with_stats(
        config,
        shutdown.clone(),
        Arc::clone(&stats),
    ));
    eventually("10 finished sessions", || {
        stats.snapshot().sessions_stopped >= 10
    })
    .await;
    eventually("answers to the CSMS calls", || {
        seen.good_answers.load(Relaxed) >= 10
    })
    .await;
    shutdown.cancel();
    let report = fleet.await.unwrap();
    let s = report.stats;
    assert_eq!(s.boots_accepted, 5);
    assert_eq!(s.connected, 0, "every charger closed its socket");
    assert!(s.meter_values > 0);
    assert!(s.calls_answered >= 10);
    assert_eq!(s.call_errors, 0);
    assert_eq!(
        seen.violations.load(Relaxed),
        0,
        "every CALL was schema-valid"
    );
    assert_eq!(
        seen.bad_answers.load(Relaxed),
        0,
        "every answer was schema-valid"
    );
    let auth = seen.authorization.lock().unwrap().clone().unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");
    let mut paths = seen.paths.lock().unwrap().clone();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/ocpp/CP-0001",
            "/ocpp/CP-0002",
            "/ocpp/CP-0003",
            "/ocpp/CP-0004",
            "/ocpp/CP-0005"
        ]
    );
    assert!(report.to_string().contains("boots accepted"));
}

fn bench(base_url: String, scenario: Scenario, chargers: u32) -> BenchConfig {
    BenchConfig {
        base_url,
        chargers,
        ramp_per_sec: 0,
        duration: Duration::from_millis(300),
        period: Duration::from_millis(50),
        sample_every: 5,
        server_pid: Some(std::process::id()),
        ..BenchConfig::new(scenario)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_mix_measures_calls() {
    let (base_url, seen) = fake_csms().await;
    let report = run_bench(bench(base_url, Scenario::Mix, 8)).await;
    assert_eq!(report.connected, 8, "{report}");
    assert!(report.calls > 0, "{report}");
    assert_eq!(report.failures, Default::default(), "{report}");
    assert_eq!(report.latency[0].0, "all");
    assert_eq!(report.latency[0].1.count, report.calls);
    assert!(
        report.latency.iter().any(|(row, _)| row == "MeterValues"),
        "{report}"
    );
    assert!(report.server.is_some());
    assert!(report.server_calls_answered >= 16, "{report}");
    assert_eq!(seen.violations.load(Relaxed), 0);
    assert_eq!(seen.bad_answers.load(Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_steady_paces_calls() {
    let (base_url, _seen) = fake_csms().await;
    let report = run_bench(bench(base_url, Scenario::Steady, 5)).await;
    assert_eq!(report.connected, 5, "{report}");
    assert!(report.calls > 0, "{report}");
    assert_eq!(report.failures, Default::default(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_storm_times_each_phase() {
    let (base_url, seen) = fake_csms().await;
    let report = run_bench(bench(base_url, Scenario::Storm, 20)).await;
    assert_eq!(report.connected, 20, "{report}");
    let rows: Vec<_> = report
        .latency
        .iter()
        .map(|(r, s)| (r.as_str(), s.count))
        .collect();
    assert_eq!(
        rows,
        [
            ("handshake", 20),
            ("BootNotification", 20),
            ("2× StatusNotification", 20),
            ("handshake+boot+status", 20)
        ]
    );
    assert_eq!(seen.boots.load(Relaxed), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_idle_samples_memory_during_the_ramp() {
    let (base_url, _seen) = fake_csms().await;
    let mut config = bench(base_url, Scenario::Idle, 10);
    config.heartbeat_interval = Some(Duration::from_millis(100));
    let report = run_bench(config).await;
    assert_eq!(report.connected, 10, "{report}");
    assert_eq!(report.samples.first().unwrap().connections, 0);
    assert_eq!(report.samples.last().unwrap().connections, 10);
    assert!(report.samples.iter().all(|s| s.server_rss_kib.is_some()));
    assert!(report.kib_per_connection().is_some(), "{report}");
    assert_eq!(report.failures, Default::default(), "{report}");
}
