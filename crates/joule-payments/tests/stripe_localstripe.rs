//! The Stripe adapter against localstripe, a stateful fake Stripe server
//! (../shared/PEERS.md): each test starts its own localstripe on a free
//! port and kills it at the end. Set `JOULE_TEST_LOCALSTRIPE` to the
//! executable (scripts/test does, from its venv); without it these tests
//! skip with a message, except under `CI=true` where they fail.
//!
//! Card numbers appear here only to create test payment methods directly at
//! localstripe, as the browser's Stripe.js would: the adapter's API never
//! accepts card data.
//!
//! localstripe is lenient where Stripe is strict (it ignores idempotency
//! keys, allows refunds above the charge, captures canceled intents): these
//! tests check the adapter's mapping, not those guarantees, which Joule
//! enforces itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use joule_domain::kernel::money::{Currency, Money};
use joule_domain::payments::gateway::*;
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_payments::{Secret, StripeConfig, StripeGateway};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET_KEY: &str = "sk_test_joule";
const WEBHOOK_SECRET: &str = "whsec_joule_test";

struct Localstripe {
    child: Child,
    base: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Localstripe {
    /// A fresh localstripe, or `None` (skip) when none is configured.
    async fn start() -> Option<Localstripe> {
        let Some(exe) = std::env::var_os("JOULE_TEST_LOCALSTRIPE") else {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI=true requires JOULE_TEST_LOCALSTRIPE (path to the localstripe executable)"
            );
            eprintln!(
                "skipping: JOULE_TEST_LOCALSTRIPE is not set \
                 (e.g. JOULE_TEST_LOCALSTRIPE=/work/pyvenv/bin/localstripe)"
            );
            return None;
        };
        let http = reqwest::Client::new();
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let log = std::fs::File::create(dir.path().join("localstripe.log")).unwrap();
            let port = free_port();
            // A private TMPDIR per instance. (localstripe 1.15 writes its
            // pickle to a fixed /tmp path whatever TMPDIR says; with
            // --from-scratch it never reads it back, so instances stay
            // independent: all state is in the process.)
            let child = Command::new(&exe)
                .args(["--port", &port.to_string(), "--from-scratch"])
                .env("TMPDIR", dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {exe:?}: {e}"));
            let mut ls = Localstripe {
                child,
                base: format!("http://127.0.0.1:{port}"),
                http: http.clone(),
                dir,
            };
            if ls.wait_ready().await {
                return Some(ls);
            }
            let log = std::fs::read_to_string(ls.dir.path().join("localstripe.log"));
            eprintln!("localstripe did not start on port {port}, retrying: {log:?}");
        }
        panic!("localstripe did not start");
    }

    /// Polls until localstripe answers (it takes a second or two to import).
    async fn wait_ready(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let r = self
                .http
                .get(format!("{}/v1/customers", self.base))
                .bearer_auth(SECRET_KEY)
                .send()
                .await;
            if r.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn gateway(&self) -> StripeGateway {
        let mut config = StripeConfig::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET));
        config.base_url = self.base.clone();
        config.request_timeout_s = 10;
        StripeGateway::new(config).unwrap()
    }

    /// A direct call to localstripe, standing in for Stripe.js.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let bytes = r.bytes().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {bytes:?}");
        // /_config endpoints answer with an empty body
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    }

    /// A card payment method, as Stripe.js would create from the hosted fields.
    async fn card(&self, number: &str) -> PaymentMethodRef {
        let pm = self
            .post(
                "/v1/payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", number),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2030"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        PaymentMethodRef::parse(pm["id"].as_str().unwrap()).unwrap()
    }

    /// What `stripe.confirmCardPayment` does in the browser. (localstripe
    /// cannot confirm with a payment_method parameter, so set it first.)
    async fn confirm_in_browser(&self, intent: &IntentRef, pm: &PaymentMethodRef) {
        let path = format!("/v1/payment_intents/{intent}");
        self.post(&path, &[("payment_method", pm.as_str())]).await;
        self.post(&format!("{path}/confirm"), &[]).await;
    }
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("USD").unwrap())
}

fn key(subject: &str, step: &str) -> IdempotencyKey {
    IdempotencyKey::derive(subject, step)
}

async fn hold(gw: &StripeGateway, amount: i64, id: &str) -> HoldCreated {
    let req = HoldRequest {
        amount: usd(amount),
        reference: id.to_owned(),
    };
    gw.create_hold(&req, &key(id, "hold")).await.unwrap()
}

