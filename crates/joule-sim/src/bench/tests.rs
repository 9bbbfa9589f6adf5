use super::*;
use joule_ocpp::schema::validate;
use joule_ocpp::PayloadKind;
use serde_json::json;

#[test]
fn scenarios_parse_and_print() {
    for sc in Scenario::ALL {
        assert_eq!(sc.as_str().parse::<Scenario>(), Ok(sc));
        assert_eq!(sc.to_string(), sc.as_str());
    }
    assert_eq!("MIX".parse::<Scenario>(), Ok(Scenario::Mix));
    assert!("soak".parse::<Scenario>().is_err());
    assert_eq!(BenchConfig::new(Scenario::Storm).ramp_per_sec, 500);
    assert_eq!(BenchConfig::new(Scenario::Mix).chargers, 1_000);
}

/// A CSMS answer for the mix script: everything accepted.
fn answer(action: &str, tx: i32) -> Value {
    match action {
        "BootNotification" => {
            json!({"status": "Accepted", "currentTime": "2025-01-01T00:00:00Z", "interval": 300})
        }
        "Heartbeat" => json!({"currentTime": "2025-01-01T00:00:00Z"}),
        "Authorize" => json!({"idTagInfo": {"status": "Accepted"}}),
        "StartTransaction" => json!({"idTagInfo": {"status": "Accepted"}, "transactionId": tx}),
        _ => json!({}),
    }
}

#[test]
fn mix_script_is_a_realistic_schema_valid_session_cycle() {
    let mut script = MixScript::new("CP-0001".into(), "TAG-1".into(), 3);
    let mut counts = [0u32; MIX_ACTIONS.len()];
    let mut sequence = Vec::new();
    for i in 0..5_000 {
        let (action, payload) = script.next();
        let name = MIX_ACTIONS[action];
        let action16: v16::Action16 = name.parse().unwrap();
        validate(action16, PayloadKind::Request, &payload)
            .unwrap_or_else(|v| panic!("{name}: {v}"));
        if name == "MeterValues" || name == "StopTransaction" {
            assert_eq!(payload["transactionId"], 77);
        }
        counts[action] += 1;
        if i < 8 {
            sequence.push(name);
        }
        script.advance(action, Some(&answer(name, 77)));
    }
    assert_eq!(
        sequence[..4],
        [
            "Authorize",
            "StatusNotification",
            "StartTransaction",
            sequence[3]
        ]
    );
    let share = |name: &str| {
        let i = MIX_ACTIONS.iter().position(|a| *a == name).unwrap();
        f64::from(counts[i]) / 5_000.0
    };
    // Meter values are the bulk; every other action occurs.
    assert!(share("MeterValues") > 0.6, "{counts:?}");
    for name in MIX_ACTIONS {
        assert!(share(name) > 0.0, "{name} never sent: {counts:?}");
    }
    // Every start is stopped (the last cycle may still be running).
    assert!(counts[4] - counts[5] <= 1, "{counts:?}");
}

#[test]
fn mix_script_recovers_from_refusals() {
    let mut script = MixScript::new("CP-1".into(), "TAG-X".into(), 1);
    let (a, _) = script.next();
    assert_eq!(MIX_ACTIONS[a], "Authorize");
    script.advance(a, Some(&json!({"idTagInfo": {"status": "Blocked"}})));
    let (a, p) = script.next();
    assert_eq!(
        (MIX_ACTIONS[a], p["status"].as_str()),
        ("StatusNotification", Some("Available"))
    );
    // A failed StartTransaction (no answer) ends the cycle too.
    script.step = Step::Start;
    let (a, _) = script.next();
    script.advance(a, None);
    assert_eq!(script.step, Step::Available);
}

fn summary(us: u64) -> LatencySummary {
    LatencySummary {
        count: 1_000,
        mean_us: us as f64,
        p50_us: us,
        p90_us: us * 2,
        p99_us: us * 4,
        p999_us: us * 8,
        max_us: us * 100,
    }
}

