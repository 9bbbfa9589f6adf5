//! Issue 9: one owner at a time for each payment. Real requests and the
//! workers run at the same time on the same payment, on the real SQLite
//! store and the real simulated gateway; each race is made deterministic by
//! pausing one actor inside its gateway call (it holds the payment's claim
//! there) while the other acts. The charger behaves like a real one: a
//! second RemoteStartTransaction for a connector that already accepted one
//! is refused. Timing-driven versions of the same races run against real
//! chargers in tests/interop/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use joule_domain::charging::meter::{MeterReport, MeterSample, SampledValue};
use joule_domain::kernel::ids::{ConnectorId, IdToken, TransactionId};
use joule_domain::payments::gateway::{IntentRef, IntentStatus, PaymentGateway, WebhookPayload};
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_domain::ports::clock::Clock;
use joule_domain::ports::command::ChargerCommand;

use joule_domain::payments::payment::{PaymentId, PaymentState, StartStatus, StepKind, StepStatus};
use joule_domain::services::charging::{StartRequest, StopRequest};
use joule_domain::services::payments::{HoldCheck, WebState};

use test_support::{GatewayCall, PausingGateway, ScriptedCharger, WorldBuilder};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

fn conn(n: u32) -> ConnectorId {
    ConnectorId::new(n).unwrap()
}

/// The shared payment world around a charger like a real one (it accepts
/// one RemoteStartTransaction per connector and refuses any further one,
/// or it is offline) and a gateway that pauses inside a call, with this
/// file's steps as methods.
struct World(test_support::World<PausingGateway>);

impl std::ops::Deref for World {
    type Target = test_support::World<PausingGateway>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A world with a 0.30 EUR/kWh tariff, a 30.00 EUR hold, and `extensions`
/// added to the tariff's Joule extensions.
async fn world(extensions: serde_json::Value) -> World {
    let mut ext = serde_json::json!({ "hold_amount_minor": 3000 });
    ext.as_object_mut()
        .unwrap()
        .extend(extensions.as_object().unwrap().clone());
    World(
        WorldBuilder::new("CP-RACE", t0())
            .tariff("T1", serde_json::from_value(ext).unwrap())
            .charger(ScriptedCharger::realistic())
            .hold_limits()
            .build_with_gateway(|sim| Arc::new(PausingGateway::new(sim)))
            .await,
    )
}

impl World {
    /// A web payment whose card the driver entered (not yet confirmed).
    async fn card_entered(&self) -> (PaymentId, joule_domain::payments::payment::ReceiptToken) {
        let created = self
            .payments
            .create_web_payment(&self.cp, conn(1), None)
            .await
            .unwrap();
        let token = created.payment.receipt_token.clone();
        self.payments
            .enter_test_card(&token, "sim_visa")
            .await
            .unwrap();
        (created.payment.id, token)
    }

    async fn start(&self, tag: &IdToken, at: DateTime<Utc>) -> (TransactionId, bool) {
        let (outcome, decision) = self
            .charging
            .start_transaction(
                &self.cp,
                StartRequest {
                    connector_id: conn(1),
                    id_tag: tag.clone(),
                    meter_start_wh: 1000,
                    timestamp: at,
                    reservation_id: None,
                },
            )
            .await
            .unwrap();
        (
            TransactionId::new(outcome.session.transaction_id.get()).unwrap(),
            decision.is_accepted(),
        )
    }

    async fn stop(&self, tx: TransactionId, wh: i64, at: DateTime<Utc>) {
        self.charging
            .stop_transaction(
                &self.cp,
                StopRequest {
                    transaction_id: tx,
                    id_tag: None,
                    meter_stop_wh: wh,
                    timestamp: at,
                    reason: None,
                    transaction_data: vec![],
                },
            )
            .await
            .unwrap();
    }

    async fn steps(&self, id: PaymentId) -> Vec<(StepKind, StepStatus)> {
        self.store
            .get_payment(id)
            .await
            .unwrap()
            .unwrap()
            .steps
            .into_iter()
            .map(|s| (s.kind, s.status))
            .collect()
    }

    async fn session_of(&self, id: PaymentId) -> joule_domain::kernel::ids::SessionId {
        self.store
            .get_payment(id)
            .await
            .unwrap()
            .unwrap()
            .payment
            .session_id
            .unwrap()
    }

