//! The accounts part of the store contract: accounts, token links, card
//! setups, the charge line of each session (charged once) and debt, on
//! both backends.

use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::language::LanguageCode;
use joule_domain::kernel::money::Currency;
use joule_domain::kernel::page::Page;
use joule_domain::payments::account::{
    AccountId, AccountPatch, CardSetup, ChargeStatus, NewAccount, NewAccountCharge, StoredCard,
};
use joule_domain::payments::card::CardSummary;
use joule_domain::payments::gateway::ClientSecret;
use joule_domain::payments::payment::{
    NewPayment, PaymentChannel, PaymentId, PaymentState, ReceiptToken,
};
use joule_domain::pricing::HoldLimitPolicy;

use super::{
    charger, cid, conn, count, event_kinds, postgres_harness, simple_token, sqlite_harness, start,
    stop, t, tag, Harness,
};

contract_tests!(
    account_create_get_list_update,
    account_customer_setup_and_card,
    account_tokens_link_unlink_and_standing,
    account_charge_once_per_session_and_debt,
    uncharged_account_sessions_for_the_sweeper,
);

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn new_account(email: &str) -> NewAccount {
    NewAccount {
        id: AccountId::new_v7(),
        email: email.into(),
        name: "Ana".into(),
        language: LanguageCode::parse("es").unwrap(),
        currency: eur(),
    }
}

fn account_payment(account: AccountId, at: i64) -> NewPayment {
    NewPayment {
        id: PaymentId::new_v7(),
        channel: PaymentChannel::Account,
        gateway: "simulated".into(),
        gateway_payment_ref: None,
        currency: eur(),
        card: None,
        charger_id: cid("CP-1"),
        connector_id: conn(1),
        account_id: Some(account.to_string()),
        terminal_id: None,
        hold_limit_policy: HoldLimitPolicy::StopSession,
        receipt_token: ReceiptToken::from_random_bytes(*uuid::Uuid::new_v4().as_bytes()),
        language: "es".into(),
        id_tag: None,
        created_at: t(at),
    }
}

fn card(pm: &str) -> StoredCard {
    StoredCard {
        gateway: "simulated".into(),
        customer_ref: "sim_cus_1".into(),
        payment_method_ref: pm.into(),
        summary: CardSummary::new("visa", "4242", Some(12), Some(2030)).unwrap(),
        saved_at: t(5),
    }
}

fn setup(account: AccountId, token: &str, setup_ref: &str) -> CardSetup {
    CardSetup {
        token: token.into(),
        account_id: account,
        gateway: "simulated".into(),
        setup_ref: setup_ref.into(),
        client_secret: ClientSecret::new(format!("{setup_ref}_secret")),
        created_at: t(3),
        completed_at: None,
    }
}

async fn account_create_get_list_update(h: &Harness) {
    let s = &h.store;
    let a = s
        .create_account(new_account("ana@example.com"), t(1))
        .await
        .unwrap();
    assert_eq!(a.email, "ana@example.com");
    assert_eq!(a.language.as_str(), "es");
    assert_eq!(a.currency, eur());
    assert!(a.card.is_none() && a.customer.is_none());
    assert_eq!(s.get_account(a.id).await.unwrap(), Some(a.clone()));
    assert!(matches!(
        s.create_account(new_account("ANA@example.com"), t(2)).await,
        Err(StoreError::Conflict { .. })
    ));
    let b = s
        .create_account(new_account("bo@example.com"), t(2))
        .await
        .unwrap();
    let page = s.list_accounts(Page::new(Some(1), None)).await.unwrap();
    assert_eq!(page.items, vec![a.clone()]);
    assert_eq!(page.next_offset, Some(1));
    let patched = s
        .update_account(
            a.id,
            AccountPatch {
                name: Some("Ana B".into()),
                currency: Some(Currency::parse("USD").unwrap()),
                ..AccountPatch::default()
            },
            t(3),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (patched.name.as_str(), patched.currency.code()),
        ("Ana B", "USD")
    );
    assert_eq!(patched.email, "ana@example.com");
    assert_eq!(patched.updated_at, t(3));
    assert!(matches!(
        s.update_account(
            b.id,
            AccountPatch {
                email: Some("ana@EXAMPLE.com".into()),
                ..AccountPatch::default()
            },
            t(4)
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        s.update_account(AccountId::new_v7(), AccountPatch::default(), t(4))
            .await
            .unwrap(),
        None
    );
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "account.created"), 2);
    assert_eq!(count(&kinds, "account.updated"), 1);
}

