//! Black-box tests of the charger-facing server: real sockets, port 0, the
//! real SQLite store, a scripted charger.

mod harness;

use std::sync::Arc;
use std::time::Duration;

use harness::{cid, error_code, spawn};
use joule_csms::{DataTransferHandler, DataTransferReply, UnknownChargerPolicy};
use joule_domain::charging::charger::{ConnectorStatus, RegistrationStatus};
use joule_domain::charging::message_log::{Direction, FrameKind, LogFilter};
use joule_domain::charging::session::SessionState;
use joule_domain::kernel::page::Page;
use joule_domain::ports::command::{ChargerCommand, CommandError, CommandReply, CommandRouter};
use joule_domain::ports::store::{ChargerStore, MessageLogStore, SessionStore};
use joule_domain::{ChargerId, TransactionId};
use serde_json::json;
use tungstenite::protocol::frame::coding::CloseCode;

const ACCEPTED: RegistrationStatus = RegistrationStatus::Accepted;

fn page() -> Page {
    Page {
        limit: 100,
        offset: 0,
    }
}

// ---- handshake ----

#[tokio::test]
async fn handshake_refuses_clients_without_ocpp16() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    assert_eq!(
        app.connect_with(&app.url("CP1"), None, None).await.err(),
        Some(400)
    );
    assert_eq!(
        app.connect_with(&app.url("CP1"), Some("ocpp2.0.1"), None)
            .await
            .err(),
        Some(400)
    );
    // Offering several, one of which is ours, works.
    let url = app.url("CP1");
    assert!(app
        .connect_with(&url, Some("ocpp2.0.1, ocpp1.6"), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn handshake_checks_path_and_identity() {
    let app = spawn(|_| {}).await;
    let other = format!("ws://{}/elsewhere/CP1", app.addr);
    assert_eq!(
        app.connect_with(&other, Some("ocpp1.6"), None).await.err(),
        Some(404)
    );
    let bad = format!("ws://{}/ocpp/a%3Ab", app.addr);
    assert_eq!(
        app.connect_with(&bad, Some("ocpp1.6"), None).await.err(),
        Some(400)
    );
}

#[tokio::test]
async fn security_profile_1_basic_auth() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, Some("correct horse battery"))
        .await;
    let url = app.url("CP1");
    assert_eq!(
        app.connect_with(&url, Some("ocpp1.6"), None).await.err(),
        Some(401)
    );
    assert_eq!(
        app.connect_with(&url, Some("ocpp1.6"), Some(("CP1", "wrong")))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        app.connect_with(
            &url,
            Some("ocpp1.6"),
            Some(("CP2", "correct horse battery"))
        )
        .await
        .err(),
        Some(401)
    );
    for _ in 0..2 {
        // The second time is served from the verification cache.
        let mut cp = app
            .connect_with(
                &url,
                Some("ocpp1.6"),
                Some(("CP1", "correct horse battery")),
            )
            .await
            .unwrap();
        cp.alive().await;
    }
}