#[tokio::test]
async fn hold_confirm_partial_capture_and_refund() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let created = hold(&gw, 5000, "pay-1").await;
    assert!(created.intent.as_str().starts_with("pi_"));
    assert!(created
        .client_secret
        .expose()
        .starts_with(created.intent.as_str()));

    let state = gw.read_intent(&created.intent).await.unwrap();
    assert_eq!(state.status, IntentStatus::RequiresPaymentMethod);
    assert_eq!(state.amount, usd(5000));
    assert_eq!(state.card, None);

    let pm = ls.card("4242424242424242").await;
    ls.confirm_in_browser(&created.intent, &pm).await;

    let state = gw.read_intent(&created.intent).await.unwrap();
    assert_eq!(
        state.status,
        IntentStatus::Authorized {
            capturable: usd(5000)
        }
    );
    let card = state.card.expect("card summary");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));
    assert_eq!((card.exp_month, card.exp_year), (Some(12), Some(2030)));
    assert_eq!(state.decline, None);

    let captured = gw
        .capture(&created.intent, usd(3170), &key("pay-1", "capture"))
        .await
        .unwrap();
    assert_eq!(captured.amount, usd(3170));
    assert_eq!(captured.intent, created.intent);

    let refunded = gw
        .refund(&created.intent, usd(1000), &key("pay-1", "refund:1"))
        .await
        .unwrap();
    assert!(refunded.refund.as_str().starts_with("re_"));
    assert_eq!(refunded.amount, usd(1000));

    // A refund whose answer was lost is found by its key (not confused with
    // the release of the uncaptured rest, which localstripe records as a
    // refund too); an unused key finds nothing.
    let found = gw
        .find_refund(&created.intent, &key("pay-1", "refund:1"))
        .await
        .unwrap();
    assert_eq!(found, Some(refunded.clone()));
    let none = gw
        .find_refund(&created.intent, &key("pay-1", "refund:2"))
        .await
        .unwrap();
    assert_eq!(none, None);

    let state = gw.read_intent(&created.intent).await.unwrap();
    assert!(
        matches!(state.status, IntentStatus::Succeeded { .. }),
        "{state:?}"
    );
    assert_eq!(state.card.map(|c| c.last4), Some("4242".to_owned()));
}

#[tokio::test]
async fn a_hold_is_voided_by_cancel() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let created = hold(&gw, 2500, "pay-2").await;
    let pm = ls.card("4242424242424242").await;
    ls.confirm_in_browser(&created.intent, &pm).await;
    gw.cancel(&created.intent, &key("pay-2", "void"))
        .await
        .unwrap();
    let state = gw.read_intent(&created.intent).await.unwrap();
    assert_eq!(state.status, IntentStatus::Canceled);

    // An intent never confirmed (the driver left the page) is voided too.
    let abandoned = hold(&gw, 2500, "pay-3").await;
    gw.cancel(&abandoned.intent, &key("pay-3", "void"))
        .await
        .unwrap();
    assert_eq!(
        gw.read_intent(&abandoned.intent).await.unwrap().status,
        IntentStatus::Canceled
    );
    // Cancelling twice is refused by the gateway, as a 4xx.
    let again = gw.cancel(&abandoned.intent, &key("pay-3", "void:2")).await;
    assert!(
        matches!(again, Err(GatewayError::InvalidRequest { .. })),
        "{again:?}"
    );
}

/// A hold whose creation's answer was lost is found by Joule's payment
/// reference (issue 9: no orphan intent), and only that one.
#[tokio::test]
async fn a_hold_is_found_by_its_payment_reference() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let other = hold(&gw, 1000, "pay-10").await;
    let lost = hold(&gw, 2500, "pay-11").await;
    assert_eq!(gw.find_hold("pay-11").await.unwrap(), Some(lost.intent));
    assert_eq!(gw.find_hold("pay-10").await.unwrap(), Some(other.intent));
    assert_eq!(gw.find_hold("pay-12").await.unwrap(), None);
}

#[tokio::test]
async fn unknown_intents_are_invalid_requests_not_retries() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let missing = IntentRef::parse("pi_doesnotexist").unwrap();
    let e = gw.read_intent(&missing).await.unwrap_err();
    assert!(matches!(e, GatewayError::InvalidRequest { .. }), "{e:?}");
    assert!(!e.is_retryable());
    assert!(matches!(
        gw.increment_authorization(&missing, usd(1), &key("x", "inc"))
            .await,
        Err(GatewayError::Unsupported { .. })
    ));
}

