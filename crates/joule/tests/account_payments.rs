//! Driver accounts on the real SQLite store and the real simulated gateway
//! (docs/payments.md, "Accounts"): a card saved through a setup, an ended
//! session charged off-session exactly once, a declined charge becoming
//! debt that blocks the account's token until settled, and a gateway
//! outage that never blocks the driver and is finished by the recovery
//! worker. Real chargers and localstripe are in
//! tests/interop/test_account_payments.py.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use joule_domain::charging::auth::{AuthorizationReason, AuthorizationStatus};
use joule_domain::payments::account::{AccountId, AccountRules, ChargeStatus};

use joule_domain::kernel::ids::{ConnectorId, IdToken, SessionId, TransactionId};
use joule_domain::payments::gateway::GatewayEventKind;

use joule_domain::kernel::page::Page;
use joule_domain::payments::payment::{
    PaymentChannel, PaymentFilter, PaymentState, StepKind, StepStatus,
};
use joule_domain::services::charging::{StartRequest, StopRequest};
use joule_domain::services::payments::PaymentError;

use joule_payments::simulated::Fault;

use test_support::{ScriptedCharger, WorldBuilder};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

/// The shared payment world with a driver account and its RFID token,
/// with this file's steps as methods.
struct World {
    inner: test_support::World,
    tag: IdToken,
    account: AccountId,
}

impl std::ops::Deref for World {
    type Target = test_support::World;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// 0.30 EUR/kWh: 10 kWh cost 3.00 EUR. Account sessions start at the
/// charger (RFID); nothing is sent to it.
async fn world(rules: AccountRules) -> World {
    let inner = WorldBuilder::new("CP-ACC", t0())
        .connector_available(false)
        .charger(ScriptedCharger::offline())
        .accounts(rules)
        .account("RFID-ANA", "ana@example.com", "Ana", "es")
        .build()
        .await;
    World {
        tag: inner.account_tag().clone(),
        account: inner.account(),
        inner,
    }
}

impl World {
    /// Saves `card` (a simulated test card) through a card setup, as the
    /// card page does.
    async fn save_card(&self, card: &str) {
        let started = self.payments.start_card_setup(self.account).await.unwrap();
        assert!(started.page_url.ends_with(&started.setup.token));
        let account = self
            .payments
            .enter_test_setup_card(&started.setup.token, card)
            .await
            .unwrap();
        assert!(account.card.is_some());
    }

    async fn authorize(&self) -> (AuthorizationStatus, AuthorizationReason) {
        let d = self.charging.authorize(&self.cp, &self.tag).await.unwrap();
        (d.status, d.reason)
    }

    /// A session of 10 kWh, started and stopped with the account's tag.
    async fn charge_10_kwh(&self) -> SessionId {
        let start = self.clock_now();
        let (outcome, decision) = self
            .charging
            .start_transaction(
                &self.cp,
                StartRequest {
                    connector_id: ConnectorId::new(1).unwrap(),
                    id_tag: self.tag.clone(),
                    meter_start_wh: 1000,
                    timestamp: start,
                    reservation_id: None,
                },
            )
            .await
            .unwrap();
        assert!(decision.is_accepted(), "{decision:?}");
        self.clock.advance(chrono::Duration::minutes(30));
        self.charging
            .stop_transaction(
                &self.cp,
                StopRequest {
                    transaction_id: TransactionId::new(outcome.session.transaction_id.get())
                        .unwrap(),
                    id_tag: Some(self.tag.clone()),
                    meter_stop_wh: 11_000,
                    timestamp: start + chrono::Duration::minutes(30),
                    reason: None,
                    transaction_data: vec![],
                },
            )
            .await
            .unwrap();
        self.clock.advance(chrono::Duration::seconds(1));
        outcome.session.id
    }

    fn clock_now(&self) -> DateTime<Utc> {
        use joule_domain::ports::clock::Clock;
        self.clock.now()
    }

