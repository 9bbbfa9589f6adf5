//! The payment part of the store contract: payments, their exactly-once
//! steps, the sweeper and recovery queries, KPIs and API idempotency
//! records, on both backends.

use joule_domain::access::api_idempotency::{IdempotencyBegin, NewIdempotencyRecord};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::IdToken;
use joule_domain::kernel::money::Currency;
use joule_domain::kernel::page::Page;
use joule_domain::payments::card::CardSummary;
use joule_domain::payments::payment::{payment_kpis, KpiGrouping, TallyOutcome};
use joule_domain::payments::payment::{ClaimOwner, ClaimRequest, ClaimToken};
use joule_domain::payments::payment::{
    NewPayment, PaymentChannel, PaymentFilter, PaymentId, PaymentState, PaymentStep, ReceiptToken,
    StaleHoldReason, StepError, StepKind, StepOutcome, StepRequest, StepStatus, StepSuccess,
};
use joule_domain::ports::store::Store;
use joule_domain::pricing::HoldLimitPolicy;
use serde_json::json;

use super::{
    cid, conn, count, event_kinds, postgres_harness, sqlite_harness, start, stop, t, Harness,
};

contract_tests!(
    payment_create_get_list_and_lookups,
    payment_steps_authorize_capture_refund,
    finishing_twice_is_idempotent_or_a_conflict,
    declined_authorization_fails_the_payment,
    concurrent_capture_intents_admit_exactly_one,
    concurrent_duplicate_finishes_capture_once,
    intended_steps_are_found_for_recovery,
    stale_holds_for_the_sweeper,
    link_session_and_gateway_ref,
    payment_kpis_per_channel,
    payment_step_tallies_per_site_and_currency,
    api_idempotency_begin_and_complete,
    open_payment_found_by_id_tag,
    consumer_cursors_are_durable_and_monotonic,
    concurrent_claims_grant_exactly_one_owner,
    only_the_claim_holder_changes_a_payment,
    remote_starts_are_recorded_by_the_holder,
    a_release_in_progress_refuses_a_late_session,
);

fn token() -> ReceiptToken {
    ReceiptToken::from_random_bytes(*uuid::Uuid::new_v4().as_bytes())
}

fn new_payment(channel: PaymentChannel, charger: &str, at: i64) -> NewPayment {
    NewPayment {
        id: PaymentId::new_v7(),
        channel,
        gateway: "simulated".into(),
        gateway_payment_ref: None,
        currency: Currency::parse("EUR").unwrap(),
        card: None,
        charger_id: cid(charger),
        connector_id: conn(1),
        account_id: (channel == PaymentChannel::Account).then(|| "acct-1".into()),
        terminal_id: (channel == PaymentChannel::Terminal).then(|| "term-1".into()),
        hold_limit_policy: HoldLimitPolicy::IncrementAuthorization,
        receipt_token: token(),
        language: "es".into(),
        id_tag: (channel == PaymentChannel::Web)
            .then(|| IdToken::parse(&format!("P{}", &token().as_str()[..19])).unwrap()),
        created_at: t(at),
    }
}

pub(super) async fn step(h: &Harness, id: PaymentId, r: StepRequest, at: i64) -> PaymentStep {
    h.store
        .intend_step(id, r, &holder(h.store.as_ref(), id).await, t(at))
        .await
        .unwrap()
        .unwrap()
}

/// The claim the contract tests act under: one token per payment (from
/// its id), renewed at every use, as the payment service holds it.
pub(super) async fn holder(s: &dyn Store, id: PaymentId) -> ClaimToken {
    let token = ClaimToken::from_uuid(id.as_uuid());
    s.claim_payment(
        id,
        ClaimRequest {
            owner: ClaimOwner::Recovery,
            token,
            expires_at: t(1_000_000),
        },
        t(0),
    )
    .await
    .unwrap()
    .unwrap();
    token
}

pub(super) async fn ok(h: &Harness, id: PaymentId, seq: u32, gateway_ref: &str, at: i64) {
    h.store
        .finish_step(
            id,
            seq,
            StepOutcome::succeeded(Some(gateway_ref.into())),
            &holder(h.store.as_ref(), id).await,
            t(at),
        )
        .await
        .unwrap();
}

/// A payment with a hold of `hold` placed (authorize step 1 succeeded).
pub(super) async fn authorized(
    h: &Harness,
    channel: PaymentChannel,
    hold: i64,
    at: i64,
) -> PaymentId {
    let p = h
        .store
        .create_payment(new_payment(channel, "CP-1", at))
        .await
        .unwrap();
    step(h, p.id, StepRequest::Authorize { amount_minor: hold }, at).await;
    ok(h, p.id, 1, &format!("pi_{}", p.id), at).await;
    p.id
}