async fn customer_with_card(
    ls: &Localstripe,
    gw: &StripeGateway,
    number: &str,
    id: &str,
) -> (CustomerRef, PaymentMethodRef) {
    let customer = gw
        .create_customer(
            &CustomerRequest {
                reference: id.to_owned(),
                email: Some("driver@example.com".to_owned()),
            },
            &key(id, "customer"),
        )
        .await
        .unwrap();
    assert!(customer.as_str().starts_with("cus_"));
    let setup = gw.create_setup(&customer, &key(id, "setup")).await.unwrap();
    assert!(setup
        .client_secret
        .expose()
        .starts_with(setup.setup.as_str()));
    assert_eq!(
        gw.read_setup(&setup.setup).await.unwrap().status,
        SetupStatus::RequiresPaymentMethod
    );
    // What stripe.confirmCardSetup does in the browser.
    let pm = ls.card(number).await;
    ls.post(
        &format!("/v1/payment_methods/{pm}/attach"),
        &[("customer", customer.as_str())],
    )
    .await;
    ls.post(
        &format!("/v1/setup_intents/{}/confirm", setup.setup),
        &[("payment_method", pm.as_str())],
    )
    .await;
    let state = gw.read_setup(&setup.setup).await.unwrap();
    assert_eq!(state.status, SetupStatus::Succeeded);
    assert_eq!(state.customer.as_ref(), Some(&customer));
    assert_eq!(state.payment_method.as_ref(), Some(&pm));
    (customer, pm)
}

#[tokio::test]
async fn a_saved_card_is_charged_off_session() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let (customer, pm) = customer_with_card(&ls, &gw, "4242424242424242", "acct-1").await;
    let saved = gw.read_payment_method(&pm).await.unwrap();
    assert_eq!(saved.customer.as_ref(), Some(&customer));
    let card = saved.card.expect("card");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));

    let charged = gw
        .charge_off_session(
            &OffSessionCharge {
                customer,
                payment_method: pm,
                amount: usd(1234),
                reference: "session-9".to_owned(),
            },
            &key("acct-1-s9", "charge"),
        )
        .await
        .unwrap();
    assert!(
        matches!(charged.status, IntentStatus::Succeeded { .. }),
        "{charged:?}"
    );
    let state = gw.read_intent(&charged.intent).await.unwrap();
    assert_eq!(state.amount, usd(1234));
}

#[tokio::test]
async fn a_card_that_declines_charges_is_declined_off_session() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    // 4000000000000341: attaching succeeds, charging fails.
    let (customer, pm) = customer_with_card(&ls, &gw, "4000000000000341", "acct-2").await;
    let e = gw
        .charge_off_session(
            &OffSessionCharge {
                customer,
                payment_method: pm,
                amount: usd(999),
                reference: "session-10".to_owned(),
            },
            &key("acct-2-s10", "charge"),
        )
        .await
        .unwrap_err();
    match e {
        GatewayError::Declined { code, message } => {
            assert_eq!(code, "card_declined");
            assert!(!message.is_empty());
        }
        other => panic!("expected a decline, got {other:?}"),
    }
}

fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn webhook_signatures_valid_invalid_and_expired() {
    // No server needed: verification is local.
    let mut config = StripeConfig::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET));
    config.base_url = "http://127.0.0.1:9".to_owned();
    let gw = StripeGateway::new(config).unwrap();
    let body = br#"{"id": "evt_1", "object": "event", "type": "payment_intent.canceled",
        "created": 1767225600, "data": {"object": {"id": "pi_9", "object": "payment_intent",
        "status": "canceled", "amount": 500, "currency": "usd"}}}"#;
    let t = 1_767_225_600;
    let now = Utc.timestamp_opt(t + 30, 0).unwrap();
    let check = |header: &str, now| {
        let headers = [("Stripe-Signature", header)];
        gw.verify_webhook(
            &WebhookPayload {
                headers: &headers,
                body,
            },
            now,
        )
    };

    let event = check(&sign(WEBHOOK_SECRET, t, body), now).unwrap();
    assert_eq!(event.id, "evt_1");
    assert_eq!(event.created.timestamp(), t);
    assert!(
        matches!(event.kind, GatewayEventKind::IntentCanceled { intent } if intent.as_str() == "pi_9")
    );

    let wrong_secret = check(&sign("whsec_other", t, body), now);
    assert!(matches!(
        wrong_secret,
        Err(GatewayError::BadSignature { .. })
    ));
    let later = Utc.timestamp_opt(t + 301, 0).unwrap();
    let expired = check(&sign(WEBHOOK_SECRET, t, body), later);
    assert!(
        matches!(expired, Err(GatewayError::BadSignature { reason }) if reason.contains("tolerance"))
    );
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    let headers = [("Stripe-Signature", sign(WEBHOOK_SECRET, t, body))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = gw.verify_webhook(
        &WebhookPayload {
            headers: &headers,
            body: &tampered,
        },
        now,
    );
    assert!(matches!(r, Err(GatewayError::BadSignature { .. })));
}