    async fn account_payments(&self) -> Vec<joule_domain::payments::payment::Payment> {
        self.store
            .list_payments(
                PaymentFilter {
                    channel: Some(PaymentChannel::Account),
                    ..PaymentFilter::default()
                },
                Page::default(),
            )
            .await
            .unwrap()
            .items
    }

    /// Off-session charges the simulated gateway took (its webhooks).
    fn charges_taken(&self) -> usize {
        self.gateway
            .take_events()
            .into_iter()
            .filter(|e| matches!(e.kind, GatewayEventKind::IntentSucceeded { .. }))
            .count()
    }
}

#[tokio::test]
async fn an_ended_session_is_charged_off_session_once() {
    let w = world(AccountRules::default()).await;
    assert_eq!(
        w.authorize().await,
        (
            AuthorizationStatus::Blocked,
            AuthorizationReason::AccountWithoutCard
        )
    );
    w.save_card("sim_visa").await;
    assert_eq!(w.authorize().await.0, AuthorizationStatus::Accepted);
    let session = w.charge_10_kwh().await;

    let line = w
        .payments
        .settle_account_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((line.status, line.amount_minor), (ChargeStatus::Paid, 300));
    // The consumer seeing the event again, and the sweeper, charge nothing more.
    w.payments.settle_account_session(session).await.unwrap();
    w.clock.advance(chrono::Duration::minutes(5));
    let report = w.payments.sweep_accounts().await.unwrap();
    assert_eq!(report.charged, 0);
    let paid = w.account_payments().await;
    assert_eq!(paid.len(), 1);
    let p = &paid[0];
    assert_eq!(
        (p.state, p.captured_minor, p.session_id),
        (PaymentState::Captured, 300, Some(session))
    );
    assert_eq!(
        p.account_id.as_deref(),
        Some(w.account.to_string().as_str())
    );
    assert_eq!(p.card.as_ref().unwrap().last4, "4242");
    let steps = w.store.get_payment(p.id).await.unwrap().unwrap().steps;
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].kind, StepKind::ChargeOffSession);
    assert_eq!(steps[0].status, StepStatus::Succeeded);
    assert_eq!(w.charges_taken(), 1);
}

#[tokio::test]
async fn a_declined_charge_is_debt_that_blocks_until_settled() {
    let w = world(AccountRules::default()).await;
    // Saved fine, declined when charged.
    w.save_card("sim_insufficient_funds").await;
    let session = w.charge_10_kwh().await;
    let line = w
        .payments
        .settle_account_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line.status, ChargeStatus::Debt);
    assert!(line.is_debt());
    let failed = w
        .store
        .get_payment(line.payment_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.payment.state, PaymentState::Failed);
    assert!(matches!(
        &failed.steps[0].status,
        StepStatus::Failed { code, .. } if code == "insufficient_funds"
    ));
    assert_eq!(
        w.authorize().await,
        (
            AuthorizationStatus::Blocked,
            AuthorizationReason::AccountInDebt
        )
    );
    // Retrying with the same card declines again: still blocked.
    let again = w.payments.settle_account_debt(w.account).await.unwrap();
    assert_eq!(again[0].status, ChargeStatus::Debt);
    assert_eq!(w.authorize().await.0, AuthorizationStatus::Blocked);

    w.save_card("sim_visa").await;
    let settled = w.payments.settle_account_debt(w.account).await.unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].status, ChargeStatus::Paid);
    assert_eq!(settled[0].debt_since, line.debt_since);
    assert!(w.store.account_debts(w.account).await.unwrap().is_empty());
    assert_eq!(w.authorize().await.0, AuthorizationStatus::Accepted);
    // Three attempts, one taken; the session keeps its first payment.
    let states: Vec<_> = w.account_payments().await.iter().map(|p| p.state).collect();
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == PaymentState::Captured)
            .count(),
        1
    );
    assert_eq!(states.len(), 3);
    assert_eq!(w.charges_taken(), 1);
    // Nothing left to settle.
    assert!(w
        .payments
        .settle_account_debt(w.account)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_outage_never_blocks_and_recovery_charges_exactly_once() {
    let w = world(AccountRules::default()).await;
    w.save_card("sim_visa").await;
    let session = w.charge_10_kwh().await;
    // The gateway takes the charge, then the answer is lost.
    w.gateway.inject_fault(Fault::TimeoutAfterApplying);
    let line = w
        .payments
        .settle_account_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line.status, ChargeStatus::Pending);
    assert!(!line.is_debt());
    assert_eq!(w.authorize().await.0, AuthorizationStatus::Accepted);
    let p = w
        .store
        .get_payment(line.payment_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.steps[0].status, StepStatus::Intended);

    // Too early for recovery: the step may still be in flight.
    assert_eq!(w.payments.recover().await.unwrap().finished, 0);
    w.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(w.payments.recover().await.unwrap().finished, 1);
    let report = w.payments.sweep_accounts().await.unwrap();
    assert_eq!(report.reconciled, 1);
    let line = w.store.account_charge(session).await.unwrap().unwrap();
    assert_eq!(line.status, ChargeStatus::Paid);
    let p = w
        .store
        .get_payment(line.payment_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.payment.state, p.payment.captured_minor),
        (PaymentState::Captured, 300)
    );
    // The repeat carried the step's key: the gateway charged once.
    assert_eq!(w.charges_taken(), 1);
}

