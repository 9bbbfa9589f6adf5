//! Hold limits and receipt emails in the store contract (migration 0011):
//! the open holds of running sessions, the once-per-session stop claim, and
//! the receipt email queue (exactly once; one resend at most after a crash).

use chrono::Duration;
use joule_domain::kernel::error::StoreError;
use joule_domain::payments::payment::{PaymentChannel, PaymentId, StepRequest};
use joule_domain::receipts::email::{EmailAddress, ReceiptEmailOutcome, ReceiptEmailState};

use super::payments::{authorized, ok, step};
use super::{postgres_harness, sqlite_harness, start, stop, t, Harness};

contract_tests!(
    held_active_sessions_and_one_stop_claim,
    receipt_email_is_sent_once,
    receipt_email_retries_and_gives_up,
    receipt_email_resent_at_most_once_after_a_crash,
);

async fn held_active_sessions_and_one_stop_claim(h: &Harness) {
    let s = &h.store;
    let running = authorized(h, PaymentChannel::Web, 2000, 10).await;
    let started = s.start_session(start("CP-1", "T1", 0, 20)).await.unwrap();
    s.link_session(running, started.session.id, t(21))
        .await
        .unwrap();
    // A hold without a session, and one whose session ended: not watched.
    authorized(h, PaymentChannel::Web, 2000, 11).await;
    let ended = authorized(h, PaymentChannel::Terminal, 2000, 12).await;
    let gone = s.start_session(start("CP-1", "T2", 0, 22)).await.unwrap();
    s.link_session(ended, gone.session.id, t(23)).await.unwrap();
    s.stop_session(stop("CP-1", gone.session.transaction_id, 100, 24))
        .await
        .unwrap();

    let held = s.held_active_sessions(10).await.unwrap();
    let ids: Vec<PaymentId> = held.iter().map(|p| p.id).collect();
    assert_eq!(ids, vec![running]);
    assert_eq!(held[0].session_id, Some(started.session.id));

    // The stop is claimed once; again only after the retry time.
    assert!(s.claim_hold_stop(running, t(30), t(0)).await.unwrap());
    assert!(!s.claim_hold_stop(running, t(31), t(29)).await.unwrap());
    assert!(!s.claim_hold_stop(running, t(40), t(30)).await.unwrap());
    assert!(s.claim_hold_stop(running, t(200), t(80)).await.unwrap());
    assert!(matches!(
        s.claim_hold_stop(PaymentId::new_v7(), t(1), t(0)).await,
        Err(StoreError::NotFound { .. })
    ));

    // Captured: no longer watched.
    step(h, running, StepRequest::Capture { amount_minor: 100 }, 300).await;
    ok(h, running, 2, "pi_r", 301).await;
    assert!(s.held_active_sessions(10).await.unwrap().is_empty());
}

fn address(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap()
}