    async fn state(&self, id: PaymentId) -> PaymentState {
        self.store
            .get_payment(id)
            .await
            .unwrap()
            .unwrap()
            .payment
            .state
    }

    /// Notes the start a previous process sent with the payment's tag (so
    /// the test can read the tag back).
    async fn sent_start_tag(&self, id: PaymentId) {
        let tag = self
            .store
            .get_payment(id)
            .await
            .unwrap()
            .unwrap()
            .payment
            .id_tag
            .unwrap();
        self.charger.record(ChargerCommand::StartCharging {
            connector: conn(1),
            id_tag: tag,
            token_type: joule_domain::charging::token::IdTokenType::Central,
        });
    }

    /// The charger reports the register at `wh`, at `at`.
    async fn meter(&self, tx: TransactionId, wh: i64, at: DateTime<Utc>) {
        self.clock.set(at);
        self.charging
            .meter_values(
                &self.cp,
                MeterReport {
                    connector_id: conn(1),
                    transaction_id: Some(tx),
                    samples: vec![MeterSample {
                        timestamp: at,
                        values: vec![SampledValue {
                            value: wh.to_string(),
                            context: None,
                            format: None,
                            measurand: None,
                            phase: None,
                            location: None,
                            unit: None,
                        }],
                    }],
                    received_at: at,
                },
            )
            .await
            .unwrap();
    }

    fn starts(&self) -> usize {
        self.charger.starts().len()
    }

    /// Charges 10 kWh and ends the session; the final cost is 3.00 EUR.
    async fn charge_and_stop(&self, id: PaymentId) {
        let tag = self.charger.id_tag();
        let (tx, accepted) = self.start(&tag, t0()).await;
        assert!(accepted);
        self.stop(tx, 11_000, t0() + Duration::minutes(30)).await;
        let session = self.session_of(id).await;
        self.payments.settle_session(session).await.unwrap();
    }

    /// Exactly one capture of 3.00 EUR, at Joule and at the gateway.
    async fn captured_once(&self, id: PaymentId) {
        let detail = self.store.get_payment(id).await.unwrap().unwrap();
        assert_eq!(detail.payment.state, PaymentState::Captured, "{detail:?}");
        assert_eq!(detail.payment.captured_minor, 300);
        let captures = detail
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::Capture)
            .count();
        assert_eq!(captures, 1);
        assert!(!detail.steps.iter().any(|s| s.kind == StepKind::Void));
        assert_eq!(self.gateway.count("capture"), 1);
        assert_eq!(self.gateway.count("cancel"), 0);
        let intent = IntentRef::parse(detail.payment.gateway_payment_ref.unwrap()).unwrap();
        assert!(matches!(
            self.sim.read_intent(&intent).await.unwrap().status,
            IntentStatus::Succeeded { .. }
        ));
    }
}

/// The race of the issue, recovery first: the driver took longer than
/// `recovery_after` to enter the card; recovery reads the intent (and holds
/// the payment) exactly when the driver confirms. The confirm leaves the
/// payment to recovery; one start, no void, one capture.
#[tokio::test]
async fn confirm_while_recovery_holds_the_payment_starts_once_and_captures_once() {
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    w.clock.advance(Duration::seconds(61));
    // Recovery looks at the intent first without the claim (the card is
    // confirmed, so it acts), then reads it again under the claim: held there.
    w.gateway.pause_after(GatewayCall::ReadIntent, 1);
    let recovery = {
        let payments = w.payments.clone();
        tokio::spawn(async move { payments.recover().await })
    };
    w.gateway.entered.notified().await;
    // Recovery is inside its gateway read, holding the payment.
    let status = w.payments.confirm(&token).await.unwrap();
    assert_eq!(status.state, WebState::AwaitingCard);
    assert_eq!(w.starts(), 0);
    w.gateway.release.notify_one();
    assert_eq!(recovery.await.unwrap().unwrap().finished, 1);
    assert_eq!(w.starts(), 1);
    // The driver's page asks again: the status, nothing more.
    assert_eq!(
        w.payments.confirm(&token).await.unwrap().state,
        WebState::Starting
    );
    assert_eq!(w.starts(), 1);
    w.charge_and_stop(id).await;
    w.captured_once(id).await;
    w.0.db.close().await.unwrap();
}

