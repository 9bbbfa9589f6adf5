//! Hold limits (docs/payments.md, "Hold limits") on the real SQLite store
//! and the real simulated gateway: the hold raised by increments up to the
//! maximum the driver agreed to, then the session stopped once; an issuer
//! that refuses the increment stops the session; the stop-at-the-hold
//! policy; the capture is min(cost, hold). The charger is a scripted
//! command router; real chargers are in tests/interop/test_hold_limits.py.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};

use joule_domain::charging::meter::{MeterReport, MeterSample, SampledValue};
use joule_domain::kernel::ids::{ConnectorId, SessionId, TransactionId};
use joule_domain::payments::gateway::{IntentRef, IntentStatus, PaymentGateway};
use joule_domain::payments::payment::{PaymentState, StepKind, StepStatus, StopReason};
use joule_domain::pricing::HoldLimitPolicy;
use joule_domain::pricing::TariffExtensions;
use joule_domain::services::charging::{StartRequest, StopRequest};
use joule_domain::services::payments::{HoldCheck, STOP_RETRY_S};
use joule_payments::SimulatedConfig;
use test_support::WorldBuilder;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

/// The shared payment world, with this file's steps as methods.
struct World(test_support::World);

impl std::ops::Deref for World {
    type Target = test_support::World;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

fn conn() -> ConnectorId {
    ConnectorId::new(1).unwrap()
}

/// 0.30 EUR/kWh (no VAT), a 2.00 EUR hold, and `extensions`' hold limits.
async fn world(extensions: TariffExtensions) -> World {
    world_on(extensions, SimulatedConfig::default()).await
}

/// [`world`] with the simulated gateway configured as `simulated`.
async fn world_on(extensions: TariffExtensions, simulated: SimulatedConfig) -> World {
    World(
        WorldBuilder::new("CP-HOLD", t0())
            .tariff(
                "T-HOLD",
                TariffExtensions {
                    hold_amount_minor: Some(200),
                    ..extensions
                },
            )
            .simulated(simulated)
            .hold_limits()
            .build()
            .await,
    )
}

impl World {
    /// Pays with `card` and starts the session; returns it with its
    /// transaction id.
    async fn paid_session(&self, card: &str) -> (SessionId, TransactionId) {
        let created = self
            .payments
            .create_web_payment(&self.cp, conn(), Some("en"))
            .await
            .unwrap();
        assert_eq!(created.hold_minor, 200);
        let token = created.payment.receipt_token.clone();
        self.payments.enter_test_card(&token, card).await.unwrap();
        self.payments.confirm(&token).await.unwrap();
        let tag = self.charger.id_tag();
        let (start, decision) = self
            .charging
            .start_transaction(
                &self.cp,
                StartRequest {
                    connector_id: conn(),
                    id_tag: tag,
                    meter_start_wh: 0,
                    timestamp: t0(),
                    reservation_id: None,
                },
            )
            .await
            .unwrap();
        assert!(decision.is_accepted());
        (start.session.id, start.session.transaction_id)
    }

    /// The charger reports the register at `wh`, `min` minutes in.
    async fn meter(&self, tx: TransactionId, min: i64, wh: i64) {
        let at = t0() + Duration::minutes(min);
        self.clock.set(at);
        self.charging
            .meter_values(
                &self.cp,
                MeterReport {
                    connector_id: conn(),
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

    async fn stop(&self, tx: TransactionId, min: i64, wh: i64) {
        let at = t0() + Duration::minutes(min);
        self.clock.set(at);
        self.charging
            .stop_transaction(
                &self.cp,
                StopRequest {
                    transaction_id: tx,
                    id_tag: None,
                    meter_stop_wh: wh,
                    timestamp: at,
                    reason: Some("Remote".into()),
                    transaction_data: vec![],
                },
            )
            .await
            .unwrap();
    }

    async fn intent(&self, session: SessionId) -> IntentRef {
        let p = self
            .store
            .payment_for_session(session)
            .await
            .unwrap()
            .unwrap();
        IntentRef::parse(p.gateway_payment_ref.unwrap()).unwrap()
    }
}

#[tokio::test]
async fn the_hold_is_raised_up_to_the_consented_maximum_then_the_session_stops_once() {
    let w = world(TariffExtensions {
        hold_limit_policy: HoldLimitPolicy::IncrementAuthorization,
        hold_increment_minor: Some(200),
        hold_max_minor: Some(600),
        hold_margin_minor: Some(10),
        ..TariffExtensions::default()
    })
    .await;
    let (session, tx) = w.paid_session("sim_visa").await;
    // 0.30 EUR per kWh: 3 kWh = 0.90 EUR, well within 2.00 EUR.
    w.meter(tx, 10, 3000).await;
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::WithinHold {
            hold_minor: 200,
            cost_minor: 90
        }
    );
    // 5.5 kWh = 1.65 EUR; the last interval cost 0.75 EUR: 1.65 + 0.75
    // reaches 2.00, so the hold is raised by one step before the cost does.
    w.meter(tx, 20, 5500).await;
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::Incremented {
            new_total_minor: 400
        }
    );
    // Checked again at once: one increment per crossing.
    assert!(matches!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::WithinHold {
            hold_minor: 400,
            ..
        }
    ));
    let state = w
        .gateway
        .read_intent(&w.intent(session).await)
        .await
        .unwrap();
    assert!(
        matches!(state.status, IntentStatus::Authorized { capturable } if capturable.minor() == 400)
    );