/// Reads one HTTP request: its headers and body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> (Vec<(String, String)>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the headers ended");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the body ended");
        body.extend_from_slice(&chunk[..n]);
    }
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    (headers, body)
}

#[tokio::test]
async fn a_webhook_sent_by_localstripe_is_verified() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/stripe", listener.local_addr().unwrap());
    ls.post(
        "/_config/webhooks/joule",
        &[
            ("url", url.as_str()),
            ("secret", WEBHOOK_SECRET),
            ("events[0]", "payment_intent.succeeded"),
        ],
    )
    .await;

    let (customer, pm) = customer_with_card(&ls, &gw, "4242424242424242", "acct-3").await;
    let charged = gw
        .charge_off_session(
            &OffSessionCharge {
                customer,
                payment_method: pm,
                amount: usd(4200),
                reference: "session-11".to_owned(),
            },
            &key("acct-3-s11", "charge"),
        )
        .await
        .unwrap();

    let event = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let (headers, body) = read_request(&mut stream).await;
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let payload = WebhookPayload {
                headers: &headers,
                body: &body,
            };
            let event = gw.verify_webhook(&payload, Utc::now()).unwrap();
            if matches!(event.kind, GatewayEventKind::IntentSucceeded { .. }) {
                // a tampered copy of the same delivery is refused
                let mut tampered = body.clone();
                tampered.push(b' ');
                let forged = WebhookPayload {
                    headers: &headers,
                    body: &tampered,
                };
                assert!(matches!(
                    gw.verify_webhook(&forged, Utc::now()),
                    Err(GatewayError::BadSignature { .. })
                ));
                break event;
            }
        }
    })
    .await
    .expect("localstripe delivered no payment_intent.succeeded webhook");
    assert!(event.id.starts_with("evt_"));
    assert_eq!(
        event.kind,
        GatewayEventKind::IntentSucceeded {
            intent: charged.intent,
            received: None
        }
    );
}

#[tokio::test]
async fn a_3ds_card_leaves_the_hold_waiting_for_the_cardholder() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let created = hold(&gw, 3000, "pay-4").await;
    let pm = ls.card("4000002500003155").await;
    ls.confirm_in_browser(&created.intent, &pm).await;
    let state = gw.read_intent(&created.intent).await.unwrap();
    assert_eq!(state.status, IntentStatus::RequiresAction);
    assert_eq!(state.card.map(|c| c.last4), Some("3155".to_owned()));
}

// Transport failures and the request's shape, against a canned local server
// (no localstripe needed).

fn gateway_at(base: String) -> StripeGateway {
    let mut config = StripeConfig::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET));
    config.base_url = base;
    config.request_timeout_s = 1;
    StripeGateway::new(config).unwrap()
}