#[tokio::test]
async fn an_outage_before_the_call_is_retried_by_recovery() {
    let w = world(AccountRules::default()).await;
    w.save_card("sim_visa").await;
    let session = w.charge_10_kwh().await;
    w.gateway.inject_fault(Fault::Unavailable);
    let line = w
        .payments
        .settle_account_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line.status, ChargeStatus::Pending);
    w.clock.advance(chrono::Duration::minutes(2));
    w.payments.recover().await.unwrap();
    w.payments.sweep_accounts().await.unwrap();
    assert_eq!(
        w.store
            .account_charge(session)
            .await
            .unwrap()
            .unwrap()
            .status,
        ChargeStatus::Paid
    );
    assert_eq!(w.charges_taken(), 1);
}

#[tokio::test]
async fn the_sweeper_charges_a_session_the_consumer_missed() {
    let w = world(AccountRules::default()).await;
    w.save_card("sim_visa").await;
    let session = w.charge_10_kwh().await;
    // Not yet: the session ended less than `recovery_after` ago.
    assert_eq!(w.payments.sweep_accounts().await.unwrap().charged, 0);
    w.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(w.payments.sweep_accounts().await.unwrap().charged, 1);
    assert_eq!(
        w.store
            .account_charge(session)
            .await
            .unwrap()
            .unwrap()
            .status,
        ChargeStatus::Paid
    );
    assert_eq!(w.payments.sweep_accounts().await.unwrap().charged, 0);
    assert_eq!(w.charges_taken(), 1);
}

#[tokio::test]
async fn without_a_card_a_lenient_operator_lets_the_session_run_and_records_debt() {
    let w = world(AccountRules {
        block_in_debt: true,
        require_card: false,
    })
    .await;
    assert_eq!(w.authorize().await.0, AuthorizationStatus::Accepted);
    let session = w.charge_10_kwh().await;
    let line = w
        .payments
        .settle_account_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line.status, ChargeStatus::Debt);
    let p = w
        .store
        .get_payment(line.payment_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        &p.steps[0].status,
        StepStatus::Failed { code, .. } if code == "no_saved_card"
    ));
    assert_eq!(w.charges_taken(), 0);
    assert!(matches!(
        w.payments.settle_account_debt(w.account).await,
        Err(PaymentError::NoCard)
    ));
    assert_eq!(
        w.authorize().await,
        (
            AuthorizationStatus::Blocked,
            AuthorizationReason::AccountInDebt
        )
    );
}

