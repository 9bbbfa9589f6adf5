//! The simulated charger driven without sockets: a scripted CSMS answers its
//! CALLs (and checks each against the official request schema), the test
//! plays the clock.

use super::*;
use crate::replies::tests::every_central_system_call;
use joule_ocpp::schema::validate;
use joule_ocpp::v16::Action16;
use joule_ocpp::PayloadKind;
use serde_json::json;

fn config() -> SimConfig {
    SimConfig {
        connectors: 2,
        id_tags: vec!["TAG-1".to_owned()],
        meter_interval: Duration::from_secs(10),
        session_min: Duration::from_secs(60),
        session_max: Duration::from_secs(60),
        pause_min: Duration::from_secs(5),
        pause_max: Duration::from_secs(5),
        signed_share: 1.0,
        call_timeout: Duration::from_secs(30),
        ..SimConfig::default()
    }
}

/// A call the charger made.
#[derive(Debug, Clone)]
struct Sent {
    action: String,
    payload: Value,
}

/// The scripted central system.
struct Csms {
    /// Every CALL the charger sent, in order.
    calls: Vec<Sent>,
    /// Every CALLRESULT/CALLERROR the charger sent (answers to our CALLs).
    replies: Vec<Frame>,
    boot_status: &'static str,
    next_tx: i32,
    /// Leave CALLs of this action unanswered.
    silent: Option<&'static str>,
}

impl Csms {
    fn new() -> Self {
        Csms {
            calls: Vec::new(),
            replies: Vec::new(),
            boot_status: "Accepted",
            next_tx: 100,
            silent: None,
        }
    }

    fn answer(&mut self, action: &str) -> Value {
        let now = "2025-01-01T00:00:00Z";
        match action {
            "BootNotification" => {
                json!({"status": self.boot_status, "currentTime": now, "interval": 60})
            }
            "Heartbeat" => json!({"currentTime": now}),
            "Authorize" => json!({"idTagInfo": {"status": "Accepted"}}),
            "StartTransaction" => {
                self.next_tx += 1;
                json!({"idTagInfo": {"status": "Accepted"}, "transactionId": self.next_tx})
            }
            _ => json!({}),
        }
    }

    /// Answers everything in the outbox until the charger is quiet.
    fn serve(&mut self, sim: &mut ChargerSim, now: Instant) {
        let out = sim.take_outbox();
        self.handle(sim, out, now);
    }

    /// Handles frames the charger wrote, then serves until it is quiet.
    fn handle(&mut self, sim: &mut ChargerSim, mut out: Vec<String>, now: Instant) {
        for _ in 0..1_000 {
            if out.is_empty() {
                return;
            }
            for text in out {
                match Frame::parse(&text).unwrap() {
                    Frame::Call(call) => {
                        let action: Action16 = call.action.parse().unwrap();
                        validate(action, PayloadKind::Request, &call.payload).unwrap_or_else(|v| {
                            panic!("{} invalid: {v}\n{}", call.action, call.payload)
                        });
                        self.calls.push(Sent {
                            action: call.action.clone(),
                            payload: call.payload.clone(),
                        });
                        if self.silent == Some(action.as_str()) {
                            continue;
                        }
                        let reply = self.answer(&call.action);
                        validate(action, PayloadKind::Response, &reply).unwrap();
                        sim.on_text(&Frame::call_result(call.message_id, reply).to_text(), now);
                    }
                    reply => self.replies.push(reply),
                }
            }
            out = sim.take_outbox();
        }
        panic!("the charger never went quiet");
    }

    fn actions(&self) -> Vec<&str> {
        self.calls.iter().map(|c| c.action.as_str()).collect()
    }

    fn take(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.calls)
    }

    /// Sends a CSMS CALL and returns the charger's answer (first frame).
    fn request(
        &mut self,
        sim: &mut ChargerSim,
        action: &str,
        payload: Value,
        now: Instant,
    ) -> Frame {
        let id = format!("cs-{}", self.replies.len());
        sim.on_text(&Frame::call(id.clone(), action, payload).to_text(), now);
        self.serve(sim, now);
        let reply = self.replies.pop().expect("the charger answered");
        assert_eq!(reply.message_id(), id);
        reply
    }
}