/// The same race, confirm first: recovery's pass finds the payment held
/// and leaves it; the confirm starts the charger once.
#[tokio::test]
async fn recovery_while_confirm_holds_the_payment_leaves_it_alone() {
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    w.clock.advance(Duration::seconds(61));
    w.gateway.pause_next(GatewayCall::ReadIntent);
    let confirm = {
        let payments = w.payments.clone();
        let token = token.clone();
        tokio::spawn(async move { payments.confirm(&token).await })
    };
    w.gateway.entered.notified().await;
    assert_eq!(w.payments.recover().await.unwrap().finished, 0);
    // A webhook about the same intent, mid-confirm, is a nudge only.
    for event in w.sim.take_events() {
        let signed = w.sim.signed_webhook(&event).unwrap();
        let headers = [(
            joule_payments::simulated::SIGNATURE_HEADER,
            signed.signature.as_str(),
        )];
        w.payments
            .handle_webhook(
                "simulated",
                &WebhookPayload {
                    headers: &headers,
                    body: &signed.body,
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(w.starts(), 0);
    w.gateway.release.notify_one();
    assert_eq!(confirm.await.unwrap().unwrap().state, WebState::Starting);
    assert_eq!(w.starts(), 1);
    assert_eq!(w.payments.recover().await.unwrap().finished, 0);
    assert_eq!(w.starts(), 1);
    w.charge_and_stop(id).await;
    w.captured_once(id).await;
    w.0.db.close().await.unwrap();
}

/// A double-clicked confirm button: two confirms at the same moment, one
/// start.
#[tokio::test]
async fn two_confirms_at_once_start_the_charger_once() {
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    w.gateway.pause_next(GatewayCall::ReadIntent);
    let first = {
        let payments = w.payments.clone();
        let token = token.clone();
        tokio::spawn(async move { payments.confirm(&token).await })
    };
    w.gateway.entered.notified().await;
    let second = w.payments.confirm(&token).await.unwrap();
    assert_eq!(second.state, WebState::AwaitingCard);
    w.gateway.release.notify_one();
    assert_eq!(first.await.unwrap().unwrap().state, WebState::Starting);
    assert_eq!(w.starts(), 1);
    w.charge_and_stop(id).await;
    w.captured_once(id).await;
    w.0.db.close().await.unwrap();
}

/// A second start refused while the payment's own session runs is never a
/// reason to release its hold (before issue 9 the second actor voided the
/// hold of the running session).
#[tokio::test]
async fn a_refused_repeat_start_never_releases_the_hold_of_a_started_charger() {
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    // The connector refuses (it is already busy with something else).
    *w.charger.started.lock().unwrap() = [conn(1)].into();
    w.payments.confirm(&token).await.unwrap();
    assert_eq!(w.state(id).await, PaymentState::Voided);
    let start = w.store.remote_start(id).await.unwrap().unwrap();
    assert_eq!(start.status, StartStatus::Refused);
    assert!(!start.may_have_started);
    // A refused first start does release the hold at once: the charger
    // said no and nothing can have started.
    assert_eq!(
        w.steps(id).await.last().unwrap(),
        &(StepKind::Void, StepStatus::Succeeded)
    );

    // Now the lost-answer case: a first start went out and its answer was
    // lost (recorded as unanswered); the charger did start.
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    let claim = test_support::claim_as_a_request(w.store.as_ref(), id, t0()).await;
    w.store
        .record_remote_start(id, StartStatus::Sending, &claim, t0())
        .await
        .unwrap();
    w.store
        .record_remote_start(id, StartStatus::Unanswered, &claim, t0())
        .await
        .unwrap();
    w.store.release_payment_claim(id, &claim).await.unwrap();
    *w.charger.started.lock().unwrap() = [conn(1)].into();
    w.sent_start_tag(id).await;
    w.payments.confirm(&token).await.unwrap();
    assert_eq!(w.state(id).await, PaymentState::Authorized);
    assert!(!w.steps(id).await.iter().any(|(k, _)| *k == StepKind::Void));
    // Its session arrives and is settled from that session.
    w.charge_and_stop(id).await;
    w.captured_once(id).await;
    w.0.db.close().await.unwrap();
}

/// The sweeper releases a hold nobody used while a late StartTransaction
/// arrives: the start finds no usable hold (its tag is refused), and a
/// start linked first makes the sweeper settle from the session instead.
#[tokio::test]
async fn the_sweepers_release_and_a_late_start_cannot_both_win() {
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    w.payments.confirm(&token).await.unwrap();
    let tag = w.charger.id_tag();
    w.clock.advance(Duration::seconds(121));
    w.gateway.pause_next(GatewayCall::Cancel);
    let sweep = {
        let payments = w.payments.clone();
        tokio::spawn(async move { payments.sweep().await })
    };
    w.gateway.entered.notified().await;
    // The release is intended: the late start is refused, not linked.
    let (_, accepted) = w.start(&tag, w.clock.now()).await;
    assert!(!accepted);
    w.gateway.release.notify_one();
    assert_eq!(sweep.await.unwrap().unwrap().finished, 1);
    assert_eq!(w.state(id).await, PaymentState::Voided);
    assert!(w
        .store
        .get_payment(id)
        .await
        .unwrap()
        .unwrap()
        .payment
        .session_id
        .is_none());

    // Start first: the sweeper finds the session linked and leaves the
    // hold to it; the session is captured once at its end.
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    w.payments.confirm(&token).await.unwrap();
    let tag = w.charger.id_tag();
    let (tx, accepted) = w.start(&tag, t0()).await;
    assert!(accepted);
    w.clock.advance(Duration::seconds(121));
    assert_eq!(w.payments.sweep().await.unwrap().finished, 0);
    assert_eq!(w.state(id).await, PaymentState::Authorized);
    w.stop(tx, 11_000, t0() + Duration::minutes(30)).await;
    w.clock.advance(Duration::seconds(121));
    // The sweeper and the outbox consumer on one session: one capture.
    let session = w.session_of(id).await;
    let (swept, settled) = tokio::join!(w.payments.sweep(), w.payments.settle_session(session));
    // One of them captured; the other found the payment held or settled.
    swept.unwrap();
    assert!(
        matches!(
            settled,
            Ok(_) | Err(joule_domain::services::payments::PaymentError::Busy { .. })
        ),
        "{settled:?}"
    );
    w.payments.sweep().await.unwrap();
    w.payments.settle_session(session).await.unwrap();
    w.captured_once(id).await;
    w.0.db.close().await.unwrap();
}

/// A hold increment in flight when the session ends: the capture waits for
/// the increment (the outbox consumer is told the payment is busy and
/// retries), then captures once, within the raised hold.
#[tokio::test]
async fn a_hold_increment_and_the_final_capture_do_not_overlap() {
    let w = world(serde_json::json!({
        "hold_limit_policy": "increment_authorization",
        "hold_increment_minor": 2000,
        "hold_max_minor": 9000,
    }))
    .await;
    let (id, token) = w.card_entered().await;
    w.payments.confirm(&token).await.unwrap();
    let tag = w.charger.id_tag();
    let (tx, accepted) = w.start(&tag, t0()).await;
    assert!(accepted);
    let session = w.session_of(id).await;
    // 95 kWh so far: 28.50 EUR against a 30.00 EUR hold, near its limit.
    w.meter(tx, 96_000, t0() + Duration::minutes(50)).await;
    w.gateway.pause_next(GatewayCall::Increment);
    let check = {
        let payments = w.payments.clone();
        tokio::spawn(async move { payments.check_hold_limit(session).await })
    };
    w.gateway.entered.notified().await;
    w.stop(tx, 96_000, t0() + Duration::minutes(51)).await;
    let settled = w.payments.settle_session(session).await;
    assert!(
        matches!(
            settled,
            Err(joule_domain::services::payments::PaymentError::Busy { .. })
        ),
        "{settled:?}"
    );
    w.gateway.release.notify_one();
    assert!(matches!(
        check.await.unwrap().unwrap(),
        HoldCheck::Incremented { .. }
    ));
    let detail = w.payments.settle_session(session).await.unwrap().unwrap();
    assert_eq!(detail.payment.state, PaymentState::Captured);
    assert_eq!(detail.payment.captured_minor, 2850);
    assert_eq!(w.gateway.count("capture"), 1);
    w.0.db.close().await.unwrap();
}

/// A hold recovered while its charger is offline is not released at once:
/// the starter asks again when the charger is back (within
/// `start_timeout`); one that never comes back is released by the sweeper.
#[tokio::test]
async fn a_recovered_hold_waits_for_its_charger_to_come_back() {
    let w = world(serde_json::json!({})).await;
    let (id, _token) = w.card_entered().await;
    // The driver confirmed in the browser; Joule died before recording it.
    w.charger.offline.store(true, Ordering::SeqCst);
    w.clock.advance(Duration::seconds(61));
    assert_eq!(w.payments.recover().await.unwrap().finished, 1);
    assert_eq!(w.state(id).await, PaymentState::Authorized);
    assert_eq!(
        w.store.remote_start(id).await.unwrap().unwrap().status,
        StartStatus::Unreachable
    );
    w.clock.advance(Duration::seconds(30));
    w.payments.recover().await.unwrap();
    assert_eq!(w.starts(), 0);
    w.charger.offline.store(false, Ordering::SeqCst);
    w.clock.advance(Duration::seconds(30));
    w.payments.recover().await.unwrap();
    assert_eq!(w.starts(), 1);
    assert_eq!(
        w.store.remote_start(id).await.unwrap().unwrap().status,
        StartStatus::Accepted
    );
    w.charge_and_stop(id).await;
    w.captured_once(id).await;

    // Never back: released after start_timeout, once.
    let w = world(serde_json::json!({})).await;
    let (id, _token) = w.card_entered().await;
    w.charger.offline.store(true, Ordering::SeqCst);
    w.clock.advance(Duration::seconds(61));
    w.payments.recover().await.unwrap();
    w.clock.advance(Duration::seconds(121));
    w.payments.recover().await.unwrap();
    w.payments.sweep().await.unwrap();
    assert_eq!(w.state(id).await, PaymentState::Voided);
    assert_eq!(w.gateway.count("cancel"), 1);
    w.0.db.close().await.unwrap();
}

/// A capture the gateway refuses (the hold expired or was cancelled there)
/// is not tried again on every sweep: the payment is flagged for an
/// operator with the gateway's reason, and the workers leave it alone.
#[tokio::test]
async fn a_refused_capture_is_flagged_for_an_operator_once() {
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    w.payments.confirm(&token).await.unwrap();
    let intent = IntentRef::parse(
        w.store
            .get_payment(id)
            .await
            .unwrap()
            .unwrap()
            .payment
            .gateway_payment_ref
            .unwrap(),
    )
    .unwrap();
    // Released at the gateway behind Joule's back (an expired hold).
    w.sim
        .cancel(&intent, &IdempotencyKey::derive(id, format_args!("test")))
        .await
        .unwrap();
    let tag = w.charger.id_tag();
    let (tx, accepted) = w.start(&tag, t0()).await;
    assert!(accepted);
    w.stop(tx, 11_000, t0() + Duration::minutes(30)).await;
    let session = w.session_of(id).await;
    let detail = w.payments.settle_session(session).await.unwrap().unwrap();
    let flag = detail.flag.expect("flagged");
    assert_eq!(flag.reason, "capture_failed");
    assert!(flag.detail.contains("capture of 300 refused"), "{flag:?}");
    w.clock.advance(Duration::minutes(10));
    assert_eq!(w.payments.sweep().await.unwrap().finished, 0);
    assert!(w.payments.settle_session(session).await.unwrap().is_none());
    assert_eq!(w.gateway.count("capture"), 1);
    let flagged = w
        .store
        .list_payments(
            joule_domain::payments::payment::PaymentFilter {
                flagged: Some(true),
                ..Default::default()
            },
            joule_domain::kernel::page::Page::new(None, None),
        )
        .await
        .unwrap();
    assert_eq!(flagged.items.len(), 1);
    assert_eq!(flagged.items[0].id, id);
    w.0.db.close().await.unwrap();
}

/// A refund request whose process died: its repeat with the same
/// Idempotency-Key (once the request's claim lapsed) finishes the refund
/// step that request made, or makes the refund when it made none; never a
/// second refund for one request.
#[tokio::test]
async fn a_repeated_refund_after_a_crash_resumes_the_refund_it_made() {
    let w = world(serde_json::json!({})).await;
    let (id, token) = w.card_entered().await;
    w.payments.confirm(&token).await.unwrap();
    w.charge_and_stop(id).await;
    w.captured_once(id).await;
    // The request began, intended a refund of 1.00 EUR under its claim,
    // and died before calling the gateway.
    let began = w.clock.now();
    let claim = test_support::claim_as_a_request(w.store.as_ref(), id, began).await;
    w.store
        .intend_step(
            id,
            joule_domain::payments::payment::StepRequest::Refund { amount_minor: 100 },
            &claim,
            began,
        )
        .await
        .unwrap()
        .unwrap();
    // While its claim is live the payment is busy.
    assert!(matches!(
        w.payments.resume_refund(id, Some(100), began).await,
        Err(joule_domain::services::payments::PaymentError::Busy { .. })
    ));
    w.clock.advance(Duration::seconds(61));
    let detail = w
        .payments
        .resume_refund(id, Some(100), began)
        .await
        .unwrap();
    assert_eq!(detail.payment.refunded_minor, 100);
    assert_eq!(w.gateway.count("refund"), 1);
    // Asked again: the same refund answers, no second one.
    let again = w
        .payments
        .resume_refund(id, Some(100), began)
        .await
        .unwrap();
    assert_eq!(again.payment.refunded_minor, 100);
    assert_eq!(w.gateway.count("refund"), 1);
    // A request that died before making any refund: made now, once.
    let later = w.clock.now();
    let made = w.payments.resume_refund(id, Some(50), later).await.unwrap();
    assert_eq!(made.payment.refunded_minor, 150);
    assert_eq!(w.gateway.count("refund"), 2);
    w.0.db.close().await.unwrap();
}

/// Recovery looks at a payment whose driver is still entering the card
/// without taking it: the driver's own confirm is never kept waiting (or
/// told `payment_busy`) by a pass that would do nothing.
#[tokio::test]
async fn recovery_does_not_hold_a_payment_still_waiting_for_its_card() {
    let w = world(serde_json::json!({})).await;
    let created = w
        .payments
        .create_web_payment(&w.cp, conn(1), None)
        .await
        .unwrap();
    let id = created.payment.id;
    w.clock.advance(Duration::seconds(61));
    w.gateway.pause_next(GatewayCall::ReadIntent);
    let recovery = {
        let payments = w.payments.clone();
        tokio::spawn(async move { payments.recover().await })
    };
    w.gateway.entered.notified().await;
    assert!(w.store.payment_claim(id).await.unwrap().is_none());
    // The driver confirms meanwhile: not busy.
    let token = created.payment.receipt_token.clone();
    w.payments
        .enter_test_card(&token, "sim_visa")
        .await
        .unwrap();
    assert_eq!(
        w.payments.confirm(&token).await.unwrap().state,
        WebState::Starting
    );
    w.gateway.release.notify_one();
    recovery.await.unwrap().unwrap();
    assert_eq!(w.starts(), 1);
    w.0.db.close().await.unwrap();
}

/// A charger that stamps its readings less than a millisecond apart: the
/// last interval's cost is still seen, so the hold is raised (with 1 ms
/// steps it cost 0 and the session ran past its hold).
#[tokio::test]
async fn readings_under_a_millisecond_apart_still_reach_the_hold() {
    let w = world(serde_json::json!({
        "hold_limit_policy": "increment_authorization",
        "hold_increment_minor": 2000,
        "hold_max_minor": 9000,
    }))
    .await;
    let (id, token) = w.card_entered().await;
    w.payments.confirm(&token).await.unwrap();
    let tag = w.charger.id_tag();
    let (tx, _) = w.start(&tag, t0()).await;
    let session = w.session_of(id).await;
    let at = t0() + Duration::minutes(50);
    w.meter(tx, 90_000, at).await;
    // 9 kWh more, 400 µs later: 29.40 EUR against a 30.00 hold, and the
    // margin (the last interval's 2.70) crosses it.
    w.meter(tx, 99_000, at + Duration::microseconds(400)).await;
    assert!(matches!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::Incremented { .. }
    ));
    w.0.db.close().await.unwrap();
}
