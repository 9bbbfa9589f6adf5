//! Rules of the simulated gateway: the strictness a real gateway has.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use joule_domain::kernel::money::{Currency, Money};
use joule_domain::payments::gateway::*;
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_domain::ports::clock::ManualClock;

use super::*;

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("EUR").unwrap())
}

fn key(step: &str) -> IdempotencyKey {
    IdempotencyKey::derive("pay1", step)
}

fn gateway() -> SimulatedGateway {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    SimulatedGateway::with_clock(SimulatedConfig::default(), Arc::new(ManualClock::new(at)))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

async fn authorized_hold(gw: &SimulatedGateway, amount: i64) -> IntentRef {
    let hold = gw
        .create_hold(
            &HoldRequest {
                amount: eur(amount),
                reference: "pay1".into(),
            },
            &key("hold"),
        )
        .await
        .unwrap();
    assert!(hold.intent.as_str().starts_with("sim_pi_"));
    let state = gw.confirm_hold(&hold.intent, "sim_visa").unwrap();
    assert_eq!(
        state.status,
        IntentStatus::Authorized {
            capturable: eur(amount)
        }
    );
    assert_eq!(state.card.as_ref().map(|c| c.last4.as_str()), Some("4242"));
    hold.intent
}

#[test]
fn hold_partial_capture_and_refunds_up_to_the_captured_amount() {
    block_on(async {
        let gw = gateway();
        let pi = authorized_hold(&gw, 5000).await;
        let over = gw.capture(&pi, eur(5001), &key("capture:over")).await;
        assert!(
            matches!(over, Err(GatewayError::InvalidRequest { code: Some(c), .. }) if c == "amount_too_large")
        );
        let captured = gw.capture(&pi, eur(3210), &key("capture")).await.unwrap();
        assert_eq!(captured.amount, eur(3210));
        // a second capture (new key) is refused: one capture per hold
        assert!(gw.capture(&pi, eur(10), &key("capture:2")).await.is_err());
        let state = gw.read_intent(&pi).await.unwrap();
        assert_eq!(
            state.status,
            IntentStatus::Succeeded {
                received: Some(eur(3210))
            }
        );

        let first = gw.refund(&pi, eur(3000), &key("refund:1")).await.unwrap();
        assert_eq!(
            gw.find_refund(&pi, &key("refund:1")).await.unwrap(),
            Some(first)
        );
        // a refused refund and a key never used find nothing
        assert_eq!(gw.find_refund(&pi, &key("refund:2")).await.unwrap(), None);
        let too_much = gw.refund(&pi, eur(211), &key("refund:2")).await;
        assert!(
            matches!(too_much, Err(GatewayError::InvalidRequest { code: Some(c), .. }) if c == "amount_too_large")
        );
        gw.refund(&pi, eur(210), &key("refund:3")).await.unwrap();
        // cannot cancel what was captured
        assert!(gw.cancel(&pi, &key("cancel")).await.is_err());
    });
}

#[test]
fn the_same_key_replays_and_a_reused_key_is_refused() {
    block_on(async {
        let gw = gateway();
        let pi = authorized_hold(&gw, 1000).await;
        let a = gw.capture(&pi, eur(800), &key("capture")).await.unwrap();
        let b = gw.capture(&pi, eur(800), &key("capture")).await.unwrap();
        assert_eq!(a, b);
        let other = gw.capture(&pi, eur(700), &key("capture")).await;
        assert!(
            matches!(other, Err(GatewayError::InvalidRequest { code: Some(c), .. }) if c == "idempotency_key_in_use")
        );
        // the replayed hold is the same intent, not a second one
        let again = gw
            .create_hold(
                &HoldRequest {
                    amount: eur(1000),
                    reference: "pay1".into(),
                },
                &key("hold"),
            )
            .await
            .unwrap();
        assert_eq!(again.intent, pi);
    });
}

#[test]
fn cancel_voids_a_hold_and_nothing_can_be_captured_after() {
    block_on(async {
        let gw = gateway();
        let pi = authorized_hold(&gw, 1000).await;
        gw.cancel(&pi, &key("cancel")).await.unwrap();
        assert_eq!(
            gw.read_intent(&pi).await.unwrap().status,
            IntentStatus::Canceled
        );
        assert!(gw.capture(&pi, eur(100), &key("capture")).await.is_err());
        let kinds: Vec<_> = gw.take_events().into_iter().map(|e| e.kind).collect();
        assert!(matches!(
            kinds.as_slice(),
            [
                GatewayEventKind::IntentAuthorized { .. },
                GatewayEventKind::IntentCanceled { .. }
            ]
        ));
    });
}

#[test]
fn declined_and_3ds_test_cards() {
    block_on(async {
        let gw = gateway();
        let req = HoldRequest {
            amount: eur(1000),
            reference: "p".into(),
        };
        let hold = gw.create_hold(&req, &key("h1")).await.unwrap();
        let declined = gw.confirm_hold(&hold.intent, "sim_declined");
        assert!(
            matches!(declined, Err(GatewayError::Declined { code, .. }) if code == "generic_decline")
        );
        let state = gw.read_intent(&hold.intent).await.unwrap();
        assert_eq!(state.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(
            state.decline.map(|d| d.code),
            Some("generic_decline".into())
        );
        // another card on the same intent works
        gw.confirm_hold(&hold.intent, "sim_mastercard").unwrap();

        let hold = gw.create_hold(&req, &key("h2")).await.unwrap();
        let state = gw.confirm_hold(&hold.intent, "sim_3ds").unwrap();
        assert_eq!(state.status, IntentStatus::RequiresAction);
        let state = gw.complete_action(&hold.intent, true).unwrap();
        assert!(matches!(state.status, IntentStatus::Authorized { .. }));

        assert!(matches!(
            gw.confirm_hold(&hold.intent, "4242424242424242"),
            Err(GatewayError::InvalidRequest { .. })
        ));
    });
}

#[test]
fn increment_raises_the_hold_and_can_be_turned_off() {
    block_on(async {
        let gw = gateway();
        let pi = authorized_hold(&gw, 1000).await;
        let inc = gw
            .increment_authorization(&pi, eur(2500), &key("inc:1"))
            .await
            .unwrap();
        assert_eq!(inc.capturable, eur(2500));
        assert!(gw
            .increment_authorization(&pi, eur(2000), &key("inc:2"))
            .await
            .is_err());
        gw.capture(&pi, eur(2400), &key("capture")).await.unwrap();

        let off = SimulatedGateway::new(SimulatedConfig {
            supports_increment: false,
            ..SimulatedConfig::default()
        });
        assert!(!off.capabilities().supports_increment);
        let r = off
            .increment_authorization(&pi, eur(3000), &key("inc"))
            .await;
        assert!(matches!(r, Err(GatewayError::Unsupported { .. })));
    });
}

#[test]
fn an_issuer_may_decline_increments_only() {
    block_on(async {
        let gw = gateway();
        let hold = gw
            .create_hold(
                &HoldRequest {
                    amount: eur(1000),
                    reference: "pay2".into(),
                },
                &key("hold2"),
            )
            .await
            .unwrap();
        gw.confirm_hold(&hold.intent, "sim_no_increment").unwrap();
        let r = gw
            .increment_authorization(&hold.intent, eur(2000), &key("inc2"))
            .await;
        assert!(
            matches!(&r, Err(GatewayError::Declined { code, .. }) if code == "card_declined"),
            "{r:?}"
        );
        // The hold itself is untouched and can be captured.
        gw.capture(&hold.intent, eur(900), &key("cap2"))
            .await
            .unwrap();
    });
}

#[test]
fn saved_cards_are_charged_off_session() {
    block_on(async {
        let gw = gateway();
        let cus = gw
            .create_customer(
                &CustomerRequest {
                    reference: "acct1".into(),
                    email: None,
                },
                &key("cus"),
            )
            .await
            .unwrap();
        let setup = gw.create_setup(&cus, &key("setup")).await.unwrap();
        let pm = gw.confirm_setup(&setup.setup, "sim_visa").unwrap();
        let state = gw.read_setup(&setup.setup).await.unwrap();
        assert_eq!(state.status, SetupStatus::Succeeded);
        assert_eq!(state.payment_method.as_ref(), Some(&pm));
        let saved = gw.read_payment_method(&pm).await.unwrap();
        assert_eq!(saved.card.map(|c| c.brand), Some("visa".into()));

        let charge = OffSessionCharge {
            customer: cus.clone(),
            payment_method: pm,
            amount: eur(1234),
            reference: "s1".into(),
        };
        let charged = gw
            .charge_off_session(&charge, &key("charge"))
            .await
            .unwrap();
        assert_eq!(
            charged.status,
            IntentStatus::Succeeded {
                received: Some(eur(1234))
            }
        );

        // a card that saves but declines charges (like 4000000000000341)
        let setup = gw.create_setup(&cus, &key("setup2")).await.unwrap();
        let bad = gw
            .confirm_setup(&setup.setup, "sim_insufficient_funds")
            .unwrap();
        let charge = OffSessionCharge {
            payment_method: bad,
            ..charge
        };
        let r = gw.charge_off_session(&charge, &key("charge2")).await;
        assert!(
            matches!(r, Err(GatewayError::Declined { code, .. }) if code == "insufficient_funds")
        );
        // the decline is replayed for the same key, not retried
        let again = gw.charge_off_session(&charge, &key("charge2")).await;
        assert!(matches!(again, Err(GatewayError::Declined { .. })));

        let setup = gw.create_setup(&cus, &key("setup3")).await.unwrap();
        let threeds = gw.confirm_setup(&setup.setup, "sim_3ds").unwrap();
        let r = gw
            .charge_off_session(
                &OffSessionCharge {
                    payment_method: threeds,
                    ..charge
                },
                &key("charge3"),
            )
            .await;
        assert_eq!(r, Err(GatewayError::RequiresAction));
    });
}

#[test]
fn injected_faults_behave_like_an_outage_and_a_lost_answer() {
    block_on(async {
        let gw = gateway();
        let pi = authorized_hold(&gw, 1000).await;
        gw.inject_fault(Fault::Unavailable);
        let r = gw.capture(&pi, eur(900), &key("capture")).await;
        assert!(matches!(r, Err(GatewayError::Unavailable { .. })));
        assert!(matches!(
            gw.read_intent(&pi).await.unwrap().status,
            IntentStatus::Authorized { .. }
        ));

        gw.inject_fault(Fault::TimeoutAfterApplying);
        assert_eq!(
            gw.capture(&pi, eur(900), &key("capture")).await,
            Err(GatewayError::Timeout)
        );
        // it was applied; the retry with the same key gets the result
        let retry = gw.capture(&pi, eur(900), &key("capture")).await.unwrap();
        assert_eq!(retry.amount, eur(900));
    });
}

#[test]
fn simulated_webhooks_are_signed_and_verified() {
    block_on(async {
        let gw = gateway();
        let _ = authorized_hold(&gw, 1000).await;
        let events = gw.take_events();
        let delivery = gw.signed_webhook(&events[0]).unwrap();
        let headers = [(SIGNATURE_HEADER, delivery.signature.as_str())];
        let payload = WebhookPayload {
            headers: &headers,
            body: &delivery.body,
        };
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 1, 0).unwrap();
        assert_eq!(gw.verify_webhook(&payload, now).unwrap(), events[0]);
        let later = Utc.with_ymd_and_hms(2026, 1, 1, 13, 0, 0).unwrap();
        assert!(matches!(
            gw.verify_webhook(&payload, later),
            Err(GatewayError::BadSignature { .. })
        ));
    });
}