#[tokio::test]
async fn the_card_setup_webhook_saves_the_card_too() {
    let w = world(AccountRules::default()).await;
    let started = w.payments.start_card_setup(w.account).await.unwrap();
    // A second setup reuses the account's customer.
    let second = w.payments.start_card_setup(w.account).await.unwrap();
    assert_ne!(started.setup.token, second.setup.token);
    let account = w.store.get_account(w.account).await.unwrap().unwrap();
    assert!(account.customer.is_some());
    // The browser saved the card at the gateway; the page's callback never
    // came. The gateway's webhook completes it.
    let entry = w
        .payments
        .gateways()
        .test_cards("simulated")
        .unwrap()
        .clone();
    entry
        .confirm_test_setup(
            &joule_domain::payments::gateway::SetupRef::parse(started.setup.setup_ref.as_str())
                .unwrap(),
            "sim_mastercard",
        )
        .unwrap();
    // Nothing saved before the browser confirms; the callback says so.
    assert!(matches!(
        w.payments.complete_card_setup(&second.setup.token).await,
        Err(PaymentError::NotConfirmable(_))
    ));
    let event = w
        .gateway
        .take_events()
        .into_iter()
        .find(|e| matches!(e.kind, GatewayEventKind::SetupSucceeded { .. }))
        .unwrap();
    let signed = w.gateway.signed_webhook(&event).unwrap();
    let headers = [(
        joule_payments::simulated::SIGNATURE_HEADER,
        signed.signature.as_str(),
    )];
    w.payments
        .handle_webhook(
            "simulated",
            &joule_domain::payments::gateway::WebhookPayload {
                headers: &headers,
                body: &signed.body,
            },
        )
        .await
        .unwrap();
    let card = w
        .store
        .get_account(w.account)
        .await
        .unwrap()
        .unwrap()
        .card
        .unwrap();
    assert_eq!(
        (card.summary.brand.as_str(), card.summary.last4.as_str()),
        ("mastercard", "4444")
    );
    assert!(w
        .store
        .card_setup(&started.setup.token)
        .await
        .unwrap()
        .unwrap()
        .completed_at
        .is_some());
}

/// The card page of the demo gateway, over HTTP on the real application:
/// the operator starts a setup, the driver opens the page and saves a
/// simulated test card, the account shows it.
#[tokio::test]
async fn the_demo_card_page_saves_a_test_card() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = joule::settings::Settings::default();
    s.database.url = format!("sqlite://{}/joule.db", dir.path().display());
    s.ocpp.listen = "127.0.0.1:0".parse().unwrap();
    s.api.listen = "127.0.0.1:0".parse().unwrap();
    s.payments.gateway = joule::settings::GatewayKind::Simulated;
    let app = joule::app::Application::build(s).await.unwrap();
    let key = app.generated_admin_key().unwrap().to_owned();
    let base = format!("http://{}", app.api_addr());
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/accounts"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"email": "ana@example.com", "name": "Ana", "language": "de"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let setup = http
        .post(format!("{base}/api/v1/accounts/{id}/card-setup"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), 201);
    let setup: serde_json::Value = setup.json().await.unwrap();
    assert_eq!(setup["gateway"], "simulated");
    let page_url = setup["page_url"].as_str().unwrap();
    assert!(page_url.starts_with(&base), "{page_url}");
    let page = http.get(page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("Karte speichern"), "the account's language");
    assert!(html.contains("data-card=\"sim_visa\""));
    let token = page_url.rsplit('/').next().unwrap();
    let saved = http
        .post(format!("{base}/accounts/card/{token}/simulated-card"))
        .json(&serde_json::json!({"card": "sim_visa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let saved: serde_json::Value = saved.json().await.unwrap();
    assert_eq!(
        (saved["brand"].as_str(), saved["last4"].as_str()),
        (Some("visa"), Some("4242"))
    );
    let account: serde_json::Value = http
        .get(format!("{base}/api/v1/accounts/{id}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(account["card"]["last4"], "4242");
    assert_eq!(account["card"]["gateway"], "simulated");
    let unknown = http
        .get(format!("{base}/accounts/card/{}", "0".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    app.shutdown_token().cancel();
    app.run_until_stopped().await.unwrap();
}
