//! The terminal flow of the payment service (docs/terminals.md) on the
//! real SQLite store, the real simulated gateway and the real charging
//! service: a reported hold starts the connector, the session links by the
//! payment's id tag and the settle path captures; and what a crash or a
//! silent charger leaves open is finished by the same recovery worker and
//! sweeper as web payments. The charger is a scripted command router;
//! real chargers are in tests/interop/test_terminal_payments.py.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use joule_domain::payments::card::CardSummary;

use joule_domain::kernel::ids::{ConnectorId, IdToken, TransactionId};
use joule_domain::kernel::money::{Currency, Money};
use joule_domain::payments::gateway::{HoldRequest, IntentRef, IntentStatus, PaymentGateway};
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_domain::payments::payment::{
    NewPayment, PaymentChannel, PaymentId, PaymentState, ReceiptToken, StepKind, StepRequest,
    StepStatus,
};
use joule_domain::pricing::HoldLimitPolicy;
use joule_domain::services::charging::{StartRequest, StopRequest};
use joule_domain::services::payments::{TerminalReport, WebState};

use joule_domain::pricing::TariffExtensions;
use test_support::{ScriptedCharger, World, WorldBuilder};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

fn conn(n: u32) -> ConnectorId {
    ConnectorId::new(n).unwrap()
}

async fn world(answer: &'static str) -> World {
    WorldBuilder::new("CP-TERM", t0())
        .tariff(
            "T1",
            TariffExtensions {
                hold_amount_minor: Some(3000),
                ..Default::default()
            },
        )
        .terminal("Entrance")
        .charger(ScriptedCharger::answering(answer))
        .build()
        .await
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("EUR").unwrap())
}

/// The terminal's own hold at the gateway, confirmed with a test card.
async fn terminal_hold(w: &World) -> IntentRef {
    let created = w
        .gateway
        .create_hold(
            &HoldRequest {
                amount: eur(3000),
                reference: "terminal".into(),
            },
            &IdempotencyKey::derive(uuid::Uuid::new_v4(), "hold"),
        )
        .await
        .unwrap();
    w.gateway.confirm_hold(&created.intent, "sim_visa").unwrap();
    created.intent
}

fn report(w: &World, intent: &IntentRef) -> TerminalReport {
    TerminalReport {
        intent: intent.clone(),
        amount: eur(3000),
        card: CardSummary::new("visa", "4242", None, None).unwrap(),
        charger_id: w.cp.clone(),
        connector_id: conn(1),
        language: None,
    }
}

#[tokio::test]
async fn a_terminal_payment_links_its_session_by_id_tag_and_is_captured() {
    let w = world("Accepted").await;
    let intent = terminal_hold(&w).await;
    let reported = w
        .payments
        .report_terminal_payment(w.terminal(), report(&w, &intent))
        .await
        .unwrap();
    assert!(!reported.existing);
    assert_eq!(reported.status.state, WebState::Starting);
    let tag = w.charger.starts()[0].clone();
    let payment = reported.status.payment;
    assert_eq!(payment.id_tag.as_ref(), Some(&tag));

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
    assert_eq!(linked.id, payment.id);
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
    let settled = w
        .payments
        .settle_session(start.session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settled.payment.state, PaymentState::Captured);
    assert_eq!(settled.payment.captured_minor, 300);
    let view = w
        .payments
        .terminal_payment(w.terminal(), payment.id)
        .await
        .unwrap();
    assert_eq!(view.state, WebState::Captured);
    assert!(view.receipt_url.is_some());
    let at_gateway = w.gateway.read_intent(&intent).await.unwrap();
    assert!(matches!(at_gateway.status, IntentStatus::Succeeded { .. }));
    // Nothing left for the workers.
    w.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(w.payments.recover().await.unwrap().finished, 0);
    assert_eq!(w.payments.sweep().await.unwrap().finished, 0);
    w.db.close().await.unwrap();
}

#[tokio::test]
async fn the_sweeper_voids_a_terminal_hold_whose_session_never_started() {
    let w = world("Accepted").await;
    let intent = terminal_hold(&w).await;
    let reported = w
        .payments
        .report_terminal_payment(w.terminal(), report(&w, &intent))
        .await
        .unwrap();
    assert_eq!(w.payments.sweep().await.unwrap().finished, 0);
    w.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(w.payments.sweep().await.unwrap().finished, 1);
    let detail = w
        .store
        .get_payment(reported.status.payment.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.payment.state, PaymentState::Voided);
    assert_eq!(
        w.gateway.read_intent(&intent).await.unwrap().status,
        IntentStatus::Canceled
    );
    w.db.close().await.unwrap();
}

/// What a crash leaves: the payment recorded, its Authorize step intended
/// (the process died before finishing it), or not even intended.
async fn recorded_before_a_crash(w: &World, intent: &IntentRef, intend: bool) -> PaymentId {
    recorded_before_a_crash_with_tag(w, intent, intend, "PAY0123456789ABCDEF").await
}

