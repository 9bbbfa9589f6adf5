//! The payment service on the real SQLite store and the real simulated
//! gateway: the exactly-once rules that need a gateway failure to show
//! (time-out after applying, outage), and the charging service's handling
//! of a payment's id tag. The charger is a scripted command router (it
//! answers RemoteStartTransaction); real chargers are in
//! tests/interop/test_web_payments.py.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use joule_domain::charging::auth::AuthorizationStatus;
use joule_domain::charging::charger::{ConnectorStatus, StatusReport};
use joule_domain::kernel::ids::{ConnectorId, TransactionId};
use joule_domain::kernel::language::Language;
use joule_domain::payments::gateway::{IntentRef, IntentStatus, PaymentGateway};
use joule_domain::payments::payment::{PaymentState, StepKind, StepStatus};
use joule_domain::ports::clock::Clock;
use joule_domain::ports::consumer::Pacer;
use joule_domain::ports::mailer::{MailError, ReceiptMailer};
use joule_domain::receipts::email::{EmailAddress, ReceiptEmailState};
use joule_domain::receipts::receipt::{OperatorInfo, Receipt};
use joule_domain::services::charging::{StartRequest, StopRequest};
use joule_domain::services::outbox_runner::{CursorHome, OutboxRunner, RunnerSettings};
use joule_domain::services::payments::PaymentsConsumer;
use joule_domain::services::payments::{PaymentError, WebState};
use joule_domain::services::receipt_sender::{ReceiptEmailPorts, ReceiptEmails, SenderSettings};
use joule_payments::simulated::Fault;

use joule_domain::pricing::TariffExtensions;
use test_support::{ScriptedCharger, World, WorldBuilder};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

async fn world(answer: &'static str) -> World {
    WorldBuilder::new("CP-PAY", t0())
        .tariff(
            "T1",
            TariffExtensions {
                hold_amount_minor: Some(3000),
                ..Default::default()
            },
        )
        .charger(ScriptedCharger::answering(answer))
        .build()
        .await
}

fn conn(n: u32) -> ConnectorId {
    ConnectorId::new(n).unwrap()
}

#[tokio::test]
async fn a_capture_that_times_out_after_applying_is_recorded_once_by_recovery() {
    let w = world("Accepted").await;
    let created = w
        .payments
        .create_web_payment(&w.cp, conn(1), Some("de"))
        .await
        .unwrap();
    assert_eq!(created.hold_minor, 3000);
    let token = created.payment.receipt_token.clone();
    w.payments
        .enter_test_card(&token, "sim_visa")
        .await
        .unwrap();
    let status = w.payments.confirm(&token).await.unwrap();
    assert_eq!(status.state, WebState::Starting);
    let tag = w.charger.id_tag();

    // The tag is accepted only on the payment's own connector.
    let (other, decision) = w
        .charging
        .start_transaction(
            &w.cp,
            StartRequest {
                connector_id: conn(2),
                id_tag: tag.clone(),
                meter_start_wh: 0,
                timestamp: t0(),
                reservation_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(decision.status, AuthorizationStatus::Invalid);
    assert!(w
        .store
        .payment_for_session(other.session.id)
        .await
        .unwrap()
        .is_none());

    assert!(w
        .charging
        .authorize(&w.cp, &tag)
        .await
        .unwrap()
        .is_accepted());
    let (start, decision) = w
        .charging
        .start_transaction(
            &w.cp,
            StartRequest {
                connector_id: conn(1),
                id_tag: tag.clone(),
                meter_start_wh: 1000,
                timestamp: t0(),
                reservation_id: None,
            },
        )
        .await
        .unwrap();
    assert!(decision.is_accepted());
    let linked = w
        .store
        .payment_for_session(start.session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.id, created.payment.id);
    assert_eq!(
        w.payments.status(&token).await.unwrap().state,
        WebState::Charging
    );
    // Once linked, the tag starts nothing else.
    assert!(!w
        .charging
        .authorize(&w.cp, &tag)
        .await
        .unwrap()
        .is_accepted());

    w.clock.advance(chrono::Duration::minutes(30));
    w.charging
        .stop_transaction(
            &w.cp,
            StopRequest {
                transaction_id: TransactionId::new(start.session.transaction_id.get()).unwrap(),
                id_tag: Some(tag),
                meter_stop_wh: 11_000,
                timestamp: t0() + chrono::Duration::minutes(30),
                reason: None,
                transaction_data: vec![],
            },
        )
        .await
        .unwrap();

    // The gateway captures, then the answer is lost.
    w.gateway.inject_fault(Fault::TimeoutAfterApplying);
    let settled = w.payments.settle_session(start.session.id).await;
    assert!(
        matches!(settled, Err(PaymentError::GatewayUnavailable(_))),
        "{settled:?}"
    );
    let detail = w.store.get_payment(linked.id).await.unwrap().unwrap();
    assert_eq!(detail.payment.state, PaymentState::Authorized);
    assert_eq!(detail.steps.last().unwrap().status, StepStatus::Intended);
    assert_eq!(
        w.payments.status(&token).await.unwrap().state,
        WebState::Finished
    );

    // Too early for recovery: the request might still be waiting.
    assert_eq!(w.payments.recover().await.unwrap().finished, 0);
    w.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(w.payments.recover().await.unwrap().finished, 1);
    let detail = w.store.get_payment(linked.id).await.unwrap().unwrap();
    assert_eq!(detail.payment.state, PaymentState::Captured);
    assert_eq!(detail.payment.captured_minor, 300);
    let captures: Vec<_> = detail
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::Capture)
        .collect();
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0].status, StepStatus::Succeeded);
    let intent = IntentRef::parse(detail.payment.gateway_payment_ref.clone().unwrap()).unwrap();
    let at_gateway = w.gateway.read_intent(&intent).await.unwrap();
    assert!(
        matches!(at_gateway.status, IntentStatus::Succeeded { .. }),
        "{at_gateway:?}"
    );
    // A second pass and the sweeper find nothing more to do.
    assert_eq!(w.payments.recover().await.unwrap().finished, 0);
    assert_eq!(w.payments.sweep().await.unwrap().finished, 0);
    let status = w.payments.status(&token).await.unwrap();
    assert_eq!(status.state, WebState::Captured);
    assert!(status.receipt_url.unwrap().ends_with(token.as_str()));
    w.db.close().await.unwrap();
}