fn booted_with(cfg: SimConfig) -> (ChargerSim, Csms, Instant, Arc<FleetStats>) {
    let t0 = Instant::now();
    let stats = Arc::new(FleetStats::default());
    let mut sim = ChargerSim::new("CP-0001".into(), Arc::new(cfg), Arc::clone(&stats), 7, t0);
    let mut csms = Csms::new();
    sim.on_connected(t0);
    csms.serve(&mut sim, t0);
    assert!(sim.is_accepted());
    (sim, csms, t0, stats)
}

fn booted() -> (ChargerSim, Csms, Instant, Arc<FleetStats>) {
    booted_with(config())
}

fn status_of(call: &Sent) -> (i64, &str) {
    assert_eq!(call.action, "StatusNotification");
    (
        call.payload["connectorId"].as_i64().unwrap(),
        call.payload["status"].as_str().unwrap(),
    )
}

fn result_payload(frame: Frame) -> Value {
    match frame {
        Frame::CallResult(r) => r.payload,
        other => panic!("expected a CALLRESULT, got {other:?}"),
    }
}

/// Plays the clock in one-second steps, serving the charger after each.
fn advance(sim: &mut ChargerSim, csms: &mut Csms, from: Instant, secs: u64) -> Instant {
    let mut now = from;
    for _ in 0..secs {
        now += Duration::from_secs(1);
        sim.on_tick(now);
        csms.serve(sim, now);
    }
    now
}

#[test]
fn boot_then_status_of_connector_0_and_each_connector() {
    let (_sim, csms, _, stats) = booted();
    assert_eq!(
        csms.actions(),
        [
            "BootNotification",
            "StatusNotification",
            "StatusNotification",
            "StatusNotification"
        ]
    );
    let statuses: Vec<_> = csms.calls[1..].iter().map(status_of).collect();
    assert_eq!(
        statuses,
        [(0, "Available"), (1, "Available"), (2, "Available")]
    );
    assert_eq!(csms.calls[0].payload["chargePointVendor"], "Joule");
    assert_eq!(stats.snapshot().boots_accepted, 1);
}

#[test]
fn pending_boot_is_retried_after_the_interval_and_nothing_else_is_sent() {
    let t0 = Instant::now();
    let stats = Arc::new(FleetStats::default());
    let mut sim = ChargerSim::new("CP-1".into(), Arc::new(config()), stats, 1, t0);
    let mut csms = Csms::new();
    csms.boot_status = "Pending";
    sim.on_connected(t0);
    csms.serve(&mut sim, t0);
    assert_eq!(csms.actions(), ["BootNotification"]);
    // Sessions and heartbeats wait for Accepted; the boot is retried at 60 s.
    let now = advance(&mut sim, &mut csms, t0, 59);
    assert_eq!(csms.actions(), ["BootNotification"]);
    csms.boot_status = "Accepted";
    advance(&mut sim, &mut csms, now, 1);
    assert_eq!(
        csms.actions()[..3],
        ["BootNotification", "BootNotification", "StatusNotification"]
    );
    assert!(sim.is_accepted());
}

#[test]
fn heartbeats_follow_the_boot_interval() {
    let (mut sim, mut csms, t0, _) = booted_with(SimConfig {
        id_tags: Vec::new(),
        ..config()
    });
    csms.take();
    advance(&mut sim, &mut csms, t0, 125);
    assert_eq!(csms.actions(), ["Heartbeat", "Heartbeat"]);
}

#[test]
fn every_csms_call_gets_a_schema_valid_reply() {
    for (action, payload) in every_central_system_call() {
        let (mut sim, mut csms, t0, stats) = booted();
        let reply = result_payload(csms.request(&mut sim, action, payload.clone(), t0));
        let action16: Action16 = action.parse().unwrap();
        validate(action16, PayloadKind::Response, &reply)
            .unwrap_or_else(|v| panic!("{action} → {reply}: {v}"));
        assert_eq!(stats.snapshot().calls_answered, 1);
    }
}