    // 11 kWh = 3.30 EUR, the interval cost 1.65: raised to the maximum.
    w.meter(tx, 30, 11_000).await;
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::Incremented {
            new_total_minor: 600
        }
    );
    // 16 kWh = 4.80 EUR + 1.50 reaches 6.00, the maximum: stop, once.
    w.meter(tx, 40, 16_000).await;
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::StopRequested(StopReason::MaxHoldReached)
    );
    // The charger is slow to stop: still over the threshold, not sent again.
    w.meter(tx, 41, 18_000).await;
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::StopAlreadyRequested(StopReason::MaxHoldReached)
    );
    assert_eq!(w.charger.stops(), vec![tx]);

    // The charger stops; the capture is the cost, within the hold.
    w.stop(tx, 42, 18_100).await;
    let detail = w.payments.settle_session(session).await.unwrap().unwrap();
    assert_eq!(detail.payment.state, PaymentState::Captured);
    assert_eq!(detail.payment.authorized_minor, 600);
    assert_eq!(detail.payment.captured_minor, 543); // 18.1 kWh × 0.30
    let increments: Vec<(i64, StepStatus)> = detail
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::IncrementAuthorization)
        .map(|s| (s.amount_minor, s.status.clone()))
        .collect();
    assert_eq!(
        increments,
        vec![(200, StepStatus::Succeeded), (200, StepStatus::Succeeded)]
    );
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::NotHeld
    );
}

#[tokio::test]
async fn an_increment_the_issuer_refuses_stops_the_session_and_the_capture_is_capped() {
    let w = world(TariffExtensions {
        hold_limit_policy: HoldLimitPolicy::IncrementAuthorization,
        hold_max_minor: Some(1000),
        ..TariffExtensions::default()
    })
    .await;
    let (session, tx) = w.paid_session("sim_no_increment").await;
    w.meter(tx, 10, 2000).await;
    w.meter(tx, 20, 4000).await;
    // 1.20 EUR + 0.60 < 2.00: nothing yet.
    assert!(matches!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::WithinHold { .. }
    ));
    // 1.80 EUR + 0.60 reaches 2.00: the increment is refused.
    w.meter(tx, 30, 6000).await;
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::StopRequested(StopReason::IncrementRefused)
    );
    let detail = w
        .store
        .get_payment(
            w.store
                .payment_for_session(session)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap()
        .unwrap();
    let inc = detail
        .steps
        .iter()
        .find(|s| s.kind == StepKind::IncrementAuthorization)
        .unwrap();
    assert!(
        matches!(&inc.status, StepStatus::Failed { code, .. } if code == "card_declined"),
        "{inc:?}"
    );
    assert_eq!(detail.payment.authorized_minor, 200);
    // Checked again: the issuer is not asked again, the stop not resent.
    w.meter(tx, 31, 6500).await;
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::StopAlreadyRequested(StopReason::IncrementRefused)
    );
    let p = w.store.payment_for_session(session).await.unwrap().unwrap();
    let steps = w.store.get_payment(p.id).await.unwrap().unwrap().steps;
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.kind == StepKind::IncrementAuthorization)
            .count(),
        1
    );
    // The charger was slow to stop: 7.5 kWh = 2.25 EUR, but the driver
    // pays at most the hold they agreed to.
    w.stop(tx, 35, 7500).await;
    let settled = w.payments.settle_session(session).await.unwrap().unwrap();
    assert_eq!(settled.payment.captured_minor, 200);
    assert_eq!(w.charger.stops().len(), 1);
}