async fn payment_create_get_list_and_lookups(h: &Harness) {
    let s = &h.store;
    let mut first = new_payment(PaymentChannel::Web, "CP-1", 1);
    first.gateway_payment_ref = Some("pi_1".into());
    let created = s.create_payment(first.clone()).await.unwrap();
    assert_eq!(created.state, PaymentState::Created);
    assert_eq!(created.language, "es");
    assert_eq!(
        created.hold_limit_policy,
        HoldLimitPolicy::IncrementAuthorization
    );
    assert_eq!(
        (
            created.authorized_minor,
            created.captured_minor,
            created.refunded_minor
        ),
        (0, 0, 0)
    );
    let detail = s.get_payment(created.id).await.unwrap().unwrap();
    assert_eq!(detail.payment, created);
    assert!(detail.steps.is_empty());

    // The same id, receipt token or gateway reference twice is a conflict.
    assert!(matches!(
        s.create_payment(first.clone()).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut same_ref = new_payment(PaymentChannel::Web, "CP-1", 2);
    same_ref.gateway_payment_ref = Some("pi_1".into());
    assert!(matches!(
        s.create_payment(same_ref).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut same_token = new_payment(PaymentChannel::Web, "CP-1", 2);
    same_token.receipt_token = first.receipt_token.clone();
    assert!(matches!(
        s.create_payment(same_token).await,
        Err(StoreError::Conflict { .. })
    ));

    assert_eq!(
        s.payment_by_gateway_ref("simulated", "pi_1").await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        s.payment_by_gateway_ref("stripe", "pi_1").await.unwrap(),
        None
    );
    assert_eq!(
        s.payment_by_receipt_token(&first.receipt_token)
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(s.payment_by_receipt_token(&token()).await.unwrap(), None);
    assert!(s.get_payment(PaymentId::new_v7()).await.unwrap().is_none());

    let second = s
        .create_payment(new_payment(PaymentChannel::Terminal, "CP-2", 2))
        .await
        .unwrap();
    let third = s
        .create_payment(new_payment(PaymentChannel::Web, "CP-2", 3))
        .await
        .unwrap();
    let all = s
        .list_payments(PaymentFilter::default(), Page::default())
        .await
        .unwrap();
    let ids: Vec<PaymentId> = all.items.iter().map(|p| p.id).collect();
    assert_eq!(ids, vec![third.id, second.id, created.id], "newest first");
    let page = s
        .list_payments(PaymentFilter::default(), Page::new(Some(2), None))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.next_offset, Some(2));
    let web_cp2 = s
        .list_payments(
            PaymentFilter {
                channel: Some(PaymentChannel::Web),
                charger_id: Some(cid("CP-2")),
                ..PaymentFilter::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(web_cp2.items, vec![third.clone()]);
    let created_state = s
        .list_payments(
            PaymentFilter {
                state: Some(PaymentState::Authorized),
                ..PaymentFilter::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert!(created_state.items.is_empty());
    assert_eq!(count(&event_kinds(h).await, "payment.created"), 3);
}

async fn payment_steps_authorize_capture_refund(h: &Harness) {
    let s = &h.store;
    let p = s
        .create_payment(new_payment(PaymentChannel::Web, "CP-1", 0))
        .await
        .unwrap();
    let auth = step(h, p.id, StepRequest::Authorize { amount_minor: 5000 }, 10).await;
    assert_eq!(auth.seq, 1);
    assert_eq!(auth.kind, StepKind::Authorize);
    assert_eq!(auth.status, StepStatus::Intended);
    assert_eq!(
        auth.idempotency_key,
        PaymentStep::key_for(p.id, StepKind::Authorize, 1)
    );
    // One step at a time.
    assert_eq!(
        s.intend_step(
            p.id,
            StepRequest::Void,
            &holder(s.as_ref(), p.id).await,
            t(11)
        )
        .await
        .unwrap(),
        Err(StepError::StepInProgress { seq: 1 })
    );
    let card = CardSummary::new("visa", "4242", Some(12), Some(2030));
    let after = s
        .finish_step(
            p.id,
            1,
            StepOutcome::Succeeded(StepSuccess {
                gateway_ref: Some("pi_9".into()),
                card: card.clone(),
            }),
            &holder(s.as_ref(), p.id).await,
            t(12),
        )
        .await
        .unwrap();
    assert_eq!(after.payment.state, PaymentState::Authorized);
    assert_eq!(after.payment.authorized_minor, 5000);
    assert_eq!(after.payment.card, card);
    assert_eq!(after.payment.gateway_payment_ref.as_deref(), Some("pi_9"));
    assert_eq!(after.payment.updated_at, t(12));
    assert_eq!(after.steps[0].status, StepStatus::Succeeded);
    assert_eq!(after.steps[0].finished_at, Some(t(12)));
    assert_eq!(
        s.payment_by_gateway_ref("simulated", "pi_9")
            .await
            .unwrap()
            .map(|p| p.id),
        Some(p.id)
    );

    assert_eq!(
        s.intend_step(
            p.id,
            StepRequest::Capture { amount_minor: 5001 },
            &holder(s.as_ref(), p.id).await,
            t(20)
        )
        .await
        .unwrap(),
        Err(StepError::CaptureAboveHold {
            amount_minor: 5001,
            authorized_minor: 5000
        })
    );
    step(
        h,
        p.id,
        StepRequest::IncrementAuthorization { by_minor: 1000 },
        21,
    )
    .await;
    ok(h, p.id, 2, "pi_9", 22).await;
    let capture = step(h, p.id, StepRequest::Capture { amount_minor: 5500 }, 30).await;
    assert_eq!(capture.seq, 3);
    ok(h, p.id, 3, "pi_9", 31).await;
    assert_eq!(
        s.intend_step(
            p.id,
            StepRequest::Capture { amount_minor: 1 },
            &holder(s.as_ref(), p.id).await,
            t(32)
        )
        .await
        .unwrap(),
        Err(StepError::NotAllowed {
            kind: StepKind::Capture,
            state: PaymentState::Captured
        })
    );
    step(h, p.id, StepRequest::Refund { amount_minor: 500 }, 40).await;
    ok(h, p.id, 4, "re_1", 41).await;
    assert_eq!(
        s.intend_step(
            p.id,
            StepRequest::Refund { amount_minor: 5001 },
            &holder(s.as_ref(), p.id).await,
            t(42)
        )
        .await
        .unwrap(),
        Err(StepError::RefundAboveCaptured {
            amount_minor: 5001,
            refundable_minor: 5000
        })
    );
    let detail = s.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(detail.payment.state, PaymentState::Captured);
    assert_eq!(
        (
            detail.payment.authorized_minor,
            detail.payment.captured_minor,
            detail.payment.refunded_minor
        ),
        (6000, 5500, 500)
    );
    let kinds: Vec<StepKind> = detail.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        vec![
            StepKind::Authorize,
            StepKind::IncrementAuthorization,
            StepKind::Capture,
            StepKind::Refund
        ]
    );
    assert_eq!(detail.steps[3].gateway_ref.as_deref(), Some("re_1"));

    // Unknown payment or step.
    assert!(matches!(
        s.intend_step(
            PaymentId::new_v7(),
            StepRequest::Void,
            &ClaimToken::new(),
            t(50)
        )
        .await,
        Err(StoreError::NotFound { entity: "payment" })
    ));
    assert!(matches!(
        s.finish_step(
            p.id,
            99,
            StepOutcome::succeeded(None),
            &holder(s.as_ref(), p.id).await,
            t(50)
        )
        .await,
        Err(StoreError::NotFound {
            entity: "payment step"
        })
    ));

    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "payment.step_intended"), 4);
    assert_eq!(count(&kinds, "payment.authorized"), 1);
    assert_eq!(count(&kinds, "payment.authorization_incremented"), 1);
    assert_eq!(count(&kinds, "payment.captured"), 1);
    assert_eq!(count(&kinds, "payment.refunded"), 1);
    let events = s.events_after(0, 1000).await.unwrap();
    let captured = events
        .iter()
        .find(|e| e.kind.as_str() == "payment.captured")
        .unwrap();
    assert_eq!(captured.charger_id.as_deref(), Some("CP-1"));
    assert_eq!(captured.payload["captured_minor"], json!(5500));
    assert_eq!(captured.payload["step"]["seq"], json!(3));
    assert_eq!(
        captured.payload["step"]["idempotency_key"],
        json!(capture.idempotency_key.as_str())
    );
}

async fn finishing_twice_is_idempotent_or_a_conflict(h: &Harness) {
    let s = &h.store;
    let id = authorized(h, PaymentChannel::Web, 3000, 0).await;
    step(h, id, StepRequest::Capture { amount_minor: 1200 }, 10).await;
    let first = s
        .finish_step(
            id,
            2,
            StepOutcome::succeeded(Some("ch_1".into())),
            &holder(s.as_ref(), id).await,
            t(11),
        )
        .await
        .unwrap();
    let events = s.events_after(0, 1000).await.unwrap().len();
    // A duplicate webhook, or the recovery worker after a crash.
    let again = s
        .finish_step(
            id,
            2,
            StepOutcome::succeeded(Some("ch_1".into())),
            &holder(s.as_ref(), id).await,
            t(20),
        )
        .await
        .unwrap();
    assert_eq!(again, first, "unchanged, finished_at included");
    let again = s
        .finish_step(
            id,
            2,
            StepOutcome::succeeded(None),
            &holder(s.as_ref(), id).await,
            t(21),
        )
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(s.events_after(0, 1000).await.unwrap().len(), events);
    assert!(matches!(
        s.finish_step(
            id,
            2,
            StepOutcome::failed("card_declined", "no"),
            &holder(s.as_ref(), id).await,
            t(22)
        )
        .await,
        Err(StoreError::Conflict {
            entity: "payment step"
        })
    ));
    assert!(matches!(
        s.finish_step(
            id,
            2,
            StepOutcome::succeeded(Some("ch_2".into())),
            &holder(s.as_ref(), id).await,
            t(22)
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));
    let detail = s.get_payment(id).await.unwrap().unwrap();
    assert_eq!(detail.payment.captured_minor, 1200);
    assert_eq!(
        count(&event_kinds(h).await, "payment.captured"),
        1,
        "one capture event"
    );
}

async fn declined_authorization_fails_the_payment(h: &Harness) {
    let s = &h.store;
    let p = s
        .create_payment(new_payment(PaymentChannel::Terminal, "CP-1", 0))
        .await
        .unwrap();
    step(h, p.id, StepRequest::Authorize { amount_minor: 5000 }, 1).await;
    let failed = s
        .finish_step(
            p.id,
            1,
            StepOutcome::failed("card_declined", "Your card was declined."),
            &holder(s.as_ref(), p.id).await,
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(failed.payment.state, PaymentState::Failed);
    assert_eq!(
        failed.steps[0].status,
        StepStatus::Failed {
            code: "card_declined".into(),
            message: "Your card was declined.".into()
        }
    );
    // The same failure reworded is the same outcome.
    assert!(s
        .finish_step(
            p.id,
            1,
            StepOutcome::failed("card_declined", "Declined"),
            &holder(s.as_ref(), p.id).await,
            t(3)
        )
        .await
        .is_ok());
    assert_eq!(
        s.intend_step(
            p.id,
            StepRequest::Authorize { amount_minor: 1 },
            &holder(s.as_ref(), p.id).await,
            t(4)
        )
        .await
        .unwrap(),
        Err(StepError::PaymentClosed {
            state: PaymentState::Failed
        })
    );
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "payment.failed"), 1);

    // A refused capture leaves the hold, and says so in the outbox.
    let id = authorized(h, PaymentChannel::Web, 100, 10).await;
    step(h, id, StepRequest::Capture { amount_minor: 50 }, 11).await;
    let d = s
        .finish_step(
            id,
            2,
            StepOutcome::failed("expired", "hold expired"),
            &holder(s.as_ref(), id).await,
            t(12),
        )
        .await
        .unwrap();
    assert_eq!(d.payment.state, PaymentState::Authorized);
    assert_eq!(count(&event_kinds(h).await, "payment.step_failed"), 1);
}

async fn concurrent_capture_intents_admit_exactly_one(h: &Harness) {
    let id = authorized(h, PaymentChannel::Web, 5000, 0).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = h.store.clone();
        tasks.push(tokio::spawn(async move {
            s.intend_step(
                id,
                StepRequest::Capture {
                    amount_minor: 4000 + i,
                },
                &holder(s.as_ref(), id).await,
                t(10),
            )
            .await
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Ok(step)) => {
                admitted += 1;
                assert_eq!(step.seq, 2);
            }
            Ok(Err(StepError::StepInProgress { seq: 2 })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(admitted, 1);
    let detail = h.store.get_payment(id).await.unwrap().unwrap();
    assert_eq!(detail.steps.len(), 2);
}

/// Duplicate gateway webhooks and the recovery worker finishing the same
/// capture at once: one capture, one event, every caller told the same.
async fn concurrent_duplicate_finishes_capture_once(h: &Harness) {
    let id = authorized(h, PaymentChannel::Web, 5000, 0).await;
    step(h, id, StepRequest::Capture { amount_minor: 4321 }, 10).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = h.store.clone();
        tasks.push(tokio::spawn(async move {
            s.finish_step(
                id,
                2,
                StepOutcome::succeeded(Some("ch_1".into())),
                &holder(s.as_ref(), id).await,
                t(20 + i),
            )
            .await
        }));
    }
    for task in tasks {
        let detail = task.await.unwrap().unwrap();
        assert_eq!(detail.payment.captured_minor, 4321);
        assert_eq!(detail.payment.state, PaymentState::Captured);
    }
    assert_eq!(count(&event_kinds(h).await, "payment.captured"), 1);
}

async fn intended_steps_are_found_for_recovery(h: &Harness) {
    let s = &h.store;
    let id = authorized(h, PaymentChannel::Web, 5000, 0).await;
    let done = authorized(h, PaymentChannel::Web, 5000, 0).await;
    // The process dies after recording the intent, before the gateway
    // answer is recorded.
    let capture = step(h, id, StepRequest::Capture { amount_minor: 4200 }, 100).await;
    assert!(s
        .payments_with_unfinished_steps(t(100), 10)
        .await
        .unwrap()
        .is_empty());
    let pending = s.payments_with_unfinished_steps(t(160), 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].payment.id, id);
    let open: Vec<&PaymentStep> = pending[0]
        .steps
        .iter()
        .filter(|s| !s.is_finished())
        .collect();
    assert_eq!(open, vec![&capture]);
    assert_ne!(done, id);
    // The recovery worker repeats the call with the same key and records it.
    ok(h, id, capture.seq, "pi_x", 170).await;
    assert!(s
        .payments_with_unfinished_steps(t(1000), 10)
        .await
        .unwrap()
        .is_empty());
}

async fn stale_holds_for_the_sweeper(h: &Harness) {
    let s = &h.store;
    // Never started: authorized at t(10), no session.
    let lonely = authorized(h, PaymentChannel::Web, 5000, 10).await;
    // Ended without a capture.
    let ended = authorized(h, PaymentChannel::Terminal, 5000, 20).await;
    let session = s.start_session(start("CP-1", "T1", 0, 30)).await.unwrap();
    s.link_session(ended, session.session.id, t(31))
        .await
        .unwrap();
    s.stop_session(stop("CP-1", session.session.transaction_id, 500, 40))
        .await
        .unwrap();
    // Still charging.
    let charging = authorized(h, PaymentChannel::Web, 5000, 20).await;
    let running = s.start_session(start("CP-1", "T2", 0, 35)).await.unwrap();
    s.link_session(charging, running.session.id, t(31))
        .await
        .unwrap();
    // Captured, and one whose void is in progress: not the sweeper's.
    let captured = authorized(h, PaymentChannel::Web, 5000, 10).await;
    step(h, captured, StepRequest::Capture { amount_minor: 10 }, 11).await;
    ok(h, captured, 2, "pi_c", 12).await;
    let voiding = authorized(h, PaymentChannel::Web, 5000, 10).await;
    step(h, voiding, StepRequest::Void, 13).await;

    let stale = s.authorized_holds_older_than(t(1000), 10).await.unwrap();
    let found: Vec<(PaymentId, StaleHoldReason)> =
        stale.iter().map(|h| (h.payment.id, h.reason)).collect();
    assert_eq!(
        found,
        vec![
            (lonely, StaleHoldReason::SessionNeverStarted),
            (ended, StaleHoldReason::SessionEnded),
        ]
    );
    // Not yet old enough: only the hold authorized before t(15).
    let early = s.authorized_holds_older_than(t(15), 10).await.unwrap();
    let ids: Vec<PaymentId> = early.iter().map(|h| h.payment.id).collect();
    assert_eq!(ids, vec![lonely]);
    assert_eq!(
        s.authorized_holds_older_than(t(1000), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.payment_for_session(session.session.id)
            .await
            .unwrap()
            .map(|p| p.id),
        Some(ended)
    );
}

async fn link_session_and_gateway_ref(h: &Harness) {
    let s = &h.store;
    let p = s
        .create_payment(new_payment(PaymentChannel::Web, "CP-1", 0))
        .await
        .unwrap();
    let one = s.start_session(start("CP-1", "T1", 0, 10)).await.unwrap();
    let two = s.start_session(start("CP-1", "T2", 0, 20)).await.unwrap();
    assert!(matches!(
        s.link_session(p.id, joule_domain::kernel::ids::SessionId::new_v7(), t(5))
            .await,
        Err(StoreError::NotFound { entity: "session" })
    ));
    assert!(matches!(
        s.link_session(PaymentId::new_v7(), one.session.id, t(5))
            .await,
        Err(StoreError::NotFound { entity: "payment" })
    ));
    // A session on another charger (or connector) is not this payment's.
    let elsewhere = s.start_session(start("CP-9", "T3", 0, 10)).await.unwrap();
    assert!(matches!(
        s.link_session(p.id, elsewhere.session.id, t(11)).await,
        Err(StoreError::Conflict {
            entity: "payment session"
        })
    ));
    let linked = s.link_session(p.id, one.session.id, t(11)).await.unwrap();
    assert_eq!(linked.session_id, Some(one.session.id));
    assert_eq!(
        s.link_session(p.id, one.session.id, t(12)).await.unwrap(),
        linked,
        "idempotent"
    );
    assert!(matches!(
        s.link_session(p.id, two.session.id, t(12)).await,
        Err(StoreError::Conflict { .. })
    ));
    let by_session = s
        .list_payments(
            PaymentFilter {
                session_id: Some(one.session.id),
                ..PaymentFilter::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_session.items, vec![linked.clone()]);
    assert_eq!(s.payment_for_session(two.session.id).await.unwrap(), None);

    let with_ref = s.set_gateway_ref(p.id, "pi_77", t(13)).await.unwrap();
    assert_eq!(with_ref.gateway_payment_ref.as_deref(), Some("pi_77"));
    assert_eq!(
        s.set_gateway_ref(p.id, "pi_77", t(14)).await.unwrap(),
        with_ref
    );
    assert!(matches!(
        s.set_gateway_ref(p.id, "pi_78", t(14)).await,
        Err(StoreError::Conflict { .. })
    ));
    let other = s
        .create_payment(new_payment(PaymentChannel::Web, "CP-1", 1))
        .await
        .unwrap();
    assert!(matches!(
        s.set_gateway_ref(other.id, "pi_77", t(15)).await,
        Err(StoreError::Conflict { .. })
    ));
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "payment.session_linked"), 1);
    assert_eq!(count(&kinds, "payment.gateway_ref_recorded"), 1);
    let events = s.events_after(0, 1000).await.unwrap();
    let link = events
        .iter()
        .find(|e| e.kind.as_str() == "payment.session_linked")
        .unwrap();
    assert_eq!(
        link.session_id.as_deref(),
        Some(one.session.id.to_string().as_str())
    );
}

/// Tallies join the payment's charger to its site; the report groups them
/// per site (chargers in no site last) and per channel, with captured
/// amounts per currency and declines per code.
async fn payment_step_tallies_per_site_and_currency(h: &Harness) {
    let s = &h.store;
    super::charger(h, "CP-M").await;
    super::charger(h, "CP-X").await;
    s.create_site(super::new_site("madrid", Default::default()), t(1))
        .await
        .unwrap();
    s.set_charger_site(&cid("CP-M"), Some(&super::sid("madrid")), t(2))
        .await
        .unwrap()
        .unwrap();
    // Madrid, web: one approved hold captured for 7.00 EUR, one declined.
    let web = s
        .create_payment(new_payment(PaymentChannel::Web, "CP-M", 100))
        .await
        .unwrap();
    step(
        h,
        web.id,
        StepRequest::Authorize { amount_minor: 5000 },
        100,
    )
    .await;
    ok(h, web.id, 1, "pi_w", 101).await;
    step(h, web.id, StepRequest::Capture { amount_minor: 700 }, 110).await;
    ok(h, web.id, 2, "pi_w", 111).await;
    let declined = s
        .create_payment(new_payment(PaymentChannel::Web, "CP-M", 100))
        .await
        .unwrap();
    step(
        h,
        declined.id,
        StepRequest::Authorize { amount_minor: 5000 },
        120,
    )
    .await;
    s.finish_step(
        declined.id,
        1,
        StepOutcome::failed("card_declined", "no"),
        &holder(s.as_ref(), declined.id).await,
        t(121),
    )
    .await
    .unwrap();
    // No site, account: 9.00 USD charged off-session, one insufficient_funds.
    let mut usd = new_payment(PaymentChannel::Account, "CP-X", 130);
    usd.currency = Currency::parse("USD").unwrap();
    let usd = s.create_payment(usd).await.unwrap();
    step(
        h,
        usd.id,
        StepRequest::ChargeOffSession { amount_minor: 900 },
        130,
    )
    .await;
    ok(h, usd.id, 1, "pi_u", 131).await;
    let poor = s
        .create_payment(new_payment(PaymentChannel::Account, "CP-X", 140))
        .await
        .unwrap();
    step(
        h,
        poor.id,
        StepRequest::ChargeOffSession { amount_minor: 900 },
        140,
    )
    .await;
    s.finish_step(
        poor.id,
        1,
        StepOutcome::failed("insufficient_funds", "no"),
        &holder(s.as_ref(), poor.id).await,
        t(141),
    )
    .await
    .unwrap();
    // Outside the range.
    let late = s
        .create_payment(new_payment(PaymentChannel::Web, "CP-M", 300))
        .await
        .unwrap();
    step(
        h,
        late.id,
        StepRequest::Authorize { amount_minor: 5000 },
        300,
    )
    .await;

    let tallies = s.payment_step_tallies(t(100), t(200)).await.unwrap();
    let captured = tallies
        .iter()
        .find(|x| x.kind == StepKind::Capture)
        .unwrap();
    assert_eq!(captured.site_id.as_deref(), Some("madrid"));
    assert_eq!(
        (captured.outcome, captured.count, captured.amount_minor),
        (TallyOutcome::Succeeded, 1, 700)
    );
    let total: u64 = tallies.iter().map(|x| x.count).sum();
    assert_eq!(total, 5, "steps intended in [100, 200)");

    let sites = payment_kpis(&tallies, KpiGrouping::Site);
    assert_eq!(sites.len(), 2);
    let madrid = &sites[0];
    assert_eq!(madrid.site_id.as_deref(), Some("madrid"));
    assert_eq!(
        (
            madrid.authorization_attempts,
            madrid.approvals,
            madrid.declines
        ),
        (2, 1, 1)
    );
    assert_eq!(madrid.success_rate, Some(0.5));
    assert_eq!(madrid.declines_by_code.get("card_declined"), Some(&1));
    assert_eq!(madrid.captured_minor.get("EUR"), Some(&700));
    let nowhere = &sites[1];
    assert_eq!(nowhere.site_id, None);
    assert_eq!((nowhere.approvals, nowhere.captures), (1, 1));
    assert_eq!(nowhere.captured_minor.get("USD"), Some(&900));
    assert_eq!(nowhere.captured_minor.get("EUR"), None);
    assert_eq!(nowhere.declines_by_code.get("insufficient_funds"), Some(&1));

    let channels = payment_kpis(&tallies, KpiGrouping::Channel);
    let web = channels
        .iter()
        .find(|g| g.channel == Some(PaymentChannel::Web))
        .unwrap();
    assert_eq!((web.authorization_attempts, web.captures), (2, 1));
    let later = s.payment_step_tallies(t(200), t(400)).await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].outcome, TallyOutcome::Intended);
}

async fn payment_kpis_per_channel(h: &Harness) {
    let s = &h.store;
    // Web: two attempts, one declined; the approved one is captured.
    let web = authorized(h, PaymentChannel::Web, 5000, 100).await;
    step(h, web, StepRequest::Capture { amount_minor: 700 }, 110).await;
    ok(h, web, 2, "pi", 111).await;
    let declined = s
        .create_payment(new_payment(PaymentChannel::Web, "CP-1", 100))
        .await
        .unwrap();
    step(
        h,
        declined.id,
        StepRequest::Authorize { amount_minor: 5000 },
        101,
    )
    .await;
    s.finish_step(
        declined.id,
        1,
        StepOutcome::failed("card_declined", "no"),
        &holder(s.as_ref(), declined.id).await,
        t(102),
    )
    .await
    .unwrap();
    // Terminal: approved, then voided.
    let term = authorized(h, PaymentChannel::Terminal, 5000, 100).await;
    step(h, term, StepRequest::Void, 120).await;
    ok(h, term, 2, "pi", 121).await;
    // Account: an off-session charge still in progress, and one outside the
    // range.
    let acct = s
        .create_payment(new_payment(PaymentChannel::Account, "CP-1", 100))
        .await
        .unwrap();
    step(
        h,
        acct.id,
        StepRequest::ChargeOffSession { amount_minor: 900 },
        130,
    )
    .await;
    let late = s
        .create_payment(new_payment(PaymentChannel::Account, "CP-1", 500))
        .await
        .unwrap();
    step(
        h,
        late.id,
        StepRequest::ChargeOffSession { amount_minor: 900 },
        500,
    )
    .await;
    ok(h, late.id, 1, "pi_late", 501).await;

    let kpis = s.payment_kpis(t(100), t(200)).await.unwrap();
    let row = |c: PaymentChannel| *kpis.iter().find(|k| k.channel == c).unwrap();
    assert_eq!(kpis.len(), 3);
    let w = row(PaymentChannel::Web);
    assert_eq!(
        (
            w.authorization_attempts,
            w.authorization_successes,
            w.captures,
            w.voids
        ),
        (2, 1, 1, 0)
    );
    let tm = row(PaymentChannel::Terminal);
    assert_eq!(
        (
            tm.authorization_attempts,
            tm.authorization_successes,
            tm.captures,
            tm.voids
        ),
        (1, 1, 0, 1)
    );
    let a = row(PaymentChannel::Account);
    assert_eq!(
        (
            a.authorization_attempts,
            a.authorization_successes,
            a.captures
        ),
        (1, 0, 0)
    );
    let later = s.payment_kpis(t(200), t(600)).await.unwrap();
    let a = later
        .iter()
        .find(|k| k.channel == PaymentChannel::Account)
        .unwrap();
    assert_eq!(
        (
            a.authorization_attempts,
            a.authorization_successes,
            a.captures
        ),
        (1, 1, 1)
    );
}

async fn api_idempotency_begin_and_complete(h: &Harness) {
    let s = &h.store;
    let new = NewIdempotencyRecord {
        scope: "key-1:POST /api/v1/payments/{id}/refund".into(),
        key: "abc".into(),
        request_hash: "h1".into(),
        created_at: t(1),
    };
    let IdempotencyBegin::New(first) = s.begin_idempotent(new.clone()).await.unwrap() else {
        panic!("first use must be new");
    };
    assert_eq!(first.response, None);
    assert_eq!(first.created_at, t(1));
    assert!(matches!(
        s.begin_idempotent(new.clone()).await.unwrap(),
        IdempotencyBegin::InProgress(_)
    ));
    let other_body = NewIdempotencyRecord {
        request_hash: "h2".into(),
        ..new.clone()
    };
    assert!(matches!(
        s.begin_idempotent(other_body).await,
        Err(StoreError::Conflict { .. })
    ));
    // Another scope (another client) may use the same key.
    let other_scope = NewIdempotencyRecord {
        scope: "key-2:POST /api/v1/payments/{id}/refund".into(),
        ..new.clone()
    };
    assert!(matches!(
        s.begin_idempotent(other_scope).await.unwrap(),
        IdempotencyBegin::New(_)
    ));

    let body = json!({"id": "p1", "refunded_minor": 500});
    let done = s
        .complete_idempotent(&new.scope, &new.key, 201, body.clone(), t(2))
        .await
        .unwrap();
    assert_eq!(done.response.as_ref().map(|r| r.status), Some(201));
    assert_eq!(done.completed_at, Some(t(2)));
    let IdempotencyBegin::Completed(repeat) = s.begin_idempotent(new.clone()).await.unwrap() else {
        panic!("a repeat after completion returns the stored response");
    };
    assert_eq!(repeat.response.map(|r| r.body), Some(body.clone()));
    assert_eq!(
        s.complete_idempotent(&new.scope, &new.key, 201, body.clone(), t(3))
            .await
            .unwrap(),
        done
    );
    assert!(matches!(
        s.complete_idempotent(&new.scope, &new.key, 500, json!({}), t(3))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.complete_idempotent("nobody", "nothing", 200, json!({}), t(3))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn open_payment_found_by_id_tag(h: &Harness) {
    let s = &h.store;
    let new = new_payment(PaymentChannel::Web, "CP-1", 3);
    let tag = new.id_tag.clone().unwrap();
    let p = s.create_payment(new).await.unwrap();
    assert_eq!(p.id_tag.as_ref(), Some(&tag));
    assert_eq!(
        s.get_payment(p.id).await.unwrap().unwrap().payment.id_tag,
        Some(tag.clone())
    );
    // Not yet authorized: no charger may start with it.
    assert_eq!(
        s.open_payment_for_id_tag(&cid("CP-1"), &tag).await.unwrap(),
        None
    );
    let st = step(h, p.id, StepRequest::Authorize { amount_minor: 5000 }, 4).await;
    ok(h, p.id, st.seq, "pi_tag", 5).await;
    let open = s
        .open_payment_for_id_tag(&cid("CP-1"), &tag)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.id, p.id);
    // Another charger, or another tag, does not match.
    assert_eq!(
        s.open_payment_for_id_tag(&cid("CP-2"), &tag).await.unwrap(),
        None
    );
    let other = IdToken::parse("NOPE").unwrap();
    assert_eq!(
        s.open_payment_for_id_tag(&cid("CP-1"), &other)
            .await
            .unwrap(),
        None
    );
    // Once a session is linked it is no longer open for a start.
    let session = s
        .start_session(start("CP-1", tag.as_str(), 0, 6))
        .await
        .unwrap();
    s.link_session(p.id, session.session.id, t(7))
        .await
        .unwrap();
    assert_eq!(
        s.open_payment_for_id_tag(&cid("CP-1"), &tag).await.unwrap(),
        None
    );
    // The tag is unique among payments.
    let mut dup = new_payment(PaymentChannel::Web, "CP-1", 8);
    dup.id_tag = Some(tag);
    assert!(matches!(
        s.create_payment(dup).await,
        Err(StoreError::Conflict { .. })
    ));
}

async fn consumer_cursors_are_durable_and_monotonic(h: &Harness) {
    let s = &h.store;
    assert_eq!(s.consumer_cursor("payments").await.unwrap(), 0);
    s.set_consumer_cursor("payments", 7, t(1)).await.unwrap();
    assert_eq!(s.consumer_cursor("payments").await.unwrap(), 7);
    s.set_consumer_cursor("payments", 12, t(2)).await.unwrap();
    // Never backwards.
    s.set_consumer_cursor("payments", 9, t(3)).await.unwrap();
    assert_eq!(s.consumer_cursor("payments").await.unwrap(), 12);
    // Cursors are per consumer.
    assert_eq!(s.consumer_cursor("webhooks").await.unwrap(), 0);
    let before = event_kinds(h).await.len();
    s.set_consumer_cursor("webhooks", 3, t(4)).await.unwrap();
    assert_eq!(
        event_kinds(h).await.len(),
        before,
        "a cursor writes no outbox event"
    );
}

/// An authorized payment with nobody holding it (the set-up's own claim
/// given back).
async fn unclaimed(h: &Harness) -> PaymentId {
    let id = authorized(h, PaymentChannel::Web, 5000, 0).await;
    h.store
        .release_payment_claim(id, &ClaimToken::from_uuid(id.as_uuid()))
        .await
        .unwrap();
    id
}

fn claim_request(owner: ClaimOwner, until: i64) -> (ClaimToken, ClaimRequest) {
    let token = ClaimToken::new();
    (
        token,
        ClaimRequest {
            owner,
            token,
            expires_at: t(until),
        },
    )
}

/// Issue 9: the request path and every worker asking for the same payment
/// at once: one owner, the others told who holds it.
async fn concurrent_claims_grant_exactly_one_owner(h: &Harness) {
    let id = unclaimed(h).await;
    let mut tasks = Vec::new();
    for owner in ClaimOwner::ALL {
        let s = h.store.clone();
        tasks.push(tokio::spawn(async move {
            let (token, request) = claim_request(owner, 200);
            (token, s.claim_payment(id, request, t(100)).await.unwrap())
        }));
    }
    let mut granted = Vec::new();
    for task in tasks {
        let (token, result) = task.await.unwrap();
        match result {
            Ok(detail) => {
                assert_eq!(detail.payment.id, id);
                granted.push(token);
            }
            Err(held) => assert_eq!(held.until, t(200)),
        }
    }
    assert_eq!(granted.len(), 1);
    let claim = h.store.payment_claim(id).await.unwrap().unwrap();
    assert_eq!(claim.token, granted[0]);
    // Released, it is free again; lapsed, it can be taken over.
    h.store
        .release_payment_claim(id, &granted[0])
        .await
        .unwrap();
    assert!(h.store.payment_claim(id).await.unwrap().is_none());
    let (first, request) = claim_request(ClaimOwner::Confirm, 300);
    h.store
        .claim_payment(id, request, t(250))
        .await
        .unwrap()
        .unwrap();
    let (_, early) = claim_request(ClaimOwner::Recovery, 400);
    assert!(h
        .store
        .claim_payment(id, early, t(299))
        .await
        .unwrap()
        .is_err());
    let (second, late) = claim_request(ClaimOwner::Recovery, 400);
    h.store
        .claim_payment(id, late, t(300))
        .await
        .unwrap()
        .unwrap();
    // The lapsed owner's release changes nothing.
    h.store.release_payment_claim(id, &first).await.unwrap();
    assert_eq!(
        h.store.payment_claim(id).await.unwrap().unwrap().token,
        second
    );
    assert!(matches!(
        h.store
            .claim_payment(
                PaymentId::new_v7(),
                claim_request(ClaimOwner::Sweeper, 1).1,
                t(0)
            )
            .await,
        Err(StoreError::NotFound { entity: "payment" })
    ));
}

/// Every state change checks the claim in its own transaction: an actor
/// whose claim was taken over can neither intend nor finish a step.
async fn only_the_claim_holder_changes_a_payment(h: &Harness) {
    let s = &h.store;
    let id = unclaimed(h).await;
    let (old, request) = claim_request(ClaimOwner::Confirm, 60);
    s.claim_payment(id, request, t(0)).await.unwrap().unwrap();
    let step = s
        .intend_step(id, StepRequest::Capture { amount_minor: 100 }, &old, t(1))
        .await
        .unwrap()
        .unwrap();
    let (new, request) = claim_request(ClaimOwner::Recovery, 200);
    s.claim_payment(id, request, t(61)).await.unwrap().unwrap();
    assert!(matches!(
        s.finish_step(id, step.seq, StepOutcome::succeeded(None), &old, t(62))
            .await,
        Err(StoreError::Conflict {
            entity: "payment claim"
        })
    ));
    assert_eq!(
        s.intend_step(id, StepRequest::Void, &ClaimToken::new(), t(62))
            .await
            .unwrap(),
        Err(StepError::NotClaimHolder)
    );
    let done = s
        .finish_step(id, step.seq, StepOutcome::succeeded(None), &new, t(63))
        .await
        .unwrap();
    assert_eq!(done.payment.state, PaymentState::Captured);
}

/// One hold, one start: the attempts are recorded by the claim's holder,
/// and a lost answer is remembered as "may have started".
async fn remote_starts_are_recorded_by_the_holder(h: &Harness) {
    use joule_domain::payments::payment::StartStatus;
    let s = &h.store;
    let id = unclaimed(h).await;
    assert!(s.remote_start(id).await.unwrap().is_none());
    assert_eq!(s.payments_awaiting_start(t(-1), 10).await.unwrap().len(), 1);
    let (token, request) = claim_request(ClaimOwner::Confirm, 60);
    s.claim_payment(id, request, t(1)).await.unwrap().unwrap();
    assert!(matches!(
        s.record_remote_start(id, StartStatus::Sending, &ClaimToken::new(), t(2))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    s.record_remote_start(id, StartStatus::Sending, &token, t(2))
        .await
        .unwrap();
    let r = s
        .record_remote_start(id, StartStatus::Unreachable, &token, t(3))
        .await
        .unwrap();
    assert!(!r.may_have_started);
    assert_eq!(s.payments_awaiting_start(t(-1), 10).await.unwrap().len(), 1);
    s.record_remote_start(id, StartStatus::Sending, &token, t(4))
        .await
        .unwrap();
    let r = s
        .record_remote_start(id, StartStatus::Accepted, &token, t(5))
        .await
        .unwrap();
    assert_eq!(r.attempts, 2);
    assert!(r.may_have_started);
    assert_eq!(s.remote_start(id).await.unwrap().unwrap(), r);
    assert!(s
        .payments_awaiting_start(t(-1), 10)
        .await
        .unwrap()
        .is_empty());
}

/// The sweeper's release of an unused hold and a late StartTransaction:
/// once the release is intended, the tag finds no hold and the session is
/// not linked; once a session is linked, the release is refused.
async fn a_release_in_progress_refuses_a_late_session(h: &Harness) {
    let s = &h.store;
    let mut new = new_payment(PaymentChannel::Web, "CP-1", 0);
    let tag = IdToken::parse("PAY0000000000000001").unwrap();
    new.id_tag = Some(tag.clone());
    let p = s.create_payment(new).await.unwrap();
    let token = holder(s.as_ref(), p.id).await;
    let a = s
        .intend_step(
            p.id,
            StepRequest::Authorize { amount_minor: 5000 },
            &token,
            t(1),
        )
        .await
        .unwrap()
        .unwrap();
    s.finish_step(
        p.id,
        a.seq,
        StepOutcome::succeeded(Some("pi_1".into())),
        &token,
        t(2),
    )
    .await
    .unwrap();
    s.intend_step(p.id, StepRequest::VoidUnused, &token, t(3))
        .await
        .unwrap()
        .unwrap();
    assert!(s
        .open_payment_for_id_tag(&cid("CP-1"), &tag)
        .await
        .unwrap()
        .is_none());
    let session = s
        .start_session(start("CP-1", "PAY0000000000000001", 0, 4))
        .await
        .unwrap()
        .session
        .id;
    assert!(matches!(
        s.link_session(p.id, session, t(5)).await,
        Err(StoreError::Conflict {
            entity: "payment hold"
        })
    ));

    // Linked first: the release of an unused hold is refused.
    let mut new = new_payment(PaymentChannel::Web, "CP-1", 10);
    let tag = IdToken::parse("PAY0000000000000002").unwrap();
    new.id_tag = Some(tag.clone());
    let q = s.create_payment(new).await.unwrap();
    let token = holder(s.as_ref(), q.id).await;
    let a = s
        .intend_step(
            q.id,
            StepRequest::Authorize { amount_minor: 5000 },
            &token,
            t(11),
        )
        .await
        .unwrap()
        .unwrap();
    s.finish_step(
        q.id,
        a.seq,
        StepOutcome::succeeded(Some("pi_2".into())),
        &token,
        t(12),
    )
    .await
    .unwrap();
    let session = s
        .start_session(start("CP-1", "PAY0000000000000002", 0, 13))
        .await
        .unwrap()
        .session
        .id;
    s.link_session(q.id, session, t(14)).await.unwrap();
    assert_eq!(
        s.intend_step(q.id, StepRequest::VoidUnused, &token, t(15))
            .await
            .unwrap(),
        Err(StepError::HoldInUse)
    );
}