async fn recorded_before_a_crash_with_tag(
    w: &World,
    intent: &IntentRef,
    intend: bool,
    tag: &str,
) -> PaymentId {
    let payment = w
        .store
        .create_payment(NewPayment {
            id: PaymentId::new_v7(),
            channel: PaymentChannel::Terminal,
            gateway: "simulated".into(),
            gateway_payment_ref: Some(intent.as_str().to_owned()),
            currency: Currency::parse("EUR").unwrap(),
            card: CardSummary::new("visa", "4242", None, None),
            charger_id: w.cp.clone(),
            connector_id: conn(1),
            account_id: None,
            terminal_id: Some(w.terminal().id.to_string()),
            hold_limit_policy: HoldLimitPolicy::StopSession,
            receipt_token: ReceiptToken::from_random_bytes(*uuid::Uuid::new_v4().as_bytes()),
            language: "en".into(),
            id_tag: Some(IdToken::parse(tag).unwrap()),
            created_at: t0(),
        })
        .await
        .unwrap();
    // The request held the payment's claim when it died (it lapses).
    let claim = test_support::claim_as_a_request(w.store.as_ref(), payment.id, t0()).await;
    if intend {
        w.store
            .intend_step(
                payment.id,
                StepRequest::Authorize { amount_minor: 3000 },
                &claim,
                t0(),
            )
            .await
            .unwrap()
            .unwrap();
    }
    payment.id
}

#[tokio::test]
async fn recovery_finishes_a_terminal_authorize_left_open_and_starts_the_charger() {
    let w = world("Accepted").await;
    let intent = terminal_hold(&w).await;
    let id = recorded_before_a_crash(&w, &intent, true).await;
    w.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(w.payments.recover().await.unwrap().finished, 1);
    let detail = w.store.get_payment(id).await.unwrap().unwrap();
    assert_eq!(detail.payment.state, PaymentState::Authorized);
    assert_eq!(detail.steps[0].status, StepStatus::Succeeded);
    assert_eq!(
        w.charger.starts(),
        vec![IdToken::parse("PAY0123456789ABCDEF").unwrap()]
    );
    w.db.close().await.unwrap();
}

#[tokio::test]
async fn a_retried_report_finishes_a_recording_a_crash_interrupted() {
    let w = world("Accepted").await;
    let intent = terminal_hold(&w).await;
    let id = recorded_before_a_crash(&w, &intent, false).await;
    // At once, it may be another request still recording it: left alone.
    let racing = w
        .payments
        .report_terminal_payment(w.terminal(), report(&w, &intent))
        .await
        .unwrap();
    assert!(racing.existing);
    assert_eq!(racing.status.payment.state, PaymentState::Created);
    assert!(w.charger.starts().is_empty());
    // Later, the recording request is known to have died: finished now.
    w.clock.advance(chrono::Duration::minutes(2));
    let again = w
        .payments
        .report_terminal_payment(w.terminal(), report(&w, &intent))
        .await
        .unwrap();
    assert_eq!(again.status.payment.id, id);
    assert_eq!(again.status.state, WebState::Starting);
    let detail = w.store.get_payment(id).await.unwrap().unwrap();
    let steps: Vec<_> = detail
        .steps
        .iter()
        .map(|s| (s.kind, s.status.clone()))
        .collect();
    assert_eq!(steps, vec![(StepKind::Authorize, StepStatus::Succeeded)]);
    assert_eq!(w.charger.starts().len(), 1);
    // Once more: nothing new.
    let third = w
        .payments
        .report_terminal_payment(w.terminal(), report(&w, &intent))
        .await
        .unwrap();
    assert!(third.existing);
    assert_eq!(w.charger.starts().len(), 1);
    w.db.close().await.unwrap();
}

#[tokio::test]
async fn recovery_finishes_a_recording_cut_before_its_authorize_step() {
    let w = world("Accepted").await;
    let intent = terminal_hold(&w).await;
    let id = recorded_before_a_crash(&w, &intent, false).await;
    // A second recording whose hold the terminal has cancelled since.
    let gone = terminal_hold(&w).await;
    w.gateway
        .cancel(&gone, &IdempotencyKey::derive("terminal", "cancel"))
        .await
        .unwrap();
    let gone_id = recorded_before_a_crash_with_tag(&w, &gone, false, "PAY00000000000000002").await;
    // Too early: the recording request may still be running.
    assert_eq!(w.payments.recover().await.unwrap().finished, 0);
    w.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(w.payments.recover().await.unwrap().finished, 2);
    let detail = w.store.get_payment(id).await.unwrap().unwrap();
    assert_eq!(detail.payment.state, PaymentState::Authorized);
    assert_eq!(detail.payment.authorized_minor, 3000);
    assert_eq!(w.charger.starts().len(), 1);
    let failed = w.store.get_payment(gone_id).await.unwrap().unwrap();
    assert_eq!(failed.payment.state, PaymentState::Failed);
    assert!(matches!(
        &failed.steps[0].status,
        StepStatus::Failed { code, .. } if code == "not_authorized"
    ));
    // Nothing more on the next pass.
    assert_eq!(w.payments.recover().await.unwrap().finished, 0);
    w.db.close().await.unwrap();
}