#[test]
fn mix_report_prints_throughput_errors_server_and_latency_table() {
    let report = BenchReport {
        scenario: Some(Scenario::Mix),
        chargers: 1_000,
        connected: 998,
        failures: Failures {
            connect: 2,
            call_errors: 1,
            ..Failures::default()
        },
        elapsed: Duration::from_secs(30),
        calls: 1_200_000,
        calls_per_sec: 40_000.0,
        latency: vec![
            ("all".into(), summary(450)),
            ("MeterValues".into(), summary(1_500)),
        ],
        server: Some(ServerUsage {
            cpu_seconds: 15.0,
            rss_kib: 102_400,
            peak_rss_kib: 110_592,
        }),
        ..BenchReport::default()
    };
    let text = report.to_string();
    let expected = "\
joule bench mix: 1000 chargers, 30.0 s
  connected         998 / 1000
  calls             1200000 (40000 calls/s)
  failures          connect 2, boot 0, CALLERROR 1, timeout 0, disconnect 0
  server            CPU 15.00 s (50 % of a core), RSS 100.0 MiB (peak 108.0 MiB)

  latency                      count       p50       p90       p99     p99.9       max
  all                           1000     450µs     900µs     1.8ms     3.6ms    45.0ms
  MeterValues                   1000     1.5ms     3.0ms     6.0ms    12.0ms     150ms
";
    assert_eq!(text, expected);
}

#[test]
fn idle_report_shows_memory_per_connection() {
    let sample = |connections, rss| IdleSample {
        connections,
        elapsed: Duration::from_secs(connections / 1_000),
        server_rss_kib: Some(rss),
        server_cpu_seconds: Some(1.5),
        client_rss_kib: 51_200,
    };
    let report = BenchReport {
        scenario: Some(Scenario::Idle),
        chargers: 4_000,
        connected: 4_000,
        elapsed: Duration::from_secs(14),
        samples: vec![
            sample(0, 20_480),
            sample(2_000, 40_480),
            sample(4_000, 60_480),
        ],
        ..BenchReport::default()
    };
    assert_eq!(report.kib_per_connection(), Some(10.0));
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[4].contains("connections") && lines[4].contains("Δ KiB/conn"),
        "{text}"
    );
    let row: Vec<&str> = lines[7].split_whitespace().collect();
    assert_eq!(
        row,
        ["4000", "4.0", "59.1", "10.0", "1.50", "50.0"],
        "{text}"
    );
    let first: Vec<&str> = lines[5].split_whitespace().collect();
    assert_eq!(first[3], "-");
    assert!(!text.contains("calls"), "{text}");
}

#[test]
fn boot_answers_are_read() {
    let accepted =
        json!({"status": "Accepted", "currentTime": "2025-01-01T00:00:00Z", "interval": 30});
    assert_eq!(boot_accepted(accepted), Some(Duration::from_secs(30)));
    let pending =
        json!({"status": "Pending", "currentTime": "2025-01-01T00:00:00Z", "interval": 30});
    assert_eq!(boot_accepted(pending), None);
    assert_eq!(boot_accepted(json!({"status": "Accepted"})), None);
}

#[tokio::test]
async fn an_unreachable_server_is_reported_not_hung() {
    // Port 9 (discard) on localhost is closed: connects fail fast.
    let config = BenchConfig {
        base_url: "ws://127.0.0.1:9/ocpp".into(),
        chargers: 3,
        duration: Duration::from_millis(10),
        ramp_per_sec: 0,
        connect_timeout: Duration::from_secs(2),
        ..BenchConfig::new(Scenario::Mix)
    };
    let report = run_bench(config).await;
    assert_eq!(report.connected, 0);
    assert_eq!(report.failures.connect, 3);
    assert_eq!(report.calls, 0);
}