#[tokio::test]
async fn requests_carry_key_version_and_form_and_5xx_is_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = gateway_at(format!("http://{}", listener.local_addr().unwrap()));
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let mut got = Vec::new();
        // read until the (small) body has arrived
        while !String::from_utf8_lossy(&got).contains("amount_to_capture=700") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        let body = br#"{"error": {"type": "api_error", "message": "Something went wrong"}}"#;
        let head = format!(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        String::from_utf8_lossy(&got).to_string()
    });
    let intent = IntentRef::parse("pi_abc").unwrap();
    let e = gw
        .capture(&intent, usd(700), &key("pay-5", "capture"))
        .await
        .unwrap_err();
    assert!(matches!(e, GatewayError::Unavailable { .. }), "{e:?}");
    assert!(e.is_retryable());
    let request = server.await.unwrap().to_ascii_lowercase();
    assert!(
        request.starts_with("post /v1/payment_intents/pi_abc/capture "),
        "{request}"
    );
    assert!(
        request.contains("idempotency-key: joule:pay-5:capture"),
        "{request}"
    );
    assert!(
        request.contains(&format!("authorization: bearer {SECRET_KEY}")),
        "{request}"
    );
    assert!(request.contains("stripe-version: 2024-06-20"), "{request}");
    assert!(
        request.contains("content-type: application/x-www-form-urlencoded"),
        "{request}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_and_silence_is_a_timeout() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gw = gateway_at(format!("http://127.0.0.1:{port}"));
    let e = gw
        .read_intent(&IntentRef::parse("pi_1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, GatewayError::Unavailable { .. }), "{e:?}");

    // A server that accepts and never answers: the outcome is unknown.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = gateway_at(format!("http://{}", listener.local_addr().unwrap()));
    let (hold_open_tx, hold_open_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = hold_open_rx.await;
        drop(stream);
    });
    let e = gw
        .cancel(&IntentRef::parse("pi_2").unwrap(), &key("pay-6", "void"))
        .await
        .unwrap_err();
    assert_eq!(e, GatewayError::Timeout);
    assert!(e.is_retryable());
    let _ = hold_open_tx.send(());
    server.await.unwrap();
}

/// What `stripe.confirmCardSetup(secret, {payment_method: {card}})` sends
/// from the browser with the publishable key (localstripe's Stripe.js).
async fn enter_card_in_browser(ls: &Localstripe, setup: &SetupCreated, number: &str) {
    let r = ls
        .http
        .post(format!(
            "{}/v1/setup_intents/{}/confirm",
            ls.base, setup.setup
        ))
        .json(&serde_json::json!({
            "key": "pk_test_joule",
            "use_stripe_sdk": true,
            "client_secret": setup.client_secret.expose(),
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"},
            },
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_card_entry_confirms_the_hold_from_the_server() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let held = hold(&gw, 5000, "pay_entry").await;
    let entry = gw
        .create_card_entry("pay_entry", &key("pay_entry", "authorize:1:card_entry"))
        .await
        .unwrap()
        .expect("Stripe takes the card through a card entry");
    assert!(entry.setup.as_str().starts_with("seti_"));
    let confirmation = CardEntryConfirmation {
        setup: entry.setup.clone(),
        reference: "pay_entry".to_owned(),
    };
    let confirm_key = key("pay_entry", "authorize:1:confirm");
    // No card entered yet: refused, nothing held.
    match gw
        .confirm_hold_with_card_entry(&held.intent, &confirmation, &confirm_key)
        .await
    {
        Err(GatewayError::InvalidRequest { code, .. }) => {
            assert_eq!(code.as_deref(), Some("card_entry_incomplete"))
        }
        other => panic!("{other:?}"),
    }
    enter_card_in_browser(&ls, &entry, "4242424242424242").await;
    // Another payment's card entry is refused.
    let stranger = CardEntryConfirmation {
        setup: entry.setup.clone(),
        reference: "someone_else".to_owned(),
    };
    match gw
        .confirm_hold_with_card_entry(&held.intent, &stranger, &confirm_key)
        .await
    {
        Err(GatewayError::InvalidRequest { code, .. }) => {
            assert_eq!(code.as_deref(), Some("card_entry_mismatch"))
        }
        other => panic!("{other:?}"),
    }
    let state = gw
        .confirm_hold_with_card_entry(&held.intent, &confirmation, &confirm_key)
        .await
        .unwrap();
    assert_eq!(
        state.status,
        IntentStatus::Authorized {
            capturable: usd(5000)
        }
    );
    let read = gw.read_intent(&held.intent).await.unwrap();
    let card = read.card.expect("the card's summary");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));
}

#[tokio::test]
async fn a_card_entry_whose_charge_declines_is_declined() {
    let Some(ls) = Localstripe::start().await else {
        return;
    };
    let gw = ls.gateway();
    let held = hold(&gw, 5000, "pay_decl").await;
    let entry = gw
        .create_card_entry("pay_decl", &key("pay_decl", "authorize:1:card_entry"))
        .await
        .unwrap()
        .unwrap();
    enter_card_in_browser(&ls, &entry, "4000000000000341").await;
    let confirmation = CardEntryConfirmation {
        setup: entry.setup,
        reference: "pay_decl".to_owned(),
    };
    match gw
        .confirm_hold_with_card_entry(&held.intent, &confirmation, &key("pay_decl", "c"))
        .await
    {
        Err(GatewayError::Declined { code, .. }) => assert_eq!(code, "card_declined"),
        other => panic!("{other:?}"),
    }
    let read = gw.read_intent(&held.intent).await.unwrap();
    assert_eq!(read.status, IntentStatus::RequiresPaymentMethod);
    assert_eq!(
        read.decline.map(|d| d.code).as_deref(),
        Some("card_declined")
    );
}