async fn account_customer_setup_and_card(h: &Harness) {
    let s = &h.store;
    let a = s
        .create_account(new_account("ana@example.com"), t(1))
        .await
        .unwrap();
    let with = s
        .set_account_customer(a.id, "simulated", "sim_cus_1", t(2))
        .await
        .unwrap();
    assert_eq!(
        with.customer,
        Some(("simulated".into(), "sim_cus_1".into()))
    );
    // A racing second customer at the same gateway loses to the first.
    let again = s
        .set_account_customer(a.id, "simulated", "sim_cus_2", t(2))
        .await
        .unwrap();
    assert_eq!(
        again.customer,
        Some(("simulated".into(), "sim_cus_1".into()))
    );
    assert!(matches!(
        s.set_account_customer(AccountId::new_v7(), "simulated", "x", t(2))
            .await,
        Err(StoreError::NotFound { .. })
    ));

    let created = s
        .create_card_setup(setup(a.id, "tok1", "sim_seti_1"))
        .await
        .unwrap();
    assert_eq!(created.client_secret.expose(), "sim_seti_1_secret");
    assert!(matches!(
        s.create_card_setup(setup(a.id, "tok1", "sim_seti_9")).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.card_setup("tok1").await.unwrap(), Some(created.clone()));
    assert_eq!(
        s.card_setup_by_ref("simulated", "sim_seti_1")
            .await
            .unwrap(),
        Some(created)
    );
    assert_eq!(s.card_setup("nope").await.unwrap(), None);

    let saved = s
        .save_account_card("tok1", card("sim_pm_1"), t(5))
        .await
        .unwrap();
    let c = saved.card.clone().unwrap();
    assert_eq!(
        (c.payment_method_ref.as_str(), c.summary.last4.as_str()),
        ("sim_pm_1", "4242")
    );
    assert_eq!(c.summary.exp_year, Some(2030));
    assert_eq!(
        s.card_setup("tok1").await.unwrap().unwrap().completed_at,
        Some(t(5))
    );
    // The callback and the webhook both complete: the second changes nothing.
    assert_eq!(
        s.save_account_card("tok1", card("sim_pm_1"), t(6))
            .await
            .unwrap(),
        saved
    );
    // A new card replaces the old one.
    s.create_card_setup(setup(a.id, "tok2", "sim_seti_2"))
        .await
        .unwrap();
    let replaced = s
        .save_account_card("tok2", card("sim_pm_2"), t(7))
        .await
        .unwrap();
    assert_eq!(replaced.card.unwrap().payment_method_ref, "sim_pm_2");
    assert!(matches!(
        s.save_account_card("nope", card("x"), t(7)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(count(&event_kinds(h).await, "account.card_saved"), 2);
}

async fn account_tokens_link_unlink_and_standing(h: &Harness) {
    let s = &h.store;
    let a = s
        .create_account(new_account("ana@example.com"), t(1))
        .await
        .unwrap();
    let b = s
        .create_account(new_account("bo@example.com"), t(1))
        .await
        .unwrap();
    s.create_token(simple_token("RFID-B"), t(0)).await.unwrap();
    s.create_token(simple_token("rfid-a"), t(0)).await.unwrap();
    assert!(matches!(
        s.link_account_token(a.id, &tag("UNKNOWN"), t(2)).await,
        Err(StoreError::NotFound { entity: "id token" })
    ));
    assert!(matches!(
        s.link_account_token(AccountId::new_v7(), &tag("RFID-B"), t(2))
            .await,
        Err(StoreError::NotFound { entity: "account" })
    ));
    s.link_account_token(a.id, &tag("RFID-B"), t(2))
        .await
        .unwrap();
    let tags = s
        .link_account_token(a.id, &tag("RFID-A"), t(2))
        .await
        .unwrap();
    // Stored spelling, sorted; linking again is harmless.
    assert_eq!(
        tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        vec!["rfid-a", "RFID-B"]
    );
    assert_eq!(
        s.link_account_token(a.id, &tag("rfid-b"), t(3))
            .await
            .unwrap(),
        tags
    );
    assert!(matches!(
        s.link_account_token(b.id, &tag("RFID-B"), t(3)).await,
        Err(StoreError::Conflict { .. })
    ));
    let standing = s.account_standing(&tag("rfid-b")).await.unwrap().unwrap();
    assert_eq!(standing.account_id, a.id);
    assert!(!standing.has_card && !standing.in_debt);

    assert!(s
        .unlink_account_token(a.id, &tag("RFID-A"), t(4))
        .await
        .unwrap());
    assert!(!s
        .unlink_account_token(a.id, &tag("RFID-A"), t(4))
        .await
        .unwrap());
    assert!(!s
        .unlink_account_token(b.id, &tag("RFID-B"), t(4))
        .await
        .unwrap());
    assert_eq!(s.account_tokens(a.id).await.unwrap(), vec![tag("RFID-B")]);
    assert_eq!(s.account_standing(&tag("RFID-A")).await.unwrap(), None);
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "account.token_linked"), 2);
    assert_eq!(count(&kinds, "account.token_unlinked"), 1);
}

async fn account_charge_once_per_session_and_debt(h: &Harness) {
    let s = &h.store;
    charger(h, "CP-1").await;
    let a = s
        .create_account(new_account("ana@example.com"), t(1))
        .await
        .unwrap();
    s.create_token(simple_token("RFID-1"), t(0)).await.unwrap();
    s.link_account_token(a.id, &tag("RFID-1"), t(2))
        .await
        .unwrap();
    let started = s
        .start_session(start("CP-1", "RFID-1", 0, 10))
        .await
        .unwrap();
    let session = started.session.id;
    assert_eq!(s.account_for_session(session).await.unwrap(), Some(a.id));
    let new = NewAccountCharge {
        session_id: session,
        account_id: a.id,
        amount_minor: 750,
        currency: eur(),
        created_at: t(30),
    };
    let (line, created) = s
        .begin_account_charge(new.clone(), Some(account_payment(a.id, 30)))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(line.status, ChargeStatus::Pending);
    assert!(!line.is_debt(), "pending is not debt");
    let first_payment = line.payment_id.unwrap();
    let p = s.get_payment(first_payment).await.unwrap().unwrap().payment;
    assert_eq!(p.session_id, Some(session));
    assert_eq!(p.state, PaymentState::Created);
    // A second charger of the same session (the sweeper racing the
    // consumer) gets the line and writes nothing.
    let (again, created) = s
        .begin_account_charge(new.clone(), Some(account_payment(a.id, 31)))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, line);
    assert_eq!(
        s.pending_account_charges(10).await.unwrap(),
        vec![line.clone()]
    );

    let debt = s
        .set_account_charge_status(session, ChargeStatus::Debt, t(40))
        .await
        .unwrap();
    assert_eq!(debt.debt_since, Some(t(40)));
    assert!(
        s.account_standing(&tag("RFID-1"))
            .await
            .unwrap()
            .unwrap()
            .in_debt
    );
    assert_eq!(s.account_debts(a.id).await.unwrap(), vec![debt.clone()]);
    assert!(s.pending_account_charges(10).await.unwrap().is_empty());

    let retry = s
        .retry_account_charge(session, account_payment(a.id, 50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retry.status, ChargeStatus::Pending);
    assert_ne!(retry.payment_id, Some(first_payment));
    assert_eq!(retry.debt_since, Some(t(40)));
    // Still owed while the settlement is in flight; a second retry waits.
    assert!(
        s.account_standing(&tag("RFID-1"))
            .await
            .unwrap()
            .unwrap()
            .in_debt
    );
    assert_eq!(
        s.retry_account_charge(session, account_payment(a.id, 51))
            .await
            .unwrap(),
        None
    );
    // The session keeps its first payment.
    assert_eq!(
        s.payment_for_session(session).await.unwrap().unwrap().id,
        first_payment
    );
    let paid = s
        .set_account_charge_status(session, ChargeStatus::Paid, t(60))
        .await
        .unwrap();
    assert_eq!(
        paid.debt_since,
        Some(t(40)),
        "a settled debt keeps its date"
    );
    assert!(s.account_debts(a.id).await.unwrap().is_empty());
    assert!(
        !s.account_standing(&tag("RFID-1"))
            .await
            .unwrap()
            .unwrap()
            .in_debt
    );
    assert!(matches!(
        s.set_account_charge_status(
            joule_domain::kernel::ids::SessionId::new_v7(),
            ChargeStatus::Paid,
            t(60)
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
    // Nothing owed: a paid line without a payment.
    let other = s
        .start_session(start("CP-1", "RFID-1", 0, 70))
        .await
        .unwrap()
        .session
        .id;
    let (zero, _) = s
        .begin_account_charge(
            NewAccountCharge {
                session_id: other,
                amount_minor: 0,
                ..new
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((zero.status, zero.payment_id), (ChargeStatus::Paid, None));
    assert_eq!(count(&event_kinds(h).await, "account.charge_changed"), 5);
}

async fn uncharged_account_sessions_for_the_sweeper(h: &Harness) {
    let s = &h.store;
    charger(h, "CP-1").await;
    let a = s
        .create_account(new_account("ana@example.com"), t(1))
        .await
        .unwrap();
    s.create_token(simple_token("RFID-1"), t(0)).await.unwrap();
    s.create_token(simple_token("OTHER"), t(0)).await.unwrap();
    // Before the link: not the account's.
    let before = s
        .start_session(start("CP-1", "RFID-1", 0, 5))
        .await
        .unwrap()
        .session;
    s.stop_session(stop("CP-1", before.transaction_id, 100, 8))
        .await
        .unwrap();
    s.link_account_token(a.id, &tag("RFID-1"), t(20))
        .await
        .unwrap();
    assert_eq!(s.account_for_session(before.id).await.unwrap(), None);
    let mut refused = start("CP-1", "RFID-1", 0, 21);
    refused.authorization = joule_domain::charging::auth::AuthorizationStatus::Blocked;
    let refused = s.start_session(refused).await.unwrap().session;
    s.stop_session(stop("CP-1", refused.transaction_id, 0, 22))
        .await
        .unwrap();
    assert_eq!(s.account_for_session(refused.id).await.unwrap(), None);
    let mine = s
        .start_session(start("CP-1", "RFID-1", 0, 30))
        .await
        .unwrap()
        .session;
    let running = s
        .start_session(start("CP-1", "rfid-1", 50, 35))
        .await
        .unwrap()
        .session;
    let foreign = s
        .start_session(start("CP-1", "OTHER", 0, 30))
        .await
        .unwrap()
        .session;
    s.stop_session(stop("CP-1", mine.transaction_id, 100, 40))
        .await
        .unwrap();
    s.stop_session(stop("CP-1", foreign.transaction_id, 100, 40))
        .await
        .unwrap();
    assert_eq!(s.account_for_session(running.id).await.unwrap(), Some(a.id));
    // Ended at t(41) (received): found once ended before the cut-off.
    assert!(s
        .uncharged_account_sessions(t(40), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.uncharged_account_sessions(t(41), 10).await.unwrap(),
        vec![mine.id]
    );
    s.begin_account_charge(
        NewAccountCharge {
            session_id: mine.id,
            account_id: a.id,
            amount_minor: 0,
            currency: eur(),
            created_at: t(50),
        },
        None,
    )
    .await
    .unwrap();
    assert!(s
        .uncharged_account_sessions(t(100), 10)
        .await
        .unwrap()
        .is_empty());
}