#[test]
fn unknown_and_malformed_csms_calls_get_callerrors() {
    let (mut sim, mut csms, t0, _) = booted();
    let Frame::CallError(e) = csms.request(&mut sim, "Teleport", json!({}), t0) else {
        panic!("no CALLERROR");
    };
    assert_eq!(e.error_code, "NotImplemented");
    let Frame::CallError(e) = csms.request(&mut sim, "Reset", json!({"type": 3}), t0) else {
        panic!("no CALLERROR");
    };
    assert_eq!(e.error_code, "TypeConstraintViolation");
    // A broken frame is answered with id -1 (unreadable id).
    sim.on_text("[2, 17]", t0);
    let out = sim.take_outbox();
    assert!(out[0].starts_with(r#"[4,"-1","#), "{out:?}");
}

#[test]
fn rfid_session_runs_authorize_to_available() {
    let (mut sim, mut csms, t0, stats) = booted();
    csms.take();
    // Both connectors' drivers arrive at 5 s.
    let now = advance(&mut sim, &mut csms, t0, 5);
    let calls = csms.take();
    let c1: Vec<_> = calls
        .iter()
        .filter(|c| {
            c.payload["connectorId"] == 1
                || (c.action == "Authorize" && c.payload["idTag"] == "TAG-1")
        })
        .map(|c| c.action.as_str())
        .collect();
    assert_eq!(
        c1[..5],
        [
            "Authorize",
            "Authorize",
            "StatusNotification",
            "StartTransaction",
            "StatusNotification"
        ]
    );
    let start = calls
        .iter()
        .find(|c| c.action == "StartTransaction")
        .unwrap();
    let meter_start = start.payload["meterStart"].as_i64().unwrap();
    let tx = sim.transaction_on(1).unwrap();
    assert_eq!(sim.status_of(1), Some(ChargePointStatus::Charging));
    assert_eq!(stats.snapshot().sessions_started, 2);

    // Meter values every 10 s, register rising at 11 kW (≈30.6 Wh per 10 s).
    let now = advance(&mut sim, &mut csms, now, 30);
    let meters: Vec<_> = csms
        .take()
        .into_iter()
        .filter(|c| c.action == "MeterValues" && c.payload["connectorId"] == 1)
        .collect();
    assert_eq!(meters.len(), 3);
    let mut last = meter_start;
    for mv in &meters {
        assert_eq!(mv.payload["transactionId"], tx);
        let values = &mv.payload["meterValue"][0]["sampledValue"];
        assert_eq!(values[0]["measurand"], "Energy.Active.Import.Register");
        assert_eq!(values[0]["context"], "Sample.Periodic");
        let wh: i64 = values[0]["value"].as_str().unwrap().parse().unwrap();
        assert!(wh >= last + 29 && wh <= last + 32, "{last} → {wh}");
        last = wh;
        assert_eq!(values[1]["measurand"], "Power.Active.Import");
        let phases: Vec<_> = values
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["phase"].as_str())
            .collect();
        assert_eq!(phases, ["L1", "L2", "L3"]);
        // signed_share = 1.0: every sample carries signed data.
        let signed = values
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["format"] == "SignedData")
            .unwrap();
        assert!(signed["value"].as_str().unwrap().starts_with("OCMF|"));
    }

    // The session ends at 60 s: StopTransaction with begin/end data.
    let now = advance(&mut sim, &mut csms, now, 30);
    let calls = csms.take();
    let stop = calls
        .iter()
        .find(|c| c.action == "StopTransaction" && c.payload["transactionId"] == tx)
        .unwrap();
    assert_eq!(stop.payload["reason"], "EVDisconnected");
    assert_eq!(stop.payload["idTag"], "TAG-1");
    let meter_stop = stop.payload["meterStop"].as_i64().unwrap();
    assert!(meter_stop > meter_start);
    let data = stop.payload["transactionData"].as_array().unwrap();
    assert_eq!(data[0]["sampledValue"][0]["context"], "Transaction.Begin");
    assert_eq!(data[0]["sampledValue"][0]["value"], meter_start.to_string());
    assert_eq!(data[1]["sampledValue"][0]["context"], "Transaction.End");
    assert_eq!(data[1]["sampledValue"][0]["value"], meter_stop.to_string());
    assert_eq!(sim.status_of(1), Some(ChargePointStatus::Finishing));
    assert_eq!(stats.snapshot().sessions_stopped, 2);

    // Finishing lasts 2–5 s, then Available again.
    advance(&mut sim, &mut csms, now, 5);
    assert_eq!(sim.status_of(1), Some(ChargePointStatus::Available));
    let finals: Vec<_> = csms
        .take()
        .iter()
        .filter(|c| c.action == "StatusNotification" && c.payload["connectorId"] == 1)
        .map(|c| c.payload["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(finals, ["Available"]);
}

#[test]
fn remote_start_skips_authorize_and_remote_stop_ends_the_transaction() {
    let (mut sim, mut csms, t0, _) = booted_with(SimConfig {
        id_tags: Vec::new(),
        ..config()
    });
    csms.take();
    let reply = result_payload(csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 2, "idTag": "REMOTE-1"}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Accepted"}));
    assert_eq!(
        csms.actions(),
        [
            "StatusNotification",
            "StartTransaction",
            "StatusNotification"
        ]
    );
    assert_eq!(csms.calls[1].payload["idTag"], "REMOTE-1");
    let tx = sim.transaction_on(2).unwrap();

    // Busy connector: rejected.
    let reply = result_payload(csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 2, "idTag": "REMOTE-1"}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Rejected"}));

    csms.take();
    let reply = result_payload(csms.request(
        &mut sim,
        "RemoteStopTransaction",
        json!({"transactionId": tx}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Accepted"}));
    assert_eq!(csms.actions(), ["StopTransaction", "StatusNotification"]);
    assert_eq!(csms.calls[0].payload["reason"], "Remote");
    assert_eq!(sim.transaction_on(2), None);

    let reply = result_payload(csms.request(
        &mut sim,
        "RemoteStopTransaction",
        json!({"transactionId": 999}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Rejected"}));
}

#[test]
fn reset_stops_transactions_and_reboots() {
    let (mut sim, mut csms, t0, _) = booted();
    csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "T"}),
        t0,
    );
    csms.take();
    let reply = result_payload(csms.request(&mut sim, "Reset", json!({"type": "Soft"}), t0));
    assert_eq!(reply, json!({"status": "Accepted"}));
    let stop = csms
        .calls
        .iter()
        .find(|c| c.action == "StopTransaction")
        .unwrap();
    assert_eq!(stop.payload["reason"], "SoftReset");
    assert!(!sim.take_reboot());
    sim.on_tick(t0 + RESET_DELAY);
    assert!(sim.take_reboot());
}

#[test]
fn configuration_is_readable_and_changeable() {
    let (mut sim, mut csms, t0, _) = booted();
    let all = result_payload(csms.request(&mut sim, "GetConfiguration", json!({}), t0));
    let keys = all["configurationKey"].as_array().unwrap();
    assert_eq!(keys.len(), KEYS.len());
    let value = |keys: &Vec<Value>, k: &str| {
        keys.iter()
            .find(|kv| kv["key"] == k)
            .map(|kv| kv["value"].clone())
    };
    assert_eq!(value(keys, "HeartbeatInterval"), Some(json!("60")));
    assert_eq!(value(keys, "MeterValueSampleInterval"), Some(json!("10")));
    assert_eq!(value(keys, "NumberOfConnectors"), Some(json!("2")));

    let some = result_payload(csms.request(
        &mut sim,
        "GetConfiguration",
        json!({"key": ["NumberOfConnectors", "VendorMagic"]}),
        t0,
    ));
    assert_eq!(
        some,
        json!({"configurationKey": [{"key": "NumberOfConnectors", "readonly": true, "value": "2"}], "unknownKey": ["VendorMagic"]})
    );

    let change = |sim: &mut ChargerSim, csms: &mut Csms, key: &str, value: &str| {
        result_payload(csms.request(
            sim,
            "ChangeConfiguration",
            json!({"key": key, "value": value}),
            t0,
        ))["status"]
            .clone()
    };
    assert_eq!(
        change(&mut sim, &mut csms, "HeartbeatInterval", "15"),
        "Accepted"
    );
    assert_eq!(
        change(&mut sim, &mut csms, "LocalPreAuthorize", "true"),
        "Accepted"
    );
    assert_eq!(
        change(&mut sim, &mut csms, "NumberOfConnectors", "4"),
        "Rejected"
    );
    assert_eq!(
        change(&mut sim, &mut csms, "HeartbeatInterval", "soon"),
        "Rejected"
    );
    assert_eq!(
        change(&mut sim, &mut csms, "VendorMagic", "1"),
        "NotSupported"
    );
    let some = result_payload(csms.request(
        &mut sim,
        "GetConfiguration",
        json!({"key": ["HeartbeatInterval", "LocalPreAuthorize"]}),
        t0,
    ));
    let keys = some["configurationKey"].as_array().unwrap();
    assert_eq!(value(keys, "HeartbeatInterval"), Some(json!("15")));
    assert_eq!(value(keys, "LocalPreAuthorize"), Some(json!("true")));
}

#[test]
fn trigger_message_answers_first_then_sends_the_message() {
    let (mut sim, mut csms, t0, _) = booted();
    for (requested, connector, expected) in [
        ("Heartbeat", None, vec!["Heartbeat"]),
        ("BootNotification", None, vec!["BootNotification"]),
        ("StatusNotification", Some(2), vec!["StatusNotification"]),
        ("StatusNotification", None, vec!["StatusNotification"; 3]),
        ("MeterValues", Some(1), vec!["MeterValues"]),
        (
            "DiagnosticsStatusNotification",
            None,
            vec!["DiagnosticsStatusNotification"],
        ),
        (
            "FirmwareStatusNotification",
            None,
            vec!["FirmwareStatusNotification"],
        ),
    ] {
        csms.take();
        let mut payload = json!({"requestedMessage": requested});
        if let Some(c) = connector {
            payload["connectorId"] = json!(c);
        }
        sim.on_text(
            &Frame::call("trig", "TriggerMessage", payload).to_text(),
            t0,
        );
        let out = sim.take_outbox();
        // The CALLRESULT is written before the triggered CALL.
        assert!(
            out[0].starts_with(r#"[3,"trig",{"status":"Accepted"}"#),
            "{out:?}"
        );
        csms.handle(&mut sim, out, t0);
        csms.replies.clear();
        assert_eq!(csms.actions(), expected, "{requested}");
    }
    let reply = result_payload(csms.request(
        &mut sim,
        "TriggerMessage",
        json!({"requestedMessage": "MeterValues", "connectorId": 9}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Rejected"}));
}

#[test]
fn change_availability_is_immediate_when_idle_and_scheduled_when_charging() {
    let (mut sim, mut csms, t0, _) = booted_with(SimConfig {
        id_tags: Vec::new(),
        ..config()
    });
    csms.take();
    let reply = result_payload(csms.request(
        &mut sim,
        "ChangeAvailability",
        json!({"connectorId": 1, "type": "Inoperative"}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Accepted"}));
    assert_eq!(status_of(&csms.take()[0]), (1, "Unavailable"));
    // An unavailable connector refuses remote starts.
    let reply = result_payload(csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "T"}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Rejected"}));
    let reply = result_payload(csms.request(
        &mut sim,
        "ChangeAvailability",
        json!({"connectorId": 1, "type": "Operative"}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Accepted"}));
    assert_eq!(sim.status_of(1), Some(ChargePointStatus::Available));

    csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 2, "idTag": "T"}),
        t0,
    );
    let reply = result_payload(csms.request(
        &mut sim,
        "ChangeAvailability",
        json!({"connectorId": 0, "type": "Inoperative"}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Scheduled"}));
    assert_eq!(sim.status_of(1), Some(ChargePointStatus::Unavailable));
    assert_eq!(sim.status_of(2), Some(ChargePointStatus::Charging));
    let reply = result_payload(csms.request(
        &mut sim,
        "ChangeAvailability",
        json!({"connectorId": 7, "type": "Inoperative"}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "Rejected"}));
}

#[test]
fn transaction_messages_survive_a_dropped_connection() {
    let (mut sim, mut csms, t0, _) = booted_with(SimConfig {
        id_tags: Vec::new(),
        ..config()
    });
    csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "T"}),
        t0,
    );
    let tx = sim.transaction_on(1).unwrap();
    csms.take();
    // The connection drops; the session ends while offline.
    sim.on_disconnected(t0);
    let now = t0 + Duration::from_secs(61);
    sim.on_tick(now);
    assert!(sim.take_outbox().is_empty());
    // Meter values of the last minute plus the StopTransaction wait.
    assert!(sim.offline_queue_len() >= 2, "{}", sim.offline_queue_len());
    sim.on_connected(now);
    csms.serve(&mut sim, now);
    let actions = csms.actions();
    assert_eq!(actions[0], "BootNotification");
    let stop = csms
        .calls
        .iter()
        .find(|c| c.action == "StopTransaction")
        .unwrap();
    assert_eq!(stop.payload["transactionId"], tx);
    assert_eq!(sim.offline_queue_len(), 0);
    // Queued meter values precede the stop, as they were recorded.
    let first_meter = actions.iter().position(|a| *a == "MeterValues").unwrap();
    let stop_at = actions
        .iter()
        .position(|a| *a == "StopTransaction")
        .unwrap();
    assert!(first_meter < stop_at);
}

#[test]
fn an_unanswered_start_transaction_is_resent_after_reconnect() {
    let (mut sim, mut csms, t0, _) = booted_with(SimConfig {
        id_tags: Vec::new(),
        ..config()
    });
    csms.silent = Some("StartTransaction");
    csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "T"}),
        t0,
    );
    let first = csms
        .calls
        .iter()
        .find(|c| c.action == "StartTransaction")
        .unwrap()
        .clone();
    sim.on_disconnected(t0);
    assert_eq!(sim.offline_queue_len(), 1);
    csms.take();
    csms.silent = None;
    sim.on_connected(t0);
    csms.serve(&mut sim, t0);
    let again = csms
        .calls
        .iter()
        .find(|c| c.action == "StartTransaction")
        .unwrap();
    assert_eq!(again.payload, first.payload);
    assert!(sim.transaction_on(1).is_some());
}

#[test]
fn an_unanswered_start_transaction_is_retried_on_timeout() {
    let (mut sim, mut csms, t0, stats) = booted_with(SimConfig {
        id_tags: Vec::new(),
        ..config()
    });
    csms.silent = Some("StartTransaction");
    csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "T"}),
        t0,
    );
    csms.take();
    let now = t0 + Duration::from_secs(30);
    sim.on_tick(now);
    csms.serve(&mut sim, now);
    assert_eq!(csms.actions(), ["StartTransaction"]);
    assert_eq!(stats.snapshot().timeouts, 1);
    // After TX_ATTEMPTS sends the charger gives up and frees the connector.
    let now = now + Duration::from_secs(30);
    sim.on_tick(now);
    csms.serve(&mut sim, now);
    let now = now + Duration::from_secs(30);
    sim.on_tick(now);
    csms.serve(&mut sim, now);
    let actions: Vec<_> = csms
        .actions()
        .into_iter()
        .filter(|a| *a != "Heartbeat")
        .collect();
    assert_eq!(
        actions,
        ["StartTransaction", "StartTransaction", "StatusNotification"]
    );
    assert_eq!(sim.status_of(1), Some(ChargePointStatus::Available));
}

#[test]
fn rejected_id_tag_at_start_stops_with_deauthorized() {
    let (mut sim, mut csms, t0, _) = booted_with(SimConfig {
        id_tags: Vec::new(),
        ..config()
    });
    csms.silent = Some("StartTransaction");
    csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "BLOCKED"}),
        t0,
    );
    csms.silent = None;
    csms.take();
    // The CSMS answers the StartTransaction (message id "3": boot, 3
    // statuses, Preparing, Start → the 6th call; ids count per connection).
    let start_id = sim.calls.in_flight_id().unwrap().to_owned();
    let answer = json!({"idTagInfo": {"status": "Blocked"}, "transactionId": 5});
    sim.on_text(&Frame::call_result(start_id, answer).to_text(), t0);
    csms.serve(&mut sim, t0);
    let stop = csms
        .calls
        .iter()
        .find(|c| c.action == "StopTransaction")
        .unwrap();
    assert_eq!(stop.payload["reason"], "DeAuthorized");
    assert_eq!(stop.payload["transactionId"], 5);
}

#[test]
fn unlock_connector_stops_a_running_transaction() {
    let (mut sim, mut csms, t0, _) = booted_with(SimConfig {
        id_tags: Vec::new(),
        ..config()
    });
    csms.request(
        &mut sim,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "T"}),
        t0,
    );
    csms.take();
    let reply =
        result_payload(csms.request(&mut sim, "UnlockConnector", json!({"connectorId": 1}), t0));
    assert_eq!(reply, json!({"status": "Unlocked"}));
    assert_eq!(csms.calls[0].payload["reason"], "UnlockCommand");
    let reply =
        result_payload(csms.request(&mut sim, "UnlockConnector", json!({"connectorId": 3}), t0));
    assert_eq!(reply, json!({"status": "NotSupported"}));
}

#[test]
fn local_list_version_follows_send_local_list() {
    let (mut sim, mut csms, t0, _) = booted();
    csms.request(
        &mut sim,
        "SendLocalList",
        json!({"listVersion": 12, "updateType": "Full"}),
        t0,
    );
    let reply = result_payload(csms.request(&mut sim, "GetLocalListVersion", json!({}), t0));
    assert_eq!(reply, json!({"listVersion": 12}));
    let reply = result_payload(csms.request(
        &mut sim,
        "DataTransfer",
        json!({"vendorId": "com.acme"}),
        t0,
    ));
    assert_eq!(reply, json!({"status": "UnknownVendorId"}));
}

#[test]
fn backoff_doubles_up_to_a_minute() {
    let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
}