async fn receipt_email_is_sent_once(h: &Harness) {
    let s = &h.store;
    let p = authorized(h, PaymentChannel::Web, 2000, 10).await;
    assert!(matches!(
        s.set_receipt_email(PaymentId::new_v7(), &address("a@b.example"), t(1))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // Nothing given: nothing becomes due.
    assert!(!s.receipt_email_due(p, t(11)).await.unwrap());
    assert!(s.receipt_email(p).await.unwrap().is_none());

    s.set_receipt_email(p, &address("first@example.org"), t(12))
        .await
        .unwrap();
    s.set_receipt_email(p, &address("driver@example.org"), t(13))
        .await
        .unwrap();
    let e = s.receipt_email(p).await.unwrap().unwrap();
    assert_eq!(e.state, ReceiptEmailState::Waiting);
    assert_eq!(e.address.unwrap().as_str(), "driver@example.org");
    // Not due before the capture.
    assert!(s
        .claim_receipt_emails(t(100), t(0), 10)
        .await
        .unwrap()
        .is_empty());

    assert!(s.receipt_email_due(p, t(20)).await.unwrap());
    assert!(
        !s.receipt_email_due(p, t(21)).await.unwrap(),
        "repeat: no change"
    );
    assert!(matches!(
        s.set_receipt_email(p, &address("late@example.org"), t(22))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(s
        .claim_receipt_emails(t(19), t(0), 10)
        .await
        .unwrap()
        .is_empty());
    let jobs = s.claim_receipt_emails(t(30), t(0), 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].payment_id, jobs[0].attempt), (p, 1));
    assert_eq!(jobs[0].address.as_str(), "driver@example.org");
    // Claimed: a second sender gets nothing.
    assert!(s
        .claim_receipt_emails(t(31), t(0), 10)
        .await
        .unwrap()
        .is_empty());
    s.finish_receipt_email(p, ReceiptEmailOutcome::Sent, t(32))
        .await
        .unwrap();
    let e = s.receipt_email(p).await.unwrap().unwrap();
    assert_eq!(e.state, ReceiptEmailState::Sent);
    assert_eq!(e.sent_at, Some(t(32)));
    assert!(e.address.is_none(), "the address is erased once sent");
    assert!(s
        .claim_receipt_emails(t(10_000), t(9_000), 10)
        .await
        .unwrap()
        .is_empty());
}

async fn receipt_email_retries_and_gives_up(h: &Harness) {
    let s = &h.store;
    let p = authorized(h, PaymentChannel::Web, 2000, 10).await;
    s.set_receipt_email(p, &address("driver@example.org"), t(11))
        .await
        .unwrap();
    s.receipt_email_due(p, t(20)).await.unwrap();
    assert_eq!(
        s.claim_receipt_emails(t(20), t(0), 10).await.unwrap().len(),
        1
    );
    let retry = ReceiptEmailOutcome::Retry {
        at: t(60),
        error: "421 try later".into(),
    };
    s.finish_receipt_email(p, retry, t(21)).await.unwrap();
    let e = s.receipt_email(p).await.unwrap().unwrap();
    assert_eq!(
        (e.state, e.next_attempt_at),
        (ReceiptEmailState::Due, Some(t(60)))
    );
    assert_eq!(e.last_error.as_deref(), Some("421 try later"));
    assert!(s
        .claim_receipt_emails(t(59), t(0), 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_receipt_emails(t(60), t(0), 10).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    s.finish_receipt_email(
        p,
        ReceiptEmailOutcome::Failed {
            error: "550 no such user".into(),
        },
        t(61),
    )
    .await
    .unwrap();
    let e = s.receipt_email(p).await.unwrap().unwrap();
    assert_eq!(e.state, ReceiptEmailState::Failed);
    assert!(s
        .claim_receipt_emails(t(10_000), t(9_000), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        s.finish_receipt_email(PaymentId::new_v7(), ReceiptEmailOutcome::Sent, t(1))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn receipt_email_resent_at_most_once_after_a_crash(h: &Harness) {
    let s = &h.store;
    let p = authorized(h, PaymentChannel::Web, 2000, 10).await;
    s.set_receipt_email(p, &address("driver@example.org"), t(11))
        .await
        .unwrap();
    s.receipt_email_due(p, t(20)).await.unwrap();
    assert_eq!(
        s.claim_receipt_emails(t(20), t(0), 10).await.unwrap().len(),
        1
    );
    // The sender died while sending: not claimed again while it may still
    // be sending, then once.
    let stale = |at: i64| t(at) - Duration::seconds(60);
    assert!(s
        .claim_receipt_emails(t(50), stale(50), 10)
        .await
        .unwrap()
        .is_empty());
    let resend = s
        .claim_receipt_emails(t(100), stale(100), 10)
        .await
        .unwrap();
    assert_eq!(resend.len(), 1);
    assert_eq!(resend[0].attempt, 2);
    assert!(
        s.receipt_email(p)
            .await
            .unwrap()
            .unwrap()
            .resent_after_crash
    );
    // It died again: given up, never a third copy.
    assert!(s
        .claim_receipt_emails(t(200), stale(200), 10)
        .await
        .unwrap()
        .is_empty());
    let e = s.receipt_email(p).await.unwrap().unwrap();
    assert_eq!(e.state, ReceiptEmailState::Failed);
    assert_eq!(e.attempts, 2);
}