#[tokio::test]
async fn a_refused_remote_start_voids_the_hold_at_once() {
    let w = world("Rejected").await;
    let created = w
        .payments
        .create_web_payment(&w.cp, conn(1), None)
        .await
        .unwrap();
    let token = created.payment.receipt_token.clone();
    w.payments
        .enter_test_card(&token, "sim_visa")
        .await
        .unwrap();
    let status = w.payments.confirm(&token).await.unwrap();
    assert_eq!(status.state, WebState::Voided);
    assert!(status.message.unwrap().contains("released"));
    let detail = w
        .store
        .get_payment(created.payment.id)
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<_> = detail.steps.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, vec![StepKind::Authorize, StepKind::Void]);
    w.db.close().await.unwrap();
}

#[tokio::test]
async fn an_outage_while_voiding_is_finished_by_recovery_and_busy_connectors_refuse() {
    let w = world("Accepted").await;
    let created = w
        .payments
        .create_web_payment(&w.cp, conn(1), None)
        .await
        .unwrap();
    let token = created.payment.receipt_token.clone();
    w.payments
        .enter_test_card(&token, "sim_visa")
        .await
        .unwrap();
    w.payments.confirm(&token).await.unwrap();
    // No session within the start time-out; the gateway is down at first.
    w.clock.advance(chrono::Duration::minutes(3));
    w.gateway.inject_fault(Fault::Unavailable);
    let swept = w.payments.sweep().await.unwrap();
    assert_eq!((swept.finished, swept.failed), (0, 1));
    w.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(w.payments.recover().await.unwrap().finished, 1);
    let detail = w
        .store
        .get_payment(created.payment.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.payment.state, PaymentState::Voided);
    // A connector in use refuses a payment before any gateway call.
    w.store
        .record_status(
            &w.cp,
            StatusReport {
                connector_id: conn(1),
                status: ConnectorStatus::Charging,
                error_code: None,
                info: None,
                vendor_id: None,
                vendor_error_code: None,
                reported_at: Some(w.clock.now()),
                received_at: w.clock.now(),
            },
        )
        .await
        .unwrap();
    let busy = w.payments.create_web_payment(&w.cp, conn(1), None).await;
    assert!(
        matches!(busy, Err(PaymentError::ConnectorBusy { .. })),
        "{busy:?}"
    );
    w.db.close().await.unwrap();
}

/// The mail port as a test sees it: answers from a script (`Ok` once it is
/// used up) and records who got which receipt.
#[derive(Debug, Default)]
struct FakeMailer {
    answers: Mutex<Vec<Result<(), MailError>>>,
    sent: Mutex<Vec<(String, Language)>>,
}