#[tokio::test]
async fn unknown_charger_is_refused_by_default() {
    let app = spawn(|_| {}).await;
    assert_eq!(
        app.connect_with(&app.url("NOPE"), Some("ocpp1.6"), None)
            .await
            .err(),
        Some(404)
    );
    assert!(app
        .store()
        .get_charger(&cid("NOPE"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn unknown_charger_is_auto_registered_pending() {
    let app = spawn(|s| s.unknown_chargers = UnknownChargerPolicy::AutoRegisterPending).await;
    let mut cp = app.connect("NEW1").await;
    let boot = cp.boot().await;
    assert_eq!(boot["status"], "Pending");
    let charger = app
        .store()
        .get_charger(&cid("NEW1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charger.registration, RegistrationStatus::Pending);
    assert!(charger.connection.connected);
    // B02: nothing but a boot is served while pending.
    assert_eq!(
        error_code(&cp.call("Heartbeat", json!({})).await),
        "SecurityError"
    );
}

// ---- boot ----

#[tokio::test]
async fn boot_answers_by_registration() {
    let app = spawn(|_| {}).await;
    app.add_charger("A", RegistrationStatus::Accepted, None)
        .await;
    app.add_charger("P", RegistrationStatus::Pending, None)
        .await;
    app.add_charger("R", RegistrationStatus::Rejected, None)
        .await;
    for (id, status, interval) in [
        ("A", "Accepted", 300),
        ("P", "Pending", 60),
        ("R", "Rejected", 60),
    ] {
        let mut cp = app.connect(id).await;
        let boot = cp.boot().await;
        assert_eq!(boot["status"], status, "{id}");
        assert_eq!(boot["interval"], interval, "{id}");
        assert!(boot["currentTime"].is_string());
    }
    let booted = app.store().get_charger(&cid("A")).await.unwrap().unwrap();
    assert_eq!(booted.boot.unwrap().vendor, "Joule");
}

#[tokio::test]
async fn calls_before_acceptance_get_security_error() {
    let app = spawn(|_| {}).await;
    app.add_charger("P", RegistrationStatus::Pending, None)
        .await;
    let mut cp = app.connect("P").await;
    let answer = cp
        .call(
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        )
        .await;
    assert_eq!(error_code(&answer), "SecurityError");
    assert_eq!(cp.boot().await["status"], "Pending");
    assert_eq!(
        error_code(&cp.call("Heartbeat", json!({})).await),
        "SecurityError"
    );
    // Accepted by an operator: the next boot is accepted and calls are served.
    app.store()
        .update_charger(
            &cid("P"),
            joule_domain::charging::charger::ChargerPatch {
                registration: Some(ACCEPTED),
                ..Default::default()
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(cp.boot().await["status"], "Accepted");
    cp.alive().await;
}

#[tokio::test]
async fn stored_accepted_charger_may_skip_boot() {
    let app = spawn(|_| {}).await;
    app.add_charger("A", ACCEPTED, None).await;
    let mut cp = app.connect("A").await;
    cp.alive().await;
}

// ---- charger messages ----

#[tokio::test]
async fn every_charger_message_is_handled_and_stored() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    app.add_token("GOOD").await;
    let mut cp = app.connect("CP1").await;
    cp.boot().await;
    cp.alive().await;

    cp.ok(
        "StatusNotification",
        json!({"connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": "2026-01-01T10:00:00Z"}),
    )
    .await;
    cp.ok(
        "StatusNotification",
        json!({"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted", "vendorErrorCode": "E42"}),
    )
    .await;

    let auth = cp.ok("Authorize", json!({"idTag": "GOOD"})).await;
    assert_eq!(auth["idTagInfo"]["status"], "Accepted");
    let auth = cp.ok("Authorize", json!({"idTag": "UNKNOWN"})).await;
    assert_eq!(auth["idTagInfo"]["status"], "Invalid");

    let start = cp
        .ok(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "GOOD", "meterStart": 1000, "timestamp": "2026-01-01T10:00:05Z"}),
        )
        .await;
    assert_eq!(start["idTagInfo"]["status"], "Accepted");
    let tx = start["transactionId"].as_i64().unwrap();

    cp.ok(
        "MeterValues",
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-01-01T10:05:00Z", "sampledValue": [
            {"value": "2.5", "unit": "kWh", "measurand": "Energy.Active.Import.Register", "context": "Sample.Periodic"},
            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "16.1", "measurand": "Current.Import", "unit": "A", "phase": "L1"}
        ]}]}),
    )
    .await;

    let stop = cp
        .ok(
            "StopTransaction",
            json!({"transactionId": tx, "idTag": "GOOD", "meterStop": 4000, "timestamp": "2026-01-01T11:00:00Z", "reason": "EVDisconnected",
                   "transactionData": [{"timestamp": "2026-01-01T11:00:00Z", "sampledValue": [{"value": "4000"}]}]}),
        )
        .await;
    assert_eq!(stop["idTagInfo"]["status"], "Accepted");
    // Unknown transaction: still answered.
    let stop = cp
        .ok(
            "StopTransaction",
            json!({"transactionId": 999999, "meterStop": 1, "timestamp": "2026-01-01T11:00:00Z"}),
        )
        .await;
    assert_eq!(stop, json!({}));

    cp.ok(
        "FirmwareStatusNotification",
        json!({"status": "Downloading"}),
    )
    .await;
    cp.ok(
        "DiagnosticsStatusNotification",
        json!({"status": "Uploaded"}),
    )
    .await;
    let dt = cp
        .ok(
            "DataTransfer",
            json!({"vendorId": "acme", "messageId": "x"}),
        )
        .await;
    assert_eq!(dt["status"], "UnknownVendorId");

    // Stored, as the ports report it.
    let store = app.store();
    let states = store.connector_states(&cid("CP1")).await.unwrap();
    let c2 = states.iter().find(|s| s.connector_id.get() == 2).unwrap();
    assert_eq!(c2.status, ConnectorStatus::Faulted);
    assert_eq!(c2.error_code.as_deref(), Some("GroundFailure"));
    assert_eq!(c2.vendor_error_code.as_deref(), Some("E42"));
    let c1 = states.iter().find(|s| s.connector_id.get() == 1).unwrap();
    assert_eq!(c1.error_code, None);

    let session = store
        .get_session_by_transaction(TransactionId::new(tx).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.state, SessionState::Ended);
    assert_eq!(session.meter_stop_wh, Some(4000));
    assert_eq!(session.stop_reason.as_deref(), Some("EVDisconnected"));
    assert_eq!(session.peak_power_w, Some(7400));
    let values = store.session_meter_values(session.id).await.unwrap();
    assert_eq!(values.len(), 4, "{values:?}");
    let current = values
        .iter()
        .find(|v| v.value.measurand.as_deref() == Some("Current.Import"))
        .unwrap();
    assert_eq!(current.value.value, "16.1");
    assert_eq!(current.value.phase.as_deref(), Some("L1"));
    let energy = values
        .iter()
        .find(|v| v.value.unit.as_deref() == Some("kWh"))
        .unwrap();
    assert_eq!(energy.value.context.as_deref(), Some("Sample.Periodic"));

    let charger = store.get_charger(&cid("CP1")).await.unwrap().unwrap();
    assert_eq!(charger.firmware_status.as_deref(), Some("Downloading"));
    assert_eq!(charger.diagnostics_status.as_deref(), Some("Uploaded"));
    assert!(charger.last_heartbeat_at.is_some());
    assert!(charger.connection.connected);
    assert_eq!(charger.connection.protocol.as_deref(), Some("ocpp1.6"));

    // Message log: frames in and out, responses carry the CALL's action,
    // refusals carry the reason.
    app.db.flush().await.unwrap();
    let log = store
        .query_log(
            &cid("CP1"),
            LogFilter {
                action: Some("Authorize".into()),
                ..Default::default()
            },
            page(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(log.len(), 4, "{log:?}");
    assert!(log
        .iter()
        .any(|e| e.entry.direction == Direction::In && e.entry.kind == FrameKind::Call));
    let refused = log
        .iter()
        .find(|e| e.entry.direction == Direction::Out && e.entry.frame.contains("Invalid"))
        .unwrap();
    assert_eq!(refused.entry.kind, FrameKind::CallResult);
    assert!(
        refused
            .entry
            .note
            .as_deref()
            .unwrap()
            .contains("unknown_token"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn duplicate_start_transaction_gets_the_same_transaction_id() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    let start = json!({"connectorId": 1, "idTag": "ANY", "meterStart": 5, "timestamp": "2026-02-01T08:00:00Z"});
    let first = cp.ok("StartTransaction", start.clone()).await;
    let second = cp.ok("StartTransaction", start).await;
    assert_eq!(first["transactionId"], second["transactionId"]);
    assert_eq!(first["idTagInfo"]["status"], "Invalid");
    assert_eq!(second["idTagInfo"], first["idTagInfo"]);
    let sessions = app
        .store()
        .list_sessions(Default::default(), page())
        .await
        .unwrap()
        .items;
    assert_eq!(sessions.len(), 1);
}

struct Acme;

#[async_trait::async_trait]
impl DataTransferHandler for Acme {
    fn vendor_id(&self) -> &str {
        "com.acme"
    }
    async fn handle(
        &self,
        _: &ChargerId,
        message_id: Option<&str>,
        data: Option<&str>,
    ) -> DataTransferReply {
        match message_id {
            Some("echo") => DataTransferReply::Accepted(data.map(str::to_owned)),
            _ => DataTransferReply::UnknownMessageId,
        }
    }
}

#[tokio::test]
async fn data_transfer_is_routed_to_vendor_handlers() {
    let app = spawn(|_| {}).await;
    app.csms.register_data_transfer(Arc::new(Acme));
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    let r = cp
        .ok(
            "DataTransfer",
            json!({"vendorId": "COM.ACME", "messageId": "echo", "data": "hi"}),
        )
        .await;
    assert_eq!(r, json!({"status": "Accepted", "data": "hi"}));
    let r = cp
        .ok(
            "DataTransfer",
            json!({"vendorId": "com.acme", "messageId": "nope"}),
        )
        .await;
    assert_eq!(r["status"], "UnknownMessageId");
}

// ---- bad input ----

#[tokio::test]
async fn bad_frames_get_the_right_callerror_and_the_connection_survives() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    let cases: &[(&str, &str, &str)] = &[
        ("not json", "-1", "FormationViolation"),
        (r#"{"a": 1}"#, "-1", "FormationViolation"),
        (
            r#"[2, "w1", "StatusNotification", {"connectorId": "one", "errorCode": "NoError", "status": "Available"}]"#,
            "w1",
            "TypeConstraintViolation",
        ),
        (
            r#"[2, "w2", "Authorize", {}]"#,
            "w2",
            "OccurenceConstraintViolation",
        ),
        (
            r#"[2, "w3", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}]"#,
            "w3",
            "PropertyConstraintViolation",
        ),
        (r#"[2, "w4", "FlyToTheMoon", {}]"#, "w4", "NotImplemented"),
        (
            r#"[2, "w5", "Reset", {"type": "Hard"}]"#,
            "w5",
            "NotSupported",
        ),
        (r#"[2, "w6", "Heartbeat", []]"#, "w6", "FormationViolation"),
        (r#"[7, "w7", {}]"#, "w7", "ProtocolError"),
        (
            r#"[2, "w8", "StartTransaction", {"connectorId": 5000, "idTag": "X", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}]"#,
            "w8",
            "PropertyConstraintViolation",
        ),
    ];
    for (frame, id, code) in cases {
        cp.send_text(frame).await;
        let answer = cp.recv().await;
        assert_eq!(answer[1], json!(id), "{frame}: {answer}");
        assert_eq!(error_code(&answer), *code, "{frame}: {answer}");
        cp.alive().await;
    }
    // Binary frames are refused with id -1.
    cp.ws
        .send(tungstenite::Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .unwrap();
    let answer = cp.recv().await;
    assert_eq!(
        (answer[1].as_str(), error_code(&answer)),
        (Some("-1"), "FormationViolation")
    );
    // A response matching nothing is ignored (no answer): the next answer is
    // the Heartbeat's.
    cp.send_text(r#"[3, "nobody-asked", {}]"#).await;
    cp.send_text(r#"[4, "nobody-asked", "GenericError", "x", {}]"#)
        .await;
    cp.alive().await;

    app.db.flush().await.unwrap();
    let log = app
        .store()
        .query_log(&cid("CP1"), LogFilter::default(), page())
        .await
        .unwrap()
        .items;
    assert!(log
        .iter()
        .any(|e| e.entry.kind == FrameKind::Invalid && e.entry.frame == "not json"));
    assert!(log
        .iter()
        .any(|e| e.entry.note.as_deref() == Some("matches no outstanding call; ignored")));
}

use futures_util::SinkExt as _;

#[tokio::test]
async fn oversized_frames_close_the_connection_with_1009() {
    let app = spawn(|s| s.max_frame_bytes = 1024).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    let big = format!(
        r#"[2,"big","DataTransfer",{{"vendorId":"x","data":"{}"}}]"#,
        "a".repeat(2000)
    );
    cp.send_text(&big).await;
    assert_eq!(cp.expect_close().await, Some(CloseCode::Size));
}

// ---- connections ----

#[tokio::test]
async fn reconnect_replaces_the_old_connection() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut old = app.connect("CP1").await;
    old.alive().await;
    let mut new = app.connect("CP1").await;
    assert_eq!(old.expect_close().await, Some(CloseCode::Normal));
    drop(old);
    app.wait_for_tasks(1).await;
    new.alive().await;
    assert!(app.csms.is_connected(&cid("CP1")));
    app.db.flush().await.unwrap();
    let charger = app.store().get_charger(&cid("CP1")).await.unwrap().unwrap();
    assert!(
        charger.connection.connected,
        "the old connection must not mark the charger offline"
    );
}

#[tokio::test]
async fn closing_marks_the_charger_offline() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    cp.ws.close(None).await.unwrap();
    drop(cp);
    app.wait_for_tasks(0).await;
    assert!(!app.csms.is_connected(&cid("CP1")));
    let charger = app.store().get_charger(&cid("CP1")).await.unwrap().unwrap();
    assert!(!charger.connection.connected);
}

#[tokio::test]
async fn shutdown_sends_going_away() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    app.csms.shutdown();
    assert_eq!(cp.expect_close().await, Some(CloseCode::Away));
    drop(cp);
    app.server.await.unwrap();
}

// ---- commands ----

/// The operator passthrough: an action and its 1.6 payload.
fn command(action: &str, payload: serde_json::Value) -> ChargerCommand {
    ChargerCommand::Raw {
        action: action.to_owned(),
        payload,
    }
}

/// Sends `command` to CP1 from a task, so the test can answer as the
/// charger meanwhile.
fn send_to_cp1(
    app: &harness::App,
    command: ChargerCommand,
) -> tokio::task::JoinHandle<Result<CommandReply, CommandError>> {
    let csms = app.csms.clone();
    tokio::spawn(async move { csms.send(&cid("CP1"), command).await })
}

#[tokio::test]
async fn command_round_trip() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    let sent = send_to_cp1(&app, command("ClearCache", json!({})));
    let call = cp.recv().await;
    assert_eq!(call[0], 2);
    assert_eq!(call[2], "ClearCache");
    cp.send_text(&json!([3, call[1], {"status": "Accepted"}]).to_string())
        .await;
    assert_eq!(
        sent.await.unwrap(),
        Ok(CommandReply::Data(json!({"status": "Accepted"})))
    );

    // CALLERROR from the charger.
    let csms = app.csms.clone();
    let sent = tokio::spawn(async move {
        csms.send(&cid("CP1"), command("Reset", json!({"type": "Soft"})))
            .await
    });
    let call = cp.recv().await;
    cp.send_text(&json!([4, call[1], "NotSupported", "no", {}]).to_string())
        .await;
    assert!(
        matches!(sent.await.unwrap(), Err(CommandError::CallError { code, .. }) if code == "NotSupported")
    );

    // Invalid response payload.
    let sent = send_to_cp1(&app, command("ClearCache", json!({})));
    let call = cp.recv().await;
    cp.send_text(&json!([3, call[1], {"status": "Maybe"}]).to_string())
        .await;
    assert!(matches!(
        sent.await.unwrap(),
        Err(CommandError::InvalidResponse(_))
    ));

    // The charger's own calls still work in between.
    cp.alive().await;
    app.db.flush().await.unwrap();
    let log = app
        .store()
        .query_log(
            &cid("CP1"),
            LogFilter {
                action: Some("ClearCache".into()),
                ..Default::default()
            },
            page(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(log.len(), 4, "{log:?}");
}

/// Typed commands become their 1.6 calls, and the charger's status the
/// domain's reply.
#[tokio::test]
async fn typed_commands_are_encoded_and_answered() {
    use joule_domain::kernel::ids::{ConnectorId, IdToken};
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    let start = ChargerCommand::StartCharging {
        connector: ConnectorId::new(2).unwrap(),
        id_tag: IdToken::parse("PAY1").unwrap(),
        token_type: joule_domain::charging::token::IdTokenType::Central,
    };
    let sent = send_to_cp1(&app, start);
    let call = cp.recv().await;
    assert_eq!(call[2], "RemoteStartTransaction");
    assert_eq!(call[3], json!({"connectorId": 2, "idTag": "PAY1"}));
    cp.send_text(&json!([3, call[1], {"status": "Accepted"}]).to_string())
        .await;
    assert_eq!(sent.await.unwrap(), Ok(CommandReply::Accepted));

    let stop = ChargerCommand::StopCharging {
        transaction: TransactionId::new(7).unwrap(),
    };
    let sent = send_to_cp1(&app, stop);
    let call = cp.recv().await;
    assert_eq!(call[2], "RemoteStopTransaction");
    assert_eq!(call[3], json!({"transactionId": 7}));
    cp.send_text(&json!([3, call[1], {"status": "Rejected"}]).to_string())
        .await;
    assert_eq!(sent.await.unwrap(), Ok(CommandReply::Rejected));
}

#[tokio::test]
async fn command_payload_is_validated() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let _cp = app.connect("CP1").await;
    let r = app
        .csms
        .send(&cid("CP1"), command("Reset", json!({"type": "Sideways"})))
        .await;
    assert!(matches!(r, Err(CommandError::InvalidPayload(_))), "{r:?}");
}

/// A 1.6 `idTag` holds 20 characters: a longer token is refused with a
/// typed error and nothing reaches the charger (the next thing it receives
/// is the command sent after).
#[tokio::test]
async fn a_token_too_long_for_16_is_not_sent() {
    use joule_domain::kernel::ids::{ConnectorId, IdToken};
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    let emaid = IdToken::parse(&"E".repeat(36)).unwrap();
    let typed = ChargerCommand::StartCharging {
        connector: ConnectorId::new(1).unwrap(),
        id_tag: emaid.clone(),
        token_type: joule_domain::charging::token::IdTokenType::EMaid,
    };
    let raw = command(
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": emaid.as_str()}),
    );
    for refused in [typed, raw] {
        let r = app.csms.send(&cid("CP1"), refused).await;
        assert_eq!(
            r,
            Err(CommandError::TokenTooLong {
                protocol: "OCPP 1.6",
                max: 20
            })
        );
    }
    let sent = send_to_cp1(&app, command("ClearCache", json!({})));
    let call = cp.recv().await;
    assert_eq!(call[2], "ClearCache");
    cp.send_text(&json!([3, call[1], {"status": "Accepted"}]).to_string())
        .await;
    assert!(sent.await.unwrap().is_ok());
}

#[tokio::test]
async fn command_to_offline_charger() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let r = app
        .csms
        .send(&cid("CP1"), command("ClearCache", json!({})))
        .await;
    assert_eq!(r, Err(CommandError::Offline(cid("CP1"))));
    assert!(!app.csms.is_connected(&cid("CP1")));
}

#[tokio::test]
async fn unanswered_command_times_out() {
    let app = spawn(|s| s.call_timeout = Duration::from_millis(200)).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    let sent = send_to_cp1(&app, command("ClearCache", json!({})));
    let call = cp.recv().await;
    assert_eq!(call[2], "ClearCache");
    assert_eq!(sent.await.unwrap(), Err(CommandError::Timeout(cid("CP1"))));
    // A late answer is ignored; the connection goes on.
    cp.send_text(&json!([3, call[1], {"status": "Accepted"}]).to_string())
        .await;
    cp.alive().await;
}

#[tokio::test]
async fn queued_commands_are_sent_one_at_a_time() {
    let app = spawn(|_| {}).await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    let mut sent = Vec::new();
    for _ in 0..3 {
        let csms = app.csms.clone();
        sent.push(tokio::spawn(async move {
            csms.send(&cid("CP1"), command("ClearCache", json!({})))
                .await
        }));
    }
    for _ in 0..3 {
        let call = cp.recv().await;
        cp.send_text(&json!([3, call[1], {"status": "Accepted"}]).to_string())
            .await;
    }
    for s in sent {
        assert_eq!(
            s.await.unwrap(),
            Ok(CommandReply::Data(json!({"status": "Accepted"})))
        );
    }
}

#[tokio::test]
async fn flooding_charger_is_throttled_then_refused() {
    // 2 frames/s, burst 1: the first frame is served at once, the second
    // waits for its token, the ones after it (still paced) are refused.
    let app = spawn(|s| {
        s.rate_limit_per_s = 2;
        s.rate_burst = 1;
    })
    .await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    for i in 0..4 {
        cp.send_text(&json!([2, format!("f{i}"), "Heartbeat", {}]).to_string())
            .await;
    }
    let mut answers = Vec::new();
    for i in 0..4 {
        let answer = cp.recv().await;
        assert_eq!(answer[1], json!(format!("f{i}")));
        answers.push(answer);
    }
    assert_eq!(answers[0][0], 3);
    assert_eq!(answers[3][0], 4, "{answers:?}");
    assert_eq!(answers[3][2], "GenericError");
    assert_eq!(answers[3][3], "rate limit exceeded");
}

#[tokio::test]
async fn silent_charger_is_pinged_then_dropped_and_marked_offline() {
    // Short keep-alive settings are configuration, not timing assertions:
    // the test only waits for the outcome.
    let app = spawn(|s| {
        s.ping_interval = Duration::from_millis(50);
        s.pong_timeout = Duration::from_millis(50);
    })
    .await;
    app.add_charger("CP1", ACCEPTED, None).await;
    let mut cp = app.connect("CP1").await;
    cp.alive().await;
    // The client stops reading, so it never answers the ping.
    app.wait_for_tasks(0).await;
    assert!(!app.csms.is_connected(&cid("CP1")));
    let charger = app.store().get_charger(&cid("CP1")).await.unwrap().unwrap();
    assert!(!charger.connection.connected);
    drop(cp);
}