#[tokio::test]
async fn stop_session_policy_stops_at_the_hold_and_resends_only_after_the_retry_time() {
    let w = world(TariffExtensions::default()).await;
    let (session, tx) = w.paid_session("sim_visa").await;
    w.meter(tx, 10, 3000).await;
    w.meter(tx, 20, 6000).await;
    // 1.80 EUR + 0.90 ≥ 2.00.
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::StopRequested(StopReason::HoldReached)
    );
    for _ in 0..3 {
        assert_eq!(
            w.payments.check_hold_limit(session).await.unwrap(),
            HoldCheck::StopAlreadyRequested(StopReason::HoldReached)
        );
    }
    assert_eq!(w.charger.stops().len(), 1);
    // No StopTransaction came (the charger lost it): sent again later.
    w.clock
        .set(t0() + Duration::minutes(20) + Duration::seconds(STOP_RETRY_S + 1));
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::StopRequested(StopReason::HoldReached)
    );
    assert_eq!(w.charger.stops().len(), 2);
    // No increment was ever attempted.
    let p = w.store.payment_for_session(session).await.unwrap().unwrap();
    let detail = w.store.get_payment(p.id).await.unwrap().unwrap();
    assert!(detail
        .steps
        .iter()
        .all(|s| s.kind != StepKind::IncrementAuthorization));
    w.stop(tx, 40, 6500).await;
    let settled = w.payments.settle_session(session).await.unwrap().unwrap();
    assert_eq!(settled.payment.captured_minor, 195);
}

#[tokio::test]
async fn a_gateway_without_increments_stops_the_session() {
    let w = world_on(
        TariffExtensions {
            hold_limit_policy: HoldLimitPolicy::IncrementAuthorization,
            hold_max_minor: Some(1000),
            ..TariffExtensions::default()
        },
        SimulatedConfig {
            supports_increment: false,
            ..SimulatedConfig::default()
        },
    )
    .await;
    let (session, tx) = w.paid_session("sim_visa").await;
    w.meter(tx, 10, 6000).await;
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::StopRequested(StopReason::IncrementUnsupported)
    );
}

#[tokio::test]
async fn an_increment_whose_answer_is_lost_stops_the_session_and_recovery_records_it_once() {
    let w = world(TariffExtensions {
        hold_limit_policy: HoldLimitPolicy::IncrementAuthorization,
        hold_max_minor: Some(1000),
        ..TariffExtensions::default()
    })
    .await;
    let (session, tx) = w.paid_session("sim_visa").await;
    w.meter(tx, 10, 6000).await;
    // The gateway raises the hold, then the answer is lost.
    w.gateway
        .inject_fault(joule_payments::simulated::Fault::TimeoutAfterApplying);
    assert_eq!(
        w.payments.check_hold_limit(session).await.unwrap(),
        HoldCheck::StopRequested(StopReason::IncrementRefused)
    );
    let p = w.store.payment_for_session(session).await.unwrap().unwrap();
    assert_eq!(
        p.authorized_minor, 200,
        "not recorded before the outcome is known"
    );
    // The recovery worker reads the intent: raised, so recorded, not repeated.
    w.clock.advance(Duration::seconds(61));
    let report = w.payments.recover().await.unwrap();
    assert_eq!(report.finished, 1);
    let detail = w.store.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(detail.payment.authorized_minor, 400);
    let incs: Vec<&StepStatus> = detail
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::IncrementAuthorization)
        .map(|s| &s.status)
        .collect();
    assert_eq!(incs, vec![&StepStatus::Succeeded]);
    let state = w
        .gateway
        .read_intent(&w.intent(session).await)
        .await
        .unwrap();
    assert!(
        matches!(state.status, IntentStatus::Authorized { capturable } if capturable.minor() == 400)
    );
}