#[async_trait]
impl ReceiptMailer for FakeMailer {
    async fn send(&self, receipt: &Receipt, to: &EmailAddress) -> Result<(), MailError> {
        self.sent
            .lock()
            .unwrap()
            .push((to.as_str().to_owned(), receipt.language));
        self.answers.lock().unwrap().pop().unwrap_or(Ok(()))
    }
}

/// One pass, then stop.
struct OnePass;

#[async_trait]
impl Pacer for OnePass {
    async fn pause(&self, _delay: std::time::Duration) -> bool {
        false
    }

    fn stopping(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn the_outbox_consumers_capture_a_session_and_email_its_receipt_once() {
    let w = world("Accepted").await;
    let created = w
        .payments
        .create_web_payment(&w.cp, conn(1), Some("de"))
        .await
        .unwrap();
    let token = created.payment.receipt_token.clone();
    let driver = EmailAddress::parse("driver@example.org").unwrap();
    w.store
        .set_receipt_email(created.payment.id, &driver, t0())
        .await
        .unwrap();
    w.payments
        .enter_test_card(&token, "sim_visa")
        .await
        .unwrap();
    w.payments.confirm(&token).await.unwrap();
    let tag = w.charger.id_tag();
    let (start, _) = w
        .charging
        .start_transaction(
            &w.cp,
            StartRequest {
                connector_id: conn(1),
                id_tag: tag.clone(),
                meter_start_wh: 1000,
                timestamp: t0(),
                reservation_id: None,
            },
        )
        .await
        .unwrap();
    w.clock.advance(chrono::Duration::minutes(30));
    w.charging
        .stop_transaction(
            &w.cp,
            StopRequest {
                transaction_id: TransactionId::new(start.session.transaction_id.get()).unwrap(),
                id_tag: Some(tag),
                meter_stop_wh: 11_000,
                timestamp: t0() + chrono::Duration::minutes(30),
                reason: None,
                transaction_data: vec![],
            },
        )
        .await
        .unwrap();

    let runner = OutboxRunner::new(
        w.store.clone(),
        CursorHome::Durable {
            cursors: w.store.clone(),
            clock: w.clock.clone(),
        },
        RunnerSettings {
            poll: std::time::Duration::from_millis(1),
            batch: 200,
            max_backoff: std::time::Duration::from_millis(1),
        },
    );
    // session.ended → the payments consumer captures the final cost.
    runner
        .run(&PaymentsConsumer::new(w.payments.clone()), &OnePass)
        .await;
    let detail = w
        .store
        .get_payment(created.payment.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.payment.state, PaymentState::Captured);
    assert_eq!(detail.payment.captured_minor, 300);

    // payment.captured → the email is due; the server asks to try later.
    let mailer = Arc::new(FakeMailer {
        answers: Mutex::new(vec![Err(MailError::Retry("421 busy".into()))]),
        ..FakeMailer::default()
    });
    let emails = ReceiptEmails {
        ports: ReceiptEmailPorts::from(w.store.clone()),
        mailer: mailer.clone(),
        operator: OperatorInfo {
            name: "Joule Charging GmbH".into(),
            ..OperatorInfo::default()
        },
        clock: w.clock.clone(),
        settings: SenderSettings {
            retry_initial: chrono::Duration::minutes(1),
            max_attempts: 3,
            stale_after: chrono::Duration::minutes(10),
        },
    };
    runner.run(&emails, &OnePass).await;
    let email = w
        .store
        .receipt_email(created.payment.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(email.state, ReceiptEmailState::Due);
    assert_eq!(email.last_error.as_deref(), Some("421 busy"));
    // Not before its retry time; then sent, in the driver's language.
    runner.run(&emails, &OnePass).await;
    assert_eq!(mailer.sent.lock().unwrap().len(), 1);
    w.clock.advance(chrono::Duration::minutes(1));
    runner.run(&emails, &OnePass).await;
    let email = w
        .store
        .receipt_email(created.payment.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(email.state, ReceiptEmailState::Sent);
    assert_eq!(email.address, None, "erased once sent");
    // Exactly once: later passes send nothing more.
    runner.run(&emails, &OnePass).await;
    assert_eq!(
        *mailer.sent.lock().unwrap(),
        vec![
            ("driver@example.org".to_owned(), Language::De),
            ("driver@example.org".to_owned(), Language::De),
        ]
    );
    w.db.close().await.unwrap();
}
